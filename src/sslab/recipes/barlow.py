"""Recipe `barlow` (seed 003, section 2.2): Barlow Twins on STL-10, with everything around it.

The seven steps of the seed, per random seed:
1. a supervised baseline trained on the labelled split only (standard pad-crop-flip);
2. Barlow Twins pre-training on the unlabelled split: encoder + projector, the
   cross-correlation loss, the paper's augmentations batched on the device, LARS with
   warm-up and cosine decay;
3. snapshots of the representation during pre-training: a weighted kNN accuracy every
   snapshot, and (first seed) t-SNE maps of a fixed labelled subset, all in one colour key;
4. a linear probe on the frozen encoder (L2-regularised softmax regression, L-BFGS);
5. two semi-supervised classifiers: pre-train-then-fine-tune, and one joint objective
   (cross-entropy on labelled batches + weighted Barlow Twins on unlabelled batches);
6. one table of 1, 4 and 5 (mean and 95% CI over seeds);
7. 1, 4 and 5 again for several labelled fractions, one line per method.

Each labelled fraction is a class-balanced subset, nested (the 5% subset lies inside the
25% one), and every classifier trains for the same number of steps whatever the fraction,
so a smaller fraction means more passes over fewer images, not less training.

Under ``torchrun --nproc_per_node K -m sslab run barlow ...`` every loop runs under
DistributedDataParallel: each global batch is split over the K processes, batch norm and
the cross-correlation matrix use the global batch, and only rank 0 writes.
"""

from __future__ import annotations

import copy
import math
import time
from contextlib import nullcontext
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from sslab.config import param
from sslab.data import cifar10, stl10, synthetic_textures
from sslab.data.images import ImageSet
from sslab.errors import UserError
from sslab.recipes import Context, Recipe, RecipeConfig
from sslab.report import figures, stats
from sslab.report.document import Claims, Code, Figure, Math, Section, Slider, Table, Text
from sslab.train import atomic, distributed
from sslab.train.checkpoint import save_model
from sslab.train.rundir import Run
from sslab.train.seeding import phase_seed
from sslab.train.optim import LARS, lars_param_groups, set_lr, warmup_cosine
from sslab.vision.barlow import LAMBDA, BarlowTwins, JointObjective
from sslab.vision.resnet import ENCODERS, build_encoder
from sslab.vision.ssl_augment import ViewParams, barlow_views, pad_crop_flip, to_input, two_views

METHODS = ("supervised", "linear probe", "fine-tune", "joint")
METHOD_TEXT = {
    "supervised": "supervised baseline (labelled images only)",
    "linear probe": "linear probe on the frozen Barlow Twins encoder",
    "fine-tune": "Barlow Twins pre-training, then fine-tuning on the labels",
    "joint": "joint objective: cross-entropy + weighted Barlow Twins",
}


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
    # paper's hyper-parameters (projector, lambda, LARS rates, decay, warm-up, crop scale).
    "paper": {"encoder": "resnet18", "width": 64, "unlabeled_subset": 0, "optimizer": "lars", "projector": (8192, 8192, 8192),
              "lambd": LAMBDA, "pretrain_epochs": 500,
              "batch_size": 512, "warmup_epochs": 10, "crop_min_scale": 0.08, "snapshots": 11, "tsne_points": 2000,
              "fractions": (0.01, 0.05, 0.1, 0.25, 1.0), "supervised_epochs": 100, "finetune_epochs": 100,
              "joint_epochs": 100, "knn_k": 200, "checkpoint_every": 5, "seeds": 3},
}


# ---- data ---------------------------------------------------------------------------
@dataclass
class SemiSupervisedData:
    """Labelled training images, unlabelled images and the test set, uint8 NCHW on the device."""

    labeled: ImageSet
    unlabeled: torch.Tensor
    test: ImageSet
    source: str

    @property
    def classes(self) -> list[str]:
        return list(self.labeled.classes)


def resize_u8(images: torch.Tensor, size: int, chunk: int = 4096) -> torch.Tensor:
    """Antialiased resize of uint8 NCHW images, back to uint8 (done once, at load)."""
    if size == 0 or images.shape[-1] == size and images.shape[-2] == size:
        return images
    out = torch.empty((len(images), images.shape[1], size, size), dtype=torch.uint8)
    for start in range(0, len(images), chunk):
        x = images[start:start + chunk].float()
        y = F.interpolate(x, size=(size, size), mode="bilinear", antialias=True, align_corners=False)
        out[start:start + chunk] = y.round().clamp(0, 255).to(torch.uint8)
    return out


def split_labeled(pool: ImageSet, per_class: int, seed: int) -> tuple[ImageSet, torch.Tensor]:
    """A class-balanced labelled set of ``per_class`` images per class; the rest, unlabelled."""
    gen = torch.Generator().manual_seed(seed)
    order = torch.randperm(len(pool), generator=gen)
    keep = torch.zeros(len(pool), dtype=torch.bool)
    for c in range(len(pool.classes)):
        members = order[pool.labels[order] == c]
        if len(members) < per_class:
            raise UserError(f"labeled_per_class={per_class}, but class {pool.classes[c]!r} has only {len(members)} "
                            f"training images; lower labeled_per_class")
        keep[members[:per_class]] = True
    labeled = pool.subset(torch.nonzero(keep)[:, 0])
    return labeled, pool.images[~keep]


def _read_unlabeled_folder(folder: Path) -> torch.Tensor:
    files = sorted(p for p in folder.rglob("*") if p.suffix.lower() in cifar10.IMAGE_SUFFIXES)
    if not files:
        raise UserError(f"{folder}: no images (.png/.jpg) in the unlabelled folder; add some or remove the folder")
    arrays = [cifar10._read_image(f, None) for f in files]
    if len({a.shape for a in arrays}) > 1:
        raise UserError(f"{folder}: unlabelled images have different sizes; resize them to one size first")
    return torch.from_numpy(np.stack(arrays)).permute(0, 3, 1, 2).contiguous()


def load_data(cfg: Config, data_dir: Path | None, device: torch.device) -> SemiSupervisedData:
    """STL-10, CIFAR-10 (either layout), image folders, or made-up textures, checked before the run starts."""
    if data_dir is None:
        labeled = synthetic_textures.make_images(cfg.synthetic_labeled_per_class * len(synthetic_textures.CLASSES),
                                                 seed=2201)
        unlabeled = synthetic_textures.make_images(cfg.synthetic_unlabeled, seed=2202).images
        test = synthetic_textures.make_images(cfg.synthetic_test, seed=2203)
        side = cfg.image_size or cfg.synthetic_image_size
        labeled = ImageSet(resize_u8(labeled.images, side), labeled.labels, labeled.classes)
        test = ImageSet(resize_u8(test.images, side), test.labels, test.classes)
        unlabeled = resize_u8(unlabeled, side)
        source = "made-up textures (sslab's synthetic 10-class texture set)"
    elif stl10.find_root(data_dir) is not None:
        data = stl10.load_stl10(data_dir, cfg.unlabeled_subset, seed=cfg.seed)
        labeled, unlabeled, test = data.train, data.unlabeled, data.test
        if cfg.labeled_per_class < 500:
            labeled, _ = split_labeled(labeled, cfg.labeled_per_class, seed=cfg.seed)
        source = f"STL-10 ({stl10.find_root(data_dir)})"
    else:
        found = cifar10.find_root(data_dir)
        if found is None:
            raise UserError(f"{data_dir}: neither STL-10 (stl10_binary/train_X.bin ...) nor CIFAR-10 / image folders "
                            "(train/<class>/, test/<class>/) here; get STL-10 with `sslab data download stl10 --root DIR`")
        layout, root = found
        if layout == "python":
            pool, test = cifar10.read_python_layout(root)
        else:
            pool = cifar10.read_image_folder(root / "train", size=None)
            test = cifar10.read_image_folder(root / "test", classes=tuple(pool.classes), size=None)
        labeled, unlabeled = split_labeled(pool, cfg.labeled_per_class, seed=cfg.seed)
        if layout == "folder" and (root / "unlabeled").is_dir():
            extra = _read_unlabeled_folder(root / "unlabeled")
            if extra.shape[1:] != unlabeled.shape[1:]:
                raise UserError(f"{root / 'unlabeled'}: images are {tuple(extra.shape[2:])}, the labelled ones "
                                f"{tuple(unlabeled.shape[2:])}; make them the same size")
            unlabeled = torch.cat([unlabeled, extra])
        source = f"{'CIFAR-10' if layout == 'python' else 'image folders'} ({root})"
        if cfg.unlabeled_subset:  # (STL-10 picks its subset inside the memory map, without reading the rest)
            unlabeled = unlabeled[torch.from_numpy(stl10.subset_index(len(unlabeled), cfg.unlabeled_subset, cfg.seed))]
    if test.images.shape[1:] != labeled.images.shape[1:]:
        raise UserError(f"test images are {tuple(test.images.shape[2:])} but training images "
                        f"{tuple(labeled.images.shape[2:])}; resize them to one size")
    if len(unlabeled) < cfg.batch_size:
        raise UserError(f"batch_size={cfg.batch_size} is larger than the {len(unlabeled)} unlabelled images; "
                        "lower batch_size or use more unlabelled images")
    size = cfg.image_size
    labeled = ImageSet(resize_u8(labeled.images, size), labeled.labels, labeled.classes)
    test = ImageSet(resize_u8(test.images, size), test.labels, test.classes)
    return SemiSupervisedData(labeled.to(device), resize_u8(unlabeled, size).to(device), test.to(device), source)


def fraction_subsets(labels: torch.Tensor, n_classes: int, fractions, seed: int) -> dict[float, torch.Tensor]:
    """Nested, class-balanced labelled subsets: the first ceil(f * n_c) of a seeded order of each class."""
    gen = torch.Generator().manual_seed(phase_seed(seed, "fractions"))
    labels = labels.cpu()
    order = torch.randperm(len(labels), generator=gen)
    per_class = [order[labels[order] == c] for c in range(n_classes)]
    return {f: torch.cat([m[:max(1, math.ceil(f * len(m)))] for m in per_class]).sort().values for f in fractions}


# ---- helpers shared by the training loops -----------------------------------------------
def ssl_optimizer(model: nn.Module, cfg: Config) -> torch.optim.Optimizer:
    """LARS as in the paper (rates scaled by batch / 256), or AdamW; biases and batch-norm
    parameters get no weight decay either way. Each group keeps ``base_lr`` for the schedule."""
    scale = cfg.batch_size / 256
    if cfg.optimizer == "lars":
        return LARS(lars_param_groups(model, cfg.lr_weights * scale, cfg.lr_biases * scale, cfg.weight_decay),
                    lr=cfg.lr_weights * scale)
    lr = cfg.adamw_lr * scale
    groups = [{"params": [p for p in model.parameters() if p.ndim > 1], "weight_decay": cfg.adamw_weight_decay},
              {"params": [p for p in model.parameters() if p.ndim <= 1], "weight_decay": 0.0}]
    for g in groups:
        g["lr"] = g["base_lr"] = lr
    return torch.optim.AdamW(groups, lr=lr)


class Classifier(nn.Module):
    def __init__(self, encoder: nn.Module, n_classes: int):
        super().__init__()
        self.encoder = encoder
        self.head = nn.Linear(encoder.feature_dim, n_classes)

    def forward(self, x):
        return self.head(self.encoder(x))


def fast_bfloat16(device: torch.device) -> bool:
    """Whether bfloat16 autocast speeds training up here: GPUs with bfloat16 support, and CPUs
    with AVX512-BF16 or AMX instructions (elsewhere PyTorch emulates bfloat16 on the CPU, slower
    than float32). CPU runs under torchrun stay float32: the CPU batch norm's all-reduced sums
    would be taken in bfloat16."""
    if device.type == "cuda":
        return torch.cuda.is_bf16_supported()
    if device.type != "cpu" or distributed.world_size() > 1:
        return False
    checks = [getattr(torch.cpu, name, None) for name in ("_is_avx512_bf16_supported", "_is_amx_tile_supported")]
    return any(check() for check in checks if check is not None)


def autocast(device: torch.device, enabled: bool):
    """bfloat16 autocast where it is fast (:func:`fast_bfloat16`), else float32. Matrix products
    and convolutions run in bfloat16; the Barlow Twins loss is computed in float32. Measured on
    this machine's CPU (AVX512-BF16): the quick preset's pre-training step 1.3-1.5x faster, kNN
    accuracy during pre-training the same within noise."""
    if enabled and fast_bfloat16(device):
        return torch.autocast(device_type=device.type, dtype=torch.bfloat16)
    return nullcontext()


def epoch_batches(n: int, batch: int, steps: int, seed: int) -> torch.Tensor:
    """(steps, batch) indices into ``n`` items: shuffled passes laid end to end."""
    gen = torch.Generator().manual_seed(seed)
    passes = math.ceil(steps * batch / n)
    order = torch.cat([torch.randperm(n, generator=gen) for _ in range(passes)])
    return order[: steps * batch].view(steps, batch)


def usable_batch(batch: int, n: int) -> int:
    """The global batch for ``n`` items: at most ``n``, and a multiple of the process count."""
    k = distributed.world_size()
    b = min(batch, n)
    b -= b % k
    if b < 2 * k:
        raise UserError(f"{n} labelled images are too few for {k} processes; use a larger labelled fraction")
    return b


def sgd(groups: list[dict], cfg: Config) -> torch.optim.SGD:
    for g in groups:
        g["base_lr"] = g["lr"]
    return torch.optim.SGD(groups, lr=groups[0]["lr"], momentum=0.9, nesterov=True, weight_decay=cfg.weight_decay_supervised)


@torch.no_grad()
def embed(encoder: nn.Module, images: torch.Tensor, batch: int = 512) -> torch.Tensor:
    """Encoder features (float32) of uint8 images, in eval mode (batch norm's running statistics)."""
    was_training = encoder.training
    encoder.eval()
    out = torch.cat([encoder(to_input(images[i:i + batch])).float() for i in range(0, len(images), batch)])
    encoder.train(was_training)
    return out


@torch.no_grad()
def knn_accuracy(train_f: torch.Tensor, train_y: torch.Tensor, test_f: torch.Tensor, test_y: torch.Tensor,
                 n_classes: int, k: int, temperature: float = 0.07, chunk: int = 1024) -> float:
    """Weighted kNN on cosine similarity (Wu et al., 2018): votes exp(sim / T) of the k nearest."""
    train_f, test_f = F.normalize(train_f, dim=1), F.normalize(test_f, dim=1)
    k = min(k, len(train_f))
    correct = torch.zeros((), device=test_f.device)
    for start in range(0, len(test_f), chunk):
        sim = test_f[start:start + chunk] @ train_f.T
        top, idx = sim.topk(k, dim=1)
        votes = torch.zeros(len(sim), n_classes, device=sim.device)
        votes.scatter_add_(1, train_y[idx], torch.exp(top / temperature))
        correct += (votes.argmax(1) == test_y[start:start + chunk]).sum()
    return correct.item() / max(len(test_f), 1)


def linear_probe(encoder: nn.Module, train: ImageSet, test: ImageSet, l2: float, max_iter: int = 200) -> dict:
    """Softmax regression on frozen features, trained to convergence with L-BFGS (as SimCLR's
    transfer evaluation does): no learning rate to tune, and deterministic from a zero start.

    The encoder is only run under ``no_grad`` in eval mode, so neither its weights nor its
    batch-norm statistics can change.
    """
    n_classes = len(train.classes)
    f_train, f_test = embed(encoder, train.images), embed(encoder, test.images)
    mean, std = f_train.mean(0), f_train.std(0, unbiased=False) + 1e-6
    f_train, f_test = (f_train - mean) / std, (f_test - mean) / std
    w = torch.zeros(f_train.shape[1], n_classes, device=f_train.device, requires_grad=True)
    b = torch.zeros(n_classes, device=f_train.device, requires_grad=True)
    opt = torch.optim.LBFGS([w, b], lr=1.0, max_iter=max_iter, history_size=20, line_search_fn="strong_wolfe")

    def closure():
        opt.zero_grad()
        loss = F.cross_entropy(f_train @ w + b, train.labels) + l2 * w.pow(2).sum()
        loss.backward()
        return loss

    with torch.enable_grad():
        opt.step(closure)
    with torch.no_grad():
        train_acc = ((f_train @ w + b).argmax(1) == train.labels).float().mean().item()
        test_acc = ((f_test @ w + b).argmax(1) == test.labels).float().mean().item()
    return {"test_acc": test_acc, "train_acc": train_acc}


@torch.no_grad()
def test_accuracy(model: nn.Module, test: ImageSet, batch: int = 512) -> float:
    model.eval()
    correct = torch.zeros((), device=test.images.device)
    for i in range(0, len(test), batch):
        correct += (model(to_input(test.images[i:i + batch])).argmax(1) == test.labels[i:i + batch]).sum()
    model.train()
    return correct.item() / len(test)


def tsne_map(features: torch.Tensor, seed: int) -> np.ndarray:
    """2-D t-SNE (scikit-learn, Barnes-Hut) of L2-normalised features, reduced to 50 dims by PCA first.

    One OpenMP thread: scikit-learn's Barnes-Hut gradient runs a parallel region per
    iteration, and on a machine whose cores are busy (training, other jobs) its threads
    spin-wait on each other; measured here, 600 points took 51 s with two threads and 3 s with one.
    """
    from sklearn.decomposition import PCA
    from sklearn.manifold import TSNE
    from threadpoolctl import threadpool_limits

    x = F.normalize(features.float(), dim=1).cpu().numpy().astype(np.float64)
    with threadpool_limits(1):
        if x.shape[1] > 50:
            x = PCA(50, random_state=seed).fit_transform(x)
        perplexity = min(30.0, (len(x) - 1) / 3.0)
        return TSNE(2, perplexity=perplexity, init="pca", random_state=seed).fit_transform(x).astype(np.float32)


def tsne_subset(labels: torch.Tensor, n_classes: int, n: int) -> torch.Tensor:
    """A fixed, class-balanced choice of ``n`` test images (the same for every snapshot and seed)."""
    gen = torch.Generator().manual_seed(22)
    labels = labels.cpu()
    order = torch.randperm(len(labels), generator=gen)
    per = max(1, n // n_classes)
    return torch.cat([order[labels[order] == c][:per] for c in range(n_classes)]).sort().values


# ---- one seed -------------------------------------------------------------------------
def run_seed(ctx: Context) -> None:
    cfg, run, seed, data, dev = ctx.cfg, ctx.run, ctx.seed, ctx.data, ctx.device
    distributed.init_from_env()
    n_classes = len(data.classes)
    subsets = fraction_subsets(data.labeled.labels, n_classes, cfg.fractions, seed)
    steps_per_labeled_epoch = max(1, len(data.labeled) // cfg.classifier_batch)
    if seed == cfg.seed and distributed.is_main() and not (run.figures / "views.png").exists():
        draw_views(data, cfg, run.figures / "views")

    for f in cfg.fractions:
        train_classifier(ctx, "supervised", f, subsets[f], cfg.supervised_epochs, steps_per_labeled_epoch)

    twins = pretrain(ctx)
    encoder = twins.encoder
    for f in cfg.fractions:
        key = f"seed{seed}/probe-{f}"
        if run.once(key):
            probe = linear_probe(encoder, data.labeled.subset(subsets[f].to(dev)), data.test, cfg.probe_l2)
            run.log(seed=seed, phase="result", method="linear probe", fraction=f, labeled=len(subsets[f]), **probe)
            run.mark(key)
    for f in cfg.fractions:
        train_classifier(ctx, "fine-tune", f, subsets[f], cfg.finetune_epochs, steps_per_labeled_epoch, encoder)
    for f in cfg.fractions:
        train_joint(ctx, f, subsets[f])


def train_classifier(ctx: Context, method: str, fraction: float, subset: torch.Tensor, epochs: int, per_epoch: int,
                     pretrained: nn.Module | None = None) -> None:
    """Cross-entropy training of encoder + linear head on one labelled subset; ``per_epoch`` steps
    (those of an epoch of the full labelled split) whatever the subset's size."""
    cfg, run, seed, data, dev = ctx.cfg, ctx.run, ctx.seed, ctx.data, ctx.device
    name = f"seed{seed}/{method}-{fraction}"
    n_classes = len(data.classes)
    torch.manual_seed(phase_seed(seed, f"init-{method}-{fraction}"))
    if pretrained is None:
        encoder = build_encoder(cfg.encoder, cfg.width, cfg.stem)
        model = Classifier(encoder, n_classes).to(dev)
        groups = [{"params": list(model.parameters()), "lr": cfg.lr_supervised}]
    else:
        model = Classifier(copy.deepcopy(pretrained), n_classes).to(dev)
        groups = [{"params": list(model.encoder.parameters()), "lr": cfg.lr_finetune},
                  {"params": list(model.head.parameters()), "lr": cfg.lr_supervised}]
    model = distributed.sync_batchnorm(model, dev)
    optimizer = sgd(groups, cfg)
    ddp = distributed.wrap(model, dev)
    batch = usable_batch(cfg.classifier_batch, len(subset))
    images, labels = data.labeled.images[subset.to(dev)], data.labeled.labels[subset.to(dev)]
    stage = run.stage(name, cfg.checkpoint_every, model=model, optimizer=optimizer)
    for epoch in stage.epochs(epochs, desc=f"seed {seed} {method} {fraction:g}"):
        order = epoch_batches(len(subset), batch, per_epoch, phase_seed(seed, f"{name}-order-{epoch}"))
        aug = torch.Generator().manual_seed(phase_seed(seed, f"{name}-aug-{epoch}-rank{distributed.rank()}"))
        total = torch.zeros((), device=dev)
        for i in range(per_epoch):
            set_lr(optimizer, warmup_cosine(epoch * per_epoch + i, epochs * per_epoch, 0, 0.0))
            idx = distributed.shard(order[i]).to(dev)
            x = to_input(pad_crop_flip(images[idx], aug))
            with autocast(dev, cfg.amp):
                loss = F.cross_entropy(ddp(x), labels[idx])
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            total += loss.detach()
        run.log(seed=seed, phase=method, fraction=fraction, epoch=epoch + 1, train_loss=(total / per_epoch).item())
    key = f"{name}/test"
    if run.once(key):
        run.log(seed=seed, phase="result", method=method, fraction=fraction, labeled=len(subset),
                test_acc=test_accuracy(model, data.test))
        run.mark(key)


def pretrain(ctx: Context) -> BarlowTwins:
    """Barlow Twins on the unlabelled images, with kNN (every seed) and t-SNE (first seed) snapshots."""
    cfg, run, seed, data, dev = ctx.cfg, ctx.run, ctx.seed, ctx.data, ctx.device
    torch.manual_seed(phase_seed(seed, "init-pretrain"))
    model = BarlowTwins(build_encoder(cfg.encoder, cfg.width, cfg.stem), cfg.projector, cfg.lambd).to(dev)
    model = distributed.sync_batchnorm(model, dev)
    optimizer = ssl_optimizer(model, cfg)
    ddp = distributed.wrap(model, dev)
    views = barlow_views((cfg.crop_min_scale, 1.0))
    batch = cfg.batch_size - cfg.batch_size % distributed.world_size()
    steps = len(data.unlabeled) // batch
    total_steps, warmup = cfg.pretrain_epochs * steps, cfg.warmup_epochs * steps
    snap_at = snapshot_epochs(cfg)
    if run.once(f"seed{seed}/snapshot-0"):
        snapshot(ctx, model, 0)
        run.mark(f"seed{seed}/snapshot-0")
    stage = run.stage(f"seed{seed}/pretrain", cfg.checkpoint_every, model=model, optimizer=optimizer)
    for epoch in stage.epochs(cfg.pretrain_epochs, desc=f"seed {seed} Barlow Twins"):
        order = epoch_batches(len(data.unlabeled), batch, steps, phase_seed(seed, f"pretrain-order-{epoch}"))
        aug = torch.Generator().manual_seed(phase_seed(seed, f"pretrain-views-{epoch}-rank{distributed.rank()}"))
        total = torch.zeros((), device=dev)
        start = time.perf_counter()
        for i in range(steps):
            set_lr(optimizer, warmup_cosine(epoch * steps + i, total_steps, warmup))
            x = data.unlabeled[distributed.shard(order[i]).to(dev)]
            total += pretrain_step(ddp, optimizer, x, views, aug, cfg.amp)
        seconds = time.perf_counter() - start
        run.log(seed=seed, phase="pretrain", epoch=epoch + 1, loss=(total / steps).item(),
                lr=optimizer.param_groups[0]["lr"], images_per_s=steps * batch / seconds,
                bfloat16=bool(cfg.amp and fast_bfloat16(dev)))
        stage.show(loss=(total / steps).item())
        if epoch + 1 in snap_at:
            snapshot(ctx, model, epoch + 1)
    if distributed.is_main():
        save_model(run.checkpoint_path(f"seed{seed}/barlow-encoder"), model.encoder,
                   {"recipe": "barlow", "encoder": cfg.encoder, "width": cfg.width, "stem": cfg.stem,
                    "projector": list(cfg.projector), "epochs": cfg.pretrain_epochs})
    return model


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


def snapshot_epochs(cfg: Config) -> set[int]:
    return {int(round(e)) for e in np.linspace(0, cfg.pretrain_epochs, cfg.snapshots)}


def snapshot(ctx: Context, model: BarlowTwins, epoch: int) -> None:
    """kNN accuracy of the encoder now; on the first seed also a t-SNE map of the fixed test subset."""
    cfg, run, seed, data = ctx.cfg, ctx.run, ctx.seed, ctx.data
    n_classes = len(data.classes)
    train_f, test_f = embed(model.encoder, data.labeled.images), embed(model.encoder, data.test.images)
    acc = knn_accuracy(train_f, data.labeled.labels, test_f, data.test.labels, n_classes, cfg.knn_k)
    run.log(seed=seed, phase="snapshot", epoch=epoch, knn_acc=acc)
    if seed == cfg.seed and distributed.is_main():
        pick = tsne_subset(data.test.labels, n_classes, cfg.tsne_points).to(test_f.device)
        start = time.perf_counter()
        xy = tsne_map(test_f[pick], phase_seed(seed, "tsne"))
        atomic.write_json(run.root / "tsne" / f"epoch{epoch:05d}.json",
                          {"epoch": epoch, "knn_acc": acc, "seconds": round(time.perf_counter() - start, 2),
                           "classes": data.classes,
                           "labels": data.test.labels[pick].tolist(), "xy": np.round(xy, 3).tolist()})


def train_joint(ctx: Context, fraction: float, subset: torch.Tensor) -> None:
    """One encoder trained from scratch on CE(labelled batch) + weight * BT(unlabelled batch) / D."""
    cfg, run, seed, data, dev = ctx.cfg, ctx.run, ctx.seed, ctx.data, ctx.device
    name = f"seed{seed}/joint-{fraction}"
    torch.manual_seed(phase_seed(seed, f"init-joint-{fraction}"))
    model = JointObjective(build_encoder(cfg.encoder, cfg.width, cfg.stem), cfg.projector, len(data.classes),
                           cfg.lambd, cfg.joint_weight).to(dev)
    model = distributed.sync_batchnorm(model, dev)
    optimizer = ssl_optimizer(model, cfg)
    ddp = distributed.wrap(model, dev)
    views = barlow_views((cfg.crop_min_scale, 1.0))
    size = data.unlabeled.shape[-1]
    batch = cfg.batch_size - cfg.batch_size % distributed.world_size()
    lbatch = usable_batch(cfg.classifier_batch, len(subset))
    steps = len(data.unlabeled) // batch
    total_steps = cfg.joint_epochs * steps
    warmup = min(cfg.warmup_epochs, max(cfg.joint_epochs - 1, 0)) * steps
    images, labels = data.labeled.images[subset.to(dev)], data.labeled.labels[subset.to(dev)]
    stage = run.stage(name, cfg.checkpoint_every, model=model, optimizer=optimizer)
    for epoch in stage.epochs(cfg.joint_epochs, desc=f"seed {seed} joint {fraction:g}"):
        order = epoch_batches(len(data.unlabeled), batch, steps, phase_seed(seed, f"{name}-order-{epoch}"))
        lorder = epoch_batches(len(subset), lbatch, steps, phase_seed(seed, f"{name}-lorder-{epoch}"))
        aug = torch.Generator().manual_seed(phase_seed(seed, f"{name}-aug-{epoch}-rank{distributed.rank()}"))
        sums = torch.zeros(2, device=dev)
        for i in range(steps):
            set_lr(optimizer, warmup_cosine(epoch * steps + i, total_steps, warmup))
            x = data.unlabeled[distributed.shard(order[i]).to(dev)]
            view_a, view_b = two_views(x, views, size, aug)
            li = distributed.shard(lorder[i]).to(dev)
            xl = to_input(pad_crop_flip(images[li], aug))
            with autocast(dev, cfg.amp):
                loss, ce, bt = ddp(xl, labels[li], view_a, view_b)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            sums += torch.stack((ce.float(), bt.float()))
        ce_mean, bt_mean = (sums / steps).tolist()
        run.log(seed=seed, phase="joint", fraction=fraction, epoch=epoch + 1, ce=ce_mean, barlow=bt_mean)
    key = f"{name}/test"
    if run.once(key):
        classifier = nn.Sequential(model.encoder, model.head)
        run.log(seed=seed, phase="result", method="joint", fraction=fraction, labeled=len(subset),
                test_acc=test_accuracy(classifier, data.test))
        run.mark(key)


def draw_views(data: SemiSupervisedData, cfg: Config, stem: Path, n: int = 8) -> None:
    """A few unlabelled images and their two augmented views, to check the augmentations by eye."""
    x = data.unlabeled[:n]
    gen = torch.Generator().manual_seed(0)
    view_a, view_b = two_views(x, barlow_views((cfg.crop_min_scale, 1.0)), x.shape[-1], gen)
    to_u8 = lambda t: ((t.cpu() + 1) * 127.5).round().clamp(0, 255).to(torch.uint8)  # noqa: E731
    grid = torch.stack([x.cpu(), to_u8(view_a), to_u8(view_b)]).permute(0, 1, 3, 4, 2).numpy()
    figures.image_grid(grid, ["original", "view 1", "view 2"], None, stem,
                       "Two Barlow Twins views of each unlabelled image")


# ---- summary, figures and report -------------------------------------------------------
def results(run: Run) -> dict[str, dict[float, list[float]]]:
    """method -> fraction -> test accuracy per seed (seeds in order)."""
    out: dict[str, dict[float, list[float]]] = {m: {} for m in METHODS}
    for seed in run.config()["seeds"]:
        for r in run.select(seed=seed, phase="result"):
            out[r["method"]].setdefault(float(r["fraction"]), []).append(r["test_acc"])
    return out


def tsne_frames(run: Run) -> list[dict]:
    import json

    return [json.loads(p.read_text()) for p in sorted((run.root / "tsne").glob("epoch*.json"))]


def aligned(frames: list[dict]) -> list[np.ndarray]:
    """Rotate/reflect each t-SNE map onto the previous one (orthogonal Procrustes), so that
    stepping through the maps shows the representation changing rather than t-SNE's
    arbitrary orientation."""
    from scipy.linalg import orthogonal_procrustes

    out: list[np.ndarray] = []
    for frame in frames:
        xy = np.asarray(frame["xy"], dtype=np.float64)
        xy = (xy - xy.mean(0)) / (xy.std() + 1e-9)
        if out:
            rot, _ = orthogonal_procrustes(xy, out[-1])
            xy = xy @ rot
        out.append(xy)
    return out


def draw_tsne(run: Run) -> tuple[Path | None, list[Path], list[str]]:
    """The maps as one row of panels and as one image per snapshot (for the slider), one colour key."""
    frames = tsne_frames(run)
    if not frames:
        return None, [], []
    classes = frames[0]["classes"]
    maps = aligned(frames)
    lim = max(float(np.abs(m).max()) for m in maps) * 1.05
    colors = np.asarray(figures.COLORS)

    def panel(ax, xy, frame):
        labels = np.asarray(frame["labels"])
        ax.scatter(xy[:, 0], xy[:, 1], c=colors[labels % len(colors)], s=5, lw=0)
        ax.set_xlim(-lim, lim)
        ax.set_ylim(-lim, lim)
        ax.set_xticks([])
        ax.set_yticks([])
        ax.set_title(f"epoch {frame['epoch']}  kNN {frame['knn_acc'] * 100:.1f}%", fontsize=8)

    handles = [figures.plt.Line2D([], [], marker="o", ls="", color=colors[i % len(colors)], label=c)
               for i, c in enumerate(classes)]
    # The key gets an axis of its own at the end of the row, so the layout leaves room for it.
    fig, axes = figures.plt.subplots(1, len(maps) + 1, figsize=(2.0 * len(maps) + 1.4, 2.5), dpi=110, squeeze=False,
                                     gridspec_kw={"width_ratios": [1.0] * len(maps) + [0.6]})
    for ax, xy, frame in zip(axes[0], maps, frames):
        panel(ax, xy, frame)
    axes[0][-1].axis("off")
    axes[0][-1].legend(handles=handles, loc="center left", fontsize=7, frameon=False)
    row = figures.save(fig, run.figures / "tsne_row")
    paths, labels = [], []
    for xy, frame in zip(maps, frames):
        fig, ax = figures.plt.subplots(figsize=(5.2, 4.2), dpi=110)
        panel(ax, xy, frame)
        ax.legend(handles=handles, loc="center left", bbox_to_anchor=(1.0, 0.5), fontsize=7, frameon=False)
        paths.append(figures.save(fig, run.figures / f"tsne_epoch{frame['epoch']:05d}"))
        labels.append(f"epoch {frame['epoch']}: kNN accuracy {frame['knn_acc'] * 100:.1f}%")
    return row, paths, labels


def summarize(run: Run) -> dict:
    conf = run.config()
    cfg, seeds = conf["config"], conf["seeds"]
    res = results(run)
    fractions = sorted({f for m in res.values() for f in m})
    main, small = max(fractions), min(fractions)

    # Pre-training: loss and kNN accuracy per epoch, mean and band over seeds.
    fig, (ax1, ax2) = figures.plt.subplots(1, 2, figsize=(10, 3.6), dpi=110)
    losses = [[r["loss"] for r in run.select(seed=s, phase="pretrain")] for s in seeds]
    n = min(len(x) for x in losses)
    figures.band(ax1, list(range(1, n + 1)), [x[:n] for x in losses], "Barlow Twins loss", figures.COLORS[0])
    ax1.set_xlabel("epoch")
    ax1.set_ylabel("loss")
    ax1.set_yscale("log")
    ax1.grid(alpha=0.3)
    ax1.legend()
    knn = [[(r["epoch"], r["knn_acc"]) for r in run.select(seed=s, phase="snapshot")] for s in seeds]
    m = min(len(k) for k in knn)
    epochs = [e for e, _ in knn[0][:m]]
    figures.band(ax2, epochs, [[a * 100 for _, a in k[:m]] for k in knn], f"{cfg['knn_k']}-NN accuracy", figures.COLORS[1])
    ax2.set_xlabel("pre-training epoch")
    ax2.set_ylabel("test accuracy (%)")
    ax2.grid(alpha=0.3)
    ax2.legend()
    figures.save(fig, run.figures / "pretrain")

    # The label-ratio study.
    fig, ax = figures.new_figure()
    for method, color in zip(METHODS, figures.COLORS):
        per_seed = np.asarray([res[method][f] for f in fractions]).T * 100  # (seeds, fractions)
        figures.band(ax, [f * 100 for f in fractions], per_seed, method, color)
        ax.scatter([f * 100 for f in fractions], per_seed.mean(0), color=color, s=14)
    ax.set_xscale("log")
    ax.set_xticks([f * 100 for f in fractions], [f"{f * 100:g}%" for f in fractions])
    ax.minorticks_off()
    ax.set_xlabel("labelled images used (share of the labelled training split)")
    ax.set_ylabel("test accuracy (%)")
    ax.set_title("Accuracy against the labelled fraction")
    ax.legend(fontsize=8)
    figures.save(fig, run.figures / "label_ratio")

    draw_tsne(run)

    table = {method: {str(f): dict(zip(("mean", "ci95"), stats.mean_ci(res[method][f]))) for f in fractions}
             for method in METHODS}
    knn_gain = [k[m - 1][1] - k[0][1] for k in knn]
    claims = [
        stats.claim(f"Barlow Twins pre-training then fine-tuning beats the supervised baseline with {small * 100:g}% "
                    "of the labels (accuracy points)",
                    [a - b for a, b in zip(res["fine-tune"][small], res["supervised"][small])], scale=100),
        stats.claim(f"The joint objective beats the supervised baseline with {small * 100:g}% of the labels "
                    "(accuracy points)",
                    [a - b for a, b in zip(res["joint"][small], res["supervised"][small])], scale=100),
        stats.claim(f"A linear probe on the frozen Barlow Twins encoder beats the supervised baseline with "
                    f"{small * 100:g}% of the labels (accuracy points)",
                    [a - b for a, b in zip(res["linear probe"][small], res["supervised"][small])], scale=100),
        stats.claim(f"Semi-supervised (the better of fine-tune and joint) beats both the supervised baseline and "
                    f"the linear probe with {small * 100:g}% of the labels (points over the better of the two)",
                    [max(f, j) - max(b, p) for f, j, b, p in zip(res["fine-tune"][small], res["joint"][small],
                                                                  res["supervised"][small], res["linear probe"][small])],
                    scale=100),
        stats.claim("The representation improves during Barlow Twins pre-training (kNN accuracy points, last "
                    "snapshot minus the random initialisation)", knn_gain, scale=100),
    ]
    acc = {mth: stats.mean_ci(res[mth][main]) for mth in METHODS}
    best = max(METHODS, key=lambda mth: acc[mth][0])
    text = (f"With {main * 100:g}% of the labels, test accuracy is "
            + ", ".join(f"{mth} {stats.fmt_ci(*acc[mth], 1, 100)}%" for mth in METHODS)
            + f" ({len(seeds)} seed{'s' if len(seeds) > 1 else ''}); {best} is best. With {small * 100:g}% of the "
            f"labels: " + ", ".join(f"{mth} {stats.mean_ci(res[mth][small])[0] * 100:.1f}%" for mth in METHODS) + ".")
    speed = [r["images_per_s"] for r in run.select(phase="pretrain")]
    return {
        "text": text,
        "headline": {
            **{f"{mth.replace(' ', '_').replace('-', '')}_test_acc": {"mean": acc[mth][0], "ci95": acc[mth][1]}
               for mth in METHODS},
            "knn_gain_points": {"mean": stats.mean_ci(knn_gain)[0] * 100},
            "pretrain_images_per_s": float(np.median(speed)) if speed else None,
            "bfloat16": any(r.get("bfloat16", False) for r in run.select(phase="pretrain")),
        },
        "claims": claims,
        "table": table,
        "fractions": fractions,
    }


def report(run: Run) -> Section:
    s = run.summary()
    conf = run.config()
    cfg = conf["config"]
    fractions = s["fractions"]
    table = s["table"]
    main = max(fractions)
    rows = [[METHOD_TEXT[m], stats.fmt_ci(table[m][str(main)]["mean"], table[m][str(main)]["ci95"], 1, 100)]
            for m in METHODS]
    ratio_rows = [[m] + [stats.fmt_ci(table[m][str(f)]["mean"], table[m][str(f)]["ci95"], 1, 100) for f in fractions]
                  for m in METHODS]
    frames = sorted(run.figures.glob("tsne_epoch*.png"))
    labels = [f"epoch {int(p.stem.removeprefix('tsne_epoch'))}" for p in frames]
    knn_rows = {r["epoch"]: r["knn_acc"] for r in run.select(seed=conf["seeds"][0], phase="snapshot")}
    labels = [f"{lab}: kNN accuracy {knn_rows.get(int(lab.split()[1]), float('nan')) * 100:.1f}%" for lab in labels]
    h = s["headline"]
    blocks = [
        Text(s["text"]),
        Claims(s["claims"]),
        Table(["method", f"test accuracy (%), {main * 100:g}% of the labels"], rows,
              f"Steps 1, 4 and 5 of the seed; mean ± 95% CI over {len(conf['seeds'])} seed(s)."),
        Table(["method"] + [f"{f * 100:g}%" for f in fractions], ratio_rows,
              "Test accuracy (%) for each labelled fraction (class-balanced, nested subsets)."),
        Figure(run.figures / "label_ratio.png", "The label-ratio study: one line per method (mean over seeds; band ±1 sd)."),
        Text(joint_vs_finetune(table, fractions)),
        Figure(run.figures / "pretrain.png",
               f"Barlow Twins pre-training: the loss, and the {cfg['knn_k']}-NN test accuracy of the encoder's features "
               "at each snapshot (epoch 0 is the random initialisation)."),
    ]
    if (run.figures / "tsne_row.png").is_file():
        blocks += [
            Figure(run.figures / "tsne_row.png",
                   f"t-SNE of {cfg['tsne_points']} test images' encoder features during pre-training (first seed), "
                   "coloured by class (labels are never used in pre-training); each map is rotated onto the previous one."),
            Slider(frames, labels, "Drag to step through pre-training."),
        ]
    blocks += [
        Figure(run.figures / "views.png", "Unlabelled images and their two augmented views (crop, flip, colour jitter, "
               "grayscale, blur, solarisation; blur always in view 1, solarisation only in view 2)."),
        Math(r"\mathcal{L}_{BT} = \sum_i (1 - \mathcal{C}_{ii})^2 + \lambda \sum_i \sum_{j \neq i} \mathcal{C}_{ij}^2,"
             r"\quad \mathcal{C}_{ij} = \frac{\sum_b z^A_{b,i} z^B_{b,j}}{\sqrt{\sum_b (z^A_{b,i})^2}\sqrt{\sum_b (z^B_{b,j})^2}}",
             f"The Barlow Twins loss (lambda = {cfg['lambd']}); z are projector outputs, centred over the batch."),
        Text(f"Data: {conf['data'] or MADE_UP_TEXT}. Encoder: {cfg['encoder']} "
             f"(width {cfg['width']}), projector {'-'.join(map(str, cfg['projector']))}; pre-training "
             f"{cfg['pretrain_epochs']} epochs, batch {cfg['batch_size']}, {optimizer_text(cfg)}, {cfg['warmup_epochs']} "
             f"warm-up epochs then cosine decay; {(h.get('pretrain_images_per_s') or 0):,.0f} images/s on {conf['device']} "
             f"({'bfloat16 autocast' if h.get('bfloat16') else 'float32'}). "
             f"Classifiers: SGD (momentum 0.9, cosine), batch {cfg['classifier_batch']}, {cfg['supervised_epochs']} "
             f"(supervised), {cfg['finetune_epochs']} (fine-tune) epochs of the full labelled split for every fraction; "
             f"joint: {cfg['joint_epochs']} epochs over the unlabelled images, weight {cfg['joint_weight']} on the "
             f"Barlow Twins term divided by the projector width. Linear probe: softmax regression on standardised "
             f"frozen features, L-BFGS, L2 {cfg['probe_l2']}."),
        Code(f"from sslab.runner import run_recipe\nrun = run_recipe('barlow', preset={conf['preset']!r}, "
             f"seeds={len(conf['seeds'])})\nprint(run.summary()['text'])", output=s["text"] + "\n"),
    ]
    return Section("Barlow Twins, linear probe and semi-supervised learning (seed 2.2)", blocks,
                   subtitle="Self-supervised pre-training on unlabelled images; t-SNE of the embedding as it trains; "
                            "supervised vs linear probe vs fine-tuning vs a joint objective across label fractions")


MADE_UP_TEXT = ("made-up textures (sslab's synthetic 10-class set: the class is a surface pattern filling the frame, "
                "with random colours, period, phase, shading and an occluding blob, so it survives the crops, flips "
                "and colour changes of the two views while colour alone tells nothing)")


def optimizer_text(cfg: dict) -> str:
    if cfg.get("optimizer", "lars") == "lars":
        return (f"LARS (rates {cfg['lr_weights']} / {cfg['lr_biases']} per 256 images, weight decay "
                f"{cfg['weight_decay']})")
    return f"AdamW (rate {cfg['adamw_lr']} per 256 images, weight decay {cfg['adamw_weight_decay']})"


def joint_vs_finetune(table: dict, fractions: list[float]) -> str:
    """Which semi-supervised formulation did better here, and a reason it might."""
    parts = []
    for f in (min(fractions), max(fractions)) if len(fractions) > 1 else fractions:
        d = (table["fine-tune"][str(f)]["mean"] - table["joint"][str(f)]["mean"]) * 100
        parts.append(f"{'pre-train-then-fine-tune' if d >= 0 else 'the joint objective'} is ahead by "
                     f"{abs(d):.1f} points with {f * 100:g}% of the labels")
    lead_small = table["fine-tune"][str(min(fractions))]["mean"] >= table["joint"][str(min(fractions))]["mean"]
    why = ("A likely reason: fine-tuning starts from an encoder already shaped by the whole Barlow Twins schedule, and "
           "with few labels the joint objective's cross-entropy term fits its handful of images long before the "
           "Barlow Twins term has organised the features, so it leans towards memorising them."
           if lead_small else
           "A likely reason: in the joint objective the labels steer the representation from the first step, so "
           "capacity goes to features that separate the classes, while the separately pre-trained encoder spends part "
           "of it on invariances the classes do not need and fine-tuning only partly redirects it.")
    return "Semi-supervised formulations compared: " + "; ".join(parts) + ". " + why


def locate_data(root: Path) -> Path | None:
    found = stl10.find_root(root)
    if found is not None:
        return found
    other = cifar10.find_root(root)
    return other[1] if other else None


RECIPE = Recipe(
    name="barlow",
    title="Barlow Twins, linear probe and semi-supervised learning on STL-10",
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
