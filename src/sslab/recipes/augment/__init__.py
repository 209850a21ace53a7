"""Recipe `augment` (assignment 000, Problem 1): does a 4x augmented training set help a small CNN?

Baseline: the assignment's small CNN trained on 45,000 CIFAR-10 images, 5,000 held out for
validation. Augmented: the same network trained on the 180,000-image set made of every
training image in four versions (original, brightened x1.1 clipped at 1, darkened x0.9,
flipped left-right), all built in [0, 1] and fed to the network in [-1, 1]. Both are
validated after every epoch and the curves are overlaid.

Each step of the assignment, and where it is done:
1. load CIFAR-10, hold out 5,000 training images ........ train.load_data, train.split
2. the small CNN (2 conv 5x5x10 + pool, FC 250-20-10) .... sslab.vision.models.SmallCNN
3. train the baseline, validate every epoch .............. train.run_seed (arm "baseline")
4. build the 4x set (brighter, darker, flipped, original)  sslab.vision.augment.apply_versions
5. train on it, validate every epoch ...................... train.run_seed (arm "augmented")
6. overlay the validation curves, judge the claim ......... report.summarize
Options and presets: config.Config, config.PRESETS.
"""

from __future__ import annotations

from pathlib import Path

from sslab.data import cifar10
from sslab.recipes import Recipe
from sslab.recipes.augment.config import ARMS, PRESETS, Config
from sslab.recipes.augment.report import report, summarize
from sslab.recipes.augment.train import load_data, parts, run_seed


def locate_data(root: Path) -> Path | None:
    """CIFAR-10 (python batches or image folders) under ``root``, for `sslab run all --data ROOT`."""
    return cifar10.locate(root)


RECIPE = Recipe(
    name="augment",
    title="Data augmentation for a small image classifier",
    seed_problem="000 P1",
    Config=Config,
    presets=PRESETS,
    load_data=load_data,
    run_seed=run_seed,
    summarize=summarize,
    report=report,
    locate_data=locate_data,
    parts=parts,
    phase_order=ARMS,
    description="small CNN, baseline vs 4x augmented set, overlaid validation curves",
)
