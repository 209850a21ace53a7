"""Models as a tutorial writes them, for the reference side of the benchmarks."""

from __future__ import annotations

from torch import nn

from sslab.vision.models import he_init


def plain_small_cnn(n_classes: int = 10) -> nn.Module:
    """The seed's CNN in the textbook layer order and memory layout: (conv 10@5x5, ReLU, pool) x2, fc 20, fc.

    sslab.vision.models.SmallCNN computes the same function (tests/vision/test_models.py
    checks it), with channels-last activations and the pool before the ReLU.
    """
    model = nn.Sequential(nn.Conv2d(3, 10, 5), nn.ReLU(), nn.MaxPool2d(2), nn.Conv2d(10, 10, 5), nn.ReLU(),
                          nn.MaxPool2d(2), nn.Flatten(), nn.Linear(250, 20), nn.ReLU(), nn.Linear(20, n_classes))
    he_init(model)
    return model
