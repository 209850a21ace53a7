"""Time-frequency masks: the seed's ideal binary mask (its equation 1) and masking (2)."""

from __future__ import annotations

import torch


def ideal_binary_mask(speech_mag: torch.Tensor, noise_mag: torch.Tensor) -> torch.Tensor:
    """1 where ``|S| > |N|``, else 0 (a tie goes to noise, as in the seed's equation 1)."""
    return (speech_mag > noise_mag).to(torch.float32)


def apply_mask(mask: torch.Tensor, noisy_spec: torch.Tensor) -> torch.Tensor:
    """``M ⊙ X``: the mask scales the complex noisy STFT; the noisy phase is kept."""
    return noisy_spec * mask.to(noisy_spec.real.dtype)
