import numpy as np
import pytest
import torch
import torch.nn.functional as F

from graft.data import BUILTIN_DATA, DataSource, load_source
from graft.errors import SpecError


def test_registry_lists_the_image_sets_with_one_line_help() -> None:
    described = BUILTIN_DATA.describe()
    assert {"mnist5k", "digits", "lfw-faces"} <= set(described)
    assert all(text and "\n" not in text for text in described.values())


def test_mnist5k_is_5000_uint8_digits(mnist: DataSource) -> None:
    assert mnist.name == "builtin:mnist5k" and mnist.kind == "image"
    assert mnist.x.shape == (5000, 28, 28, 1) and mnist.x.dtype == np.uint8
    assert mnist.x.max() == 255 and mnist.x.min() == 0
    assert mnist.classes == [str(d) for d in range(10)]
    assert np.bincount(mnist.y).tolist() == [500] * 10
    assert mnist.channels == 1


def test_digits_are_upsampled_to_28x28(digits: DataSource) -> None:
    from sklearn.datasets import load_digits

    raw = load_digits()
    assert digits.x.shape == (1797, 28, 28, 1) and digits.x.dtype == np.uint8
    assert digits.x.min() == 0 and digits.x.max() == 255
    assert digits.num_classes == 10
    np.testing.assert_array_equal(digits.y, raw.target)
    small = torch.tensor(raw.images[:1] / 16.0, dtype=torch.float32)[:, None]
    big = F.interpolate(small, size=(28, 28), mode="bilinear", align_corners=False).clamp(0, 1)
    expected = torch.round(big[0, 0] * 255).to(torch.uint8).numpy()
    np.testing.assert_array_equal(digits.x[0, :, :, 0], expected)


def test_lfw_faces_come_first_then_non_faces() -> None:
    from skimage.data import lfw_subset

    src = load_source("builtin:lfw-faces")
    assert src.x.shape == (200, 25, 25, 1) and src.x.dtype == np.uint8
    assert src.classes == ["face", "non-face"]
    assert src.y[:100].tolist() == [0] * 100 and src.y[100:].tolist() == [1] * 100
    np.testing.assert_array_equal(src.x[..., 0], np.rint(lfw_subset() * 255).astype(np.uint8))


def test_unknown_builtin_name_suggests_the_closest() -> None:
    with pytest.raises(SpecError, match=r"Unknown built-in data set 'digts'\. Did you mean 'digits'\?"):
        load_source("builtin:digts")

