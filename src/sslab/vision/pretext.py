"""The seed's P2 pretext tasks, as batched tensor ops on NCHW images (any dtype).

A pretext task turns every unlabeled image into K versions whose made-up label is the
version: the seed's task has K = 3 (0 original, 1 flipped upside down, 2 rotated 90
degrees counter-clockwise); RotNet (Gidaris et al., 2018) has K = 4 (rotations by 0,
90, 180 and 270 degrees counter-clockwise). The K*N-example set is never materialised:
sample ``i`` is version ``i // N`` of image ``i % N`` (as for the augment recipe's 4x
set), computed per batch. :func:`pretext_epoch` trains on that virtual set and
:func:`pretext_accuracy` scores a version classifier on every version of held-out images.
"""

from __future__ import annotations

from typing import Callable

import numpy as np
import torch

from sslab.data.images import to_signed
from sslab.errors import UserError
from sslab.vision.classify import evaluate, train_epoch

Transform = Callable[[torch.Tensor], torch.Tensor]


def upside_down(x: torch.Tensor) -> torch.Tensor:
    """Flip NCHW images vertically (top row becomes the bottom row), not left-right."""
    return x.flip(-2)


def rotate_ccw(x: torch.Tensor, quarter_turns: int = 1) -> torch.Tensor:
    """Rotate square NCHW images counter-clockwise by ``quarter_turns`` x 90 degrees.

    torch.rot90 from the height axis towards the width axis turns the picture
    counter-clockwise, as numpy.rot90 does: the top-right pixel ends at the top-left.
    """
    return torch.rot90(x, quarter_turns, dims=(-2, -1))


TASKS: dict[str, tuple[tuple[str, Transform], ...]] = {
    # The seed: class 0 original, class 1 upside down, class 2 rotated 90 degrees counter-clockwise.
    "flip-rotate": (("original", lambda x: x), ("upside down", upside_down), ("rotated 90° ccw", rotate_ccw)),
    # RotNet: the four rotations; 180 degrees differs from upside down by a left-right mirror.
    "rotnet": (("0°", lambda x: x), ("90° ccw", rotate_ccw), ("180°", lambda x: rotate_ccw(x, 2)),
               ("270° ccw", lambda x: rotate_ccw(x, 3))),
}


def task_classes(task: str) -> tuple[str, ...]:
    return tuple(name for name, _ in _task(task))


def _task(task: str) -> tuple[tuple[str, Transform], ...]:
    if task not in TASKS:
        raise UserError(f"unknown pretext task {task!r}; choose one of {', '.join(TASKS)}")
    return TASKS[task]


def apply_pretext(x: torch.Tensor, version: torch.Tensor, task: str = "flip-rotate") -> torch.Tensor:
    """Version ``version[k]`` of image ``x[k]`` for a batch; ``version`` holds pretext labels.

    Every version is computed for the whole batch and picked with ``torch.where``: on
    32x32 images that costs less than the network, and it never waits for the device
    (boolean indexing would).
    """
    if x.shape[-1] != x.shape[-2]:
        raise UserError(f"pretext rotations need square images; these are {x.shape[-1]}x{x.shape[-2]} "
                        "(resize them to a square, e.g. 32x32)")
    v = version.view(-1, *([1] * (x.ndim - 1)))
    out = x
    for label, (_, transform) in enumerate(_task(task)):
        if label:
            out = torch.where(v == label, transform(x), out)
    return out


def pretext_labels(sample: torch.Tensor, n_images: int) -> torch.Tensor:
    """The made-up label of each sample of the virtual K*N set: its version, ``sample // N``."""
    return torch.div(sample, n_images, rounding_mode="floor")


def materialise(x: torch.Tensor, task: str = "flip-rotate") -> tuple[torch.Tensor, torch.Tensor]:
    """The whole K*N pretext set as tensors (for tests and figures only; training never builds it)."""
    k = len(_task(task))
    sample = torch.arange(k * len(x), device=x.device)
    return apply_pretext(x[sample % len(x)], pretext_labels(sample, len(x)), task), pretext_labels(sample, len(x))


def pretext_epoch(model: torch.nn.Module, optimizer: torch.optim.Optimizer, images: torch.Tensor, task: str,
                  batch_size: int, generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    """One pass over the virtual K*N pretext set; (mean loss, accuracy) as 0-d tensors.

    Sample i is image i % N in version i // N, and its label is that version.
    """
    n, k = len(images), len(task_classes(task))
    versions = pretext_labels(torch.arange(k * n, device=images.device), n)

    def as_version(batch: torch.Tensor, sample: torch.Tensor) -> torch.Tensor:
        return to_signed(apply_pretext(batch, versions[sample], task))

    return train_epoch(model, optimizer, images, versions, batch_size, generator, virtual_size=k * n,
                       transform=as_version)


def pretext_accuracy(model: torch.nn.Module, images: torch.Tensor, task: str) -> float:
    """Accuracy of the version classifier on every version of held-out images."""
    def as_version(version: int):
        def transform(batch: torch.Tensor) -> torch.Tensor:
            return to_signed(apply_pretext(batch, torch.full((len(batch),), version, device=batch.device), task))
        return transform

    accs = []
    for version in range(len(task_classes(task))):
        target = torch.full((len(images),), version, device=images.device)
        accs.append(evaluate(model, images, target, transform=as_version(version))[0])
    return float(np.mean(accs))
