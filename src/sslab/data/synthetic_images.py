"""A made-up 10-class, 32x32 colour image set, generated in seconds from a seed.

Each image is an outdoor-like scene: a sky gradient above a textured ground, one object
standing on the ground, a distractor blob, global lighting changes and sensor noise.
The class is the object's shape. It is built so that the seed's experiments behave as
they do on CIFAR-10:
- every shape is left-right symmetric and its colour is random, so a horizontal flip or a
  brightness change never changes the label (the augmentations are plausible);
- scenes have an "up" (sky above ground, objects resting on the ground, upright shapes),
  so predicting flips and rotations is a meaningful pretext task;
- size, position, colour, lighting and clutter vary enough that the seed's small CNN
  does not saturate on a few thousand images.
"""

from __future__ import annotations

import numpy as np
import torch

from sslab.data.images import ImageSet

CLASSES = ("disc", "square", "triangle", "ring", "cross", "house", "tree", "diamond", "arch", "person")
SIZE = 32


def hsv_to_rgb(h: np.ndarray, s: np.ndarray, v: np.ndarray) -> np.ndarray:
    """Vectorised HSV -> RGB for arrays of shape (N,); returns (N, 3)."""
    i = np.floor(h * 6).astype(int) % 6
    f = h * 6 - np.floor(h * 6)
    p, q, t = v * (1 - s), v * (1 - f * s), v * (1 - (1 - f) * s)
    table = np.stack([np.stack(c, -1) for c in ((v, t, p), (q, v, p), (p, v, t), (p, q, v), (t, p, v), (v, p, q))])
    return table[i, np.arange(len(h))]


def _shape_mask(kind: int, dx: np.ndarray, dy: np.ndarray, r: np.ndarray) -> np.ndarray:
    """Mask of shape ``kind`` centred at (0, 0); dy grows downwards; r is the half-size."""
    ax, ay = np.abs(dx), dy
    if kind == 0:  # disc
        return dx**2 + dy**2 <= r**2
    if kind == 1:  # square
        return (ax <= r) & (np.abs(ay) <= r)
    if kind == 2:  # triangle, apex up
        return (ay <= r) & (ay >= -r) & (ax <= (ay + r) * 0.5)
    if kind == 3:  # ring
        d2 = dx**2 + dy**2
        return (d2 <= r**2) & (d2 >= (0.55 * r) ** 2)
    if kind == 4:  # cross
        return ((ax <= 0.3 * r) & (np.abs(ay) <= r)) | ((np.abs(ay) <= 0.3 * r) & (ax <= r))
    if kind == 5:  # house: square body with a roof
        body = (ax <= 0.8 * r) & (ay >= -0.1 * r) & (ay <= r)
        roof = (ay < -0.1 * r) & (ay >= -r) & (ax <= (ay + r) * 0.9)
        return body | roof
    if kind == 6:  # tree: round crown on a trunk
        crown = dx**2 + (dy + 0.35 * r) ** 2 <= (0.65 * r) ** 2
        trunk = (ax <= 0.15 * r) & (ay >= 0.2 * r) & (ay <= r)
        return crown | trunk
    if kind == 7:  # diamond
        return ax + np.abs(ay) <= r
    if kind == 8:  # arch: a block with the lower middle cut out
        return (ax <= r) & (np.abs(ay) <= r) & ~((ax <= 0.45 * r) & (ay >= -0.1 * r))
    if kind == 9:  # person: head, body, legs
        head = dx**2 + (dy + 0.72 * r) ** 2 <= (0.25 * r) ** 2
        body = (ax <= 0.22 * r) & (ay >= -0.45 * r) & (ay <= 0.3 * r)
        legs = (ay > 0.3 * r) & (ay <= r) & (ax >= 0.05 * r) & (ax <= 0.25 * r)
        arms = (np.abs(ay + 0.25 * r) <= 0.1 * r) & (ax <= 0.55 * r)
        return head | body | legs | arms
    raise ValueError(kind)


def smooth_noise(rng: np.random.Generator, n: int, cells: int) -> np.ndarray:
    """Low-frequency noise (n, 32, 32) in about [-1, 1], by upsampling a coarse grid."""
    coarse = rng.standard_normal((n, cells, cells)).astype(np.float32)
    t = torch.from_numpy(coarse)[:, None]
    up = torch.nn.functional.interpolate(t, size=(SIZE, SIZE), mode="bilinear", align_corners=False)
    return up[:, 0].numpy()


def _make_chunk(rng: np.random.Generator, labels: np.ndarray) -> np.ndarray:
    n = len(labels)
    yy, xx = np.mgrid[0:SIZE, 0:SIZE].astype(np.float32)
    yy, xx = yy[None], xx[None]
    horizon = rng.uniform(17, 27, n).astype(np.float32)[:, None, None]
    sky = hsv_to_rgb(rng.uniform(0.5, 0.7, n), rng.uniform(0.2, 0.7, n), rng.uniform(0.6, 1.0, n))
    ground = hsv_to_rgb(rng.uniform(0.05, 0.35, n), rng.uniform(0.3, 0.8, n), rng.uniform(0.25, 0.6, n))
    # Sky brightens towards the horizon; ground gets texture.
    sky_grad = (0.75 + 0.25 * yy / horizon)[..., None]
    img = np.where((yy < horizon)[..., None], sky[:, None, None] * sky_grad, ground[:, None, None])
    tex = smooth_noise(rng, n, 8)[..., None]
    img = img + np.where((yy >= horizon)[..., None], 0.12 * tex, 0.03 * tex)

    # Distractor blob: a soft ellipse of random colour anywhere.
    bx, by = rng.uniform(0, SIZE, n)[:, None, None], rng.uniform(0, SIZE, n)[:, None, None]
    br = rng.uniform(2, 6, n)[:, None, None]
    blob = np.exp(-(((xx - bx) ** 2 + (yy - by) ** 2) / (2 * br**2)))[..., None]
    blob_col = hsv_to_rgb(rng.uniform(0, 1, n), rng.uniform(0.2, 1, n), rng.uniform(0.2, 1, n))
    img = img * (1 - 0.7 * blob) + 0.7 * blob * blob_col[:, None, None]

    # The object: random colour, size and horizontal place, resting on the ground.
    r = rng.uniform(4.5, 10.0, n).astype(np.float32)[:, None, None]
    cx = rng.uniform(8, 24, n).astype(np.float32)[:, None, None]
    cy = horizon + rng.uniform(-3, 2, n).astype(np.float32)[:, None, None] - r
    col = hsv_to_rgb(rng.uniform(0, 1, n), rng.uniform(0.4, 1, n), rng.uniform(0.35, 1, n))
    shade = (1.0 - 0.25 * (yy - (cy - r)) / (2 * r + 1e-6)).clip(0.6, 1.0)[..., None]
    mask = np.zeros((n, SIZE, SIZE), dtype=bool)
    for kind in range(len(CLASSES)):
        sel = labels == kind
        if sel.any():
            mask[sel] = _shape_mask(kind, xx - cx[sel], yy - cy[sel], r[sel])
    img = np.where(mask[..., None], col[:, None, None] * shade, img)

    # Lighting (brightness and contrast) and sensor noise.
    gain = rng.uniform(0.6, 1.3, n)[:, None, None, None]
    contrast = rng.uniform(0.7, 1.2, n)[:, None, None, None]
    mean = img.mean(axis=(1, 2, 3), keepdims=True)
    img = ((img - mean) * contrast + mean) * gain
    img = img + rng.normal(0, 0.05, img.shape)
    return (img.clip(0, 1) * 255 + 0.5).astype(np.uint8)


def make_images(n: int, seed: int, chunk: int = 4096) -> ImageSet:
    """``n`` images with balanced, shuffled labels, fully determined by ``seed``."""
    return balanced_images(n, seed, _make_chunk, CLASSES, SIZE, chunk)


def balanced_images(n: int, seed: int, make_chunk, classes: tuple[str, ...], size: int,
                    chunk: int = 4096) -> ImageSet:
    """``n`` images of a made-up set: balanced shuffled labels, ``make_chunk(rng, labels)`` draws
    the pixels (NHWC uint8) a chunk at a time so memory stays bounded; fully determined by ``seed``."""
    rng = np.random.default_rng(seed)
    labels = rng.permutation(np.arange(n) % len(classes))
    out = np.empty((n, size, size, 3), dtype=np.uint8)
    for start in range(0, n, chunk):
        out[start:start + chunk] = make_chunk(rng, labels[start:start + chunk])
    images = torch.from_numpy(out).permute(0, 3, 1, 2).contiguous()
    return ImageSet(images, torch.from_numpy(labels.astype(np.int64)), classes)


def make_train_test(n_train: int, n_test: int, seed: int = 0) -> tuple[ImageSet, ImageSet]:
    """A train and a test set from independent streams of the same distribution."""
    return make_images(n_train, seed), make_images(n_test, seed + 10_000)
