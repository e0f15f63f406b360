"""The input schema: what a run learned from its data, saved with the model.

Like a fitted scikit-learn pipeline, a run keeps everything it needs to read new data the
way it read its training data, and prediction applies it instead of re-guessing from the
new data (STYLE principle 9):

* every kind: the class names with their original types (integer labels come back as
  integers) and the label column;
* tables: the feature columns by name and order, and their fitted preprocessing
  (:class:`~graft.data.table_schema.TableSchema`);
* text: the text column (the tokenizer and the token limit are the model's input spec);
* images: the channels and sizes seen, and the pixel value rule (uint8, uint16, [0, 1]
  floats, or another range rescaled) applied again to new data of the same dtype.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

from graft.data.base import DataSource, InputSpec
from graft.data.table_schema import TableSchema
from graft.errors import DataError

SCHEMA_FILE = "schema.json"
_FORMAT = "graft.schema/1"


@dataclass
class InputSchema:
    """What a run learned from its data.

    Attributes:
        kind: ``image``, ``table`` or ``text``.
        classes: Class names; output ``i`` of the model means ``classes[i]``.
        class_values: The same classes with their original types (ints stay ints).
        label_column: The label column of a table, reused at prediction.
        text_column: The text column of a text table, reused at prediction.
        table: The fitted table preprocessing.
        pixels: The pixel value rule of image arrays (see :func:`graft.data.arrays.pixel_rule`).
        image: Channels and the range of image sizes seen in training.
    """

    kind: str
    classes: list[str]
    class_values: list[Any]
    label_column: str | None = None
    text_column: str | None = None
    table: TableSchema | None = None
    pixels: dict[str, Any] | None = None
    image: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def fit(cls, parts: Sequence[tuple[DataSource, np.ndarray]], *, predicted: DataSource | None = None
            ) -> InputSchema:
        """Fit on the training rows of one or more sources (labeled and unlabeled).

        Args:
            parts: ``(source, row indices)`` pairs; the first source gives the classes.
                Never pass validation or test rows: the preprocessing must not see them.
            predicted: The data the model will predict (its pixel rule is kept); default the
                last part's (domain adaptation: the target).
        """
        first = parts[0][0]
        table = None
        if first.kind == "table":
            import pandas as pd

            frames = [src.x.iloc[np.asarray(rows, dtype=np.int64)] for src, rows in parts]
            frame = pd.concat(frames, ignore_index=True) if len(frames) > 1 else frames[0]
            positional = all(bool(src.meta.get("positional")) for src, _ in parts)
            table = TableSchema.fit(frame, np.arange(len(frame)), positional=positional)
            _note_table_choices(table)
        image: dict[str, Any] = {}
        if first.kind == "image":
            x = first.x
            shapes = {im.shape for im in x} if isinstance(x, list) else {x.shape[1:]}
            image = {"channels": sorted({int(s[2]) for s in shapes}),
                     "height": [min(s[0] for s in shapes), max(s[0] for s in shapes)],
                     "width": [min(s[1] for s in shapes), max(s[1] for s in shapes)]}
        return cls(
            kind=first.kind,
            classes=list(first.classes),
            class_values=list(first.meta.get("class_values") or first.classes),
            label_column=first.meta.get("label_column"),
            text_column=first.meta.get("text_column"),
            table=table,
            # The data the model will predict is the last part's (domain adaptation: the target).
            pixels=(predicted.meta.get("pixels") if predicted is not None else
                    next((src.meta["pixels"] for src, _ in reversed(parts) if src.meta.get("pixels")), None)),
            image=image,
        )

    @property
    def width(self) -> int | None:
        """Model features of a table after encoding."""
        return self.table.width if self.table is not None else None

    def apply(self, source: DataSource, *, report: bool = False) -> DataSource:
        """``source`` as the model takes it: a table encoded with the fitted preprocessing.

        Args:
            source: Data of the schema's kind (raw table columns matched by name).
            report: Issue a note for each preprocessing event (unseen categories, missing
                values): prediction reports them, training's report already lists them.

        Raises:
            DataError: Data of another kind, or a table lacking a trained column.
        """
        if source.kind != self.kind:
            raise DataError(
                f"{source.name} holds {source.kind} data, but the model was trained on {self.kind} data. "
                f"Fix: pass {self.kind} data{self.data_hint()}."
            )
        if self.table is None or not hasattr(source.x, "iloc"):
            return source
        x, notes = self.table.transform(source.x, source.name)
        if report:
            from graft.notes import note

            for line in notes:
                note(f"{source.name}: {line}")
        return replace(source, x=x, meta={**source.meta, "encoded": True})

    def data_hint(self) -> str:
        if self.kind == "table" and self.table is not None:
            return f" with the columns {', '.join(self.table.input_columns[:8])}"
        if self.kind == "text" and self.text_column:
            return f" (a table with the text column '{self.text_column}')"
        return ""

    def load_options(self) -> dict[str, Any]:
        """How prediction loads new data: the training's columns and pixel rule."""
        out: dict[str, Any] = {"label_column": self.label_column, "text_column": self.text_column,
                               "pixels": self.pixels}
        return {k: v for k, v in out.items() if v is not None}

    def describe(self, spec: InputSpec | None = None) -> list[str]:
        """What the run learned from its data, one line per fact, for report.md."""
        lines = [f"classes ({len(self.classes)}): {', '.join(map(str, self.class_values[:20]))}"
                 + (" …" if len(self.classes) > 20 else "")]
        if self.label_column:
            lines.append(f"label column: '{self.label_column}'")
        if self.table is not None:
            lines.append(f"feature columns ({len(self.table.columns)}, matched by "
                         f"{'position' if self.table.positional else 'name'}): "
                         f"{', '.join(c.name for c in self.table.columns[:30])}"
                         + (" …" if len(self.table.columns) > 30 else ""))
            lines += self.table.describe()
            lines.append(f"{self.table.width} model inputs after encoding")
        if self.kind == "text":
            lines.append(f"text column: '{self.text_column}'" if self.text_column else "texts given directly")
            if spec is not None:
                lines.append(f"tokenizer: {spec.tokenizer}; at most {spec.max_length} tokens (longer texts truncated)")
        if self.kind == "image":
            img = self.image
            if img:
                lines.append(f"images seen: {img['channels']} channel(s), "
                             f"height {img['height'][0]}–{img['height'][1]}, "
                             f"width {img['width'][0]}–{img['width'][1]}")
            rule = self.pixels or {"rule": "uint8", "dtype": "image files"}
            lines.append("pixel values: " + _describe_pixels(rule))
            if spec is not None:
                lines.append(f"model input: {spec.channels} channel(s) at {spec.size}, normalised with mean "
                             f"{list(spec.mean)} and std {list(spec.std)}")
        return lines

    def to_dict(self) -> dict[str, Any]:
        return {
            "format": _FORMAT, "kind": self.kind, "classes": self.classes, "class_values": self.class_values,
            "label_column": self.label_column, "text_column": self.text_column,
            "table": self.table.to_dict() if self.table is not None else None,
            "pixels": self.pixels, "image": self.image,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> InputSchema:
        table = data.get("table")
        return cls(
            kind=str(data["kind"]), classes=[str(c) for c in data["classes"]],
            class_values=list(data.get("class_values") or data["classes"]),
            label_column=data.get("label_column"), text_column=data.get("text_column"),
            table=TableSchema.from_dict(table) if table else None,
            pixels=data.get("pixels"), image=dict(data.get("image") or {}),
        )

    def save(self, directory: str | Path) -> None:
        """Write ``schema.json`` into ``directory`` (the run's ``model/``), atomically."""
        from graft.io import write_json

        write_json(Path(directory) / SCHEMA_FILE, self.to_dict())

    @classmethod
    def load(cls, directory: str | Path) -> InputSchema | None:
        """The schema saved in ``directory``, or None for a model saved without one."""
        path = Path(directory) / SCHEMA_FILE
        if not path.is_file():
            return None
        data = json.loads(path.read_text(encoding="utf-8"))
        if not isinstance(data, dict) or "kind" not in data or "classes" not in data:
            raise ValueError(f"'{path}' is not a graft input schema (no 'kind' or 'classes')")
        return cls.from_dict(data)


def _describe_pixels(rule: dict[str, Any]) -> str:
    kind = rule.get("rule")
    if kind == "range":
        return (f"{rule['dtype']} values rescaled linearly from {rule['low']:g}..{rule['high']:g} to 0..255 "
                "(neither 0..255 nor 0..1); new data of this dtype is scaled the same way")
    return {
        "uint8": f"{rule.get('dtype', 'uint8')} read as 0..255",
        "uint16": f"{rule.get('dtype')} read as 0..65535 (16-bit)",
        "unit": f"{rule.get('dtype')} read as 0..1",
        "bool": "booleans read as black/white",
    }.get(str(kind), str(kind))


def _note_table_choices(table: TableSchema) -> None:
    """Say at fit what the preprocessing does beyond encoding: dropped columns, filled values."""
    from graft.notes import note

    dropped = [f"'{c.name}' ({c.reason})" for c in table.columns if c.kind == "dropped"]
    if dropped:
        note(f"feature column(s) not used: {', '.join(dropped)}.")
    filled = [f"'{c.name}' ({c.missing})" for c in table.columns if c.kind != "dropped" and c.missing]
    if filled:
        note(f"missing or infinite training value(s) in column(s) {', '.join(filled)}: filled with the column's "
             "training median (numbers) or as no category (categories), the same when predicting; the report "
             "lists them.")
