from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from graft.data import load_source, make_splits
from graft.errors import DataError, MissingPathError

Maker = Callable[..., Path]  # the image_folder / write_image fixtures


def test_flat_rgb_folder_is_stacked(image_folder: Maker) -> None:
    root = image_folder({"dog": 2, "cat": 3})
    src = load_source(f"folder:{root}")
    assert src.kind == "image" and src.classes == ["cat", "dog"]
    assert src.x.shape == (5, 5, 6, 3) and src.x.dtype == np.uint8
    assert src.y.tolist() == [0, 0, 0, 1, 1]
    assert src.splits is None
    assert [Path(p).parent.name for p in src.meta["paths"]] == ["cat"] * 3 + ["dog"] * 2


def test_grayscale_keeps_one_channel(image_folder: Maker) -> None:
    src = load_source(f"folder:{image_folder({'a': 2, 'b': 2}, mode='L')}")
    assert src.x.shape == (4, 5, 6, 1) and src.channels == 1


def test_mixed_gray_and_colour_become_rgb(image_folder: Maker, write_image: Maker) -> None:
    root = image_folder({"a": 2, "b": 1})
    write_image(root / "b" / "gray.png", mode="L", value=40)
    src = load_source(f"folder:{root}")
    assert src.x.shape == (4, 5, 6, 3)
    gray = src.x[src.meta["paths"].index(str(root / "b" / "gray.png"))]
    np.testing.assert_array_equal(gray[..., 0], gray[..., 2])


def test_mixed_sizes_are_kept_as_a_list(image_folder: Maker, write_image: Maker) -> None:
    root = image_folder({"a": 2, "b": 2})
    write_image(root / "a" / "big.png", size=(9, 7))
    src = load_source(f"folder:{root}")
    assert isinstance(src.x, list) and len(src.x) == 5
    assert {im.shape for im in src.x} == {(5, 6, 3), (7, 9, 3)}
    assert all(im.dtype == np.uint8 for im in src.x)


def test_train_val_test_subfolders_fill_splits(image_folder: Maker) -> None:
    layout = {"train/a": 3, "train/b": 3, "valid/a": 1, "valid/b": 1, "test/a": 2, "test/b": 2}
    root = image_folder(layout)
    src = load_source(f"folder:{root}")
    assert src.classes == ["a", "b"] and len(src) == 12
    assert set(src.splits) == {"train", "val", "test"}
    assert (len(src.splits["train"]), len(src.splits["val"]), len(src.splits["test"])) == (6, 2, 4)
    for split, idx in src.splits.items():
        folder = "valid" if split == "val" else split
        assert all(f"/{folder}/" in src.meta["paths"][i] for i in idx)
    splits = make_splits(src, labels_per_class=2)
    np.testing.assert_array_equal(splits.test, src.splits["test"])
    np.testing.assert_array_equal(splits.val, src.splits["val"])
    assert len(splits.train) == 4 and len(splits.unlabeled) == 2


def test_extensions_are_case_insensitive_and_other_files_ignored(
    image_folder: Maker, write_image: Maker
) -> None:
    root = image_folder({"a": 1, "b": 1})
    write_image(root / "a" / "upper.PNG")
    write_image(root / "b" / "photo.JpEg")
    write_image(root / "b" / "nested" / "deep.bmp")
    (root / "a" / "notes.txt").write_text("not an image")
    write_image(root / "a" / ".hidden.png")
    src = load_source(f"folder:{root}")
    assert len(src) == 5 and np.bincount(src.y).tolist() == [2, 3]


def test_missing_folder(tmp_path: Path) -> None:
    want = r"Data folder '.*nowhere' does not exist\. Fix: check the path"
    with pytest.raises(MissingPathError, match=want):
        load_source(f"folder:{tmp_path / 'nowhere'}")


def test_folder_without_class_subfolders_is_empty(tmp_path: Path) -> None:
    want = r"is empty: it has no class sub-folders\. Allowed: PATH/<class>/<image>"
    with pytest.raises(DataError, match=want):
        load_source(f"folder:{tmp_path}")


def test_class_folders_without_images_are_empty(tmp_path: Path) -> None:
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    (tmp_path / "b" / "readme.txt").write_text("x")
    with pytest.raises(DataError, match="is empty: it has no images in its class folders"):
        load_source(f"folder:{tmp_path}")


def test_one_empty_class_folder_is_named(image_folder: Maker) -> None:
    root = image_folder({"a": 2, "b": 2})
    (root / "c").mkdir()
    with pytest.raises(DataError, match=r"class folder\(s\) 'c' hold no images"):
        load_source(f"folder:{root}")


def test_single_class_is_named(image_folder: Maker) -> None:
    root = image_folder({"only": 3})
    want = r"has a single class \('only'\); classification needs at least 2"
    with pytest.raises(DataError, match=want):
        load_source(f"folder:{root}")


def test_unreadable_image_names_the_file(image_folder: Maker) -> None:
    root = image_folder({"a": 2, "b": 2})
    broken = root / "b" / "broken.jpg"
    broken.write_bytes(b"definitely not a jpeg")
    want = rf"Cannot read image '{broken}'.*Fix: delete or replace the file"
    with pytest.raises(DataError, match=want):
        load_source(f"folder:{root}")


def test_a_file_is_not_a_folder(tmp_path: Path) -> None:
    file = tmp_path / "x.png"
    file.write_bytes(b"")
    with pytest.raises(DataError, match="must be a directory"):
        load_source(f"folder:{file}")


def test_split_and_class_folders_mixed_is_refused(image_folder: Maker) -> None:
    root = image_folder({"train/a": 1, "train/b": 1, "cats": 1})
    want = r"mixes split folders \('train'\) with class folders \('cats'\)"
    with pytest.raises(DataError, match=want):
        load_source(f"folder:{root}")
