"""How long a recipe will take on CPU, estimated before it starts, and the warning for long runs.

The estimate scales a measured time: the CPU seconds each recipe's ``quick`` preset took on made-up
data with one thread (``QUICK_S``), multiplied by the ratio of the run's size to quick's in the
loops that dominate it: seeds x epochs x training items (see ``SCALE``). It ignores what those
factors miss (a bigger network, longer clips), so it is rough, good to a factor of two or three:
two quiet cores run faster, a busy machine slower. `sslab run all` corrects it as it goes by how
fast the recipes before ran.
"""

from __future__ import annotations

import math
from typing import Any, Callable, Mapping

# CPU seconds of `OMP_NUM_THREADS=1 sslab run RECIPE` (quick preset, made-up data, 2-core machine
# shared with other jobs): augment measured for issue 14 (/usr/bin/time user time; load average
# about 14); the others as docs/notes/<recipe>.md records them (load average 3-4).
QUICK_S = {"augment": 185.0, "pretext": 24.0, "barlow": 48.0, "denoise": 66.0, "generate": 58.0}
LONG_S = 15 * 60  # warn before a run longer than this


def _first(*values):
    return next((v for v in values if v), 0)


# Per recipe: the options that multiply its run time, the option to shorten first (an epoch
# count), and its training items (given the size of the loaded set, or None for made-up data).
SCALE: dict[str, tuple[tuple[str, ...], str, Callable[[Mapping, int | None], float] | None]] = {
    "augment": (("seeds", "epochs"), "epochs",
                lambda c, n: c["train_size"] or (n or c["synthetic_size"]) - c["val_size"]),
    "pretext": (("seeds", "pretext_epochs"), "pretext_epochs",
                lambda c, n: _first(c["unlabeled_size"], n, c["synthetic_size"] - c["labeled_size"])),
    "barlow": (("seeds", "pretrain_epochs"), "pretrain_epochs",
               lambda c, n: _first(c["unlabeled_subset"], n, c["synthetic_unlabeled"])),
    "denoise": (("seeds", "epochs"), "epochs",
                lambda c, n: n or c["made_speakers"] * c["made_sentences"] * c["noises_per_utterance"]
                * c["made_seconds"] / 2.0),
    "generate": (("seeds", "epochs", "steps_per_epoch", "batch_size"), "epochs", None),
}


def data_size(loaded: Any) -> int | None:
    """Training items of a recipe's loaded data: its unlabelled or training part, or the whole set."""
    for name in ("unlabeled", "train"):
        part = getattr(loaded, name, None)
        if part is not None and hasattr(part, "__len__"):
            return len(part)
    return len(loaded) if hasattr(loaded, "__len__") else None


def seconds(recipe: str, config: Mapping[str, Any], quick: Mapping[str, Any], size: int | None = None) -> float | None:
    """Estimated CPU wall seconds of a run with ``config`` (``quick``: the quick preset's config);
    ``size``: training items of real data (None: made-up data of the config's size)."""
    if recipe not in SCALE or recipe not in QUICK_S:
        return None
    fields, _, items = SCALE[recipe]
    ratio = math.prod(config[f] / quick[f] for f in fields)
    if items is not None:
        ratio *= items(config, size) / items(quick, None)
    return QUICK_S[recipe] * ratio


def duration(s: float) -> str:
    """``45 s``, ``12 min``, ``3.5 h``."""
    if s < 90:
        return f"{s:.0f} s"
    if s < 5400:
        return f"{s / 60:.0f} min"
    return f"{s / 3600:.1f} h"


def long_run_warning(recipe: str, config: Mapping[str, Any], quick: Mapping[str, Any], size: int | None) -> str | None:
    """The line to print before a CPU run estimated above 15 minutes, with the option that shortens it."""
    est = seconds(recipe, config, quick, size)
    if est is None or est <= LONG_S:
        return None
    _, shorten, _ = SCALE[recipe]
    fix = []
    fewer = int(config[shorten] * LONG_S / est)
    if fewer >= 1:
        fix.append(f"{shorten}={fewer}")
    elif config["seeds"] > 1:
        fix.append("--seeds 1")
    hint = (f"; for a run of about 15 min pass {' '.join(fix)}" if fix
            else "; a smaller set (see --help-config) or a GPU makes it shorter")
    return (f"{recipe}: this run will take about {duration(est)} on one CPU core (estimate: the quick preset's "
            f"{QUICK_S[recipe]:.0f} CPU s x seeds x epochs x training items, relative to quick){hint}; "
            f"Ctrl-C stops it and `sslab run --resume` continues it")
