"""Optimisers and schedules shared by the recipes: LARS, the warm-up + cosine schedule, SGD with
a remembered base rate, and the index plan of fixed-step epochs."""

from __future__ import annotations

import math

import torch
from torch import nn


class LARS(torch.optim.Optimizer):
    """Layer-wise adaptive rate scaling (You et al., 2017) as the Barlow Twins code uses it.

    For a parameter group with ``lars=True`` the update of each tensor is rescaled by
    ``eta * ||w|| / ||g + wd * w||`` before momentum; the paper leaves biases and
    batch-norm parameters out of both the weight decay and the rescaling (put them in a
    group with ``lars=False, weight_decay=0``; see :func:`lars_param_groups`).
    """

    def __init__(self, params, lr: float, weight_decay: float = 0.0, momentum: float = 0.9, eta: float = 0.001,
                 lars: bool = True):
        super().__init__(params, dict(lr=lr, weight_decay=weight_decay, momentum=momentum, eta=eta, lars=lars))

    @torch.no_grad()
    def step(self, closure=None):  # type: ignore[override]
        for group in self.param_groups:
            for p in group["params"]:
                if p.grad is None:
                    continue
                dp = p.grad
                if group["weight_decay"]:
                    dp = dp.add(p, alpha=group["weight_decay"])
                if group["lars"]:
                    param_norm, update_norm = torch.norm(p), torch.norm(dp)
                    one = torch.ones_like(param_norm)
                    q = torch.where(param_norm > 0.0,
                                    torch.where(update_norm > 0, group["eta"] * param_norm / update_norm, one), one)
                    dp = dp.mul(q)
                state = self.state[p]
                if "mu" not in state:
                    state["mu"] = torch.zeros_like(p)
                mu = state["mu"]
                mu.mul_(group["momentum"]).add_(dp)
                p.add_(mu, alpha=-group["lr"])


def lars_param_groups(model: nn.Module, lr_weights: float, lr_biases: float, weight_decay: float) -> list[dict]:
    """Two groups as in the paper: weights (decay + LARS) and biases/norm parameters (neither).

    Each group remembers its ``base_lr`` so a schedule can scale both by one factor.
    """
    weights = [p for p in model.parameters() if p.ndim > 1]
    others = [p for p in model.parameters() if p.ndim <= 1]
    return [
        {"params": weights, "lr": lr_weights, "base_lr": lr_weights, "weight_decay": weight_decay, "lars": True},
        {"params": others, "lr": lr_biases, "base_lr": lr_biases, "weight_decay": 0.0, "lars": False},
    ]


def ssl_optimizer(model: nn.Module, kind: str, batch_size: int, *, lr_weights: float, lr_biases: float,
                  weight_decay: float, adamw_lr: float, adamw_weight_decay: float) -> torch.optim.Optimizer:
    """A self-supervised pre-training optimiser with rates given per 256 images and scaled by
    ``batch_size / 256`` (the Barlow Twins paper's rule): ``kind`` "lars" (the paper's; rates for
    weights and for biases/norms, ``weight_decay``) or "adamw". Biases and batch-norm
    parameters get no weight decay either way; each group keeps ``base_lr`` for :func:`set_lr`."""
    scale = batch_size / 256
    if kind == "lars":
        groups = lars_param_groups(model, lr_weights * scale, lr_biases * scale, weight_decay)
        return LARS(groups, lr=lr_weights * scale)
    lr = adamw_lr * scale
    groups = [{"params": [p for p in model.parameters() if p.ndim > 1], "weight_decay": adamw_weight_decay},
              {"params": [p for p in model.parameters() if p.ndim <= 1], "weight_decay": 0.0}]
    for g in groups:
        g["lr"] = g["base_lr"] = lr
    return torch.optim.AdamW(groups, lr=lr)


def warmup_cosine(step: int, total_steps: int, warmup_steps: int, end_factor: float = 0.001) -> float:
    """The paper's schedule as a factor of the base rate: linear warm-up, then cosine to ``end_factor``."""
    if step < warmup_steps:
        return step / max(warmup_steps, 1)
    span = max(total_steps - warmup_steps, 1)
    q = 0.5 * (1 + math.cos(math.pi * min(step - warmup_steps, span) / span))
    return q + end_factor * (1 - q)


def set_lr(optimizer: torch.optim.Optimizer, factor: float) -> None:
    for group in optimizer.param_groups:
        group["lr"] = group.get("base_lr", group["lr"]) * factor


def sgd(groups: list[dict], weight_decay: float, momentum: float = 0.9) -> torch.optim.SGD:
    """Nesterov SGD over ``groups`` (each with its own ``lr``), remembering each ``base_lr`` for
    :func:`set_lr`."""
    for g in groups:
        g["base_lr"] = g["lr"]
    return torch.optim.SGD(groups, lr=groups[0]["lr"], momentum=momentum, nesterov=True, weight_decay=weight_decay)


def epoch_batches(n: int, batch: int, steps: int, seed: int) -> torch.Tensor:
    """(steps, batch) indices into ``n`` items: shuffled passes laid end to end."""
    gen = torch.Generator().manual_seed(seed)
    passes = math.ceil(steps * batch / n)
    order = torch.cat([torch.randperm(n, generator=gen) for _ in range(passes)])
    return order[: steps * batch].view(steps, batch)
