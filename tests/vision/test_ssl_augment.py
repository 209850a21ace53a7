"""Batched Barlow Twins augmentations: each op checked against what it must do."""

from __future__ import annotations

import math

import pytest
import torch

from sslab.vision import ssl_augment as A


def images(n=4, side=16, seed=0):
    return torch.randint(0, 256, (n, 3, side, side), generator=torch.Generator().manual_seed(seed), dtype=torch.uint8)


def test_crop_boxes_follow_the_random_resized_crop_rule():
    g = torch.Generator().manual_seed(0)
    boxes = A.crop_boxes(4000, 32, 48, (0.2, 0.6), (3 / 4, 4 / 3), g)
    x0, y0, w, h = boxes.unbind(1)
    assert (x0 >= 0).all() and (y0 >= 0).all() and (x0 + w <= 48 + 1e-4).all() and (y0 + h <= 32 + 1e-4).all()
    area = w * h / (32 * 48)
    assert area.min() >= 0.2 - 1e-4 and area.max() <= 0.6 + 1e-4
    ratio = w / h
    assert ratio.min() >= 3 / 4 - 1e-4 and ratio.max() <= 4 / 3 + 1e-4
    # Nothing fits (scale > 1): the fallback is the whole (square) image.
    whole = A.crop_boxes(10, 16, 16, (1.5, 2.0), (3 / 4, 4 / 3), g)
    assert torch.allclose(whole, torch.tensor([0.0, 0.0, 16.0, 16.0]).expand(10, 4))


def test_crop_flip_resize_is_exact_for_whole_and_integer_boxes():
    x = images(3).float() / 255
    whole = torch.tensor([[0.0, 0.0, 16.0, 16.0]]).expand(3, 4)
    assert torch.allclose(A.crop_flip_resize(x, whole, torch.zeros(3, dtype=torch.bool), 16), x, atol=1e-6)
    assert torch.allclose(A.crop_flip_resize(x, whole, torch.ones(3, dtype=torch.bool), 16), x.flip(-1), atol=1e-6)
    box = torch.tensor([[4.0, 2.0, 8.0, 8.0], [0.0, 8.0, 8.0, 8.0], [8.0, 0.0, 8.0, 8.0]])
    out = A.crop_flip_resize(x, box, torch.tensor([False, True, False]), 8)
    assert torch.allclose(out[0], x[0, :, 2:10, 4:12], atol=1e-6)
    assert torch.allclose(out[1], x[1, :, 8:16, 0:8].flip(-1), atol=1e-6)
    assert torch.allclose(out[2], x[2, :, 0:8, 8:16], atol=1e-6)


def test_hsv_round_trip_and_hue_rotation():
    x = torch.rand(5, 3, 6, 6, generator=torch.Generator().manual_seed(2))
    assert torch.allclose(A.hsv_to_rgb(A.rgb_to_hsv(x)), x, atol=1e-5)
    red = torch.zeros(1, 3, 1, 1)
    red[0, 0] = 1.0
    one = torch.ones(1)
    cyan = A.color_jitter(red, one, one, one, torch.tensor([0.5]))
    assert torch.allclose(cyan.flatten(), torch.tensor([0.0, 1.0, 1.0]), atol=1e-5)


def test_color_jitter_identity_and_each_factor():
    x = torch.rand(3, 3, 8, 8, generator=torch.Generator().manual_seed(3))
    one, zero = torch.ones(3), torch.zeros(3)
    assert torch.allclose(A.color_jitter(x, one, one, one, zero), x, atol=1e-5)
    dark = A.color_jitter(x, torch.full((3,), 0.5), one, one, zero)
    assert torch.allclose(dark, x * 0.5, atol=1e-5)
    flat = A.color_jitter(x, one, zero, one, zero)  # contrast 0: every pixel the image's mean luma
    assert torch.allclose(flat, A.grayscale(x).mean((2, 3), keepdim=True).expand_as(x), atol=1e-5)
    gray = A.color_jitter(x, one, one, zero, zero)  # saturation 0: the luma in all channels
    assert torch.allclose(gray, A.grayscale(x).expand_as(x), atol=1e-5)


def test_blur_is_per_image_and_keeps_mean():
    x = torch.rand(3, 3, 20, 20, generator=torch.Generator().manual_seed(4))
    sigma = torch.tensor([0.01, 1.0, 3.0])
    out = A.gaussian_blur(x, sigma, 7)
    assert torch.allclose(out[0], x[0], atol=1e-5)  # a tiny sigma leaves the image alone
    assert torch.allclose(out[1], A.gaussian_blur(x[1:2], sigma[1:2], 7)[0], atol=1e-6)  # batching changes nothing
    assert out[2].std() < out[1].std() < x[1].std() + 1e-6
    assert A.blur_kernel_size(224) == 23 and A.blur_kernel_size(32) == 3 and A.blur_kernel_size(96) % 2 == 1


def test_augment_view_shape_range_determinism_and_per_image_randomness():
    x = images(64, 24)
    first, second = A.barlow_views((0.2, 1.0))
    g1, g2 = torch.Generator().manual_seed(7), torch.Generator().manual_seed(7)
    a, b = A.augment_view(x, first, 16, g1), A.augment_view(x, first, 16, g2)
    assert a.shape == (64, 3, 16, 16) and a.dtype == torch.float32
    assert torch.equal(a, b)
    assert a.min() >= -1 and a.max() <= 1
    # The same image twice in a batch gets two different views.
    same = x[:1].expand(8, -1, -1, -1).contiguous()
    views = A.augment_view(same, first, 16, g1)
    assert len({tuple(v.flatten()[:20].tolist()) for v in views}) == 8
    # The second view solarises about 20% of images and blurs about 10%; the first never solarises.
    assert second.solarize_p == 0.2 and second.blur_p == 0.1 and first.solarize_p == 0.0 and first.blur_p == 1.0


def test_solarisation_and_grayscale_apply_with_their_probability():
    x = torch.full((400, 3, 8, 8), 230, dtype=torch.uint8)  # bright grey: solarised -> dark
    only_solar = A.ViewParams(crop_scale=(1.0, 1.0), flip_p=0, jitter_p=0, gray_p=0, blur_p=0, solarize_p=0.25)
    out = A.augment_view(x, only_solar, 8, torch.Generator().manual_seed(0))
    solarised = (out.mean((1, 2, 3)) < 0).float().mean().item()
    assert abs(solarised - 0.25) < 0.07
    colour = torch.zeros(400, 3, 8, 8, dtype=torch.uint8)
    colour[:, 0] = 200
    only_gray = A.ViewParams(crop_scale=(1.0, 1.0), flip_p=0, jitter_p=0, gray_p=0.2, blur_p=0, solarize_p=0)
    out = A.augment_view(colour, only_gray, 8, torch.Generator().manual_seed(1))
    grey = (out[:, 0] == out[:, 1]).all(-1).all(-1).float().mean().item()
    assert abs(grey - 0.2) < 0.06


def test_pad_crop_flip_takes_crops_of_the_padded_image():
    x = images(50, 12)
    out = A.pad_crop_flip(x, torch.Generator().manual_seed(0), pad=0)
    assert out.dtype == torch.uint8 and out.shape == x.shape
    same = (out == x).flatten(1).all(1)
    flipped = (out == x.flip(-1)).flatten(1).all(1)
    assert (same | flipped).all() and 10 < flipped.sum() < 40
    padded = torch.nn.functional.pad(x, (2, 2, 2, 2))
    out = A.pad_crop_flip(x, torch.Generator().manual_seed(1), pad=2)
    for i in range(5):
        found = any(torch.equal(out[i], c) for dy in range(5) for dx in range(5)
                    for c in (padded[i, :, dy:dy + 12, dx:dx + 12], padded[i, :, dy:dy + 12, dx:dx + 12].flip(-1)))
        assert found


def test_to_input_scales_and_resizes():
    x = torch.tensor([0, 255], dtype=torch.uint8).view(1, 1, 1, 2).expand(1, 3, 2, 2)
    assert torch.equal(A.to_input(x), torch.tensor([-1.0, 1.0]).view(1, 1, 1, 2).expand(1, 3, 2, 2))
    assert A.to_input(images(2, 16), 8).shape == (2, 3, 8, 8)
    assert math.isclose(float(A.to_input(torch.full((1, 3, 8, 8), 255, dtype=torch.uint8), 4).mean()), 1.0, rel_tol=1e-6)


def test_hsv_matches_the_standard_library():
    import colorsys

    x = torch.rand(1, 3, 5, 7, generator=torch.Generator().manual_seed(5))
    x[0, :, 0, 0] = torch.tensor([0.3, 0.3, 0.3])  # grey: hue and saturation 0
    x[0, :, 0, 1] = torch.tensor([0.8, 0.8, 0.2])  # a tie between red and green
    hsv = A.rgb_to_hsv(x)
    for i in range(5):
        for j in range(7):
            want = colorsys.rgb_to_hsv(*x[0, :, i, j].tolist())
            assert hsv[0, :, i, j].tolist() == pytest.approx(list(want), abs=1e-5)
            back = colorsys.hsv_to_rgb(*hsv[0, :, i, j].tolist())
            assert A.hsv_to_rgb(hsv)[0, :, i, j].tolist() == pytest.approx(list(back), abs=1e-5)


@pytest.mark.parametrize("chosen", [[True, False, True, False, False], [False] * 5, [True] * 5])
def test_an_op_on_the_chosen_images_equals_computing_it_for_all_and_selecting(chosen):
    x = images(5, 8).float() / 255
    mask = torch.tensor(chosen)
    factor = torch.arange(1.0, 6.0)
    calls = []

    def op(xs, pick):
        calls.append(len(pick))
        return xs * factor[pick].view(-1, 1, 1, 1)

    got = A._on_chosen(x, mask, op)
    assert torch.equal(got, torch.where(mask.view(-1, 1, 1, 1), x * factor.view(-1, 1, 1, 1), x))
    assert calls == ([sum(chosen)] if any(chosen) else [])  # computed for the chosen images only
