"""Equations are drawn offline: an inline SVG of glyph paths, a PNG for notebooks, the source when mathtext cannot."""

import io
import re

from PIL import Image

from sslab.report import equations
from sslab.report.document import Math
from sslab.report.html import render_block

IBM = r"M_{f,t} = 1 \text{ if } |S_{f,t}| > |N_{f,t}| \text{ else } 0"


def test_svg_is_glyph_paths_with_ids_unique_per_equation():
    a, b = equations.svg(IBM), equations.svg(r"\mathcal{L} = \sum_i x_i^2")
    assert a.startswith('<svg role="img"') and "<path" in a and "<text" not in a  # no font needed to show it
    ids_a, ids_b = (set(re.findall(r'\bid="([^"]+)"', svg)) for svg in (a, b))
    assert ids_a and ids_b and not ids_a & ids_b
    assert all(ref in ids_a for ref in re.findall(r'href="#([^"]+)"', a))  # every glyph use finds its definition


def test_png_is_an_image_and_bad_latex_falls_back_to_the_source():
    with Image.open(io.BytesIO(equations.png(IBM))) as im:
        assert im.width > 100 and im.height > 10
    assert equations.svg(r"\frac{1}{") is None
    page = render_block(Math(r"\frac{1}{", "broken"))
    assert "\\frac{1}{" in page and "<svg" not in page
    assert "<svg" in render_block(Math(IBM)) and "<summary>LaTeX</summary>" in render_block(Math(IBM))
