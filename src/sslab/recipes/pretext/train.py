"""`pretext`, step by step: the data and its split, the pretext task, then both arms of one seed.

Read top to bottom: :func:`load_data` (CIFAR-10 or made-up scenes, resident on the device)
and :func:`split` (the fixed labeled/unlabeled split), :func:`train_pretext` (the version
classifier on the unlabeled images), :func:`transferred_model` and :func:`transfer_optimizer`
(what the transfer copies and at which rates), :func:`train_labeled` (the 10-class task, from
scratch or transferred), :func:`run_seed` (the steps in order), :func:`draw_examples`.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

import torch

from sslab.data import cifar10, synthetic_images
from sslab.data.images import ImageSet, class_counts
from sslab.errors import UserError
from sslab.recipes import Context, Part
from sslab.recipes.pretext.config import ARMS, LAST_LAYER, Config
from sslab.report import figures
from sslab.train import atomic
from sslab.train.checkpoint import load_model, save_model
from sslab.train.seeding import phase_seed
from sslab.vision.classify import evaluate, train_epoch
from sslab.vision.models import SmallCNN
from sslab.vision.pretext import apply_pretext, pretext_accuracy, pretext_epoch, task_classes


# ---- data ---------------------------------------------------------------------------
@dataclass
class PretextData:
    train: ImageSet
    test: ImageSet
    labeled: torch.Tensor    # indices into train
    unlabeled: torch.Tensor  # indices into train


def labeled_selection(labels: torch.Tensor, cfg: Config) -> str:
    """``last`` or ``stratified``: ``auto`` is ``last`` where the training order mixes the classes (the
    official CIFAR-10 batches, whose last 500 images hold about 50 of each class) and ``stratified``
    where it is grouped by class (an image folder, whose last 500 would all be trucks)."""
    if cfg.labeled_selection != "auto":
        return cfg.labeled_selection
    grouped = bool((labels[1:] >= labels[:-1]).all())
    return "stratified" if grouped else "last"


def split(labels: torch.Tensor, n_classes: int, cfg: Config) -> tuple[torch.Tensor, torch.Tensor]:
    """(labeled, unlabeled) indices, the same for every seed (the seed fixes its 500 images).

    ``last`` is the seed's choice. On an image-folder copy of CIFAR-10, whose order is
    grouped by class, it would label one class only, and is refused; ``stratified`` takes the
    last labeled_size/classes images of every class instead (``auto`` picks, see labeled_selection).
    """
    n = len(labels)
    if cfg.labeled_size >= n:
        raise UserError(f"labeled_size={cfg.labeled_size} must be smaller than the {n} training images")
    if labeled_selection(labels, cfg) == "last":
        labeled = torch.arange(n - cfg.labeled_size, n)
        if n_classes > 1 and len(torch.unique(labels[labeled])) == 1:
            raise UserError(f"labeled_selection=last labels only one class here (the training images are grouped "
                            "by class, as in an image folder); use labeled_selection=stratified or auto")
    else:
        if cfg.labeled_size % n_classes:
            raise UserError(f"labeled_selection=stratified needs labeled_size divisible by the {n_classes} classes "
                            f"(got {cfg.labeled_size}); use e.g. labeled_size={cfg.labeled_size // n_classes * n_classes or n_classes}")
        per_class = cfg.labeled_size // n_classes
        parts = []
        for c in range(n_classes):
            members = torch.nonzero(labels == c).flatten()
            if len(members) <= per_class:
                raise UserError(f"class {c} has {len(members)} training images, too few for {per_class} labeled "
                                "per class plus unlabeled ones; lower labeled_size")
            parts.append(members[-per_class:])
        labeled = torch.cat(parts).sort().values
    is_labeled = torch.zeros(n, dtype=torch.bool)
    is_labeled[labeled] = True
    unlabeled = torch.nonzero(~is_labeled).flatten()
    if cfg.unlabeled_size and cfg.unlabeled_size < len(unlabeled):
        # Evenly spaced rather than the first ones: a class-grouped folder keeps its class mix.
        unlabeled = unlabeled[torch.linspace(0, len(unlabeled) - 1, cfg.unlabeled_size).round().long()]
    return labeled, unlabeled


def load_data(cfg: Config, data_dir: Path | None, device: torch.device) -> PretextData:
    """Training and test images on the device, with the labeled/unlabeled split every seed shares."""
    if data_dir is None:
        train, test = synthetic_images.make_train_test(cfg.synthetic_size, cfg.synthetic_test_size, seed=1234)
    else:
        train, test = cifar10.load_cifar10(data_dir)
    if train.images.shape[-1] != train.images.shape[-2]:
        raise UserError(f"{data_dir}: images are {train.images.shape[-1]}x{train.images.shape[-2]}; the pretext "
                        "rotations need square images (CIFAR-10 is 32x32)")
    labeled, unlabeled = split(train.labels, len(train.classes), cfg)
    if cfg.pretext_model:
        check_pretext_model(Path(cfg.pretext_model), cfg, train.images.shape[-1])
    return PretextData(train.to(device), test.to(device), labeled.to(device), unlabeled.to(device))


def check_pretext_model(path: Path, cfg: Config, image_size: int) -> None:
    """Fail before the run starts if a given pretext model does not fit the pretext task."""
    load_model(path, SmallCNN(len(task_classes(cfg.pretext_task)), image_size),
               made_by="the pretext step of `sslab run pretext`")


# ---- one seed -------------------------------------------------------------------------
def train_pretext(ctx: Context, unlabeled: torch.Tensor, path: Path) -> None:
    """The version classifier on the unlabeled images, saved to ``path`` for the transfer.

    Each epoch it is also scored on every version of the test images: a pretext task it
    cannot learn would leave nothing worth transferring.
    """
    cfg, run, seed, test = ctx.cfg, ctx.run, ctx.seed, ctx.data.test
    dev = unlabeled.device
    k = len(task_classes(cfg.pretext_task))
    torch.manual_seed(phase_seed(seed, "init-pretext"))
    model = SmallCNN(k, unlabeled.shape[-1]).to(dev)
    optimizer = torch.optim.Adam(model.parameters(), lr=cfg.pretext_lr)
    order = torch.Generator().manual_seed(phase_seed(seed, "order-pretext"))
    stage = run.stage(f"seed{seed}/pretext", model=model, optimizer=optimizer, generator=order)
    for epoch in stage.epochs(cfg.pretext_epochs, desc=f"seed {seed} pretext"):
        start = time.perf_counter()
        loss, acc = pretext_epoch(model, optimizer, unlabeled, cfg.pretext_task, cfg.pretext_batch_size, order)
        loss_value = loss.item()  # once per epoch: waits for the device here, not per step
        seconds = time.perf_counter() - start
        test_acc = pretext_accuracy(model, test.images, cfg.pretext_task)
        run.log(seed=seed, phase="pretext", epoch=epoch + 1, train_loss=loss_value, train_acc=acc,
                test_acc=test_acc, train_images=k * len(unlabeled), images_per_s=k * len(unlabeled) / seconds)
        stage.show(pretext_acc=test_acc, loss=loss_value)
    save_model(path, model, {"recipe": "pretext", "task": cfg.pretext_task, "n_classes": k,
                             "classes": list(task_classes(cfg.pretext_task))})


def transferred_model(path: Path, n_classes: int, image_size: int, seed: int) -> SmallCNN:
    """Every layer but the last from the pretext model; the last one He-initialised (by SmallCNN)."""
    model = SmallCNN(n_classes, image_size)
    load_model(path, model, skip=(LAST_LAYER,), made_by=f"the pretext step of `sslab run pretext` (seed {seed})")
    return model


def transfer_optimizer(model: torch.nn.Module, cfg: Config) -> torch.optim.Adam:
    """Per-parameter-group rates: the seed's low rate for what was transferred, 1e-3 for the new layer."""
    new = [p for name, p in model.named_parameters() if name.startswith(LAST_LAYER)]
    transferred = [p for name, p in model.named_parameters() if not name.startswith(LAST_LAYER)]
    if cfg.finetune == "one-rate":
        return torch.optim.Adam([{"params": transferred + new, "lr": cfg.finetune_lr, "name": "all"}])
    if cfg.finetune == "freeze":
        for p in transferred:
            p.requires_grad_(False)
        return torch.optim.Adam([{"params": new, "lr": cfg.lr, "name": "new"}])
    return torch.optim.Adam([{"params": transferred, "lr": cfg.transfer_lr, "name": "transferred"},
                             {"params": new, "lr": cfg.lr, "name": "new"}])


def train_labeled(ctx: Context, arm: str, labeled: ImageSet, pretext_path: Path) -> None:
    """The 10-class task on the labeled images only; test accuracy every eval_every epochs."""
    cfg, run, seed, test = ctx.cfg, ctx.run, ctx.seed, ctx.data.test
    dev = labeled.images.device
    torch.manual_seed(phase_seed(seed, f"init-{arm}"))
    if arm == "transfer":
        model = transferred_model(pretext_path, len(labeled.classes), labeled.images.shape[-1], seed).to(dev)
        optimizer = transfer_optimizer(model, cfg)
    else:
        model = SmallCNN(len(labeled.classes), labeled.images.shape[-1]).to(dev)
        optimizer = torch.optim.Adam(model.parameters(), lr=cfg.lr)
    order = torch.Generator().manual_seed(phase_seed(seed, f"order-{arm}"))
    stage = run.stage(f"seed{seed}/{arm}", every=cfg.eval_every, model=model, optimizer=optimizer, generator=order)
    batch = cfg.batch_size or len(labeled)
    steps_per_epoch = -(-len(labeled) // batch)
    trained_s, trained_epochs = 0.0, 0

    def log(epoch: int, loss: float | None) -> None:
        test_acc, test_loss = evaluate(model, test.images, test.labels)
        train_acc, train_loss = evaluate(model, labeled.images, labeled.labels)
        run.log(seed=seed, phase=arm, epoch=epoch, train_loss=train_loss if loss is None else loss,
                train_acc=train_acc, test_acc=test_acc, test_loss=test_loss,
                steps_per_s=trained_epochs * steps_per_epoch / trained_s if trained_s else None)
        stage.show(test_acc=test_acc)

    for epoch in stage.epochs(cfg.epochs, desc=f"seed {seed} {arm}"):
        if epoch == 0:
            log(0, None)  # where each arm starts: chance for scratch, the new head on pretext features
        start = time.perf_counter()
        loss, _ = train_epoch(model, optimizer, labeled.images, labeled.labels, batch, order)
        finished = epoch + 1
        evaluate_now = finished % cfg.eval_every == 0 or finished == cfg.epochs
        loss_value = loss.item() if evaluate_now else None  # the only host sync between evaluations
        trained_s += time.perf_counter() - start
        trained_epochs += 1
        if evaluate_now:
            log(finished, loss_value)
            trained_s, trained_epochs = 0.0, 0
    save_model(run.checkpoint_path(f"seed{seed}/{arm}-model"), model,
               {"recipe": "pretext", "arm": arm, "n_classes": len(labeled.classes), "classes": list(labeled.classes)})


def parts(cfg: Config) -> list[Part]:
    """The baseline needs nothing of the pretext task; the transfer needs its model, so they share a part.
    Costs count images through the network, roughly (the pretext task sees each unlabeled image in every
    version; synthetic_size stands in for the unlabeled count; a test pass counts a third of a training
    pass): they only order the jobs."""
    pretext = 0 if cfg.pretext_model else cfg.pretext_epochs * cfg.synthetic_size * len(task_classes(cfg.pretext_task))
    arm = cfg.epochs * cfg.labeled_size + cfg.epochs // cfg.eval_every * cfg.synthetic_test_size / 3
    return [Part("pretext", ("pretext", "transfer"), pretext + arm), Part("baseline", ("baseline",), arm)]


def run_seed(ctx: Context) -> None:
    cfg, run, seed, data = ctx.cfg, ctx.run, ctx.seed, ctx.data
    split_file = run.root / "splits" / "labeled.json"
    if not split_file.exists():
        atomic.write_json(split_file, {
            "selection": labeled_selection(data.train.labels, cfg), "labeled": data.labeled.tolist(), "unlabeled_size": len(data.unlabeled),
            "classes": list(data.train.classes),
            "labeled_class_counts": class_counts(data.train.labels[data.labeled], len(data.train.classes))})
    labeled = data.train.subset(data.labeled)
    if cfg.pretext_model:
        pretext_path = Path(cfg.pretext_model)
    else:
        pretext_path = run.checkpoint_path(f"seed{seed}/pretext-model")
        if ctx.runs("pretext"):
            train_pretext(ctx, data.train.images[data.unlabeled], pretext_path)
    for arm in filter(ctx.runs, ARMS):  # each arm seeds itself: the baseline may run in a worker of its own
        train_labeled(ctx, arm, labeled, pretext_path)
    if seed == run.config()["seeds"][0] and ctx.runs("transfer") and not (run.figures / "pretext_examples.png").exists():
        draw_examples(data.train.images[data.unlabeled[:6]].cpu(), cfg.pretext_task,
                      run.figures / "pretext_examples")


def draw_examples(images: torch.Tensor, task: str, stem: Path) -> None:
    """A few unlabeled images in every pretext version, to check the transforms by eye."""
    names = task_classes(task)
    rows = [apply_pretext(images, torch.full((len(images),), v), task) for v in range(len(names))]
    grid = torch.stack(rows).permute(0, 1, 3, 4, 2).numpy()
    figures.image_grid(grid, [f"{v}: {name}" for v, name in enumerate(names)], None, stem,
                       "Pretext classes: each column is one unlabeled image")
