"""Seeds run on different machines, combined into one run directory (``sslab merge``).

Each machine runs ``sslab run RECIPE seed=K`` (a SLURM array, Ray, several laptops); the
merge checks that the runs share the recipe, the preset, every option but ``seed`` and
``seeds``, the kind of data (made-up or real) and the code version, and that no seed is in
two of them. It then builds a new run directory: every run's files (checkpoints, splits,
examples; on a name clash the run with the lowest seed wins), the metric records in seed
order (what one run with all the seeds writes), a config listing the runs it came from,
and then the figures, summary (CIs over all seeds) and report as a finished run has them.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any, Sequence

from sslab import parallel
from sslab import recipes as registry
from sslab.errors import UserError
from sslab.runner import finish
from sslab.train import atomic
from sslab.train.rundir import Run

# Must be equal in every run merged: the experiment and the code that ran it.
SAME = ("recipe", "preset", "sslab_version", "git_commit")
# Recorded per run in ``merged_from`` (they may differ between machines).
PER_RUN = ("device", "data", "threads", "workers", "torch_version", "python_version", "started")
# Written anew in the merged folder.
REBUILT = {"config.yaml", "metrics.jsonl", "summary.json", ".summary-draft.json", "report.html", "report.ipynb",
           parallel.SEEDS_DIR}


def _show(value: Any) -> str:
    text = json.dumps(value) if not isinstance(value, str) else value
    return text if len(text) <= 40 else text[:37] + "..."


def differences(a: dict, b: dict) -> list[str]:
    """The keys in which two runs' configs differ, as ``key (A vs B)``; seeds and machine details aside."""
    out = [f"{k} ({_show(a.get(k))} vs {_show(b.get(k))})" for k in SAME if a.get(k) != b.get(k)]
    ca, cb = a.get("config", {}), b.get("config", {})
    for key in sorted(set(ca) | set(cb)):
        if key not in ("seed", "seeds") and ca.get(key) != cb.get(key):
            out.append(f"{key} ({_show(ca.get(key))} vs {_show(cb.get(key))})")
    if (a.get("data") is None) != (b.get("data") is None):
        out.append(f"data ({_show(a.get('data'))} vs {_show(b.get('data'))})")
    return out


def merge_runs(paths: Sequence[Path], out: Path) -> Run:
    """One finished run directory at ``out`` with every seed of the runs at ``paths``."""
    if len(paths) < 2:
        raise UserError("sslab merge needs at least two run directories (one per machine or seed)")
    runs = []
    for path in paths:
        path = Path(path)
        if not path.is_dir():
            raise UserError(f"{path}: no such run directory")
        run = Run.open(path)
        if not run.complete:
            raise UserError(f"{path} did not finish (no summary.json); finish it with `sslab run --resume {path}` "
                            "before merging")
        runs.append(run)
    configs = [r.config() for r in runs]
    first = configs[0]
    for run, conf in zip(runs[1:], configs[1:]):
        diff = differences(first, conf)
        if diff:
            raise UserError(f"{runs[0].root} and {run.root} differ in {', '.join(diff)}; merge only runs of the "
                            "same recipe, options and code (rerun the odd one with the same settings)")
    owner: dict[int, Path] = {}
    for run, conf in zip(runs, configs):
        for seed in conf["seeds"]:
            if seed in owner:
                raise UserError(f"seed {seed} is in both {owner[seed]} and {run.root}; merge runs of different "
                                "seeds (sslab run RECIPE seed=K on each machine)")
            owner[seed] = run.root
    order = sorted(range(len(runs)), key=lambda i: min(configs[i]["seeds"]))
    runs, configs = [runs[i] for i in order], [configs[i] for i in order]
    seeds = sorted(owner)
    recipe = registry.get(first["recipe"])
    merged = dict(configs[0])
    merged["config"] = {**configs[0]["config"], "seed": seeds[0], "seeds": len(seeds)}
    merged["seeds"] = seeds
    for key in ("workers", "thread_policy", "seed_files", "split_parts"):
        merged.pop(key, None)
    merged["merged_from"] = [{"run": str(r.root.resolve()), "seeds": c["seeds"], **{k: c.get(k) for k in PER_RUN}}
                             for r, c in zip(runs, configs)]
    with atomic.new_folder(out) as tmp:
        for run in reversed(runs):  # the lowest seed's files are copied last and win a clash
            for item in run.root.iterdir():
                if item.name in REBUILT or item.name.startswith("."):
                    continue
                target = tmp / item.name
                if item.is_dir():
                    shutil.copytree(item, target, dirs_exist_ok=True)
                else:
                    shutil.copy2(item, target)
        text = "".join(run.metrics_path.read_text() for run in runs)
        atomic.write_text(tmp / "metrics.jsonl", text)
        (tmp / "figures").mkdir(exist_ok=True)
        (tmp / "checkpoints").mkdir(exist_ok=True)
        Run(tmp).save_config(merged)
    # The summary (written last) marks the merged run complete; the report names its final folder.
    result = Run(out)
    finish(result, recipe)
    return result
