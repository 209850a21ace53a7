"""Recipe `barlow` (assignment 003, section 2.2): Barlow Twins on STL-10, with everything around it.

Per random seed: a supervised baseline, Barlow Twins pre-training on the unlabelled split with
snapshots of the representation, a linear probe, and two semi-supervised classifiers, each for
several labelled fractions (class-balanced and nested: the 5% subset lies inside the 25% one).

Each step of the assignment, and where it is done:
1. supervised baseline, labelled split only (pad-crop-flip) .. train.train_classifier ("supervised")
2. Barlow Twins pre-training on the unlabelled split ......... train.pretrain
   the loss, encoder + projector ............................. sslab.vision.barlow
   the paper's two views, batched on the device .............. sslab.vision.ssl_augment.barlow_views
   LARS or AdamW, warm-up + cosine ........................... sslab.train.optim
3. snapshots: weighted kNN accuracy, t-SNE maps (first seed) . train.snapshot, sslab.vision.evaluate
   the maps in one colour key, rotated onto each other ....... report.draw_tsne, sslab.report.embedding_maps
4. linear probe on the frozen encoder (L-BFGS) ............... sslab.vision.evaluate.linear_probe (train.run_seed)
5. pre-train then fine-tune .................................. train.train_classifier ("fine-tune")
   joint objective (cross-entropy + weighted Barlow Twins) ... train.train_joint
6. one table of 1, 4 and 5 (mean and 95% CI over seeds) ...... report.summarize, report.report
7. 1, 4 and 5 for several labelled fractions ................. train.fraction_subsets, report.summarize
Data: train.load_data, sslab.data.semi_supervised. Options and presets: config.Config, config.PRESETS.
"""

from __future__ import annotations

from pathlib import Path

from sslab.data import cifar10, stl10
from sslab.recipes import Recipe
from sslab.recipes.barlow.config import PRESETS, Config
from sslab.recipes.barlow.report import report, summarize
from sslab.recipes.barlow.train import load_data, run_seed


def locate_data(root: Path) -> Path | None:
    """STL-10, else CIFAR-10 / image folders, under ``root``, for `sslab run all --data ROOT`."""
    return stl10.find_root(root) or cifar10.locate(root)


RECIPE = Recipe(
    name="barlow",
    title="Barlow Twins, linear probe and semi-supervised learning",
    seed_problem="003 2.2",
    Config=Config,
    presets=PRESETS,
    load_data=load_data,
    run_seed=run_seed,
    summarize=summarize,
    report=report,
    locate_data=locate_data,
    description="Barlow Twins pre-training, t-SNE over training, linear probe, fine-tuning and a joint objective, "
                "label-ratio study",
)
