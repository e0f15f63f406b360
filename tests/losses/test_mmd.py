"""MK-MMD and linear MMD against a NumPy reference, plus their properties."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from graft.errors import ConfigError, DataError
from graft.losses import gaussian_kernels, linear_mmd, mean_pairwise_sq_distance, mk_mmd


def np_sq_dists(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return ((a[:, None, :] - b[None, :, :]) ** 2).sum(-1)


def np_bandwidths(joint: np.ndarray, kernel_mul: float, kernel_num: int, fix_sigma: float | None) -> list[float]:
    n = len(joint)
    centre = fix_sigma if fix_sigma is not None else np_sq_dists(joint, joint).sum() / (n * n - n)
    base = centre / kernel_mul ** (kernel_num // 2)
    return [base * kernel_mul**i for i in range(kernel_num)]


def np_kernel(a: np.ndarray, b: np.ndarray, bws: list[float]) -> np.ndarray:
    d = np_sq_dists(a, b)
    return sum(np.exp(-d / bw) for bw in bws)


def np_mk_mmd(s: np.ndarray, t: np.ndarray, kernel_mul: float = 2.0, kernel_num: int = 5,
              fix_sigma: float | None = None) -> float:
    bws = np_bandwidths(np.vstack([s, t]), kernel_mul, kernel_num, fix_sigma)
    return np_kernel(s, s, bws).mean() + np_kernel(t, t, bws).mean() - 2 * np_kernel(s, t, bws).mean()


def np_linear_time_mmd(s: np.ndarray, t: np.ndarray, kernel_mul: float = 2.0, kernel_num: int = 5) -> float:
    bws = np_bandwidths(np.vstack([s, t]), kernel_mul, kernel_num, None)

    def k(a: np.ndarray, b: np.ndarray) -> float:
        return float(sum(np.exp(-((a - b) ** 2).sum() / bw) for bw in bws))

    m = min(len(s), len(t)) // 2
    terms = [k(s[2 * i], s[2 * i + 1]) + k(t[2 * i], t[2 * i + 1]) - k(s[2 * i], t[2 * i + 1]) - k(s[2 * i + 1], t[2 * i])
             for i in range(m)]
    return float(np.mean(terms))


def data(ns: int = 12, nt: int = 9, d: int = 5, shift: float = 0.7, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    return rng.normal(size=(ns, d)), rng.normal(size=(nt, d)) * 1.3 + shift


def t(x: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(x)


@pytest.mark.parametrize(
    "kwargs",
    [{}, {"kernel_mul": 1.5, "kernel_num": 3}, {"kernel_num": 1}, {"fix_sigma": 4.0}, {"kernel_num": 4}],
)
@pytest.mark.parametrize(("ns", "nt"), [(12, 9), (10, 10), (3, 20)])
def test_mk_mmd_matches_numpy(kwargs: dict, ns: int, nt: int) -> None:
    s, tt = data(ns, nt)
    assert mk_mmd(t(s), t(tt), **kwargs).item() == pytest.approx(np_mk_mmd(s, tt, **kwargs), rel=1e-10)


@pytest.mark.parametrize(("ns", "nt"), [(12, 9), (10, 10), (2, 7)])
def test_linear_time_mk_mmd_matches_numpy(ns: int, nt: int) -> None:
    s, tt = data(ns, nt)
    assert mk_mmd(t(s), t(tt), linear=True).item() == pytest.approx(np_linear_time_mmd(s, tt), rel=1e-10)


def test_gaussian_kernels_matches_numpy() -> None:
    s, tt = data()
    bws = [0.5, 2.0, 8.0]
    assert np.allclose(gaussian_kernels(t(s), t(tt), bws).numpy(), np_kernel(s, tt, bws))
    assert gaussian_kernels(t(s), t(tt), torch.tensor(bws, dtype=torch.float64)).shape == (12, 9)


def test_mean_pairwise_distance_matches_the_full_matrix_even_far_from_the_origin() -> None:
    s, _ = data()
    far = s + 1e4
    n = len(s)
    expected = np_sq_dists(s, s).sum() / (n * n - n)
    assert mean_pairwise_sq_distance(t(far)).item() == pytest.approx(expected, rel=1e-8)


def test_mmd_is_zero_for_identical_sets_and_grows_with_a_mean_shift() -> None:
    x = torch.randn(32, 4, generator=torch.Generator().manual_seed(0))
    assert mk_mmd(x, x).item() == pytest.approx(0.0, abs=1e-6)
    assert linear_mmd(x, x).item() == pytest.approx(0.0, abs=1e-12)
    y = torch.randn(32, 4, generator=torch.Generator().manual_seed(1))
    values = [mk_mmd(x, y + s).item() for s in (0.0, 0.5, 1.0, 2.0, 4.0)]
    assert values == sorted(values) and values[0] < 0.1 * values[-1]
    lin = [linear_mmd(x, y + s).item() for s in (0.0, 0.5, 1.0, 2.0)]
    assert lin == sorted(lin)


def test_linear_mmd_matches_numpy_and_handles_unequal_sizes() -> None:
    s, tt = data(7, 13)
    assert linear_mmd(t(s), t(tt)).item() == pytest.approx(((s.mean(0) - tt.mean(0)) ** 2).sum())


def test_bandwidth_is_detached() -> None:
    s, tt = data()
    a = t(s).requires_grad_()
    mk_mmd(a, t(tt)).backward()
    joint = np.vstack([s, tt])
    n = len(joint)
    centre = float(np_sq_dists(joint, joint).sum() / (n * n - n))
    b = t(s).requires_grad_()
    mk_mmd(b, t(tt), fix_sigma=centre).backward()
    assert torch.allclose(a.grad, b.grad)


def test_float32_identical_batches_of_identical_points_do_not_give_nan() -> None:
    x = torch.ones(4, 3)
    assert mk_mmd(x, x).item() == 0.0


def test_bad_inputs_raise_graft_errors() -> None:
    with pytest.raises(DataError, match="same feature width"):
        mk_mmd(torch.zeros(3, 2), torch.zeros(3, 4))
    with pytest.raises(DataError, match="2-D"):
        mk_mmd(torch.zeros(3), torch.zeros(3))
    with pytest.raises(ConfigError, match="kernel_num"):
        mk_mmd(torch.zeros(3, 2), torch.ones(3, 2), kernel_num=0)
    with pytest.raises(ConfigError, match="fix_sigma"):
        mk_mmd(torch.zeros(3, 2), torch.ones(3, 2), fix_sigma=-1.0)
    with pytest.raises(DataError, match="at least 2 rows"):
        mk_mmd(torch.zeros(1, 2), torch.ones(3, 2), linear=True)
