"""Parallel seeds on CPU, and the thread policy that decides how many run at once.

A recipe's seeds are independent, and so are some parts of one seed (augment's two arms; pretext's
baseline beside its pretext task and transfer): on a CPU they run as concurrent worker processes
(``--workers K``), each with its own intra-op thread count; see docs/parallel.md.

- **Thread policy** (:func:`plan`). Small networks gain little from a second intra-op
  thread, and OpenMP threads that wait on each other lose several times over when another
  job holds a core; so a small network gets one thread per worker, and the free cores go
  to more workers (as many as there are jobs: seeds, or seeds x parts). A big network (``BIG_MODELS``) gets every
  free core in one process. ``OMP_NUM_THREADS`` overrides the thread count, ``--workers``
  the worker count; the choice and its reason go into config.yaml.
- **Jobs.** A job is one seed, or one part of a seed (:class:`sslab.recipes.Part`) when the recipe
  declares parts and there are workers to spare: parts seed themselves, so where they run changes
  no number. The costliest jobs start first (longest processing time first), so the last
  minutes are not one long arm running alone.
- **Layout.** With more than one worker each job writes its own metrics file,
  ``seeds/seed<K>.jsonl`` (or ``seeds/seed<K>-<part>.jsonl``), and its stage checkpoints count
  records in that file only (:class:`SeedRun`); ``seeds/<job>.done`` marks a finished job. When
  every job is done, the files are joined in seed order (a seed's phases in the order a
  sequential run writes them) into ``metrics.jsonl``: the records, and so the summary and
  report, are those of a sequential run with the same threads per worker.
- **Processes.** Workers are ``spawn``-ed (a forked OpenMP runtime can hang) through
  ``torch.multiprocessing``, which hands the loaded data over in shared memory, one
  process per job and at most K at once. A worker dies with its parent (Linux
  ``PR_SET_PDEATHSIG``), so a SIGKILLed run leaves nothing writing behind it; a killed
  worker stops the run with a one-line error after the others finish their seeds.
  ``sslab run --resume`` restarts the unfinished jobs, each from its own checkpoints.
"""

from __future__ import annotations

import json
import os
import signal
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import torch

from sslab import recipes as registry
from sslab.errors import UserError
from sslab.report import tracking
from sslab.train import atomic
from sslab.train.progress import LINES_ENV, say
from sslab.train.rundir import DIVERGED_FILE, Run

SEEDS_DIR = "seeds"
# Networks big enough to use several intra-op threads well: one process gets every free
# core. The rule is per recipe and config (measured in docs/parallel.md); every other
# recipe trains a small network and gets one thread per worker.
BIG_MODELS: dict[str, Callable[[Any], bool]] = {
    "barlow": lambda cfg: getattr(cfg, "encoder", "") == "resnet18",
}


def free_cores() -> int:
    """Cores this process may run on (a container's or `taskset`'s limit, not the machine's)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not Linux
        return max(1, os.cpu_count() or 1)


@dataclass
class Plan:
    """How a run uses the CPU: worker processes, intra-op threads each, and why."""

    workers: int
    threads: int
    policy: str
    seed_files: bool  # seeds/seed<K>.jsonl per seed (the parallel layout)
    split_parts: bool = False  # ... and per part of a seed, seeds/seed<K>-<part>.jsonl

    def config(self) -> dict[str, Any]:
        return {"threads": self.threads, "workers": self.workers, "thread_policy": self.policy,
                "seed_files": self.seed_files, "split_parts": self.split_parts}


def _env_threads() -> int | None:
    value = os.environ.get("OMP_NUM_THREADS")
    if value is None:
        return None
    try:
        threads = int(value)
    except ValueError:
        threads = 0
    if threads < 1:
        raise UserError(f"OMP_NUM_THREADS={value}: must be a whole number of at least 1; set it so or unset it")
    return threads


def plan(recipe: str, cfg: Any, device: torch.device, workers: int | None = None,
         saved: dict[str, Any] | None = None, distributed: bool = False, parts: int = 1) -> Plan:
    """Workers and threads for a run of ``recipe`` (``saved``: the config.yaml of a run being resumed;
    ``parts``: how many independent parts each seed has)."""
    if workers is not None and workers < 1:
        raise UserError(f"--workers {workers}: must be at least 1")
    cores = free_cores()
    seeds = int(cfg.seeds)
    big = BIG_MODELS.get(recipe, lambda c: False)(cfg)
    if device.type != "cpu" or distributed:
        if workers not in (None, 1):
            say(f"--workers {workers}: seeds run one after another on {device.type} (workers are for CPU runs)")
        threads = int(saved["threads"]) if saved and saved.get("threads") else (_env_threads() or cores)
        where = "under torchrun" if distributed else f"on {device.type}"
        return Plan(1, threads, f"one process {where}", bool(saved and saved.get("seed_files")))
    if saved and saved.get("threads"):
        # CPU numbers depend on the thread count (summation order): a resumed run keeps it.
        threads = int(saved["threads"])
        why = f"{threads} thread(s) per worker, as when the run started"
    elif _env_threads() is not None:
        threads = _env_threads()
        why = f"OMP_NUM_THREADS={threads} thread(s) per worker"
    elif big:
        threads = max(1, cores // (workers or 1))
        why = f"big network: {threads} thread(s) per worker on {cores} free core(s)"
    else:
        threads = 1
        why = "small network: 1 thread per worker"
    # A resumed run keeps its layout; a new one splits seeds into parts when workers can run them.
    split = bool(saved.get("split_parts")) if saved else parts > 1 and not big and workers != 1
    jobs = seeds * (parts if split else 1)
    if workers is None:
        workers = max(1, min(jobs, cores // threads)) if not big else 1
    workers = min(workers, jobs)
    if saved:
        seed_files = bool(saved.get("seed_files"))
    else:
        split = split and workers > 1
        seed_files = workers > 1
    return Plan(workers, threads, f"{why}, {workers} worker(s), {cores} free core(s)", seed_files, split)


# ---- one seed's view of the run directory ---------------------------------------------
class SeedRun(Run):
    """The run directory as one job's worker sees it (a seed, or one part of it): its own metrics
    file and checkpoints."""

    def __init__(self, root: str | os.PathLike, seed: int, part: registry.Part | None = None):
        super().__init__(root)
        self.seed = seed
        self.part = part

    @property
    def metrics_path(self) -> Path:
        return seed_metrics(self.root, self.seed, self.part)

    def claim(self) -> None:
        """Nothing to take: the parent `sslab run` holds the run directory's lock for all its workers."""

    def take_for_resume(self) -> None:
        """Nothing to do: the parent took the directory (lock, diverged check, leftovers) before starting
        the workers; a worker removing temporary files would delete the other seeds' writes in flight."""

    def state_files(self) -> list[Path]:
        # Stage names are the seed and the phase ("seed3/baseline" -> seed3-baseline.state.safetensors).
        phases = self.part.phases if self.part else ("*",)
        return sorted(p for phase in phases for p in self.checkpoints.glob(f"seed{self.seed}-{phase}.state.safetensors"))


def job_name(seed: int, part: registry.Part | None = None) -> str:
    return f"seed{seed}" + (f"-{part.name}" if part else "")


def seed_metrics(root: Path, seed: int, part: registry.Part | None = None) -> Path:
    return Path(root) / SEEDS_DIR / f"{job_name(seed, part)}.jsonl"


def _done_file(root: Path, seed: int, part: registry.Part | None = None) -> Path:
    return Path(root) / SEEDS_DIR / f"{job_name(seed, part)}.done"


def _label(seed: int, part: registry.Part | None) -> str:
    return f"seed {seed}" + (f" {part.name}" if part else "")


def prepare_resume(run: Run) -> None:
    """The parallel layout's resume: each worker cuts its own file; the joined metrics.jsonl and a finished
    run's summary.json stay until the new ones are renamed over them (a refused resume changes nothing)."""
    run.take_for_resume()


def join_metrics(run: Run, seeds: list[int], parts: list[registry.Part | None] = (None,),
                 phase_order: tuple[str, ...] = ()) -> None:
    """``metrics.jsonl`` from the jobs' files, in seed order and, within a seed, in the order a sequential
    run writes its phases (the sort is stable: each phase keeps its own order)."""
    rank = {phase: i for i, phase in enumerate(phase_order)}
    lines: list[str] = []
    for seed in seeds:
        mine: list[tuple[int, str]] = []
        for part in parts:
            path = seed_metrics(run.root, seed, part)
            for n, line in enumerate(path.read_text().splitlines(keepends=True) if path.is_file() else [], 1):
                try:
                    phase = json.loads(line).get("phase")
                except (ValueError, AttributeError):
                    raise UserError(f"{path}: line {n} is damaged (not a JSON record); delete it and its job's "
                                    f"{_done_file(run.root, seed, part).name} to redo that job, then "
                                    f"`sslab run --resume {run.root}`") from None
                mine.append((rank.get(phase, len(rank)) if len(parts) > 1 else 0, line))
        mine.sort(key=lambda item: item[0])  # stable: each phase keeps its epochs' order
        lines += [line for _, line in mine]
    atomic.write_text(run.metrics_path, "".join(lines))
    run._records = None


# ---- the worker process ------------------------------------------------------------------
def _die_with_parent(parent: int) -> None:
    """Ask Linux to SIGKILL this process when its parent dies (a SIGKILLed `sslab run`)."""
    if sys.platform.startswith("linux"):
        import ctypes

        try:
            ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
        except (OSError, AttributeError):
            pass
    if os.getppid() != parent:  # the parent died before the request was in place
        os._exit(1)


def _worker(recipe_name: str, cfg: Any, root: str, seed: int, part: registry.Part | None, device: str, data: Any,
            threads: int, logger: str, parent: int, conn: Any) -> None:
    _die_with_parent(parent)
    os.environ[LINES_ENV] = "1"
    torch.set_num_threads(threads)
    run = None
    try:
        recipe = registry.get(recipe_name)
        run = SeedRun(root, seed, part)
        run.prepare_resume()
        if logger != "none":
            run.tracker = tracking.open_tracker(logger, run.root)
        recipe.run_seed(registry.Context(run=run, cfg=cfg, seed=seed, device=torch.device(device), data=data,
                                         phases=part.phases if part else None))
        atomic.write_text(_done_file(run.root, seed, part), "")
        conn.send(("ok", ""))
    except UserError as exc:
        conn.send(("error", str(exc)))
    except KeyboardInterrupt:
        conn.send(("interrupted", ""))
    except BaseException as exc:  # a bug: its traceback goes to stderr, the parent says which seed
        import traceback

        traceback.print_exc()
        conn.send(("crash", f"{type(exc).__name__}: {exc}"))
    finally:
        if run is not None and run.tracker is not None:
            run.tracker.close()


def run_seeds(run: Run, recipe: registry.Recipe, cfg: Any, device: torch.device, data: Any, plan: Plan,
              logger: str = "none") -> None:
    """Run every unfinished job (a seed, or a part of one) in worker processes, at most ``plan.workers``
    at once, the costliest first; then join the metrics."""
    import multiprocessing.connection

    import torch.multiprocessing as mp

    seeds = list(range(cfg.seed, cfg.seed + cfg.seeds))
    parts: list[registry.Part | None] = list(recipe.parts(cfg)) if plan.split_parts and recipe.parts else [None]
    jobs = [(seed, part) for seed in seeds for part in parts]
    todo = [job for job in jobs if not _done_file(run.root, *job).is_file()]
    todo.sort(key=lambda job: -(job[1].cost if job[1] else 0.0))  # stable: seed order among equals
    (run.root / SEEDS_DIR).mkdir(exist_ok=True)
    if len(todo) < len(jobs):
        say(f"{recipe.name}: {', '.join(_label(*job) for job in jobs if job not in todo)} already finished")
    what = (f"{len(todo)} job(s) ({len(seeds)} seed(s) x {len(parts)} parts: {', '.join(p.name for p in parts)})"
            if parts != [None] else f"{len(todo)} seed(s)")
    say(f"{recipe.name}: {what} on {min(plan.workers, max(1, len(todo)))} worker(s), {plan.threads} thread(s) each")
    ctx = mp.get_context("spawn")
    running: dict[int, tuple[Any, tuple, Any]] = {}  # sentinel -> (process, job, connection)
    failures: list[str] = []
    try:
        while todo or running:
            while todo and len(running) < plan.workers and not failures:
                job = todo.pop(0)
                ours, theirs = ctx.Pipe(duplex=False)
                proc = ctx.Process(target=_worker, name=f"sslab-{job_name(*job)}", daemon=False,
                                   args=(recipe.name, cfg, str(run.root), *job, str(device), data, plan.threads,
                                         logger, os.getpid(), theirs))
                proc.start()
                theirs.close()
                running[proc.sentinel] = (proc, job, ours)
                say(f"{recipe.name}: {_label(*job)} started (worker pid {proc.pid})")
            if not running:
                break
            for sentinel in multiprocessing.connection.wait(list(running)):
                proc, job, conn = running.pop(sentinel)
                proc.join()
                try:
                    status, message = conn.recv()
                except EOFError:  # died without a word: a signal (OOM killer, kill -9)
                    status, message = "killed", ""
                conn.close()
                if status == "ok" and proc.exitcode == 0:
                    say(f"{recipe.name}: {_label(*job)} finished ({len(jobs) - len(todo) - len(running)} of "
                        f"{len(jobs)})")
                elif status == "error":
                    failures.append(message)
                elif status == "interrupted":
                    raise KeyboardInterrupt
                elif status == "crash":
                    failures.append(f"{_label(*job)} stopped with {message} (traceback above)")
                else:
                    code = proc.exitcode
                    how = f"signal {-code}" if code is not None and code < 0 else f"exit code {code}"
                    failures.append(f"{_label(*job)}'s worker (pid {proc.pid}) was killed ({how})")
    finally:
        for proc, _job, _conn in running.values():  # an interrupted or failed parent stops its workers
            proc.terminate()
        for proc, _job, _conn in running.values():
            proc.join()
    if failures and (run.root / DIVERGED_FILE).is_file():  # one job diverged: the run cannot be resumed
        raise UserError(failures[0])
    if failures:
        raise UserError(f"{failures[0]}; the other jobs were kept: finish with `sslab run --resume {run.root}`")
    join_metrics(run, seeds, parts, recipe.phase_order)
