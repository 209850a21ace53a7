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
"""

from __future__ import annotations

import json
import os
import subprocess
import time
from pathlib import Path
from typing import Any, Iterator, Mapping

import torch
import yaml

import sslab
from sslab.errors import UserError
from sslab.train import atomic
from sslab.train.checkpoint import load_state, rng_state, save_state, set_rng_state
from sslab.train.progress import Progress


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

    # ---- config and summary ---------------------------------------------------------
    def save_config(self, config: Mapping[str, Any]) -> None:
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
        path = self.root / "summary.json"
        if not path.is_file():
            path = self.root / ".summary-draft.json"
        if not path.is_file():
            raise UserError(f"{self.root} has no summary.json: the run did not finish; finish it with `sslab run --resume {self.root}`")
        return json.loads(path.read_text())

    # ---- metrics --------------------------------------------------------------------
    @property
    def metrics_path(self) -> Path:
        return self.root / "metrics.jsonl"

    def records(self) -> list[dict[str, Any]]:
        if self._records is None:
            self._records = []
            if self.metrics_path.is_file():
                for line in self.metrics_path.read_text().splitlines():
                    if line.strip():
                        self._records.append(json.loads(line))
        return self._records

    def _flush(self) -> None:
        text = "".join(json.dumps(r, default=atomic._json_default) + "\n" for r in self.records())
        atomic.write_text(self.metrics_path, text)

    def log(self, **record: Any) -> None:
        """Append one record (rewritten atomically, so the file is never half a line)."""
        record = {k: (v.item() if hasattr(v, "item") else v) for k, v in record.items()}
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

    def prepare_resume(self) -> None:
        """Cut metrics back to what the newest checkpoint or mark covers."""
        covered = 0
        for path in self.state_files():
            try:
                covered = max(covered, int(load_state(path)["metrics_count"]))
            except (UserError, KeyError):
                continue  # a torn file cannot exist (atomic writes), but never trust it
        records = self.records()
        for i, r in enumerate(records):
            if r.get("event") == "done":
                covered = max(covered, i + 1)
        del records[covered:]
        self._flush()
        (self.root / "summary.json").unlink(missing_ok=True)

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
        for key, obj in self.objects.items():
            if isinstance(obj, torch.Generator):
                obj.set_state(state[key].to(torch.uint8))
            elif isinstance(obj, torch.nn.Module):
                device = next(obj.parameters(), torch.empty(0)).device
                obj.load_state_dict({k: v.to(device) for k, v in state[key].items()})
            else:
                obj.load_state_dict(state[key])
        set_rng_state(state["rng"])
        return int(state["epoch"])

    def save(self, epoch: int) -> None:
        save_state(self.path, self._state(epoch))

    def epochs(self, total: int, desc: str | None = None) -> Iterator[int]:
        """Yield the epochs still to run; checkpoint after each (every ``every``)."""
        start = self.restore()
        self.bar = Progress(range(start, total), total - start, desc or self.name)
        for epoch in self.bar:
            yield epoch
            finished = epoch + 1
            if finished % self.every == 0 or finished == total:
                self.save(finished)

    def show(self, **values: Any) -> None:
        if self.bar is not None:
            self.bar.set(**values)
