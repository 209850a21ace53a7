"""The seed's small CNN (P1, reused by P2), with Kaiming He initialisation."""

from __future__ import annotations

import torch
from torch import nn


class SmallCNN(nn.Module):
    """conv 10@5x5 -> ReLU -> maxpool 2 -> conv 10@5x5 -> ReLU -> maxpool 2 -> fc 20 -> ReLU -> fc classes.

    On 32x32x3 inputs the flattened map is 10x5x5 = 250, and with 10 classes the net has
    exactly 8,500 parameters. The network outputs logits; the softmax lives in the loss.
    """

    def __init__(self, n_classes: int = 10, image_size: int = 32, channels: int = 3):
        super().__init__()
        self.conv1 = nn.Conv2d(channels, 10, kernel_size=5, stride=1)
        self.conv2 = nn.Conv2d(10, 10, kernel_size=5, stride=1)
        side = ((image_size - 4) // 2 - 4) // 2
        self.fc1 = nn.Linear(10 * side * side, 20)
        self.fc2 = nn.Linear(20, n_classes)
        he_init(self)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        # Channels-last activations and pooling before the ReLU (the two commute: the max of
        # rectified values is the rectified max) make a CPU step about 1.5x faster; the
        # function is the seed's conv -> ReLU -> maxpool.
        x = x.contiguous(memory_format=torch.channels_last)
        x = torch.relu(torch.max_pool2d(self.conv1(x), 2, 2))
        x = torch.relu(torch.max_pool2d(self.conv2(x), 2, 2))
        return torch.relu(self.fc1(x.flatten(1)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc2(self.features(x))


def he_init(module: nn.Module) -> None:
    """Kaiming He normal init (fan-in, ReLU gain) for every conv and linear weight; zero biases."""
    for m in module.modules():
        if isinstance(m, (nn.Conv2d, nn.Linear)):
            nn.init.kaiming_normal_(m.weight, mode="fan_in", nonlinearity="relu")
            if m.bias is not None:
                nn.init.zeros_(m.bias)


def count_parameters(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())
