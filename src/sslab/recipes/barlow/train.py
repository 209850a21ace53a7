"""`barlow`, step by step: the data, then the seven steps of the seed for one random seed.

Read top to bottom: :func:`load_data` (STL-10, CIFAR-10, image folders or made-up textures,
resident as uint8 on the device), :func:`fraction_subsets` (the nested labelled fractions),
:func:`run_seed` (the order of the steps), then one function per step:
:func:`train_classifier` (1, and the fine-tuning of 5), :func:`pretrain` (2, with
:func:`snapshot` for 3), the linear probe (4, in :func:`run_seed`), :func:`train_joint` (the
joint objective of 5). Steps 6 and 7 are the report's.

Every classifier trains for the same number of steps whatever the fraction, so a smaller
fraction means more passes over fewer images, not less training.

Under ``torchrun --nproc_per_node K -m sslab run barlow ...`` every loop runs under
DistributedDataParallel: each global batch is split over the K processes, batch norm and
the cross-correlation matrix use the global batch, and only rank 0 writes.
"""

from __future__ import annotations

import copy
import math
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from sslab.data import semi_supervised
from sslab.data.semi_supervised import SemiSupervisedData
from sslab.errors import UserError
from sslab.recipes import Context
from sslab.recipes.barlow.config import Config
from sslab.report import figures
from sslab.train import atomic, distributed, optim
from sslab.train.checkpoint import save_model
from sslab.train.precision import autocast, fast_bfloat16
from sslab.train.seeding import phase_seed
from sslab.vision.barlow import BarlowTwins, JointObjective, pretrain_step
from sslab.vision.classify import evaluate
from sslab.vision.evaluate import balanced_subset, embed, knn_accuracy, linear_probe, tsne_map
from sslab.vision.resnet import build_encoder
from sslab.vision.ssl_augment import barlow_views, pad_crop_flip, to_input, two_views


# ---- data ---------------------------------------------------------------------------
def load_data(cfg: Config, data_dir: Path | None, device: torch.device) -> SemiSupervisedData:
    """STL-10, CIFAR-10 (either layout), image folders, or made-up textures, checked before the run starts."""
    if data_dir is None:
        data = semi_supervised.made_up_textures(cfg.synthetic_labeled_per_class, cfg.synthetic_unlabeled,
                                                cfg.synthetic_test, cfg.image_size or cfg.synthetic_image_size)
    else:
        data = semi_supervised.read(data_dir, cfg.labeled_per_class, cfg.unlabeled_subset, seed=cfg.seed)
    if len(data.unlabeled) < cfg.batch_size:
        raise UserError(f"batch_size={cfg.batch_size} is larger than the {len(data.unlabeled)} unlabelled images; "
                        "lower batch_size or use more unlabelled images")
    return data.resized(cfg.image_size).to(device)


def fraction_subsets(labels: torch.Tensor, n_classes: int, fractions, seed: int) -> dict[float, torch.Tensor]:
    """Nested, class-balanced labelled subsets: the first ceil(f * n_c) of a seeded order of each class."""
    gen = torch.Generator().manual_seed(phase_seed(seed, "fractions"))
    labels = labels.cpu()
    order = torch.randperm(len(labels), generator=gen)
    per_class = [order[labels[order] == c] for c in range(n_classes)]
    return {f: torch.cat([m[:max(1, math.ceil(f * len(m)))] for m in per_class]).sort().values for f in fractions}


# ---- one seed -------------------------------------------------------------------------
def run_seed(ctx: Context) -> None:
    cfg, run, seed, data, dev = ctx.cfg, ctx.run, ctx.seed, ctx.data, ctx.device
    distributed.init_from_env()
    n_classes = len(data.classes)
    subsets = fraction_subsets(data.labeled.labels, n_classes, cfg.fractions, seed)
    steps_per_labeled_epoch = max(1, len(data.labeled) // cfg.classifier_batch)
    if seed == cfg.seed and distributed.is_main() and not (run.figures / "views.png").exists():
        draw_views(data, cfg, run.figures / "views")

    for f in cfg.fractions:  # 1. the supervised baseline
        train_classifier(ctx, "supervised", f, subsets[f], cfg.supervised_epochs, steps_per_labeled_epoch)

    twins = pretrain(ctx)  # 2. Barlow Twins, with 3. the snapshots
    encoder = twins.encoder
    for f in cfg.fractions:  # 4. the linear probe
        key = f"seed{seed}/probe-{f}"
        if run.once(key):
            probe = linear_probe(encoder, data.labeled.subset(subsets[f].to(dev)), data.test, cfg.probe_l2)
            run.log(seed=seed, phase="result", method="linear probe", fraction=f, labeled=len(subsets[f]), **probe)
            run.mark(key)
    for f in cfg.fractions:  # 5a. pre-train, then fine-tune
        train_classifier(ctx, "fine-tune", f, subsets[f], cfg.finetune_epochs, steps_per_labeled_epoch, encoder)
    for f in cfg.fractions:  # 5b. the joint objective
        train_joint(ctx, f, subsets[f])


def ssl_optimizer(model: nn.Module, cfg: Config) -> torch.optim.Optimizer:
    """LARS as in the paper or AdamW, rates per 256 images (see :func:`sslab.train.optim.ssl_optimizer`)."""
    return optim.ssl_optimizer(model, cfg.optimizer, cfg.batch_size, lr_weights=cfg.lr_weights,
                               lr_biases=cfg.lr_biases, weight_decay=cfg.weight_decay, adamw_lr=cfg.adamw_lr,
                               adamw_weight_decay=cfg.adamw_weight_decay)


def usable_batch(batch: int, n: int) -> int:
    """The global batch for ``n`` labelled items: at most ``n``, and a multiple of the process count."""
    k = distributed.world_size()
    b = min(batch, n)
    b -= b % k
    if b < 2 * k:
        raise UserError(f"{n} labelled images are too few for {k} processes; use a larger labelled fraction")
    return b


class Classifier(nn.Module):
    """An encoder and a linear head on its features."""

    def __init__(self, encoder: nn.Module, n_classes: int):
        super().__init__()
        self.encoder = encoder
        self.head = nn.Linear(encoder.feature_dim, n_classes)

    def forward(self, x):
        return self.head(self.encoder(x))


def accuracy_on_test(model: nn.Module, data: SemiSupervisedData) -> float:
    """Test accuracy of a classifier (left in eval mode; every caller is done with it)."""
    return evaluate(model, data.test.images, data.test.labels, batch_size=512, transform=to_input)[0]


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
    optimizer = optim.sgd(groups, cfg.weight_decay_supervised)
    ddp = distributed.wrap(model, dev)
    batch = usable_batch(cfg.classifier_batch, len(subset))
    images, labels = data.labeled.images[subset.to(dev)], data.labeled.labels[subset.to(dev)]
    stage = run.stage(name, cfg.checkpoint_every, model=model, optimizer=optimizer)
    for epoch in stage.epochs(epochs, desc=f"seed {seed} {method} {fraction:g}"):
        order = optim.epoch_batches(len(subset), batch, per_epoch, phase_seed(seed, f"{name}-order-{epoch}"))
        aug = torch.Generator().manual_seed(phase_seed(seed, f"{name}-aug-{epoch}-rank{distributed.rank()}"))
        total = torch.zeros((), device=dev)
        for i in range(per_epoch):
            optim.set_lr(optimizer, optim.warmup_cosine(epoch * per_epoch + i, epochs * per_epoch, 0, 0.0))
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
                test_acc=accuracy_on_test(model, data))
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
        order = optim.epoch_batches(len(data.unlabeled), batch, steps, phase_seed(seed, f"pretrain-order-{epoch}"))
        aug = torch.Generator().manual_seed(phase_seed(seed, f"pretrain-views-{epoch}-rank{distributed.rank()}"))
        total = torch.zeros((), device=dev)
        start = time.perf_counter()
        for i in range(steps):
            optim.set_lr(optimizer, optim.warmup_cosine(epoch * steps + i, total_steps, warmup))
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
        # The same class-balanced test images in every map and seed, so the maps can be compared.
        pick = balanced_subset(data.test.labels, n_classes, cfg.tsne_points).to(test_f.device)
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
        order = optim.epoch_batches(len(data.unlabeled), batch, steps, phase_seed(seed, f"{name}-order-{epoch}"))
        lorder = optim.epoch_batches(len(subset), lbatch, steps, phase_seed(seed, f"{name}-lorder-{epoch}"))
        aug = torch.Generator().manual_seed(phase_seed(seed, f"{name}-aug-{epoch}-rank{distributed.rank()}"))
        sums = torch.zeros(2, device=dev)
        for i in range(steps):
            optim.set_lr(optimizer, optim.warmup_cosine(epoch * steps + i, total_steps, warmup))
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
        run.log(seed=seed, phase="result", method="joint", fraction=fraction, labeled=len(subset),
                test_acc=accuracy_on_test(nn.Sequential(model.encoder, model.head), data))
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
