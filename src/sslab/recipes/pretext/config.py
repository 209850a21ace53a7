"""Options of `pretext`. Defaults are the `quick` preset; `paper` is the assignment's P2 as written."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from sslab.config import param
from sslab.errors import UserError
from sslab.recipes import RecipeConfig
from sslab.vision.pretext import TASKS

ARMS = ("baseline", "transfer")
ARM_NAMES = {"baseline": "from scratch", "transfer": "transferred"}
LAST_LAYER = "fc2."  # SmallCNN's output layer: the one layer the transfer does not copy
FINETUNE_MODES = ("two-rates", "one-rate", "freeze")


@dataclass
class Config(RecipeConfig):
    labeled_size: int = param(200, "labeled training images for the 10-class task (the seed: 500)", min=1)
    labeled_selection: str = param(
        "stratified", "which images are labeled: the last labeled_size of the training set (the seed), the last "
        "labeled_size/classes of each class, or auto: last where the training order mixes the classes (the "
        "official batches), stratified where it is grouped by class (an image folder)",
        choices=("last", "stratified", "auto"))
    unlabeled_size: int = param(0, "use only this many of the other training images for the pretext task (0: all)",
                                min=0)
    pretext_task: str = param("flip-rotate", "flip-rotate: the seed's 3 classes (original, upside down, 90° ccw); "
                              "rotnet: the 4 rotations 0/90/180/270", choices=tuple(TASKS))
    pretext_epochs: int = param(4, "epochs of the pretext task (the seed: about 100)", min=1, max=100_000)
    pretext_batch_size: int = param(128, "pretext mini-batch size (the seed leaves it open)", min=1, max=65_536)
    pretext_lr: float = param(1e-3, "Adam learning rate of the pretext task (the seed: 1e-3)", min=0.0, max=10.0)
    pretext_model: str = param("", "use this pretext model file (pretext-model.safetensors of an earlier run) "
                               "instead of training one")
    epochs: int = param(240, "epochs of the baseline and of the transfer (the seed: 10,000)", min=1,
                        max=1_000_000)
    eval_every: int = param(20, "test accuracy (and a checkpoint) every this many epochs (the seed: 100)", min=1)
    batch_size: int = param(0, "mini-batch size on the labeled set (0: full batch, as the seed allows)", min=0,
                            max=65_536)
    lr: float = param(1e-3, "Adam learning rate from scratch and of the new last layer (the seed: 1e-3)",
                      min=0.0, max=10.0)
    transfer_lr: float = param(1e-5, "learning rate of the transferred layers (the seed: 1e-5 or 1e-6)",
                               min=0.0, max=10.0)
    finetune: str = param("two-rates", "two-rates: transferred layers at transfer_lr, new layer at lr (the seed); "
                          "one-rate: every layer at finetune_lr; freeze: only the new layer learns, at lr",
                          choices=FINETUNE_MODES)
    finetune_lr: float = param(1e-4, "the single learning rate of finetune=one-rate", min=0.0, max=10.0)
    synthetic_size: int = param(2200, "training images sslab makes when no --data is given (labeled + unlabeled)",
                                min=20)
    synthetic_test_size: int = param(1000, "test images sslab makes when no --data is given", min=10)

    def validate(self) -> None:
        if self.pretext_model and not Path(self.pretext_model).is_file():
            raise UserError(f"pretext_model={self.pretext_model}: no such file; pass the "
                            "checkpoints/seedN-pretext-model.safetensors an earlier `sslab run pretext` wrote")


PRESETS = {
    "smoke": {"synthetic_size": 400, "synthetic_test_size": 200, "labeled_size": 100, "pretext_epochs": 2,
              "epochs": 40, "eval_every": 10},
    "quick": {},
    # The seed: the last 500 training images labeled (of the official batches, whose order mixes the classes:
    # on a class-grouped image folder `auto` takes the last 50 of each class instead), the other 49,500 in 3 versions, ~100 pretext
    # epochs, then 10,000 full-batch epochs from scratch and transferred, test accuracy every 100th.
    # The seed leaves the pretext batch open (128 here). One seed took about 2 h of a core for the pretext
    # epochs and 41 min for both labeled arms as two jobs on a loaded 2-core CPU (README, Results).
    "paper": {"labeled_size": 500, "labeled_selection": "auto", "pretext_epochs": 100, "pretext_batch_size": 128,
              "epochs": 10_000, "eval_every": 100, "synthetic_size": 50_000, "synthetic_test_size": 10_000,
              "seeds": 3},
}
