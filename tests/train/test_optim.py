"""LARS against its update rule, the parameter groups and the warm-up + cosine schedule, SGD, the
pre-training optimisers and the fixed-step epoch plan."""

from __future__ import annotations

import math

import pytest
import torch

from sslab.train import optim
from sslab.vision.barlow import BarlowTwins
from sslab.vision.resnet import ConvNet


def test_lars_scales_weight_updates_by_the_trust_ratio():
    w = torch.nn.Parameter(torch.full((2, 2), 3.0))
    b = torch.nn.Parameter(torch.full((2,), 1.0))
    w.grad, b.grad = torch.full((2, 2), 0.5), torch.full((2,), 0.5)
    opt = optim.LARS([{"params": [w], "lars": True, "weight_decay": 0.1},
                       {"params": [b], "lars": False, "weight_decay": 0.0}], lr=0.2, momentum=0.9, eta=0.001)
    opt.step()
    dp = 0.5 + 0.1 * 3.0                               # gradient plus weight decay
    q = 0.001 * math.sqrt(4 * 9.0) / math.sqrt(4 * dp * dp)  # eta * ||w|| / ||dp||
    assert w.detach()[0, 0].item() == pytest.approx(3.0 - 0.2 * q * dp, rel=1e-6)
    assert b.detach()[0].item() == pytest.approx(1.0 - 0.2 * 0.5, rel=1e-6)  # plain SGD step, no decay
    opt.step()  # momentum: the second step adds 0.9 x the first
    assert b.detach()[0].item() == pytest.approx(1.0 - 0.2 * 0.5 - 0.2 * (0.9 * 0.5 + 0.5), rel=1e-6)


def test_lars_param_groups_and_schedule():
    model = BarlowTwins(ConvNet(width=4), (8, 8))
    groups = optim.lars_param_groups(model, 0.2, 0.0048, 1.5e-6)
    assert all(p.ndim > 1 for p in groups[0]["params"]) and all(p.ndim == 1 for p in groups[1]["params"])
    assert len(groups[0]["params"]) + len(groups[1]["params"]) == len(list(model.parameters()))
    opt = optim.LARS(groups, lr=0.2)
    optim.set_lr(opt, 0.5)
    assert opt.param_groups[0]["lr"] == pytest.approx(0.1) and opt.param_groups[1]["lr"] == pytest.approx(0.0024)
    f = [optim.warmup_cosine(s, 100, 10) for s in range(101)]
    assert f[0] == 0 and f[5] == pytest.approx(0.5) and f[10] == pytest.approx(1.0)
    assert f[100] == pytest.approx(0.001) and all(a >= b for a, b in zip(f[10:], f[11:]))


def test_epoch_batches_are_whole_shuffled_passes():
    plan = optim.epoch_batches(10, 4, 5, seed=3)     # 20 indices: two full passes over 10 items
    assert plan.shape == (5, 4)
    flat = plan.flatten()
    assert sorted(flat[:10].tolist()) == list(range(10)) and sorted(flat[10:].tolist()) == list(range(10))
    assert torch.equal(plan, optim.epoch_batches(10, 4, 5, seed=3))


def test_sgd_remembers_each_group_rate_for_the_schedule():
    a, b = torch.nn.Parameter(torch.ones(2)), torch.nn.Parameter(torch.ones(2))
    opt = optim.sgd([{"params": [a], "lr": 0.1}, {"params": [b], "lr": 0.01}], weight_decay=5e-4)
    optim.set_lr(opt, 0.5)
    assert [g["lr"] for g in opt.param_groups] == pytest.approx([0.05, 0.005])
    assert opt.defaults["nesterov"] and opt.defaults["momentum"] == 0.9


def test_ssl_optimizer_scales_rates_by_batch_and_spares_biases_from_decay():
    model = BarlowTwins(ConvNet(width=4), (8, 8))
    rates = dict(lr_weights=0.2, lr_biases=0.0048, weight_decay=1.5e-6, adamw_lr=5e-3, adamw_weight_decay=1e-4)
    lars = optim.ssl_optimizer(model, "lars", 512, **rates)
    assert isinstance(lars, optim.LARS)
    assert [g["base_lr"] for g in lars.param_groups] == pytest.approx([0.4, 0.0096])
    adamw = optim.ssl_optimizer(model, "adamw", 128, **rates)
    assert isinstance(adamw, torch.optim.AdamW)
    assert [g["lr"] for g in adamw.param_groups] == pytest.approx([2.5e-3, 2.5e-3])
    assert [g["weight_decay"] for g in adamw.param_groups] == [1e-4, 0.0]
    assert all(p.ndim <= 1 for p in adamw.param_groups[1]["params"])
