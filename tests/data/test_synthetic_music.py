"""Made-up genres: reproducible, in range, and different where the genres should differ."""

from __future__ import annotations

import numpy as np
import pytest

from sslab.data.synthetic_music import GENRES, make_clip, make_dataset

SR = 16000


def onset_rate(wave: np.ndarray, hop: int = 256) -> float:
    """Share of frames whose energy jumps by more than 6 dB: hits of drums, not swelling strings."""
    frames = wave[: len(wave) // hop * hop].reshape(-1, hop)
    energy_db = 10 * np.log10(np.square(frames).mean(axis=1) + 1e-10)
    return float((np.diff(energy_db) > 6).mean())


def test_dataset_is_reproducible_and_ordered():
    waves, labels = make_dataset(("classical", "rock"), 2, 1.5, SR, seed=3)
    again, _ = make_dataset(("classical", "rock"), 2, 1.5, SR, seed=3)
    other, _ = make_dataset(("classical", "rock"), 2, 1.5, SR, seed=4)
    assert waves.shape == (4, int(1.5 * SR)) and waves.dtype == np.float32
    assert labels.tolist() == [0, 0, 1, 1]
    assert np.array_equal(waves, again) and not np.array_equal(waves, other)
    assert np.abs(waves).max() <= 1.0 and np.all(np.abs(waves).max(axis=1) > 0.4)


def test_clips_of_one_genre_differ():
    waves, _ = make_dataset(("jazz",), 2, 1.0, SR)
    assert not np.allclose(waves[0], waves[1])


def test_classical_is_sustained_and_drum_genres_are_percussive():
    rng = np.random.default_rng(0)
    rate = {g: np.mean([onset_rate(make_clip(g, 3.0, SR, rng)) for _ in range(3)]) for g in GENRES}
    assert rate["classical"] < 0.005, rate
    for drums in ("rock", "disco", "hiphop"):
        assert rate[drums] > 0.02, rate


def test_rock_has_more_high_frequency_energy_than_classical():
    rng = np.random.default_rng(1)

    def high_share(wave):
        power = np.abs(np.fft.rfft(wave)) ** 2
        freqs = np.fft.rfftfreq(len(wave), 1 / SR)
        return power[freqs > 3000].sum() / power.sum()

    rock = np.mean([high_share(make_clip("rock", 2.0, SR, rng)) for _ in range(3)])
    classical = np.mean([high_share(make_clip("classical", 2.0, SR, rng)) for _ in range(3)])
    assert rock > 10 * classical


def test_unknown_genre_is_refused():
    with pytest.raises(ValueError, match="unknown synthetic genre 'polka'"):
        make_clip("polka", 1.0, SR, np.random.default_rng(0))
