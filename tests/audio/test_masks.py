import torch

from sslab.audio.masks import apply_mask, ideal_binary_mask


def test_ibm_follows_equation_1_with_ties_going_to_noise():
    speech = torch.tensor([[3.0, 1.0, 2.0], [0.0, 5.0, 0.5]])
    noise = torch.tensor([[1.0, 1.0, 4.0], [0.0, 4.999, 0.6]])
    expected = torch.tensor([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]])
    assert torch.equal(ideal_binary_mask(speech, noise), expected)


def test_mask_scales_the_complex_spectrum_and_keeps_its_phase():
    spec = torch.tensor([1 + 1j, -2 + 0.5j, 3j], dtype=torch.complex64)
    mask = torch.tensor([1.0, 0.0, 0.5])
    out = apply_mask(mask, spec)
    assert torch.allclose(out, torch.tensor([1 + 1j, 0, 1.5j], dtype=torch.complex64))
