import json
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
import pytest
import torch

from sslab.audio.models import RecurrentMasker
from sslab.data.denoise import Ragged, Split, load_layout, make_denoise
from sslab.recipes import denoise as recipe
from sslab.runner import run_recipe
from sslab_testing import kill_midway

SHARED_NOISE = Path(__file__).resolve().parents[2] / ".." / "shared" / "data" / "noise"
VOLATILE = {"time", "frames_per_s"}


@pytest.fixture(autouse=True)
def single_thread(monkeypatch):
    """One intra-op thread here and in the subprocesses: on a few shared cores, threads that
    wait for each other make tiny RNN steps many times slower, and every run of a test must
    use the same thread count to give bit-identical numbers."""
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def test_padding_is_masked_out_of_the_loss():
    rng = np.random.default_rng(0)
    lengths = [3000, 5200, 4100]
    parts = {k: [rng.standard_normal(n).astype(np.float32) * 0.1 for n in lengths] for k in "xsn"}
    split = Split(["0", "1", "2"], *(Ragged.from_list(parts[k]) for k in "xsn"))
    torch.manual_seed(0)
    model = RecurrentMasker(513, "gru", hidden=16).eval()
    index = torch.tensor([0, 1, 2])
    mag, target, valid = recipe.spectra(split, index)
    loss = recipe.masked_bce(model(mag), target, valid)
    # Change everything outside the valid frames: padding frames of the features and the targets.
    garbage_mag = torch.where(valid.unsqueeze(-1), mag, torch.full_like(mag, 1e3))
    garbage_target = torch.where(valid.unsqueeze(-1), target, 1 - target)
    assert torch.equal(recipe.masked_bce(model(garbage_mag), garbage_target, valid), loss)
    # ... and the loss of each sequence alone, weighted by its frames, is the batch loss.
    alone = [recipe.masked_bce(model(m[v].unsqueeze(0)), t[v].unsqueeze(0), torch.ones(1, int(v.sum())))
             for m, t, v in zip(mag, target, valid)]
    weights = valid.sum(1).float()
    assert torch.allclose(loss, (torch.stack(alone) * weights).sum() / weights.sum(), atol=1e-6)
    # Truncated segments cover the same valid frames.
    seg_mag, seg_target, seg_valid = recipe.segments(mag, target, valid, 4)
    assert seg_valid.sum() == valid.sum() and seg_mag.shape[1] == 4


def test_magnitude_weights_have_mean_one_per_sequence_and_ignore_padding():
    mag = torch.rand(2, 6, 5) + 0.1
    valid = torch.tensor([[True] * 6, [True] * 4 + [False] * 2])
    assert recipe.bin_weights(mag, valid, 0.0) is None
    weight = recipe.bin_weights(mag, valid, 1.0)
    assert torch.allclose(weight[0].mean(), torch.tensor(1.0))
    assert torch.allclose(weight[1, :4].mean(), torch.tensor(1.0)) and torch.all(weight[1, 4:] == 0)
    # Proportional to |X| within a sequence, and blind to its overall level.
    assert torch.allclose(weight[0] / weight[0, 0, 0], mag[0] / mag[0, 0, 0], rtol=1e-5)
    assert torch.allclose(recipe.bin_weights(mag * 1000, valid, 1.0), weight, rtol=1e-5)
    # A loud wrong bin costs more than a quiet wrong bin.
    target = torch.zeros(1, 1, 2)
    logits = torch.tensor([[[3.0, 0.0]]]), torch.tensor([[[0.0, 3.0]]])
    loud_first = recipe.bin_weights(torch.tensor([[[10.0, 1.0]]]), torch.ones(1, 1, dtype=torch.bool), 1.0)
    costs = [recipe.masked_bce(z, target, torch.ones(1, 1), loud_first) for z in logits]
    assert costs[0] > costs[1]


def _metrics(run_dir: Path) -> list[dict]:
    rows = [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines() if line.strip()]
    return [{k: v for k, v in r.items() if k not in VOLATILE} for r in rows]


def test_smoke_run_end_to_end(tmp_path):
    run = run_recipe("denoise", preset="smoke", out=tmp_path)
    summary = run.summary()
    assert summary["headline"]["oracle_val_snr"]["mean"] > summary["headline"]["input_val_snr"]["mean"] + 5
    assert {c["claim"] for c in summary["claims"]}
    names = sorted(p.name for p in (run.root / "test_denoised").glob("tex*.wav"))
    assert names and names == sorted(zipfile.ZipFile(run.root / "test_denoised.zip").namelist())
    html = (run.root / "report.html").read_text()
    assert html.count("<audio") >= 4 and "val_snr" not in html.split("<main>")[0]
    for fig in ("val_snr.png", "loss.png", "example0.png"):
        assert (run.root / "figures" / fig).is_file()
    # `sslab denoise` rebuilds the model from the run directory alone.
    from sslab.cli import main

    assert main(["denoise", "--checkpoint", str(run.root), "--input", str(run.root / "test_denoised"),
                 "--output", str(tmp_path / "again")]) == 0
    assert sorted(p.name for p in (tmp_path / "again").iterdir()) == names


@pytest.mark.slow
def test_killed_run_resumes_to_the_same_numbers(tmp_path):
    overrides = ["epochs=6"]
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    run_dir = kill_midway(["run", "denoise", *overrides, "--preset", "smoke"], tmp_path / "killed",
                          lambda lines: sum('"phase": "rnn"' in line for line in lines) >= 3)
    done = subprocess.run([sys.executable, "-m", "sslab", "run", "--resume", str(run_dir)], env=env,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    straight = run_recipe("denoise", preset="smoke", overrides={"epochs": "6"}, out=tmp_path / "straight")
    assert _metrics(run_dir) == _metrics(straight.root)


@pytest.mark.slow
@pytest.mark.integration
@pytest.mark.skipif(not SHARED_NOISE.is_dir(), reason="../shared/data/noise is absent (only on the project machine)")
def test_training_on_real_noise_raises_snr_above_the_input(tmp_path):
    from sslab.audio.io import write_wav
    from sslab.data import synthetic_speech as synth

    if synth.espeak_available():
        speech = synth.write_espeak_corpus(tmp_path / "speech", speakers=6, sentences_per_speaker=3)
    else:  # made-up speech still tests the pipeline on the real noise recordings
        rng = np.random.default_rng(0)
        for k in range(6):
            person = synth.random_speaker(rng)
            for j in range(3):
                write_wav(tmp_path / "speech" / f"s{k}" / f"{j}.wav", synth.speech_like(rng, person, 2.5), 16000)
        speech = tmp_path / "speech"
    make_denoise(speech, SHARED_NOISE, tmp_path / "set", noises_per_utterance=4, val_fraction=0.2,
                 test_fraction=0.2, seed=1)
    run = run_recipe("denoise", preset="smoke", data=tmp_path / "set", out=tmp_path / "runs",
                     overrides={"epochs": "4", "hidden": "64", "fc_hidden": "64"})
    h = run.summary()["headline"]
    assert h["rnn_val_snr"]["mean"] > h["input_val_snr"]["mean"] + 1.0, h
    assert len(list((run.root / "test_denoised").glob("tex*.wav"))) == len(load_layout(tmp_path / "set").test.noisy)


def _ragged_split(lengths, seed=0):
    rng = np.random.default_rng(seed)
    speech = [rng.standard_normal(n).astype(np.float32) * 0.1 for n in lengths]
    noise = [rng.standard_normal(n).astype(np.float32) * 0.1 for n in lengths]
    return Split([str(i) for i in range(len(lengths))], Ragged.from_list([s + n for s, n in zip(speech, noise)]),
                 Ragged.from_list(speech), Ragged.from_list(noise))


def test_remixing_rotates_and_scales_each_files_own_noise():
    split = _ragged_split([3000, 5200, 4100])
    out = recipe.remixed(split, 5.0, torch.Generator().manual_seed(0))
    assert torch.equal(out.speech.flat, split.speech.flat)
    torch.testing.assert_close(out.noisy.flat, out.speech.flat + out.noise.flat)
    for i in range(3):
        old, new = split.noise.signal(i), out.noise.signal(i)
        # new = gain * old rotated by some offset; the gain is within ±5 dB
        gain = float(new.norm() / old.norm())
        assert 10 ** (-5 / 20) - 1e-6 <= gain <= 10 ** (5 / 20) + 1e-6
        shifts = [k for k in range(len(old)) if torch.allclose(torch.roll(old, -k) * gain, new, atol=1e-6)]
        assert len(shifts) == 1
    again = recipe.remixed(split, 5.0, torch.Generator().manual_seed(0))
    assert torch.equal(again.noisy.flat, out.noisy.flat)  # the draws come from the generator (resume)
    other = recipe.remixed(split, 5.0, torch.Generator().manual_seed(1))
    assert not torch.equal(other.noisy.flat, out.noisy.flat)


def test_swapped_remixing_takes_another_files_noise_at_its_own_level():
    split = _ragged_split([300, 520, 410, 350])
    split.noise.flat[split.noise.offsets[2]:split.noise.offsets[3]] *= 4  # a louder noise file
    out = recipe.remixed(split, 5.0, torch.Generator().manual_seed(0), swap=1.0)
    torch.testing.assert_close(out.noisy.flat, out.speech.flat + out.noise.flat)
    for i in range(4):
        own, new = split.noise.signal(i), out.noise.signal(i)
        # its level stays within ±5 dB of its own noise's (RMS), whoever's noise it took
        ratio_db = 20 * float(torch.log10(new.square().mean().sqrt() / own.square().mean().sqrt()))
        matches = []
        for j in range(4):
            other = split.noise.signal(j)
            for k in range(len(other)):
                candidate = other[(torch.arange(len(own)) + k) % len(other)]
                gain = float(candidate @ new / (candidate @ candidate))
                if torch.allclose(candidate * gain, new, atol=1e-5):
                    matches.append(j)
        assert matches and i not in matches, (i, matches)  # every file took another file's noise
        # wrapping a shorter partner repeats it, so the RMS check is loose by the wrap's share
        assert -5.5 <= ratio_db <= 5.5, (i, ratio_db)
    kept = recipe.remixed(split, 5.0, torch.Generator().manual_seed(0), swap=0.0)
    plain = recipe.remixed(split, 5.0, torch.Generator().manual_seed(0))
    assert torch.equal(kept.noisy.flat, plain.noisy.flat)


def test_segment_batches_cover_the_training_frames_once():
    split = _ragged_split([3000, 5200, 4100, 9000, 2600])
    cfg = recipe.Config(t_trunc=4, batch_size=3)
    _, _, valid = recipe.spectra(split, torch.arange(5))
    got = list(recipe.batches(split, cfg, torch.Generator().manual_seed(0)))
    assert all(m.shape[0] <= 3 and m.shape[1] == 4 for m, _, _ in got)
    seen = sum(int(v.sum()) for _, _, v in got)
    # every valid frame once, minus the random first frames skipped (fewer than t_trunc per file)
    assert int(valid.sum()) - 5 * 3 <= seen <= int(valid.sum())
    whole = list(recipe.batches(split, recipe.Config(batch_size=2), torch.Generator().manual_seed(0)))
    assert len(whole) == 3 and sum(int(v.sum()) for _, _, v in whole) == int(valid.sum())
