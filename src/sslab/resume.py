"""Reading a run directory back for ``--resume``, ``report``, ``denoise`` and ``sample``.

What a run directory holds is checked with the same typed config as a fresh run, so a damaged
or hand-edited directory (an empty or list-shaped config.yaml, ``epochs: abc``, ``epochs: 0``,
a missing ``config:`` key, an unknown recipe, a corrupt study.json) is one line naming the file
and the fix instead of a traceback halfway through the run.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Mapping

from sslab import recipes as registry
from sslab.config import config_from_dict
from sslab.errors import UserError
from sslab.train.rundir import STUDY_FILE, Run
ACCEPTS = ("--resume RUN_DIR continues a run with the recipe and options saved in RUN_DIR/config.yaml; it takes "
           "no recipe name and no key=value options (to change them, start a new run)")


def saved_config(run: Run) -> dict[str, Any]:
    """config.yaml as a mapping with a known recipe and a ``config:`` mapping."""
    path = run.root / "config.yaml"
    saved = run.config()
    fix = "restore it, or start a new run (`sslab run RECIPE`)"
    if not isinstance(saved, Mapping):
        shape = "empty" if saved is None else f"a {type(saved).__name__}, not a mapping"
        raise UserError(f"{path} is {shape}; {fix}")
    recipe = saved.get("recipe")
    if not isinstance(recipe, str) or recipe not in registry.names():
        raise UserError(f"{path}: `recipe: {recipe}` is not one of {', '.join(registry.names())}; {fix}")
    if not isinstance(saved.get("config"), Mapping):
        raise UserError(f"{path} has no `config:` mapping of options; {fix}")
    return dict(saved)


def load(run: Run) -> tuple[registry.Recipe, Any, dict[str, Any]]:
    """(recipe, typed config, saved config.yaml) of a run directory, every value checked."""
    saved = saved_config(run)
    recipe = registry.get(saved["recipe"])
    path = run.root / "config.yaml"
    cfg = config_from_dict(recipe.Config, saved["config"], source=str(path))
    seeds = list(range(cfg.seed, cfg.seed + cfg.seeds))
    if saved.get("seeds") != seeds:
        raise UserError(f"{path}: `seeds: {saved.get('seeds')}` does not match seed={cfg.seed}, seeds={cfg.seeds} "
                        f"(expected {seeds}); restore the file or start a new run")
    for key, kinds in (("preset", str), ("device", str), ("data", (str, type(None))), ("logger", (str, type(None))),
                       ("threads", (int, type(None)))):
        if key in saved and not isinstance(saved[key], kinds):
            raise UserError(f"{path}: `{key}: {saved[key]!r}` is malformed; restore the file or start a new run")
    if isinstance(saved.get("threads"), int) and saved["threads"] < 1:
        raise UserError(f"{path}: `threads: {saved['threads']}` must be at least 1; restore the file")
    return recipe, cfg, saved


def check_request(path: Path, name: str | None, overrides: Mapping[str, str] | None = None) -> None:
    """Refuse ``sslab run RECIPE --resume RUN`` for another recipe's run, and any key=value."""
    if overrides:
        given = " ".join(f"{k}={v}" for k, v in overrides.items())
        raise UserError(f"{given}: {ACCEPTS}")
    if not name or name == "all" and (Path(path) / STUDY_FILE).is_file():
        return
    if "=" in name:
        raise UserError(f"{name}: {ACCEPTS}")
    if (Path(path) / STUDY_FILE).is_file():
        raise UserError(f"{path} is a `run all` folder, not a run of {name}; {ACCEPTS}")
    saved = saved_config(Run.open(path))
    if saved["recipe"] != name:
        raise UserError(f"{path} is a run of {saved['recipe']}, not of {name}; {ACCEPTS}")


def read_study(root: Path, resuming: bool = False) -> dict[str, Any]:
    """A `run all` folder's study.json, checked: its recipes (for a report), and with ``resuming``
    everything `run all` needs to carry on."""
    path = Path(root) / STUDY_FILE
    try:
        plan = json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise UserError(f"{path} is unreadable ({exc}); restore it, or run the recipes again with `sslab run all`") from None
    recipes = plan.get("recipes") if isinstance(plan, dict) else None
    if not isinstance(recipes, list) or not all(isinstance(r, str) and r in registry.names() for r in recipes):
        raise UserError(f"{path} is damaged (no list of known recipes); restore it, or run them again with "
                        "`sslab run all`")
    for key, kinds in (("preset", str), ("overrides", dict), ("data", (str, type(None))), ("seeds", (int, type(None)))):
        if resuming and not isinstance(plan.get(key), kinds):
            raise UserError(f"{path}: `{key}` is missing or malformed; restore it, or run the recipes again with "
                            "`sslab run all`")
    return plan
