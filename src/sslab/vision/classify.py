"""A classifier's training epoch and evaluation over resident uint8 images.

Batches are slices of tensors that already live on the device; the per-batch loss is
accumulated on the device and read once per epoch, so no step waits on the host.
"""

from __future__ import annotations

from typing import Callable

import torch
from torch import nn

from sslab.data.images import to_signed

# (uint8 batch NCHW, index of each sample in the epoch's sample space) -> network input
BatchTransform = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]


def train_epoch(model: nn.Module, optimizer: torch.optim.Optimizer, images: torch.Tensor, labels: torch.Tensor,
                batch_size: int, generator: torch.Generator, *, virtual_size: int | None = None,
                transform: BatchTransform | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """One pass over a shuffled sample space; returns (mean loss, training accuracy) as 0-d tensors.

    ``virtual_size`` (a multiple of ``len(images)``) lets a transform define a larger
    set, e.g. the 4x augmented set: sample ``i`` is image ``i % N`` seen through
    ``transform(batch, i)``. ``labels`` holds one label per image, or one per sample of
    the virtual set when the label depends on the version (the pretext task's label is
    the version itself). Shuffling uses ``generator`` so a resumed run repeats it.
    """
    model.train()
    n = len(images)
    size = virtual_size or n
    if len(labels) not in (n, size):
        raise ValueError(f"{len(labels)} labels for {n} images and {size} samples")
    per_sample = len(labels) == size
    order = torch.randperm(size, generator=generator).to(images.device)
    total = torch.zeros((), device=images.device)
    correct = torch.zeros((), device=images.device)
    steps = 0
    for start in range(0, size, batch_size):
        idx = order[start:start + batch_size]
        src = idx % n if size != n else idx
        x = images[src]
        x = transform(x, idx) if transform is not None else to_signed(x)
        target = labels[idx] if per_sample else labels[src]
        logits = model(x)
        loss = nn.functional.cross_entropy(logits, target)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        total += loss.detach()
        correct += (logits.detach().argmax(1) == target).sum()
        steps += 1
    return total / max(steps, 1), correct / size


@torch.no_grad()
def evaluate(model: nn.Module, images: torch.Tensor, labels: torch.Tensor, batch_size: int = 4096,
             transform: Callable[[torch.Tensor], torch.Tensor] = to_signed) -> tuple[float, float]:
    """(accuracy, mean cross-entropy) over a resident set, in large batches."""
    model.eval()
    correct = torch.zeros((), device=images.device)
    loss = torch.zeros((), device=images.device)
    for start in range(0, len(images), batch_size):
        x = transform(images[start:start + batch_size])
        y = labels[start:start + batch_size]
        logits = model(x)
        correct += (logits.argmax(1) == y).sum()
        loss += nn.functional.cross_entropy(logits, y, reduction="sum")
    n = max(len(images), 1)
    return correct.item() / n, loss.item() / n
