"""Shared fixtures: the ../shared folder and a slice of the real CIFAR-10 JPEGs."""

from __future__ import annotations

import os
import tarfile
from pathlib import Path

import pytest

from sslab_testing import CIFAR_TARBALL, SHARED

# One intra-op thread in tests and in the CLI runs they start: small models gain nothing
# from more, and a busy 2-core machine slows down many times when threads oversubscribe.
os.environ.setdefault("OMP_NUM_THREADS", "1")
torch_threads = int(os.environ["OMP_NUM_THREADS"])


@pytest.fixture(autouse=True, scope="session")
def _one_thread():
    import torch

    torch.set_num_threads(torch_threads)


@pytest.fixture(scope="session")
def shared_dir() -> Path:
    if not SHARED.is_dir():
        pytest.skip(f"{SHARED} is absent (it ships with the development checkout, not with sslab)")
    return SHARED


@pytest.fixture(scope="session")
def cifar_jpeg_slice(tmp_path_factory) -> Path:
    """train/<class>/ and test/<class>/ folders with the first images of each class of the real set."""
    if not CIFAR_TARBALL.is_file():
        pytest.skip(f"{CIFAR_TARBALL} is absent (real CIFAR-10 JPEGs ship only with the development checkout)")
    out = tmp_path_factory.mktemp("cifar10-jpeg-slice")
    per_split = {"train": 300, "test": 100}
    taken: dict[tuple[str, str], int] = {}
    with tarfile.open(CIFAR_TARBALL) as tf:
        for member in tf:
            parts = Path(member.name).parts
            if not member.isfile() or len(parts) < 3:
                continue
            split, cls = parts[-3], parts[-2]
            if split not in per_split or taken.get((split, cls), 0) >= per_split[split]:
                continue
            taken[(split, cls)] = taken.get((split, cls), 0) + 1
            dest = out / split / cls / parts[-1]
            dest.parent.mkdir(parents=True, exist_ok=True)
            dest.write_bytes(tf.extractfile(member).read())
    if len(taken) < 20:
        pytest.skip(f"{CIFAR_TARBALL} does not have the train/<class>/, test/<class>/ layout expected")
    return out


# ---- finished runs several test modules read (made once per session; copy one before changing it) ----
def _finished(out: Path, recipe: str, **kwargs) -> Path:
    import io
    from contextlib import redirect_stderr, redirect_stdout

    from sslab.runner import run_recipe

    with redirect_stdout(io.StringIO()), redirect_stderr(io.StringIO()):
        return run_recipe(recipe, out=out, **kwargs).root


@pytest.fixture(scope="session")
def augment_seed0_cpu(tmp_path_factory) -> Path:
    """`sslab run augment --preset smoke --device cpu --workers 1`: one seed (0), sequential layout."""
    return _finished(tmp_path_factory.mktemp("augment-seed0"), "augment", preset="smoke", device="cpu", workers=1)


@pytest.fixture(scope="session")
def augment_two_seeds_cpu(tmp_path_factory) -> Path:
    """`sslab run augment --preset smoke --seeds 2 --device cpu --workers 1`: both seeds in one process."""
    return _finished(tmp_path_factory.mktemp("augment-two-seeds"), "augment", preset="smoke", seeds=2, device="cpu",
                     workers=1)


@pytest.fixture(scope="session")
def augment_two_seeds_parallel(tmp_path_factory):
    """`sslab run augment --preset smoke --seeds 2 --device cpu --workers 2`, as a user starts it (a process):
    (the finished run folder, the finished process with its output)."""
    from sslab_testing import sslab

    out = tmp_path_factory.mktemp("augment-parallel")
    proc = sslab("run", "augment", "--preset", "smoke", "--seeds", "2", "--device", "cpu", "--workers", "2",
                 "--out", str(out), env={"OMP_NUM_THREADS": "1"})
    assert proc.returncode == 0, proc.stderr[-3000:]
    (run,) = out.iterdir()
    return run, proc


@pytest.fixture(scope="session")
def denoise_run(tmp_path_factory) -> Path:
    """`sslab run denoise --preset smoke` (a process): figures, audio clips, an equation, claims."""
    from sslab_testing import sslab

    out = tmp_path_factory.mktemp("denoise-run")
    proc = sslab("run", "denoise", "--preset", "smoke", "--out", str(out))
    assert proc.returncode == 0, proc.stderr[-2000:]
    (run_dir,) = [p for p in out.iterdir() if p.name.startswith("denoise-")]
    return run_dir
