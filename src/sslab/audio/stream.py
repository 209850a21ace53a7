"""Denoising with a trained mask estimator: whole signals (batched) or a live stream.

``denoise`` runs the seed's pipeline on a padded batch: STFT, mask from the magnitudes,
mask times the complex noisy STFT, inverse STFT. ``StreamingDenoiser`` does the same
chunk by chunk for a unidirectional model, carrying the recurrent state, and returns
exactly the samples the whole-file result has (to float rounding) as soon as no later
frame can change them: the algorithmic latency is one window (``n_fft`` samples).
"""

from __future__ import annotations

import numpy as np
import torch

from sslab.audio.masks import apply_mask
from sslab.audio.models import Masker, RecurrentMasker
from sslab.audio.stft import HOP, N_FFT, batch_istft, batch_stft, window
from sslab.errors import UserError


@torch.no_grad()
def denoise(model: Masker, waves: torch.Tensor, lengths: torch.Tensor, n_fft: int = N_FFT, hop: int = HOP
            ) -> tuple[torch.Tensor, torch.Tensor]:
    """Denoised waveforms ``(B, T)`` (zero past each length) and the masks ``(B, bins, frames)``."""
    model.eval()
    spec, valid = batch_stft(waves, lengths, n_fft, hop)
    mask = model.mask(spec.abs().transpose(1, 2)).transpose(1, 2) * valid.unsqueeze(1)
    return batch_istft(apply_mask(mask, spec), lengths, n_fft, hop), mask


def denoise_signal(model: Masker, samples: np.ndarray, device: torch.device | str = "cpu") -> np.ndarray:
    """One mono signal in, its denoised version out (same length)."""
    wave = torch.as_tensor(np.asarray(samples, dtype=np.float32), device=device).unsqueeze(0)
    length = torch.tensor([wave.shape[1]], device=device)
    return denoise(model, wave, length)[0][0].cpu().numpy()


class StreamingDenoiser:
    """Feed samples with :meth:`push`, end with :meth:`finish`; both return finished output."""

    def __init__(self, model: Masker, n_fft: int = N_FFT, hop: int = HOP):
        if isinstance(model, RecurrentMasker) and model.bidirectional:
            raise UserError("a bidirectional model needs the whole file; it cannot denoise a stream "
                            "(train with bidirectional=false, or drop --stream)")
        self.model = model.eval()
        self.n_fft, self.hop, self.half = n_fft, hop, n_fft // 2
        self.window = window(n_fft)
        self.received = torch.zeros(0)   # input samples from absolute index `in_base` on
        self.in_base = 0
        self.total = 0                   # samples received so far
        self.next_frame = 0              # first frame not yet computed
        self.sums = torch.zeros(0)       # overlap-add numerator and window-square envelope,
        self.envelope = torch.zeros(0)   # from absolute output index `out_base` on
        self.out_base = 0
        self.state = None

    def push(self, samples) -> np.ndarray:
        chunk = torch.as_tensor(np.asarray(samples, dtype=np.float32)).reshape(-1)
        self.received = torch.cat([self.received, chunk])
        self.total += chunk.numel()
        # Frame f reads samples f*hop - half .. f*hop + half - 1; without the end of the stream
        # it can be computed only once all of them (and for frame 0, its reflection) have arrived.
        ready = (self.total - self.half - 1) // self.hop + 1 if self.total > self.half else 0
        self._frames(range(self.next_frame, max(self.next_frame, ready)), end=None)
        return self._emit(self.next_frame * self.hop - self.half)

    def finish(self) -> np.ndarray:
        """Compute the last frames (reflect-padded at the end, as offline) and flush."""
        if self.total <= self.half:
            raise UserError(f"the stream ended after {self.total} samples; at least {self.half + 1} are needed")
        self._frames(range(self.next_frame, self.total // self.hop + 1), end=self.total)
        return self._emit(self.total)

    @torch.no_grad()
    def _frames(self, frames: range, end: int | None) -> None:
        if len(frames) == 0:
            return
        f = torch.arange(frames.start, frames.stop)
        positions = f.unsqueeze(1) * self.hop - self.half + torch.arange(self.n_fft)  # absolute sample indices
        idx = positions.abs()  # reflect at the start
        if end is not None:
            idx = torch.where(idx > end - 1, 2 * (end - 1) - idx, idx)  # reflect at the end
        spec = torch.fft.rfft(self.received[idx - self.in_base] * self.window, dim=-1)
        logits, self.state = self.model.step(spec.abs().unsqueeze(0), self.state)
        pieces = torch.fft.irfft(spec * torch.sigmoid(logits[0]), n=self.n_fft, dim=-1) * self.window
        grow = int(positions[-1, -1]) + 1 - (self.out_base + self.sums.numel())
        if grow > 0:
            self.sums = torch.cat([self.sums, torch.zeros(grow)])
            self.envelope = torch.cat([self.envelope, torch.zeros(grow)])
        keep = positions.reshape(-1) >= self.out_base  # the first frame's left half lies before sample 0
        at = positions.reshape(-1)[keep] - self.out_base
        self.sums.index_add_(0, at, pieces.reshape(-1)[keep])
        self.envelope.index_add_(0, at, self.window.square().repeat(len(frames))[keep])
        self.next_frame = frames.stop
        # Input before the next frame's first sample is no longer read (one window kept for the end reflection).
        drop = max(0, self.next_frame * self.hop - self.half - self.n_fft - self.in_base)
        if drop and self.next_frame > 0:
            self.received = self.received[drop:]
            self.in_base += drop

    def _emit(self, upto: int) -> np.ndarray:
        count = max(0, min(upto, self.out_base + self.sums.numel()) - self.out_base)
        if count == 0:
            return np.zeros(0, dtype=np.float32)
        out = self.sums[:count] / self.envelope[:count].clamp(min=1e-11)
        self.sums, self.envelope = self.sums[count:], self.envelope[count:]
        self.out_base += count
        return out.numpy()
