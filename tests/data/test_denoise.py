import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch

from sslab.audio.io import write_wav
from sslab.audio.metrics import snr_db
from sslab.data.denoise import Ragged, load_layout, make_denoise, mix_at_snr
from sslab.data.synthetic_speech import NOISE_TYPES, made_up_noise, random_speaker, speech_like
from sslab.errors import UserError

SHARED_NOISE = Path(__file__).resolve().parents[2] / ".." / "shared" / "data" / "noise"


def _triple(folder: Path, prefix: str, number: int, length: int, rng, sr: int = 16000) -> None:
    s = 0.1 * rng.standard_normal(length).astype(np.float32)
    n = 0.1 * rng.standard_normal(length).astype(np.float32)
    write_wav(folder / f"{prefix}x{number:04d}.wav", s + n, sr)
    write_wav(folder / f"{prefix}s{number:04d}.wav", s, sr)
    write_wav(folder / f"{prefix}n{number:04d}.wav", n, sr)


@pytest.fixture
def layout(tmp_path):
    rng = np.random.default_rng(0)
    for i, length in enumerate([4000, 6000, 5000]):
        _triple(tmp_path / "tr", "tr", i, length, rng)
    for i, length in enumerate([3000, 7000]):
        _triple(tmp_path / "v", "v", i, length, rng)
    write_wav(tmp_path / "te" / "tex0000.wav", rng.standard_normal(2000).astype(np.float32) * 0.1, 16000)
    return tmp_path


def test_layout_loads_every_split_with_its_lengths(layout):
    data = load_layout(layout)
    assert data.sample_rate == 16000
    assert data.train.ids == ["0000", "0001", "0002"]
    assert data.train.noisy.lengths.tolist() == [4000, 6000, 5000]
    assert data.val.speech.lengths.tolist() == [3000, 7000]
    assert data.test.ids == ["0000"] and data.test.speech is None
    x, s, n = (data.train.noisy.signal(1), data.train.speech.signal(1), data.train.noise.signal(1))
    assert torch.allclose(x, s + n, atol=2e-4)  # 16-bit rounding


def test_ragged_batch_pads_and_keeps_lengths():
    r = Ragged.from_list([np.arange(3, dtype=np.float32), np.arange(5, dtype=np.float32) + 10])
    x, lengths = r.batch(torch.tensor([1, 0]))
    assert lengths.tolist() == [5, 3]
    assert x.tolist() == [[10, 11, 12, 13, 14], [0, 1, 2, 2, 2]]


@pytest.mark.parametrize("breakage, message", [
    (lambda root: (root / "tr" / "trs0001.wav").unlink(), "trx0001.wav: its clean speech trs0001.wav is missing"),
    (lambda root: (root / "v" / "vn0000.wav").unlink(), "vx0000.wav: its noise vn0000.wav is missing"),
    (lambda root: (root / "tr" / "trx0002.wav").unlink(), "has no mixture trx0002.wav"),
    (lambda root: write_wav(root / "tr" / "trn0000.wav", np.zeros(3999, np.float32), 16000), "must have the same length"),
    (lambda root: write_wav(root / "v" / "vs0001.wav", np.zeros(7000, np.float32), 8000), "sample rate 8000 Hz"),
    (lambda root: (root / "tr" / "trs0000.wav").write_bytes(b""), "trs0000.wav: the file is empty"),
    (lambda root: (root / "tr" / "trs0000.wav").write_text("not audio at all " * 20), "trs0000.wav: not readable as audio"),
    (lambda root: (root / "tr" / "trx0001.wav").write_bytes((root / "tr" / "trx0001.wav").read_bytes()[:30]),
     "trx0001.wav"),
    (lambda root: sf.write(str(root / "v" / "vs0000.wav"), np.full(3000, np.nan, np.float32), 16000, subtype="FLOAT"),
     "vs0000.wav: contains NaN"),
    (lambda root: shutil.rmtree(root / "v"), "v: missing"),
    (lambda root: write_wav(root / "te" / "tex0001.wav", np.zeros(100, np.float32), 16000), "tex0001.wav: only 100 samples"),
])
def test_bad_layout_names_the_file(layout, breakage, message):
    breakage(layout)
    with pytest.raises(UserError) as err:
        load_layout(layout)
    assert message in str(err.value)
    assert "\n" not in str(err.value)


def test_mix_at_snr_hits_the_requested_snr():
    rng = np.random.default_rng(1)
    speech = 0.2 * rng.standard_normal(16000).astype(np.float32)
    noise = rng.standard_normal(16000).astype(np.float32)
    for target in (-5.0, 0.0, 7.5):
        x, s, n = mix_at_snr(speech, noise, target)
        assert abs(float(10 * np.log10(np.sum(s.astype(float) ** 2) / np.sum(n.astype(float) ** 2))) - target) < 1e-3
        assert abs(float(snr_db(s, x)) - target) < 1e-3  # the input SNR in the seed's formula
        assert np.abs(x).max() <= 0.99 + 1e-6


def _speech_folder(root: Path, speakers: int, sentences: int) -> Path:
    rng = np.random.default_rng(2)
    for k in range(speakers):
        person = random_speaker(rng)
        for j in range(sentences):
            write_wav(root / f"spk{k}" / f"utt{j}.wav", speech_like(rng, person, 1.0), 16000)
    return root


def _check_disjoint(manifest: dict, out: Path) -> None:
    speech_of = {"tr": set(), "v": set(), "te": set()}
    segments: dict[str, list[tuple[str, int, int]]] = {}
    for name, info in manifest["files"].items():
        split = name.split("/")[0]
        speech_of[split].add(info["speech"])
        lo, hi = info["noise_segment"]
        segments.setdefault(info["noise"], []).append((split, lo, hi))
        assert (out / name).is_file()
    assert not (speech_of["tr"] & speech_of["v"]) and not (speech_of["tr"] & speech_of["te"])
    assert not (speech_of["v"] & speech_of["te"])
    speakers = {s: {u.split("/")[0] for u in utts} for s, utts in speech_of.items()}
    assert not (speakers["tr"] & speakers["v"]) and not (speakers["tr"] & speakers["te"])
    for noise, parts in manifest["noise_parts"].items():
        bounds = sorted(parts.values())
        assert all(a[1] <= b[0] for a, b in zip(bounds, bounds[1:])), noise  # parts do not overlap
    for noise, used in segments.items():
        for split, lo, hi in used:
            plo, phi = manifest["noise_parts"][noise][split]
            assert plo <= lo and (hi <= phi or lo == plo)  # inside its split's part (or looped from its start)


def test_make_denoise_splits_speakers_and_noise_apart(tmp_path):
    speech = _speech_folder(tmp_path / "speech", speakers=5, sentences=2)
    rng = np.random.default_rng(3)
    for kind in NOISE_TYPES[:3]:
        write_wav(tmp_path / "noise" / f"{kind}.wav", 0.1 * made_up_noise(kind, rng, 10.0), 16000)
    out = tmp_path / "set"
    manifest = make_denoise(speech, tmp_path / "noise", out, noises_per_utterance=2, val_fraction=0.2,
                            test_fraction=0.2, seed=5)
    assert manifest["split_by"] == "speakers"
    assert len(list((out / "tr").glob("trx*.wav"))) == 3 * 2 * 2
    assert len(list((out / "te").glob("tex*.wav"))) == len(list((out / "te_reference").glob("tes*.wav"))) == 1 * 2 * 2
    _check_disjoint(json.loads((out / "manifest.json").read_text()), out)
    data = load_layout(out)
    assert len(data.val.noisy) == 4 and data.sample_rate == 16000
    # the manifest names each validation file's noise, for the per-noise table
    assert data.val.noise_names == [Path(manifest["files"][f"v/vx{i}.wav"]["noise"]).stem for i in data.val.ids]
    assert set(data.val.noise_names) <= set(NOISE_TYPES[:3])
    (out / "manifest.json").write_text("{not json")
    damaged = load_layout(out)
    assert damaged.val.noise_names is None and any("not a make-denoise manifest" in n for n in damaged.notes)
    (out / "manifest.json").unlink()
    assert load_layout(out).val.noise_names is None
    with pytest.raises(UserError, match="not empty"):
        make_denoise(speech, tmp_path / "noise", out)
    with pytest.raises(UserError, match="too few"):
        make_denoise(speech, tmp_path / "noise", tmp_path / "o2", val_fraction=0.6, test_fraction=0.3)


@pytest.mark.integration
@pytest.mark.skipif(not SHARED_NOISE.is_dir(), reason="../shared/data/noise is absent (only on the project machine)")
@pytest.mark.skipif(shutil.which("espeak-ng") is None, reason="espeak-ng is not installed (apt-get install espeak-ng)")
def test_make_denoise_from_espeak_speech_and_real_noise(tmp_path):
    from sslab.data.synthetic_speech import write_espeak_corpus

    speech = write_espeak_corpus(tmp_path / "speech", speakers=5, sentences_per_speaker=2)
    out = tmp_path / "set"
    manifest = make_denoise(speech, SHARED_NOISE, out, noises_per_utterance=3, val_fraction=0.2, test_fraction=0.2)
    _check_disjoint(manifest, out)
    assert {f["noise"] for f in manifest["files"].values()} <= {p.name for p in SHARED_NOISE.glob("*.wav")}
    assert len(load_layout(out).train.noisy) == 3 * 2 * 3
