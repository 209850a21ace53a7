"""STL-10 in its official binary layout, read through memory maps.

Official layout (https://cs.stanford.edu/~acoates/stl10/, ``sslab data download stl10``)::

    stl10_binary/train_X.bin  train_y.bin      5,000 labelled training images
                 test_X.bin   test_y.bin       8,000 labelled test images
                 unlabeled_X.bin               100,000 unlabelled images (2.7 GB)
                 class_names.txt               one class name a line

Each image is 96x96x3 uint8 stored channel by channel, each channel *column-major*
(the file was written from MATLAB): byte ``c*9216 + x*96 + y`` is channel ``c`` at row
``y``, column ``x``. Labels are one byte each, 1..10; sslab shifts them to 0..9.

The files are opened as ``np.memmap`` and only the images asked for are copied out, so
picking a subset of the unlabelled file never reads (or holds) the whole 2.7 GB.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from sslab.data.images import ImageSet
from sslab.errors import UserError

SIDE = 96
IMAGE_BYTES = 3 * SIDE * SIDE
CLASSES = ("airplane", "bird", "car", "cat", "deer", "dog", "horse", "monkey", "ship", "truck")
FOLDER = "stl10_binary"
SPLITS = {"train": 5000, "test": 8000, "unlabeled": 100_000}
FIX = "get it with `sslab data download stl10 --root DIR` and pass --data DIR"
COPY_CHUNK = 2048  # images copied out of the memory map at a time


def images_memmap(path: Path) -> np.memmap:
    """A read-only (N, 3, 96, 96) view of an ``*_X.bin`` file, in file order (c, x, y)."""
    if not path.is_file():
        raise UserError(f"{path}: STL-10 image file missing; {FIX}")
    size = path.stat().st_size
    if size == 0 or size % IMAGE_BYTES:
        raise UserError(f"{path}: {size} bytes is not a whole number of 96x96x3 images ({IMAGE_BYTES} bytes each); "
                        f"the file is truncated or not STL-10, download it again")
    return np.memmap(path, dtype=np.uint8, mode="r", shape=(size // IMAGE_BYTES, 3, SIDE, SIDE))


def to_nchw(block: np.ndarray) -> torch.Tensor:
    """File-order images (n, c, x, y) -> a contiguous uint8 NCHW tensor (n, c, y, x)."""
    return torch.from_numpy(np.ascontiguousarray(block.transpose(0, 1, 3, 2)))


def take(images: np.memmap, index: np.ndarray) -> torch.Tensor:
    """Copy the images at ``index`` (any order) out of the map as uint8 NCHW.

    Reads in sorted order, chunk by chunk, so the pages touched are only those of the
    chosen images and at most one chunk is held twice.
    """
    index = np.asarray(index, dtype=np.int64)
    out = torch.empty((len(index), 3, SIDE, SIDE), dtype=torch.uint8)
    order = np.argsort(index, kind="stable")
    for start in range(0, len(index), COPY_CHUNK):
        pos = order[start:start + COPY_CHUNK]
        out[torch.from_numpy(pos)] = to_nchw(images[index[pos]])
    return out


def read_labels(path: Path, count: int) -> torch.Tensor:
    """Labels 1..10 as stored, returned as int64 0..9."""
    if not path.is_file():
        raise UserError(f"{path}: STL-10 label file missing; {FIX}")
    raw = np.fromfile(path, dtype=np.uint8)
    if len(raw) != count:
        raise UserError(f"{path}: {len(raw)} labels for {count} images; the pair of files does not match, "
                        "download the data set again")
    if len(raw) and (raw.min() < 1 or raw.max() > 10):
        raise UserError(f"{path}: labels must be 1..10, found {int(raw.min())}..{int(raw.max())}; not an STL-10 label file")
    return torch.from_numpy(raw.astype(np.int64) - 1)


def read_class_names(root: Path) -> tuple[str, ...]:
    path = root / "class_names.txt"
    if not path.is_file():
        return CLASSES
    names = tuple(line.strip() for line in path.read_text(encoding="utf-8", errors="replace").splitlines() if line.strip())
    if len(names) != 10:
        raise UserError(f"{path}: {len(names)} class names, STL-10 has 10; restore the file or delete it")
    return names


def read_split(root: Path, split: str) -> ImageSet:
    """The labelled ``train`` or ``test`` split as an in-memory :class:`ImageSet`."""
    images = images_memmap(root / f"{split}_X.bin")
    labels = read_labels(root / f"{split}_y.bin", len(images))
    return ImageSet(take(images, np.arange(len(images))), labels, read_class_names(root))


def subset_index(total: int, n: int, seed: int) -> np.ndarray:
    """A seeded choice of ``n`` of ``total`` images (all of them, in order, if n is 0 or >= total)."""
    if n <= 0 or n >= total:
        return np.arange(total)
    return np.sort(np.random.default_rng(seed).choice(total, size=n, replace=False))


def read_unlabeled(root: Path, n: int, seed: int) -> torch.Tensor:
    """``n`` seeded unlabelled images (0: all) as uint8 NCHW, read through the memory map."""
    images = images_memmap(root / "unlabeled_X.bin")
    return take(images, subset_index(len(images), n, seed))


def find_root(data_dir: Path) -> Path | None:
    """The folder holding ``train_X.bin``: ``data_dir`` itself or ``data_dir/stl10_binary``."""
    for candidate in (data_dir, data_dir / FOLDER, data_dir / "stl10" / FOLDER):
        if (candidate / "train_X.bin").is_file() or (candidate / "test_X.bin").is_file():
            return candidate
    return None


@dataclass
class STL10:
    train: ImageSet
    test: ImageSet
    unlabeled: torch.Tensor  # uint8 NCHW


def load_stl10(data_dir: Path, unlabeled_subset: int = 0, seed: int = 0) -> STL10:
    """Train, test and a seeded subset of the unlabelled split (0: all 100,000)."""
    root = find_root(data_dir)
    if root is None:
        raise UserError(f"{data_dir}: no STL-10 here (expected {FOLDER}/train_X.bin, train_y.bin, test_X.bin, "
                        f"test_y.bin, unlabeled_X.bin); {FIX}")
    train, test = read_split(root, "train"), read_split(root, "test")
    if train.images.shape[1:] != test.images.shape[1:]:
        raise UserError(f"{root}: train and test images differ in shape")
    return STL10(train, test, read_unlabeled(root, unlabeled_subset, seed))
