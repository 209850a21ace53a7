"""Recipe `augment` (seed 000, Problem 1): does a 4x augmented training set help a small CNN?

Baseline: the seed's small CNN trained on 45,000 CIFAR-10 images, 5,000 held out for
validation. Augmented: the same network trained on the 180,000-image set made of every
training image in four versions (original, brightened x1.1 clipped at 1, darkened x0.9,
flipped left-right), all built in [0, 1] and fed to the network in [-1, 1]. Both are
validated after every epoch and the curves are overlaid.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from sslab.config import param
from sslab.data import cifar10, synthetic_images
from sslab.data.images import ImageSet, to_unit, unit_to_signed
from sslab.errors import UserError
from sslab.recipes import Context, Recipe, RecipeConfig
from sslab.report import figures, stats
from sslab.report.document import Claims, Code, Figure, Section, Table, Text
from sslab.train import atomic
from sslab.train.checkpoint import save_model
from sslab.train.classify import evaluate, train_epoch
from sslab.train.rundir import Run
from sslab.train.seeding import phase_seed
from sslab.vision.augment import VERSION_NAMES, apply_versions
from sslab.vision.models import SmallCNN, count_parameters

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

    if seed == run.config()["seeds"][0] and not (run.figures / "augmented_examples.png").exists():
        # Drawn before training, so a live logger (TensorBoard) shows it from the first epoch.
        draw_examples(train, cfg, run.figures / "augmented_examples")

    for arm in ARMS:
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
    x = to_unit(train.images[:per_row].cpu())
    rows = [apply_versions(x, torch.full((len(x),), v), cfg.brighten, cfg.darken) for v in range(4)]
    grid = (torch.stack(rows) * 255).round().to(torch.uint8).permute(0, 1, 3, 4, 2).numpy()
    figures.image_grid(grid, VERSION_NAMES, [train.classes[int(c)] for c in train.labels[:per_row]], stem,
                       "The four versions of each training image")


# ---- summary, figures and report -------------------------------------------------------
def curves(run: Run, arm: str) -> tuple[list[int], list[list[float]]]:
    seeds = run.config()["seeds"]
    runs = [[r["val_acc"] for r in run.select(seed=s, phase=arm) if "val_acc" in r] for s in seeds]
    runs = [r for r in runs if r]
    length = min(len(r) for r in runs)
    return list(range(1, length + 1)), [r[:length] for r in runs]


def summarize(run: Run) -> dict:
    final, best = {}, {}
    for arm in ARMS:
        epochs, accs = curves(run, arm)
        final[arm] = [a[-1] for a in accs]
        best[arm] = [max(a) for a in accs]
    fig, ax = figures.new_figure()
    for arm, color in zip(ARMS, figures.COLORS):
        epochs, accs = curves(run, arm)
        figures.band(ax, epochs, np.asarray(accs) * 100, arm, color)
    ax.set_xlabel("epoch")
    ax.set_ylabel("validation accuracy (%)")
    ax.set_title("Baseline vs 4x augmented training set")
    ax.legend()
    figures.save(fig, run.figures / "val_accuracy")

    gains = [a - b for a, b in zip(final["augmented"], final["baseline"])]
    c = stats.claim("Augmentation improves final validation accuracy (points)", gains, scale=100, digits=1)
    b_m, b_h = stats.mean_ci(final["baseline"])
    a_m, a_h = stats.mean_ci(final["augmented"])
    n = len(gains)
    verb = "raised" if c["mean"] > 0 else "lowered" if c["mean"] < 0 else "did not change"
    text = (f"Augmentation {verb} final validation accuracy from "
            f"{stats.fmt_ci(b_m, b_h, 1, 100)}% to {stats.fmt_ci(a_m, a_h, 1, 100)}% "
            f"({'+' if c['mean'] >= 0 else ''}{c['shown']} points over {n} seed{'s' if n > 1 else ''}); "
            f"the claim is {c['verdict']} on this run.")
    speed = [r["images_per_s"] for r in run.records() if "images_per_s" in r]
    return {
        "text": text,
        "headline": {
            "baseline_final_val_acc": {"mean": b_m, "ci95": b_h},
            "augmented_final_val_acc": {"mean": a_m, "ci95": a_h},
            "baseline_best_val_acc": {"mean": stats.mean_ci(best["baseline"])[0]},
            "augmented_best_val_acc": {"mean": stats.mean_ci(best["augmented"])[0]},
            "gain_points": {"mean": c["mean"] * 100, "ci95": c["ci95"] * 100},
            "train_images_per_s": float(np.median(speed)) if speed else None,
        },
        "claims": [c],
        "per_seed": {"final": final, "best": best},
    }


def report(run: Run) -> Section:
    s = run.summary()
    conf = run.config()
    cfg = conf["config"]
    h = s["headline"]
    rows = []
    for arm in ARMS:
        m, ci = h[f"{arm}_final_val_acc"]["mean"], h[f"{arm}_final_val_acc"]["ci95"]
        rows.append([arm, stats.fmt_ci(m, ci, 1, 100), f"{h[f'{arm}_best_val_acc']['mean'] * 100:.1f}"])
    data = conf["data"] or "made-up scenes (sslab's synthetic 10-class set)"
    blocks = [
        Text(s["text"]),
        Claims(s["claims"]),
        Table(["arm", "final validation accuracy (%)", "best (%)"], rows,
              f"{len(conf['seeds'])} seed(s), {cfg['epochs']} epochs each; ± is a 95% confidence interval"),
        Figure(run.figures / "val_accuracy.png", "Validation accuracy after every epoch (mean over seeds, band ±1 sd)."),
        Figure(run.figures / "augmented_examples.png", "Each column is one training image; rows are its four versions."),
        Text(f"Network: the seed's small CNN (two 5x5 conv layers of 10 kernels with 2x2 max-pooling, "
             f"fully connected 250-20-10, ReLU, He init), {count_parameters(SmallCNN())} parameters; Adam, "
             f"learning rate {cfg['lr']}, batch {cfg['batch_size']}. Data: {data}; {cfg['val_size']} images "
             f"held out for validation (indices in `splits/`). Training speed: "
             f"{h['train_images_per_s'] or 0:,.0f} images/s on {conf['device']}."),
        Code(f"from sslab.runner import run_recipe\nrun = run_recipe('augment', preset={conf['preset']!r}, "
             f"seeds={len(conf['seeds'])})\nprint(run.summary()['text'])", output=s["text"] + "\n"),
    ]
    return Section("Data augmentation (seed P1)", blocks,
                   subtitle="Small CNN: baseline vs a 4x augmented training set (brighter, darker, mirrored, original)")


def locate_data(root: Path) -> Path | None:
    found = cifar10.find_root(root)
    return found[1] if found else None


RECIPE = Recipe(
    name="augment",
    title="Data augmentation on CIFAR-10",
    seed_problem="000 P1",
    Config=Config,
    presets=PRESETS,
    load_data=load_data,
    run_seed=run_seed,
    summarize=summarize,
    report=report,
    locate_data=locate_data,
    description="small CNN, baseline vs 4x augmented set, overlaid validation curves",
)
