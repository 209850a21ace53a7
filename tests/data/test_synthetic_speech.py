import shutil

import numpy as np
import pytest

from sslab.data import synthetic_speech as synth

needs_espeak = pytest.mark.skipif(shutil.which("espeak-ng") is None,
                                  reason="espeak-ng is not installed (apt-get install espeak-ng)")


def test_espeak_speakers_are_stable_balanced_and_varied():
    speakers = [synth.espeak_speaker(i) for i in range(48)]
    assert speakers == [synth.espeak_speaker(i) for i in range(48)]  # the same speaker every time
    assert all(s["variant"] in synth.MALE_VARIANTS for s in speakers[0::2])
    assert all(s["variant"] in synth.FEMALE_VARIANTS for s in speakers[1::2])
    assert len({s["variant"] for s in speakers}) >= 20
    assert len({s["voice"] for s in speakers}) >= 6
    assert len({(s["voice"], s["variant"], s["pitch"], s["speed"]) for s in speakers}) == 48
    assert all(25 <= s["pitch"] <= 75 and 130 <= s["speed"] <= 190 and 0 <= s["gap"] <= 3 for s in speakers)


def median_f0(x: np.ndarray, sr: int) -> float:
    """Median autocorrelation pitch of the louder 40 ms frames (voiced speech)."""
    frame = int(0.04 * sr)
    frames = np.lib.stride_tricks.sliding_window_view(x, frame)[:: frame // 2]
    frames = frames[np.sqrt((frames ** 2).mean(1)) > 0.05 * np.abs(x).max()]
    spectrum = np.fft.rfft(frames, 2 * frame)
    ac = np.fft.irfft(np.abs(spectrum) ** 2)[:, :frame]
    low, high = sr // 400, sr // 60
    lag = low + ac[:, low:high].argmax(1)
    voiced = ac[np.arange(len(ac)), lag] > 0.4 * ac[:, 0]
    return float(np.median(sr / lag[voiced]))


@needs_espeak
def test_every_voice_variant_speaks_in_its_group_pitch_range():
    for variants, (low, high) in ((synth.MALE_VARIANTS, (60, 150)), (synth.FEMALE_VARIANTS, (150, 300))):
        for variant in variants:
            speaker = {"voice": "en-us", "variant": variant, "pitch": 50, "speed": 170, "gap": 0}
            x = synth.espeak("The quiet river carries seven boats.", speaker)
            assert x.dtype == np.float32 and len(x) > 16000 * 0.8 and np.isfinite(x).all(), variant
            assert low <= median_f0(x, 16000) <= high, variant


@needs_espeak
def test_espeak_corpus_has_one_folder_per_speaker(tmp_path):
    out = synth.write_espeak_corpus(tmp_path / "speech", speakers=3, sentences_per_speaker=2, seed=1)
    assert sorted(p.name for p in out.iterdir()) == ["speaker00", "speaker01", "speaker02"]
    assert all(len(list(p.glob("sentence*.wav"))) == 2 for p in out.iterdir())
