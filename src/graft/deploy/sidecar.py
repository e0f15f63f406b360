"""The sidecar JSON written next to an exported model: everything inference needs besides
the graph — the input kind and how to prepare it, the classes, and the run's input schema
(table preprocessing, pixel rule) — so that new data is read as the run read its own.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict
from pathlib import Path
from typing import Any

from graft.data.base import InputSpec
from graft.data.table_schema import TableSchema
from graft.errors import CheckpointError, MissingPathError

FORMAT = "graft.export/1"


def sidecar_path(model_file: Path) -> Path:
    """``model.onnx`` → ``model.onnx.json``."""
    return model_file.with_name(model_file.name + ".json")


def tokenizer_dir(model_file: Path) -> Path:
    """Where an export keeps its copy of a text model's tokenizer: ``model.tokenizer/``."""
    return model_file.with_name(model_file.stem + ".tokenizer")


def build_sidecar(*, model_file: Path, fmt: str, engine: str, opset: int | None, run_dir: Path,
                  model_name: str, spec: InputSpec, inputs: list[dict[str, Any]], classes: list[str],
                  class_values: list[Any], schema: dict[str, Any] | None, parity: dict[str, Any],
                  weights_sha256: str, tokenizer: str | None, pad_id: int | None, tta: int = 0) -> dict[str, Any]:
    """The sidecar's content (see the README's "Export and deploy")."""
    from graft import __version__

    return {
        "format": FORMAT, "graft_version": __version__, "export_format": fmt, "engine": engine,
        "model_file": model_file.name, "opset": opset, "model": model_name,
        "run": str(run_dir.resolve()), "weights_sha256": weights_sha256,
        "inputs": inputs, "outputs": [{"name": "logits", "dtype": "float32", "shape": ["batch", len(classes)]}],
        "tta": tta,
        "input": {**asdict(spec), "tokenizer": tokenizer, "tokenizer_source": spec.tokenizer, "pad_id": pad_id},
        "preprocessing": preprocessing_steps(spec, schema),
        "classes": classes, "class_values": class_values,
        "schema": schema, "parity": parity,
    }


def preprocessing_steps(spec: InputSpec, schema: dict[str, Any] | None) -> list[str]:
    """How to turn raw data into the graph's inputs, in words, for code outside graft."""
    if spec.kind == "image":
        pixels = (schema or {}).get("pixels") or {"rule": "uint8"}
        h, w = spec.size or ("H", "W")
        return [
            f"read pixels with the schema's pixel rule ({pixels.get('rule')}); image files are 8-bit, 0..255",
            f"convert to {spec.channels} channel(s): grey repeated to 3, colour to luma (0.299 R + 0.587 G + 0.114 B)",
            f"resize to {h}x{w}, bilinear with antialiasing; round to 8-bit",
            f"divide by 255, subtract mean {list(spec.mean)}, divide by std {list(spec.std)} per channel",
            f"feed 'input' as float32 [batch, {spec.channels}, {h}, {w}]",
        ]
    if spec.kind == "table":
        table = (schema or {}).get("table")
        encoding = TableSchema.from_dict(table).describe() if table else ["numbers used as they are"]
        return [
            "select the schema's feature columns (schema.table.columns) by name, in that order",
            *encoding,
            f"feed 'input' as float32 [batch, {spec.width}]",
        ]
    return [
        f"tokenize with the tokenizer folder next to the model, truncating to {spec.max_length} tokens",
        "pad every text to the batch's longest with pad_id; attention_mask is 1 on tokens, 0 on padding",
        "feed 'input_ids' and 'attention_mask' as int64 [batch, sequence]",
    ]


def read_sidecar(model_file: Path) -> dict[str, Any]:
    """The sidecar of ``model_file`` (or the sidecar itself when given its path).

    Raises:
        MissingPathError: There is no sidecar.
        CheckpointError: It is not a graft export sidecar.
    """
    path = model_file if model_file.name.endswith(".json") else sidecar_path(model_file)
    if not path.is_file():
        raise MissingPathError(
            f"'{model_file}' has no sidecar '{path.name}' next to it; graft needs it to read new data as the run "
            "did (input size, normalisation, tokenizer, classes). Fix: export with graft export --run DIR, which "
            "writes both, and keep them together."
        )
    try:
        meta = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise CheckpointError(f"Could not read the export sidecar '{path}': {exc}. Fix: export again.") from None
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        raise CheckpointError(
            f"'{path}' is not a graft export sidecar "
            f"(format {meta.get('format') if isinstance(meta, dict) else None!r}, "
            f"expected '{FORMAT}'). Fix: export again with graft export."
        )
    return meta


def spec_from_sidecar(meta: dict[str, Any], folder: Path) -> InputSpec:
    """The model's :class:`InputSpec`, its tokenizer resolved next to the sidecar."""
    data = meta["input"]
    tokenizer = data.get("tokenizer")
    return InputSpec(
        kind=data["kind"], channels=int(data.get("channels") or 3),
        size=tuple(data["size"]) if data.get("size") else None,
        mean=tuple(data.get("mean") or (0.0,)), std=tuple(data.get("std") or (1.0,)),
        width=data.get("width"), max_length=data.get("max_length"),
        tokenizer=str(folder / tokenizer) if tokenizer else None,
    )


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()
