"""Signal-to-noise ratio and scale-invariant SDR, as pure functions of waveforms, and the
perceptual scores of speech enhancement: wide-band PESQ and STOI.

``snr_db`` and ``si_sdr_db`` take tensors ``(..., samples)`` (or NumPy arrays) and return
dB per signal. With ``lengths``, samples at or past each signal's length are ignored, so
padded batches score exactly like their unpadded signals.

``pesq_wb`` (ITU-T P.862.2, MOS-LQO from 1.04 to 4.64) and ``stoi`` (Taal et al., 2011,
0 to 1) call the reference implementations of the ``pesq`` and ``pystoi`` packages on one
pair of 1-D signals. ``perceptual`` scores one pair with either, turning what the
implementations cannot score (a file shorter than PESQ's quarter second, too little speech
for STOI's 30 frames, a silent reference) into ``None`` and a note, and resampling to
16 kHz for PESQ (it is defined at 8 and 16 kHz only; wide band at 16 kHz) with a note.
``perceptual_many`` scores many pairs in a process pool.
"""

from __future__ import annotations

import os
import warnings
from concurrent.futures import ProcessPoolExecutor
from typing import Sequence

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


# ---- perceptual scores: PESQ and STOI --------------------------------------------------------
PESQ_RATE = 16000          # wide-band PESQ (P.862.2) is defined at 16 kHz
PESQ_MIN_SECONDS = 0.25    # the implementation refuses shorter buffers
PERCEPTUAL = ("pesq", "stoi")


class NotScorable(ValueError):
    """A pair a metric cannot score (too short, no speech); the message says why."""


def pesq_wb(reference, estimate, rate: int = PESQ_RATE) -> float:
    """Wide-band PESQ of ``estimate`` against ``reference`` (1-D, same length, 16 kHz)."""
    from pesq import BufferTooShortError, NoUtterancesError, pesq

    if rate != PESQ_RATE:
        raise ValueError(f"wide-band PESQ needs {PESQ_RATE} Hz, not {rate} Hz; resample first (see perceptual)")
    ref, est = np.asarray(reference, dtype=np.float32), np.asarray(estimate, dtype=np.float32)
    if len(ref) < PESQ_MIN_SECONDS * rate:
        raise NotScorable(f"{len(ref) / rate:.3f} s is too short for PESQ (it needs at least {PESQ_MIN_SECONDS} s)")
    try:
        return float(pesq(rate, ref, est, "wb"))
    except BufferTooShortError:
        raise NotScorable(f"{len(ref) / rate:.3f} s is too short for PESQ") from None
    except NoUtterancesError:
        raise NotScorable("PESQ found no speech in the reference or the estimate (silent?)") from None


def stoi(reference, estimate, rate: int) -> float:
    """Short-time objective intelligibility (pystoi resamples to 10 kHz itself)."""
    from pystoi import stoi as reference_stoi

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        value = float(reference_stoi(np.asarray(reference, dtype=np.float64), np.asarray(estimate, dtype=np.float64),
                                     rate, extended=False))
    if any("Not enough STFT frames" in str(w.message) for w in caught):
        raise NotScorable("too little speech for STOI (it needs 30 frames, about 0.4 s, after dropping silent ones)")
    return value


def perceptual(reference, estimate, rate: int, metrics: Sequence[str] = PERCEPTUAL) -> dict:
    """``{"pesq": float | None, "stoi": float | None, "notes": [str]}`` for one pair of 1-D signals.

    A metric that cannot score the pair gives ``None`` and a note saying why; PESQ of a
    pair at another rate than 16 kHz is computed on both signals resampled to 16 kHz, and
    the note says so.
    """
    from sslab.audio.io import resample

    ref, est = np.asarray(reference, dtype=np.float32), np.asarray(estimate, dtype=np.float32)
    if ref.shape != est.shape or ref.ndim != 1:
        raise ValueError(f"perceptual scores need two 1-D signals of one length, got {ref.shape} and {est.shape}")
    out: dict = {"notes": []}
    for metric in metrics:
        try:
            if metric == "pesq":
                if rate != PESQ_RATE:
                    out["notes"].append(f"resampled {rate} -> {PESQ_RATE} Hz for PESQ (wide-band PESQ is defined "
                                        f"at {PESQ_RATE} Hz)")
                    out["pesq"] = pesq_wb(resample(ref, rate, PESQ_RATE), resample(est, rate, PESQ_RATE))
                else:
                    out["pesq"] = pesq_wb(ref, est)
            elif metric == "stoi":
                out["stoi"] = stoi(ref, est, rate)
            else:
                raise ValueError(f"unknown perceptual metric {metric!r}; choose from {', '.join(PERCEPTUAL)}")
        except NotScorable as exc:
            out[metric] = None
            out["notes"].append(f"no {metric.upper()}: {exc}")
    return out


def _perceptual_job(job: tuple) -> dict:
    return perceptual(*job)


def default_workers() -> int:
    """Processes for :func:`perceptual_many`: the CPUs this process may run on."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)


def perceptual_many(pairs: Sequence[tuple], rate: int, metrics: Sequence[str] = PERCEPTUAL,
                    workers: int | None = None) -> list[dict]:
    """:func:`perceptual` of every ``(reference, estimate)`` pair, in order, in a process pool.

    PESQ and STOI are single-threaded C and NumPy code taking about 0.1-0.3 s per 3 s file,
    so many files are spread over ``workers`` processes (default: every CPU this process
    may use); with one worker, or a single pair, no pool is started.
    """
    jobs = [(np.asarray(r, dtype=np.float32), np.asarray(e, dtype=np.float32), rate, tuple(metrics)) for r, e in pairs]
    workers = min(workers or default_workers(), len(jobs))
    if workers <= 1:
        return [_perceptual_job(job) for job in jobs]
    with ProcessPoolExecutor(max_workers=workers) as pool:
        return list(pool.map(_perceptual_job, jobs, chunksize=max(1, len(jobs) // (4 * workers))))
