import torch

from sslab.data.synthetic_images import CLASSES, make_images


def test_seeded_balanced_and_uint8():
    a, b = make_images(200, seed=3), make_images(200, seed=3)
    assert torch.equal(a.images, b.images) and torch.equal(a.labels, b.labels)
    assert a.images.dtype == torch.uint8 and a.images.shape == (200, 3, 32, 32)
    assert a.labels.bincount(minlength=10).tolist() == [20] * 10
    assert len(CLASSES) == 10
    assert not torch.equal(make_images(200, seed=4).images, a.images)


def test_scenes_have_an_up_direction():
    # sky above ground: the top rows are brighter than the bottom rows on average
    x = make_images(500, seed=0).images.float()
    assert x[:, :, :6].mean() > x[:, :, -4:].mean() + 20
