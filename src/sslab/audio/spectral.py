"""Spectrogram features for generative audio, and phase reconstruction back to sound.

A generator that works on spectrograms makes magnitudes only; the waveform needs a
phase. Griffin-Lim finds one by alternating projections between "consistent STFTs"
(what istft/stft round-trips to) and "has the wanted magnitude". The fast variant
(Perraudin, Balazs & Sondergaard, 2013) adds a momentum term that reaches in ~32
iterations what plain Griffin-Lim reaches in a few hundred.

Two domains share one interface (:class:`SpectralDomain`):

- ``stft``: log-magnitude of the linear-frequency STFT (``n_fft // 2 + 1`` bins); the
  generator's output goes straight into Griffin-Lim.
- ``mel``: log-magnitude on a mel scale (fewer, perceptually spaced bins: an easier
  target), mapped back to linear frequency by non-negative least squares before
  Griffin-Lim; the high bands come back smeared, the price of the smaller target.

Everything is batched: waves are (batch, samples), spectrograms (batch, bins, frames).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

LOG_FLOOR = 1e-5  # magnitudes below this (about -100 dB of full scale) are silence


def _window(n_fft: int, device: torch.device) -> torch.Tensor:
    return torch.hann_window(n_fft, device=device)


def stft(wave: torch.Tensor, n_fft: int, hop: int) -> torch.Tensor:
    """Complex STFT (batch, n_fft//2+1, frames); frame k is centred on sample k*hop."""
    return torch.stft(wave, n_fft, hop_length=hop, window=_window(n_fft, wave.device), center=True,
                      return_complex=True)


def istft(spec: torch.Tensor, n_fft: int, hop: int, length: int | None = None) -> torch.Tensor:
    return torch.istft(spec, n_fft, hop_length=hop, window=_window(n_fft, spec.device), center=True, length=length)


def frames_for(samples: int, hop: int) -> int:
    """Frames that :func:`stft` makes from ``samples`` samples (``center=True``)."""
    return samples // hop + 1


def samples_for(frames: int, hop: int) -> int:
    """Samples that ``frames`` STFT frames cover (the inverse of :func:`frames_for`)."""
    return (frames - 1) * hop


def hz_to_mel(hz: torch.Tensor | float) -> torch.Tensor:
    return 2595.0 * torch.log10(1.0 + torch.as_tensor(hz, dtype=torch.float64) / 700.0)


def mel_to_hz(mel: torch.Tensor) -> torch.Tensor:
    return 700.0 * (10.0 ** (mel / 2595.0) - 1.0)


def mel_filterbank(sample_rate: int, n_fft: int, n_mels: int, f_min: float = 0.0,
                   f_max: float | None = None) -> torch.Tensor:
    """Triangular filters (n_mels, n_fft//2+1), equally spaced on the HTK mel scale.

    Each filter is normalised to unit area (Slaney style) so a flat spectrum gives
    about the same value in every band.
    """
    f_max = sample_rate / 2 if f_max is None else f_max
    if not 0 <= f_min < f_max <= sample_rate / 2:
        raise ValueError(f"mel range {f_min}-{f_max} Hz does not fit a sample rate of {sample_rate} Hz")
    bins = torch.linspace(0, sample_rate / 2, n_fft // 2 + 1, dtype=torch.float64)
    edges = mel_to_hz(torch.linspace(float(hz_to_mel(f_min)), float(hz_to_mel(f_max)), n_mels + 2, dtype=torch.float64))
    lower, centre, upper = edges[:-2, None], edges[1:-1, None], edges[2:, None]
    rising = (bins[None] - lower) / (centre - lower)
    falling = (upper - bins[None]) / (upper - centre)
    fb = torch.clamp(torch.minimum(rising, falling), min=0.0)
    fb = fb * (2.0 / (upper - lower))
    return fb.float()


def griffin_lim(magnitude: torch.Tensor, n_fft: int, hop: int, iters: int = 32, momentum: float = 0.99,
                length: int | None = None, generator: torch.Generator | None = None,
                phase: torch.Tensor | None = None) -> torch.Tensor:
    """Waveforms (batch, samples) whose STFT magnitude approximates ``magnitude`` (batch, bins, frames).

    Fast Griffin-Lim; the initial phase is random (drawn from ``generator``, so the
    result is reproducible) because a zero phase starts in a symmetric saddle. The result
    has ``length`` samples (default: what the frame count implies).
    """
    natural = samples_for(magnitude.shape[-1], hop)  # the iterations keep every frame consistent
    length = natural if length is None else int(length)
    if length < 1:
        raise ValueError(f"griffin_lim: length must be at least 1 sample (got {length})")
    if phase is None:  # or the caller's draws in [0, 1), (batch, bins, frames)
        phase = torch.rand(magnitude.shape, generator=generator, device="cpu")
    phase = phase.to(magnitude.device) * (2 * math.pi)
    angles = torch.polar(torch.ones_like(magnitude), phase)
    previous = torch.zeros_like(angles)
    for _ in range(iters):
        rebuilt = stft(istft(magnitude * angles, n_fft, hop, natural), n_fft, hop)
        accelerated = rebuilt - (momentum / (1 + momentum)) * previous
        angles = accelerated / accelerated.abs().clamp_min(1e-8)
        previous = rebuilt
    wave = istft(magnitude * angles, n_fft, hop, natural)
    return wave[..., :length] if length <= natural else torch.nn.functional.pad(wave, (0, length - natural))


def spectral_convergence(magnitude: torch.Tensor, wave: torch.Tensor, n_fft: int, hop: int) -> torch.Tensor:
    """|| |STFT(wave)| - magnitude ||_F / || magnitude ||_F per item: 0 is a perfect phase."""
    rebuilt = stft(wave, n_fft, hop).abs()[..., : magnitude.shape[-1]]
    diff = (rebuilt - magnitude).flatten(1).norm(dim=1)
    return diff / magnitude.flatten(1).norm(dim=1).clamp_min(1e-12)


@dataclass(frozen=True)
class SpectralDomain:
    """The representation a generator works in, and the way back to a waveform."""

    kind: str          # "stft" or "mel"
    sample_rate: int
    n_fft: int
    hop: int
    n_mels: int = 80

    def __post_init__(self):
        if self.kind not in ("stft", "mel"):
            raise ValueError(f"unknown spectral domain {self.kind!r}; use stft or mel")
        if self.hop > self.n_fft // 2:
            # Griffin-Lim needs overlapping frames to have anything to make consistent.
            raise ValueError(f"hop {self.hop} must be at most n_fft/2 = {self.n_fft // 2}")

    @property
    def bins(self) -> int:
        return self.n_fft // 2 + 1 if self.kind == "stft" else self.n_mels

    def filterbank(self, device: torch.device | str = "cpu") -> torch.Tensor:
        return mel_filterbank(self.sample_rate, self.n_fft, self.n_mels).to(device)

    def frames(self, seconds: float) -> int:
        return frames_for(int(round(seconds * self.sample_rate)), self.hop)

    def encode(self, wave: torch.Tensor) -> torch.Tensor:
        """Log-magnitudes (batch, bins, frames) of waveforms (batch, samples)."""
        mag = stft(wave, self.n_fft, self.hop).abs()
        if self.kind == "mel":
            mag = torch.einsum("mf,bft->bmt", self.filterbank(wave.device), mag)
        return torch.log(mag.clamp_min(LOG_FLOOR))

    def linear_magnitude(self, log_features: torch.Tensor, nnls_iters: int = 30) -> torch.Tensor:
        """Linear-frequency magnitudes (batch, n_fft//2+1, frames) from :meth:`encode`'s output."""
        mag = torch.exp(log_features)
        if self.kind == "stft":
            return mag
        # Non-negative least squares fb @ x = mel by multiplicative updates (Lee & Seung),
        # started from the transposed filterbank: always non-negative, no matrix inverse.
        fb = self.filterbank(log_features.device)
        target = torch.einsum("mf,bmt->bft", fb, mag)
        x = target.clone()
        gram = fb.T @ fb
        for _ in range(nnls_iters):
            x = x * target / (torch.einsum("fg,bgt->bft", gram, x) + 1e-10)
        return x

    def decode(self, log_features: torch.Tensor, iters: int = 32, seconds: float | None = None,
               generator: torch.Generator | None = None, phase: torch.Tensor | None = None) -> torch.Tensor:
        """Waveforms (batch, samples) from log-magnitudes, by Griffin-Lim (initial ``phase`` in [0, 1)
        turns, (batch, n_fft//2+1, frames), or drawn from ``generator``)."""
        wave = griffin_lim(self.linear_magnitude(log_features), self.n_fft, self.hop, iters=iters, generator=generator,
                           phase=phase)
        if seconds is not None:
            wave = wave[:, : int(round(seconds * self.sample_rate))]
        return wave
