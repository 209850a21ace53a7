"""Parallel seeds and parts of seeds: the thread policy, bit-for-bit equality with a sequential run, and resume
after SIGKILL."""

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

# The smoke preset's 2 epochs per arm; with two workers each seed's two arms are two jobs (4 in all), the
# augmented ones first, so a kill after seed 1's first record still leaves the run unfinished.
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


def test_parts_of_a_seed_are_jobs_when_workers_are_free(four_cores):
    p = parallel.plan("augment", SimpleNamespace(seeds=1), torch.device("cpu"), parts=2)
    assert (p.workers, p.threads, p.seed_files, p.split_parts) == (2, 1, True, True)
    p = parallel.plan("augment", SimpleNamespace(seeds=3), torch.device("cpu"), parts=2)
    assert (p.workers, p.split_parts) == (4, True)
    p = parallel.plan("augment", SimpleNamespace(seeds=3), torch.device("cpu"), workers=1, parts=2)
    assert (p.workers, p.seed_files, p.split_parts) == (1, False, False)  # --workers 1: the sequential layout
    big = SimpleNamespace(seeds=1, encoder="resnet18")
    assert not parallel.plan("barlow", big, torch.device("cpu"), parts=2).split_parts
    assert not parallel.plan("augment", SimpleNamespace(seeds=2), torch.device("cuda"), parts=2).split_parts


def test_parts_are_scheduled_costliest_first_and_joined_in_sequential_order(tmp_path):
    from sslab import recipes
    from sslab.train.rundir import Run

    base, aug = recipes.get("augment").parts(SimpleNamespace())
    assert (base.name, aug.name) == ("baseline", "augmented") and aug.cost == 4 * base.cost
    run = Run(tmp_path)
    (tmp_path / parallel.SEEDS_DIR).mkdir()
    for seed in (0, 1):  # a part's file holds its own phase; the join puts baseline before augmented, per seed
        for part in (aug, base):
            lines = [json.dumps({"seed": seed, "phase": part.name, "epoch": e}) + "\n" for e in (1, 2)]
            parallel.seed_metrics(tmp_path, seed, part).write_text("".join(lines))
    parallel.join_metrics(run, [0, 1], [base, aug], recipes.get("augment").phase_order)
    got = [(r["seed"], r["phase"], r["epoch"]) for r in map(json.loads, run.metrics_path.read_text().splitlines())]
    assert got == [(s, p, e) for s in (0, 1) for p in ("baseline", "augmented") for e in (1, 2)]


def test_resume_keeps_threads_and_layout_gpu_runs_one_process(four_cores, monkeypatch):
    monkeypatch.setenv("OMP_NUM_THREADS", "3")
    saved = {"threads": 1, "seed_files": True}
    p = parallel.plan("augment", SimpleNamespace(seeds=2), torch.device("cpu"), saved=saved, parts=2)
    assert (p.workers, p.threads, p.seed_files, p.split_parts) == (2, 1, True, False)  # a run from before parts
    p = parallel.plan("augment", SimpleNamespace(seeds=2), torch.device("cpu"), saved={**saved, "split_parts": True},
                      parts=2)
    assert (p.workers, p.split_parts) == (4, True)
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
    assert "4 job(s) (2 seed(s) x 2 parts: baseline, augmented) on 2 worker(s), 1 thread(s) each" in proc.stdout
    assert "[seed 0 baseline]" in proc.stdout and "[seed 1 augmented]" in proc.stdout  # each worker's line
    started = [line.split(": ")[1].split(" started")[0] for line in proc.stdout.splitlines() if "started (worker" in line]
    assert started == ["seed 0 augmented", "seed 1 augmented", "seed 0 baseline", "seed 1 baseline"]  # costliest first
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
    return sum(len(f.read_text().splitlines()) for f in out.glob(f"*/seeds/seed{seed}-*.jsonl"))


def _worker_pids(log: Path) -> dict[str, int]:
    """{"seed 1 augmented": pid, ...} from the lines that say a job's worker started."""
    pids = {}
    for line in log.read_text().splitlines():
        if "started (worker pid" in line:
            job = line.split(": ", 1)[1].split(" started")[0]
            pids[job] = int(line.rsplit("pid ", 1)[1].rstrip(")"))
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
    """`sslab run ARGS --workers 2` SIGKILLed (the parent) once seed 1's augmented arm wrote a record: the worker
    pids it started, those still alive 20 s later, and the run folder as the kill left it."""
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
    """Resumes (a copy of) the run whose parent was SIGKILLed, SIGKILLs the new worker of its first unfinished
    job, then resumes again: the numbers are those of an uninterrupted run, after both kinds of kill."""
    import shutil

    run = tmp_path / "runs" / killed_parent.run.name
    shutil.copytree(killed_parent.run, run)
    (run / ".lock").unlink(missing_ok=True)
    jobs = [f"seed{k}-{arm}" for k in (0, 1) for arm in ("augmented", "baseline")]  # the order they start in
    unfinished = [j for j in jobs if not (run / "seeds" / f"{j}.done").is_file()]
    assert unfinished, "every job finished before the parent was killed"
    victim = unfinished[0].replace("seed", "seed ").replace("-", " ")  # "seed1-augmented" -> "seed 1 augmented"
    log = tmp_path / "log.txt"
    proc = _start(["run", "--resume", str(run)], log)
    os.kill(_wait_for(lambda: _worker_pids(log).get(victim)), signal.SIGKILL)
    assert proc.wait(timeout=240) == 2
    last = log.read_text().strip().splitlines()[-1]
    assert f"{victim}'s worker" in last and "signal 9" in last and "--resume" in last
    assert "Traceback" not in log.read_text()
    assert not (run / "seeds" / f"{unfinished[0]}.done").is_file() and not (run / "summary.json").exists()
    done = [j.replace("seed", "seed ").replace("-", " ") for j in jobs if (run / "seeds" / f"{j}.done").is_file()]
    resumed = sslab("run", "--resume", str(run), env=ONE_THREAD)
    assert resumed.returncode == 0, resumed.stderr
    finished = next((line for line in resumed.stdout.splitlines() if "already finished" in line), "")
    assert all(label in finished for label in done), (done, finished)
    assert _numbers(run) == _numbers(sequential)


def test_damaged_job_file_refuses_resume_in_one_line_and_changes_nothing(augment_two_seeds_parallel, tmp_path):
    """The parallel layout's own damage: a metrics line of one job. The resume stops in one line before any
    worker starts; the joined metrics.jsonl and summary.json stay as they were."""
    import shutil

    from sslab_testing import cli

    run = tmp_path / "run"
    shutil.copytree(augment_two_seeds_parallel[0], run)
    (run / ".lock").unlink(missing_ok=True)
    job = run / "seeds" / "seed1-augmented.jsonl"
    lines = job.read_text().splitlines(keepends=True)
    job.write_text(lines[0] + lines[1][:12] + "\n")
    before = {p: p.read_bytes() for p in run.rglob("*") if p.is_file() and p.name != ".lock"}
    proc = cli("run", "--resume", str(run))
    assert proc.returncode == 2 and len(proc.stderr.strip().splitlines()) == 1, proc.stderr
    assert "seed1-augmented.jsonl: line 2 is damaged" in proc.stderr and "--resume" in proc.stderr
    assert before == {p: p.read_bytes() for p in run.rglob("*") if p.is_file() and p.name != ".lock"}


def test_bad_workers_is_one_line_and_leaves_nothing(tmp_path):
    proc = sslab("run", "augment", "--preset", "smoke", "--workers", "0", "--out", str(tmp_path / "runs"))
    assert proc.returncode == 2 and "--workers 0: must be at least 1" in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1 and not (tmp_path / "runs").exists()


def test_a_recipe_without_parts_runs_one_job_per_seed_with_the_sequential_numbers(tmp_path):
    """`generate` declares no parts: with two workers each seed is one job (seeds/seed<K>.jsonl), and the numbers
    equal those of one seed after another in one process."""
    from sslab.runner import run_recipe

    def numbers(run: Path) -> list[dict]:
        records = map(json.loads, (run / "metrics.jsonl").read_text().splitlines())
        return [{k: v for k, v in r.items() if k != "time" and not k.endswith("_per_s")} for r in records]

    import io
    from contextlib import redirect_stderr, redirect_stdout

    with redirect_stdout(io.StringIO()), redirect_stderr(io.StringIO()):
        par = run_recipe("generate", preset="smoke", seeds=2, device="cpu", workers=2, out=tmp_path / "par").root
        seq = run_recipe("generate", preset="smoke", seeds=2, device="cpu", workers=1, out=tmp_path / "seq").root
    assert sorted(p.name for p in (par / parallel.SEEDS_DIR).glob("*.jsonl")) == ["seed0.jsonl", "seed1.jsonl"]
    assert "split_parts: false" in (par / "config.yaml").read_text()
    assert numbers(par) == numbers(seq) and len(numbers(seq)) > 4
