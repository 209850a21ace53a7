"""`augment`'s summary, figures and report section, read from the run directory alone."""

from __future__ import annotations

import numpy as np

from sslab.recipes.augment.config import ARMS
from sslab.report import figures, records, stats
from sslab.report.document import Figure, Section, Table, Text
from sslab.train import atomic
from sslab.train.checkpoint import read_model_meta
from sslab.train.rundir import Run
from sslab.vision.models import SmallCNN, count_parameters


def summarize(run: Run) -> dict:
    final, best = {}, {}
    fig, ax = figures.new_figure()
    for arm, color in zip(ARMS, figures.COLORS):
        epochs, accs = records.seed_curves(run, arm, "val_acc")
        final[arm] = [a[-1] for a in accs]
        best[arm] = [max(a) for a in accs]
        figures.band(ax, epochs, np.asarray(accs) * 100, arm, color)
    ax.set_xlabel("epoch")
    ax.set_ylabel("validation accuracy (%)")
    ax.set_title("Baseline vs 4x augmented training set")
    meta = read_model_meta(run.checkpoint_path(f"seed{run.config()['seeds'][0]}/baseline-model"))
    figures.chance_line(ax, 100 / int(meta["n_classes"]))
    ax.legend()
    figures.save(fig, run.figures / "val_accuracy")

    gains = [a - b for a, b in zip(final["augmented"], final["baseline"])]
    c = stats.claim("Augmentation improves final validation accuracy (points)", gains, scale=100, digits=1)
    baseline, augmented = stats.mean_ci_entry(final["baseline"]), stats.mean_ci_entry(final["augmented"])
    n = len(gains)
    verb = "raised" if c["mean"] > 0 else "lowered" if c["mean"] < 0 else "did not change"
    text = (f"Augmentation {verb} final validation accuracy from "
            f"{stats.fmt_entry(baseline, 1, 100)}% to {stats.fmt_entry(augmented, 1, 100)}% "
            f"({'+' if c['mean'] >= 0 else ''}{c['shown']} points over {stats.seeds_phrase(n)}); "
            f"{stats.verdict_phrase(c)}.")
    speed = [r["images_per_s"] for r in run.records() if "images_per_s" in r]
    return {
        "text": text,
        "data": data_label(run),
        "headline": {
            "baseline_final_val_acc": baseline,
            "augmented_final_val_acc": augmented,
            "baseline_best_val_acc": stats.mean_ci_entry(best["baseline"]),
            "augmented_best_val_acc": stats.mean_ci_entry(best["augmented"]),
            "gain_points": stats.mean_ci_entry(gains, scale=100),
            "train_images_per_s": float(np.median(speed)) if speed else None,
        },
        "claims": [c],
        "per_seed": {"final": final, "best": best},
    }


def data_label(run: Run) -> str:
    """What the claims were tested on: the data set and its split sizes (from the run's split files)."""
    conf = run.config()
    split = atomic.read_json(run.root / "splits" / f"seed{conf['seeds'][0]}.json", "re-run the recipe")
    sizes = f"{len(split['train']):,} training / {len(split['validation']):,} validation images"
    return f"CIFAR-10 ({conf['data']}): {sizes}" if conf["data"] else f"made-up scenes: {sizes}"


def report(run: Run) -> Section:
    s = run.summary()
    conf = run.config()
    cfg = conf["config"]
    h = s["headline"]
    rows = [[arm, stats.fmt_entry(h[f"{arm}_final_val_acc"], 1, 100), f"{h[f'{arm}_best_val_acc']['mean'] * 100:.1f}"]
            for arm in ARMS]
    data = conf["data"] or "made-up scenes (sslab's synthetic 10-class set)"
    blocks = [
        Table(["arm", "final validation accuracy (%)", "best (%)"], rows,
              f"{stats.seeds_phrase(len(conf['seeds']))}, {cfg['epochs']} epochs each"
              + ("; ± is a 95% confidence interval" if len(conf["seeds"]) > 1 else "")),
        Figure(run.figures / "val_accuracy.png",
               f"Validation accuracy after every epoch ({stats.band_phrase(len(conf['seeds']))})."),
        Figure(run.figures / "augmented_examples.png", "Each column is one training image; rows are its four versions."),
        Text(f"Network: the assignment's small CNN (two 5x5 conv layers of 10 kernels with 2x2 max-pooling, "
             f"fully connected 250-20-10, ReLU, He init), {count_parameters(SmallCNN())} parameters; Adam, "
             f"learning rate {cfg['lr']}, batch {cfg['batch_size']}. Data: {data}; {cfg['val_size']} images "
             f"held out for validation (indices in `splits/`). Training speed: "
             f"{h['train_images_per_s'] or 0:,.0f} images/s on {conf['device']}."),
    ]
    return Section("Data augmentation (assignment P1)", blocks,
                   subtitle="Small CNN: baseline vs a 4x augmented training set (brighter, darker, mirrored, original)")
