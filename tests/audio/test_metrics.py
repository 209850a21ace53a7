import math

import numpy as np
import torch

from sslab.audio.metrics import si_sdr_db, snr_db


def test_snr_on_known_signals():
    s = torch.tensor([1.0, -1.0, 1.0, -1.0])
    # error 0.1 on every sample: 10 log10(4 / 0.04) = 20 dB
    assert math.isclose(float(snr_db(s, s + 0.1)), 20.0, abs_tol=1e-5)
    # estimate zero: the error is the signal itself, 0 dB
    assert math.isclose(float(snr_db(s, torch.zeros(4))), 0.0, abs_tol=1e-9)
    # half the amplitude: error energy a quarter, 10 log10(4) dB
    assert math.isclose(float(snr_db(s, 0.5 * s)), 10 * math.log10(4), abs_tol=1e-9)
    # numpy input gives the same number
    assert math.isclose(float(snr_db(np.array([3.0, 4.0]), np.array([3.0, 3.0]))), 10 * math.log10(25), abs_tol=1e-9)


def test_si_sdr_ignores_gain_but_snr_does_not():
    gen = torch.Generator().manual_seed(0)
    s = torch.randn(8000, generator=gen)
    noise = torch.randn(8000, generator=gen) * 0.1
    a = float(si_sdr_db(s, s + noise))
    b = float(si_sdr_db(s, 3.0 * (s + noise)))
    assert math.isclose(a, b, abs_tol=1e-6)
    assert float(snr_db(s, 3.0 * (s + noise))) < 0 < a
    # s_hat = s + e with e orthogonal to s: SI-SDR = 10 log10(|s|^2 / |e|^2)
    s2 = torch.tensor([1.0, -1.0, 1.0, -1.0])
    e = torch.tensor([0.5, 0.5, -0.5, -0.5])
    assert math.isclose(float(si_sdr_db(s2, s2 + e)), 10 * math.log10(4 / 1), abs_tol=1e-9)


def test_lengths_ignore_padding_in_a_batch():
    gen = torch.Generator().manual_seed(1)
    s = torch.randn(2, 100, generator=gen)
    est = s + 0.2 * torch.randn(2, 100, generator=gen)
    lengths = torch.tensor([60, 100])
    padded_est = est.clone()
    padded_est[0, 60:] = 99.0
    for fn in (snr_db, si_sdr_db):
        batch = fn(s, padded_est, lengths)
        assert torch.allclose(batch[0], fn(s[0, :60], est[0, :60]))
        assert torch.allclose(batch[1], fn(s[1], est[1]))


# ---- PESQ and STOI -------------------------------------------------------------------------
def _speech(seconds: float = 2.0, seed: int = 0) -> np.ndarray:
    from sslab.data import synthetic_speech as synth

    rng = np.random.default_rng(seed)
    return synth.speech_like(rng, synth.random_speaker(rng), seconds, 16000)


def _with_noise(s: np.ndarray, snr: float, seed: int = 1) -> np.ndarray:
    noise = np.random.default_rng(seed).standard_normal(len(s)).astype(np.float32)
    noise *= np.sqrt(np.mean(s ** 2) / np.mean(noise ** 2) / 10 ** (snr / 10))
    return (s + noise).astype(np.float32)


def test_pesq_and_stoi_are_at_their_maxima_for_a_clean_file_and_fall_with_noise():
    from sslab.audio.metrics import perceptual

    s = _speech()
    clean = perceptual(s, s, 16000)
    assert clean["notes"] == []
    assert clean["pesq"] > 4.6  # wide-band PESQ tops out at 4.64
    assert clean["stoi"] > 0.999
    scores = [perceptual(s, _with_noise(s, snr), 16000) for snr in (20, 10, 0, -5)]
    pesq = [clean["pesq"]] + [q["pesq"] for q in scores]
    stoi = [clean["stoi"]] + [q["stoi"] for q in scores]
    assert all(a > b for a, b in zip(pesq, pesq[1:])), pesq
    assert all(a > b for a, b in zip(stoi, stoi[1:])), stoi


def test_perceptual_equals_the_reference_implementations():
    from pesq import pesq
    from pystoi import stoi

    from sslab.audio.metrics import perceptual

    s = _speech(seed=3)
    x = _with_noise(s, 5.0)
    ours = perceptual(s, x, 16000)
    assert ours["pesq"] == pesq(16000, s, x, "wb")
    assert ours["stoi"] == stoi(s.astype(np.float64), x.astype(np.float64), 16000)


def test_a_file_too_short_for_pesq_and_stoi_is_reported_not_raised():
    from sslab.audio.metrics import perceptual

    s = _speech(0.2)
    out = perceptual(s, _with_noise(s, 0.0), 16000)
    assert out["pesq"] is None and out["stoi"] is None
    assert any("too short for PESQ" in n for n in out["notes"])
    assert any("STOI" in n for n in out["notes"])


def test_pesq_at_another_rate_is_computed_on_16_khz_copies_and_says_so():
    from pesq import pesq

    from sslab.audio.io import resample
    from sslab.audio.metrics import perceptual

    s16 = _speech(seed=4)
    s = resample(s16, 16000, 22050)
    x = _with_noise(s, 5.0)
    out = perceptual(s, x, 22050, metrics=("pesq",))
    assert out["notes"] == ["resampled 22050 -> 16000 Hz for PESQ (wide-band PESQ is defined at 16000 Hz)"]
    assert out["pesq"] == pesq(16000, resample(s, 22050, 16000), resample(x, 22050, 16000), "wb")


def test_perceptual_many_in_a_pool_matches_one_by_one():
    from sslab.audio.metrics import perceptual, perceptual_many

    s = _speech(1.0, seed=5)
    pairs = [(s, _with_noise(s, snr, seed=k)) for k, snr in enumerate((0, 5, 10))]
    pooled = perceptual_many(pairs, 16000, workers=2)
    assert pooled == [perceptual(r, e, 16000) for r, e in pairs]
