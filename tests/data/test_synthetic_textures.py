"""Made-up textures for Barlow Twins: seeded, balanced, class in the pattern and not in the colour."""

from __future__ import annotations

import torch

from sslab.data.synthetic_textures import CLASSES, make_images


def test_images_are_seeded_balanced_uint8():
    a, b = make_images(200, seed=3), make_images(200, seed=3)
    assert a.images.shape == (200, 3, 32, 32) and a.images.dtype == torch.uint8
    assert torch.equal(a.images, b.images) and torch.equal(a.labels, b.labels)
    assert torch.bincount(a.labels).tolist() == [20] * len(CLASSES)
    assert not torch.equal(make_images(200, seed=4).images, a.images)


def test_class_is_carried_by_the_pattern_not_the_colour():
    data = make_images(1000, seed=0)
    x = data.images.float() / 255
    gray = x.mean(1)
    # stripes: horizontal ones change down the image, vertical ones across it
    down = (gray[:, 1:] - gray[:, :-1]).abs().mean((1, 2))
    across = (gray[:, :, 1:] - gray[:, :, :-1]).abs().mean((1, 2))
    horizontal, vertical = data.labels == CLASSES.index("horizontal stripes"), data.labels == CLASSES.index("vertical stripes")
    assert (down[horizontal] > across[horizontal]).float().mean() > 0.9
    assert (across[vertical] > down[vertical]).float().mean() > 0.9
    # "plain" has the least texture of all classes
    busy = down + across
    means = torch.stack([busy[data.labels == c].mean() for c in range(len(CLASSES))])
    assert means.argmin() == CLASSES.index("plain")
    # the hue says nothing about the class: per class, the mean chromatic part of the colour (the
    # mean colour minus its gray level) differs far less than it does between images (brightness
    # does differ: a "plain" image is all its darker colour, dots are mostly dark)
    colour = x.mean((2, 3))
    colour = colour - colour.mean(1, keepdim=True)
    class_means = torch.stack([colour[data.labels == c].mean(0) for c in range(len(CLASSES))])
    assert class_means.std(0).max() < 0.2 * colour.std(0).min()
