import pytest
import torch
from torch import nn

from sslab.vision.classify import evaluate, train_epoch


class ConstantLogits(nn.Module):
    """Always predicts class 0, whatever the input; one parameter so an optimizer has work."""

    def __init__(self, n_classes: int = 3):
        super().__init__()
        self.bias = nn.Parameter(torch.tensor([5.0] + [0.0] * (n_classes - 1)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.bias.expand(len(x), -1)


def frozen_optimizer(model: nn.Module) -> torch.optim.Optimizer:
    return torch.optim.SGD(model.parameters(), lr=0.0)


def test_labels_per_image_are_shared_by_every_version():
    images = torch.zeros(4, 3, 2, 2, dtype=torch.uint8)
    labels = torch.tensor([0, 0, 0, 1])  # per image: 3 of 4 are class 0, in every version
    model = ConstantLogits()
    _, acc = train_epoch(model, frozen_optimizer(model), images, labels, 3, torch.Generator().manual_seed(0),
                         virtual_size=12, transform=lambda x, idx: x.float())
    assert acc.item() == pytest.approx(0.75)


def test_labels_per_sample_follow_the_virtual_index():
    images = torch.zeros(4, 3, 2, 2, dtype=torch.uint8)
    versions = torch.arange(12) // 4  # the pretext label: version i // N, so a third are class 0
    model = ConstantLogits()
    _, acc = train_epoch(model, frozen_optimizer(model), images, versions, 5, torch.Generator().manual_seed(0),
                         virtual_size=12, transform=lambda x, idx: x.float())
    assert acc.item() == pytest.approx(1 / 3)


def test_label_count_must_match_images_or_samples():
    images = torch.zeros(4, 3, 2, 2, dtype=torch.uint8)
    model = ConstantLogits()
    with pytest.raises(ValueError, match="5 labels for 4 images and 12 samples"):
        train_epoch(model, frozen_optimizer(model), images, torch.zeros(5, dtype=torch.long), 3,
                    torch.Generator(), virtual_size=12, transform=lambda x, idx: x.float())


def test_evaluate_counts_every_image_across_batches():
    images = torch.zeros(10, 3, 2, 2, dtype=torch.uint8)
    labels = torch.tensor([0] * 7 + [2] * 3)
    acc, loss = evaluate(ConstantLogits(), images, labels, batch_size=4)
    assert acc == pytest.approx(0.7)
    expected = nn.functional.cross_entropy(ConstantLogits()(images), labels).item()
    assert loss == pytest.approx(expected)
