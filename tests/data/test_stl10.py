"""The STL-10 reader on small files written in the exact official binary layout."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from sslab.data import stl10
from sslab.errors import UserError


def write_images(path, nhwc: np.ndarray) -> None:
    """Write images the way the official files store them: per channel, column-major."""
    # (n, y, x, c) -> (n, c, x, y): the channel outermost, then the column, then the row.
    nhwc.transpose(0, 3, 2, 1).astype(np.uint8).tofile(path)


def make_split(root, split: str, n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    images = rng.integers(0, 256, size=(n, 96, 96, 3), dtype=np.uint8)
    write_images(root / f"{split}_X.bin", images)
    labels = None
    if split != "unlabeled":
        labels = rng.integers(1, 11, size=n, dtype=np.uint8)
        labels[:2] = (1, 10)
        labels.tofile(root / f"{split}_y.bin")
    return images, labels


@pytest.fixture
def stl_root(tmp_path):
    root = tmp_path / "stl10_binary"
    root.mkdir()
    parts = {s: make_split(root, s, n, i) for i, (s, n) in enumerate((("train", 6), ("test", 4), ("unlabeled", 20)))}
    (root / "class_names.txt").write_text("\n".join(stl10.CLASSES) + "\n")
    return root, parts


def test_image_read_back_pixel_exact_and_labels_shifted(stl_root):
    root, parts = stl_root
    data = stl10.load_stl10(root.parent)
    images, labels = parts["train"]
    assert data.train.images.dtype == torch.uint8 and data.train.images.shape == (6, 3, 96, 96)
    # NCHW read-back equals the NHWC images that were written, pixel for pixel.
    assert torch.equal(data.train.images.permute(0, 2, 3, 1), torch.from_numpy(images))
    assert data.train.labels.tolist() == (labels.astype(int) - 1).tolist()
    assert data.train.labels.min() == 0 and data.train.labels.max() == 9
    assert torch.equal(data.test.images.permute(0, 2, 3, 1), torch.from_numpy(parts["test"][0]))
    assert tuple(data.train.classes) == stl10.CLASSES


def test_orientation_is_rows_then_columns(tmp_path):
    # One bright pixel at row 3, column 70 of channel 1: the byte sits at c*9216 + x*96 + y.
    raw = np.zeros(stl10.IMAGE_BYTES, dtype=np.uint8)
    raw[1 * 9216 + 70 * 96 + 3] = 255
    raw.tofile(tmp_path / "train_X.bin")
    img = stl10.take(stl10.images_memmap(tmp_path / "train_X.bin"), np.array([0]))[0]
    assert img[1, 3, 70] == 255 and int(img.sum()) == 255


def test_unlabeled_subset_is_seeded_and_exact(stl_root):
    root, parts = stl_root
    a = stl10.load_stl10(root, unlabeled_subset=7, seed=3)
    b = stl10.load_stl10(root, unlabeled_subset=7, seed=3)
    c = stl10.load_stl10(root, unlabeled_subset=7, seed=4)
    assert a.unlabeled.shape == (7, 3, 96, 96)
    assert torch.equal(a.unlabeled, b.unlabeled) and not torch.equal(a.unlabeled, c.unlabeled)
    index = stl10.subset_index(20, 7, 3)
    expected = torch.from_numpy(parts["unlabeled"][0][index]).permute(0, 3, 1, 2)
    assert torch.equal(a.unlabeled, expected)
    assert stl10.load_stl10(root, unlabeled_subset=0).unlabeled.shape[0] == 20


def test_take_keeps_the_requested_order(stl_root):
    root, parts = stl_root
    mm = stl10.images_memmap(root / "unlabeled_X.bin")
    index = np.array([9, 2, 15, 2])
    got = stl10.take(mm, index)
    assert torch.equal(got.permute(0, 2, 3, 1), torch.from_numpy(parts["unlabeled"][0][index]))


@pytest.mark.parametrize("damage, message", [
    (lambda r: (r / "train_y.bin").unlink(), "label file missing"),
    (lambda r: (r / "test_X.bin").write_bytes(b"\0" * 100), "not a whole number"),
    (lambda r: np.array([1, 2, 3], np.uint8).tofile(r / "train_y.bin"), "3 labels for 6 images"),
    (lambda r: np.array([0, 1, 2, 3, 4, 5], np.uint8).tofile(r / "train_y.bin"), "labels must be 1..10"),
    (lambda r: (r / "class_names.txt").write_text("a\nb\n"), "2 class names"),
    (lambda r: (r / "unlabeled_X.bin").unlink(), "image file missing"),
])
def test_damaged_files_raise_user_errors(stl_root, damage, message):
    root, _ = stl_root
    damage(root)
    with pytest.raises(UserError, match=message):
        stl10.load_stl10(root.parent)


def test_missing_data_set_names_the_download(tmp_path):
    with pytest.raises(UserError, match="sslab data download stl10"):
        stl10.load_stl10(tmp_path)


def test_download_spec_is_the_official_one():
    from sslab.data.download import DATASETS

    spec = DATASETS["stl10"]
    assert spec.url == "http://ai.stanford.edu/~acoates/stl10/stl10_binary.tar.gz"
    assert spec.md5 == "91f7769df0f17e558f3565bffb0c7dfb" and spec.extracted == stl10.FOLDER
