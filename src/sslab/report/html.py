"""Render report sections as one self-contained HTML file.

Everything is inline: images and audio as data URIs, CSS in a <style> element, and the
few lines of script for image sliders in a <script> element. No network, no fonts.
"""

from __future__ import annotations

import base64
import functools
import html
import io
import os
import re
import time
from pathlib import Path
from typing import Sequence

import yaml
from PIL import Image

from sslab.errors import UserError
from sslab.report import equations
from sslab.report.document import Audio, AudioGrid, Claims, Code, Figure, Math, Section, Slider, Table, Text
from sslab.report.stats import verdict_class
from sslab.train import atomic

CSS = """
:root{--fg:#1b1f24;--muted:#5b6470;--line:#d9dee4;--bg:#fff;--accent:#1f5fa8;--ok:#1a7f37;--bad:#b42318;--meh:#9a6700}
*{box-sizing:border-box}
body{font:16px/1.55 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:var(--fg);background:var(--bg);margin:0}
main{max-width:980px;margin:0 auto;padding:16px}
h1{font-size:1.6em;margin:.4em 0}h2{font-size:1.3em;border-bottom:1px solid var(--line);padding-bottom:.2em;margin-top:1.8em}
h3{font-size:1.05em;margin-top:1.2em}
.sub{color:var(--muted);margin-top:-.4em}
img{max-width:100%;height:auto;display:block;margin:.3em auto}
figure{margin:1em 0}figcaption{color:var(--muted);font-size:.9em;text-align:center}
.tw{overflow-x:auto;max-width:100%}table{border-collapse:collapse;margin:.6em 0;font-size:.92em}
th,td{border-bottom:1px solid var(--line);padding:.3em .6em;text-align:left;vertical-align:top}th{background:#f4f6f8}
code,pre{font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;font-size:.88em}
pre{background:#f6f8fa;padding:.7em;overflow-x:auto;border-radius:4px}
pre.out{background:#fff;border:1px solid var(--line)}
.math{background:#f6f8fa;padding:.5em;overflow-x:auto;border-left:3px solid var(--accent)}
.math svg{display:block;margin:0 auto;max-width:100%;height:auto}.math .tex{font-family:ui-monospace,monospace;font-size:.8em;color:var(--muted)}
details{margin:.6em 0}summary{cursor:pointer;color:var(--accent)}
audio{display:block;width:100%;min-width:250px;max-width:420px}
.players{margin:1em 0}.prow{border-bottom:1px solid var(--line);padding:.4em 0}.pname{font-weight:600}
.pcells{display:flex;flex-wrap:wrap;gap:.3em 1em}.pcell{flex:1 1 260px;max-width:420px;margin:0}
.pcell figcaption{text-align:left}.players>.cap{color:var(--muted);font-size:.9em}
.verdict{white-space:nowrap;font-weight:600}.supported{color:var(--ok)}.contradicted{color:var(--bad)}
.inconclusive{color:var(--meh)}.noci{color:var(--muted)}.madeup .verdict{color:var(--muted)}
td small{display:block;color:var(--muted);font-size:.85em;min-width:14em}
@media (max-width:600px){main{padding:10px}figure{margin:.8em 0}body{font-size:15px}
table.claims,table.claims tbody,table.claims tr,table.claims td{display:block}table.claims thead{display:none}
table.claims tr{border-bottom:2px solid var(--line);padding:.4em 0}table.claims td{border:0;padding:.1em 0}
table.claims td::before{content:attr(data-label) ": ";color:var(--muted)}table.claims td:first-child::before{content:""}
table.claims td:first-child{font-weight:600}td small{min-width:0}}
nav a{margin-right:.8em}
input[type=range]{width:100%}
"""

SLIDER_JS = """
document.querySelectorAll('.slider').forEach(function(s){
  var imgs=s.querySelectorAll('img'),lab=s.querySelector('.slabel'),r=s.querySelector('input');
  function show(i){imgs.forEach(function(im,j){im.style.display=j==i?'block':'none'});lab.textContent=imgs[i].dataset.label}
  r.addEventListener('input',function(){show(+r.value)});show(+r.value);
});
"""

MIME = {".png": "image/png", ".jpg": "image/jpeg", ".jpeg": "image/jpeg", ".svg": "image/svg+xml",
        ".wav": "audio/wav", ".mp3": "audio/mpeg", ".flac": "audio/flac", ".gif": "image/gif"}


@functools.lru_cache(maxsize=256)
def _compact_png(path: str, mtime_ns: int, size: int) -> bytes:
    """A PNG as a 256-colour palette image when that is smaller (plots have few colours: 2-3x smaller,
    a mean error under half a grey level); images with real transparency stay as they are."""
    data = Path(path).read_bytes()
    try:
        with Image.open(io.BytesIO(data)) as im:
            if im.mode == "P" or (im.mode in ("RGBA", "LA") and im.getchannel("A").getextrema()[0] < 255):
                return data
            small = im.convert("RGB").quantize(256, method=Image.Quantize.MEDIANCUT, dither=Image.Dither.NONE)
            out = io.BytesIO()
            small.save(out, "PNG", optimize=True)
    except (OSError, ValueError):  # not a PNG Pillow reads: embed it untouched, the browser decides
        return data
    return out.getvalue() if out.tell() < 0.8 * len(data) else data


def embedded_bytes(path: str | os.PathLike) -> tuple[str, bytes]:
    """MIME type and the bytes a report embeds for a file (the HTML page and the notebook alike)."""
    path = Path(path)
    mime = MIME.get(path.suffix.lower(), "application/octet-stream")
    if not path.is_file():
        run_dir = path.parent.parent if path.parent.name == "figures" else path.parent
        raise UserError(f"{path}: the report shows this file and it is missing; draw it again with "
                        f"`sslab run --resume {run_dir}` (a finished run is finished again, same numbers)")
    if mime == "image/png":
        st = path.stat()
        return mime, _compact_png(str(path.resolve()), st.st_mtime_ns, st.st_size)
    return mime, path.read_bytes()


def data_uri(path: str | os.PathLike) -> str:
    mime, data = embedded_bytes(path)
    return f"data:{mime};base64," + base64.b64encode(data).decode("ascii")


def inline(text: str) -> str:
    """Escape, then allow `code` and **bold**."""
    out = html.escape(text)
    out = re.sub(r"`([^`]+)`", r"<code>\1</code>", out)
    return re.sub(r"\*\*([^*]+)\*\*", r"<b>\1</b>", out)


def _cell(value) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    return inline(str(value))


def render_block(block) -> str:
    if isinstance(block, Text):
        return "".join(f"<p>{inline(p)}</p>" for p in block.text.split("\n\n"))
    if isinstance(block, Math):
        cap = f"<figcaption>{inline(block.caption)}</figcaption>" if block.caption else ""
        drawn = equations.svg(block.latex)
        tex = html.escape(block.latex)
        body = (f'{drawn}<details><summary>LaTeX</summary><div class="tex">{tex}</div></details>' if drawn
                else f'<div class="tex">{tex}</div>')  # beyond what mathtext reads: the source
        return f'<figure><div class="math">{body}</div>{cap}</figure>'
    if isinstance(block, Table):
        head = "".join(f"<th>{inline(str(c))}</th>" for c in block.columns)
        body = "".join("<tr>" + "".join(f"<td>{_cell(v)}</td>" for v in row) + "</tr>" for row in block.rows)
        cap = f"<caption>{inline(block.caption)}</caption>" if block.caption else ""
        return f'<div class="tw"><table>{cap}<thead><tr>{head}</tr></thead><tbody>{body}</tbody></table></div>'
    if isinstance(block, Figure):
        cap = f"<figcaption>{inline(block.caption)}</figcaption>" if block.caption else ""
        return f'<figure><img src="{data_uri(block.path)}" alt="{html.escape(block.caption)}">{cap}</figure>'
    if isinstance(block, Slider):
        imgs = "".join(
            f'<img src="{data_uri(p)}" data-label="{html.escape(lab)}" alt="{html.escape(lab)}">'
            for p, lab in zip(block.paths, block.labels)
        )
        n = len(block.paths)
        return (f'<figure class="slider">{imgs}<input type="range" min="0" max="{n - 1}" value="{n - 1}" '
                f'aria-label="frame"><figcaption><span class="slabel"></span> {inline(block.caption)} Drag the slider to '
                f'step through them.</figcaption></figure>')
    if isinstance(block, Audio):
        cap = f"<figcaption>{inline(block.caption)}</figcaption>" if block.caption else ""
        return f'<figure><audio controls preload="metadata" src="{data_uri(block.path)}"></audio>{cap}</figure>'
    if isinstance(block, AudioGrid):
        # Rows of labelled players that wrap: side by side on a wide screen, stacked on a phone, each
        # at least 250 px wide. Inline styles too, since a notebook shows this HTML without the page's CSS.
        rows = []
        for name, paths in block.rows:
            cells = "".join(
                f'<figure class="pcell" style="flex:1 1 260px;max-width:420px;margin:0">'
                f'<figcaption>{inline(col)}</figcaption>'
                + (f'<audio controls preload="metadata" style="display:block;width:100%;min-width:250px" '
                   f'src="{data_uri(p)}"></audio>' if p else "<p>-</p>") + "</figure>"
                for col, p in zip(block.columns, paths)
            )
            rows.append(f'<div class="prow"><div class="pname">{inline(name)}</div>'
                        f'<div class="pcells" style="display:flex;flex-wrap:wrap;gap:4px 16px">{cells}</div></div>')
        cap = f'<p class="cap">{inline(block.caption)}</p>' if block.caption else ""
        return f'<div class="players">{cap}{"".join(rows)}</div>'
    if isinstance(block, Code):
        out = f'<pre class="out">{html.escape(block.output)}</pre>' if block.output else ""
        if block.command:
            return (f"<details><summary>Reproduce with sslab</summary><p>On the command line:</p>"
                    f"<pre>{html.escape(block.command)}</pre><p>Or in Python:</p>"
                    f"<pre>{html.escape(block.source)}</pre>{out}</details>")
        return f"<details><summary>Reproduce with sslab</summary><pre>{html.escape(block.source)}</pre>{out}</details>"
    if isinstance(block, Claims):
        return claims_table(block.claims)
    raise TypeError(f"unknown report block {type(block).__name__}")


CLAIM_COLUMNS = ("Claim from the assignment", "data", "per seed", "mean ± 95% CI", "n", "verdict")


def claim_notes(c: dict) -> list[str]:
    """What a claim's verdict needs beside it: made-up data, and how many seeds would decide it."""
    notes = ["made-up data: a check of the pipeline, not of the claim"] if c.get("made_up") else []
    return notes + ([c["hint"]] if c.get("hint") else [])


def claim_cells(c: dict) -> list[str]:
    """A claim's cells as text (with `code` marks), in the order of :data:`CLAIM_COLUMNS`; the verdict last."""
    per_seed = c.get("per_seed") or ", ".join(f"{v:.3g}" for v in c["values"])  # older summaries lack it
    return [c["claim"], c.get("data", "not recorded"), per_seed, c["shown"], str(c["n_seeds"]), c["verdict"]]


def claims_table(claims) -> str:
    rows = []
    for c in claims:
        *cells, verdict = claim_cells(c)
        small = "".join(f"<small>{inline(note)}</small>" for note in claim_notes(c))
        rows.append(f'<tr class="{"madeup" if c.get("made_up") else ""}">'
                    + "".join(f'<td data-label="{col}">{inline(v)}</td>' for col, v in zip(CLAIM_COLUMNS, cells))
                    + f'<td data-label="verdict"><span class="verdict {verdict_class(verdict)}">'
                    f"{html.escape(verdict)}</span>{small}</td></tr>")
    head = "".join(f"<th>{inline(col)}</th>" for col in CLAIM_COLUMNS)
    return (f'<div class="tw"><table class="claims"><thead><tr>{head}</tr></thead>'
            f'<tbody>{"".join(rows)}</tbody></table></div>')


def render_section(section: Section, level: int = 2) -> str:
    anchor = f' id="{html.escape(section.anchor)}"' if section.anchor else ""
    parts = [f"<section{anchor}><h{level}>{inline(section.title)}</h{level}>"]
    if section.subtitle:
        parts.append(f'<p class="sub">{inline(section.subtitle)}</p>')
    parts.extend(render_block(b) for b in section.blocks)
    if section.config:
        parts.append("<details><summary>Resolved configuration</summary><pre>"
                     + html.escape(yaml.safe_dump(section.config, sort_keys=False)) + "</pre></details>")
    parts.append("</section>")
    return "\n".join(parts)


def render_page(title: str, sections: Sequence[Section], intro: Sequence = ()) -> str:
    nav = ""
    if len(sections) > 1:
        nav = "<nav>" + "".join(f'<a href="#{s.anchor}">{inline(s.title)}</a>' for s in sections if s.anchor) + "</nav>"
    body = "\n".join(render_block(b) for b in intro) + "\n".join(render_section(s) for s in sections)
    stamp = time.strftime("%Y-%m-%d %H:%M")
    return (
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{html.escape(title)}</title><style>{CSS}</style></head><body><main>"
        f'<h1>{html.escape(title)}</h1><p class="sub">Written by sslab on {stamp}.</p>{nav}{body}'
        f"</main><script>{SLIDER_JS}</script></body></html>\n"
    )


def write_page(path: str | os.PathLike, title: str, sections: Sequence[Section], intro: Sequence = ()) -> Path:
    atomic.write_text(path, render_page(title, sections, intro))
    return Path(path)

