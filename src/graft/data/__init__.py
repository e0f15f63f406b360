"""Data layer: specs → in-memory sources → seeded splits → model-ready datasets.

>>> from graft.data import load_source, make_splits, make_dataset, InputSpec
>>> source = load_source("builtin:digits")
>>> splits = make_splits(source, labels_per_class=10)
>>> train = make_dataset(source, splits.train, InputSpec("image", channels=1, size=(28, 28)))
"""

from graft.data.base import DataSource, InputSpec, Splits
from graft.data.builtin import BUILTIN_DATA
from graft.data.loaders import from_arrays, load_source
from graft.data.pipeline import make_dataset
from graft.data.splits import make_splits

__all__ = [
    "BUILTIN_DATA",
    "DataSource",
    "InputSpec",
    "Splits",
    "from_arrays",
    "load_source",
    "make_dataset",
    "make_splits",
]
