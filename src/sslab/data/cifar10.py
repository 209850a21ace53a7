"""CIFAR-10 readers: the official python layout and an image-folder layout.

Official layout (https://www.cs.toronto.edu/~kriz/cifar.html)::

    cifar-10-batches-py/data_batch_1 ... data_batch_5, test_batch, batches.meta

Each batch is a pickled dict with ``data`` (10000 x 3072 uint8, channel-major rows) and
``labels``. Pickle can run arbitrary code, so the reader uses an unpickler that only
admits the handful of NumPy constructors the format needs.

Image-folder layout (how ``../shared/data/cifar10-jpeg.tar.gz`` unpacks)::

    ROOT/train/<class>/*.png|jpg   ROOT/test/<class>/*.png|jpg
"""

from __future__ import annotations

import io
import pickle
from pathlib import Path
from typing import Any

import numpy as np
import torch

from sslab.data.images import ImageSet
from sslab.errors import UserError

CLASSES = ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck")
TRAIN_BATCHES = tuple(f"data_batch_{i}" for i in range(1, 6))
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp")


def _multiarray():
    core = getattr(np, "_core", None)  # NumPy 2 renamed numpy.core to numpy._core
    return core.multiarray if core is not None else np.core.multiarray


def _frombuffer(buf: Any, dtype: Any, shape: Any, order: Any) -> np.ndarray:
    """How protocol 5 stores an ndarray (NumPy's ``_frombuffer``), with every argument checked:
    plain bytes, a non-object dtype, a shape of whole numbers, so nothing but an array comes out."""
    if isinstance(buf, pickle.PickleBuffer):
        buf = buf.raw()
    if (not isinstance(buf, (bytes, bytearray, memoryview)) or not isinstance(dtype, np.dtype) or dtype.hasobject
            or not isinstance(shape, tuple) or not all(isinstance(n, int) for n in shape) or order not in ("C", "F")):
        raise pickle.UnpicklingError("malformed array")
    return np.frombuffer(bytes(buf), dtype=dtype).reshape(shape, order=order).copy()


class _NumpyOnlyUnpickler(pickle.Unpickler):
    """Admit only what a CIFAR batch pickle contains: dicts, lists, bytes and ndarrays
    (written with any protocol, 2 to 5); nothing is executed."""

    def find_class(self, module: str, name: str) -> Any:
        if name == "_frombuffer" and module in ("numpy.core.numeric", "numpy._core.numeric"):
            return _frombuffer
        if name == "_reconstruct" and module in ("numpy.core.multiarray", "numpy._core.multiarray"):
            return _multiarray()._reconstruct
        if module == "_codecs" and name == "encode":  # how protocol 2 stores bytes when written by Python 3
            import codecs

            return codecs.encode
        if module == "numpy" and name in ("ndarray", "dtype"):
            return getattr(np, name)
        if name == "scalar" and module in ("numpy.core.multiarray", "numpy._core.multiarray"):
            return _multiarray().scalar
        raise pickle.UnpicklingError(f"refusing to load {module}.{name}")


def _read_batch(path: Path) -> tuple[np.ndarray, np.ndarray]:
    if not path.is_file():
        raise UserError(f"{path}: CIFAR-10 batch file missing; re-download with `sslab data download cifar10`")
    try:
        raw = _NumpyOnlyUnpickler(io.BytesIO(path.read_bytes()), encoding="bytes").load()
    except Exception as exc:  # any unpickling failure means the file is damaged or not CIFAR
        raise UserError(f"{path}: not a readable CIFAR-10 batch ({exc}); re-download with `sslab data download cifar10`") from None
    if not isinstance(raw, dict):
        raise UserError(f"{path}: not a CIFAR-10 batch (no dict inside)")
    batch = {(k.decode() if isinstance(k, bytes) else k): v for k, v in raw.items()}
    data, labels = batch.get("data"), batch.get("labels")
    if not isinstance(data, np.ndarray) or data.dtype != np.uint8 or data.ndim != 2 or data.shape[1] != 3072:
        raise UserError(f"{path}: 'data' is not an N x 3072 uint8 array; the file is not CIFAR-10")
    try:
        labels = np.asarray(labels)
        if labels.dtype.kind not in "iu":
            raise ValueError
        labels = labels.astype(np.int64)
    except (ValueError, TypeError):
        raise UserError(f"{path}: 'labels' are not whole numbers 0..9; the file is not CIFAR-10") from None
    if labels.shape != (data.shape[0],) or labels.min(initial=0) < 0 or labels.max(initial=0) > 9:
        raise UserError(f"{path}: 'labels' do not match 'data' (need {data.shape[0]} labels in 0..9)")
    return data.reshape(-1, 3, 32, 32), labels


def read_python_layout(root: Path) -> tuple[ImageSet, ImageSet]:
    """(train, test) from ``cifar-10-batches-py``."""
    parts = [_read_batch(root / name) for name in TRAIN_BATCHES]
    train_x = np.concatenate([p[0] for p in parts])
    train_y = np.concatenate([p[1] for p in parts])
    test_x, test_y = _read_batch(root / "test_batch")
    return (ImageSet(torch.from_numpy(train_x), torch.from_numpy(train_y), CLASSES),
            ImageSet(torch.from_numpy(test_x), torch.from_numpy(test_y), CLASSES))


def read_image(path: Path, size: int | None) -> np.ndarray:
    """One image file as uint8 HWC RGB; with ``size``, anything not ``size`` x ``size`` is refused."""
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as im:
            # The size is in the header: a wrong (or decompression-bomb) size is refused before decoding.
            if size is not None and im.size != (size, size):
                raise UserError(f"{path}: image is {im.size[0]}x{im.size[1]}, expected {size}x{size}; "
                                "resize the folder's images or remove this one")
            arr = np.asarray(im.convert("RGB"))
    except (UnidentifiedImageError, OSError, ValueError, Image.DecompressionBombError) as exc:
        raise UserError(f"{path}: not a readable image ({exc}); remove or replace it") from None
    return arr


def read_image_folder(split_dir: Path, classes: tuple[str, ...] | None = None, size: int | None = 32) -> ImageSet:
    """Every image under ``split_dir/<class>/``; classes sorted by name unless given."""
    if not split_dir.is_dir():
        raise UserError(f"{split_dir}: folder missing; an image-folder data set needs train/<class>/ and test/<class>/")
    found = tuple(sorted(p.name for p in split_dir.iterdir() if p.is_dir()))
    if not found:
        raise UserError(f"{split_dir}: no class folders inside; expected {split_dir}/<class>/<image files>")
    if classes is not None:
        missing = [c for c in classes if c not in found]
        if missing:
            raise UserError(f"{split_dir}: class folder {missing[0]!r} is missing (the training split has it); "
                            "every split needs the same class folders")
    classes = classes or found
    images, labels = [], []
    for label, name in enumerate(classes):
        files = sorted(p for p in (split_dir / name).iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
        if not files:
            raise UserError(f"{split_dir / name}: no images (.png/.jpg) in this class folder")
        for f in files:
            images.append(read_image(f, size))
        labels.extend([label] * len(files))
    if size is None and len({im.shape for im in images}) > 1:
        raise UserError(f"{split_dir}: images have different sizes; resize them to one size first")
    x = torch.from_numpy(np.stack(images)).permute(0, 3, 1, 2).contiguous()
    return ImageSet(x, torch.tensor(labels, dtype=torch.int64), classes)


def find_root(data_dir: Path) -> tuple[str, Path] | None:
    """Find a CIFAR-10 copy in or under ``data_dir``: ('python'|'folder', path)."""
    for candidate in (data_dir, data_dir / "cifar-10-batches-py", data_dir / "cifar10", data_dir / "cifar10-jpeg",
                      data_dir / "cifar10" / "cifar-10-batches-py"):
        if (candidate / "data_batch_1").is_file() or (candidate / "test_batch").is_file():
            return "python", candidate
        if (candidate / "train").is_dir() and (candidate / "test").is_dir():
            return "folder", candidate
    return None


def locate(data_dir: Path) -> Path | None:
    """The folder of a CIFAR-10 copy (either layout) in or under ``data_dir``, or None."""
    found = find_root(data_dir)
    return found[1] if found else None


def load_cifar10(data_dir: Path) -> tuple[ImageSet, ImageSet]:
    """(train, test) from either layout, with one clear error if neither is there."""
    found = find_root(data_dir)
    if found is None:
        raise UserError(
            f"{data_dir}: no CIFAR-10 here; expected cifar-10-batches-py/data_batch_1..5 + test_batch, "
            "or train/<class>/ and test/<class>/ image folders (get it with `sslab data download cifar10 --root DIR`)"
        )
    layout, root = found
    if layout == "python":
        return read_python_layout(root)
    train = read_image_folder(root / "train")
    extra = sorted({p.name for p in (root / "test").iterdir() if p.is_dir()} - set(train.classes))
    if extra:
        raise UserError(f"{root / 'test' / extra[0]}: class folder with no counterpart in {root / 'train'}; every "
                        "split needs the same class folders (add it to train/ or remove it from test/)")
    test = read_image_folder(root / "test", classes=tuple(train.classes))
    return train, test
