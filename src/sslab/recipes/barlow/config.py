"""Options of `barlow`. Defaults are the `quick` preset (CPU-sized, made-up textures); `paper` is
STL-10 with the Barlow Twins paper's hyper-parameters."""

from __future__ import annotations

from dataclasses import dataclass

from sslab.config import param
from sslab.errors import UserError
from sslab.recipes import RecipeConfig
from sslab.vision.barlow import LAMBDA
from sslab.vision.resnet import ENCODERS

# The classifiers compared in steps 1, 4 and 5 (the keys of every result record's "method").
METHODS = ("supervised", "linear probe", "fine-tune", "joint")


@dataclass
class Config(RecipeConfig):
    # The encoder and the data it sees.
    encoder: str = param("convnet", "encoder: resnet18 (adapted to small images) or convnet (small, for CPUs)", choices=ENCODERS)
    width: int = param(16, "channels of the first stage (64 is the standard ResNet-18)", min=4, max=512)
    stem: str = param("small", "ResNet stem: small (3x3 stride 1, no pooling) or imagenet (7x7/2 + max-pool)",
                      choices=("small", "imagenet"))
    image_size: int = param(0, "resize every image to this side once at load (0: keep the data set's size)", min=0, max=512)
    unlabeled_subset: int = param(20_000, "use a seeded subset of this many unlabelled images (0: all)", min=0)
    labeled_per_class: int = param(500, "CIFAR-10/image folders/made-up data: labelled training images per class "
                                   "(STL-10's is 500); the rest of the training split becomes unlabelled", min=1)
    synthetic_labeled_per_class: int = param(100, "made-up data: labelled training images per class", min=1)
    synthetic_unlabeled: int = param(3000, "made-up data: unlabelled images", min=16)
    synthetic_test: int = param(1000, "made-up data: test images", min=10)
    synthetic_image_size: int = param(16, "made-up data: image side (textures are drawn at 32 px; smaller trains faster)",
                                      min=8, max=32)
    # Barlow Twins pre-training.
    projector: tuple[int, ...] = param((512, 512, 512), "projector layer sizes (the paper: 8192-8192-8192)", min=8)
    lambd: float = param(0.02, "weight of the off-diagonal term (the paper: 0.0051 with its 8192-wide projector; "
                         "0.02 suits the default 512-wide one better, measured on CIFAR-10 and made-up data)",
                         min=0.0, max=10.0)
    pretrain_epochs: int = param(12, "Barlow Twins epochs over the unlabelled images", min=1, max=10_000)
    batch_size: int = param(256, "global batch of unlabelled images (split over processes under torchrun)", min=2)
    optimizer: str = param("adamw", "pre-training optimiser: lars (the paper's, made for long schedules: each step "
                           "moves a layer by about lr x 0.001 of its norm) or adamw (learns in short runs)",
                           choices=("lars", "adamw"))
    adamw_lr: float = param(5e-3, "AdamW learning rate (batch 256)", min=0.0, max=10.0)
    adamw_weight_decay: float = param(1e-4, "AdamW weight decay (not on biases and batch norm)", min=0.0, max=10.0)
    lr_weights: float = param(0.2, "LARS rate for weights per 256 images (the paper: 0.2)", min=0.0, max=100.0)
    lr_biases: float = param(0.0048, "LARS rate for biases and batch norm per 256 images (the paper: 0.0048)", min=0.0, max=100.0)
    weight_decay: float = param(1.5e-6, "LARS weight decay (the paper: 1.5e-6)", min=0.0, max=1.0)
    warmup_epochs: int = param(2, "linear warm-up epochs before the cosine decay (the paper: 10)", min=0)
    crop_min_scale: float = param(0.2, "smallest crop area of the random resized crop (the paper: 0.08 on 224-px images)",
                                  min=0.01, max=1.0)
    # Snapshots of the representation.
    snapshots: int = param(5, "kNN/t-SNE snapshots during pre-training, including before it starts", min=2, max=100)
    tsne_points: int = param(600, "test images in each t-SNE map (class-balanced)", min=20, max=20_000)
    knn_k: int = param(20, "neighbours of the weighted kNN monitor", min=1, max=1000)
    # Classifiers.
    fractions: tuple[float, ...] = param((0.05, 0.2, 1.0), "labelled fractions for the label-ratio study", min=0.0001, max=1.0)
    supervised_epochs: int = param(12, "classifier training, in epochs of the full labelled split (every fraction "
                                   "trains this many steps)", min=1, max=10_000)
    finetune_epochs: int = param(12, "fine-tuning, in epochs of the full labelled split (as many as supervised, "
                                 "so the comparison is fair)", min=1, max=10_000)
    joint_epochs: int = param(5, "joint objective, in epochs over the unlabelled images", min=1, max=10_000)
    joint_weight: float = param(1.0, "weight of the Barlow Twins term (divided by the projector width) in the joint loss",
                                min=0.0, max=1000.0)
    classifier_batch: int = param(128, "global batch of labelled images", min=2)
    lr_supervised: float = param(0.05, "SGD rate (momentum 0.9, cosine) for classifiers trained from scratch and heads",
                                 min=0.0, max=10.0)
    lr_finetune: float = param(0.05, "SGD rate for the pre-trained encoder while fine-tuning (0.01 fell 9 points "
                               "behind 0.05 on CIFAR-10 with all labels)", min=0.0, max=10.0)
    weight_decay_supervised: float = param(5e-4, "SGD weight decay for classifiers", min=0.0, max=1.0)
    probe_l2: float = param(1e-3, "L2 weight of the linear probe (on standardised features)", min=0.0, max=100.0)
    amp: bool = param(True, "bfloat16 autocast on GPUs and on CPUs with native bfloat16 instructions "
                      "(AVX512-BF16 or AMX); ignored elsewhere")
    checkpoint_every: int = param(1, "epochs between resume checkpoints of each training loop", min=1)

    def validate(self) -> None:
        if not self.projector:
            raise UserError("projector: give at least one layer size, e.g. projector=2048,2048,2048")
        if self.warmup_epochs >= self.pretrain_epochs and self.warmup_epochs > 0:
            raise UserError(f"warmup_epochs={self.warmup_epochs} must be smaller than pretrain_epochs={self.pretrain_epochs}")


PRESETS = {
    "smoke": {"width": 8, "projector": (64, 64), "synthetic_unlabeled": 256, "synthetic_test": 100, "synthetic_labeled_per_class": 12,
              "synthetic_image_size": 12, "pretrain_epochs": 2, "warmup_epochs": 0, "batch_size": 64, "snapshots": 2,
              "tsne_points": 60, "fractions": (0.5, 1.0), "supervised_epochs": 2, "finetune_epochs": 1,
              "joint_epochs": 1, "classifier_batch": 32, "knn_k": 5},
    "quick": {},
    # STL-10 (the seed's data set), the whole unlabelled split, ResNet-18, the Barlow Twins
    # paper's hyper-parameters (projector, lambda, LARS, warm-up, crop scale; its LARS rates
    # 0.2 / 0.0048 per 256 images and weight decay 1.5e-6 are already the defaults above).
    "paper": {
        "encoder": "resnet18", "width": 64, "unlabeled_subset": 0,
        "projector": (8192, 8192, 8192), "lambd": LAMBDA, "optimizer": "lars",
        "batch_size": 512, "pretrain_epochs": 500, "warmup_epochs": 10, "crop_min_scale": 0.08,
        "snapshots": 11, "tsne_points": 2000, "knn_k": 200,
        "fractions": (0.01, 0.05, 0.1, 0.25, 1.0),
        "supervised_epochs": 100, "finetune_epochs": 100, "joint_epochs": 100,
        "checkpoint_every": 5, "seeds": 3,
    },
}
