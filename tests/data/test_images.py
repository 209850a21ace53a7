import torch

from sslab.data.images import one_per_class


def test_one_per_class_picks_different_classes_from_a_class_grouped_set():
    labels = torch.tensor([0] * 50 + [1] * 50 + [2] * 50 + [3] * 50)
    assert one_per_class(labels, 6).tolist() == [0, 50, 100, 150]
    assert one_per_class(labels, 2).tolist() == [0, 50]
    assert one_per_class(torch.tensor([2, 0, 2, 1]), 6).tolist() == [1, 3, 0]
