"""Domain-shift measures: proxy A-distance, linear and RBF MMD (NumPy vs torch), the report."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from graft import losses
from graft.errors import ConfigError, DataError
from graft.selection import linear_mmd, median_heuristic_gamma, proxy_a_distance, rbf_mmd, shift_report
from graft.selection import shift as shift_module


def gaussians(ns: int = 200, nt: int = 200, d: int = 5, shift: float = 0.0, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    return rng.normal(size=(ns, d)), rng.normal(size=(nt, d)) + shift


def np_rbf_mmd(s: np.ndarray, t: np.ndarray, gamma: float) -> float:
    def k(a: np.ndarray, b: np.ndarray) -> np.ndarray:
        return np.exp(-gamma * ((a[:, None, :] - b[None, :, :]) ** 2).sum(-1))

    return float(k(s, s).mean() + k(t, t).mean() - 2 * k(s, t).mean())


@pytest.mark.parametrize(("ns", "nt"), [(200, 200), (300, 100)])
def test_pad_is_near_zero_for_identical_distributions(ns: int, nt: int) -> None:
    s, t = gaussians(ns, nt)
    assert proxy_a_distance(s, t) < 0.35


def test_pad_is_near_two_for_well_separated_domains_and_grows_with_the_shift() -> None:
    s, t = gaussians(shift=3.0)
    assert proxy_a_distance(s, t) > 1.9
    values = [proxy_a_distance(*gaussians(shift=m)) for m in (0.0, 0.3, 1.0)]
    assert values == sorted(values)


def test_pad_is_seeded_and_subsamples() -> None:
    s, t = gaussians(shift=0.3)
    assert proxy_a_distance(s, t, seed=3) == proxy_a_distance(s, t, seed=3)
    assert 0.0 <= proxy_a_distance(s, t, max_per_domain=50) <= 2.0
    with pytest.raises(ConfigError, match="max_per_domain"):
        proxy_a_distance(s, t, max_per_domain=1)
    with pytest.raises(DataError, match="at least 2 rows"):
        proxy_a_distance(s[:1], t)


def test_linear_mmd_numpy_and_torch_agree() -> None:
    s, t = gaussians(40, 25, shift=0.5)
    expected = losses.linear_mmd(torch.from_numpy(s), torch.from_numpy(t)).item()
    assert linear_mmd(s, t) == pytest.approx(expected, rel=1e-12)
    assert linear_mmd(s, t) == pytest.approx(((s.mean(0) - t.mean(0)) ** 2).sum())


@pytest.mark.parametrize("gamma", [0.05, 0.3])
def test_rbf_mmd_matches_numpy_and_torch_mk_mmd_with_one_kernel(gamma: float) -> None:
    s, t = gaussians(40, 25, shift=0.5)
    expected = np_rbf_mmd(s, t, gamma)
    assert rbf_mmd(s, t, gamma=gamma) == pytest.approx(expected, rel=1e-9)
    torch_value = losses.mk_mmd(torch.from_numpy(s), torch.from_numpy(t), kernel_num=1, fix_sigma=1 / gamma).item()
    assert rbf_mmd(s, t, gamma=gamma) == pytest.approx(torch_value, rel=1e-9)


def test_rbf_mmd_chunks_without_changing_the_value(monkeypatch: pytest.MonkeyPatch) -> None:
    s, t = gaussians(40, 25, shift=0.5)
    whole = rbf_mmd(s, t)
    monkeypatch.setattr(shift_module, "_KERNEL_CHUNK", 6)
    assert rbf_mmd(s, t) == pytest.approx(whole, rel=1e-12)


def test_median_heuristic_and_rbf_mmd_properties() -> None:
    s, t = gaussians(60, 60, shift=1.0)
    joint = np.vstack([s, t])
    d2 = ((joint[:, None] - joint[None]) ** 2).sum(-1)[np.triu_indices(len(joint), 1)]
    assert median_heuristic_gamma(joint) == pytest.approx(1 / (2 * np.median(d2)))
    assert median_heuristic_gamma(np.ones((5, 3))) == 1.0
    assert rbf_mmd(s, s) == pytest.approx(0.0, abs=1e-12)
    values = [rbf_mmd(*gaussians(60, 60, shift=m)) for m in (0.0, 0.5, 2.0)]
    assert values == sorted(values)
    with pytest.raises(ConfigError, match="gamma"):
        rbf_mmd(s, t, gamma=-1.0)


def test_shift_report_has_all_measures_and_accepts_tensors() -> None:
    s, t = gaussians(80, 60, shift=1.0)
    report = shift_report(torch.from_numpy(s).float(), t)
    assert set(report) == {"proxy_a_distance", "mmd_linear", "mmd_rbf"}
    assert all(isinstance(v, float) for v in report.values())
    assert report["mmd_linear"] == pytest.approx(linear_mmd(s, t), rel=1e-5)
    with pytest.raises(DataError, match="same width"):
        shift_report(s, t[:, :3])
