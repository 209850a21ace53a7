"""Semi-supervised image data: a labelled training set, unlabelled images and a test set.

One entry point per source: :func:`read` finds STL-10, CIFAR-10 (either layout) or image
folders under a directory, :func:`made_up_textures` makes sslab's synthetic texture set.
Both return uint8 NCHW images on the CPU and check every problem before a run starts, each
as one line naming the file and the fix.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from sslab.data import cifar10, stl10, synthetic_textures
from sslab.data.images import ImageSet
from sslab.errors import UserError


@dataclass
class SemiSupervisedData:
    """Labelled training images, unlabelled images and the test set, uint8 NCHW."""

    labeled: ImageSet
    unlabeled: torch.Tensor
    test: ImageSet
    source: str  # what the data is, for the report

    @property
    def classes(self) -> list[str]:
        return list(self.labeled.classes)

    def resized(self, size: int) -> "SemiSupervisedData":
        """Every image resized to ``size`` x ``size`` (0: as they are), see :func:`resize_u8`."""
        return SemiSupervisedData(resize_set(self.labeled, size), resize_u8(self.unlabeled, size),
                                  resize_set(self.test, size), self.source)

    def to(self, device: torch.device) -> "SemiSupervisedData":
        return SemiSupervisedData(self.labeled.to(device), self.unlabeled.to(device), self.test.to(device), self.source)


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


def resize_set(images: ImageSet, size: int) -> ImageSet:
    return ImageSet(resize_u8(images.images, size), images.labels, images.classes)


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


def read_unlabeled_folder(folder: Path) -> torch.Tensor:
    """Every image under ``folder`` (any sub-folders), all of one size, as uint8 NCHW."""
    files = sorted(p for p in folder.rglob("*") if p.suffix.lower() in cifar10.IMAGE_SUFFIXES)
    if not files:
        raise UserError(f"{folder}: no images (.png/.jpg) in the unlabelled folder; add some or remove the folder")
    arrays = [cifar10.read_image(f, None) for f in files]
    if len({a.shape for a in arrays}) > 1:
        raise UserError(f"{folder}: unlabelled images have different sizes; resize them to one size first")
    return torch.from_numpy(np.stack(arrays)).permute(0, 3, 1, 2).contiguous()


def made_up_textures(labeled_per_class: int, unlabeled: int, test: int, side: int) -> SemiSupervisedData:
    """sslab's made-up 10-class textures at ``side`` px (fixed seeds: the same set every run)."""
    labeled_set = synthetic_textures.make_images(labeled_per_class * len(synthetic_textures.CLASSES), seed=2201)
    unlabeled_images = synthetic_textures.make_images(unlabeled, seed=2202).images
    test_set = synthetic_textures.make_images(test, seed=2203)
    return SemiSupervisedData(resize_set(labeled_set, side), resize_u8(unlabeled_images, side),
                              resize_set(test_set, side), "made-up textures (sslab's synthetic 10-class texture set)")


def read(data_dir: Path, labeled_per_class: int, unlabeled_subset: int, seed: int) -> SemiSupervisedData:
    """STL-10, else CIFAR-10 (python batches or image folders), else a clear error.

    STL-10 keeps its labelled split (500 per class; fewer when ``labeled_per_class`` asks).
    For CIFAR-10 and image folders ``labeled_per_class`` images per class are the labelled
    set and the rest of the training split is unlabelled, plus an image folder's own
    ``unlabeled/``. ``unlabeled_subset`` (0: all) keeps a seeded choice of the unlabelled images.
    """
    root = stl10.find_root(data_dir)
    if root is not None:
        data = stl10.load_stl10(root, unlabeled_subset, seed=seed)
        labeled = data.train
        if labeled_per_class < 500:
            labeled, _ = split_labeled(labeled, labeled_per_class, seed=seed)
        found = SemiSupervisedData(labeled, data.unlabeled, data.test, f"STL-10 ({root})")
    else:
        found = read_cifar_layout(data_dir, labeled_per_class, unlabeled_subset, seed)
    if found.test.images.shape[1:] != found.labeled.images.shape[1:]:
        raise UserError(f"test images are {tuple(found.test.images.shape[2:])} but training images "
                        f"{tuple(found.labeled.images.shape[2:])}; resize them to one size")
    return found


def read_cifar_layout(data_dir: Path, labeled_per_class: int, unlabeled_subset: int, seed: int) -> SemiSupervisedData:
    """CIFAR-10's python batches, or train/<class>/, test/<class>/ (and optionally unlabeled/) image folders."""
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
    labeled, unlabeled = split_labeled(pool, labeled_per_class, seed=seed)
    if layout == "folder" and (root / "unlabeled").is_dir():
        extra = read_unlabeled_folder(root / "unlabeled")
        if extra.shape[1:] != unlabeled.shape[1:]:
            raise UserError(f"{root / 'unlabeled'}: images are {tuple(extra.shape[2:])}, the labelled ones "
                            f"{tuple(unlabeled.shape[2:])}; make them the same size")
        unlabeled = torch.cat([unlabeled, extra])
    if unlabeled_subset:  # (STL-10 picks its subset inside the memory map, without reading the rest)
        unlabeled = unlabeled[torch.from_numpy(stl10.subset_index(len(unlabeled), unlabeled_subset, seed))]
    source = f"{'CIFAR-10' if layout == 'python' else 'image folders'} ({root})"
    return SemiSupervisedData(labeled, unlabeled, test, source)
