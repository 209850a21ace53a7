"""Means and confidence intervals over seeds, and the claim records reports are built on."""

from __future__ import annotations

import math
from typing import Any, Sequence

import numpy as np


def mean_ci(values: Sequence[float], confidence: float = 0.95) -> tuple[float, float]:
    """Mean and the half-width of its Student-t confidence interval (0 for one value)."""
    arr = np.asarray([v for v in values if v is not None and not math.isnan(v)], dtype=float)
    if arr.size == 0:
        return float("nan"), float("nan")
    mean = float(arr.mean())
    if arr.size < 2:
        return mean, 0.0
    from scipy import stats

    sem = float(arr.std(ddof=1) / math.sqrt(arr.size))
    return mean, float(stats.t.ppf(0.5 + confidence / 2, arr.size - 1) * sem)


def fmt_ci(mean: float, half: float, digits: int = 1, scale: float = 1.0, unit: str = "") -> str:
    """``71.3 ± 1.2`` (or just ``71.3`` when there is a single seed)."""
    if math.isnan(mean):
        return "n/a"
    text = f"{mean * scale:.{digits}f}{unit}"
    if half and not math.isnan(half):
        text += f" ± {half * scale:.{digits}f}"
    return text


def mean_ci_entry(values: Sequence[float], scale: float = 1.0) -> dict[str, float]:
    """``{"mean", "ci95"}`` of per-seed values (times ``scale``): the shape of a summary's headline numbers."""
    mean, half = mean_ci(values)
    return {"mean": mean * scale, "ci95": half * scale}


def fmt_entry(entry: dict, digits: int = 1, scale: float = 1.0, unit: str = "") -> str:
    """:func:`fmt_ci` of a headline entry (``{"mean", "ci95"}``; ``ci95`` may be absent)."""
    return fmt_ci(entry["mean"], entry.get("ci95", 0.0), digits, scale, unit)


ONE_SEED = "1 seed: no interval"
MAX_SEEDS = 100  # the most `--seeds` a recipe accepts (sslab.recipes.RecipeConfig)


def seeds_to_decide(values: Sequence[float], threshold: float = 0.0, confidence: float = 0.95,
                    most: int = MAX_SEEDS) -> int | None:
    """The fewest seeds whose Student-t interval would clear ``threshold``, if the mean and the
    spread stay as observed; None when no count up to ``most`` would (the mean sits on the threshold,
    or there is no spread to go by)."""
    arr = np.asarray([v for v in values if v is not None and not math.isnan(v)], dtype=float)
    if arr.size < 2:
        return None
    gap, sd = abs(float(arr.mean()) - threshold), float(arr.std(ddof=1))
    if gap == 0.0 or sd == 0.0:
        return None
    from scipy import stats

    for n in range(2, most + 1):
        if stats.t.ppf(0.5 + confidence / 2, n - 1) * sd / math.sqrt(n) < gap:
            return n
    return None


def claim(text: str, values: Sequence[float], *, unit: str = "", scale: float = 1.0,
          digits: int = 1, threshold: float = 0.0, data: str | None = None) -> dict[str, Any]:
    """A claim of the assignment tested on this run: ``values`` are per-seed effects (say, accuracy gains).

    The claim is *supported* when the whole 95% confidence interval lies above ``threshold``,
    *contradicted* when it lies below, and *inconclusive* otherwise. One seed gives no interval:
    its verdict is :data:`ONE_SEED`, whatever its value. ``data`` names what it was tested on
    (the runner fills it from the run's config when a recipe leaves it out). ``hint`` says how
    many seeds would decide an undecided claim.
    """
    clean = [float(v) for v in values if v is not None and not math.isnan(float(v))]  # a seed without a value is no seed
    mean, half = mean_ci(clean)
    n = len(clean)
    hint = ""
    if n == 0:
        verdict = "inconclusive"
    elif n < 2:
        verdict, hint = ONE_SEED, "run `--seeds 3` (or more) for a confidence interval"
    elif mean - half > threshold:
        verdict = "supported"
    elif mean + half < threshold:
        verdict = "contradicted"
    else:
        verdict = "inconclusive"
        need = seeds_to_decide(clean, threshold)
        hint = (f"`--seeds {need}` would decide it if the mean and spread stay as they are" if need else
                f"the mean is too close to {threshold * scale:g}{unit} for up to {MAX_SEEDS} seeds to decide it")
    out = {
        "claim": text,
        "verdict": verdict,
        "mean": mean,
        "ci95": half,
        "n_seeds": n,
        "values": clean,
        "missing": len(values) - n,
        "shown": fmt_ci(mean, half, digits, scale, unit),
        "per_seed": ", ".join(f"{v * scale:+.{digits}f}" for v in clean),
        "threshold": threshold,
        "hint": hint,
    }
    if data is not None:
        out["data"] = data
    return out


def verdict_class(verdict: str) -> str:
    """The CSS class a verdict is shown with (one word)."""
    return verdict if verdict in ("supported", "contradicted", "inconclusive") else "noci"


def verdict_phrase(c: dict) -> str:
    """The verdict as a sentence's end: "the claim is supported on this run" and the like."""
    if c["verdict"] == ONE_SEED:
        return "one seed gives no confidence interval, so this run cannot judge the claim"
    return f"the claim is {c['verdict']} on this run"


def seeds_phrase(n: int) -> str:
    """``1 seed`` / ``3 seeds``."""
    return f"{n} seed" if n == 1 else f"{n} seeds"


def band_phrase(n: int) -> str:
    """What a curve over ``n`` seeds shows (sslab.report.figures.band draws a band only for several)."""
    return f"mean over {n} seeds, band ±1 sd" if n > 1 else "one seed, so no band"
