"""The experiments. Each recipe is a folder here whose ``__init__`` defines ``RECIPE``; they are
found automatically.

A recipe folder holds ``config.py`` (its typed ``Config`` and ``PRESETS``, the assignment's
values visible in ``paper``), ``train.py`` (data loading and the training of one seed, one
function per step of the assignment, top to bottom), ``report.py`` (summary, figures and the
report section, built from the run directory alone so ``sslab report`` can rebuild them) and a
``README.md``. See docs/DEVELOPING.md.
"""

from __future__ import annotations

import dataclasses
import importlib
import pkgutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Mapping

import torch

from sslab.config import param
from sslab.errors import UserError
from sslab.train.rundir import Run

# The order of `sslab run all` and of the combined report.
ORDER = ("augment", "pretext", "barlow", "denoise", "generate")


@dataclass
class RecipeConfig:
    """Fields every recipe has. Recipe configs subclass this."""

    seed: int = param(0, "first random seed; seeds seed, seed+1, ... are run", min=0)
    seeds: int = param(1, "how many seeds to run (figures show mean and band, tables a 95% CI)", min=1, max=100)


@dataclass
class Context:
    """What one seed of a recipe gets: where to write, what to run on, the data; and, when the seed's
    independent parts run as separate worker processes (sslab.parallel), which phases this one runs."""

    run: Run
    cfg: Any
    seed: int
    device: torch.device
    data: Any
    phases: tuple[str, ...] | None = None  # None: every phase of the seed

    def runs(self, phase: str) -> bool:
        """Whether this worker trains ``phase`` (always, when the whole seed runs here)."""
        return self.phases is None or phase in self.phases


@dataclass(frozen=True)
class Part:
    """Phases of one seed that depend on nothing else of it (augment's two arms; pretext's pretext task
    with the transfer that needs it, and the baseline): a CPU run may give each its own worker.
    ``cost`` is the relative work (images through the network), so the longest parts start first."""

    name: str
    phases: tuple[str, ...]
    cost: float


@dataclass
class Recipe:
    name: str
    title: str
    seed_problem: str  # which seed problem it reproduces, e.g. "P1 of 000_32d4d66dfa7c4f8c"
    Config: type
    presets: Mapping[str, Mapping[str, Any]]
    load_data: Callable[[Any, Path | None, torch.device], Any]
    run_seed: Callable[[Context], None]
    summarize: Callable[[Run], dict]      # figures + summary dict, from files on disk
    report: Callable[[Run], Any]          # a report Section, from files on disk
    locate_data: Callable[[Path], Path | None] = lambda root: root
    description: str = ""
    # Lines the report's "reproduce" block adds after the run (say, the command that uses its model).
    next_steps: Callable[[Run], str] | None = None
    # Options the default (quick) preset takes when --data is given: real recordings may need
    # another model than the made-up data (the saved config holds them, so resume and the report's
    # command line reproduce them).
    data_preset: Mapping[str, Any] = dataclasses.field(default_factory=dict)
    # The seed's independent parts (see Part), and the order in which a sequential run writes the
    # phases' records (the joined metrics of parallel parts keep it). None: one seed is one job.
    parts: Callable[[Any], list[Part]] | None = None
    phase_order: tuple[str, ...] = ()

    def preset_extra(self, preset: str, data: Path | None) -> Mapping[str, Any] | None:
        return self.data_preset if data is not None and preset == "quick" else None


def _discover() -> dict[str, Recipe]:
    found: dict[str, Recipe] = {}
    package = Path(__file__).parent
    for info in pkgutil.iter_modules([str(package)]):
        if info.name.startswith("_") or not info.ispkg:
            continue
        module = importlib.import_module(f"{__name__}.{info.name}")
        recipe = getattr(module, "RECIPE", None)
        if isinstance(recipe, Recipe):
            found[recipe.name] = recipe
    ordered = {n: found[n] for n in ORDER if n in found}
    ordered.update({n: r for n, r in sorted(found.items()) if n not in ordered})
    return ordered


_REGISTRY: dict[str, Recipe] | None = None


def recipes() -> dict[str, Recipe]:
    global _REGISTRY
    if _REGISTRY is None:
        _REGISTRY = _discover()
    return _REGISTRY


def names() -> list[str]:
    """Recipe names without importing them (a recipe's folder is named after it)."""
    found = [i.name for i in pkgutil.iter_modules([str(Path(__file__).parent)])
             if i.ispkg and not i.name.startswith("_")]
    return [n for n in ORDER if n in found] + sorted(n for n in found if n not in ORDER)


def get(name: str) -> Recipe:
    """One recipe, importing only its own module (so a run does not pay for the others' imports)."""
    if _REGISTRY is not None and name in _REGISTRY:
        return _REGISTRY[name]
    if name in names():
        recipe = getattr(importlib.import_module(f"{__name__}.{name}"), "RECIPE", None)
        if isinstance(recipe, Recipe) and recipe.name == name:
            return recipe
    table = recipes()
    if name not in table:
        raise UserError(f"unknown recipe {name!r}; choose one of {', '.join(table)} or all")
    return table[name]


def field_names(cls: type) -> list[str]:
    return [f.name for f in dataclasses.fields(cls)]
