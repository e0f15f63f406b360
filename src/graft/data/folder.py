"""``folder:PATH`` — images in one sub-folder per class, optionally under train/val/test.

Accepted layouts::

    PATH/cat/001.png          PATH/train/cat/001.png
    PATH/dog/002.jpg          PATH/train/dog/...   PATH/test/cat/...  (val/ optional)

Grayscale images (mode L) keep one channel; everything else is converted to RGB.
When a folder mixes both, grayscale images are repeated to 3 channels.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np

from graft.data.arrays import listed
from graft.data.base import DataSource
from graft.errors import DataError, MissingPathError

IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".tif", ".tiff", ".webp")
SPLIT_NAMES = {"train": "train", "val": "val", "valid": "val", "validation": "val", "test": "test"}
_GRAY_MODES = {"1", "L", "LA"}
_LAYOUT = (
    "Allowed: PATH/<class>/<image> or PATH/{train,val,test}/<class>/<image> "
    f"with extensions {', '.join(e[1:] for e in IMAGE_EXTENSIONS)}."
)


def _subdirs(path: Path) -> list[Path]:
    return sorted(p for p in path.iterdir() if p.is_dir() and not p.name.startswith("."))


def _images_in(path: Path) -> list[Path]:
    return sorted(
        p
        for p in path.rglob("*")
        if p.suffix.lower() in IMAGE_EXTENSIONS
        and p.is_file()
        and not any(part.startswith(".") for part in p.relative_to(path).parts)
    )


def _decode(path: Path) -> np.ndarray:
    """One image file → ``uint8 [H, W, C]`` with C = 1 (grayscale) or 3."""
    from PIL import Image, ImageOps

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # palette-transparency and EXIF chatter
            with Image.open(path) as img:
                img = ImageOps.exif_transpose(img)
                if img.mode.startswith("I;16"):
                    arr = (np.asarray(img, dtype=np.uint16) >> 8).astype(np.uint8)
                elif img.mode in _GRAY_MODES:
                    arr = np.asarray(img.convert("L"))
                else:
                    arr = np.asarray(img.convert("RGB"))
    except Exception as exc:  # PIL raises many types for broken files
        raise DataError(
            f"Cannot read image '{path}': {type(exc).__name__}: {exc}. "
            "Fix: delete or replace the file, or move it out of the data folder."
        ) from exc
    return arr[..., None] if arr.ndim == 2 else arr


def load_folder(path: str | Path, name: str | None = None, *, require_labels: bool = True) -> DataSource:
    """Load an image folder into memory.

    Args:
        path: The folder.
        name: Spec shown in reports; defaults to ``folder:PATH``.
        require_labels: False reads any folder (prediction): every image under it,
            recursively; an image's label is the name of the folder it sits in (None for
            images directly in ``path``), for the caller to match against known classes.

    Returns:
        An image source; ``splits`` holds the indices of each ``train/val/test``
        sub-folder when the folder has them, ``meta["paths"]`` the file of every image.

    Raises:
        MissingPathError: The folder does not exist.
        DataError: No class folders, no images, one class, or an unreadable image.
    """
    root = Path(path).expanduser()
    name = name or f"folder:{path}"
    if not root.exists():
        raise MissingPathError(
            f"Data folder '{root}' does not exist. Fix: check the path; folder:PATH expects "
            "a directory with one sub-folder per class."
        )
    if not root.is_dir():
        raise DataError(
            f"folder:PATH must be a directory; '{root}' is a file. "
            "Fix: use csv:PATH or npz:PATH for files, or point to the image folder."
        )
    if not require_labels:
        return _load_any(root, name)
    top = _subdirs(root)
    split_dirs = [d for d in top if d.name.lower() in SPLIT_NAMES]
    if split_dirs:
        others = [d.name for d in top if d not in split_dirs and _images_in(d)]
        if others:
            raise DataError(
                f"Folder '{root}' mixes split folders ({listed([d.name for d in split_dirs])}) "
                f"with class folders ({listed(others)}). {_LAYOUT} "
                "Fix: move the class folders into train/."
            )
        groups = [(SPLIT_NAMES[d.name.lower()], d) for d in split_dirs]
    else:
        groups = [("", root)]

    files: list[tuple[str, str, Path]] = []  # (split, class, file)
    for split, base in groups:
        for class_dir in _subdirs(base):
            files += [(split, class_dir.name, f) for f in _images_in(class_dir)]
    class_dirs = sorted({c.name for _, base in groups for c in _subdirs(base)})
    if not class_dirs or not files:
        if not class_dirs and _images_in(root):
            raise DataError(
                f"Folder '{root}' holds images but no class sub-folders, so it has no labels to train on. "
                f"{_LAYOUT} Fix: sort the images into one sub-folder per class (graft predict takes "
                "any folder as it is)."
            )
        what = "no class sub-folders" if not class_dirs else "no images in its class folders"
        raise DataError(f"Folder '{root}' is empty: it has {what}. {_LAYOUT} Fix: point to the folder of images.")
    counts = dict.fromkeys(class_dirs, 0)
    for _, c, _ in files:
        counts[c] += 1
    if empty := [c for c, n in counts.items() if n == 0]:
        raise DataError(
            f"Folder '{root}': class folder(s) {listed(empty)} hold no images. {_LAYOUT} "
            "Fix: add images or remove the empty folders."
        )
    if len(class_dirs) == 1:
        raise DataError(
            f"Folder '{root}' has a single class ('{class_dirs[0]}'); classification needs "
            "at least 2 classes. Fix: add one sub-folder per class."
        )

    lookup = {c: i for i, c in enumerate(class_dirs)}
    images = [_decode(f) for _, _, f in files]
    if len({im.shape[2] for im in images}) > 1:
        images = [im if im.shape[2] == 3 else np.repeat(im, 3, axis=2) for im in images]
    x: np.ndarray | list[np.ndarray] = (
        np.stack(images) if len({im.shape for im in images}) == 1 else images
    )
    splits = None
    if split_dirs:
        tags = np.array([s for s, _, _ in files])
        splits = {
            s: np.flatnonzero(tags == s).astype(np.int64)
            for s in ("train", "val", "test")
            if (tags == s).any()
        }
    return DataSource(
        name=name,
        kind="image",
        classes=class_dirs,
        x=x,
        y=np.array([lookup[c] for _, c, _ in files], dtype=np.int64),
        splits=splits,
        meta={"paths": [str(f) for _, _, f in files], "root": str(root)},
    )


def _load_any(root: Path, name: str) -> DataSource:
    """Every image under ``root``; the parent folder's name is its (candidate) label."""
    files = _images_in(root)
    if not files:
        raise DataError(
            f"Folder '{root}' holds no images (searched recursively; extensions "
            f"{', '.join(e[1:] for e in IMAGE_EXTENSIONS)}). Fix: point to the folder of images."
        )
    parents = [f.parent.name if f.parent != root and f.parent.name.lower() not in SPLIT_NAMES else None
               for f in files]
    classes = sorted({p for p in parents if p is not None})
    lookup = {c: i for i, c in enumerate(classes)}
    images = [_decode(f) for f in files]
    if len({im.shape[2] for im in images}) > 1:
        images = [im if im.shape[2] == 3 else np.repeat(im, 3, axis=2) for im in images]
    x: np.ndarray | list[np.ndarray] = np.stack(images) if len({im.shape for im in images}) == 1 else images
    return DataSource(
        name=name, kind="image", classes=classes, x=x,
        y=np.array([lookup[p] if p is not None else -1 for p in parents], dtype=np.int64),
        meta={"paths": [str(f) for f in files], "relative_paths": [f.relative_to(root).as_posix() for f in files],
              "root": str(root), "label_values": np.array(parents, dtype=object)},
    )
