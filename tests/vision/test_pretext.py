import pytest
import torch

from sslab.errors import UserError
from sslab.vision.pretext import apply_pretext, materialise, pretext_labels, rotate_ccw, task_classes, upside_down

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
