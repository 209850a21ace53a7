import torch

from sslab.vision.augment import apply_versions, brighten, darken, flip_left_right


def test_brighten_clips_at_one_and_darken_scales():
    x = torch.tensor([0.0, 0.5, 0.9, 0.95, 1.0]).view(1, 1, 1, 5)
    assert torch.allclose(brighten(x), torch.tensor([0.0, 0.55, 0.99, 1.0, 1.0]).view(1, 1, 1, 5))
    assert torch.allclose(darken(x), torch.tensor([0.0, 0.45, 0.81, 0.855, 0.9]).view(1, 1, 1, 5))


def test_flip_is_left_right_not_upside_down():
    x = torch.arange(6.0).view(1, 1, 2, 3)  # rows [0 1 2], [3 4 5]
    assert flip_left_right(x).view(2, 3).tolist() == [[2, 1, 0], [5, 4, 3]]


def test_versions_per_sample():
    x = torch.rand(4, 3, 8, 8)
    out = apply_versions(x, torch.tensor([0, 1, 2, 3]))
    assert torch.equal(out[0], x[0])
    assert torch.equal(out[1], torch.clamp(1.1 * x[1], max=1))
    assert torch.equal(out[2], 0.9 * x[2])
    assert torch.equal(out[3], x[3].flip(-1))


def test_virtual_set_equals_materialised_set():
    # sample i of the 4N set is version i // N of image i % N: the 180,000-image set of the seed
    n = 5
    x = torch.rand(n, 3, 4, 4)
    materialised = torch.cat([x, torch.clamp(1.1 * x, max=1), 0.9 * x, x.flip(-1)])
    idx = torch.randperm(4 * n)
    assert torch.equal(apply_versions(x[idx % n], idx // n), materialised[idx])
