"""Encoders: feature sizes, any input size, the small-image stem, identity-initialised blocks."""

from __future__ import annotations

import pytest
import torch

from sslab.vision.models import count_parameters
from sslab.vision.resnet import ConvNet, build_encoder, resnet18


def test_resnet18_has_resnet18_size_and_keeps_resolution_in_the_stem():
    net = resnet18()
    # 11.17M parameters is ResNet-18 without its fc layer, with a 3x3 stem instead of 7x7.
    assert net.feature_dim == 512 and 11_100_000 < count_parameters(net) < 11_200_000
    x = torch.randn(2, 3, 32, 32)
    assert net.stem(x).shape[-1] == 32  # small stem: no stride, no pooling
    assert resnet18(stem="imagenet").stem(x).shape[-1] == 8


@pytest.mark.parametrize("side", [16, 32, 40])
def test_encoders_pool_any_size_to_their_feature_dim(side):
    for net in (resnet18(width=8), ConvNet(width=8)):
        net.eval()
        out = net(torch.randn(3, 3, side, side))
        assert out.shape == (3, net.feature_dim)
    assert resnet18(width=8).feature_dim == 64 and ConvNet(width=8).feature_dim == 64


def test_residual_blocks_start_as_identity_branches():
    net = resnet18(width=8)
    block = net.layers[0]
    assert torch.count_nonzero(block.bn2.weight) == 0
    x = torch.relu(torch.randn(2, 8, 8, 8))
    block.eval()
    assert torch.allclose(block(x), x)


def test_build_encoder_names():
    assert isinstance(build_encoder("convnet", 4), ConvNet)
    with pytest.raises(ValueError):
        build_encoder("vgg", 4)


@pytest.mark.parametrize("make", [lambda cl: ConvNet(width=8, channels_last=cl),
                                  lambda cl: resnet18(width=8, channels_last=cl)])
def test_channels_last_changes_the_memory_layout_not_the_numbers(make):
    torch.manual_seed(0)
    fast = make(True)
    plain = make(False)
    plain.load_state_dict(fast.state_dict())
    x = torch.randn(4, 3, 12, 12)
    out_fast, out_plain = fast(x), plain(x)
    assert torch.allclose(out_fast, out_plain, atol=1e-5)
    out_fast.square().sum().backward()
    out_plain.square().sum().backward()
    for p, q in zip(fast.parameters(), plain.parameters()):
        assert (p.grad - q.grad).norm() <= 1e-4 * q.grad.norm()  # float rounding only
    features = {}
    (fast.stem if hasattr(fast, "stem") else fast.body)[0].register_forward_hook(lambda m, inp, out: features.update(conv=inp[0]))
    fast(x)
    assert features["conv"].is_contiguous(memory_format=torch.channels_last)
