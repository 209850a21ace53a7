"""Render report sections as a Jupyter notebook (nbformat v4) that needs no kernel.

The notebook is built from the same blocks as the HTML page (sslab.report.document),
so the two say the same things. Text, equations (LaTeX, followed by the equation drawn
as an image, so it shows offline too), tables, claims and the resolved config become
markdown cells; figures, sliders and audio become code cells whose outputs are already filled in (PNG as ``image/png``, sound as the ``<audio>``
element that ``IPython.display.Audio`` would output), so Jupyter and ``nbconvert --to
html`` show every plot and clip without running anything. The code in those cells
is what produces the output through sslab's and IPython's API, so running the
notebook gives the same page.
"""

from __future__ import annotations

import base64
import os
import pprint
import time
from pathlib import Path
from typing import Sequence

import nbformat
import yaml
from nbformat import v4

from sslab.report import equations
from sslab.report.document import Audio, AudioGrid, Claims, Code, Figure, Math, Section, Slider, Table, Text
from sslab.report.html import CLAIM_COLUMNS, claim_cells, claim_notes, data_uri, embedded_bytes, render_block
from sslab.train import atomic
from sslab.train.rundir import Run

# What a notebook front end calls the kernel; only shown, the notebook runs without one.
KERNELSPEC = {"name": "python3", "display_name": "Python 3", "language": "python"}
SETUP = "from IPython.display import HTML, Audio, Image, display"


class _Cells:
    """Collects cells; paths in code are written relative to the notebook's folder."""

    def __init__(self, where: Path | None):
        self.where = where
        self.cells: list = []

    def path(self, path: str | os.PathLike) -> str:
        path = Path(path).resolve()
        if self.where is None:
            return path.as_posix()
        try:
            return Path(os.path.relpath(path, self.where)).as_posix()
        except ValueError:  # another drive (Windows): keep it absolute
            return path.as_posix()

    def markdown(self, text: str) -> None:
        self.cells.append(v4.new_markdown_cell(text))

    def code(self, source: str, outputs: Sequence = ()) -> None:
        self.cells.append(v4.new_code_cell(source, outputs=list(outputs)))


def _escape_cell(value) -> str:
    text = f"{value:.4g}" if isinstance(value, float) else str(value)
    return text.replace("|", "\\|").replace("\n", " ")


def markdown_table(columns: Sequence, rows: Sequence[Sequence]) -> str:
    head = "| " + " | ".join(_escape_cell(c) or " " for c in columns) + " |"
    rule = "|" + "---|" * len(columns)
    body = ["| " + " | ".join(_escape_cell(v) for v in row) + " |" for row in rows]
    return "\n".join([head, rule, *body])


def image_output(path: str | os.PathLike):
    """The ``display_data`` output of ``IPython.display.Image(filename=path)``."""
    mime, raw = embedded_bytes(path)  # the same (compacted) bytes as the HTML page
    if mime == "image/svg+xml":
        data = {mime: raw.decode("utf-8"), "text/plain": "<IPython.core.display.SVG object>"}
    else:
        data = {mime: base64.b64encode(raw).decode("ascii"), "text/plain": "<IPython.core.display.Image object>"}
    return v4.new_output("display_data", data=data)


def audio_html(path: str | os.PathLike) -> str:
    """The HTML ``IPython.display.Audio(filename=path)`` outputs: the clip as a data URI."""
    uri = data_uri(path)
    mime = uri[len("data:"):uri.index(";")]
    return (f'<audio controls="controls" preload="metadata">\n    <source src="{uri}" type="{mime}" />\n'
            "    Your browser does not support the audio element.\n</audio>")


def audio_output(path: str | os.PathLike):
    return v4.new_output("display_data", data={"text/html": audio_html(path),
                                               "text/plain": "<IPython.lib.display.Audio object>"})


def html_output(html_text: str):
    return v4.new_output("display_data", data={"text/html": html_text, "text/plain": "<IPython.core.display.HTML object>"})


def rounded(value, digits: int = 4):
    """Floats to ``digits`` significant digits, inside dicts and lists too (0.6779999999999999 -> 0.678)."""
    if isinstance(value, float):
        return float(f"{value:.{digits}g}")
    if isinstance(value, dict):
        return {k: rounded(v, digits) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(rounded(v, digits) for v in value)
    return value


def _caption(cells: _Cells, caption: str) -> None:
    if caption:
        cells.markdown(f"*{caption}*")


def add_block(cells: _Cells, block) -> None:
    if isinstance(block, Text):
        cells.markdown(block.text)
    elif isinstance(block, Math):
        # Leading/trailing $$ on their own lines: Jupyter, nbconvert and GitHub all show display math.
        cells.markdown(f"$$\n{block.latex.strip()}\n$$" + (f"\n\n*{block.caption}*" if block.caption else ""))
        drawn = equations.png(block.latex)
        if drawn is not None:  # the same equation drawn by matplotlib: shown offline, without MathJax
            output = v4.new_output("display_data", data={"image/png": base64.b64encode(drawn).decode("ascii"),
                                                         "text/plain": "<IPython.core.display.Image object>"})
            cells.code(f"from sslab.report.equations import png\nImage(data=png({block.latex.strip()!r}))", [output])
    elif isinstance(block, Table):
        cells.markdown((f"*{block.caption}*\n\n" if block.caption else "") + markdown_table(block.columns, block.rows))
    elif isinstance(block, Claims):
        rows = []
        for c in block.claims:
            *values, verdict = claim_cells(c)
            rows.append([*values, f"**{verdict}**" + "".join(f"<br>*{n}*" for n in claim_notes(c))])
        cells.markdown(markdown_table(CLAIM_COLUMNS, rows))
    elif isinstance(block, Figure):
        _caption(cells, block.caption)
        cells.code(f"Image(filename={cells.path(block.path)!r})", [image_output(block.path)])
    elif isinstance(block, Slider):
        # A notebook has no slider without a kernel: every frame, each under its label.
        _caption(cells, block.caption)
        outputs = []
        for path, label in zip(block.paths, block.labels):
            outputs.append(v4.new_output("stream", name="stdout", text=f"{label}\n"))
            outputs.append(image_output(path))
        frames = [(cells.path(p), lab) for p, lab in zip(block.paths, block.labels)]
        cells.code(f"frames = {frames!r}\nfor path, label in frames:\n    print(label)\n    display(Image(filename=path))",
                   outputs)
    elif isinstance(block, Audio):
        _caption(cells, block.caption)
        cells.code(f"Audio(filename={cells.path(block.path)!r})", [audio_output(block.path)])
    elif isinstance(block, AudioGrid):
        # One table of players, the same HTML as the report page, built by the same function.
        _caption(cells, block.caption)
        rows = [(name, [cells.path(p) if p else None for p in paths]) for name, paths in block.rows]
        source = ("from sslab.report.document import AudioGrid\nfrom sslab.report.html import render_block\n"
                  f"HTML(render_block(AudioGrid(columns={list(block.columns)!r},\n"
                  f"                            rows={rows!r})))")
        cells.code(source, [html_output(render_block(AudioGrid(block.columns, block.rows)))])
    elif isinstance(block, Code):
        if block.command:
            cells.markdown(f"On the command line:\n\n```sh\n{block.command}\n```\n\nOr in Python:")
        outputs = [v4.new_output("stream", name="stdout", text=block.output)] if block.output else []
        cells.code(block.source, outputs)
    else:
        raise TypeError(f"unknown report block {type(block).__name__}")


def add_section(cells: _Cells, section: Section) -> None:
    head = f"## {section.title}"
    if section.subtitle:
        head += f"\n\n*{section.subtitle}*"
    cells.markdown(head)
    if section.run_dir is not None:
        # The run directory every number and file of this section comes from, for the cells below.
        headline = Run(section.run_dir).summary().get("headline", {})
        cells.code("from sslab.report.notebook import rounded\nfrom sslab.train.rundir import Run\n"
                   f"run = Run.open({cells.path(section.run_dir)!r})\nrounded(run.summary()['headline'])",
                   [v4.new_output("execute_result",
                                  data={"text/plain": pprint.pformat(rounded(headline), sort_dicts=False)},
                                  execution_count=None)])
    for block in section.blocks:
        add_block(cells, block)
    if section.config:
        cells.markdown("**Resolved configuration** (`config.yaml` of the run):\n\n```yaml\n"
                       + yaml.safe_dump(section.config, sort_keys=False) + "```")


def build_notebook(title: str, sections: Sequence[Section], intro: Sequence = (), where: Path | None = None):
    """The notebook for a report page; code cells name files relative to ``where``."""
    cells = _Cells(Path(where).resolve() if where is not None else None)
    cells.markdown(f"# {title}\n\nWritten by sslab on {time.strftime('%Y-%m-%d %H:%M')}. Every figure and sound "
                   "clip is stored in this notebook as the output of its cell: nothing needs to run to see them. "
                   "The code cells show how sslab's Python API produces each output.")
    cells.code(SETUP)
    for block in intro:
        add_block(cells, block)
    for section in sections:
        add_section(cells, section)
    nb = v4.new_notebook(cells=cells.cells, metadata={"kernelspec": KERNELSPEC, "language_info": {"name": "python"},
                                                      "title": title})
    nbformat.validate(nb)
    return nb


def write_notebook(path: str | os.PathLike, title: str, sections: Sequence[Section], intro: Sequence = ()) -> Path:
    path = Path(path)
    nb = build_notebook(title, sections, intro, where=path.parent)
    atomic.write_text(path, nbformat.writes(nb))
    return path
