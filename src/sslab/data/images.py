"""An image data set held in memory as uint8 tensors, and the conversions every model uses."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import torch


@dataclass
class ImageSet:
    """Images as uint8 NCHW (kept that way until a batch is taken), labels as int64."""

    images: torch.Tensor
    labels: torch.Tensor
    classes: Sequence[str]

    def __post_init__(self) -> None:
        assert self.images.dtype == torch.uint8 and self.images.ndim == 4, "images must be uint8 NCHW"
        assert len(self.images) == len(self.labels)

    def __len__(self) -> int:
        return len(self.labels)

    def subset(self, index: torch.Tensor) -> "ImageSet":
        return ImageSet(self.images[index], self.labels[index], self.classes)

    def to(self, device: torch.device | str) -> "ImageSet":
        return ImageSet(self.images.to(device), self.labels.to(device), self.classes)


def to_unit(images_u8: torch.Tensor) -> torch.Tensor:
    """uint8 [0, 255] -> float [0, 1] (0 black, 1 white)."""
    return images_u8.float().div_(255.0)


def unit_to_signed(x: torch.Tensor) -> torch.Tensor:
    """[0, 1] -> [-1, 1], so the network's input is centred on 0."""
    return x.mul(2.0).sub_(1.0)


def to_signed(images_u8: torch.Tensor) -> torch.Tensor:
    return unit_to_signed(to_unit(images_u8))


def class_counts(labels: torch.Tensor, n_classes: int) -> list[int]:
    return torch.bincount(labels.cpu(), minlength=n_classes).tolist()


def one_per_class(labels: torch.Tensor, n: int) -> torch.Tensor:
    """Indices of the first image of each class, in class order, at most ``n``: examples that show
    different classes even when the set is grouped by class (an image folder read class by class)."""
    labels = labels.cpu()
    firsts = [int(torch.nonzero(labels == k)[0]) for k in torch.unique(labels).tolist()]
    return torch.tensor(firsts[:n], dtype=torch.long)
