import pickle

import numpy as np
import pytest
import torch
from PIL import Image

from sslab.data import cifar10
from sslab.errors import UserError


def write_batch(path, n, seed, labels=None):
    rng = np.random.default_rng(seed)
    data = rng.integers(0, 256, (n, 3072), dtype=np.uint8)
    labels = list(rng.integers(0, 10, n)) if labels is None else labels
    with open(path, "wb") as fh:
        # The official files are Python 2 pickles of a dict with byte-string keys.
        pickle.dump({b"batch_label": b"batch", b"labels": [int(v) for v in labels], b"data": data,
                     b"filenames": [b"x.png"] * n}, fh, protocol=2)
    return data, labels


@pytest.fixture
def python_layout(tmp_path):
    root = tmp_path / "cifar-10-batches-py"
    root.mkdir()
    written = [write_batch(root / f"data_batch_{i}", 4, i) for i in range(1, 6)]
    write_batch(root / "test_batch", 3, 9)
    return tmp_path, written


def test_reads_official_python_layout_pixel_exact(python_layout):
    parent, written = python_layout
    train, test = cifar10.load_cifar10(parent)
    assert train.images.shape == (20, 3, 32, 32) and test.images.shape == (3, 3, 32, 32)
    data, labels = written[0]
    # row layout: 1024 red, then 1024 green, then 1024 blue values, each row-major 32x32
    assert torch.equal(train.images[0, 1], torch.from_numpy(data[0, 1024:2048].reshape(32, 32)))
    assert train.labels[:4].tolist() == [int(v) for v in labels]
    assert list(train.classes) == list(cifar10.CLASSES)


def test_refuses_a_pickle_that_runs_code(tmp_path):
    class Evil:
        def __reduce__(self):
            return (print, ("pwned",))

    root = tmp_path / "cifar-10-batches-py"
    root.mkdir()
    (root / "data_batch_1").write_bytes(pickle.dumps({b"data": Evil()}))
    with pytest.raises(UserError, match="data_batch_1: not a readable CIFAR-10 batch.*refusing to load builtins.print"):
        cifar10.load_cifar10(tmp_path)


def test_corrupt_and_missing_batches(python_layout):
    parent, _ = python_layout
    (parent / "cifar-10-batches-py" / "data_batch_3").write_bytes(b"\x80\x02truncated")
    with pytest.raises(UserError, match="data_batch_3"):
        cifar10.load_cifar10(parent)
    (parent / "cifar-10-batches-py" / "data_batch_3").unlink()
    with pytest.raises(UserError, match="data_batch_3: CIFAR-10 batch file missing"):
        cifar10.load_cifar10(parent)


def make_folder(root, classes=("cat", "dog"), n=2, size=32):
    for split in ("train", "test"):
        for c in classes:
            (root / split / c).mkdir(parents=True, exist_ok=True)
            for i in range(n):
                arr = np.full((size, size, 3), 10 * i + (0 if c == "cat" else 100), dtype=np.uint8)
                arr[0, size - 1] = (255, 0, 0)  # a marker in the top-right corner
                Image.fromarray(arr).save(root / split / c / f"{i:04d}.png")


def test_image_folder_layout(tmp_path):
    make_folder(tmp_path)
    train, test = cifar10.load_cifar10(tmp_path)
    assert list(train.classes) == ["cat", "dog"] and train.labels.tolist() == [0, 0, 1, 1]
    assert train.images.shape == (4, 3, 32, 32)
    assert train.images[0, :, 0, 31].tolist() == [255, 0, 0]  # HWC -> CHW without mirroring


def test_image_folder_errors(tmp_path):
    make_folder(tmp_path)
    Image.fromarray(np.zeros((28, 28, 3), np.uint8)).save(tmp_path / "train" / "cat" / "small.png")
    with pytest.raises(UserError, match="small.png: image is 28x28, expected 32x32"):
        cifar10.load_cifar10(tmp_path)
    (tmp_path / "train" / "cat" / "small.png").write_bytes(b"not an image")
    with pytest.raises(UserError, match="small.png: not a readable image"):
        cifar10.load_cifar10(tmp_path)
    (tmp_path / "train" / "cat" / "small.png").unlink()
    for f in (tmp_path / "test" / "dog").iterdir():
        f.unlink()
    (tmp_path / "test" / "dog").rmdir()
    with pytest.raises(UserError, match="class folder 'dog' is missing"):
        cifar10.load_cifar10(tmp_path)


def test_no_data_set_found(tmp_path):
    with pytest.raises(UserError, match="no CIFAR-10 here.*sslab data download cifar10"):
        cifar10.load_cifar10(tmp_path)


def test_real_cifar10_jpegs(cifar_jpeg_slice):
    train, test = cifar10.load_cifar10(cifar_jpeg_slice)
    assert list(train.classes) == list(cifar10.CLASSES)
    assert len(train) == 3000 and len(test) == 1000
    assert train.labels.bincount().tolist() == [300] * 10
