"""Classical speech enhancement that needs no training: spectral subtraction and a Wiener filter.

Both estimate the noise from the noisy mixture alone (never from the clean speech or the
noise file): the noise power spectrum of a file is the mean power, bin by bin, of its
quietest frames (the share ``quietest`` of its frames with the least total energy,
at least ``min_frames``), which in speech with pauses are frames of noise alone. Each
method turns that estimate into a real gain per bin that scales the complex noisy STFT,
exactly as a learned mask does (:func:`sslab.audio.masks.apply_mask`), so every system
goes through the same inverse STFT.

- ``subtraction``: power spectral subtraction with over-subtraction and a spectral floor
  (Boll, 1979; Berouti et al., 1979): ``|S|^2 = max(|X|^2 - alpha N, floor |X|^2)``.
- ``wiener``: the Wiener gain ``xi / (1 + xi)`` with the a-priori SNR ``xi`` tracked by the
  decision-directed rule (Ephraim and Malah, 1984; Scalart and Filho, 1996).

Functions take a batch of complex STFTs ``(B, bins, frames)`` with the valid-frame mask
``(B, frames)`` of :func:`sslab.audio.stft.batch_stft`; padding frames are never read.
"""

from __future__ import annotations

import torch

from sslab.audio.masks import apply_mask
from sslab.audio.stft import HOP, N_FFT, batch_istft, batch_stft

METHODS = ("wiener", "subtraction")
METHOD_NAMES = {"wiener": "Wiener filter", "subtraction": "spectral subtraction"}


def noise_power(power: torch.Tensor, valid: torch.Tensor, quietest: float = 0.2, min_frames: int = 3
                ) -> torch.Tensor:
    """Noise power per bin ``(B, bins, 1)``: the mean power of each file's quietest valid frames."""
    energy = power.sum(1).masked_fill(~valid, float("inf"))  # (B, frames)
    rank = energy.argsort(1).argsort(1)
    count = valid.sum(1, keepdim=True)
    take = (quietest * count).ceil().clamp(min=min_frames).minimum(count)
    chosen = ((rank < take) & valid).to(power.dtype).unsqueeze(1)
    return (power * chosen).sum(-1, keepdim=True) / chosen.sum(-1, keepdim=True).clamp(min=1)


def spectral_subtraction(noisy_spec: torch.Tensor, valid: torch.Tensor, alpha: float = 2.0, floor: float = 0.02
                         ) -> torch.Tensor:
    """Gain ``sqrt(max(1 - alpha N / |X|^2, floor))`` per bin ``(B, bins, frames)``, 0 on padding."""
    power = noisy_spec.abs().square()
    noise = noise_power(power, valid)
    gain = (1 - alpha * noise / power.clamp(min=1e-20)).clamp(min=floor).sqrt()
    return gain * valid.unsqueeze(1)


def wiener(noisy_spec: torch.Tensor, valid: torch.Tensor, smoothing: float = 0.98, xi_min_db: float = -25.0
           ) -> torch.Tensor:
    """Decision-directed Wiener gain per bin ``(B, bins, frames)``, 0 on padding.

    ``xi_t = a |S_{t-1}|^2 / N + (1 - a) max(gamma_t - 1, 0)`` with ``gamma_t = |X_t|^2 / N``
    and ``|S_{t-1}|^2`` the previous frame's enhanced power; ``xi`` is kept above
    ``xi_min_db``, which bounds how far the gain can fall and limits musical noise.
    """
    power = noisy_spec.abs().square()
    noise = noise_power(power, valid).clamp(min=1e-20)
    gamma = power / noise
    xi_min = 10 ** (xi_min_db / 10)
    gains = []
    previous = None  # |S_{t-1}|^2 / N
    for t in range(power.shape[-1]):
        rise = (gamma[..., t] - 1).clamp(min=0)
        xi = rise if previous is None else smoothing * previous + (1 - smoothing) * rise
        xi = xi.clamp(min=xi_min)
        gain = xi / (1 + xi)
        previous = gain.square() * gamma[..., t]
        gains.append(gain)
    return torch.stack(gains, -1) * valid.unsqueeze(1)


def gain(method: str, noisy_spec: torch.Tensor, valid: torch.Tensor) -> torch.Tensor:
    """The gain of ``method`` (one of :data:`METHODS`) for a batch of noisy STFTs."""
    if method == "wiener":
        return wiener(noisy_spec, valid)
    if method == "subtraction":
        return spectral_subtraction(noisy_spec, valid)
    raise ValueError(f"unknown enhancement method {method!r}; choose from {', '.join(METHODS)}")


@torch.no_grad()
def enhance(method: str, waves: torch.Tensor, lengths: torch.Tensor, n_fft: int = N_FFT, hop: int = HOP
            ) -> torch.Tensor:
    """Enhanced waveforms ``(B, T)`` (zero past each length) of a padded batch of noisy signals."""
    spec, valid = batch_stft(waves, lengths, n_fft, hop)
    return batch_istft(apply_mask(gain(method, spec, valid), spec), lengths, n_fft, hop)
