"""DANN discriminator and loss, CDAN's multilinear maps and entropy weights."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from graft.errors import ConfigError, DataError
from graft.losses import (
    DomainDiscriminator,
    RandomizedMultilinear,
    cdan_features,
    domain_accuracy,
    domain_adversarial_loss,
    entropy_weights,
    grad_reverse,
    random_projections,
)


def np_bce_with_logits(z: np.ndarray, label: float, w: np.ndarray | None = None) -> float:
    loss = np.log1p(np.exp(-np.abs(z))) + np.maximum(z, 0) - z * label
    return float(np.mean(loss if w is None else w * loss))


def test_discriminator_maps_features_to_one_logit_per_row() -> None:
    disc = DomainDiscriminator(in_features=12, hidden=16)
    x = torch.randn(5, 12)
    assert disc(x).shape == (5,)
    disc.eval()
    assert disc(x[:1]).shape == (1,)
    linears = [m for m in disc.modules() if isinstance(m, torch.nn.Linear)]
    assert [m.out_features for m in linears] == [16, 16, 1]
    assert sum(isinstance(m, torch.nn.BatchNorm1d) for m in disc.modules()) == 2
    assert DomainDiscriminator(8)(torch.randn(3, 8)).shape == (3,)


@pytest.mark.parametrize(("kwargs", "word"), [({"in_features": 0}, "in_features"), ({"in_features": 3, "hidden": 0}, "hidden"),
                                               ({"in_features": 3, "dropout": 1.0}, "dropout")])
def test_discriminator_rejects_bad_sizes(kwargs: dict, word: str) -> None:
    with pytest.raises(ConfigError, match=word):
        DomainDiscriminator(**kwargs)


def test_domain_adversarial_loss_is_log2_for_zero_logits() -> None:
    assert domain_adversarial_loss(torch.zeros(4), torch.zeros(7, 1)).item() == pytest.approx(math.log(2))


def test_domain_adversarial_loss_matches_numpy_with_and_without_weights() -> None:
    rng = np.random.default_rng(0)
    zs, zt = rng.normal(size=6) * 2, rng.normal(size=9) * 2
    ws, wt = rng.uniform(0.5, 2, size=6), rng.uniform(0.5, 2, size=9)
    got = domain_adversarial_loss(torch.from_numpy(zs), torch.from_numpy(zt)).item()
    assert got == pytest.approx(0.5 * (np_bce_with_logits(zs, 1.0) + np_bce_with_logits(zt, 0.0)))
    got_w = domain_adversarial_loss(
        torch.from_numpy(zs), torch.from_numpy(zt), torch.from_numpy(ws), torch.from_numpy(wt)
    ).item()
    assert got_w == pytest.approx(0.5 * (np_bce_with_logits(zs, 1.0, ws) + np_bce_with_logits(zt, 0.0, wt)))


def test_domain_adversarial_loss_rejects_mismatched_weights_and_empty_batches() -> None:
    with pytest.raises(DataError, match="one value per example"):
        domain_adversarial_loss(torch.zeros(4), torch.zeros(3), weights_source=torch.ones(3))
    with pytest.raises(DataError, match="empty"):
        domain_adversarial_loss(torch.zeros(0), torch.zeros(3))


def test_domain_accuracy_is_balanced() -> None:
    acc = domain_accuracy(torch.tensor([1.0, 2.0, -1.0, 3.0]), torch.tensor([-1.0, 1.0]))
    assert acc.item() == pytest.approx(0.5 * (0.75 + 0.5))


def test_reversed_adversarial_gradient_pushes_features_the_other_way() -> None:
    torch.manual_seed(0)
    disc = DomainDiscriminator(4, hidden=8).eval()  # no dropout: both passes see the same net
    fs = torch.randn(6, 4, requires_grad=True)
    ft = torch.randn(6, 4)
    domain_adversarial_loss(disc(fs), disc(ft)).backward()
    plain = fs.grad.clone()
    fs.grad = None
    domain_adversarial_loss(disc(grad_reverse(fs, 1.0)), disc(ft)).backward()
    assert torch.allclose(fs.grad, -plain)


def np_multilinear(f: np.ndarray, g: np.ndarray) -> np.ndarray:
    n, d = f.shape
    c = g.shape[1]
    out = np.zeros((n, c * d))
    for i in range(n):
        for ci in range(c):
            for di in range(d):
                out[i, ci * d + di] = g[i, ci] * f[i, di]
    return out


def test_cdan_multilinear_map_matches_numpy() -> None:
    rng = np.random.default_rng(0)
    f, g = rng.normal(size=(5, 3)), rng.dirichlet(np.ones(4), size=5)
    out = cdan_features(torch.from_numpy(f), torch.from_numpy(g))
    assert out.shape == (5, 12)
    assert np.allclose(out.numpy(), np_multilinear(f, g))


def test_cdan_randomized_map_matches_numpy_and_the_module() -> None:
    rng = np.random.default_rng(1)
    f, g = rng.normal(size=(5, 6)), rng.dirichlet(np.ones(3), size=5)
    rf, rg = random_projections(6, 3, 32, seed=7)
    expected = (f @ rf.double().numpy()) * (g @ rg.double().numpy()) / np.sqrt(32)
    out = cdan_features(torch.from_numpy(f), torch.from_numpy(g), random_dim=32, seed=7)
    assert out.shape == (5, 32)
    assert np.allclose(out.numpy(), expected)
    module = RandomizedMultilinear(6, 3, random_dim=32, seed=7).double()
    assert torch.allclose(module(torch.from_numpy(f), torch.from_numpy(g)), out)
    again = cdan_features(torch.from_numpy(f), torch.from_numpy(g), random_dim=32, seed=7)
    assert torch.equal(out, again)  # the same fixed matrices on every call


def test_randomized_module_holds_fixed_buffers_not_parameters() -> None:
    module = RandomizedMultilinear(6, 3, random_dim=16, seed=0)
    assert list(module.parameters()) == []
    assert set(module.state_dict()) == {"feature_matrix", "probs_matrix"}
    assert module.feature_matrix.shape == (6, 16) and module.probs_matrix.shape == (3, 16)
    other = RandomizedMultilinear(6, 3, random_dim=16, seed=0)
    assert torch.equal(module.feature_matrix, other.feature_matrix)
    with pytest.raises(ConfigError, match="random_dim"):
        RandomizedMultilinear(6, 3, random_dim=0)


def test_randomized_map_preserves_inner_products_on_average() -> None:
    gen = torch.Generator().manual_seed(0)
    f = torch.randn(2, 8, generator=gen, dtype=torch.float64)
    g = torch.softmax(torch.randn(2, 3, generator=gen, dtype=torch.float64), 1)
    exact = cdan_features(f, g)
    exact_ip = (exact[0] * exact[1]).sum().item()
    ips = []
    for seed in range(200):
        r = cdan_features(f, g, random_dim=64, seed=seed)
        ips.append((r[0] * r[1]).sum().item())
    assert np.mean(ips) == pytest.approx(exact_ip, abs=4 * np.std(ips) / np.sqrt(len(ips)))


def test_cdan_features_detach_the_predictions_by_default() -> None:
    f = torch.randn(3, 4, requires_grad=True)
    g = torch.softmax(torch.randn(3, 2, requires_grad=True), 1)
    cdan_features(f, g).sum().backward()
    assert f.grad is not None
    g2 = torch.softmax(torch.randn(3, 2), 1).requires_grad_()
    cdan_features(f, g2, detach_probs=False).sum().backward()
    assert g2.grad is not None


def test_cdan_features_need_matching_rows() -> None:
    with pytest.raises(DataError, match="same number of rows"):
        cdan_features(torch.zeros(3, 4), torch.zeros(2, 2))


def test_entropy_weights_match_numpy_have_mean_one_and_favour_confident_rows() -> None:
    p = np.array([[0.98, 0.01, 0.01], [1 / 3, 1 / 3, 1 / 3], [0.6, 0.3, 0.1]])
    h = -(p * np.log(p)).sum(1)
    w = 1 + np.exp(-h)
    got = entropy_weights(torch.from_numpy(p).requires_grad_())
    assert np.allclose(got.detach().numpy(), w / w.mean())
    assert got.mean().item() == pytest.approx(1.0)
    assert got[0] > got[2] > got[1]
    assert not got.requires_grad
