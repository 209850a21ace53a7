"""sslab.vision.evaluate: the kNN monitor, the linear probe and the t-SNE subset."""

from __future__ import annotations

import torch

from sslab.data.images import ImageSet
from sslab.vision.evaluate import balanced_subset, knn_accuracy, linear_probe
from sslab.vision.resnet import ConvNet


def test_knn_accuracy_on_separable_and_on_shuffled_labels():
    g = torch.Generator().manual_seed(0)
    centres = torch.randn(3, 16, generator=g) * 5
    y_train, y_test = torch.arange(90) % 3, torch.arange(30) % 3
    x_train = centres[y_train] + torch.randn(90, 16, generator=g)
    x_test = centres[y_test] + torch.randn(30, 16, generator=g)
    assert knn_accuracy(x_train, y_train, x_test, y_test, 3, k=5) == 1.0
    shuffled = y_train[torch.randperm(90, generator=g)]
    assert knn_accuracy(x_train, shuffled, x_test, y_test, 3, k=5) < 0.7


def colour_coded(n: int, seed: int) -> ImageSet:
    """Images whose class is their dominant colour channel: random conv features separate them."""
    g = torch.Generator().manual_seed(seed)
    labels = torch.arange(n) % 3
    x = torch.randint(0, 100, (n, 3, 12, 12), generator=g)
    x[torch.arange(n), labels] += 150
    return ImageSet(x.to(torch.uint8), labels, ("r", "g", "b"))


def test_linear_probe_keeps_the_encoder_frozen_and_learns():
    torch.manual_seed(0)
    encoder = ConvNet(width=4)
    encoder.train()  # the probe must not update batch-norm statistics even from train mode
    before = {k: v.clone() for k, v in encoder.state_dict().items()}
    result = linear_probe(encoder, colour_coded(60, 0), colour_coded(30, 1), l2=1e-3)
    after = encoder.state_dict()
    assert all(torch.equal(before[k], after[k]) for k in before)  # bit-identical, buffers included
    assert all(p.grad is None for p in encoder.parameters()) and encoder.training
    assert result["test_acc"] > 0.9 and result["train_acc"] > 0.9


def test_balanced_subset_is_fixed_and_class_balanced():
    labels = torch.arange(100) % 5
    pick = balanced_subset(labels, 5, 20)
    assert torch.bincount(labels[pick]).tolist() == [4] * 5
    assert torch.equal(pick, balanced_subset(labels, 5, 20)) and torch.equal(pick, pick.sort().values)
