from collections.abc import Callable
from pathlib import Path
from typing import ClassVar

import numpy as np
import pandas as pd
import pytest
import torch
from torch.utils.data import Dataset, TensorDataset

from graft.data import DataSource, from_arrays, load_source
from graft.errors import DataError, MissingPathError, SpecError


def test_unknown_scheme_suggests_and_lists() -> None:
    want = (
        r"Unknown data scheme 'fodler'.*Did you mean 'folder'\? "
        r"Allowed: builtin, folder, csv, npz\. Fix: write the data as SCHEME:PATH, e.g. builtin:digits"
    )
    with pytest.raises(SpecError, match=want):
        load_source("fodler:/x")


def test_bare_paths_are_inferred(tmp_path: Path, image_folder: Callable[..., Path]) -> None:
    assert load_source(str(image_folder({"a": 1, "b": 1}))).kind == "image"
    pd.DataFrame({"f": [1, 2], "label": [0, 1]}).to_csv(tmp_path / "t.csv", index=False)
    assert load_source(tmp_path / "t.csv").kind == "table"
    np.savez(tmp_path / "d.npz", X=np.zeros((2, 4, 4)), y=np.array([0, 1]))
    assert load_source(str(tmp_path / "d.npz")).kind == "image"


def test_bare_path_errors(tmp_path: Path) -> None:
    with pytest.raises(MissingPathError, match="does not exist"):
        load_source(str(tmp_path / "missing.csv"))
    (tmp_path / "data.xyz").write_text("x")
    want = r"Cannot tell the format .* Fix: add a scheme, for example csv:"
    with pytest.raises(SpecError, match=want):
        load_source(str(tmp_path / "data.xyz"))


def test_table_options_need_a_table() -> None:
    with pytest.raises(SpecError, match="apply to csv: tables"):
        load_source("builtin:digits", label_column="y")


def test_source_is_returned_unchanged() -> None:
    src = from_arrays(np.zeros((4, 2)), [0, 1, 0, 1])
    assert load_source(src) is src


def test_tuple_and_tensors() -> None:
    src = load_source((torch.rand(6, 1, 5, 5), torch.tensor([0, 1, 2, 0, 1, 2])))
    assert src.kind == "image" and src.x.shape == (6, 5, 5, 1) and src.x.dtype == np.uint8
    assert src.classes == ["0", "1", "2"] and src.y.dtype == np.int64


def test_torch_dataset_is_iterated_once() -> None:
    ds = TensorDataset(torch.rand(4, 3), torch.tensor([1, 0, 1, 0]))
    src = from_arrays(ds)
    assert src.kind == "table" and src.x.shape == (4, 3) and src.y.tolist() == [1, 0, 1, 0]


def test_dataset_class_names_are_used() -> None:
    class Named(Dataset[tuple[np.ndarray, int]]):
        classes: ClassVar[list[str]] = ["left", "right"]

        def __len__(self) -> int:
            return 4

        def __getitem__(self, i: int) -> tuple[np.ndarray, int]:
            return np.full((6, 6), i * 50, dtype=np.uint8), i % 2

    src = load_source(Named())
    assert src.classes == ["left", "right"] and src.x.shape == (4, 6, 6, 1)


def test_texts_and_string_labels() -> None:
    src = from_arrays(["good", "bad", "meh"], ["pos", "neg", "pos"], name="reviews")
    assert src.kind == "text" and src.classes == ["neg", "pos"] and src.name == "reviews"


def test_single_class_is_named() -> None:
    with pytest.raises(DataError, match=r"single class \('7'\)"):
        from_arrays(np.zeros((3, 2)), [7, 7, 7])
    with pytest.raises(DataError, match="every labeled example belongs to class 'a'"):
        from_arrays(np.zeros((3, 2)), [0, 0, 0], classes=["a", "b"])


def test_length_mismatch_and_bad_labels() -> None:
    with pytest.raises(DataError, match="x has 3 examples but y has 2 labels"):
        from_arrays(np.zeros((3, 2)), [0, 1])
    with pytest.raises(DataError, match=r"class indices 0..1 for 2 classes \(-1 for unknown\); got 5"):
        from_arrays(np.zeros((3, 2)), [0, 1, 5], classes=["a", "b"])
    with pytest.raises(DataError, match="names that are not classes: 'c'"):
        from_arrays(np.zeros((3, 2)), ["a", "b", "c"], classes=["a", "b"])


def test_invalid_data_source_is_refused() -> None:
    empty = DataSource(
        name="mine", kind="table", classes=["a", "b"], x=np.zeros((0, 2)), y=np.zeros(0, dtype=np.int64)
    )
    with pytest.raises(DataError, match="mine is empty"):
        load_source(empty)
