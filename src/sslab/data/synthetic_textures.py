"""A made-up 10-class, 32x32 colour texture set for self-supervised learning, generated in
seconds from a seed.

The class is the surface pattern (stripes, checks, dots, rings, ...) that fills the
frame; everything else is drawn at random: the pattern's two colours, its period and
phase, a smooth shading, an occluding blob of another colour, lighting and sensor noise.

It is built for the Barlow Twins recipe, whose views (random resized crop, flip, colour
jitter, grayscale, blur, solarisation) keep exactly this kind of information and destroy
the rest:
- the pattern covers the whole image, so a crop of 20% of it still shows the class (on
  :mod:`sslab.data.synthetic_images`, whose class is the shape of an object covering a few
  percent of a cluttered scene, a crop often misses the object and Barlow Twins learns
  nothing measurable in a CPU-sized run);
- colour is random and shared by the two views of an image, so without colour jitter and
  grayscale colour is a shortcut that matches views without telling classes apart; with
  them, matching the views requires the pattern;
- every pattern is left-right symmetric up to a phase shift, so a flip never changes the
  label, and no pattern is a rescaled copy of another, so a crop keeps it apart from the rest.
"""

from __future__ import annotations

import numpy as np
import torch

from sslab.data.images import ImageSet
from sslab.data.synthetic_images import balanced_images, hsv_to_rgb, smooth_noise

CLASSES = ("horizontal stripes", "vertical stripes", "checks", "dots", "rings", "crosshatch", "plain",
           "zigzag", "grid", "speckle")
SIZE = 32


def _pattern(kind: int, u: np.ndarray, v: np.ndarray, centre: np.ndarray, period: np.ndarray,
             rng: np.random.Generator) -> np.ndarray:
    """Boolean pattern ``kind`` for images whose pixel coordinates in periods are (u, v) radians;
    ``centre`` (n, 2, 1, 1) places the rings, ``period`` (n, 1, 1) is in pixels."""
    if kind == 0:
        return np.sin(v) > 0
    if kind == 1:
        return np.sin(u) > 0
    if kind == 2:
        return np.sin(u) * np.sin(v) > 0
    if kind == 3:
        return np.cos(u) * np.cos(v) > 0.5
    if kind == 4:
        yy, xx = np.mgrid[0:SIZE, 0:SIZE].astype(np.float32)
        radius = np.sqrt((xx[None] - centre[:, 0]) ** 2 + (yy[None] - centre[:, 1]) ** 2)
        return np.sin(radius / period * 2 * np.pi) > 0
    if kind == 5:
        return (np.sin((u + v) / 1.4) > 0.6) | (np.sin((u - v) / 1.4) > 0.6)
    if kind == 6:
        return np.zeros_like(u, dtype=bool)
    if kind == 7:  # rows of chevrons: a sine whose phase follows a triangle wave across
        return np.sin(v + 1.2 * np.pi * np.abs((u / np.pi) % 2 - 1)) > 0
    if kind == 8:
        return (np.cos(u) > 0.7) | (np.cos(v) > 0.7)
    if kind == 9:  # a coarse random binary field, one value per 3x3 block
        coarse = torch.from_numpy(rng.random((len(u), 1, 11, 11)).astype(np.float32))
        return torch.nn.functional.interpolate(coarse, size=(SIZE, SIZE), mode="nearest")[:, 0].numpy() > 0.6
    raise ValueError(kind)


def _make_chunk(rng: np.random.Generator, labels: np.ndarray) -> np.ndarray:
    n = len(labels)
    yy, xx = np.mgrid[0:SIZE, 0:SIZE].astype(np.float32)
    yy, xx = yy[None], xx[None]
    dark = hsv_to_rgb(rng.uniform(0, 1, n), rng.uniform(0.2, 0.9, n), rng.uniform(0.2, 0.6, n))
    light = hsv_to_rgb(rng.uniform(0, 1, n), rng.uniform(0.2, 0.9, n), rng.uniform(0.6, 1.0, n))
    period = rng.uniform(5, 9, n).astype(np.float32)[:, None, None]
    phase = rng.uniform(0, 10, (n, 2)).astype(np.float32)
    u = (xx + phase[:, 0, None, None]) / period * 2 * np.pi
    v = (yy + phase[:, 1, None, None]) / period * 2 * np.pi
    centre = (16 + 0.3 * (phase - 5))[:, :, None, None]
    on = np.zeros((n, SIZE, SIZE), dtype=bool)
    for kind in range(len(CLASSES)):
        sel = labels == kind
        if sel.any():
            on[sel] = _pattern(kind, u[sel], v[sel], centre[sel], period[sel], rng)
    img = np.where(on[..., None], light[:, None, None], dark[:, None, None])
    shading = (0.5 + 0.5 * smooth_noise(rng, n, 4)).clip(0, 1)[..., None]
    img = img * (0.7 + 0.3 * shading)

    # An occluding soft blob of another colour, anywhere.
    bx, by = rng.uniform(0, SIZE, n)[:, None, None], rng.uniform(0, SIZE, n)[:, None, None]
    br = rng.uniform(2, 6, n)[:, None, None]
    blob = (0.7 * np.exp(-((xx - bx) ** 2 + (yy - by) ** 2) / (2 * br**2)))[..., None]
    blob_col = hsv_to_rgb(rng.uniform(0, 1, n), rng.uniform(0.2, 1, n), rng.uniform(0.2, 1, n))
    img = img * (1 - blob) + blob * blob_col[:, None, None]

    gain = rng.uniform(0.7, 1.2, n)[:, None, None, None]
    img = img * gain + rng.normal(0, 0.04, img.shape)
    return (img.clip(0, 1) * 255 + 0.5).astype(np.uint8)


def make_images(n: int, seed: int, chunk: int = 4096) -> ImageSet:
    """``n`` images with balanced, shuffled labels, fully determined by ``seed``."""
    return balanced_images(n, seed, _make_chunk, CLASSES, SIZE, chunk)
