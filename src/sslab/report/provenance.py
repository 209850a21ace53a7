"""Where a run's numbers come from: the data its claims were tested on, and the exact command
(and ``run_recipe`` call) that runs it again, both read from the run's saved ``config.yaml``.

Only the options that differ from the run's preset are written out, so the command reads
as a user would type it; together with ``--preset`` and ``--seeds`` it rebuilds the
resolved config field for field (tests/test_runner.py runs the printed command).
"""

from __future__ import annotations

import shlex
from pathlib import Path
from typing import Any, Mapping

from sslab.config import build_config, config_dict

MADE_UP = "made-up (data sslab makes itself)"


def data_label(conf: Mapping[str, Any], summary: Mapping[str, Any]) -> str:
    """What a run was tested on: the recipe's own words (``summary["data"]``, say "CIFAR-10, 45,000
    training / 5,000 validation images") or, failing that, made-up vs the real folder's name."""
    if summary.get("data"):
        return str(summary["data"])
    if not conf.get("data"):
        return MADE_UP
    return f"real: {Path(conf['data']).name} ({conf['data']})"


def claims_with_provenance(conf: Mapping[str, Any], summary: Mapping[str, Any]) -> list[dict]:
    """The summary's claims, each naming its data and whether that data was made up."""
    label = data_label(conf, summary)
    return [{**c, "data": c.get("data") or label, "made_up": not conf.get("data")} for c in summary.get("claims", [])]


def option_text(value: Any) -> str:
    """A config value as ``key=value`` text that sslab.config parses back to the same value."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (list, tuple)):
        return ",".join(option_text(v) for v in value)
    if isinstance(value, float):
        return repr(value)
    return str(value)


def overrides(conf: Mapping[str, Any], config_cls: type, presets: Mapping[str, Mapping[str, Any]]) -> dict[str, str]:
    """The saved config's options that differ from its preset (``seeds`` aside: ``--seeds`` says it)."""
    base = config_dict(build_config(config_cls, presets, conf["preset"], {}, conf["recipe"]))
    saved = conf["config"]
    return {k: option_text(saved[k]) for k in base if k != "seeds" and k in saved and saved[k] != base[k]}


def command_line(conf: Mapping[str, Any], config_cls: type, presets: Mapping[str, Mapping[str, Any]]) -> str:
    """``sslab run RECIPE [--data DIR] --preset P --seeds N [key=value ...]``, quoted for a POSIX shell.

    A CPU run starts with its thread count (``OMP_NUM_THREADS=N``): CPU results depend on it.
    """
    args = ["sslab", "run", conf["recipe"]]
    if str(conf.get("device", "cpu")).startswith("cpu") and conf.get("threads"):
        args.insert(0, f"OMP_NUM_THREADS={int(conf['threads'])}")
    if conf.get("data"):
        args += ["--data", str(conf["data"])]
    args += ["--preset", conf["preset"], "--seeds", str(len(conf["seeds"]))]
    args += [f"{k}={v}" for k, v in overrides(conf, config_cls, presets).items()]
    return shlex.join(args)


def python_call(conf: Mapping[str, Any], config_cls: type, presets: Mapping[str, Mapping[str, Any]]) -> str:
    """The same run through the Python API: imports, the ``run_recipe(...)`` call and a print of its result."""
    head = "from sslab.runner import run_recipe\n"
    args = [repr(conf["recipe"]), f"preset={conf['preset']!r}", f"seeds={len(conf['seeds'])}"]
    if conf.get("data"):
        head = "from pathlib import Path\n" + head
        args.append(f"data=Path({str(conf['data'])!r})")
    opts = overrides(conf, config_cls, presets)
    if opts:
        args.append(f"overrides={opts!r}")
    call = "run = run_recipe(" + ", ".join(args) + ")"
    if str(conf.get("device", "cpu")).startswith("cpu") and conf.get("threads"):
        # run_recipe keeps a thread count the environment sets before torch starts.
        threads = int(conf["threads"])
        head = f"import os\nos.environ.setdefault('OMP_NUM_THREADS', '{threads}')  # CPU results depend on it\n" + head
    if len(call) > 100:
        call = "run = run_recipe(\n    " + ",\n    ".join(args) + ",\n)"
    return head + call + "\nprint(run.summary()['text'])"
