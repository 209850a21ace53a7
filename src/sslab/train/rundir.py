"""The run directory and the resume protocol.

Layout (one directory per ``sslab run``)::

    config.yaml      fully resolved config, seeds, device, data, git commit, versions
    metrics.jsonl    one JSON object a line; every record has "seed" and "phase"
    summary.json     headline numbers and claims; written last, so it marks completion
    figures/         PNG and SVG
    checkpoints/     safetensors: model weights and training state
    report.html      self-contained report

Resume protocol. A recipe's training loops are *stages* (``run.stage(...)``): each
checkpoints its objects (model, optimizer, generator, global RNGs) together with the
number of metric records written so far. One-off steps are guarded with
``run.once(key)`` / ``run.mark(key)``, whose marks live in ``metrics.jsonl`` itself.
On ``--resume`` the metrics file is cut back to the last point that a checkpoint or a
mark covers; every stage restores its newest checkpoint and continues, so the numbers
come out the same as in an uninterrupted run.

One writer at a time. A process that writes a run directory (a new run, or ``--resume``)
holds an exclusive ``flock`` on its ``.lock`` file until it ends (the kernel drops it when
the process dies, however it dies); a second writer is refused in one line naming the
holder. A finished run that is resumed keeps its summary.json until the new one is renamed
over it, so a failure on the way never makes it look unfinished.

Divergence. A record whose loss is NaN or infinite, or a stage whose weights are no longer
finite at the end of an epoch, stops the run at once (before that epoch is checkpointed),
writes ``diverged.json`` naming the phase, epoch and likely cause, and ``--resume`` refuses
the run (it would diverge again with the same numbers).
"""

from __future__ import annotations

import fcntl
import json
import math
import os
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Iterator, Mapping

import torch
import yaml

import sslab
from sslab.errors import UserError
from sslab.train import atomic
from sslab.train.checkpoint import load_state, rng_state, save_state, set_rng_state
from sslab.train.progress import Progress, say

LOCK_FILE = ".lock"
DIVERGED_FILE = "diverged.json"
DRAFT_FILE = ".summary-draft.json"


class Diverged(UserError):
    """Training produced a non-finite loss or non-finite weights; the run is marked diverged."""


STUDY_FILE = "study.json"  # marks a `sslab run all` folder: one run directory per recipe inside


def recipe_run_dir(path: str | os.PathLike, recipe: str, flag: str = "--checkpoint") -> Path:
    """``path`` itself, or, when it is a `sslab run all` folder, its ``recipe`` run inside it."""
    path = Path(path)
    if not (path / STUDY_FILE).is_file():
        return path
    sub = path / recipe
    if (sub / "config.yaml").is_file():
        return sub
    raise UserError(f"{flag} {path}: this `run all` folder has no {recipe} run (no {sub / 'config.yaml'}); "
                    f"finish it with `sslab run --resume {path}`, or pass a `sslab run {recipe}` folder")


def git_commit() -> str:
    here = Path(__file__).resolve().parent
    try:
        out = subprocess.run(["git", "rev-parse", "HEAD"], cwd=here, capture_output=True, text=True, timeout=5)
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    return out.stdout.strip() if out.returncode == 0 else "unknown"


class Run:
    """A run directory: config, metrics, checkpoints, figures, summary, report."""

    def __init__(self, root: str | os.PathLike):
        self.root = Path(root)
        self.figures = self.root / "figures"
        self.checkpoints = self.root / "checkpoints"
        self._records: list[dict[str, Any]] | None = None
        self._lock: int | None = None  # fd of the held .lock (see claim)
        self.tracker: Any = None  # optional live logger (TensorBoard), set by the CLI

    # ---- creation -------------------------------------------------------------------
    @classmethod
    def create(cls, out: str | os.PathLike, name: str) -> "Run":
        out = Path(out)
        stamp = time.strftime("%Y%m%d-%H%M%S")
        root = out / f"{name}-{stamp}"
        n = 1
        while root.exists():
            n += 1
            root = out / f"{name}-{stamp}-{n}"
        root.mkdir(parents=True)
        run = cls(root)
        run.figures.mkdir()
        run.checkpoints.mkdir()
        return run

    @classmethod
    def open(cls, root: str | os.PathLike) -> "Run":
        root = Path(root)
        if not (root / "config.yaml").is_file():
            raise UserError(f"{root} is not an sslab run directory (no config.yaml); pass the folder `sslab run` printed")
        run = cls(root)
        run.figures.mkdir(exist_ok=True)
        run.checkpoints.mkdir(exist_ok=True)
        return run

    # ---- one writer at a time ----------------------------------------------------------
    def claim(self) -> None:
        """Hold the run directory for writing until this process ends; refuse if another holds it."""
        if self._lock is not None:
            return
        path = self.root / LOCK_FILE
        try:
            fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o666)
        except OSError as exc:
            raise UserError(f"{path}: cannot open the run's lock file ({exc.strerror or exc}); "
                            "check that the run directory is writable") from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            try:
                holder = json.loads(os.pread(fd, 4096, 0) or b"{}")
                who = (f"pid {holder.get('pid')} on {holder.get('host')} since {holder.get('since')}: "
                       f"`{holder.get('command')}`")
            except (OSError, ValueError, AttributeError):
                who = "another process"
            os.close(fd)
            raise UserError(f"{self.root} is being written by another sslab ({who}); wait for it to end or stop "
                            "it, then resume; two writers at once would lose records") from None
        info = {"pid": os.getpid(), "host": socket.gethostname(), "since": time.strftime("%Y-%m-%dT%H:%M:%S"),
                "command": " ".join(["sslab", *sys.argv[1:]])}
        os.ftruncate(fd, 0)
        os.pwrite(fd, json.dumps(info).encode(), 0)
        self._lock = fd

    def release(self) -> None:
        if self._lock is not None:
            os.close(self._lock)  # closing the only fd drops the flock
            self._lock = None

    # ---- config and summary ---------------------------------------------------------
    def save_config(self, config: Mapping[str, Any]) -> None:
        self.claim()
        atomic.write_text(self.root / "config.yaml", yaml.safe_dump(dict(config), sort_keys=False))

    def config(self) -> dict[str, Any]:
        try:
            return yaml.safe_load((self.root / "config.yaml").read_text())
        except (OSError, yaml.YAMLError) as exc:
            raise UserError(f"{self.root / 'config.yaml'} is unreadable ({exc})") from None

    @property
    def complete(self) -> bool:
        return (self.root / "summary.json").is_file()

    def write_summary(self, summary: Mapping[str, Any]) -> None:
        atomic.write_json(self.root / "summary.json", dict(summary))

    def summary(self) -> dict[str, Any]:
        """summary.json; while a run is finishing, the draft its report is built from."""
        path = self.root / DRAFT_FILE
        if not path.is_file():
            path = self.root / "summary.json"
        if not path.is_file():
            if (self.root / DIVERGED_FILE).is_file():
                raise UserError(self.diverged_message())
            raise UserError(f"{self.root} has no summary.json: the run did not finish; finish it with `sslab run --resume {self.root}`")
        try:
            summary = json.loads(path.read_text())
        except (OSError, UnicodeDecodeError, ValueError) as exc:
            summary = exc
        if not isinstance(summary, dict) or not isinstance(summary.get("text", ""), str):
            raise UserError(f"{path} is damaged ({summary if isinstance(summary, Exception) else 'not a summary'}); "
                            f"rebuild it with `sslab run --resume {self.root}`")
        return summary

    # ---- metrics --------------------------------------------------------------------
    @property
    def metrics_path(self) -> Path:
        return self.root / "metrics.jsonl"

    def records(self) -> list[dict[str, Any]]:
        """The metric records. A torn last line (a file cut short by hand or by a full disk) is
        dropped with a note; a damaged line before it is an error naming the line."""
        if self._records is None:
            records: list[dict[str, Any]] = []
            text = ""
            if self.metrics_path.is_file():
                try:
                    text = self.metrics_path.read_text()
                except (OSError, UnicodeDecodeError) as exc:
                    raise UserError(f"{self.metrics_path} is unreadable ({exc}); the run cannot be continued or "
                                    "reported, start it again") from None
            lines = [(n, line) for n, line in enumerate(text.splitlines(), 1) if line.strip()]
            for i, (n, line) in enumerate(lines):
                try:
                    record = json.loads(line)
                    if not isinstance(record, dict):
                        raise ValueError("not a JSON object")
                except ValueError:
                    if i == len(lines) - 1:
                        say(f"{self.metrics_path}: dropped the torn last line {n}")
                        break
                    raise UserError(f"{self.metrics_path}: line {n} is damaged (not a JSON record); delete the "
                                    "lines from it on and resume, the checkpoints will redo them") from None
                records.append(record)
            self._records = records
        return self._records

    def _flush(self) -> None:
        text = "".join(json.dumps(r, default=atomic._json_default) + "\n" for r in self.records())
        atomic.write_text(self.metrics_path, text)

    def log(self, **record: Any) -> None:
        """Append one record (rewritten atomically, so the file is never half a line).

        A loss that is NaN or infinite stops the run as diverged (see :meth:`diverged`)."""
        record = {k: (v.item() if hasattr(v, "item") else v) for k, v in record.items()}
        for key, value in record.items():
            if "loss" in key and isinstance(value, float) and not math.isfinite(value):
                self.diverged(record.get("phase", "?"), record.get("epoch", record.get("step")),
                              f"{key} is {value}", seed=record.get("seed"))
        record.setdefault("time", round(time.time(), 3))
        self.records().append(record)
        self._flush()
        if self.tracker is not None:
            self.tracker.log(record)

    def select(self, **match: Any) -> list[dict[str, Any]]:
        """Records whose fields equal ``match`` (for example ``phase="baseline"``)."""
        return [r for r in self.records() if all(r.get(k) == v for k, v in match.items())]

    # ---- resume ---------------------------------------------------------------------
    def once(self, key: str) -> bool:
        """True if the one-off step ``key`` has not been recorded yet."""
        return not any(r.get("event") == "done" and r.get("step") == key for r in self.records())

    def mark(self, key: str) -> None:
        self.log(event="done", step=key)

    # ---- divergence -----------------------------------------------------------------
    def diverged(self, phase: Any, epoch: Any, what: str, seed: Any = None) -> None:
        """Mark the run diverged (diverged.json) and stop it with one line naming where and why."""
        try:
            conf = self.config().get("config") or {}
        except (UserError, AttributeError):
            conf = {}
        rates = ", ".join(f"{k}={v}" for k, v in conf.items() if k == "lr" or k.endswith("_lr") or k.startswith("lr_"))
        info = {"phase": phase, "seed": seed, "epoch": epoch, "what": what,
                "cause": "a learning rate too high for this model" + (f" ({rates})" if rates else "")
                         + ", or an option that makes the loss undefined"}
        self._write_diverged(info)
        raise Diverged(self.diverged_message(info))

    def _write_diverged(self, info: Mapping[str, Any]) -> None:
        atomic.write_json(self.root / DIVERGED_FILE, dict(info))

    def diverged_message(self, info: Mapping[str, Any] | None = None) -> str:
        if info is None:
            try:
                info = json.loads((self.root / DIVERGED_FILE).read_text())
            except (OSError, ValueError):
                info = {}
        where = f"{info.get('phase', '?')}" + (f", seed {info['seed']}" if info.get("seed") is not None else "") \
            + (f", epoch {info['epoch']}" if info.get("epoch") is not None else "")
        return (f"{self.root}: training diverged in {where} ({info.get('what', 'non-finite values')}); likely cause: "
                f"{info.get('cause', 'a learning rate too high')}; start a new run with a smaller learning rate "
                f"(this one is marked in {DIVERGED_FILE} and cannot be resumed)")

    def take_for_resume(self) -> None:
        """Take the directory for writing, refuse a diverged run, remove the temporary files a kill left."""
        self.claim()
        if (self.root / DIVERGED_FILE).is_file():
            raise UserError(self.diverged_message())
        for tmp in self.root.rglob(".*.tmp"):  # an atomic write killed between create and rename
            if tmp.is_file():
                tmp.unlink()
        (self.root / DRAFT_FILE).unlink(missing_ok=True)

    def prepare_resume(self) -> None:
        """:meth:`take_for_resume`, then cut metrics back to what the newest checkpoint or mark covers."""
        self.take_for_resume()
        covered = 0
        for path in self.state_files():
            try:
                covered = max(covered, int(load_state(path)["metrics_count"]))
            except (UserError, KeyError, TypeError, ValueError):
                continue  # a torn file cannot exist (atomic writes), but never trust it
        records = self.records()
        for i, r in enumerate(records):
            if r.get("event") == "done":
                covered = max(covered, i + 1)
        del records[covered:]
        self._flush()
        # A finished run keeps its summary.json: finishing again renames the new one over it.

    def state_files(self) -> list[Path]:
        """The stage checkpoints whose metric counts refer to this run's metrics file."""
        return sorted(self.checkpoints.glob("*.state.safetensors"))

    def stage(self, name: str, every: int = 1, **objects: Any) -> "Stage":
        return Stage(self, name, every, objects)

    def checkpoint_path(self, name: str, suffix: str = ".safetensors") -> Path:
        return self.checkpoints / (name.replace("/", "-") + suffix)


class Stage:
    """A resumable loop over epochs (or steps) whose state is checkpointed.

    ``objects`` are things with ``state_dict``/``load_state_dict`` (models,
    optimizers, schedulers) or ``torch.Generator``s. The global RNG states are saved
    too. ``every`` sets how often (in epochs) a checkpoint is written; the last epoch is
    always checkpointed.
    """

    def __init__(self, run: Run, name: str, every: int, objects: Mapping[str, Any]):
        self.run = run
        self.name = name
        self.every = max(1, every)
        self.objects = dict(objects)
        self.path = run.checkpoint_path(name, ".state.safetensors")
        self.bar: Progress | None = None

    def _state(self, epoch: int) -> dict[str, Any]:
        state: dict[str, Any] = {"epoch": epoch, "metrics_count": len(self.run.records()), "rng": rng_state()}
        for key, obj in self.objects.items():
            state[key] = obj.get_state() if isinstance(obj, torch.Generator) else obj.state_dict()
        return state

    def restore(self) -> int:
        """Load the newest checkpoint of this stage if there is one; return its epoch."""
        if not self.path.is_file():
            return 0
        state = load_state(self.path)
        try:
            for key, obj in self.objects.items():
                if isinstance(obj, torch.Generator):
                    obj.set_state(state[key].to(torch.uint8))
                elif isinstance(obj, torch.nn.Module):
                    device = next(obj.parameters(), torch.empty(0)).device
                    obj.load_state_dict({k: v.to(device) for k, v in state[key].items()})
                else:
                    obj.load_state_dict(state[key])
            set_rng_state(state["rng"])
            epoch = int(state["epoch"])
        except (KeyError, TypeError, ValueError, AttributeError, RuntimeError, IndexError) as exc:
            reason = str(exc).strip().splitlines()[0][:160] if str(exc).strip() else type(exc).__name__
            raise UserError(f"{self.path} does not fit this run ({reason}): another run's checkpoint, or config.yaml "
                            "was changed; restore them, or delete the checkpoint to redo this stage") from None
        return epoch

    def _non_finite(self) -> str:
        """The name of the first model whose parameters are not all finite ('' if none)."""
        for key, obj in self.objects.items():
            if isinstance(obj, torch.nn.Module):
                for p in obj.parameters():
                    if not bool(torch.isfinite(p.detach()).all()):
                        return key
        return ""

    def save(self, epoch: int) -> None:
        save_state(self.path, self._state(epoch))

    def epochs(self, total: int, desc: str | None = None) -> Iterator[int]:
        """Yield the epochs still to run; checkpoint after each (every ``every``)."""
        start = self.restore()
        self.bar = Progress(range(start, total), total - start, desc or self.name)
        for epoch in self.bar:
            yield epoch
            finished = epoch + 1
            broken = self._non_finite()
            if broken:
                self.run.diverged(self.name, finished, f"the weights of {broken} hold NaN or inf")
            if finished % self.every == 0 or finished == total:
                self.save(finished)

    def show(self, **values: Any) -> None:
        if self.bar is not None:
            self.bar.set(**values)
