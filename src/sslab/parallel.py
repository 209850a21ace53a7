"""Parallel seeds on CPU, and the thread policy that decides how many run at once.

A recipe's seeds are independent, so on a CPU they run as concurrent worker processes
(``--workers K``), each with its own intra-op thread count; see docs/parallel.md.

- **Thread policy** (:func:`plan`). Small networks gain little from a second intra-op
  thread, and OpenMP threads that wait on each other lose several times over when another
  job holds a core; so a small network gets one thread per worker, and the free cores go
  to more workers (as many as there are seeds). A big network (``BIG_MODELS``) gets every
  free core in one process. ``OMP_NUM_THREADS`` overrides the thread count, ``--workers``
  the worker count; the choice and its reason go into config.yaml.
- **Layout.** With more than one worker each seed writes its own metrics file,
  ``seeds/seed<K>.jsonl``, and its stage checkpoints count records in that file only
  (:class:`SeedRun`); ``seeds/seed<K>.done`` marks a finished seed. When every seed is
  done, the files are joined in seed order into ``metrics.jsonl``: the records, and so the
  summary and report, are those of a sequential run with the same threads per worker.
- **Processes.** Workers are ``spawn``-ed (a forked OpenMP runtime can hang) through
  ``torch.multiprocessing``, which hands the loaded data over in shared memory, one
  process per seed and at most K at once. A worker dies with its parent (Linux
  ``PR_SET_PDEATHSIG``), so a SIGKILLed run leaves nothing writing behind it; a killed
  worker stops the run with a one-line error after the others finish their seeds.
  ``sslab run --resume`` restarts the unfinished seeds, each from its own checkpoints.
"""

from __future__ import annotations

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
from sslab.train.rundir import Run

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

    def config(self) -> dict[str, Any]:
        return {"threads": self.threads, "workers": self.workers, "thread_policy": self.policy,
                "seed_files": self.seed_files}


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
         saved: dict[str, Any] | None = None, distributed: bool = False) -> Plan:
    """Workers and threads for a run of ``recipe`` (``saved``: the config.yaml of a run being resumed)."""
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
    if workers is None:
        workers = max(1, min(seeds, cores // threads)) if not big else 1
    workers = min(workers, seeds)
    seed_files = bool(saved.get("seed_files")) if saved else workers > 1
    return Plan(workers, threads, f"{why}, {workers} worker(s), {cores} free core(s)", seed_files)


# ---- one seed's view of the run directory ---------------------------------------------
class SeedRun(Run):
    """The run directory as one seed's worker sees it: its own metrics file and checkpoints."""

    def __init__(self, root: str | os.PathLike, seed: int):
        super().__init__(root)
        self.seed = seed

    @property
    def metrics_path(self) -> Path:
        return seed_metrics(self.root, self.seed)

    def claim(self) -> None:
        """Nothing to take: the parent `sslab run` holds the run directory's lock for all its workers."""

    def take_for_resume(self) -> None:
        """Nothing to do: the parent took the directory (lock, diverged check, leftovers) before starting
        the workers; a worker removing temporary files would delete the other seeds' writes in flight."""

    def state_files(self) -> list[Path]:
        # Stage names start with the seed ("seed3/baseline" -> seed3-baseline.state.safetensors).
        return sorted(self.checkpoints.glob(f"seed{self.seed}-*.state.safetensors"))


def seed_metrics(root: Path, seed: int) -> Path:
    return Path(root) / SEEDS_DIR / f"seed{seed}.jsonl"


def _done_file(root: Path, seed: int) -> Path:
    return Path(root) / SEEDS_DIR / f"seed{seed}.done"


def prepare_resume(run: Run) -> None:
    """The parallel layout's resume: the joined metrics go (each worker cuts its own file); a finished
    run's summary.json stays until the new one is renamed over it."""
    run.take_for_resume()
    run.metrics_path.unlink(missing_ok=True)


def join_metrics(run: Run, seeds: list[int]) -> None:
    """``metrics.jsonl`` from the seeds' files, in seed order (as a sequential run writes it)."""
    text = "".join(seed_metrics(run.root, s).read_text() if seed_metrics(run.root, s).is_file() else ""
                   for s in seeds)
    atomic.write_text(run.metrics_path, text)
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


def _worker(recipe_name: str, cfg: Any, root: str, seed: int, device: str, data: Any, threads: int,
            logger: str, parent: int, conn: Any) -> None:
    _die_with_parent(parent)
    os.environ[LINES_ENV] = "1"
    torch.set_num_threads(threads)
    run = None
    try:
        recipe = registry.get(recipe_name)
        run = SeedRun(root, seed)
        run.prepare_resume()
        if logger != "none":
            run.tracker = tracking.open_tracker(logger, run.root)
        recipe.run_seed(registry.Context(run=run, cfg=cfg, seed=seed, device=torch.device(device), data=data))
        atomic.write_text(_done_file(run.root, seed), "")
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
    """Run every unfinished seed in worker processes, at most ``plan.workers`` at once; then join the metrics."""
    import multiprocessing.connection

    import torch.multiprocessing as mp

    seeds = list(range(cfg.seed, cfg.seed + cfg.seeds))
    todo = [s for s in seeds if not _done_file(run.root, s).is_file()]
    (run.root / SEEDS_DIR).mkdir(exist_ok=True)
    if len(todo) < len(seeds):
        say(f"{recipe.name}: seeds {', '.join(str(s) for s in seeds if s not in todo)} already finished")
    say(f"{recipe.name}: {len(todo)} seed(s) on {min(plan.workers, max(1, len(todo)))} worker(s), "
        f"{plan.threads} thread(s) each")
    ctx = mp.get_context("spawn")
    running: dict[int, tuple[Any, int, Any]] = {}  # sentinel -> (process, seed, connection)
    failures: list[str] = []
    try:
        while todo or running:
            while todo and len(running) < plan.workers and not failures:
                seed = todo.pop(0)
                ours, theirs = ctx.Pipe(duplex=False)
                proc = ctx.Process(target=_worker, name=f"sslab-seed{seed}", daemon=False,
                                   args=(recipe.name, cfg, str(run.root), seed, str(device), data, plan.threads,
                                         logger, os.getpid(), theirs))
                proc.start()
                theirs.close()
                running[proc.sentinel] = (proc, seed, ours)
                say(f"{recipe.name}: seed {seed} started (worker pid {proc.pid})")
            if not running:
                break
            for sentinel in multiprocessing.connection.wait(list(running)):
                proc, seed, conn = running.pop(sentinel)
                proc.join()
                try:
                    status, message = conn.recv()
                except EOFError:  # died without a word: a signal (OOM killer, kill -9)
                    status, message = "killed", ""
                conn.close()
                if status == "ok" and proc.exitcode == 0:
                    say(f"{recipe.name}: seed {seed} finished ({len(seeds) - len(todo) - len(running)} of {len(seeds)})")
                elif status == "error":
                    failures.append(message)
                elif status == "interrupted":
                    raise KeyboardInterrupt
                elif status == "crash":
                    failures.append(f"seed {seed} stopped with {message} (traceback above)")
                else:
                    code = proc.exitcode
                    how = f"signal {-code}" if code is not None and code < 0 else f"exit code {code}"
                    failures.append(f"seed {seed}'s worker (pid {proc.pid}) was killed ({how})")
    finally:
        for proc, _seed, _conn in running.values():  # an interrupted or failed parent stops its workers
            proc.terminate()
        for proc, _seed, _conn in running.values():
            proc.join()
    if failures:
        raise UserError(f"{failures[0]}; the other seeds were kept: finish with `sslab run --resume {run.root}`")
    join_metrics(run, seeds)
