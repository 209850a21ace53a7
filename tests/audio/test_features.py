"""The judge-free second opinion: hand-made features, their Frechet ratio, the feature classifier,
and the degraded clips the judge is calibrated on (made-up tones and noise, smoke sizes)."""

from __future__ import annotations

import numpy as np

from sslab.audio import features

SR = 16000


def chords(n: int, seconds: float = 1.5, seed: int = 0, base: float = 220.0) -> np.ndarray:
    """Harmonic tones (a few partials) with note changes: music-like clips."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * SR)) / SR
    out = []
    for _ in range(n):
        f0 = base * 2 ** (rng.integers(0, 12, size=3) / 12)
        notes = np.repeat(f0, len(t) // 3 + 1)[: len(t)]
        phase = 2 * np.pi * np.cumsum(notes) / SR
        wave = sum(np.sin(k * phase) / k for k in range(1, 6))
        out.append(0.2 * wave * (0.6 + 0.4 * np.cos(2 * np.pi * 2 * t) ** 2))
    return np.stack(out)


def test_features_are_finite_named_and_level_independent():
    clips = chords(4)
    m = features.clip_features(clips, SR)
    assert m.features.shape == (4, len(features.FEATURE_NAMES)) and np.isfinite(m.features).all()
    louder = features.clip_features(3.0 * clips, SR)
    assert np.allclose(louder.features, m.features, atol=1e-6)


def test_noise_is_flat_and_not_harmonic_tones_are_the_opposite():
    tones = features.clip_features(chords(4), SR)
    noise = features.clip_features(np.random.default_rng(0).standard_normal((4, int(1.5 * SR))), SR)
    assert np.median(noise.flatness) > 50 * np.median(tones.flatness)
    assert noise.harmonicity.max() < 0.3 < 0.9 < tones.harmonicity.min()


def test_notes_that_last_longer_hold_longer_and_noise_holds_one_frame():
    def melody(note_s: float, n: int = 3) -> np.ndarray:  # a random note every note_s seconds
        rng = np.random.default_rng(7)
        t = int(4.0 * SR)
        per = int(note_s * SR)
        f0 = np.repeat(220.0 * 2 ** (rng.integers(0, 12, size=(n, t // per + 1)) / 12), per, axis=1)[:, :t]
        return 0.3 * np.sin(2 * np.pi * np.cumsum(f0, axis=1) / SR)

    short, long = features.clip_features(melody(0.1), SR).hold_s, features.clip_features(melody(0.5), SR).hold_s
    noise = features.clip_features(np.random.default_rng(0).standard_normal((3, 4 * SR)), SR).hold_s
    frame = (1024 // 2) / SR  # ~46 ms windows, hop half of one: 32 ms at 16 kHz
    assert noise.max() < frame < short.min() and short.max() < 0.1 < 0.2 < long.min()
    assert np.median(long) / np.median(short) > 3


def test_frechet_ratio_is_zero_for_identical_sets_and_grows_with_added_noise():
    real = features.clip_features(chords(24, seed=1), SR).features
    same = features.frechet_ratio(real[:12], real, real[:12])
    assert same["fd"] == same["floor"] and same["ratio"] == 1.0
    assert features.frechet_distance(real, real) < 1e-6
    rng = np.random.default_rng(2)
    clean = chords(12, seed=3)
    ratios = []
    for snr in (30.0, 10.0, 0.0):
        noisy = features.clip_features(features.add_noise(clean, snr, rng), SR).features
        ratios.append(features.frechet_ratio(noisy, real, features.clip_features(clean, SR).features)["ratio"])
    assert ratios[0] < ratios[1] < ratios[2] and ratios[2] > 3


def test_feature_classifier_tells_low_from_high_tones():
    x = features.clip_features(np.concatenate([chords(10, base=110.0), chords(10, base=880.0)]), SR).features
    y = np.repeat([0, 1], 10)
    clf = features.FeatureClassifier().fit(x, y, 2)
    test = features.clip_features(np.concatenate([chords(4, seed=9, base=110.0), chords(4, seed=9, base=880.0)]), SR)
    assert (clf.predict(test.features) == np.repeat([0, 1], 4)).all()


def test_degraded_sets_keep_length_and_are_noisier():
    clips = chords(6)
    labels = np.repeat([0, 1], 3)
    sets = features.degraded_sets(clips, labels, SR, seed=0)
    assert set(sets) == {"noise 10 dB", "noise 0 dB", "blurred spectrogram", "noise shaped like the genre"}
    base = features.clip_features(clips, SR)
    for name, (wave, imitated) in sets.items():
        assert wave.shape == clips.shape and np.isfinite(wave).all(), name
        assert sorted(imitated) == sorted(labels), name
        got = features.clip_features(wave, SR)
        assert np.median(got.flatness) > 2 * np.median(base.flatness), name
    # Noise and blur take the pitch away (noise shaped like these tones keeps some: their average
    # spectrum has peaks at the notes' partials).
    for name in sets:
        assert features.clip_features(sets[name][0], SR).harmonicity.max() < base.harmonicity.min(), name


def test_sets_apart_names_the_feature_that_makes_clips_look_like_another_genre():
    # Two genres told apart by features 0 and 3; "generated" clips of genre 0 are real ones with
    # feature 3 moved to genre 1's value: that feature, and not feature 0, pulls them away.
    rng = np.random.default_rng(0)
    x = rng.normal(size=(200, 6))
    y = np.repeat([0, 1], 100)
    x[y == 1, 0] += 3.0
    x[y == 1, 3] += 3.0
    clf = features.FeatureClassifier().fit(x, y, 2)
    real = x[y == 0][:50]
    generated = real.copy()
    generated[:, 3] += 3.0
    pull = features.sets_apart(clf, generated, real, 0)
    assert np.argmin(pull) == 3 and pull[3] < -0.5 and abs(pull[0]) < 1e-9
    assert np.allclose(features.sets_apart(clf, real, real, 0), 0)
    # with two genres the pulls (plus the bias) are the difference of the two logits
    z = np.hstack([(real - clf.mean) / clf.scale, np.ones((len(real), 1))]) @ clf.weights
    bias = clf.weights[-1, 0] - clf.weights[-1, 1]
    assert np.allclose(clf.pull_towards(real, 0).sum(axis=1) + bias, z[:, 0] - z[:, 1])


def test_every_feature_has_a_readers_name():
    names = [features.describe_feature(n) for n in features.FEATURE_NAMES]
    assert len(set(names)) == len(names) and not any("_" in n for n in names)
    assert features.describe_feature("chroma3") == "share of pitch class C"
    assert features.describe_feature("mfcc3_std") == "MFCC 3 variation over time"
    assert features.describe_feature("contrast1") == "spectral contrast 200-400 Hz"
