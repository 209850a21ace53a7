"""Seeding and device choice, in one place so every recipe does it the same way."""

from __future__ import annotations

import os
import random

import numpy as np
import torch

from sslab.errors import UserError


def seed_everything(seed: int) -> torch.Generator:
    """Seed Python, NumPy and torch; return a torch generator for data order."""
    random.seed(seed)
    np.random.seed(seed % (2**32))
    torch.manual_seed(seed)
    gen = torch.Generator()
    gen.manual_seed(seed)
    return gen


def resolve_device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name == "cuda" and not torch.cuda.is_available():
        raise UserError("--device cuda was asked for but no CUDA GPU is visible; use --device cpu or auto")
    if name not in ("cpu", "cuda"):
        raise UserError(f"--device {name}: choose auto, cpu or cuda")
    return torch.device(name)


def configure_threads() -> None:
    """Use every core for intra-op work unless the user set OMP_NUM_THREADS."""
    if "OMP_NUM_THREADS" not in os.environ:
        torch.set_num_threads(max(1, os.cpu_count() or 1))


def phase_seed(seed: int, phase: str) -> int:
    """A seed for one phase of a run, stable across processes (no hash randomisation).

    Each phase (model init, a training arm, a t-SNE) seeds itself from the run seed and
    its name, so a resumed run that skips finished phases draws the same numbers.
    """
    import zlib

    return (seed * 1_000_003 + zlib.crc32(phase.encode())) % (2**31 - 1)
