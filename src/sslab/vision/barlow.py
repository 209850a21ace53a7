"""Barlow Twins (Zbontar, Jing, Misra, LeCun, Deny; ICML 2021): the loss and the model.

The paper's optimiser (LARS) and schedule live in :mod:`sslab.train.optim`.

The paper's Algorithm 1, and the lines of :func:`barlow_twins_loss` that do each step::

    # normalize repr. along the batch dimension
    z_a_norm = (z_a - z_a.mean(0)) / z_a.std(0)  # NxD     -> standardize(z_a)
    z_b_norm = (z_b - z_b.mean(0)) / z_b.std(0)  # NxD     -> standardize(z_b)
    # cross-correlation matrix
    c = mm(z_a_norm.T, z_b_norm) / N  # DxD                 -> cross_correlation(...)
    # loss
    c_diff = (c - eye(D)).pow(2)  # DxD
    # multiply off-diagonal elems of c_diff by lambda
    off_diagonal(c_diff).mul_(lambda)
    loss = c_diff.sum()                                     -> on_diag + lambd * off_diag

As in the authors' code, the standardisation is batch norm without affine parameters
(biased variance plus ``eps``), and under DistributedDataParallel the batch statistics
and ``c`` are sums over the *global* batch (all-reduced), so K processes with N/K
samples each compute exactly the loss of one process with N samples.
"""

from __future__ import annotations

from typing import Sequence

import torch
from torch import nn

from sslab.train.distributed import all_reduce_sum, global_count
from sslab.train.precision import autocast
from sslab.vision.ssl_augment import ViewParams, two_views

LAMBDA = 0.0051  # the paper's weight of the off-diagonal (redundancy-reduction) term


def off_diagonal(c: torch.Tensor) -> torch.Tensor:
    """The D*(D-1) off-diagonal elements of a square matrix, flattened (the paper's helper)."""
    n, m = c.shape
    assert n == m, "off_diagonal needs a square matrix"
    return c.flatten()[:-1].view(n - 1, n + 1)[:, 1:].flatten()


def standardize(z: torch.Tensor, count: int, eps: float = 1e-5) -> torch.Tensor:
    """Centre and scale each dimension by its mean and (biased) std over the global batch."""
    mean = all_reduce_sum(z.sum(0)) / count
    var = all_reduce_sum((z - mean).pow(2).sum(0)) / count
    return (z - mean) * torch.rsqrt(var + eps)


def cross_correlation(z_a: torch.Tensor, z_b: torch.Tensor, eps: float = 1e-5) -> torch.Tensor:
    """The D x D cross-correlation of two views' embeddings over the global batch."""
    count = global_count(z_a.shape[0])
    z_a_norm, z_b_norm = standardize(z_a, count, eps), standardize(z_b, count, eps)
    return all_reduce_sum(z_a_norm.T @ z_b_norm) / count


def barlow_twins_loss(z_a: torch.Tensor, z_b: torch.Tensor, lambd: float = LAMBDA, eps: float = 1e-5) -> torch.Tensor:
    """sum_i (1 - C_ii)^2 + lambda * sum_i sum_{j != i} C_ij^2 for embeddings (N, D) of two views.

    Always in float32, also under autocast: in bfloat16 (8 bits of mantissa) each C_ij would be
    off by about 0.4% of the largest products, as much as the small off-diagonal correlations
    this loss pushes to zero."""
    with torch.autocast(z_a.device.type, enabled=False):
        c = cross_correlation(z_a.float(), z_b.float(), eps)
        on_diag = (torch.diagonal(c) - 1).pow(2).sum()   # invariance: views of one image agree
        off_diag = off_diagonal(c).pow(2).sum()          # redundancy reduction: dimensions decorrelate
    return on_diag + lambd * off_diag


def projector(in_dim: int, sizes: Sequence[int]) -> nn.Sequential:
    """The paper's projector: (Linear, BatchNorm, ReLU) for every hidden size, then a Linear."""
    dims = [in_dim, *sizes]
    layers: list[nn.Module] = []
    for a, b in zip(dims[:-2], dims[1:-1]):
        layers += [nn.Linear(a, b, bias=False), nn.BatchNorm1d(b), nn.ReLU(inplace=True)]
    layers.append(nn.Linear(dims[-2], dims[-1], bias=False))
    return nn.Sequential(*layers)


class BarlowTwins(nn.Module):
    """Encoder + projector; ``forward(view_a, view_b)`` returns the loss (as the authors' module does).

    Both views go through the network separately, so each batch-norm layer sees the
    statistics of one view, as in the paper.
    """

    def __init__(self, encoder: nn.Module, projector_sizes: Sequence[int], lambd: float = LAMBDA):
        super().__init__()
        self.encoder = encoder
        self.projector = projector(encoder.feature_dim, projector_sizes)
        self.lambd = lambd

    def forward(self, view_a: torch.Tensor, view_b: torch.Tensor) -> torch.Tensor:
        z_a = self.projector(self.encoder(view_a))
        z_b = self.projector(self.encoder(view_b))
        return barlow_twins_loss(z_a, z_b, self.lambd)


class JointObjective(nn.Module):
    """Semi-supervised training in one objective: cross-entropy on a labelled batch plus
    ``weight`` times the Barlow Twins loss (divided by the projector width D, so that
    ``weight`` means the same for any D) on an unlabelled batch, through one encoder.

    ``forward`` returns both terms so they can be logged apart.
    """

    def __init__(self, encoder: nn.Module, projector_sizes: Sequence[int], n_classes: int,
                 lambd: float = LAMBDA, weight: float = 1.0):
        super().__init__()
        self.twins = BarlowTwins(encoder, projector_sizes, lambd)
        self.head = nn.Linear(encoder.feature_dim, n_classes)
        self.weight = weight
        self.dim = projector_sizes[-1]

    @property
    def encoder(self) -> nn.Module:
        return self.twins.encoder

    def forward(self, x: torch.Tensor, y: torch.Tensor, view_a: torch.Tensor, view_b: torch.Tensor):
        ce = nn.functional.cross_entropy(self.head(self.encoder(x)), y)
        bt = self.twins(view_a, view_b)
        return ce + self.weight * bt / self.dim, ce.detach(), bt.detach()


def pretrain_step(model: nn.Module, optimizer: torch.optim.Optimizer, images_u8: torch.Tensor,
                  views: tuple[ViewParams, ViewParams], generator: torch.Generator, amp: bool) -> torch.Tensor:
    """One Barlow Twins step on a batch of uint8 images already on the device: both views made
    batched there, forward (bfloat16 autocast where fast), backward, optimiser step. Returns the
    loss, detached (no host sync). ``benchmarks/barlow_throughput.py`` times exactly this."""
    view_a, view_b = two_views(images_u8, views, images_u8.shape[-1], generator)
    with autocast(images_u8.device, amp):
        loss = model(view_a, view_b)
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    optimizer.step()
    return loss.detach()
