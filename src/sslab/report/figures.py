"""Figures every recipe uses: curves with a band over seeds, image grids, spectrograms.

Each figure is saved as PNG (for the report) and SVG (for papers) under ``figures/``.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Sequence

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from sslab.train import atomic  # noqa: E402

COLORS = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf"]


def new_figure(width: float = 6.4, height: float = 3.8):
    fig, ax = plt.subplots(figsize=(width, height), dpi=110)
    ax.grid(alpha=0.3)
    return fig, ax


def save(fig, path_stem: str | os.PathLike) -> Path:
    """Write ``<stem>.png`` and ``<stem>.svg`` atomically; return the PNG path."""
    stem = Path(path_stem)
    stem.parent.mkdir(parents=True, exist_ok=True)
    fig.tight_layout()
    for ext in ("png", "svg"):
        with atomic.atomic_path(stem.with_suffix(f".{ext}")) as tmp:
            fig.savefig(tmp, format=ext, dpi=110 if ext == "png" else None)
    plt.close(fig)
    return stem.with_suffix(".png")


def band(ax, x: Sequence[float], runs: Sequence[Sequence[float]], label: str, color: str | None = None) -> None:
    """Mean curve over seeds with a band of +-1 standard deviation (none for one seed)."""
    arr = np.asarray(runs, dtype=float)
    if arr.ndim == 1:
        arr = arr[None]
    mean = np.nanmean(arr, axis=0)
    n = arr.shape[0]
    lab = f"{label} (mean of {n} seeds, band ±1 sd)" if n > 1 else label
    line = ax.plot(x, mean, label=lab, color=color, lw=1.6)[0]
    if n > 1:
        sd = np.nanstd(arr, axis=0, ddof=1)
        ax.fill_between(x, mean - sd, mean + sd, color=line.get_color(), alpha=0.2, lw=0)


def image_grid(images: np.ndarray, row_labels: Sequence[str], col_labels: Sequence[str] | None,
               path_stem: str | os.PathLike, title: str = "") -> Path:
    """Grid of uint8 HWC images shaped (rows, cols, H, W, 3)."""
    rows, cols = images.shape[:2]
    fig, axes = plt.subplots(rows, cols, figsize=(1.1 * cols + 1.0, 1.1 * rows + 0.4), dpi=110, squeeze=False)
    for r in range(rows):
        for c in range(cols):
            ax = axes[r][c]
            ax.imshow(images[r, c], interpolation="nearest")
            ax.set_xticks([])
            ax.set_yticks([])
            if c == 0:
                ax.set_ylabel(row_labels[r], fontsize=8)
            if r == 0 and col_labels is not None:
                ax.set_title(col_labels[c], fontsize=7)
    if title:
        fig.suptitle(title, fontsize=10)
    return save(fig, path_stem)


def chance_line(ax, level: float, label: str = "chance") -> None:
    """A dashed grey line at the accuracy of guessing (say 100 / classes %), labelled in the legend."""
    ax.axhline(level, color="#7f7f7f", ls="--", lw=1, label=f"{label} ({level:.3g})")
