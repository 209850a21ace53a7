"""The Barlow Twins augmentations, as batched tensor ops on the device.

The paper's pipeline for each view (its Table 6, as in BYOL): random resized crop, a
horizontal flip (p 0.5), colour jitter (p 0.8; brightness 0.4, contrast 0.4, saturation
0.2, hue 0.1), grayscale (p 0.2), Gaussian blur (p 1.0 for the first view, 0.1 for the
second) and solarisation (p 0 / 0.2). Here a whole batch of uint8 images is augmented
at once: the random parameters of every image are drawn together (on the CPU, from a
seeded generator, so a resumed run draws the same), the crop and flip become one
``grid_sample`` with a per-image affine map, blur is one grouped convolution with a
per-image kernel, and "with probability p" is a ``torch.where`` over the batch.

Two deliberate differences from torchvision, both documented where they happen: the
four jitter operations run in a fixed order (torchvision shuffles them per image), and
the blur's sigma range is given for 224-pixel images and scaled to the crop size, so a
32-pixel crop is blurred as much, relative to its size, as a 224-pixel one in the paper.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

import torch
import torch.nn.functional as F

from sslab.data.images import unit_to_signed

GRAY_WEIGHTS = (0.299, 0.587, 0.114)  # ITU-R 601 luma, as torchvision's rgb_to_grayscale


@dataclass(frozen=True)
class ViewParams:
    """How one view is made. Defaults are the paper's first view."""

    crop_scale: tuple[float, float] = (0.08, 1.0)
    crop_ratio: tuple[float, float] = (3 / 4, 4 / 3)
    flip_p: float = 0.5
    jitter_p: float = 0.8
    brightness: float = 0.4
    contrast: float = 0.4
    saturation: float = 0.2
    hue: float = 0.1
    gray_p: float = 0.2
    blur_p: float = 1.0
    blur_sigma: tuple[float, float] = (0.1, 2.0)  # in pixels of a 224-pixel crop
    solarize_p: float = 0.0


def barlow_views(crop_scale: tuple[float, float] = (0.08, 1.0)) -> tuple[ViewParams, ViewParams]:
    """The paper's two asymmetric views: blur always / rarely, solarise never / sometimes."""
    first = ViewParams(crop_scale=crop_scale, blur_p=1.0, solarize_p=0.0)
    return first, replace(first, blur_p=0.1, solarize_p=0.2)


# ---- colour ---------------------------------------------------------------------------
def grayscale(x: torch.Tensor) -> torch.Tensor:
    """(N, 3, H, W) in [0, 1] -> (N, 1, H, W) luma."""
    w = x.new_tensor(GRAY_WEIGHTS).view(1, 3, 1, 1)
    return (x * w).sum(1, keepdim=True)


def rgb_to_hsv(x: torch.Tensor) -> torch.Tensor:
    """Batched RGB -> HSV, all channels in [0, 1]; ties of the largest channel go to red, then green
    (as in torchvision, whose longer formulation this matches)."""
    # Element-wise maximum/minimum of the three planes: several times faster on the CPU than
    # a max/min reduction over the channel dimension (which also builds an index tensor).
    r, g, b = x.unbind(1)
    maxc = torch.maximum(torch.maximum(r, g), b)
    delta = maxc - torch.minimum(torch.minimum(r, g), b)
    safe = delta.clamp_min(1e-12)
    h = torch.where(r == maxc, (g - b) / safe, torch.where(g == maxc, 2.0 + (b - r) / safe, 4.0 + (r - g) / safe))
    h = torch.where(delta > 0, torch.remainder(h / 6.0, 1.0), torch.zeros_like(h))
    s = torch.where(maxc > 0, delta / maxc.clamp_min(1e-12), torch.zeros_like(maxc))
    return torch.stack((h, s, maxc), 1)


def hsv_to_rgb(x: torch.Tensor) -> torch.Tensor:
    """HSV -> RGB without branches: channel n is v - v*s*clamp(min(k, 4 - k), 0, 1) with
    k = (n + 6h) mod 6 and n = 5, 3, 1 for red, green, blue."""
    h, s, v = x[:, 0:1], x[:, 1:2], x[:, 2:3]
    n = torch.tensor([5.0, 3.0, 1.0], device=x.device, dtype=x.dtype).view(1, 3, 1, 1)
    k = torch.remainder(n + 6.0 * h, 6.0)
    return v - v * s * torch.minimum(k, 4.0 - k).clamp(0.0, 1.0)


def _per_image(values: torch.Tensor) -> torch.Tensor:
    return values.view(-1, 1, 1, 1)


def color_jitter(x: torch.Tensor, brightness: torch.Tensor, contrast: torch.Tensor, saturation: torch.Tensor,
                 hue: torch.Tensor) -> torch.Tensor:
    """Per-image brightness, contrast and saturation factors and hue shift, in that order."""
    x = (x * _per_image(brightness)).clamp(0.0, 1.0)
    mean = grayscale(x).mean((2, 3), keepdim=True)
    x = (_per_image(contrast) * x + (1 - _per_image(contrast)) * mean).clamp(0.0, 1.0)
    x = (_per_image(saturation) * x + (1 - _per_image(saturation)) * grayscale(x)).clamp(0.0, 1.0)
    hsv = rgb_to_hsv(x)
    h = hsv[:, 0] + hue.view(-1, 1, 1)  # may leave [0, 1): hsv_to_rgb is periodic in h
    return hsv_to_rgb(torch.stack((h, hsv[:, 1], hsv[:, 2]), 1))


# ---- geometry -------------------------------------------------------------------------
def crop_boxes(n: int, height: int, width: int, scale: tuple[float, float], ratio: tuple[float, float],
               generator: torch.Generator, attempts: int = 10) -> torch.Tensor:
    """Random-resized-crop boxes (x0, y0, w, h) in pixels, torchvision's rule, batched.

    Up to ``attempts`` (area, aspect) proposals per image; the first that fits the image
    wins, and an image with none falls back to the largest central crop whose aspect
    ratio is within ``ratio``.
    """
    area = height * width
    u = torch.rand(n, attempts, 4, generator=generator)
    target = area * (scale[0] + (scale[1] - scale[0]) * u[..., 0])
    log_r = math.log(ratio[0]) + (math.log(ratio[1]) - math.log(ratio[0])) * u[..., 1]
    aspect = torch.exp(log_r)
    w = torch.sqrt(target * aspect)
    h = torch.sqrt(target / aspect)
    fits = (w <= width) & (h <= height)
    first = fits.to(torch.int8).argmax(1)  # index of the first fitting proposal (0 if none)
    pick = lambda t: t.gather(1, first[:, None])[:, 0]  # noqa: E731
    w, h, ux, uy = pick(w), pick(h), pick(u[..., 2]), pick(u[..., 3])
    in_ratio = width / height
    if in_ratio < ratio[0]:
        fw, fh = float(width), width / ratio[0]
    elif in_ratio > ratio[1]:
        fw, fh = height * ratio[1], float(height)
    else:
        fw, fh = float(width), float(height)
    any_fit = fits.any(1)
    w = torch.where(any_fit, w, torch.full_like(w, fw))
    h = torch.where(any_fit, h, torch.full_like(h, fh))
    x0 = ux * (width - w)
    y0 = uy * (height - h)
    return torch.stack((x0, y0, w, h), 1)


def crop_flip_resize(x: torch.Tensor, boxes: torch.Tensor, flip: torch.Tensor, size: int) -> torch.Tensor:
    """Cut ``boxes`` (pixels) out of float images, mirror where ``flip``, resample to size x size.

    One ``grid_sample`` (bilinear) for the whole batch; ``align_corners=False`` makes the
    normalised coordinates -1 and 1 the outer edges of the border pixels. The map is a scale
    and shift per axis, so the sampling grid is an outer sum of two per-image lines (what
    ``F.affine_grid`` would give with a diagonal matrix, without its batched matrix product).
    """
    n, _, height, width = x.shape
    x0, y0, w, h = boxes.to(x.device, x.dtype).unbind(1)
    sign = 1.0 - 2.0 * flip.to(x.device, x.dtype)
    out = (torch.arange(size, device=x.device, dtype=x.dtype) * 2 + 1) / size - 1  # output pixel centres
    gx = (w / width * sign)[:, None] * out + ((2 * x0 + w) / width - 1)[:, None]  # (n, size)
    gy = (h / height)[:, None] * out + ((2 * y0 + h) / height - 1)[:, None]
    grid = torch.stack(torch.broadcast_tensors(gx[:, None, :], gy[:, :, None]), -1)  # (n, size, size, 2): x, y
    return F.grid_sample(x, grid, mode="bilinear", padding_mode="border", align_corners=False)


def gaussian_blur(x: torch.Tensor, sigma: torch.Tensor, kernel_size: int) -> torch.Tensor:
    """Blur each image with its own sigma: one separable, grouped convolution for the batch."""
    n, c, height, width = x.shape
    half = kernel_size // 2
    t = torch.arange(-half, half + 1, device=x.device, dtype=x.dtype)
    k = torch.exp(-(t[None] ** 2) / (2 * sigma.to(x.device, x.dtype)[:, None] ** 2))
    k = (k / k.sum(1, keepdim=True)).repeat_interleave(c, 0)  # (n*c, kernel_size)
    flat = x.reshape(1, n * c, height, width)
    pad = min(half, height - 1, width - 1)
    flat = F.pad(flat, (half, half, half, half), mode="reflect") if pad == half else F.pad(
        flat, (half, half, half, half), mode="replicate")
    flat = F.conv2d(flat, k.view(n * c, 1, kernel_size, 1), groups=n * c)
    flat = F.conv2d(flat, k.view(n * c, 1, 1, kernel_size), groups=n * c)
    return flat.view(n, c, height, width)


def blur_kernel_size(size: int) -> int:
    """About 10% of the image side, odd, at least 3 (23 for 224 pixels, as in the paper)."""
    k = max(3, int(round(size * 0.1)))
    return k if k % 2 else k + 1


# ---- one view ---------------------------------------------------------------------------
def augment_view(images_u8: torch.Tensor, params: ViewParams, size: int, generator: torch.Generator) -> torch.Tensor:
    """One augmented view of a batch of uint8 NCHW images, as network input in [-1, 1].

    The images stay uint8 until here (on the device); random numbers are drawn on the CPU
    from ``generator`` in one go and moved over with the batch's parameters.
    """
    n, _, height, width = images_u8.shape
    dev = images_u8.device
    boxes = crop_boxes(n, height, width, params.crop_scale, params.crop_ratio, generator)
    u = torch.rand(n, 10, generator=generator)
    flip = u[:, 0] < params.flip_p
    x = crop_flip_resize(images_u8.float().div_(255.0), boxes, flip, size)

    # Jitter and blur are computed only for the images drawn to get them (all of view 1's
    # blurs, a tenth of view 2's); the choice is made on the CPU, so picking them out never
    # waits for the device.
    b, c, s = (1 - v + 2 * v * u[:, i] for i, v in ((2, params.brightness), (3, params.contrast), (4, params.saturation)))
    hue = params.hue * (2 * u[:, 5] - 1)
    x = _on_chosen(x, u[:, 1] < params.jitter_p, lambda xs, pick: color_jitter(
        xs, *(t[pick].to(dev) for t in (b.clamp(min=0), c.clamp(min=0), s.clamp(min=0), hue))))

    gray = (u[:, 6] < params.gray_p).to(dev)
    x = torch.where(_per_image(gray), grayscale(x).expand_as(x), x)

    if params.blur_p > 0:
        sigma = size / 224.0 * (params.blur_sigma[0] + (params.blur_sigma[1] - params.blur_sigma[0]) * u[:, 8])
        x = _on_chosen(x, u[:, 7] < params.blur_p, lambda xs, pick: gaussian_blur(
            xs, sigma[pick].clamp(min=1e-3), blur_kernel_size(size)))

    if params.solarize_p > 0:
        solar = (u[:, 9] < params.solarize_p).to(dev)
        x = torch.where(_per_image(solar) & (x >= 0.5), 1.0 - x, x)
    return unit_to_signed(x)


def _on_chosen(x: torch.Tensor, chosen: torch.Tensor, op) -> torch.Tensor:
    """``x`` with ``op(x[pick], pick)`` in place of the images where the CPU mask ``chosen`` holds."""
    pick = torch.nonzero(chosen)[:, 0]
    if len(pick) == len(x):
        return op(x, pick)
    if len(pick) == 0:
        return x
    on_device = pick.to(x.device)
    return x.index_copy(0, on_device, op(x.index_select(0, on_device), pick))


def two_views(images_u8: torch.Tensor, views: tuple[ViewParams, ViewParams], size: int,
              generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    return augment_view(images_u8, views[0], size, generator), augment_view(images_u8, views[1], size, generator)


# ---- supervised training and evaluation -----------------------------------------------
def pad_crop_flip(images_u8: torch.Tensor, generator: torch.Generator, pad: int | None = None) -> torch.Tensor:
    """The standard supervised augmentation: zero-pad by ``pad`` (default side/8), take a
    random crop of the original size, mirror half of the images. Stays uint8."""
    n, c, height, width = images_u8.shape
    pad = max(1, height // 8) if pad is None else pad
    padded = F.pad(images_u8, (pad, pad, pad, pad))
    oy = torch.randint(0, 2 * pad + 1, (n,), generator=generator).to(images_u8.device)
    ox = torch.randint(0, 2 * pad + 1, (n,), generator=generator).to(images_u8.device)
    flip = (torch.rand(n, generator=generator) < 0.5).to(images_u8.device)
    cols = torch.arange(width, device=images_u8.device)
    cols = torch.where(flip[:, None], cols.flip(0), cols)[:, None, :] + ox[:, None, None]
    rows = (torch.arange(height, device=images_u8.device)[None, :, None] + oy[:, None, None])
    batch = torch.arange(n, device=images_u8.device)[:, None, None]
    return padded.permute(0, 2, 3, 1)[batch, rows, cols].permute(0, 3, 1, 2)


def to_input(images_u8: torch.Tensor, size: int | None = None) -> torch.Tensor:
    """uint8 images as network input in [-1, 1], resized (antialiased) to ``size`` if given."""
    x = images_u8.float().div_(255.0)
    if size is not None and x.shape[-1] != size:
        x = F.interpolate(x, size=(size, size), mode="bilinear", antialias=True, align_corners=False)
    return unit_to_signed(x)
