import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
import pytest
import torch

from sslab.data.denoise import load_layout, make_denoise
from sslab.recipes.denoise.config import PRESETS, Config
from sslab.recipes.denoise.train import epoch_lr, load_data
from sslab.runner import run_recipe
from sslab_testing import kill_midway

SHARED_NOISE = Path(__file__).resolve().parents[2] / ".." / "shared" / "data" / "noise"
VOLATILE = {"time", "frames_per_s", "seconds"}


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


def test_cosine_schedule_runs_from_lr_down_to_five_percent():
    cfg = Config(epochs=5, lr=2e-3)
    lrs = [epoch_lr(cfg, e) for e in range(cfg.epochs)]
    assert lrs[0] == 2e-3 and abs(lrs[-1] - 1e-4) < 1e-12 and lrs == sorted(lrs, reverse=True)
    assert {epoch_lr(Config(epochs=5, lr=2e-3, lr_schedule="constant"), e) for e in range(5)} == {2e-3}


def _metrics(run_dir: Path) -> list[dict]:
    rows = [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines() if line.strip()]
    return [{k: v for k, v in r.items() if k not in VOLATILE} for r in rows]


def test_smoke_run_end_to_end(denoise_run, tmp_path):
    # `sslab run denoise --preset smoke` (tests/conftest.py: the session's, which the report tests read too)
    from sslab.train.rundir import Run

    run = Run.open(denoise_run)
    summary = run.summary()
    assert summary["headline"]["oracle_val_snr"]["mean"] > summary["headline"]["input_val_snr"]["mean"] + 5
    assert {c["claim"] for c in summary["claims"]}
    names = sorted(p.name for p in (run.root / "test_denoised").glob("tex*.wav"))
    assert names and names == sorted(zipfile.ZipFile(run.root / "test_denoised.zip").namelist())
    html = (run.root / "report.html").read_text()
    assert html.count("<audio") >= 4 and "val_snr" not in html.split("<main>")[0]
    for fig in ("val_snr.png", "loss.png", "example0.png"):
        assert (run.root / "figures" / fig).is_file()
    # every system scored by SNR, SI-SDR, PESQ and STOI, in summary.json and the report's tables
    comparison = json.loads((run.root / "summary.json").read_text())["comparison"]
    systems = comparison["systems"]
    assert list(systems) == ["input", "subtraction", "wiener", "fc", "rnn", "ibm", "irm", "psm"]
    for system, entries in systems.items():
        assert {"snr", "si_sdr", "pesq", "stoi"} <= set(entries), system
        assert 1.0 <= entries["pesq"]["mean"] <= 4.65 and 0 <= entries["stoi"]["mean"] <= 1
    assert systems["ibm"]["pesq"]["mean"] > systems["input"]["pesq"]["mean"]
    assert systems["irm"]["snr"]["mean"] >= systems["ibm"]["snr"]["mean"]
    assert systems["wiener"]["snr"]["mean"] > systems["input"]["snr"]["mean"]
    assert systems["subtraction"]["snr"]["mean"] > systems["input"]["snr"]["mean"]
    files = len(run.select(phase="quality", arm="input")[0]["per_file_snr"])
    assert sum(row["files"] for row in comparison["by_noise"]) == files  # made-up data knows every file's noise
    assert sum(row["files"] for row in comparison["by_input_snr"]) == files
    assert {"The RNN beats the FC baseline on PESQ", "The RNN beats the FC baseline on STOI"} <= {
        c["claim"] for c in summary["claims"]}
    assert "oracle IRM" in html and "Wiener filter" in html and "By the input" in html and "By noise" in html
    # `sslab denoise` rebuilds the model from the run directory alone.
    from sslab.cli import main

    assert main(["denoise", "--checkpoint", str(run.root), "--input", str(run.root / "test_denoised"),
                 "--output", str(tmp_path / "again")]) == 0
    assert sorted(p.name for p in (tmp_path / "again").iterdir()) == names


def test_ratio_mask_target_trains_and_skips_perceptual_scores_when_asked(tmp_path):
    run = run_recipe("denoise", preset="smoke", out=tmp_path, overrides={"target": "irm", "perceptual": "false"})
    text = (run.root / "report.html").read_text()
    assert "ratio mask" in text
    systems = run.summary()["comparison"]["systems"]
    assert "pesq" not in systems["rnn"] and "snr" in systems["rnn"]
    # the ratio-mask target is soft: many bins between 0 and 1
    from sslab.data.denoise_batches import spectra

    data = load_data(Config(**{**PRESETS["smoke"], "target": "irm"}), None, torch.device("cpu"))
    _, target, valid = spectra(data.val, torch.arange(len(data.val.noisy)), "irm")
    inside = target[valid]
    assert ((inside > 0.01) & (inside < 0.99)).float().mean() > 0.2  # soft, not 0/1


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
