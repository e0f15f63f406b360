import importlib.util
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from graft.data import load_source
from graft.errors import DataError


def _csv(tmp_path: Path, frame: pd.DataFrame, name: str = "t.csv") -> Path:
    path = tmp_path / name
    frame.to_csv(path, index=False)
    return path


def test_csv_with_string_labels(tmp_path: Path) -> None:
    frame = pd.DataFrame(
        {
            "a": [1, 2, 3, 4],
            "b": [0.5, 1.5, 2.5, 3.5],
            "id": list("wxyz"),
            "label": ["dog", "cat", "dog", "bird"],
        }
    )
    src = load_source(f"csv:{_csv(tmp_path, frame)}")
    assert src.kind == "table" and src.classes == ["bird", "cat", "dog"]
    assert src.y.tolist() == [2, 1, 2, 0]
    # the raw columns are kept (strings too): their encoding is fitted on training rows later
    assert list(src.x.columns) == ["a", "b", "id"] and src.width == 3
    assert src.meta["feature_columns"] == ["a", "b", "id"] and src.meta["class_values"] == ["bird", "cat", "dog"]


def test_integer_labels_sort_numerically(tmp_path: Path) -> None:
    src = load_source(f"csv:{_csv(tmp_path, pd.DataFrame({'f': range(4), 'label': [10, 2, 1, 2]}))}")
    assert src.classes == ["1", "2", "10"] and src.y.tolist() == [2, 1, 0, 1]


def test_missing_label_becomes_unknown(tmp_path: Path) -> None:
    src = load_source(f"csv:{_csv(tmp_path, pd.DataFrame({'f': range(4), 'label': [1, None, 0, 1]}))}")
    assert src.classes == ["0", "1"] and src.y.tolist() == [1, -1, 0, 1]


def test_missing_label_column_lists_columns(tmp_path: Path) -> None:
    path = _csv(tmp_path, pd.DataFrame({"f1": [1, 2], "target": [0, 1]}))
    want = r"no label column 'label' \(the default\)\. Columns: 'f1', 'target'\. Fix: .*--label-column"
    with pytest.raises(DataError, match=want):
        load_source(f"csv:{path}")
    assert load_source(f"csv:{path}", label_column="target").classes == ["0", "1"]


def test_explicit_categorical_features_are_kept(tmp_path: Path) -> None:
    path = _csv(tmp_path, pd.DataFrame({"f": [1, 2], "colour": ["red", "blue"], "label": [0, 1]}))
    src = load_source(f"csv:{path}", feature_columns=["colour", "f"])
    assert list(src.x.columns) == ["colour", "f"] and src.meta["class_values"] == [0, 1]


def test_unknown_feature_column_lists_columns(tmp_path: Path) -> None:
    path = _csv(tmp_path, pd.DataFrame({"f": [1, 2], "label": [0, 1]}))
    with pytest.raises(DataError, match=r"has no column 'g'\. Columns: 'f', 'label'"):
        load_source(f"csv:{path}", feature_columns=["g"])


def test_missing_feature_values_are_kept_for_imputation(tmp_path: Path) -> None:
    path = _csv(tmp_path, pd.DataFrame({"f": [1.0, None, 3.0], "label": [0, 1, 0]}))
    assert int(load_source(f"csv:{path}").x["f"].isna().sum()) == 1


def test_tsv_and_jsonl_by_extension(tmp_path: Path) -> None:
    frame = pd.DataFrame({"f": [1, 2, 3], "label": ["a", "b", "a"]})
    frame.to_csv(tmp_path / "t.tsv", sep="\t", index=False)
    frame.to_json(tmp_path / "t.jsonl", orient="records", lines=True)
    for name in ("t.tsv", "t.jsonl"):
        src = load_source(f"csv:{tmp_path / name}")
        assert src.classes == ["a", "b"] and src.x["f"].tolist() == [1, 2, 3]


HAS_PARQUET = any(importlib.util.find_spec(m) is not None for m in ("pyarrow", "fastparquet"))


@pytest.mark.skipif(HAS_PARQUET, reason="a parquet engine is installed")
def test_parquet_without_engine_says_how_to_fix(tmp_path: Path) -> None:
    path = tmp_path / "t.parquet"
    path.write_bytes(b"PAR1")
    with pytest.raises(DataError, match="Fix: pip install pyarrow"):
        load_source(f"csv:{path}")


def test_text_column_makes_a_text_source(tmp_path: Path) -> None:
    frame = pd.DataFrame({"review": ["great", "awful", "fine"], "label": ["pos", "neg", "pos"]})
    src = load_source(f"csv:{_csv(tmp_path, frame)}", text_column="review")
    assert src.kind == "text" and src.x == ["great", "awful", "fine"] and src.classes == ["neg", "pos"]


def test_missing_text_column_lists_columns(tmp_path: Path) -> None:
    path = _csv(tmp_path, pd.DataFrame({"review": ["a", "b"], "label": [0, 1]}))
    with pytest.raises(DataError, match=r"has no column 'text'\. Columns: 'review', 'label'"):
        load_source(f"csv:{path}", text_column="text")


def test_empty_texts_are_refused(tmp_path: Path) -> None:
    path = _csv(tmp_path, pd.DataFrame({"text": ["ok", "  ", None], "label": [0, 1, 0]}))
    with pytest.raises(DataError, match=r"2 empty text\(s\) \(rows 1, 2\)"):
        load_source(f"csv:{path}", text_column="text")


def test_npz_table(tmp_path: Path) -> None:
    np.savez(tmp_path / "d.npz", X=np.arange(12.0).reshape(4, 3), y=np.array([0, 1, 0, 1]))
    src = load_source(f"npz:{tmp_path / 'd.npz'}")
    assert src.kind == "table" and src.x.shape == (4, 3) and list(src.x.columns) == ["x0", "x1", "x2"]
    assert src.meta["positional"]


def test_npz_detects_channels_first(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    chw = rng.integers(0, 256, size=(4, 3, 8, 8), dtype=np.uint8)
    np.savez(tmp_path / "d.npz", X=chw, y=np.array([0, 1, 0, 1]), classes=np.array(["cat", "dog"]))
    src = load_source(f"npz:{tmp_path / 'd.npz'}")
    assert src.x.shape == (4, 8, 8, 3) and src.classes == ["cat", "dog"]
    np.testing.assert_array_equal(src.x, chw.transpose(0, 2, 3, 1))


def test_npz_channels_last_and_float_scaling(tmp_path: Path) -> None:
    unit = np.full((2, 5, 5, 3), 0.5)
    np.savez(tmp_path / "unit.npz", X=unit, y=np.array([0, 1]))
    assert load_source(f"npz:{tmp_path / 'unit.npz'}").x.max() == 128
    bytes_like = np.zeros((2, 1, 5, 5))
    bytes_like[:, :, 0, 0] = 255.0
    np.savez(tmp_path / "bytes.npz", X=bytes_like, y=np.array([0, 1]))
    src = load_source(f"npz:{tmp_path / 'bytes.npz'}")
    assert src.x.shape == (2, 5, 5, 1) and src.x.max() == 255


def test_npz_float_images_in_another_range_are_rescaled_with_a_note(tmp_path: Path) -> None:
    from graft.notes import GraftNote

    x = np.zeros((2, 4, 4))
    x[:, 0, 0] = 16.0  # scikit-learn's digits: floats 0..16
    x[:, 1, 1] = 8.0
    np.savez(tmp_path / "d.npz", X=x, y=np.array([0, 1]))
    with pytest.warns(GraftNote, match="run from 0 to 16, neither 0..255 nor 0..1"):
        src = load_source(f"npz:{tmp_path / 'd.npz'}")
    assert src.x[0, 0, 0, 0] == 255 and src.x[0, 1, 1, 0] == 128
    assert src.meta["pixels"]["rule"] == "range" and src.meta["pixels"]["high"] == 16.0


def test_uint16_images_use_the_16_bit_range(tmp_path: Path) -> None:
    x = np.zeros((2, 4, 4), dtype=np.uint16)
    x[:, 0, 0] = 65535
    x[:, 1, 1] = 1000
    np.savez(tmp_path / "d.npz", X=x, y=np.array([0, 1]))
    src = load_source(f"npz:{tmp_path / 'd.npz'}")
    assert src.x[0, 0, 0, 0] == 255 and src.x[0, 1, 1, 0] == 4 and src.meta["pixels"]["rule"] == "uint16"


def test_npz_missing_keys_are_listed(tmp_path: Path) -> None:
    np.savez(tmp_path / "d.npz", features=np.zeros((2, 2)), labels=np.array([0, 1]))
    with pytest.raises(DataError, match=r"needs arrays 'X', 'y'; it has 'features', 'labels'"):
        load_source(f"npz:{tmp_path / 'd.npz'}")


def test_npz_normalised_images_are_rescaled_from_their_range(tmp_path: Path) -> None:
    x = np.full((2, 4, 4), -1.0)
    x[:, 0, 0] = 1.0
    np.savez(tmp_path / "d.npz", X=x, y=np.array([0, 1]))
    with pytest.warns(UserWarning, match="rescaled linearly from -1..1"):
        src = load_source(f"npz:{tmp_path / 'd.npz'}")
    assert src.x.min() == 0 and src.x.max() == 255


def test_npz_with_nan_pixels_is_refused(tmp_path: Path) -> None:
    np.savez(tmp_path / "d.npz", X=np.full((2, 4, 4), np.nan), y=np.array([0, 1]))
    with pytest.raises(DataError, match="NaN or infinite pixel values"):
        load_source(f"npz:{tmp_path / 'd.npz'}")


def test_rows_of_different_lengths_are_a_ragged_table_not_images() -> None:
    from graft.data.arrays import from_arrays

    with pytest.raises(DataError, match=r"rows have different lengths .*row 0 has 2, row 1 has 1"):
        from_arrays([[1.0, 2.0], [3.0], [4.0, 5.0]], [0, 1, 0])
