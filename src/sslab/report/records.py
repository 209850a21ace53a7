"""Reading a run's metric records back, per seed: the curves and final values reports are drawn from.

A record is one line of ``metrics.jsonl`` (a dict with at least ``seed`` and ``phase``). Every
function here takes the seeds from the run's saved config, so a report drawn from the run
directory alone sees exactly the seeds that ran, in order.
"""

from __future__ import annotations

from typing import Any, Callable, Union

from sslab.train.rundir import Run

Key = Union[str, Callable[[dict], Any]]  # a record's field, or a function of the record


def by_seed(run: Run, phase: str, **match: Any) -> list[list[dict]]:
    """The records of ``phase`` (and ``match``) for each seed of the run, in seed order."""
    return [run.select(seed=s, phase=phase, **match) for s in run.config()["seeds"]]


def seed_curves(run: Run, phase: str, key: Key, x: str = "epoch", **match: Any) -> tuple[list, list[list]]:
    """(x values, one curve per seed) of ``key`` over the records of ``phase``, cut to the shortest seed.

    Records without ``key`` are skipped (a phase may log several kinds); seeds with no
    records are left out. ``x`` is read from the first seed's records (1, 2, ... when they
    have no such field).
    """
    get = key if callable(key) else (lambda r: r[key])
    per_seed = [[r for r in records if callable(key) or key in r] for records in by_seed(run, phase, **match)]
    per_seed = [records for records in per_seed if records]
    if not per_seed:
        return [], []
    length = min(len(records) for records in per_seed)
    first = per_seed[0][:length]
    xs = [r[x] for r in first] if all(x in r for r in first) else list(range(1, length + 1))
    return xs, [[get(r) for r in records[:length]] for records in per_seed]


def finals(run: Run, phase: str, key: Key, **match: Any) -> list:
    """The last value of ``key`` in ``phase`` for each seed that logged one (seed order)."""
    _, curves = seed_curves(run, phase, key, **match)
    return [curve[-1] for curve in curves]
