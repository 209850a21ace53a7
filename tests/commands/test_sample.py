"""`sslab sample`: WAV files of a requested genre from a trained `generate` run."""

from __future__ import annotations

import numpy as np
import pytest
import soundfile as sf
import torch

from sslab.audio.generative import Sampler, save_sampler
from sslab.audio.spectral import SpectralDomain
from sslab.cli import main
from sslab.train.rundir import Run

GENRES = ["classical", "rock"]


@pytest.fixture()
def run_dir(tmp_path):
    """A `generate` run directory holding a (small, untrained) sampler, as the recipe writes it."""
    run = Run.create(tmp_path, "generate")
    run.save_config({"recipe": "generate", "seeds": [3, 4], "config": {}})
    domain = SpectralDomain("stft", 8000, 128, 32)
    torch.manual_seed(0)
    sampler = Sampler(domain.bins, len(GENRES), z_dim=4, hidden=16, genre_dim=4)
    save_sampler(run.checkpoint_path("seed3/sampler"), sampler, domain, GENRES, {"griffin_lim_iters": 4})
    return run.root


def test_writes_the_asked_clips_reproducibly(run_dir, tmp_path):
    out = tmp_path / "out"
    args = ["sample", "--checkpoint", str(run_dir), "--genre", "classical", "--n", "3", "--seconds", "0.5",
            "--out", str(out), "--seed", "7"]
    assert main(args) == 0
    files = sorted(out.glob("*.wav"))
    assert [f.name for f in files] == [f"classical_7_{i:03d}.wav" for i in range(3)]
    wave, sr = sf.read(files[0])
    assert sr == 8000 and wave.shape == (4000,) and np.abs(wave).max() > 0
    first = [sf.read(f)[0] for f in files]
    assert main(args[:-4] + ["--out", str(tmp_path / "again"), "--seed", "7"]) == 0
    assert all(np.array_equal(a, sf.read(tmp_path / "again" / f.name)[0]) for a, f in zip(first, files))
    assert main(args[:-1] + ["8"]) == 0
    assert not np.array_equal(first[0], sf.read(out / "classical_8_000.wav")[0])


def test_the_genre_changes_the_clip(run_dir, tmp_path):
    for genre in GENRES:
        assert main(["sample", "--checkpoint", str(run_dir), "--genre", genre, "--n", "1", "--seconds", "0.5",
                     "--out", str(tmp_path)]) == 0
    a, b = sf.read(tmp_path / "classical_0_000.wav")[0], sf.read(tmp_path / "rock_0_000.wav")[0]
    assert not np.allclose(a, b)


def test_a_sampler_file_can_be_passed_directly(run_dir, tmp_path):
    path = run_dir / "checkpoints" / "seed3-sampler.safetensors"
    assert main(["sample", "--checkpoint", str(path), "--genre", "rock", "--n", "1", "--seconds", "0.25",
                 "--out", str(tmp_path / "o")]) == 0
    assert len(list((tmp_path / "o").glob("rock_*.wav"))) == 1


@pytest.mark.parametrize("extra, message", [
    (["--genre", "polka"], "knows classical, rock"),
    (["--genre", "rock", "--n", "0"], "--n: 0 must be at least 1"),
    (["--genre", "rock", "--seconds", "-1"], "--seconds: -1 must be more than 0"),
    (["--genre", "rock", "--seconds", "nan"], "--seconds: 'nan' is not a finite number"),
    (["--genre", "rock", "--seconds", "0.001"], "shorter than one analysis window"),
    (["--genre", "rock", "--griffin-lim-iters", "-3"], "--griffin-lim-iters: -3 must be at least 0"),
])
def test_bad_requests_are_one_line_errors(run_dir, tmp_path, capsys, extra, message):
    try:  # argparse's own checks exit (SystemExit 2); sslab's return 2
        code = main(["sample", "--checkpoint", str(run_dir), "--out", str(tmp_path), *extra])
    except SystemExit as exc:
        code = exc.code
    assert code == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err and len(err.strip().splitlines()) == 1


def test_missing_or_unfinished_runs_are_one_line_errors(tmp_path, capsys):
    assert main(["sample", "--checkpoint", str(tmp_path / "nope"), "--genre", "rock"]) == 2
    assert "no such run directory" in capsys.readouterr().err
    run = Run.create(tmp_path, "generate")
    run.save_config({"recipe": "generate", "seeds": [0], "config": {}})
    assert main(["sample", "--checkpoint", str(run.root), "--genre", "rock"]) == 2
    assert "no trained sampler yet" in capsys.readouterr().err
    other = Run.create(tmp_path, "augment")
    other.save_config({"recipe": "augment", "seeds": [0], "config": {}})
    assert main(["sample", "--checkpoint", str(other.root), "--genre", "rock"]) == 2
    assert "is a run of augment, not of generate" in capsys.readouterr().err


def test_genre_in_any_case_and_a_run_all_folder(run_dir, tmp_path):
    study = tmp_path / "all-20261121-120000"
    study.mkdir()
    run_dir.rename(study / "generate")
    (study / "study.json").write_text('{"recipes": ["generate"]}')
    assert main(["sample", "--checkpoint", str(study), "--genre", "Classical", "--n", "1", "--seconds", "0.25",
                 "--out", str(tmp_path / "o")]) == 0
    assert [p.name for p in (tmp_path / "o").iterdir()] == ["classical_0_000.wav"]


def test_a_run_all_folder_without_the_recipe_names_what_to_pass(tmp_path, capsys):
    study = tmp_path / "all-1"
    study.mkdir()
    (study / "study.json").write_text('{"recipes": ["augment", "generate"]}')
    assert main(["sample", "--checkpoint", str(study), "--genre", "rock"]) == 2
    err = capsys.readouterr().err
    assert "no generate run" in err and f"sslab run --resume {study}" in err and len(err.strip().splitlines()) == 1


def test_existing_clips_are_kept_unless_force(run_dir, tmp_path, capsys):
    args = ["sample", "--checkpoint", str(run_dir), "--genre", "rock", "--n", "2", "--seconds", "0.25",
            "--out", str(tmp_path / "o")]
    assert main(args) == 0
    mine = tmp_path / "o" / "rock_0_001.wav"
    mine.write_bytes(b"my own recording")
    assert main(args) == 2
    err = capsys.readouterr().err
    assert "2 of the 2 files exist already (first: rock_0_000.wav)" in err and "--force" in err
    assert mine.read_bytes() == b"my own recording"
    assert main(args + ["--force"]) == 0
    assert sf.read(mine)[0].size > 1000  # a clip again
