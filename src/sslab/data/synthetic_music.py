"""Made-up music in a few "genres" with clearly different timbre, rhythm and harmony.

It lets the generative-audio recipe run offline (GTZAN cannot be downloaded without a
login). Each genre is a small arranger: a tempo range, a drum pattern (or none), a bass
line and chords or a melody with its own instrument. Every clip draws its key, tempo,
progression and instrument details from a seeded generator, so clips of one genre differ
the way songs of one genre do, while the genres stay easy to tell apart:

- classical: no drums; slow sustained string-like chords (soft attack, vibrato, many
  harmonics) in a tonal progression, a piano-like melody (hammer decay) on top.
- rock: kick/snare backbeat with eighth-note hi-hats; distorted power chords.
- disco: four-on-the-floor kick, off-beat open hi-hats, an octave-bouncing bass.
- jazz: swung ride cymbal, a walking bass, soft seventh-chord comping.
- hiphop: slow boom-bap drums with a long sub-bass, sparse minor keys.
"""

from __future__ import annotations

import numpy as np
from scipy.signal import fftconvolve

GENRES = ("classical", "rock", "disco", "jazz", "hiphop")

_MAJOR = np.array([0, 2, 4, 5, 7, 9, 11])
_MINOR = np.array([0, 2, 3, 5, 7, 8, 10])
# Diatonic progressions as scale degrees (0 = I).
_PROGRESSIONS = ([0, 3, 4, 0], [0, 5, 3, 4], [0, 4, 5, 3], [1, 4, 0, 0], [0, 3, 1, 4])


def _hz(midi: np.ndarray | float) -> np.ndarray:
    return 440.0 * 2.0 ** ((np.asarray(midi, dtype=np.float64) - 69.0) / 12.0)


def _chord(root_midi: int, scale: np.ndarray, degree: int, size: int = 3) -> list[int]:
    """Stacked thirds on a scale degree (size 3: triad, 4: seventh chord)."""
    notes = []
    for k in range(size):
        step = degree + 2 * k
        notes.append(root_midi + int(scale[step % 7]) + 12 * (step // 7))
    return notes


class _Track:
    """A mono buffer that notes are added into."""

    def __init__(self, seconds: float, sr: int):
        self.sr = sr
        self.buf = np.zeros(int(round(seconds * sr)), dtype=np.float64)

    def add(self, start_s: float, sound: np.ndarray, gain: float = 1.0) -> None:
        i = int(round(start_s * self.sr))
        if i >= self.buf.size or i < 0:
            return
        n = min(sound.size, self.buf.size - i)
        self.buf[i:i + n] += gain * sound[:n]


def _t(duration: float, sr: int) -> np.ndarray:
    return np.arange(int(round(duration * sr))) / sr


def _harmonic_tone(freq: float, duration: float, sr: int, amps: np.ndarray, envelope: np.ndarray,
                   vibrato_hz: float = 0.0, vibrato_depth: float = 0.0) -> np.ndarray:
    """Sum of harmonics (amplitudes ``amps``) under ``envelope``; harmonics above Nyquist dropped."""
    t = _t(duration, sr)
    phase = 2 * np.pi * freq * t
    if vibrato_depth:
        phase = phase + (vibrato_depth * freq / vibrato_hz) * np.sin(2 * np.pi * vibrato_hz * t)
    k = np.arange(1, len(amps) + 1)
    keep = k * freq < 0.45 * sr
    wave = (amps[keep, None] * np.sin(k[keep, None] * phase[None])).sum(axis=0)
    return wave * envelope[: t.size]


def _adsr(duration: float, sr: int, attack: float, release: float) -> np.ndarray:
    n = int(round(duration * sr))
    env = np.ones(n)
    a, r = min(n, int(attack * sr)), min(n, int(release * sr))
    if a:
        env[:a] = np.linspace(0, 1, a)
    if r:
        env[n - r:] *= np.linspace(1, 0, r)
    return env


def _decay(duration: float, sr: int, tau: float, attack: float = 0.004) -> np.ndarray:
    t = _t(duration, sr)
    return np.exp(-t / tau) * np.minimum(1.0, t / attack)


# ---- drums ---------------------------------------------------------------------------
def _kick(sr: int, rng: np.random.Generator, depth: float = 1.0) -> np.ndarray:
    t = _t(0.35, sr)
    f = 45 + 110 * np.exp(-t / 0.04) * depth
    return np.sin(2 * np.pi * np.cumsum(f) / sr) * np.exp(-t / (0.12 + 0.05 * rng.random()))


def _snare(sr: int, rng: np.random.Generator) -> np.ndarray:
    t = _t(0.25, sr)
    noise = rng.standard_normal(t.size) * np.exp(-t / 0.06)
    body = 0.5 * np.sin(2 * np.pi * 190 * t) * np.exp(-t / 0.04)
    return 0.6 * noise + body


def _hat(sr: int, rng: np.random.Generator, open_: bool = False) -> np.ndarray:
    t = _t(0.3 if open_ else 0.06, sr)
    noise = np.diff(rng.standard_normal(t.size + 1))  # first difference: a crude high-pass
    return 0.35 * noise * np.exp(-t / (0.09 if open_ else 0.015))


def _ride(sr: int, rng: np.random.Generator) -> np.ndarray:
    # Inharmonic partials make the metallic ring of a cymbal.
    t = _t(0.6, sr)
    partials = np.array([3100.0, 4270.0, 5390.0, 6580.0]) * (0.97 + 0.06 * rng.random())
    partials = partials[partials < 0.45 * sr]
    ring = np.sin(2 * np.pi * partials[:, None] * t[None]).sum(axis=0) / max(1, partials.size)
    hiss = 0.3 * np.diff(rng.standard_normal(t.size + 1))
    return 0.25 * (ring + hiss) * np.exp(-t / 0.25)


# ---- instruments ---------------------------------------------------------------------
def _string(freq: float, duration: float, sr: int, rng: np.random.Generator) -> np.ndarray:
    amps = 1.0 / np.arange(1, 13) ** (1.1 + 0.3 * rng.random())
    env = _adsr(duration, sr, attack=0.15 + 0.15 * rng.random(), release=0.25)
    return _harmonic_tone(freq, duration, sr, amps, env, vibrato_hz=5.0 + rng.random(), vibrato_depth=0.004)


def _piano(freq: float, duration: float, sr: int, rng: np.random.Generator) -> np.ndarray:
    amps = 1.0 / np.arange(1, 9) ** 1.8
    return _harmonic_tone(freq, duration, sr, amps, _decay(duration, sr, tau=0.5 + 0.4 * rng.random()))


def _power_chord(freq: float, duration: float, sr: int, rng: np.random.Generator, drive: float) -> np.ndarray:
    t = _t(duration, sr)
    saw = np.zeros(t.size)
    for ratio in (1.0, 1.5, 2.0):  # root, fifth, octave
        saw += 2 * ((freq * ratio * t + rng.random()) % 1.0) - 1
    env = _adsr(duration, sr, attack=0.005, release=0.05)
    return np.tanh(drive * saw / 3) * env


def _bass(freq: float, duration: float, sr: int, square: float = 0.0) -> np.ndarray:
    amps = np.array([1.0, 0.5 * square + 0.2, 0.33 * square, 0.1, 0.25 * square])
    return _harmonic_tone(freq, duration, sr, amps, _adsr(duration, sr, 0.005, 0.03) * _decay(duration, sr, 0.6))


def _epiano(freq: float, duration: float, sr: int) -> np.ndarray:
    return _harmonic_tone(freq, duration, sr, np.array([1.0, 0.35, 0.05]), _decay(duration, sr, 0.7))


# ---- arrangers -----------------------------------------------------------------------
def _classical(tr: _Track, rng: np.random.Generator, seconds: float) -> None:
    sr = tr.sr
    beat = 60.0 / rng.uniform(56, 84)
    root = int(rng.integers(48, 58))
    scale = _MAJOR if rng.random() < 0.7 else _MINOR
    prog = _PROGRESSIONS[rng.integers(len(_PROGRESSIONS))]
    bar = 4 * beat
    n_bars = int(np.ceil(seconds / bar))
    for b in range(n_bars):
        degree = prog[b % len(prog)]
        for note in _chord(root, scale, degree):
            tr.add(b * bar, _string(float(_hz(note)), bar + 0.2, sr, rng), 0.22)
        tr.add(b * bar, _string(float(_hz(root - 12 + int(scale[degree]))), bar + 0.2, sr, rng), 0.2)
        # A melody of chord and passing tones in quarter or eighth notes.
        step = beat if rng.random() < 0.6 else beat / 2
        for k in range(int(round(bar / step))):
            pitch = root + 12 + int(scale[(degree + int(rng.integers(0, 5))) % 7])
            tr.add(b * bar + k * step, _piano(float(_hz(pitch)), 1.2, sr, rng), 0.3)


def _rock(tr: _Track, rng: np.random.Generator, seconds: float) -> None:
    sr = tr.sr
    beat = 60.0 / rng.uniform(100, 145)
    root = int(rng.integers(40, 48))
    prog = _PROGRESSIONS[rng.integers(len(_PROGRESSIONS))]
    drive = rng.uniform(4, 10)
    kick, snare = _kick(sr, rng), _snare(sr, rng)
    for i in range(int(seconds / (beat / 2)) + 1):
        t0 = i * beat / 2
        tr.add(t0, _hat(sr, rng), 0.5)
        if i % 4 == 0 or (i % 8 == 5 and rng.random() < 0.5):
            tr.add(t0, kick, 0.9)
        if i % 4 == 2:
            tr.add(t0, snare, 0.7)
    bar = 4 * beat
    for b in range(int(np.ceil(seconds / bar))):
        f = float(_hz(root + int(_MINOR[prog[b % len(prog)]])))
        for k in range(8):  # eighth-note chugging
            tr.add(b * bar + k * beat / 2, _power_chord(f, beat / 2, sr, rng, drive), 0.28)


def _disco(tr: _Track, rng: np.random.Generator, seconds: float) -> None:
    sr = tr.sr
    beat = 60.0 / rng.uniform(110, 130)
    root = int(rng.integers(36, 44))
    scale = _MINOR if rng.random() < 0.5 else _MAJOR
    prog = _PROGRESSIONS[rng.integers(len(_PROGRESSIONS))]
    kick, ohat = _kick(sr, rng, depth=0.8), _hat(sr, rng, open_=True)
    for i in range(int(seconds / beat) + 1):
        tr.add(i * beat, kick, 0.9)
        tr.add(i * beat + beat / 2, ohat, 0.6)
        if i % 2 == 1:
            tr.add(i * beat, _snare(sr, rng), 0.35)
    for i in range(int(seconds / (beat / 2)) + 1):
        degree = prog[(i // 8) % len(prog)]
        octave = 12 * (i % 2)  # the octave bounce
        tr.add(i * beat / 2, _bass(float(_hz(root + int(scale[degree]) + octave)), beat / 2, sr, square=1.0), 0.45)
    for b in range(int(seconds / (4 * beat)) + 1):  # string stabs on the off-beats
        degree = prog[b % len(prog)]
        for k in (1, 3):
            for note in _chord(root + 24, scale, degree):
                tr.add((4 * b + k + 0.5) * beat, _string(float(_hz(note)), beat / 2, sr, rng), 0.08)


def _jazz(tr: _Track, rng: np.random.Generator, seconds: float) -> None:
    sr = tr.sr
    beat = 60.0 / rng.uniform(120, 200)
    swing = rng.uniform(0.6, 0.7)  # the off-beat eighth sits late: swing
    root = int(rng.integers(38, 46))
    ride = _ride(sr, rng)
    for i in range(int(seconds / beat) + 1):
        tr.add(i * beat, ride, 0.5)
        if i % 2 == 1:
            tr.add(i * beat + swing * beat, ride, 0.35)
    # ii-V-I in major, each chord two beats or a bar.
    prog = [1, 4, 0, 0]
    bar = 4 * beat
    for i in range(int(seconds / beat) + 1):  # walking bass: a scale/chord tone every beat
        degree = prog[(i // 4) % 4]
        pitch = root + int(_MAJOR[(degree + int(rng.choice([0, 2, 4, 5]))) % 7])
        tr.add(i * beat, _bass(float(_hz(pitch)), beat * 0.95, sr), 0.5)
    for b in range(int(np.ceil(seconds / bar))):
        degree = prog[b % 4]
        hits = rng.choice(8, size=int(rng.integers(1, 4)), replace=False)
        for h in hits:
            t0 = b * bar + (h // 2) * beat + (swing * beat if h % 2 else 0.0)
            for note in _chord(root + 12, _MAJOR, degree, size=4):
                tr.add(t0, _epiano(float(_hz(note)), 1.0, sr), 0.12)


def _hiphop(tr: _Track, rng: np.random.Generator, seconds: float) -> None:
    sr = tr.sr
    beat = 60.0 / rng.uniform(80, 96)
    root = int(rng.integers(28, 36))
    kick, snare = _kick(sr, rng, depth=1.3), _snare(sr, rng)
    for i in range(int(seconds / (beat / 2)) + 1):
        t0 = i * beat / 2
        if i % 8 in (0, 3, 5) and rng.random() < 0.9:
            tr.add(t0, kick, 1.0)
            tr.add(t0, _harmonic_tone(float(_hz(root)), beat * 1.4, sr, np.array([1.0, 0.1]),
                                      _decay(beat * 1.4, sr, 0.5)), 0.6)  # 808-like sub bass
        if i % 4 == 2:
            tr.add(t0, snare, 0.8)
        if rng.random() < 0.7:
            tr.add(t0, _hat(sr, rng), 0.3)
    bar = 4 * beat
    for b in range(int(np.ceil(seconds / bar))):  # a sparse minor-key keyboard loop
        if rng.random() < 0.7:
            for note in _chord(root + 24, _MINOR, int(rng.choice([0, 3, 5]))):
                tr.add(b * bar, _epiano(float(_hz(note)), bar, sr), 0.1)


_ARRANGERS = {"classical": _classical, "rock": _rock, "disco": _disco, "jazz": _jazz, "hiphop": _hiphop}


def make_clip(genre: str, seconds: float, sample_rate: int, rng: np.random.Generator) -> np.ndarray:
    """One clip of ``genre`` as float32 in [-1, 1], with a faint noise floor like a recording."""
    if genre not in _ARRANGERS:
        raise ValueError(f"unknown synthetic genre {genre!r}; known: {', '.join(GENRES)}")
    tr = _Track(seconds, sample_rate)
    _ARRANGERS[genre](tr, rng, seconds)
    wave = tr.buf
    # A short reverb tail (exponentially decaying noise) so notes do not stop dead.
    tail = rng.standard_normal(int(0.25 * sample_rate)) * np.exp(-np.arange(int(0.25 * sample_rate)) / (0.05 * sample_rate))
    wave = wave + 0.03 * fftconvolve(wave, tail)[: wave.size]
    wave = wave / (np.abs(wave).max() + 1e-9) * rng.uniform(0.5, 0.9)
    wave = wave + 10 ** (-55 / 20) * rng.standard_normal(wave.size)
    return np.clip(wave, -1, 1).astype(np.float32)


def make_dataset(genres: tuple[str, ...] | list[str], clips_per_genre: int, seconds: float, sample_rate: int,
                 seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """``(waves (n, samples) float32, labels (n,) int64)``, clips ordered genre by genre.

    Each clip has its own generator derived from (seed, genre, index), so the set is the
    same whatever else is drawn, and adding clips keeps the earlier ones unchanged.
    """
    waves, labels = [], []
    for g, genre in enumerate(genres):
        for i in range(clips_per_genre):
            rng = np.random.default_rng([seed, GENRES.index(genre) if genre in GENRES else g, i])
            waves.append(make_clip(genre, seconds, sample_rate, rng))
            labels.append(g)
    return np.stack(waves), np.asarray(labels, dtype=np.int64)
