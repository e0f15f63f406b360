from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
import torch

from graft.data import DataSource, InputSpec, from_arrays, load_source, make_dataset
from graft.errors import ConfigError, DataError, SpecError
from graft.models import DataInfo

Maker = Callable[..., Path]  # the image_folder / write_image fixtures


def test_gray_digits_become_normalised_rgb_at_model_size(digits: DataSource) -> None:
    idx = np.arange(300)  # more than one resize batch of 256
    spec = InputSpec("image", channels=3, size=(32, 32), mean=(0.5,), std=(0.5,))
    ds = make_dataset(digits, idx, spec)
    assert len(ds) == 300 and ds.images.shape == (300, 3, 32, 32) and ds.images.dtype == torch.uint8
    np.testing.assert_array_equal(ds.targets, digits.y[idx])
    x, y = ds[5]
    assert x.shape == (3, 32, 32) and x.dtype == torch.float32 and y == digits.y[5]
    assert torch.equal(x[0], x[1]) and torch.equal(x[1], x[2])
    assert x.min() >= -1 and x.max() <= 1 and x.min() == -1


def test_same_size_is_not_resized_and_normalised_exactly(digits: DataSource) -> None:
    spec = InputSpec("image", channels=1, size=(28, 28), mean=(0.1307,), std=(0.3081,))
    x, _ = make_dataset(digits, np.array([3]), spec)[0]
    want = (torch.from_numpy(digits.x[3, :, :, 0]).float() / 255 - 0.1307) / 0.3081
    assert torch.allclose(x[0], want, atol=1e-6)


def test_per_channel_mean_std() -> None:
    src = from_arrays(np.full((2, 4, 4, 3), 255, dtype=np.uint8), [0, 1])
    spec = InputSpec("image", channels=3, mean=(0.5, 0.0, 1.0), std=(0.5, 1.0, 2.0))
    x, _ = make_dataset(src, np.arange(2), spec)[0]
    assert x[:, 0, 0].tolist() == [1.0, 1.0, 0.0]


def test_colour_to_gray_uses_luminance() -> None:
    red = np.zeros((2, 4, 4, 3), dtype=np.uint8)
    red[..., 0] = 255
    x, _ = make_dataset(from_arrays(red, [0, 1]), np.arange(2), InputSpec("image", channels=1))[0]
    assert x.shape == (1, 4, 4) and abs(float(x[0, 0, 0]) - 76 / 255) < 1e-6  # round(0.299 * 255)


def test_mixed_sizes_are_resized_once(image_folder: Maker, write_image: Maker) -> None:
    root = image_folder({"a": 2, "b": 2})
    write_image(root / "a" / "big.png", size=(30, 20))
    src = load_source(f"folder:{root}")
    ds = make_dataset(src, np.arange(len(src)), InputSpec("image", channels=3, size=(8, 8)))
    assert ds.images.shape == (5, 3, 8, 8)
    with pytest.raises(DataError, match="different sizes and the model sets no input size"):
        make_dataset(src, np.arange(len(src)), InputSpec("image", channels=3))


def test_augmentation_changes_pixels_keeps_shape_and_is_seeded(digits: DataSource) -> None:
    spec = InputSpec("image", channels=1, size=(28, 28))
    plain = make_dataset(digits, np.arange(4), spec)
    for name in ("light", "flip"):
        ds = make_dataset(digits, np.arange(4), spec, augment=name)
        torch.manual_seed(0)
        first = ds[0][0]
        torch.manual_seed(0)
        again = ds[0][0]
        assert first.shape == plain[0][0].shape == (1, 28, 28)
        assert not torch.equal(first, plain[0][0])
        assert torch.equal(first, again)
    assert torch.equal(plain[0][0], plain[0][0])


def test_unknown_augmentation_suggests() -> None:
    src = from_arrays(np.zeros((2, 4, 4), dtype=np.uint8), [0, 1])
    with pytest.raises(SpecError, match="Unknown augmentation 'lite'. Did you mean 'light'"):
        make_dataset(src, np.arange(2), InputSpec("image", channels=1), augment="lite")


def test_table_width_is_checked() -> None:
    src = from_arrays(np.random.default_rng(0).random((6, 12)), [0, 1] * 3, name="csv:t.csv")
    with pytest.raises(DataError, match="the table has 12 feature columns, the model takes 64"):
        make_dataset(src, np.arange(6), InputSpec("table", width=64))
    ds = make_dataset(src, np.array([4, 1]), InputSpec("table", width=12))
    x, y = ds[0]
    assert x.dtype == torch.float32 and x.shape == (12,) and y == 0
    np.testing.assert_array_equal(ds.targets, [0, 1])
    augmented = make_dataset(src, np.arange(6), InputSpec("table"), augment="light")
    assert torch.equal(augmented[0][0], torch.from_numpy(src.x.iloc[0].to_numpy(np.float32)))  # ignored for tables


def test_text_items_are_raw_strings() -> None:
    src = from_arrays(["a b", "c", "d e f"], [1, 0, 1])
    ds = make_dataset(src, np.array([2, 0]), InputSpec("text"))
    assert ds[0] == ("d e f", 1) and ds[1] == ("a b", 1)


def test_kind_mismatch_says_what_and_how(digits: DataSource) -> None:
    want = r"builtin:digits holds image data but the model takes table input.*Fix: pick an image model"
    with pytest.raises(DataError, match=want):
        make_dataset(digits, np.arange(3), InputSpec("table", width=64))


def test_data_info_reads_the_source(digits: DataSource) -> None:
    info = DataInfo.from_source(digits)
    assert (info.kind, info.channels, info.size, info.width, info.num_classes) == ("image", 1, (28, 28), None, 10)
    assert DataInfo.from_source(from_arrays(np.zeros((2, 5)), [0, 1])).width == 5
    mixed = from_arrays([np.zeros((4, 4, 1), np.uint8), np.zeros((6, 4, 1), np.uint8)], [0, 1])
    assert DataInfo.from_source(mixed).size is None


def test_mean_must_match_channels(digits: DataSource) -> None:
    spec = InputSpec("image", channels=3, mean=(0.5, 0.5), std=(1.0,))
    with pytest.raises(ConfigError, match="mean has 2 values but the model takes 3 channels"):
        make_dataset(digits, np.arange(2), spec)
