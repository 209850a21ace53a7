"""`augment`, step by step: the data, the split, then both arms of one seed.

Read top to bottom: :func:`load_data` (CIFAR-10 or made-up scenes, resident as uint8 on the
device), :func:`split` (the seeded 5,000-image validation split), :func:`run_seed` (the
baseline and the 4x augmented arm, validated every epoch), :func:`draw_examples`.
"""

from __future__ import annotations

import time
from pathlib import Path

import torch

from sslab.data import cifar10, synthetic_images
from sslab.data.images import ImageSet, one_per_class, to_unit, unit_to_signed
from sslab.errors import UserError
from sslab.recipes import Context, Part
from sslab.recipes.augment.config import ARMS, Config
from sslab.report import figures
from sslab.train import atomic
from sslab.train.checkpoint import save_model
from sslab.train.seeding import phase_seed
from sslab.vision.augment import VERSION_NAMES, apply_versions
from sslab.vision.classify import evaluate, train_epoch
from sslab.vision.models import SmallCNN


# ---- data ---------------------------------------------------------------------------
def load_data(cfg: Config, data_dir: Path | None, device: torch.device) -> ImageSet:
    """The training pool (the validation split is drawn from it per seed), on the device."""
    if data_dir is None:
        pool = synthetic_images.make_images(cfg.synthetic_size, seed=1234)
    else:
        pool, _test = cifar10.load_cifar10(data_dir)  # the seed skips the test set
    if cfg.val_size >= len(pool):
        raise UserError(f"val_size={cfg.val_size} must be smaller than the {len(pool)} training images"
                        + ("; raise synthetic_size" if data_dir is None else ""))
    return pool.to(device)


def split(pool: ImageSet, cfg: Config, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Seeded (train, validation) indices; the validation part is the seed's 5,000."""
    gen = torch.Generator().manual_seed(phase_seed(seed, "split"))
    order = torch.randperm(len(pool), generator=gen)
    val, train = order[: cfg.val_size], order[cfg.val_size:]
    if cfg.train_size:
        train = train[: cfg.train_size]
    return train.sort().values, val.sort().values


# ---- one seed -------------------------------------------------------------------------
def parts(cfg: Config) -> list[Part]:
    """The two arms are independent; the augmented one sees 4x the images per epoch."""
    return [Part("baseline", ("baseline",), 1.0), Part("augmented", ("augmented",), 4.0)]


def run_seed(ctx: Context) -> None:
    cfg, run, seed, pool = ctx.cfg, ctx.run, ctx.seed, ctx.data
    train_idx, val_idx = split(pool, cfg, seed)
    split_file = run.root / "splits" / f"seed{seed}.json"
    if not split_file.exists():
        atomic.write_json(split_file, {"train": train_idx.tolist(), "validation": val_idx.tolist()})
    dev = pool.images.device
    train, val = pool.subset(train_idx.to(dev)), pool.subset(val_idx.to(dev))
    n = len(train)

    def four_versions(batch_u8: torch.Tensor, sample: torch.Tensor) -> torch.Tensor:
        # Sample i of the 4N set is version i // N of image i % N, built in [0, 1] then sent to [-1, 1].
        return unit_to_signed(apply_versions(to_unit(batch_u8), sample // n, cfg.brighten, cfg.darken))

    if seed == run.config()["seeds"][0] and ctx.runs(ARMS[0]) and not (run.figures / "augmented_examples.png").exists():
        # Drawn before training, so a live logger (TensorBoard) shows it from the first epoch.
        draw_examples(train, cfg, run.figures / "augmented_examples")

    for arm in filter(ctx.runs, ARMS):  # each arm seeds itself: it may run in a worker of its own
        torch.manual_seed(phase_seed(seed, f"init-{arm}"))
        model = SmallCNN(len(pool.classes)).to(dev)
        optimizer = torch.optim.Adam(model.parameters(), lr=cfg.lr)
        order = torch.Generator().manual_seed(phase_seed(seed, f"order-{arm}"))
        stage = run.stage(f"seed{seed}/{arm}", model=model, optimizer=optimizer, generator=order)
        augmented = arm == "augmented"
        for epoch in stage.epochs(cfg.epochs, desc=f"seed {seed} {arm}"):
            start = time.perf_counter()
            loss, _ = train_epoch(model, optimizer, train.images, train.labels, cfg.batch_size, order,
                                  virtual_size=4 * n if augmented else None,
                                  transform=four_versions if augmented else None)
            seconds = time.perf_counter() - start
            val_acc, val_loss = evaluate(model, val.images, val.labels)
            run.log(seed=seed, phase=arm, epoch=epoch + 1, train_loss=loss.item(), val_acc=val_acc,
                    val_loss=val_loss, train_images=(4 if augmented else 1) * n,
                    images_per_s=(4 if augmented else 1) * n / seconds)
            stage.show(val_acc=val_acc, loss=loss.item())
        save_model(run.checkpoint_path(f"seed{seed}/{arm}-model"), model,
                   {"recipe": "augment", "arm": arm, "n_classes": len(pool.classes), "classes": list(pool.classes)})


def draw_examples(train: ImageSet, cfg: Config, stem: Path, per_row: int = 6) -> None:
    """A grid of a few training images in all four versions, to check the augmentation by eye."""
    picks = one_per_class(train.labels, per_row).to(train.images.device)  # not six airplanes from a sorted folder
    x = to_unit(train.images[picks].cpu())
    rows = [apply_versions(x, torch.full((len(x),), v), cfg.brighten, cfg.darken) for v in range(4)]
    grid = (torch.stack(rows) * 255).round().to(torch.uint8).permute(0, 1, 3, 4, 2).numpy()
    figures.image_grid(grid, VERSION_NAMES, [train.classes[int(c)] for c in train.labels[picks]], stem,
                       "The four versions of each training image")
