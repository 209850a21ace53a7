import pytest
import torch

from sslab.errors import UserError
from sslab.data.images import to_signed
from sslab.vision.pretext import (apply_pretext, materialise, pretext_accuracy, pretext_epoch, pretext_labels,
                                   rotate_ccw, task_classes, upside_down)

# A 3x3 single-channel image with no symmetry: every transform moves its numbers somewhere else.
IMAGE = torch.tensor([[1, 2, 3],
                      [4, 5, 6],
                      [7, 8, 9]], dtype=torch.uint8).view(1, 1, 3, 3)


def test_upside_down_is_a_vertical_flip_not_a_mirror():
    expected = torch.tensor([[7, 8, 9],
                             [4, 5, 6],
                             [1, 2, 3]], dtype=torch.uint8)
    assert torch.equal(upside_down(IMAGE)[0, 0], expected)


def test_quarter_turn_is_counter_clockwise():
    # Counter-clockwise: the right column (3, 6, 9) becomes the top row, the top-right corner the top-left.
    expected = torch.tensor([[3, 6, 9],
                             [2, 5, 8],
                             [1, 4, 7]], dtype=torch.uint8)
    assert torch.equal(rotate_ccw(IMAGE)[0, 0], expected)
    assert torch.equal(rotate_ccw(IMAGE, 2)[0, 0], IMAGE[0, 0].flip(0).flip(1))
    assert torch.equal(rotate_ccw(IMAGE, 3)[0, 0], torch.tensor([[7, 4, 1], [8, 5, 2], [9, 6, 3]], dtype=torch.uint8))
    assert torch.equal(rotate_ccw(IMAGE, 4), IMAGE)


def test_batched_versions_match_the_per_image_transforms():
    x = torch.randint(0, 256, (6, 3, 8, 8), dtype=torch.uint8)
    version = torch.tensor([0, 1, 2, 2, 1, 0])
    out = apply_pretext(x, version, "flip-rotate")
    expected = [x[0], upside_down(x[1:2])[0], rotate_ccw(x[2:3])[0], rotate_ccw(x[3:4])[0], upside_down(x[4:5])[0], x[5]]
    assert torch.equal(out, torch.stack(expected))
    rot = apply_pretext(x[:4], torch.arange(4), "rotnet")
    assert torch.equal(rot, torch.stack([rotate_ccw(x[k:k + 1], k)[0] for k in range(4)]))


def test_virtual_set_labels_are_the_version_and_cover_every_image_once_per_version():
    x = torch.arange(5, dtype=torch.uint8).view(5, 1, 1, 1).expand(5, 1, 3, 3).contiguous()
    images, labels = materialise(x, "flip-rotate")
    assert len(images) == 15 and labels.tolist() == [0] * 5 + [1] * 5 + [2] * 5
    assert pretext_labels(torch.tensor([0, 4, 5, 9, 10, 14]), 5).tolist() == [0, 0, 1, 1, 2, 2]
    assert task_classes("rotnet") == ("0°", "90° ccw", "180°", "270° ccw")
    assert len(materialise(x, "rotnet")[0]) == 20


def test_non_square_images_and_unknown_tasks_are_user_errors():
    with pytest.raises(UserError, match="square"):
        apply_pretext(torch.zeros(2, 3, 4, 6), torch.zeros(2, dtype=torch.long))
    with pytest.raises(UserError, match="unknown pretext task 'jigsaw'"):
        apply_pretext(torch.zeros(2, 3, 4, 4), torch.zeros(2, dtype=torch.long), "jigsaw")


class VersionOracle(torch.nn.Module):
    """Knows every version of a few images: logits name the version of each input (or always class 0)."""

    def __init__(self, images: torch.Tensor, task: str, constant: bool = False):
        super().__init__()
        versions, labels = materialise(images, task)
        self.k, self.constant = len(task_classes(task)), constant
        self.label = {to_signed(v).numpy().tobytes(): int(y) for v, y in zip(versions, labels)}
        self.seen: list[int] = []
        self.dummy = torch.nn.Parameter(torch.zeros(()))  # something for the optimizer to step

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        found = [0 if self.constant else self.label[row.detach().numpy().tobytes()] for row in x]
        self.seen += found
        return torch.nn.functional.one_hot(torch.tensor(found), self.k).float() * 10 + self.dummy


@pytest.mark.parametrize("task", ["flip-rotate", "rotnet"])
def test_pretext_epoch_shows_every_image_once_in_every_version_labelled_with_it(task):
    images = torch.randint(0, 256, (5, 3, 4, 4), dtype=torch.uint8)
    model = VersionOracle(images, task)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    loss, acc = pretext_epoch(model, optimizer, images, task, 4, torch.Generator().manual_seed(0))
    k = len(task_classes(task))
    assert sorted(model.seen) == sorted(list(range(k)) * 5)  # each version of each image, once
    assert acc.item() == 1.0 and loss.item() < 1e-3  # the oracle's label is the one trained on


def test_pretext_accuracy_averages_over_every_version_of_the_test_images():
    images = torch.randint(0, 256, (7, 3, 4, 4), dtype=torch.uint8)
    assert pretext_accuracy(VersionOracle(images, "flip-rotate"), images, "flip-rotate") == 1.0
    # Always answering "original" is right on one version in K.
    assert pretext_accuracy(VersionOracle(images, "rotnet", constant=True), images, "rotnet") == pytest.approx(1 / 4)
