"""The report as data: a list of sections made of blocks.

Recipes describe their results once, as blocks; the HTML report (and the notebook
export) render the same blocks, so the two always say the same thing.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence, Union


@dataclass
class Text:
    """A paragraph. Supports `code` and **bold** inline, nothing else."""

    text: str


@dataclass
class Math:
    """A displayed equation in LaTeX, drawn offline (sslab.report.equations): inline SVG in HTML,
    an image beside the LaTeX source in notebooks."""

    latex: str
    caption: str = ""


@dataclass
class Table:
    columns: Sequence[str]
    rows: Sequence[Sequence[Any]]
    caption: str = ""


@dataclass
class Figure:
    path: Path
    caption: str = ""


@dataclass
class Slider:
    """Several images of one thing over time (say, t-SNE maps during training)."""

    paths: Sequence[Path]
    labels: Sequence[str]
    caption: str = ""


@dataclass
class Audio:
    path: Path
    caption: str = ""


@dataclass
class AudioGrid:
    """Rows of labelled audio clips, e.g. noisy / denoised / clean for a few files."""

    columns: Sequence[str]
    rows: Sequence[tuple[str, Sequence[Path | None]]]
    caption: str = ""


@dataclass
class Code:
    """Python that reproduces a step through sslab's API (shown, never run by the report).

    ``output`` is what running it prints, when known: the notebook fills it in as the
    cell's output, so the notebook reads as if it had been run. ``command`` is the same
    step as a shell command line, shown above the Python when given.
    """

    source: str
    output: str = ""
    command: str = ""


@dataclass
class Claims:
    """The assignment's claims and what this run says about them (from summary.json; see
    sslab.report.stats.claim). A claim may carry ``data`` (what it was tested on) and
    ``made_up`` (True when that was data sslab made itself)."""

    claims: Sequence[dict]


Block = Union[Text, Math, Table, Figure, Slider, Audio, AudioGrid, Code, Claims]


@dataclass
class Section:
    title: str
    blocks: list[Block] = field(default_factory=list)
    subtitle: str = ""
    anchor: str = ""
    config: dict | None = None
    run_dir: Path | None = None  # the run directory it was built from (the notebook opens it in code)
