"""Made-up speech and noise for the denoising recipe, so it runs offline without a corpus.

``speech_like``: a source-filter imitation of speech. Each syllable is an optional
fricative onset (band-passed noise) and a vowel: a glottal pulse train at the
speaker's pitch (with jitter and falling intonation) through three formant resonators
from a vowel table, under a smooth syllable envelope, with pauses between words. Each
made-up speaker has a pitch, a vocal-tract scale and a speaking rate. It has the
structure a mask estimator exploits (harmonics, formants, onsets, silences), not words.

``espeak``: real synthesised English from Debian's ``espeak-ng`` when it is installed
(speakers are voice variants with their own pitch and speed).

``made_up_noises``: ten noise types (the seed mixes with ten): white, pink, brown,
babble, mains hum, engine, keyboard clicks, siren, rain, fan.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from scipy.signal import butter, lfilter, sosfilt

from sslab.errors import UserError

# (F1, F2, F3) in Hz of an adult male voice (Peterson and Barney, 1952)
VOWELS = np.array([[730, 1090, 2440], [270, 2290, 3010], [300, 870, 2240], [530, 1840, 2480],
                   [570, 840, 2410], [660, 1720, 2410], [490, 1350, 1690], [440, 1020, 2240]], dtype=float)

NOISE_TYPES = ("white", "pink", "brown", "babble", "hum", "engine", "clicks", "siren", "rain", "fan")


@dataclass(frozen=True)
class Speaker:
    pitch_hz: float      # mean fundamental frequency
    tract_scale: float   # formant scale (shorter vocal tract -> higher formants)
    rate: float          # syllables per second
    breathiness: float   # aspiration noise mixed into the glottal source


def random_speaker(rng: np.random.Generator) -> Speaker:
    female = rng.random() < 0.5
    return Speaker(pitch_hz=float(rng.uniform(170, 250) if female else rng.uniform(85, 150)),
                   tract_scale=float(rng.uniform(1.1, 1.25) if female else rng.uniform(0.92, 1.05)),
                   rate=float(rng.uniform(3.0, 5.5)), breathiness=float(rng.uniform(0.02, 0.12)))


def _resonate(x: np.ndarray, freq: float, bandwidth: float, sr: int) -> np.ndarray:
    r = np.exp(-np.pi * bandwidth / sr)
    a = [1.0, -2 * r * np.cos(2 * np.pi * freq / sr), r * r]
    return lfilter([1 - r], a, x)


def speech_like(rng: np.random.Generator, speaker: Speaker, seconds: float, sr: int = 16000) -> np.ndarray:
    """One made-up utterance of about ``seconds`` seconds, peak-normalised to 0.5."""
    n = int(seconds * sr)
    out = np.zeros(n)
    t = int(rng.uniform(0.05, 0.2) * sr)  # leading silence
    nyquist_safe = 0.45 * sr
    while t < n - int(0.15 * sr):
        for _ in range(int(rng.integers(1, 4))):  # syllables of one word
            if rng.random() < 0.45:  # fricative onset: band-passed noise (s, sh, f)
                length = int(rng.uniform(0.04, 0.12) * sr)
                low = rng.uniform(1800, 4500)
                sos = butter(4, [low, min(low * rng.uniform(1.6, 2.4), nyquist_safe)], "bandpass", fs=sr, output="sos")
                burst = sosfilt(sos, rng.standard_normal(length)) * np.hanning(length) * rng.uniform(0.2, 0.5)
                end = min(n, t + length)
                out[t:end] += burst[:end - t]
                t = end
            length = int(rng.uniform(0.6, 1.3) / speaker.rate * sr)
            end = min(n, t + length)
            length = end - t
            if length <= 16:
                break
            # glottal pulses at a jittered, gently falling pitch
            f0 = speaker.pitch_hz * rng.uniform(0.85, 1.2) * np.linspace(1.05, 0.9, length)
            f0 *= 1 + 0.01 * rng.standard_normal(length).cumsum() / np.sqrt(np.arange(1, length + 1))
            phase = np.cumsum(f0 / sr)
            pulses = np.diff(np.floor(phase), prepend=0.0)
            source = lfilter([1.0], [1.0, -0.97], pulses)  # spectral tilt of the glottal flow
            source = source - source.mean() + speaker.breathiness * rng.standard_normal(length)
            formants = VOWELS[rng.integers(len(VOWELS))] * speaker.tract_scale
            vowel = source
            for freq, bw in zip(formants, (80.0, 100.0, 140.0)):
                vowel = _resonate(vowel, min(freq, nyquist_safe), bw, sr)
            envelope = np.sin(np.pi * np.linspace(0, 1, length)) ** 0.6
            vowel = vowel * envelope / (np.abs(vowel).max() + 1e-9) * rng.uniform(0.5, 1.0)
            out[t:end] += vowel
            t = end
        t += int(rng.uniform(0.05, 0.3) * sr)  # pause between words
    peak = np.abs(out).max()
    return (0.5 * out / peak if peak > 0 else out).astype(np.float32)


# ---- espeak-ng ---------------------------------------------------------------------------
WORDS = ("the a bright small old green quiet heavy cold warm river house garden window friend teacher "
         "morning evening music paper table road market city stone water light sound story letter "
         "walks opens carries finds brings watches builds reads paints closes sings follows calls "
         "slowly quickly often never always near under behind across through before after with "
         "children birds horses sailors farmers doctors people dogs boats trains clouds flowers "
         "yesterday tomorrow today again together alone outside inside above beyond seven twelve "
         "and but because while when if then so very almost nearly only just still yet also").split()
# Accents (espeak-ng language voices) and voice variants: each variant is its own source and
# formant model (the klatt ones a different synthesiser), so together with pitch, speed and
# accent they give a few hundred distinguishable speakers. Grouped by measured median f0
# (male about 77-128 Hz, female 174-248 Hz) so made-up speaker sets are balanced.
VOICES = ("en-us", "en-gb", "en-gb-scotland", "en-gb-x-rp", "en-029", "en-gb-x-gbclan", "en-gb-x-gbcwmd",
          "en-us-nyc")
MALE_VARIANTS = ("m1", "m2", "m3", "m4", "m5", "m6", "m7", "m8", "klatt", "klatt2", "klatt3", "klatt4", "klatt5",
                 "klatt6", "Andy", "Alex", "adam", "benjamin", "boris", "caleb", "david", "ed", "edward", "gustave",
                 "grandpa", "iven", "john", "Lee", "Marco", "max", "michel", "Michael", "Mike", "norbert", "paul",
                 "pedro", "quincy", "rob", "robert", "sandro", "travis", "victor")
FEMALE_VARIANTS = ("f1", "f2", "f3", "f4", "f5", "Annie", "Alicia", "Andrea", "aunty", "belinda", "grandma", "linda",
                   "shelby", "steph", "steph2", "steph3")


def espeak_available() -> bool:
    return shutil.which("espeak-ng") is not None


def sentence(rng: np.random.Generator) -> str:
    words = rng.choice(WORDS, size=int(rng.integers(5, 11)))
    return " ".join(words).capitalize() + "."


def espeak_speaker(index: int) -> dict:
    """Accent, voice variant, pitch, speed and word gap of made-up speaker ``index`` (stable across runs).

    Even indices are male and odd ones female, so any number of consecutive speakers is
    balanced; within a sex the variant, accent, pitch (espeak 0-99), speed (words per
    minute) and gap between words (10 ms units) are drawn from the index's own generator.
    """
    rng = np.random.default_rng(10_007 + index)
    variants = FEMALE_VARIANTS if index % 2 else MALE_VARIANTS
    return {"voice": VOICES[int(rng.integers(len(VOICES)))], "variant": variants[int(rng.integers(len(variants)))],
            "pitch": int(rng.integers(25, 76)), "speed": int(rng.integers(130, 191)), "gap": int(rng.integers(0, 4))}


def espeak(text: str, speaker: dict, sr: int = 16000) -> np.ndarray:
    """``text`` spoken by espeak-ng as ``speaker``, resampled to ``sr``, peak 0.5."""
    import soundfile as sf

    from sslab.audio.io import resample

    if not espeak_available():
        raise UserError("espeak-ng is not installed; install it (apt-get install espeak-ng) or use made_speech=synthetic")
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "u.wav"
        cmd = ["espeak-ng", "-v", f"{speaker['voice']}+{speaker['variant']}", "-p", str(speaker["pitch"]),
               "-s", str(speaker["speed"]), "-g", str(speaker.get("gap", 0)), "-w", str(path), text]
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=60)
        if done.returncode != 0 or not path.is_file():
            raise UserError(f"espeak-ng failed ({done.stderr.strip()[:200]}); check the installation or use made_speech=synthetic")
        samples, rate = sf.read(str(path), dtype="float32")
    samples = resample(samples, rate, sr)
    peak = float(np.abs(samples).max())
    return (0.5 * samples / peak).astype(np.float32) if peak > 0 else samples


def write_espeak_corpus(out: Path, speakers: int, sentences_per_speaker: int, seed: int = 0,
                        sr: int = 16000) -> Path:
    """``out/speakerNN/sentenceMM.wav``: a small clean-speech corpus to build data sets from.

    ``out`` must be new or empty; it appears only once every file is written.
    """
    from sslab.audio.io import write_wav
    from sslab.train.atomic import new_folder

    rng = np.random.default_rng(seed)
    with new_folder(out) as tmp:
        for s in range(speakers):
            voice = espeak_speaker(s)
            for k in range(sentences_per_speaker):
                write_wav(tmp / f"speaker{s:02d}" / f"sentence{k:02d}.wav", espeak(sentence(rng), voice, sr), sr)
    return Path(out)


# ---- noise -------------------------------------------------------------------------------
def _colored(rng: np.random.Generator, n: int, exponent: float) -> np.ndarray:
    """Noise with power spectrum 1/f^exponent (0 white, 1 pink, 2 brown)."""
    spec = np.fft.rfft(rng.standard_normal(n))
    f = np.fft.rfftfreq(n)
    f[0] = f[1]
    x = np.fft.irfft(spec / f ** (exponent / 2), n)
    return x / (x.std() + 1e-12)


def made_up_noise(kind: str, rng: np.random.Generator, seconds: float, sr: int = 16000) -> np.ndarray:
    """``seconds`` of one of :data:`NOISE_TYPES`, unit standard deviation."""
    n = int(seconds * sr)
    t = np.arange(n) / sr
    if kind == "white":
        x = rng.standard_normal(n)
    elif kind == "pink":
        x = _colored(rng, n, 1.0)
    elif kind == "brown":
        x = _colored(rng, n, 2.0)
    elif kind == "babble":  # several made-up talkers at once
        x = sum(np.resize(speech_like(rng, random_speaker(rng), min(seconds, 6.0), sr), n) for _ in range(6))
    elif kind == "hum":
        mains = rng.choice([50.0, 60.0])
        x = sum(np.sin(2 * np.pi * mains * k * t + rng.uniform(0, 6.3)) / k for k in range(1, 12))
        x = x + 0.3 * _colored(rng, n, 1.0)
    elif kind == "engine":
        rpm = 20 + 5 * np.sin(2 * np.pi * 0.2 * t + rng.uniform(0, 6.3))
        x = _colored(rng, n, 2.0) * (1 + 0.6 * np.sin(2 * np.pi * np.cumsum(rpm) / sr))
    elif kind == "clicks":  # keyboard-like impulses, short decaying bursts
        x = np.zeros(n)
        hits = rng.integers(0, n, size=int(seconds * rng.uniform(6, 12)))
        x[hits] = rng.uniform(0.5, 1.0, size=hits.size)
        x = lfilter([1.0], [1.0, -0.9], x) * rng.standard_normal(n) + 0.02 * rng.standard_normal(n)
    elif kind == "siren":
        freq = 900 + 350 * np.sin(2 * np.pi * rng.uniform(0.2, 0.5) * t)
        x = np.sin(2 * np.pi * np.cumsum(freq) / sr) + 0.05 * rng.standard_normal(n)
    elif kind == "rain":
        drops = (rng.random(n) < 0.004) * rng.standard_normal(n)
        sos = butter(2, 1500, "highpass", fs=sr, output="sos")
        x = sosfilt(sos, drops + 0.2 * rng.standard_normal(n))
    elif kind == "fan":
        sos = butter(2, [200, 900], "bandpass", fs=sr, output="sos")
        x = sosfilt(sos, rng.standard_normal(n)) + 0.3 * np.sin(2 * np.pi * rng.uniform(90, 140) * t)
    else:
        raise ValueError(f"unknown noise type {kind}")
    x = np.asarray(x, dtype=float)
    return (x / (x.std() + 1e-12)).astype(np.float32)
