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


def claim(text: str, values: Sequence[float], *, unit: str = "", scale: float = 1.0,
          digits: int = 1, threshold: float = 0.0) -> dict[str, Any]:
    """A seed claim tested on this run: ``values`` are per-seed effects (say, accuracy gains).

    The claim is *supported* when the whole confidence interval lies above
    ``threshold``, *contradicted* when it lies below, and *inconclusive* otherwise (a
    single seed is judged on its value alone and says so).
    """
    used = [float(v) for v in values if v is not None and not math.isnan(float(v))]  # a seed without a value is no seed
    mean, half = mean_ci(used)
    n = len(used)
    if math.isnan(mean):
        verdict = "inconclusive"
    elif n < 2:
        verdict = "supported" if mean > threshold else "contradicted"
    elif mean - half > threshold:
        verdict = "supported"
    elif mean + half < threshold:
        verdict = "contradicted"
    else:
        verdict = "inconclusive"
    return {
        "claim": text,
        "verdict": verdict,
        "mean": mean,
        "ci95": half,
        "n_seeds": n,
        "values": used,
        "missing": len(values) - n,
        "shown": fmt_ci(mean, half, digits, scale, unit),
        "threshold": threshold,
    }
