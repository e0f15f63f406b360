import numpy as np
import pytest
import torch

from graft.losses import batch_spectral_shrinkage, l2_sp


def test_l2_sp_is_the_squared_distance_to_the_anchors() -> None:
    a, b = torch.randn(3, 4), torch.randn(5)
    wa, wb = torch.nn.Parameter(a + 1.0), torch.nn.Parameter(b - 2.0)
    value = l2_sp([(wa, a), (wb, b)])
    assert torch.isclose(value, torch.tensor(12 * 1.0 + 5 * 4.0))
    value.backward()
    assert torch.allclose(wa.grad, torch.full_like(a, 2.0))  # d/dw (w - a)^2 = 2 (w - a)
    with pytest.raises(ValueError, match="at least one"):
        l2_sp([])


@pytest.mark.parametrize("k", [1, 2, 10])
def test_bss_matches_numpy_and_pushes_the_smallest_direction_down(k: int) -> None:
    torch.manual_seed(0)
    f = torch.randn(8, 4, requires_grad=True)
    want = np.sort(np.linalg.svd(f.detach().numpy(), compute_uv=False))[: min(k, 4)]
    value = batch_spectral_shrinkage(f, k)
    assert np.isclose(float(value), float((want ** 2).sum()), rtol=1e-5)
    value.backward()
    with torch.no_grad():
        after = batch_spectral_shrinkage(f - 0.01 * f.grad, k)
    assert after < value


def test_bss_refuses_a_non_matrix() -> None:
    with pytest.raises(ValueError, match=r"\[batch, dim\]"):
        batch_spectral_shrinkage(torch.zeros(2, 3, 4))
