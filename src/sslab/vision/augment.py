"""The seed's P1 augmentations, as batched tensor ops on images in [0, 1].

The augmented training set is the original set in four versions (original, brightened,
darkened, flipped left-right). It is never materialised: sample ``i`` of the 4N-image
set is version ``i // N`` of image ``i % N``, computed per batch, which gives exactly
the pixels of the materialised set at a quarter of the memory.
"""

from __future__ import annotations

import torch

ORIGINAL, BRIGHTER, DARKER, FLIPPED = 0, 1, 2, 3
VERSION_NAMES = ("original", "brightened x1.1", "darkened x0.9", "flipped left-right")


def brighten(x: torch.Tensor, factor: float = 1.1) -> torch.Tensor:
    """Every pixel times ``factor``, clipped at 1 (np.minimum(1.1 * X, 1) in the seed)."""
    return torch.clamp(x * factor, max=1.0)


def darken(x: torch.Tensor, factor: float = 0.9) -> torch.Tensor:
    return x * factor


def flip_left_right(x: torch.Tensor) -> torch.Tensor:
    """Mirror NCHW images along the width (not upside down)."""
    return x.flip(-1)


def apply_versions(x: torch.Tensor, version: torch.Tensor, bright: float = 1.1, dark: float = 0.9) -> torch.Tensor:
    """Apply version ``version[k]`` (0..3) to image ``x[k]`` of a batch in [0, 1], NCHW."""
    v = version.view(-1, 1, 1, 1)
    out = torch.where(v == BRIGHTER, brighten(x, bright), x)
    out = torch.where(v == DARKER, darken(x, dark), out)
    return torch.where(v == FLIPPED, flip_left_right(x), out)
