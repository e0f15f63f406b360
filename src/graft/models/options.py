"""What a model builder is told: facts about the data and the user's model options."""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from typing import Any

from graft.data.base import DataSource


@dataclass
class DataInfo:
    """Facts about the data a model is built for.

    Attributes:
        kind: ``image``, ``table`` or ``text``.
        num_classes: Output width of the head.
        classes: Class names; label ``i`` means ``classes[i]``.
        channels: Image channels of the data (None for tables and text).
        width: Feature count of a table (None otherwise).
        size: Image ``(height, width)`` when every image has the same size; used to
            probe a user's module with a dummy batch.
    """

    kind: str
    num_classes: int
    classes: list[str]
    channels: int | None = None
    width: int | None = None
    size: tuple[int, int] | None = None

    @classmethod
    def from_source(cls, source: DataSource) -> DataInfo:
        """Read the facts off a loaded data set."""
        size = None
        if source.kind == "image":  # one size for all images, else None
            x = source.x
            shapes = {im.shape[:2] for im in x} if isinstance(x, list) else {x.shape[1:3]}
            if len(shapes) == 1:
                height, width = (int(s) for s in shapes.pop())
                size = (height, width)
        return cls(
            kind=source.kind,
            num_classes=source.num_classes,
            classes=list(source.classes),
            channels=source.channels,
            width=source.width,
            size=size,
        )

    def to_dict(self) -> dict[str, Any]:
        """The fields a rebuild needs (classes are saved separately)."""
        return {"kind": self.kind, "channels": self.channels, "width": self.width,
                "size": list(self.size) if self.size else None}

    @classmethod
    def from_dict(cls, data: dict[str, Any], num_classes: int, classes: list[str]) -> DataInfo:
        size = data.get("size")
        return cls(
            kind=str(data.get("kind", "image")),
            num_classes=num_classes,
            classes=list(classes),
            channels=data.get("channels"),
            width=data.get("width"),
            size=(int(size[0]), int(size[1])) if size else None,
        )


@dataclass
class ModelOptions:
    """Options that shape how a model spec is built.

    Attributes:
        pretrained: Load pretrained weights (hub or shipped); False gives random init.
        image_size: Input side length, overriding the model's default.
        arch: Architecture spec (``timm:resnet18``, ``builtin:lenet``) for ``file:`` weights.
        hidden: Hidden widths of ``builtin:mlp``.
        dropout: Dropout of ``builtin:mlp``.
        pooling: Pooling of text encoders: ``mean`` (masked mean of token states) or
            ``cls`` (the first token).
        max_length: Token limit of text encoders (longer texts are truncated);
            None gives 128, or the model's limit when that is shorter.
    """

    pretrained: bool = True
    image_size: int | None = None
    arch: str | None = None
    hidden: tuple[int, ...] = (256, 256)
    dropout: float = 0.1
    pooling: str = "mean"
    max_length: int | None = None

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["hidden"] = list(self.hidden)
        return out

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ModelOptions:
        """Build from a saved dict; unknown keys (from a newer graft) are ignored."""
        known = {f.name for f in fields(cls)}
        kwargs = {k: v for k, v in data.items() if k in known}
        if "hidden" in kwargs:
            kwargs["hidden"] = tuple(int(h) for h in kwargs["hidden"])
        return cls(**kwargs)
