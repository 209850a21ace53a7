"""The Barlow Twins loss against the paper's formula, its invariances, the projector."""

from __future__ import annotations

import pytest
import torch

from sslab.vision import barlow
from sslab.vision.resnet import ConvNet


def paper_formula(z_a: torch.Tensor, z_b: torch.Tensor, lambd: float) -> float:
    """Eq. (1)-(2) of the paper, written out with Python loops over dimensions (float64).

    C_ij = sum_b za_bi zb_bj / (sqrt(sum_b za_bi^2) sqrt(sum_b zb_bj^2)), with each
    dimension centred over the batch; L = sum_i (1 - C_ii)^2 + lambda sum_i sum_{j!=i} C_ij^2.
    """
    a = (z_a - z_a.mean(0)).double()
    b = (z_b - z_b.mean(0)).double()
    d = a.shape[1]
    loss = 0.0
    for i in range(d):
        for j in range(d):
            c_ij = float((a[:, i] * b[:, j]).sum() / (a[:, i].pow(2).sum().sqrt() * b[:, j].pow(2).sum().sqrt()))
            loss += (1 - c_ij) ** 2 if i == j else lambd * c_ij**2
    return loss


def test_loss_matches_the_paper_formula():
    g = torch.Generator().manual_seed(0)
    z_a = torch.randn(16, 6, generator=g)
    z_b = 0.6 * z_a + torch.randn(16, 6, generator=g)
    for lambd in (0.0051, 0.5):
        got = barlow.barlow_twins_loss(z_a, z_b, lambd, eps=0.0)
        assert got.item() == pytest.approx(paper_formula(z_a, z_b, lambd), rel=1e-5)
    # With the batch-norm eps of the authors' code the value moves only slightly.
    assert barlow.barlow_twins_loss(z_a, z_b).item() == pytest.approx(paper_formula(z_a, z_b, barlow.LAMBDA), rel=1e-3)


def test_loss_is_zero_for_identical_decorrelated_views():
    # Columns of a 8x8 Hadamard matrix (minus the constant one): zero mean, mutually orthogonal.
    h = torch.tensor([[1.0]])
    for _ in range(3):
        h = torch.cat([torch.cat([h, h], 1), torch.cat([h, -h], 1)], 0)
    z = h[:, 1:] * torch.tensor([1.0, 2.0, 0.5, 3.0, 1.0, 7.0, 0.1])  # scale does not matter
    assert barlow.barlow_twins_loss(z, z, 0.0051, eps=0.0).item() == pytest.approx(0.0, abs=1e-10)
    # Correlated dimensions are penalised even when the views agree...
    redundant = torch.cat([z[:, :3], z[:, :3]], 1)
    assert barlow.barlow_twins_loss(redundant, redundant, 1.0, eps=0.0).item() == pytest.approx(6.0, rel=1e-6)
    # ...and so are views that disagree, even when each is decorrelated.
    assert barlow.barlow_twins_loss(z, -z, 0.0051, eps=0.0).item() == pytest.approx(4.0 * 7, rel=1e-6)


def test_loss_is_symmetric_in_the_views_and_invariant_to_affine_rescaling():
    g = torch.Generator().manual_seed(1)
    z_a, z_b = torch.randn(32, 10, generator=g), torch.randn(32, 10, generator=g)
    loss = barlow.barlow_twins_loss(z_a, z_b)
    assert barlow.barlow_twins_loss(z_b, z_a).item() == pytest.approx(loss.item(), rel=1e-6)
    # Per-dimension positive scale and shift do not change a correlation.
    scale, shift = torch.rand(10, generator=g) + 0.5, torch.randn(10, generator=g)
    assert barlow.barlow_twins_loss(z_a * scale + shift, z_b, eps=0.0).item() == pytest.approx(
        barlow.barlow_twins_loss(z_a, z_b, eps=0.0).item(), rel=1e-5)
    # Permuting the batch the same way in both views changes nothing either.
    perm = torch.randperm(32, generator=g)
    assert barlow.barlow_twins_loss(z_a[perm], z_b[perm]).item() == pytest.approx(loss.item(), rel=1e-5)
    # But pairing each image with another image's view does.
    assert barlow.barlow_twins_loss(z_a[perm], z_b).item() != pytest.approx(loss.item(), rel=1e-3)


def test_off_diagonal_takes_exactly_the_off_diagonal():
    c = torch.arange(16.0).view(4, 4)
    off = barlow.off_diagonal(c)
    assert sorted(off.tolist()) == sorted(v for i, row in enumerate(c.tolist()) for j, v in enumerate(row) if i != j)


def test_projector_shape_and_gradients_flow():
    torch.manual_seed(0)
    model = barlow.BarlowTwins(ConvNet(width=4), (16, 16, 8))
    assert isinstance(model.projector[1], torch.nn.BatchNorm1d) and model.projector[-1].out_features == 8
    x = torch.randn(6, 3, 16, 16)
    loss = model(x, x.flip(-1))
    loss.backward()
    assert loss.item() > 0 and all(p.grad is not None for p in model.parameters())


def test_joint_objective_combines_both_terms():
    torch.manual_seed(0)
    joint = barlow.JointObjective(ConvNet(width=4), (16, 8), n_classes=3, weight=2.0)
    x, y = torch.randn(5, 3, 16, 16), torch.tensor([0, 1, 2, 0, 1])
    va, vb = torch.randn(6, 3, 16, 16), torch.randn(6, 3, 16, 16)
    total, ce, bt = joint(x, y, va, vb)
    assert total.item() == pytest.approx(ce.item() + 2.0 * bt.item() / 8, rel=1e-5)


def test_loss_stays_float32_under_bfloat16_autocast():
    g = torch.Generator().manual_seed(1)
    z_a = torch.randn(64, 32, generator=g)
    z_b = 0.8 * z_a + 0.5 * torch.randn(64, 32, generator=g)
    exact = barlow.barlow_twins_loss(z_a, z_b)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        got = barlow.barlow_twins_loss(z_a, z_b)
        # autocast is on here: a bare matrix product comes out in bfloat16
        c16 = (z_a - z_a.mean(0)).T @ (z_b - z_b.mean(0))
    assert c16.dtype == torch.bfloat16
    assert got.dtype == torch.float32 and torch.allclose(got, exact, rtol=1e-6)
