"""Judging generated audio: a genre classifier, a Frechet distance on its embeddings, noise.

No pretrained audio model can be downloaded here, so the judge is trained by the recipe
itself on real clips (train split) and checked on held-out clips; its verdict on
generated audio only means something as far as its held-out accuracy goes.

- :class:`GenreJudge`: log-mel front end and a small 1-D CNN over time; its 64-d
  embedding (before the classification layer) is what the Frechet distance compares.
- :func:`frechet_distance`: the FID/FAD formula between two sets of embeddings.
- :func:`spectral_flatness`, :func:`high_frequency_ratio`: how noise-like a sound is.
- :func:`judge_generated`: all of these, per requested genre, for generated clips against a
  :class:`Reference` (the judge's view of real held-out clips).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from sslab.audio.spectral import LOG_FLOOR, mel_filterbank, stft


class GenreJudge(nn.Module):
    """Waveform (batch, samples) -> genre logits; :meth:`embed` gives the 64-d embedding."""

    def __init__(self, sample_rate: int, n_genres: int, n_mels: int = 64, hidden: int = 96, embed_dim: int = 64):
        super().__init__()
        self.sample_rate = sample_rate
        # Windows of about 46 ms rounded to a power of two (1024 samples at 16 to 22.05 kHz).
        self.n_fft = 2 ** int(round(np.log2(0.046 * sample_rate)))
        self.hop = self.n_fft // 2
        self.register_buffer("fb", mel_filterbank(sample_rate, self.n_fft, n_mels, f_min=30.0))
        self.inp_norm = nn.BatchNorm1d(n_mels)
        self.convs = nn.Sequential(
            nn.Conv1d(n_mels, hidden, 5, padding=2), nn.BatchNorm1d(hidden), nn.ReLU(), nn.MaxPool1d(2),
            nn.Conv1d(hidden, hidden, 5, padding=2), nn.BatchNorm1d(hidden), nn.ReLU(), nn.MaxPool1d(2),
            nn.Conv1d(hidden, 2 * hidden, 3, padding=1), nn.BatchNorm1d(2 * hidden), nn.ReLU(),
        )
        self.embedding = nn.Linear(4 * hidden, embed_dim)
        self.head = nn.Sequential(nn.ReLU(), nn.Dropout(0.3), nn.Linear(embed_dim, n_genres))

    def log_mel(self, wave: torch.Tensor) -> torch.Tensor:
        mel = torch.einsum("mf,bft->bmt", self.fb, stft(wave, self.n_fft, self.hop).abs())
        log_mel = torch.log(mel.clamp_min(LOG_FLOOR))
        # Remove the clip's overall level: loudness is a mixing choice, not a genre.
        return log_mel - log_mel.mean(dim=(1, 2), keepdim=True)

    def embed(self, wave: torch.Tensor) -> torch.Tensor:
        h = self.convs(self.inp_norm(self.log_mel(wave)))
        # Mean and standard deviation over time: what is there and how much it moves.
        return self.embedding(torch.cat([h.mean(dim=-1), h.std(dim=-1)], dim=1))

    def forward(self, wave: torch.Tensor) -> torch.Tensor:
        return self.head(self.embed(wave))

    @torch.no_grad()
    def judge(self, wave: torch.Tensor, batch: int = 64) -> tuple[torch.Tensor, torch.Tensor]:
        """(logits, embeddings) for many waveforms, in batches, in eval mode."""
        self.eval()
        device = self.fb.device
        logits, embeds = [], []
        for chunk in wave.split(batch):
            e = self.embed(chunk.to(device))
            embeds.append(e.cpu())
            logits.append(self.head(e).cpu())
        return torch.cat(logits), torch.cat(embeds)


def _sqrtm_psd(m: np.ndarray) -> np.ndarray:
    vals, vecs = np.linalg.eigh((m + m.T) / 2)
    return (vecs * np.sqrt(np.clip(vals, 0, None))) @ vecs.T


def frechet_distance(a: np.ndarray | torch.Tensor, b: np.ndarray | torch.Tensor) -> float:
    """||mu_a - mu_b||^2 + tr(S_a + S_b - 2 (S_a S_b)^(1/2)) between two sets of row vectors.

    The cross term uses tr((S_a S_b)^(1/2)) = tr((A S_b A)^(1/2)) with A = S_a^(1/2):
    both matrices are symmetric positive semi-definite, so eigendecompositions suffice
    and no complex parts appear (which scipy.linalg.sqrtm can give for rank-deficient
    covariances, the usual case with fewer clips than dimensions).
    """
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    if a.ndim != 2 or b.ndim != 2 or a.shape[1] != b.shape[1]:
        raise ValueError(f"need two sets of equal-length vectors, got shapes {a.shape} and {b.shape}")
    if len(a) < 2 or len(b) < 2:
        raise ValueError("the Frechet distance needs at least two vectors in each set")
    mu_a, mu_b = a.mean(axis=0), b.mean(axis=0)
    cov_a, cov_b = np.cov(a, rowvar=False), np.cov(b, rowvar=False)
    root_a = _sqrtm_psd(cov_a)
    cross = np.sqrt(np.clip(np.linalg.eigvalsh(root_a @ cov_b @ root_a), 0, None)).sum()
    value = float(((mu_a - mu_b) ** 2).sum() + np.trace(cov_a) + np.trace(cov_b) - 2 * cross)
    return max(value, 0.0)


def _power_spectrogram(wave: torch.Tensor, n_fft: int) -> torch.Tensor:
    return stft(wave, n_fft, n_fft // 4).abs().pow(2)  # (batch, bins, frames)


def _active_frames(power: torch.Tensor) -> torch.Tensor:
    """Frames within 40 dB of the loudest frame of their clip (silence has no timbre to judge)."""
    energy = power.sum(dim=1)
    return energy > energy.amax(dim=1, keepdim=True) * 1e-4


def spectral_flatness(wave: torch.Tensor, n_fft: int = 512) -> torch.Tensor:
    """Per clip: mean over active frames of geometric / arithmetic mean of the power spectrum.

    Near 1 for white noise, near 0 for a few clean partials; music sits in between and
    the hiss of a poor generator pushes it up.
    """
    power = _power_spectrogram(wave, n_fft) + 1e-12
    flat = torch.exp(torch.log(power).mean(dim=1)) / power.mean(dim=1)
    active = _active_frames(power)
    return (flat * active).sum(dim=1) / active.sum(dim=1).clamp_min(1)


def high_frequency_ratio(wave: torch.Tensor, sample_rate: int, cutoff_hz: float = 4000.0,
                         n_fft: int = 512) -> torch.Tensor:
    """Per clip: share of the energy above ``cutoff_hz`` (broadband noise fills the top bands)."""
    if not 0 < cutoff_hz < sample_rate / 2:
        raise ValueError(f"cutoff {cutoff_hz} Hz must lie between 0 and the Nyquist frequency {sample_rate / 2} Hz")
    power = _power_spectrogram(wave, n_fft)
    freqs = torch.linspace(0, sample_rate / 2, power.shape[1], device=wave.device)
    high = power[:, freqs >= cutoff_hz].sum(dim=(1, 2))
    return high / power.sum(dim=(1, 2)).clamp_min(1e-12)


def noise_measures(wave: torch.Tensor, sample_rate: int) -> tuple[torch.Tensor, torch.Tensor]:
    """(spectral flatness, share of energy above 4 kHz) per clip, on the CPU."""
    cutoff = min(4000.0, 0.4 * sample_rate)  # 4 kHz, or below Nyquist for low sample rates
    return spectral_flatness(wave).cpu(), high_frequency_ratio(wave, sample_rate, cutoff).cpu()


@dataclass
class Reference:
    """The judge's view of real held-out clips, what generated clips are compared with."""

    embeddings: torch.Tensor
    labels: torch.Tensor
    flatness: torch.Tensor
    hf_ratio: torch.Tensor


def judge_generated(judge: GenreJudge, wave: torch.Tensor, genres_of: torch.Tensor, ref: Reference,
                    names: tuple[str, ...], sample_rate: int) -> dict:
    """Genre accuracy, Frechet distance to real held-out clips and noise measures, per genre."""
    logits, emb = judge.judge(wave)
    hit = (logits.argmax(dim=1) == genres_of).float()
    flat, hf = noise_measures(wave.to(judge.fb.device), sample_rate)
    out: dict = {"acc": {}, "fd": {}, "flatness": {}, "hf_ratio": {}}
    for g, name in enumerate(names):
        mine = genres_of == g
        out["acc"][name] = float(hit[mine].mean())
        out["fd"][name] = frechet_distance(emb[mine], ref.embeddings[ref.labels == g])
        out["flatness"][name] = float(flat[mine].mean())
        out["hf_ratio"][name] = float(hf[mine].mean())
    out["mean_acc"] = float(np.mean(list(out["acc"].values())))
    out["mean_fd"] = float(np.mean(list(out["fd"].values())))
    return out


def judge_train_step(judge: GenreJudge, opt: torch.optim.Optimizer, wave: torch.Tensor,
                     labels: torch.Tensor) -> torch.Tensor:
    """One cross-entropy step; returns the detached loss."""
    judge.train()
    loss = F.cross_entropy(judge(wave), labels, label_smoothing=0.1)
    opt.zero_grad(set_to_none=True)
    loss.backward()
    opt.step()
    return loss.detach()
