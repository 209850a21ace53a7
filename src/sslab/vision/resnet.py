"""Encoders for self-supervised learning: ResNet-18 adapted to small images, and a small
convolutional encoder for quick CPU runs.

Every encoder maps images (N, 3, H, W) to features (N, ``feature_dim``) after global
average pooling, so a projector or a linear head can sit on top of any of them and any
input size works.

ResNet-18 (He et al., 2016) is built for 224-pixel ImageNet images: a 7x7 stride-2
convolution and a max-pool shrink the input 4x before the first block. On 32-96 pixel
images that throws away most of the resolution, so the usual adaptation (used by the
CIFAR/STL-10 self-supervised literature) replaces the stem with one 3x3 stride-1
convolution and no pooling (``stem="small"``). ``stem="imagenet"`` keeps the original.
"""

from __future__ import annotations

import torch
from torch import nn

ENCODERS = ("resnet18", "convnet")


def to_channels_last(x: torch.Tensor) -> torch.Tensor:
    """The batch in NHWC memory order (same values, same shape). oneDNN's CPU convolutions,
    batch norm and pooling are faster on it, and every layer after the first keeps the
    order: measured on the benchmark's convnet step, 1.3-1.5x faster on this machine's CPU
    (with weights left in the default order; converting them too gained nothing more).
    Encoders built with ``channels_last=False`` skip it (PyTorch's default layout)."""
    return x.contiguous(memory_format=torch.channels_last)


class BasicBlock(nn.Module):
    """Two 3x3 convolutions with batch norm and an identity (or 1x1 projected) shortcut."""

    def __init__(self, in_ch: int, out_ch: int, stride: int):
        super().__init__()
        self.conv1 = nn.Conv2d(in_ch, out_ch, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(out_ch)
        self.conv2 = nn.Conv2d(out_ch, out_ch, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(out_ch)
        self.shortcut = nn.Sequential()
        if stride != 1 or in_ch != out_ch:
            self.shortcut = nn.Sequential(nn.Conv2d(in_ch, out_ch, 1, stride, bias=False), nn.BatchNorm2d(out_ch))
        self.relu = nn.ReLU(inplace=True)

    def forward(self, x):
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return self.relu(out + self.shortcut(x))


class ResNet(nn.Module):
    """ResNet with BasicBlocks; ``blocks=(2, 2, 2, 2)`` and ``width=64`` is ResNet-18."""

    def __init__(self, blocks=(2, 2, 2, 2), width: int = 64, stem: str = "small", channels_last: bool = True):
        super().__init__()
        self.channels_last = channels_last
        if stem == "small":
            self.stem = nn.Sequential(nn.Conv2d(3, width, 3, 1, 1, bias=False), nn.BatchNorm2d(width), nn.ReLU(inplace=True))
        elif stem == "imagenet":
            self.stem = nn.Sequential(nn.Conv2d(3, width, 7, 2, 3, bias=False), nn.BatchNorm2d(width), nn.ReLU(inplace=True),
                                      nn.MaxPool2d(3, 2, 1))
        else:
            raise ValueError(f"unknown stem {stem!r}")
        layers, in_ch = [], width
        for i, n in enumerate(blocks):
            out_ch = width * 2**i
            for j in range(n):
                layers.append(BasicBlock(in_ch, out_ch, stride=2 if (i > 0 and j == 0) else 1))
                in_ch = out_ch
        self.layers = nn.Sequential(*layers)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.feature_dim = in_ch
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
        # Zero the last BN of each residual branch so every block starts as the identity
        # (Goyal et al., 2017): it helps the large-batch, high-rate training LARS allows.
        for m in self.modules():
            if isinstance(m, BasicBlock):
                nn.init.zeros_(m.bn2.weight)

    def forward(self, x):
        x = to_channels_last(x) if self.channels_last else x
        return self.pool(self.layers(self.stem(x))).flatten(1)


def resnet18(width: int = 64, stem: str = "small", channels_last: bool = True) -> ResNet:
    return ResNet((2, 2, 2, 2), width, stem, channels_last)


class ConvNet(nn.Module):
    """A small VGG-style encoder for CPU runs: four (3x3 conv, BN, ReLU) stages, each but the
    last followed by 2x2 max-pooling, widths w, 2w, 4w, 8w, then global average pooling."""

    def __init__(self, width: int = 32, channels_last: bool = True):
        super().__init__()
        self.channels_last = channels_last
        layers, in_ch = [], 3
        for i in range(4):
            out_ch = width * 2**i
            layers += [nn.Conv2d(in_ch, out_ch, 3, 1, 1, bias=False), nn.BatchNorm2d(out_ch), nn.ReLU(inplace=True)]
            if i < 3:
                layers.append(nn.MaxPool2d(2))
            in_ch = out_ch
        self.body = nn.Sequential(*layers)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.feature_dim = in_ch
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")

    def forward(self, x):
        x = to_channels_last(x) if self.channels_last else x
        return self.pool(self.body(x)).flatten(1)


def build_encoder(name: str, width: int, stem: str = "small", channels_last: bool = True) -> nn.Module:
    if name == "resnet18":
        return resnet18(width, stem, channels_last)
    if name == "convnet":
        return ConvNet(width, channels_last)
    raise ValueError(f"unknown encoder {name!r}; choose one of {', '.join(ENCODERS)}")
