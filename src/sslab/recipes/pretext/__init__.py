"""Recipe `pretext` (assignment 000, Problem 2): self-supervised pretext features for 500 labels.

Labeled set: 500 CIFAR-10 training images (the seed takes the last 500). Unlabeled set:
the other 49,500, labels ignored, each in three versions (original, upside down,
rotated 90 degrees counter-clockwise) whose made-up label is the version: 148,500
examples. The seed's small CNN (as in the augment recipe: He init, Adam 1e-3) learns
that 3-way task for about 100 epochs and is saved. Then two networks learn the real
10-class task on the 500 labeled images only, full batch, 10,000 epochs, with the test
accuracy every 100th epoch: one from scratch, one whose every layer but the last is
loaded from the pretext network (those layers at 1e-5, the new He-initialised last
layer at 1e-3). The two test-accuracy curves are overlaid.

Each step of the assignment, and where it is done:
1. load CIFAR-10, take 500 labeled images, the rest unlabeled  train.load_data, train.split
2. three versions of each unlabeled image, labelled by version  sslab.vision.pretext.apply_pretext
3. train the small CNN on that 3-way task, save it ........... train.train_pretext (sslab.vision.pretext.pretext_epoch)
4. train from scratch on the 500 labels, test every 100th .... train.train_labeled (arm "baseline")
5. load all but the last layer, two learning rates ........... train.transferred_model, train.transfer_optimizer
6. train it on the 500 labels, test every 100th epoch ........ train.train_labeled (arm "transfer")
7. overlay the test curves, judge the claim, overfitting ..... report.summarize, report.overfitting
Options and presets: config.Config, config.PRESETS.
"""

from __future__ import annotations

from pathlib import Path

from sslab.data import cifar10
from sslab.recipes import Recipe
from sslab.recipes.pretext.config import ARMS, PRESETS, Config
from sslab.recipes.pretext.report import report, summarize
from sslab.recipes.pretext.train import load_data, parts, run_seed


def locate_data(root: Path) -> Path | None:
    """CIFAR-10 (python batches or image folders) under ``root``, for `sslab run all --data ROOT`."""
    return cifar10.locate(root)


RECIPE = Recipe(
    name="pretext",
    title="Self-supervised pretext task (flip/rotation prediction)",
    seed_problem="000 P2",
    Config=Config,
    presets=PRESETS,
    load_data=load_data,
    run_seed=run_seed,
    summarize=summarize,
    report=report,
    locate_data=locate_data,
    parts=parts,
    phase_order=("pretext", *ARMS),
    description="flip/rotation pretext, transfer to 500 labels vs from scratch, overlaid test curves",
)
