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
    assert src.x.dtype == np.float32 and src.x.shape == (4, 2) and src.width == 2
    assert src.meta["feature_columns"] == ["a", "b"] and src.meta["ignored_columns"] == ["id"]


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


def test_explicit_non_numeric_features_are_named(tmp_path: Path) -> None:
    path = _csv(tmp_path, pd.DataFrame({"f": [1, 2], "colour": ["red", "blue"], "label": [0, 1]}))
    with pytest.raises(DataError, match=r"must be numeric; 'colour' in .* are not"):
        load_source(f"csv:{path}", feature_columns=["f", "colour"])


def test_unknown_feature_column_lists_columns(tmp_path: Path) -> None:
    path = _csv(tmp_path, pd.DataFrame({"f": [1, 2], "label": [0, 1]}))
    with pytest.raises(DataError, match=r"has no column 'g'\. Columns: 'f', 'label'"):
        load_source(f"csv:{path}", feature_columns=["g"])


def test_missing_feature_values_are_refused(tmp_path: Path) -> None:
    path = _csv(tmp_path, pd.DataFrame({"f": [1.0, None, 3.0], "label": [0, 1, 0]}))
    with pytest.raises(DataError, match=r"1 missing or infinite values \(rows 1\)"):
        load_source(f"csv:{path}")


def test_tsv_and_jsonl_by_extension(tmp_path: Path) -> None:
    frame = pd.DataFrame({"f": [1, 2, 3], "label": ["a", "b", "a"]})
    frame.to_csv(tmp_path / "t.tsv", sep="\t", index=False)
    frame.to_json(tmp_path / "t.jsonl", orient="records", lines=True)
    for name in ("t.tsv", "t.jsonl"):
        src = load_source(f"csv:{tmp_path / name}")
        assert src.classes == ["a", "b"] and src.x[:, 0].tolist() == [1, 2, 3]


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
    assert src.kind == "table" and src.x.dtype == np.float32 and src.x.shape == (4, 3)


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
    bytes_like = np.full((2, 1, 5, 5), 200.0)
    np.savez(tmp_path / "bytes.npz", X=bytes_like, y=np.array([0, 1]))
    src = load_source(f"npz:{tmp_path / 'bytes.npz'}")
    assert src.x.shape == (2, 5, 5, 1) and src.x.max() == 200


def test_npz_missing_keys_are_listed(tmp_path: Path) -> None:
    np.savez(tmp_path / "d.npz", features=np.zeros((2, 2)), labels=np.array([0, 1]))
    with pytest.raises(DataError, match=r"needs arrays 'X' and 'y'; it has 'features', 'labels'"):
        load_source(f"npz:{tmp_path / 'd.npz'}")


def test_npz_normalised_images_are_refused(tmp_path: Path) -> None:
    np.savez(tmp_path / "d.npz", X=np.full((2, 4, 4), -1.5), y=np.array([0, 1]))
    with pytest.raises(DataError, match=r"pixel values in \[0, 1\] or \[0, 255\]; got values from -1.5"):
        load_source(f"npz:{tmp_path / 'd.npz'}")
