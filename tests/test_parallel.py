"""Parallel seeds: the thread policy, bit-for-bit equality with a sequential run, and resume after SIGKILL."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from types import SimpleNamespace

import pytest
import torch

from sslab import parallel
from sslab.errors import UserError

from sslab_testing import REPO, sslab

# The smoke preset's 2 epochs per arm: a seed writes 4 records, so a kill after a seed's second (or its
# first) record still leaves the run unfinished.
ARGS = ["run", "augment", "--preset", "smoke", "--seeds", "2", "--device", "cpu"]
ONE_THREAD = {"OMP_NUM_THREADS": "1"}


# ---- the thread policy --------------------------------------------------------------------
@pytest.fixture
def four_cores(monkeypatch):
    monkeypatch.setattr(parallel, "free_cores", lambda: 4)
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)


def test_small_network_one_thread_per_worker_one_worker_per_seed(four_cores):
    p = parallel.plan("augment", SimpleNamespace(seeds=3), torch.device("cpu"))
    assert (p.workers, p.threads, p.seed_files) == (3, 1, True)
    assert "small network" in p.policy
    p = parallel.plan("augment", SimpleNamespace(seeds=8), torch.device("cpu"))
    assert (p.workers, p.threads) == (4, 1)
    p = parallel.plan("augment", SimpleNamespace(seeds=1), torch.device("cpu"))
    assert (p.workers, p.threads, p.seed_files) == (1, 1, False)  # one seed: the sequential layout


def test_omp_num_threads_and_workers_override(four_cores, monkeypatch):
    monkeypatch.setenv("OMP_NUM_THREADS", "2")
    p = parallel.plan("augment", SimpleNamespace(seeds=3), torch.device("cpu"))
    assert (p.workers, p.threads) == (2, 2) and "OMP_NUM_THREADS=2" in p.policy
    p = parallel.plan("augment", SimpleNamespace(seeds=3), torch.device("cpu"), workers=1)
    assert (p.workers, p.threads, p.seed_files) == (1, 2, False)
    monkeypatch.setenv("OMP_NUM_THREADS", "zero")
    with pytest.raises(UserError, match="OMP_NUM_THREADS=zero"):
        parallel.plan("augment", SimpleNamespace(seeds=3), torch.device("cpu"))
    with pytest.raises(UserError, match="--workers 0: must be at least 1"):
        parallel.plan("augment", SimpleNamespace(seeds=3), torch.device("cpu"), workers=0)


def test_big_network_gets_the_cores_in_one_process(four_cores):
    big = SimpleNamespace(seeds=3, encoder="resnet18")
    p = parallel.plan("barlow", big, torch.device("cpu"))
    assert (p.workers, p.threads, p.seed_files) == (1, 4, False)
    p = parallel.plan("barlow", big, torch.device("cpu"), workers=2)
    assert (p.workers, p.threads) == (2, 2)
    assert parallel.plan("barlow", SimpleNamespace(seeds=3, encoder="convnet"), torch.device("cpu")).threads == 1


def test_resume_keeps_threads_and_layout_gpu_runs_one_process(four_cores, monkeypatch):
    monkeypatch.setenv("OMP_NUM_THREADS", "3")
    saved = {"threads": 1, "seed_files": True}
    p = parallel.plan("augment", SimpleNamespace(seeds=2), torch.device("cpu"), saved=saved)
    assert (p.workers, p.threads, p.seed_files) == (2, 1, True)
    p = parallel.plan("augment", SimpleNamespace(seeds=2), torch.device("cuda"))
    assert (p.workers, p.seed_files) == (1, False)


# ---- runs -----------------------------------------------------------------------------------
def _numbers(run: Path) -> list[tuple]:
    keep = ("seed", "phase", "epoch", "train_loss", "val_acc", "val_loss", "event", "step")
    return [tuple(r.get(k) for k in keep) for r in map(json.loads, (run / "metrics.jsonl").read_text().splitlines())]


@pytest.fixture(scope="module")
def sequential(augment_two_seeds_cpu) -> Path:
    """`sslab run ARGS --workers 1` (tests/conftest.py: the session's, which test_merge reads too)."""
    run = augment_two_seeds_cpu
    assert not (run / parallel.SEEDS_DIR).exists()
    return run


def test_parallel_seeds_equal_sequential_bit_for_bit(sequential, augment_two_seeds_parallel):
    # `sslab run ARGS --workers 2` (tests/conftest.py: the session's, whose run tests/recipes/test_augment reads)
    run, proc = augment_two_seeds_parallel
    assert "2 seed(s) on 2 worker(s), 1 thread(s) each" in proc.stdout
    assert "[seed 0 baseline]" in proc.stdout and "[seed 1 baseline]" in proc.stdout  # each worker's line
    assert _numbers(run) == _numbers(sequential)
    conf = (run / "config.yaml").read_text()
    assert "workers: 2" in conf and "threads: 1" in conf and "thread_policy:" in conf
    seq, par = (json.loads((r / "summary.json").read_text()) for r in (sequential, run))
    assert par["claims"] == seq["claims"]


def _start(args: list[str], log: Path) -> subprocess.Popen:
    env = {**os.environ, "PYTHONUNBUFFERED": "1", **ONE_THREAD}
    with open(log, "w") as fh:
        return subprocess.Popen([sys.executable, "-m", "sslab", *args], cwd=REPO, env=env, stdout=fh,
                                stderr=subprocess.STDOUT)


def _wait_for(check, timeout: float = 240):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = check()
        if found:
            return found
        time.sleep(0.02)
    raise AssertionError("timed out")


def _seed_lines(out: Path, seed: int) -> int:
    files = list(out.glob(f"*/seeds/seed{seed}.jsonl"))
    return len(files[0].read_text().splitlines()) if files else 0


def _worker_pids(log: Path) -> dict[int, int]:
    pids = {}
    for line in log.read_text().splitlines():
        if "started (worker pid" in line:
            seed = int(line.split("seed ")[1].split()[0])
            pids[seed] = int(line.rsplit("pid ", 1)[1].rstrip(")"))
    return pids


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # a zombie (not yet reaped) counts as dead
    stat = Path(f"/proc/{pid}/stat")
    return not (stat.is_file() and stat.read_text().split(")")[-1].split()[0] == "Z")


@pytest.fixture(scope="module")
def killed_parent(tmp_path_factory) -> SimpleNamespace:
    """`sslab run ARGS --workers 2` SIGKILLed (the parent) once seed 1 wrote a record (seed 0's worker draws the
    examples figure first, so it is behind): the worker pids it started, those still alive 20 s later, and the
    run folder as the kill left it."""
    tmp = tmp_path_factory.mktemp("killed-parent")
    out, log = tmp / "runs", tmp / "log.txt"
    proc = _start([*ARGS, "--workers", "2", "--out", str(out)], log)
    _wait_for(lambda: _seed_lines(out, 1) >= 1)
    pids = _worker_pids(log)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    try:
        _wait_for(lambda: not any(_alive(p) for p in pids.values()), timeout=20)
    except AssertionError:
        pass  # the test below names them
    orphans = [p for p in pids.values() if _alive(p)]
    (run,) = out.iterdir()
    return SimpleNamespace(run=run, pids=pids, orphans=orphans, files=sorted(p.name for p in run.iterdir()))


def test_sigkill_of_the_parent_stops_the_workers(killed_parent):
    assert len(killed_parent.pids) == 2
    assert killed_parent.orphans == [], "no orphan keeps writing"
    assert "summary.json" not in killed_parent.files and "metrics.jsonl" not in killed_parent.files


def test_sigkill_of_one_worker_stops_the_run_in_one_line_and_resume_gives_the_same_numbers(sequential, killed_parent,
                                                                                        tmp_path):
    """Resumes (a copy of) the run whose parent was SIGKILLed, SIGKILLs seed 1's new worker (seed 0's should a
    loaded machine have let seed 1 finish before the parent died), then resumes again: the numbers are those of
    an uninterrupted run, after both kinds of kill."""
    import shutil

    run = tmp_path / "runs" / killed_parent.run.name
    shutil.copytree(killed_parent.run, run)
    (run / ".lock").unlink(missing_ok=True)
    unfinished = [k for k in (1, 0) if not (run / "seeds" / f"seed{k}.done").is_file()]
    assert unfinished, "both seeds finished before the parent was killed"
    seed, other = unfinished[0], 1 - unfinished[0]
    log = tmp_path / "log.txt"
    proc = _start(["run", "--resume", str(run)], log)
    os.kill(_wait_for(lambda: _worker_pids(log).get(seed)), signal.SIGKILL)
    assert proc.wait(timeout=240) == 2
    last = log.read_text().strip().splitlines()[-1]
    assert f"seed {seed}'s worker" in last and "signal 9" in last and "--resume" in last
    assert "Traceback" not in log.read_text()
    assert (run / "seeds" / f"seed{other}.done").is_file() and not (run / "summary.json").exists()
    resumed = sslab("run", "--resume", str(run), env=ONE_THREAD)
    assert resumed.returncode == 0, resumed.stderr
    assert f"seeds {other} already finished" in resumed.stdout
    assert _numbers(run) == _numbers(sequential)


def test_bad_workers_is_one_line_and_leaves_nothing(tmp_path):
    proc = sslab("run", "augment", "--preset", "smoke", "--workers", "0", "--out", str(tmp_path / "runs"))
    assert proc.returncode == 2 and "--workers 0: must be at least 1" in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1 and not (tmp_path / "runs").exists()
