"""Short-time Fourier transform and its inverse, for one signal or a ragged batch.

The seed's analysis: a 1024-point Hann window, hop 512, frames centred on multiples of
the hop (librosa's and ``torch.stft(center=True)``'s convention, reflect padding), so a
signal of ``L`` samples has ``1 + L // hop`` frames of ``n_fft // 2 + 1`` bins.

``stft``/``istft`` wrap ``torch.stft``/``torch.istft``. ``batch_stft``/``batch_istft``
do the same for a padded batch of signals with different lengths, and give each signal
exactly the frames and samples it would get on its own: the reflect padding is built
per signal by index arithmetic (padding values are never read), and the overlap-add
normalisation counts only each signal's own frames.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

N_FFT = 1024
HOP = 512


def window(n_fft: int = N_FFT, like: torch.Tensor | None = None) -> torch.Tensor:
    """The periodic Hann window, on the device and in the real precision of ``like``."""
    if like is None:
        return torch.hann_window(n_fft, periodic=True)
    dtype = like.real.dtype if like.is_complex() else like.dtype
    return torch.hann_window(n_fft, periodic=True, device=like.device, dtype=dtype)


def n_frames(length: int | torch.Tensor, hop: int = HOP) -> int | torch.Tensor:
    """Frames a centred STFT gives a signal of ``length`` samples."""
    return 1 + length // hop


def stft(wave: torch.Tensor, n_fft: int = N_FFT, hop: int = HOP) -> torch.Tensor:
    """Complex spectrogram ``(..., n_fft//2+1, frames)`` of ``wave`` ``(..., samples)``."""
    if wave.shape[-1] <= n_fft // 2:
        raise ValueError(f"a signal of {wave.shape[-1]} samples is too short for a {n_fft}-point STFT "
                         f"(reflect padding needs more than {n_fft // 2})")
    lead = wave.shape[:-1]
    spec = torch.stft(wave.reshape(-1, wave.shape[-1]), n_fft, hop, window=window(n_fft, wave),
                      center=True, pad_mode="reflect", return_complex=True)
    return spec.reshape(*lead, *spec.shape[-2:])


def istft(spec: torch.Tensor, length: int, n_fft: int = N_FFT, hop: int = HOP) -> torch.Tensor:
    """Waveform ``(..., length)`` from a complex spectrogram made by :func:`stft`."""
    lead = spec.shape[:-2]
    wave = torch.istft(spec.reshape(-1, *spec.shape[-2:]), n_fft, hop, window=window(n_fft, spec),
                       center=True, length=length)
    return wave.reshape(*lead, length)


def _reflect_index(lengths: torch.Tensor, padded: int, n_fft: int) -> torch.Tensor:
    """For each signal, the source sample of every position of its reflect-padded copy.

    Position ``p`` holds sample ``p - n_fft//2`` reflected at both ends of the signal's own
    length; positions beyond the signal's last frame point at sample 0 (their frames are
    invalid and never used).
    """
    half = n_fft // 2
    pos = torch.arange(padded, device=lengths.device).unsqueeze(0) - half
    last = (lengths - 1).unsqueeze(1)
    idx = pos.abs()  # reflect at the start: -k -> k
    idx = torch.where(idx > last, 2 * last - idx, idx)  # reflect at the end: L-1+k -> L-1-k
    return idx.clamp(min=0)


def batch_stft(waves: torch.Tensor, lengths: torch.Tensor, n_fft: int = N_FFT, hop: int = HOP
               ) -> tuple[torch.Tensor, torch.Tensor]:
    """Centred STFT of each row of ``waves`` ``(B, T)`` cut to ``lengths`` ``(B,)``.

    Returns ``(spec (B, F, frames), valid (B, frames) bool)``. A row's valid frames equal
    ``stft(waves[b, :lengths[b]])``; samples past ``lengths[b]`` are never read.
    """
    lengths = lengths.to(waves.device)
    if bool((lengths <= n_fft // 2).any()):
        raise ValueError(f"every signal must be longer than {n_fft // 2} samples for a {n_fft}-point STFT")
    frames = int(n_frames(int(lengths.max()), hop))
    padded = (frames - 1) * hop + n_fft
    idx = _reflect_index(lengths, padded, n_fft)
    padded_waves = torch.gather(waves, 1, idx)
    spec = torch.stft(padded_waves, n_fft, hop, window=window(n_fft, waves), center=False,
                      return_complex=True)
    valid = torch.arange(frames, device=waves.device).unsqueeze(0) < n_frames(lengths, hop).unsqueeze(1)
    return spec, valid


def batch_istft(spec: torch.Tensor, lengths: torch.Tensor, n_fft: int = N_FFT, hop: int = HOP) -> torch.Tensor:
    """Inverse of :func:`batch_stft`: waveforms ``(B, max length)``, zero past each length.

    Row ``b`` equals ``istft(spec[b, :, :frames_b], lengths[b])``: windowed inverse FFTs are
    overlap-added and divided by the sum of squared windows of that row's own frames.
    """
    lengths = lengths.to(spec.device)
    batch, _, frames = spec.shape
    win = window(n_fft, spec)
    valid = (torch.arange(frames, device=spec.device).unsqueeze(0) < n_frames(lengths, hop).unsqueeze(1))
    chunks = torch.fft.irfft(spec, n=n_fft, dim=1) * win.unsqueeze(-1) * valid.unsqueeze(1)
    padded = (frames - 1) * hop + n_fft
    summed = F.fold(chunks, (1, padded), (1, n_fft), stride=(1, hop)).reshape(batch, padded)
    envelope_frames = (win.square().unsqueeze(0).unsqueeze(-1) * valid.unsqueeze(1).to(win.dtype))
    envelope = F.fold(envelope_frames, (1, padded), (1, n_fft), stride=(1, hop)).reshape(batch, padded)
    half = n_fft // 2
    length_max = int(lengths.max())
    summed = summed[:, half:half + length_max]
    envelope = envelope[:, half:half + length_max]
    inside = torch.arange(length_max, device=spec.device).unsqueeze(0) < lengths.unsqueeze(1)
    return torch.where(inside, summed / envelope.clamp(min=1e-11), torch.zeros_like(summed))
