"""Time-frequency masks: the seed's ideal binary mask (its equation 1), masking (2), and the
loss a mask estimator is trained on (cross-entropy against the ideal mask, padding left out)."""

from __future__ import annotations

import torch
import torch.nn.functional as F


def ideal_binary_mask(speech_mag: torch.Tensor, noise_mag: torch.Tensor) -> torch.Tensor:
    """1 where ``|S| > |N|``, else 0 (a tie goes to noise, as in the seed's equation 1)."""
    return (speech_mag > noise_mag).to(torch.float32)


def apply_mask(mask: torch.Tensor, noisy_spec: torch.Tensor) -> torch.Tensor:
    """``M ⊙ X``: the mask scales the complex noisy STFT; the noisy phase is kept."""
    return noisy_spec * mask.to(noisy_spec.real.dtype)


def masked_bce(logits: torch.Tensor, target: torch.Tensor, valid: torch.Tensor,
               weight: torch.Tensor | None = None) -> torch.Tensor:
    """Binary cross-entropy of mask logits ``(B, frames, bins)`` averaged over the valid frames only.

    Padding never counts; ``weight`` (same shape as ``logits``) scales each bin's term, see
    :func:`bin_weights`.
    """
    per_bin = F.binary_cross_entropy_with_logits(logits, target, reduction="none")
    if weight is not None:
        per_bin = per_bin * weight
    return (per_bin.mean(-1) * valid).sum() / valid.sum().clamp(min=1)


def bin_weights(mag: torch.Tensor, valid: torch.Tensor, power: float) -> torch.Tensor | None:
    """Per-bin loss weights ``|X|^power``, normalised to mean 1 over each sequence's valid bins.

    SNR counts the error energy of every bin, so a wrong mask on a loud bin costs far more
    than on a quiet one, while plain cross-entropy counts every bin alike. Weighting by the
    mixture's magnitude moves the training objective toward the score; the target is still
    the ideal binary mask. ``power`` 0: no weighting (None).
    """
    if power == 0:
        return None
    w = mag.clamp(min=0).pow(power) * valid.unsqueeze(-1)
    mean = w.sum((1, 2), keepdim=True) / (valid.sum(1).view(-1, 1, 1) * mag.shape[-1]).clamp(min=1)
    return w / mean.clamp(min=1e-12)
