"""Label-free validators: NumPy references, orderings, DEV on a known covariate shift, registry."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from graft.errors import ConfigError, DataError, SpecError
from graft.losses import entropy, information_maximization
from graft.selection import (
    VALIDATORS,
    bnm_score,
    class_ami_score,
    cross_entropy_per_example,
    density_ratio_weights,
    dev_risk,
    dev_score,
    entropy_score,
    im_score,
    snd_score,
)
from graft.selection import validators as validators_module


def np_softmax(z: np.ndarray) -> np.ndarray:
    e = np.exp(z - z.max(1, keepdims=True))
    return e / e.sum(1, keepdims=True)


def np_snd(rows: np.ndarray, temperature: float) -> float:
    """SND written out directly: full similarity matrix, -inf diagonal, row softmax entropy."""
    x = rows / np.linalg.norm(rows, axis=1, keepdims=True)
    sim = x @ x.T / temperature
    np.fill_diagonal(sim, -np.inf)
    p = np.exp(sim - sim.max(1, keepdims=True))
    p /= p.sum(1, keepdims=True)
    with np.errstate(divide="ignore", invalid="ignore"):
        h = -np.where(p > 0, p * np.log(p), 0.0).sum(1)
    return float(h.mean())


def clustered_logits(n: int, c: int, noise: float, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return np.eye(c)[rng.integers(0, c, n)] * 6 + rng.normal(size=(n, c)) * noise


# ------------------------------------------------------------------------- SND


@pytest.mark.parametrize("temperature", [0.05, 0.5])
def test_snd_matches_numpy_on_softmax_outputs_and_on_features(temperature: float) -> None:
    rng = np.random.default_rng(0)
    z, f = rng.normal(size=(30, 5)) * 2, rng.normal(size=(30, 8))
    assert snd_score(None, z, temperature) == pytest.approx(np_snd(np_softmax(z), temperature), rel=1e-10)
    got = snd_score(f, z, temperature, use_features=True)
    assert got == pytest.approx(np_snd(f, temperature), rel=1e-10)


def test_snd_ignores_features_unless_asked() -> None:
    z = clustered_logits(40, 3, 1.0, 0)
    f = np.random.default_rng(1).normal(size=(40, 7))
    assert snd_score(f, z) == snd_score(None, z)


def test_snd_chunking_does_not_change_the_value(monkeypatch: pytest.MonkeyPatch) -> None:
    z = np.random.default_rng(2).normal(size=(50, 4)) * 3
    whole = snd_score(None, z)
    monkeypatch.setattr(validators_module, "_SND_CHUNK", 7)
    assert snd_score(None, z) == pytest.approx(whole, rel=1e-12)


@pytest.mark.parametrize(("n", "c", "seed"), [(120, 4, 0), (200, 10, 1), (60, 3, 2)])
def test_snd_is_higher_for_clustered_than_for_random_predictions(n: int, c: int, seed: int) -> None:
    random_logits = np.random.default_rng(seed + 100).normal(size=(n, c)) * 3
    assert snd_score(None, clustered_logits(n, c, 1.0, seed)) > snd_score(None, random_logits) + 0.2


def test_snd_falls_as_clusters_spread() -> None:
    tight, loose = clustered_logits(120, 4, 0.5, 0), clustered_logits(120, 4, 4.0, 0)
    assert snd_score(None, tight) > snd_score(None, loose)


def test_snd_accepts_tensors_and_checks_inputs() -> None:
    z = clustered_logits(20, 3, 1.0, 0)
    assert snd_score(None, torch.from_numpy(z).float()) == pytest.approx(snd_score(None, z), rel=1e-5)
    with pytest.raises(ConfigError, match="temperature"):
        snd_score(None, z, temperature=0.0)
    with pytest.raises(DataError, match="at least 2 rows"):
        snd_score(None, z[:1])
    with pytest.raises(DataError, match="same number of rows"):
        snd_score(np.zeros((5, 2)), z, use_features=True)
    with pytest.raises(DataError, match="NaN"):
        snd_score(None, np.full((3, 2), np.nan))


# --------------------------------------------------------------- entropy and IM


def test_entropy_and_im_scores_are_the_negated_torch_losses() -> None:
    z = np.random.default_rng(0).normal(size=(25, 6)) * 2
    zt = torch.from_numpy(z)
    assert entropy_score(z) == pytest.approx(-entropy(zt).item())
    assert im_score(z) == pytest.approx(-information_maximization(zt).item())


def test_entropy_score_prefers_confident_predictions() -> None:
    confident = np.eye(4)[np.arange(20) % 4] * 10
    unsure = np.eye(4)[np.arange(20) % 4] * 0.5
    assert entropy_score(confident) > entropy_score(unsure) > entropy_score(np.zeros((20, 4)))
    assert entropy_score(np.zeros((20, 4))) == pytest.approx(-math.log(4))


def test_im_score_prefers_confident_and_diverse_over_collapsed_or_uniform() -> None:
    diverse = np.eye(4)[np.arange(20) % 4] * 20
    collapsed = np.eye(4)[np.zeros(20, dtype=int)] * 20
    uniform = np.zeros((20, 4))
    assert im_score(diverse) == pytest.approx(math.log(4), abs=1e-6)
    assert im_score(diverse) > im_score(collapsed)
    assert im_score(diverse) > im_score(uniform)


# ------------------------------------------------------------------------- DEV

SHIFT = np.array([1.0, 0.5])


def covariate_shift_problem(seed: int, n: int = 1000) -> tuple[np.ndarray, np.ndarray, np.ndarray, float]:
    """Source N(0, I), target N(SHIFT, I), a loss that grows along the shift; the
    log density ratio is linear, so logistic regression is well specified."""
    rng = np.random.default_rng(seed)

    def loss(x: np.ndarray) -> np.ndarray:
        return np.log1p(np.exp(x @ np.array([1.5, -0.5]) - 1.0))

    xs, xt = rng.normal(size=(n, 2)), rng.normal(size=(n, 2)) + SHIFT
    true_risk = float(loss(rng.normal(size=(200_000, 2)) + SHIFT).mean())
    return xs, loss(xs), xt, true_risk


@pytest.mark.parametrize("seed", [0, 1])
def test_dev_estimates_the_true_target_risk_under_covariate_shift(seed: int) -> None:
    xs, losses, xt, true_risk = covariate_shift_problem(seed)
    naive_error = abs(losses.mean() - true_risk)
    estimate = -dev_score(xs, losses, xt, seed=seed)
    assert naive_error > 0.4  # the shift matters
    assert abs(estimate - true_risk) < 0.35 * naive_error


def test_density_ratio_weights_average_one_and_are_flat_without_shift() -> None:
    xs, _, xt, _ = covariate_shift_problem(0)
    w = density_ratio_weights(xs, xt)
    assert w.shape == (len(xs),) and (w > 0).all()
    assert w.mean() == pytest.approx(1.0, abs=0.1)
    same = density_ratio_weights(xs, np.random.default_rng(9).normal(size=(1000, 2)))
    assert np.abs(same - 1).mean() < 0.15


def test_dev_risk_matches_the_control_variate_formula() -> None:
    rng = np.random.default_rng(0)
    losses, w = rng.uniform(0, 2, 50), rng.uniform(0.2, 3, 50)
    weighted = w * losses
    eta = -np.cov(weighted, w)[0, 1] / np.var(w, ddof=1)
    assert dev_risk(losses, w) == pytest.approx(weighted.mean() + eta * w.mean() - eta)
    assert dev_risk(losses, np.ones(50)) == pytest.approx(losses.mean())


def test_dev_score_checks_shapes() -> None:
    with pytest.raises(DataError, match="source_val_losses"):
        dev_score(np.zeros((10, 2)), np.zeros(9), np.ones((10, 2)))
    with pytest.raises(DataError, match="width"):
        dev_score(np.zeros((10, 2)), np.zeros(10), np.ones((10, 3)))


def test_cross_entropy_per_example_matches_numpy_and_checks_labels() -> None:
    z = np.random.default_rng(0).normal(size=(6, 3))
    y = np.array([0, 1, 2, 2, 1, 0])
    expected = -np.log(np_softmax(z)[np.arange(6), y])
    assert np.allclose(cross_entropy_per_example(z, y), expected)
    with pytest.raises(DataError, match="class indices"):
        cross_entropy_per_example(z, np.array([0, 1, 2, 3, 1, 0]))


# -------------------------------------------------------------------- registry


def test_registry_lists_the_six_validators_with_descriptions() -> None:
    assert list(VALIDATORS) == ["bnm", "classami", "dev", "entropy", "im", "snd"]
    assert all(VALIDATORS.describe().values())
    assert {n: VALIDATORS.get(n).needs_source_val for n in VALIDATORS} == {
        "bnm": False, "classami": False, "dev": True, "entropy": False, "im": False, "snd": False,
    }
    assert all(VALIDATORS.get(n).name == n and VALIDATORS.get(n).higher_is_better for n in VALIDATORS)


def test_registry_entries_score_a_dict_of_arrays() -> None:
    z = clustered_logits(40, 3, 1.0, 0)
    arrays = {"target_logits": torch.from_numpy(z), "target_features": np.zeros((40, 2))}
    assert VALIDATORS.get("snd")(arrays) == pytest.approx(snd_score(None, z))
    assert VALIDATORS.get("entropy")(arrays) == pytest.approx(entropy_score(z))
    assert VALIDATORS.get("im")(arrays) == pytest.approx(im_score(z))


def test_dev_entry_uses_cross_entropy_of_the_source_validation_predictions() -> None:
    rng = np.random.default_rng(0)
    fs, ft = rng.normal(size=(60, 3)), rng.normal(size=(50, 3)) + 0.5
    zs, ys = rng.normal(size=(60, 4)), rng.integers(0, 4, 60)
    arrays = {"target_logits": rng.normal(size=(50, 4)), "target_features": ft,
              "source_val_features": fs, "source_val_logits": zs, "source_val_labels": ys}
    expected = dev_score(fs, cross_entropy_per_example(zs, ys), ft)
    assert VALIDATORS.get("dev")(arrays) == pytest.approx(expected)


def test_missing_arrays_and_unknown_names_raise_graft_errors() -> None:
    with pytest.raises(ConfigError, match="source_val_features"):
        VALIDATORS.get("dev")({"target_logits": np.zeros((4, 2)), "target_features": np.zeros((4, 2))})
    with pytest.raises(ConfigError, match="target_logits"):
        VALIDATORS.get("snd")({"target_logits": None})
    with pytest.raises(SpecError, match="Did you mean 'snd'"):
        VALIDATORS.get("sdn")


# ------------------------------------------------------------------- BNM, ClassAMI


@pytest.mark.parametrize(("n", "c", "seed"), [(50, 10, 0), (7, 12, 1), (300, 3, 2)])
def test_bnm_matches_the_numpy_nuclear_norm(n: int, c: int, seed: int) -> None:
    z = np.random.default_rng(seed).normal(size=(n, c)) * 3
    ref = np.linalg.norm(np_softmax(z), "nuc") / math.sqrt(n * min(n, c))
    assert bnm_score(z) == pytest.approx(ref, rel=1e-10)
    assert bnm_score(torch.from_numpy(z).float()) == pytest.approx(ref, rel=1e-5)


def test_bnm_is_one_for_confident_balanced_and_low_for_collapsed_or_uniform() -> None:
    balanced = np.eye(5)[np.arange(100) % 5] * 50.0
    assert bnm_score(balanced) == pytest.approx(1.0, abs=1e-9)
    collapsed = np.tile(np.eye(5)[0] * 50.0, (100, 1))  # rank one
    assert bnm_score(collapsed) == pytest.approx(1 / math.sqrt(5), abs=1e-9)
    uniform = np.zeros((100, 5))  # rank one and unconfident: lower still
    assert bnm_score(uniform) == pytest.approx(1 / 5, abs=1e-9)
    assert bnm_score(clustered_logits(100, 5, 0.5, 0)) > bnm_score(clustered_logits(100, 5, 4.0, 0))


def test_class_ami_is_high_when_predictions_follow_the_feature_clusters() -> None:
    rng = np.random.default_rng(0)
    labels = rng.integers(0, 4, 200)
    centres = rng.normal(size=(4, 16)) * 5
    feats = centres[labels] + rng.normal(size=(200, 16)) * 0.3
    following = np.eye(4)[labels] * 5
    assert class_ami_score(feats, following) > 0.95
    shuffled = np.eye(4)[rng.permutation(labels)] * 5
    assert abs(class_ami_score(feats, shuffled)) < 0.05
    with pytest.raises(DataError, match="same number of rows"):
        class_ami_score(feats[:10], following)


@pytest.mark.parametrize("name", [n for n in VALIDATORS if VALIDATORS.get(n).terms is not None])
def test_per_example_terms_average_to_the_score(name: str) -> None:
    rng = np.random.default_rng(3)
    arrays = {"target_logits": clustered_logits(120, 4, 2.0, 3), "target_features": rng.normal(size=(120, 6)),
              "source_val_logits": clustered_logits(80, 4, 2.0, 4), "source_val_labels": rng.integers(0, 4, 80),
              "source_val_features": rng.normal(size=(80, 6))}
    validator = VALIDATORS.get(name)
    score, terms = validator.score_and_terms(arrays)
    assert terms is not None and terms.ndim == 1
    assert terms.mean() == pytest.approx(validator(arrays), rel=1e-9, abs=1e-12)
    assert score == pytest.approx(validator(arrays), rel=1e-9, abs=1e-12)


def test_im_terms_are_each_rows_kl_to_the_mean_prediction() -> None:
    z = clustered_logits(60, 5, 1.5, 7)
    p = np_softmax(z)
    kl = (p * (np.log(p) - np.log(p.mean(0)))).sum(1)
    terms = VALIDATORS.get("im").terms({"target_logits": z})  # type: ignore[misc]
    np.testing.assert_allclose(terms, kl, rtol=1e-10)
    assert VALIDATORS.get("classami").score_and_terms(
        {"target_logits": z, "target_features": z})[1] is None  # no per-example terms: any gain counts
