"""Options of `augment`. Defaults are the `quick` preset; `paper` is the assignment's P1 as written."""

from __future__ import annotations

from dataclasses import dataclass

from sslab.config import param
from sslab.recipes import RecipeConfig

ARMS = ("baseline", "augmented")


@dataclass
class Config(RecipeConfig):
    epochs: int = param(30, "epochs for each arm (the seed ran 200)", min=1, max=100_000)
    batch_size: int = param(32, "mini-batch size (the seed leaves it open; 32 is Keras' default)", min=1, max=65_536)
    lr: float = param(1e-3, "Adam learning rate (the seed: the default 1e-3)", min=0.0, max=10.0)
    val_size: int = param(500, "training images set aside for validation (the seed: 5,000)", min=1)
    train_size: int = param(0, "use only this many of the remaining training images (0: all)", min=0)
    brighten: float = param(1.1, "brightening factor, clipped at 1 (the seed: 1.1)", min=1.0, max=4.0)
    darken: float = param(0.9, "darkening factor (the seed: 0.9)", min=0.0, max=1.0)
    synthetic_size: int = param(2000, "images sslab makes when no --data is given (train + validation)", min=20)


PRESETS = {
    "smoke": {"epochs": 2, "val_size": 100, "synthetic_size": 600, "batch_size": 64},
    "quick": {"seeds": 2},  # two seeds, so even the demo shows a confidence interval
    # The seed: 5,000 of 50,000 for validation, Adam 1e-3, 200 epochs each arm.
    "paper": {"epochs": 200, "val_size": 5000, "synthetic_size": 50_000, "seeds": 3},
}
