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
