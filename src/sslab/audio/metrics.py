"""Signal-to-noise ratio and scale-invariant SDR, as pure functions of waveforms.

Both take tensors ``(..., samples)`` (or NumPy arrays) and return dB per signal. With
``lengths``, samples at or past each signal's length are ignored, so padded batches
score exactly like their unpadded signals.
"""

from __future__ import annotations

import numpy as np
import torch

EPS = 1e-12


def _valid(x: torch.Tensor, lengths: torch.Tensor | None) -> torch.Tensor:
    if lengths is None:
        return torch.ones_like(x, dtype=torch.bool)
    idx = torch.arange(x.shape[-1], device=x.device)
    return idx < torch.as_tensor(lengths, device=x.device).unsqueeze(-1)


def _as_tensor(x) -> torch.Tensor:
    return torch.as_tensor(np.asarray(x)) if not isinstance(x, torch.Tensor) else x


def snr_db(reference, estimate, lengths: torch.Tensor | None = None) -> torch.Tensor:
    """``10 log10(sum s^2 / sum (s - s_hat)^2)``, the seed's SNR, per signal."""
    s, s_hat = _as_tensor(reference).double(), _as_tensor(estimate).double()
    keep = _valid(s, lengths)
    signal = (s.square() * keep).sum(-1)
    error = ((s - s_hat).square() * keep).sum(-1)
    return 10 * torch.log10((signal + EPS) / (error + EPS))


def si_sdr_db(reference, estimate, lengths: torch.Tensor | None = None) -> torch.Tensor:
    """Scale-invariant SDR (Le Roux et al., 2019): SNR against the best-scaled reference.

    Both signals are made zero-mean first; the target is the projection ``a s`` of the
    estimate onto the reference, the error what is left, so a gain change of the
    estimate does not change the score.
    """
    s, s_hat = _as_tensor(reference).double(), _as_tensor(estimate).double()
    keep = _valid(s, lengths)
    count = keep.sum(-1, keepdim=True).clamp(min=1)
    s = (s - (s * keep).sum(-1, keepdim=True) / count) * keep
    s_hat = (s_hat - (s_hat * keep).sum(-1, keepdim=True) / count) * keep
    scale = (s * s_hat).sum(-1, keepdim=True) / (s.square().sum(-1, keepdim=True) + EPS)
    target = scale * s
    error = s_hat - target
    return 10 * torch.log10((target.square().sum(-1) + EPS) / (error.square().sum(-1) + EPS))
