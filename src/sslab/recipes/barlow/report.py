"""`barlow`'s summary, figures and report section (steps 6 and 7 of the seed), read from the run
directory alone: the result records, the pre-training curves, the label-ratio study and the
t-SNE maps written during pre-training."""

from __future__ import annotations

import json
import numpy as np

from sslab.recipes.barlow.config import METHODS
from sslab.report import embedding_maps, figures, records, stats
from sslab.report.document import Figure, Math, Section, Slider, Table, Text
from sslab.train.rundir import Run

METHOD_TEXT = {
    "supervised": "supervised baseline (labelled images only)",
    "linear probe": "linear probe on the frozen Barlow Twins encoder",
    "fine-tune": "Barlow Twins pre-training, then fine-tuning on the labels",
    "joint": "joint objective: cross-entropy + weighted Barlow Twins",
}
MADE_UP_TEXT = ("made-up textures (sslab's synthetic 10-class set: the class is a surface pattern filling the frame, "
                "with random colours, period, phase, shading and an occluding blob, so it survives the crops, flips "
                "and colour changes of the two views while colour alone tells nothing)")


def results(run: Run) -> dict[str, dict[float, list[float]]]:
    """method -> fraction -> test accuracy per seed (seeds in order)."""
    out: dict[str, dict[float, list[float]]] = {m: {} for m in METHODS}
    for seed_records in records.by_seed(run, "result"):
        for r in seed_records:
            out[r["method"]].setdefault(float(r["fraction"]), []).append(r["test_acc"])
    return out


def summarize(run: Run) -> dict:
    conf = run.config()
    cfg, seeds = conf["config"], conf["seeds"]
    res = results(run)
    fractions = sorted({f for m in res.values() for f in m})
    main, small = max(fractions), min(fractions)

    # Pre-training: loss and kNN accuracy per epoch, mean and band over seeds.
    fig, (ax1, ax2) = figures.plt.subplots(1, 2, figsize=(10, 3.6), dpi=110)
    epochs, losses = records.seed_curves(run, "pretrain", "loss")
    figures.band(ax1, epochs, losses, "Barlow Twins loss", figures.COLORS[0])
    ax1.set_xlabel("epoch")
    ax1.set_ylabel("loss")
    ax1.set_yscale("log")
    ax1.grid(alpha=0.3)
    ax1.legend()
    snapshots, knn = records.seed_curves(run, "snapshot", "knn_acc")
    figures.band(ax2, snapshots, [[a * 100 for a in k] for k in knn], f"{cfg['knn_k']}-NN accuracy", figures.COLORS[1])
    ax2.set_xlabel("pre-training epoch")
    ax2.set_ylabel("test accuracy (%)")
    ax2.grid(alpha=0.3)
    ax2.legend()
    figures.save(fig, run.figures / "pretrain")

    # Step 7, the label-ratio study.
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

    table = {method: {str(f): stats.mean_ci_entry(res[method][f]) for f in fractions} for method in METHODS}
    knn_gain = [k[-1] - k[0] for k in knn]

    def gain_over_supervised(method: str) -> list[float]:
        return [a - b for a, b in zip(res[method][small], res["supervised"][small])]

    claims = [
        stats.claim(f"Barlow Twins pre-training then fine-tuning beats the supervised baseline with {small * 100:g}% "
                    "of the labels (accuracy points)", gain_over_supervised("fine-tune"), scale=100),
        stats.claim(f"The joint objective beats the supervised baseline with {small * 100:g}% of the labels "
                    "(accuracy points)", gain_over_supervised("joint"), scale=100),
        stats.claim(f"A linear probe on the frozen Barlow Twins encoder beats the supervised baseline with "
                    f"{small * 100:g}% of the labels (accuracy points)", gain_over_supervised("linear probe"),
                    scale=100),
        stats.claim(f"Semi-supervised (the better of fine-tune and joint) beats both the supervised baseline and "
                    f"the linear probe with {small * 100:g}% of the labels (points over the better of the two)",
                    [max(f, j) - max(b, p) for f, j, b, p in zip(res["fine-tune"][small], res["joint"][small],
                                                                  res["supervised"][small], res["linear probe"][small])],
                    scale=100),
        stats.claim("The representation improves during Barlow Twins pre-training (kNN accuracy points, last "
                    "snapshot minus the random initialisation)", knn_gain, scale=100),
    ]
    acc = {mth: table[mth][str(main)] for mth in METHODS}
    best = max(METHODS, key=lambda mth: acc[mth]["mean"])
    text = (f"With {main * 100:g}% of the labels, test accuracy is "
            + ", ".join(f"{mth} {stats.fmt_entry(acc[mth], 1, 100)}%" for mth in METHODS)
            + f" ({stats.seeds_phrase(len(seeds))}); {best} is best. With {small * 100:g}% of the "
            f"labels: " + ", ".join(f"{mth} {table[mth][str(small)]['mean'] * 100:.1f}%" for mth in METHODS) + ".")
    speed = [r["images_per_s"] for r in run.select(phase="pretrain")]
    return {
        "text": text,
        "headline": {
            **{f"{mth.replace(' ', '_').replace('-', '')}_test_acc": acc[mth] for mth in METHODS},
            "knn_gain_points": stats.mean_ci_entry(knn_gain, scale=100),
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
    rows = [[METHOD_TEXT[m], stats.fmt_entry(table[m][str(main)], 1, 100)] for m in METHODS]
    ratio_rows = [[m] + [stats.fmt_entry(table[m][str(f)], 1, 100) for f in fractions] for m in METHODS]
    frames = sorted(run.figures.glob("tsne_epoch*.png"))
    labels = [f"epoch {int(p.stem.removeprefix('tsne_epoch'))}" for p in frames]
    knn_rows = {r["epoch"]: r["knn_acc"] for r in run.select(seed=conf["seeds"][0], phase="snapshot")}
    labels = [f"{lab}: kNN accuracy {knn_rows.get(int(lab.split()[1]), float('nan')) * 100:.1f}%" for lab in labels]
    h = s["headline"]
    blocks = [
        Table(["method", f"test accuracy (%), {main * 100:g}% of the labels"], rows,
              f"Steps 1, 4 and 5 of the assignment; " + (f"mean ± 95% CI over {len(conf['seeds'])} seeds."
                                                          if len(conf["seeds"]) > 1 else "one seed, so no interval.")),
        Table(["method"] + [f"{f * 100:g}%" for f in fractions], ratio_rows,
              "Test accuracy (%) for each labelled fraction (class-balanced, nested subsets)."),
        Figure(run.figures / "label_ratio.png", f"The label-ratio study: one line per method ({stats.band_phrase(len(conf['seeds']))})."),
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
            Slider(frames, labels, "The same maps one by one through pre-training."),
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
    ]
    return Section("Barlow Twins, linear probe and semi-supervised learning (assignment 2.2)", blocks,
                   subtitle="Self-supervised pre-training on unlabelled images; t-SNE of the embedding as it trains; "
                            "supervised vs linear probe vs fine-tuning vs a joint objective across label fractions")


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


def draw_tsne(run: Run) -> None:
    """Step 3's t-SNE maps (first seed), from ``tsne/epoch*.json``: a row of panels and one image per snapshot."""
    frames = [json.loads(p.read_text()) for p in sorted((run.root / "tsne").glob("epoch*.json"))]
    if not frames:
        return
    titles = [f"epoch {frame['epoch']}  kNN {frame['knn_acc'] * 100:.1f}%" for frame in frames]
    embedding_maps.draw(frames, frames[0]["classes"], titles, run.figures / "tsne_row",
                        [run.figures / f"tsne_epoch{frame['epoch']:05d}" for frame in frames])
