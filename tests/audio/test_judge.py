"""The judge: a genre classifier that learns, the Frechet distance, and the noise measures."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from sslab.audio.judge import (GenreJudge, Reference, frechet_distance, high_frequency_ratio, judge_generated,
                               judge_train_step, noise_measures, spectral_flatness)

SR = 8000


@pytest.fixture(autouse=True)
def one_thread():
    """One intra-op thread: on a busy 2-core machine, threads waiting for each other made these tests 10x slower."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def test_frechet_distance_of_identical_sets_is_zero_and_of_shifted_sets_the_squared_shift():
    rng = np.random.default_rng(0)
    a = rng.standard_normal((200, 6))
    assert frechet_distance(a, a) == pytest.approx(0.0, abs=1e-6)
    # Same covariance, mean moved by (1, 2, 0, ...): the distance is exactly |shift|^2 = 5.
    assert frechet_distance(a, a + np.array([1.0, 2.0, 0, 0, 0, 0])) == pytest.approx(5.0, abs=1e-6)


def test_frechet_distance_matches_the_closed_form_for_known_gaussians():
    rng = np.random.default_rng(1)
    a = rng.standard_normal((20000, 3))                # N(0, I)
    b = rng.standard_normal((20000, 3)) * 2.0 + 1.0    # N(1, 4 I)
    # |mu|^2 + tr(I + 4I - 2 * 2I) = 3 + 3 = 6 for these populations.
    assert frechet_distance(a, b) == pytest.approx(6.0, rel=0.05)
    assert frechet_distance(a, b) == pytest.approx(frechet_distance(b, a), rel=1e-6)


def test_frechet_distance_with_fewer_vectors_than_dimensions():
    rng = np.random.default_rng(2)
    a, b = rng.standard_normal((5, 64)), rng.standard_normal((5, 64)) + 3
    d = frechet_distance(a, b)
    assert math.isfinite(d) and d > frechet_distance(a, rng.standard_normal((5, 64)))
    with pytest.raises(ValueError):
        frechet_distance(a[:1], b)
    with pytest.raises(ValueError):
        frechet_distance(a, b[:, :3])


def tones(freqs, seconds=0.5, sr=SR):
    t = torch.arange(int(seconds * sr)) / sr
    return torch.stack([0.5 * torch.sin(2 * math.pi * f * t) for f in freqs])


def test_noise_measures_tell_noise_from_tones():
    gen = torch.Generator().manual_seed(0)
    noise = 0.3 * torch.randn(2, SR // 2, generator=gen)
    tone = tones([440.0, 330.0])
    assert (spectral_flatness(noise) > 0.5).all() and (spectral_flatness(tone) < 0.05).all()
    hf_noise, hf_tone = high_frequency_ratio(noise, SR, 2000), high_frequency_ratio(tone, SR, 2000)
    assert torch.allclose(hf_noise, torch.tensor(0.5), atol=0.05) and (hf_tone < 0.01).all()
    assert (high_frequency_ratio(tones([3000.0]), SR, 2000) > 0.95).all()
    with pytest.raises(ValueError, match="Nyquist"):
        high_frequency_ratio(noise, SR, 5000)


def test_flatness_ignores_silent_frames():
    tone = tones([440.0], seconds=1.0)
    padded = torch.cat([tone, torch.zeros(1, SR)], dim=1)  # a second of digital silence after the tone
    assert spectral_flatness(padded) == pytest.approx(float(spectral_flatness(tone)), abs=0.02)


def test_judge_learns_genres_and_embeds_them_apart():
    """Two 'genres': low tones vs noise bursts. The judge must learn them and separate their embeddings."""
    torch.manual_seed(0)
    gen = torch.Generator().manual_seed(0)

    def batch(n):
        labels = torch.arange(n) % 2
        freqs = 150 + 300 * torch.rand(n, generator=gen)
        wave = tones(freqs.tolist())
        noise = 0.3 * torch.randn(n, wave.shape[1], generator=gen) * (torch.rand(n, 1, generator=gen) + 0.2)
        return torch.where(labels[:, None] == 0, wave, noise), labels

    judge = GenreJudge(SR, n_genres=2, n_mels=32, hidden=16, embed_dim=8)
    assert judge.n_fft == 512 and judge.hop == 256
    opt = torch.optim.Adam(judge.parameters(), lr=3e-3)
    for _ in range(25):
        judge_train_step(judge, opt, *batch(16))
    test, labels = batch(40)
    logits, emb = judge.judge(test, batch=16)
    assert logits.shape == (40, 2) and emb.shape == (40, 8)
    assert (logits.argmax(dim=1) == labels).float().mean() > 0.9
    between = frechet_distance(emb[labels == 0], emb[labels == 1])
    within = frechet_distance(emb[labels == 0][::2], emb[labels == 0][1::2])
    assert between > 5 * within


def test_judge_is_level_invariant():
    judge = GenreJudge(SR, n_genres=3, n_mels=32, hidden=16).eval()
    wave = tones([220.0, 700.0]) + 0.01 * torch.randn(2, SR // 2, generator=torch.Generator().manual_seed(0))
    a, _ = judge.judge(wave)
    b, _ = judge.judge(wave * 0.1)
    assert torch.allclose(a, b, atol=1e-3)


def test_judge_generated_scores_each_requested_genre_against_the_reference():
    judge = GenreJudge(SR, n_genres=2, n_mels=32, hidden=16).eval()
    noise = 0.3 * torch.randn(3, SR // 2, generator=torch.Generator().manual_seed(0))
    wave = torch.cat([tones([220.0, 230.0, 240.0]), noise])
    genres_of = torch.tensor([0, 0, 0, 1, 1, 1])
    logits, emb = judge.judge(wave)
    flat, hf = noise_measures(wave, SR)  # at 8 kHz the cutoff drops from 4 kHz to 3.2 kHz, below Nyquist
    scores = judge_generated(judge, wave, genres_of, Reference(emb, genres_of, flat, hf), ("tone", "noise"), SR)
    hit = (logits.argmax(dim=1) == genres_of).float()
    assert scores["acc"] == {"tone": pytest.approx(float(hit[:3].mean())), "noise": pytest.approx(float(hit[3:].mean()))}
    assert scores["fd"]["tone"] == pytest.approx(0.0, abs=1e-4)  # the very clips of the reference
    assert scores["flatness"]["noise"] > 0.5 > scores["flatness"]["tone"]
    assert scores["hf_ratio"]["noise"] == pytest.approx(0.2, abs=0.05) and scores["hf_ratio"]["tone"] < 0.01
    assert scores["mean_acc"] == pytest.approx(np.mean(list(scores["acc"].values())))
