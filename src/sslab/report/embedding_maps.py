"""2-D maps of an embedding taken during training (t-SNE snapshots), drawn so they can be compared.

A map is a dict with ``xy`` (points, 2 columns) and ``labels`` (a class index per point). The
maps are rotated/reflected onto each other, share one axis range and one colour key, and are
drawn both as one row of panels and as one image per map (for a report's slider).
"""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

import numpy as np

from sslab.report import figures


def aligned(frames: Sequence[dict]) -> list[np.ndarray]:
    """Rotate/reflect each map onto the previous one (orthogonal Procrustes), so that stepping
    through the maps shows the representation changing rather than t-SNE's arbitrary orientation."""
    from scipy.linalg import orthogonal_procrustes

    out: list[np.ndarray] = []
    for frame in frames:
        xy = np.asarray(frame["xy"], dtype=np.float64)
        xy = (xy - xy.mean(0)) / (xy.std() + 1e-9)
        if out:
            rot, _ = orthogonal_procrustes(xy, out[-1])
            xy = xy @ rot
        out.append(xy)
    return out


def draw(frames: Sequence[dict], classes: Sequence[str], titles: Sequence[str], row_stem: Path,
         panel_stems: Sequence[Path]) -> tuple[Path, list[Path]]:
    """The aligned maps as one row of panels (saved at ``row_stem``) and one image each; one colour key."""
    maps = aligned(frames)
    lim = max(float(np.abs(m).max()) for m in maps) * 1.05
    colors = np.asarray(figures.COLORS)

    def panel(ax, xy, frame, title):
        labels = np.asarray(frame["labels"])
        ax.scatter(xy[:, 0], xy[:, 1], c=colors[labels % len(colors)], s=5, lw=0)
        ax.set_xlim(-lim, lim)
        ax.set_ylim(-lim, lim)
        ax.set_xticks([])
        ax.set_yticks([])
        ax.set_title(title, fontsize=8)

    handles = [figures.plt.Line2D([], [], marker="o", ls="", color=colors[i % len(colors)], label=c)
               for i, c in enumerate(classes)]
    # The key gets an axis of its own at the end of the row, so the layout leaves room for it.
    fig, axes = figures.plt.subplots(1, len(maps) + 1, figsize=(2.0 * len(maps) + 1.4, 2.5), dpi=110, squeeze=False,
                                     gridspec_kw={"width_ratios": [1.0] * len(maps) + [0.6]})
    for ax, xy, frame, title in zip(axes[0], maps, frames, titles):
        panel(ax, xy, frame, title)
    axes[0][-1].axis("off")
    axes[0][-1].legend(handles=handles, loc="center left", fontsize=7, frameon=False)
    row = figures.save(fig, row_stem)
    paths = []
    for xy, frame, title, stem in zip(maps, frames, titles, panel_stems):
        fig, ax = figures.plt.subplots(figsize=(5.2, 4.2), dpi=110)
        panel(ax, xy, frame, title)
        ax.legend(handles=handles, loc="center left", bbox_to_anchor=(1.0, 0.5), fontsize=7, frameon=False)
        paths.append(figures.save(fig, stem))
    return row, paths
