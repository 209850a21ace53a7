"""Reading and writing audio files, with the checks every caller needs.

``read_audio`` turns every way a file can be bad (missing, empty, truncated, not audio,
NaN samples) into a one-line UserError that names the file.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import soundfile as sf

from sslab.errors import UserError
from sslab.train.atomic import atomic_path

AUDIO_SUFFIXES = (".wav", ".flac", ".au", ".ogg", ".aiff", ".aif", ".mp3")


SILENT_PEAK = 1e-4  # below 16-bit quantisation (about -80 dB of full scale)


def is_silent(samples: np.ndarray) -> bool:
    """True for a signal whose peak is below 16-bit quantisation: no level to measure an SNR against."""
    return samples.size == 0 or float(np.abs(samples).max()) < SILENT_PEAK


def read_audio(path: str | os.PathLike, *, mono: bool = True) -> tuple[np.ndarray, int, int]:
    """Return ``(samples float32, sample_rate, channels_in_file)``.

    With ``mono`` the channels are averaged (the caller may say so to the user when
    ``channels_in_file > 1``); otherwise the array is shaped (frames, channels).
    """
    path = Path(path)
    if not path.is_file():
        raise UserError(f"{path}: no such audio file")
    if path.stat().st_size == 0:
        raise UserError(f"{path}: the file is empty; re-export or remove it")
    try:
        data, sr = sf.read(str(path), dtype="float32", always_2d=True)
    except (sf.LibsndfileError, RuntimeError, ValueError, TypeError) as exc:
        raise UserError(f"{path}: not readable as audio ({str(exc).strip().splitlines()[-1]}); "
                        "check that it is a complete WAV/FLAC/AU file") from None
    if data.shape[0] == 0:
        raise UserError(f"{path}: the file holds no samples; re-export or remove it")
    if not np.isfinite(data).all():
        raise UserError(f"{path}: contains NaN or infinite samples; re-export it")
    channels = data.shape[1]
    if mono:
        return data.mean(axis=1).astype(np.float32), int(sr), channels
    return data, int(sr), channels


def write_wav(path: str | os.PathLike, samples: np.ndarray, sample_rate: int) -> Path:
    """Write 16-bit PCM WAV atomically (clipping to [-1, 1])."""
    path = Path(path)
    clipped = np.clip(np.asarray(samples, dtype=np.float32), -1.0, 1.0)
    with atomic_path(path) as tmp:
        sf.write(str(tmp), clipped, sample_rate, subtype="PCM_16", format="WAV")
    return path


def resample(samples: np.ndarray, rate_in: int, rate_out: int) -> np.ndarray:
    """Polyphase resampling by the exact rational ratio rate_out/rate_in (scipy ``resample_poly``).

    The anti-aliasing filter is scipy's default: a Kaiser-windowed FIR (beta 5.0, 10 taps per
    phase on each side), whose stopband attenuation is about 60 dB; it is not a perfect
    band-limited resampler (use librosa/soxr for that), but far below the noise the models see."""
    if rate_in == rate_out:
        return samples.astype(np.float32, copy=False)
    from math import gcd

    from scipy.signal import resample_poly

    g = gcd(rate_in, rate_out)
    return resample_poly(samples, rate_out // g, rate_in // g, axis=0).astype(np.float32)
