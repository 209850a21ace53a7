"""Spectrogram domains and Griffin-Lim phase reconstruction."""

from __future__ import annotations

import math

import pytest
import torch

from sslab.audio.spectral import (SpectralDomain, frames_for, griffin_lim, mel_filterbank, samples_for,
                                  spectral_convergence, stft)

SR = 16000


def chord(seconds: float = 1.0, batch: int = 2) -> torch.Tensor:
    t = torch.arange(int(seconds * SR)) / SR
    notes = torch.tensor([220.0, 277.2, 329.6])[:, None]
    wave = (torch.sin(2 * math.pi * notes * t) / 3).sum(dim=0) * torch.exp(-t)  # a decaying A major chord
    return torch.stack([wave * (0.5 + 0.2 * i) for i in range(batch)])


def test_frame_and_sample_counts_invert_each_other():
    for hop in (64, 128, 256):
        frames = frames_for(16000, hop)
        assert stft(torch.zeros(1, 16000), 512, hop).shape[-1] == frames
        assert frames_for(samples_for(frames, hop), hop) == frames


def test_mel_filterbank_covers_the_spectrum_in_order():
    fb = mel_filterbank(SR, 512, 40)
    assert fb.shape == (40, 257) and (fb >= 0).all()
    peaks = fb.argmax(dim=1)
    assert (peaks[1:] > peaks[:-1]).all()  # centres rise with the band index
    assert (fb[:, 2:-1].sum(dim=0) > 0).all()  # every bin between DC and Nyquist is in some band
    with pytest.raises(ValueError):
        mel_filterbank(SR, 512, 40, f_max=9000)


def test_griffin_lim_recovers_a_consistent_phase():
    wave = chord()
    mag = stft(wave, 512, 128).abs()
    gen = torch.Generator().manual_seed(0)
    rebuilt = griffin_lim(mag, 512, 128, iters=48, generator=gen)
    random_phase = griffin_lim(mag, 512, 128, iters=0, generator=torch.Generator().manual_seed(0))
    good = spectral_convergence(mag, rebuilt, 512, 128)
    bad = spectral_convergence(mag, random_phase, 512, 128)
    assert (good < 0.2).all() and (bad > 0.5).all(), (good, bad)


def test_griffin_lim_is_reproducible_under_a_generator():
    mag = stft(chord(0.5), 512, 128).abs()
    a = griffin_lim(mag, 512, 128, iters=4, generator=torch.Generator().manual_seed(5))
    b = griffin_lim(mag, 512, 128, iters=4, generator=torch.Generator().manual_seed(5))
    c = griffin_lim(mag, 512, 128, iters=4, generator=torch.Generator().manual_seed(6))
    assert torch.equal(a, b) and not torch.equal(a, c)


@pytest.mark.parametrize("kind, bins", [("stft", 257), ("mel", 64)])
def test_domain_round_trip_keeps_the_sound(kind, bins):
    domain = SpectralDomain(kind, SR, 512, 128, n_mels=64)
    wave = chord()
    feats = domain.encode(wave)
    assert feats.shape == (2, bins, domain.frames(1.0)) and domain.bins == bins
    back = domain.decode(feats, iters=48, seconds=1.0, generator=torch.Generator().manual_seed(0))
    assert back.shape == wave.shape
    # The rebuilt sound has the original's magnitudes (mel loses detail, so a looser bound)
    error = spectral_convergence(stft(wave, 512, 128).abs(), back, 512, 128)
    assert (error < (0.2 if kind == "stft" else 0.35)).all(), error
    # and its level: the louder input stays louder.
    assert back[1].pow(2).mean() > back[0].pow(2).mean()


def test_mel_inversion_is_non_negative_least_squares():
    domain = SpectralDomain("mel", SR, 512, 128, n_mels=64)
    mag = stft(chord(0.5), 512, 128).abs()
    mel = torch.einsum("mf,bft->bmt", domain.filterbank(), mag)
    linear = domain.linear_magnitude(torch.log(mel))
    assert (linear >= 0).all()
    # Mapping the estimate back through the filterbank reproduces the mel spectrum closely.
    again = torch.einsum("mf,bft->bmt", domain.filterbank(), linear)
    assert ((again - mel).norm() / mel.norm()) < 0.1


def test_domain_refuses_bad_settings():
    with pytest.raises(ValueError, match="unknown spectral domain"):
        SpectralDomain("cqt", SR, 512, 128)
    with pytest.raises(ValueError, match="hop"):
        SpectralDomain("stft", SR, 512, 300)


def test_griffin_lim_honours_length():
    mag = torch.rand(2, 65, 12)
    for length in (100, 300, 500):
        assert griffin_lim(mag, 128, 32, iters=1, length=length).shape == (2, length)
    assert griffin_lim(mag, 128, 32, iters=1).shape[-1] == samples_for(12, 32)
