"""Equations drawn offline: LaTeX through matplotlib's mathtext, as inline SVG (HTML) or PNG (notebook).

A report must show its equations without MathJax from the internet. mathtext reads the
subset of LaTeX the recipes use (``\\frac``, ``\\sqrt``, ``\\sum``, ``\\mathcal``, ``\\text``,
sub/superscripts); what it cannot read comes back as None and the caller shows the source.
Glyphs are drawn as paths, so no font is needed where the report is opened.
"""

from __future__ import annotations

import functools
import hashlib
import io
import re

import matplotlib

matplotlib.use("Agg")
from matplotlib.mathtext import math_to_image  # noqa: E402

PNG_DPI = 160  # the notebook's image: sharp at 1x and 2x screens, a few kB


def _draw(latex: str, fmt: str, dpi: int) -> bytes | None:
    out = io.BytesIO()
    try:
        math_to_image(f"${latex.strip()}$", out, format=fmt, dpi=dpi)
    except (ValueError, RuntimeError):  # mathtext's parse errors are ValueErrors
        return None
    return out.getvalue()


@functools.lru_cache(maxsize=64)
def svg(latex: str) -> str | None:
    """The equation as an ``<svg>`` element to put inline in a page (ids made unique per equation)."""
    raw = _draw(latex, "svg", 100)
    if raw is None:
        return None
    text = raw.decode("utf-8")
    text = text[text.index("<svg"):]
    # Several equations on one page: matplotlib names glyph definitions by font and character,
    # and ids must be unique in a page, so prefix them with the equation's hash.
    prefix = "eq" + hashlib.sha1(latex.encode()).hexdigest()[:8] + "-"
    text = re.sub(r'\bid="([^"]+)"', lambda m: f'id="{prefix}{m.group(1)}"', text)
    text = re.sub(r'href="#([^"]+)"', lambda m: f'href="#{prefix}{m.group(1)}"', text)
    text = re.sub(r"url\(#([^)]+)\)", lambda m: f"url(#{prefix}{m.group(1)})", text)
    return text.replace("<svg ", '<svg role="img" ', 1)


@functools.lru_cache(maxsize=64)
def png(latex: str) -> bytes | None:
    """The equation as a PNG (for notebooks, whose front ends show untrusted SVG only as text)."""
    return _draw(latex, "png", PNG_DPI)
