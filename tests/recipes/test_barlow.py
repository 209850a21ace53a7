"""Recipe `barlow`: data sources and their errors, the pieces it is built of, a smoke run end
to end, and a run killed with SIGKILL that resumes to the same numbers."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from sslab.config import build_config
from sslab.errors import UserError
from sslab.recipes.barlow import locate_data
from sslab.recipes.barlow.config import METHODS, PRESETS, Config
from sslab.recipes.barlow.train import fraction_subsets, load_data
from sslab.train.precision import fast_bfloat16

from sslab_testing import kill_midway

REPO = Path(__file__).resolve().parents[2]
VOLATILE = {"time", "images_per_s", "seconds"}


def smoke_cfg(**overrides) -> Config:
    return build_config(Config, PRESETS, "smoke", {k: str(v) for k, v in overrides.items()}, "barlow")


# ---- data -----------------------------------------------------------------------------
def write_stl10(root: Path, n_train=40, n_test=20, n_unlabeled=80) -> None:
    root.mkdir(parents=True)
    rng = np.random.default_rng(0)
    for split, n in (("train", n_train), ("test", n_test), ("unlabeled", n_unlabeled)):
        rng.integers(0, 256, (n, 3, 96, 96), dtype=np.uint8).tofile(root / f"{split}_X.bin")  # (c, x, y) order
        if split != "unlabeled":
            (np.arange(n) % 10 + 1).astype(np.uint8).tofile(root / f"{split}_y.bin")


def test_load_data_reads_stl10_and_picks_an_unlabelled_subset(tmp_path):
    write_stl10(tmp_path / "stl10_binary")
    cfg = smoke_cfg(unlabeled_subset=70, batch_size=32, labeled_per_class=2, image_size=32)
    data = load_data(cfg, tmp_path, torch.device("cpu"))
    assert data.unlabeled.shape == (70, 3, 32, 32) and data.unlabeled.dtype == torch.uint8
    assert len(data.labeled) == 20 and torch.bincount(data.labeled.labels).tolist() == [2] * 10
    assert data.test.images.shape == (20, 3, 32, 32) and data.classes[0] == "airplane"
    assert locate_data(tmp_path) == tmp_path / "stl10_binary"


def write_folders(root: Path, per_class=6, side=20, unlabeled=0) -> None:
    from PIL import Image

    rng = np.random.default_rng(1)
    for split in ("train", "test"):
        for c in ("cat", "dog"):
            (root / split / c).mkdir(parents=True)
            for i in range(per_class):
                Image.fromarray(rng.integers(0, 256, (side, side, 3), dtype=np.uint8)).save(root / split / c / f"{i}.png")
    if unlabeled:
        (root / "unlabeled").mkdir()
        for i in range(unlabeled):
            Image.fromarray(rng.integers(0, 256, (side, side, 3), dtype=np.uint8)).save(root / "unlabeled" / f"u{i}.png")


def test_load_data_reads_image_folders_as_labelled_unlabelled_and_test(tmp_path):
    write_folders(tmp_path, unlabeled=5)
    data = load_data(smoke_cfg(labeled_per_class=2, batch_size=8), tmp_path, torch.device("cpu"))
    assert len(data.labeled) == 4 and data.classes == ["cat", "dog"]
    assert len(data.unlabeled) == 2 * 6 - 4 + 5 and data.unlabeled.shape[-1] == 20  # rest of train + unlabeled/
    assert len(data.test) == 12


@pytest.mark.parametrize("overrides, make, message", [
    ({}, lambda p: None, "neither STL-10"),
    ({"labeled_per_class": 9}, lambda p: write_folders(p), "class 'cat' has only 6"),
    ({"labeled_per_class": 2, "batch_size": 64}, lambda p: write_folders(p), "batch_size=64 is larger"),
    ({}, lambda p: (write_stl10(p / "stl10_binary"), (p / "stl10_binary" / "test_y.bin").unlink()), "label file missing"),
])
def test_bad_data_raises_user_errors(tmp_path, overrides, make, message):
    make(tmp_path)
    with pytest.raises(UserError, match=message):
        load_data(smoke_cfg(**overrides), tmp_path, torch.device("cpu"))


def test_bad_options_raise_user_errors():
    with pytest.raises(UserError, match="did you mean lambd"):
        build_config(Config, PRESETS, "quick", {"lamda": "0.1"}, "barlow")
    with pytest.raises(UserError, match="must be at most 1.0"):
        build_config(Config, PRESETS, "quick", {"fractions": "0.1,2"}, "barlow")
    with pytest.raises(UserError, match="warmup_epochs"):
        build_config(Config, PRESETS, "quick", {"warmup_epochs": "50"}, "barlow")
    with pytest.raises(UserError, match="projector"):
        build_config(Config, PRESETS, "quick", {"projector": ""}, "barlow")
    with pytest.raises(UserError, match="not one of"):
        build_config(Config, PRESETS, "quick", {"encoder": "vgg"}, "barlow")


def test_paper_preset_is_stl10_scale_with_the_papers_hyperparameters():
    cfg = build_config(Config, PRESETS, "paper", {}, "barlow")
    assert cfg.encoder == "resnet18" and cfg.width == 64 and cfg.unlabeled_subset == 0
    assert cfg.projector == (8192, 8192, 8192) and cfg.lambd == 0.0051 and cfg.lr_weights == 0.2
    assert cfg.lr_biases == 0.0048 and cfg.weight_decay == 1.5e-6 and cfg.warmup_epochs == 10
    assert cfg.fractions == (0.01, 0.05, 0.1, 0.25, 1.0)


# ---- pieces ---------------------------------------------------------------------------
def test_fraction_subsets_are_nested_and_class_balanced():
    labels = torch.arange(200) % 4
    subsets = fraction_subsets(labels, 4, (0.05, 0.25, 1.0), seed=3)
    assert torch.bincount(labels[subsets[0.05]]).tolist() == [3] * 4  # ceil(0.05 * 50)
    assert torch.bincount(labels[subsets[0.25]]).tolist() == [13] * 4
    assert len(subsets[1.0]) == 200
    assert set(subsets[0.05].tolist()) <= set(subsets[0.25].tolist())
    assert not torch.equal(subsets[0.25], fraction_subsets(labels, 4, (0.25,), seed=4)[0.25])


# ---- end to end -------------------------------------------------------------------------
@pytest.fixture(scope="module")
def monkeypatch_module():
    with pytest.MonkeyPatch.context() as m:
        yield m


def sslab(*args: str, **kw) -> subprocess.Popen:
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONUNBUFFERED": "1"}
    return subprocess.Popen([sys.executable, "-m", "sslab", *args], cwd=REPO, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, **kw)


def finished(proc: subprocess.Popen, timeout: float = 240) -> str:
    out, _ = proc.communicate(timeout=timeout)
    assert proc.returncode == 0, out
    return out


def run_dir(out: Path) -> Path:
    (found,) = out.glob("barlow-*")
    return found


def comparable(run_root: Path) -> list[dict]:
    records = [json.loads(line) for line in (run_root / "metrics.jsonl").read_text().splitlines()]
    return [{k: v for k, v in r.items() if k not in VOLATILE} for r in records]


@pytest.fixture(scope="module")
def smoke_run(tmp_path_factory, monkeypatch_module) -> Path:
    """`sslab run barlow --preset smoke`, in this process (the test that kills one and the torchrun test start
    the command as a user does); one intra-op thread, as in those processes."""
    import io
    from contextlib import redirect_stderr, redirect_stdout

    from sslab.runner import run_recipe

    out = tmp_path_factory.mktemp("barlow-smoke")
    monkeypatch_module.setenv("OMP_NUM_THREADS", "1")
    before = torch.get_num_threads()
    try:
        with redirect_stdout(io.StringIO()), redirect_stderr(io.StringIO()):
            run_recipe("barlow", preset="smoke", out=out)
    finally:
        torch.set_num_threads(before)
    return run_dir(out)


def test_smoke_run_writes_every_result_figure_and_the_report(smoke_run):
    summary = json.loads((smoke_run / "summary.json").read_text())
    assert len(summary["claims"]) == 5 and summary["fractions"] == [0.5, 1.0]
    # bfloat16 autocast ran exactly where this CPU has native bfloat16 (amp=true by default)
    assert summary["headline"]["bfloat16"] is fast_bfloat16(torch.device("cpu"))
    for method in METHODS:
        for f in ("0.5", "1.0"):
            assert 0.0 <= summary["table"][method][f]["mean"] <= 1.0
    for name in ("label_ratio", "pretrain", "tsne_row", "views", "tsne_epoch00000", "tsne_epoch00002"):
        assert (smoke_run / "figures" / f"{name}.png").is_file() and (smoke_run / "figures" / f"{name}.svg").is_file()
    assert len(list((smoke_run / "checkpoints").glob("*.safetensors"))) >= 8
    page = (smoke_run / "report.html").read_text()
    assert "Barlow Twins" in page and 'class="slider"' in page and "label-ratio" in page
    snaps = [json.loads(line) for line in (smoke_run / "metrics.jsonl").read_text().splitlines()]
    assert [r["epoch"] for r in snaps if r.get("phase") == "snapshot"] == [0, 2]


def test_report_rebuilds_from_the_run_directory(smoke_run, tmp_path):
    out = tmp_path / "again.html"
    finished(sslab("report", str(smoke_run), "--out", str(out)))
    assert 'class="slider"' in out.read_text()


def test_sigkill_then_resume_gives_the_same_numbers(smoke_run, tmp_path):
    # killed in the middle of pre-training (after its first epoch's record)
    killed = kill_midway(["run", "barlow", "--preset", "smoke"], tmp_path,
                         lambda lines: any('"phase": "pretrain"' in line for line in lines), timeout=200)
    finished(sslab("run", "--resume", str(killed)))
    assert comparable(killed) == comparable(smoke_run)
    assert json.loads((killed / "summary.json").read_text())["table"] == \
        json.loads((smoke_run / "summary.json").read_text())["table"]


def test_cli_reports_bad_input_in_one_line(tmp_path):
    proc = sslab("run", "barlow", "--preset", "smoke", "--data", str(tmp_path), "--out", str(tmp_path / "runs"))
    out, _ = proc.communicate(timeout=120)
    assert proc.returncode == 2 and "Traceback" not in out and "neither STL-10" in out
    assert not (tmp_path / "runs").exists()


def test_torchrun_two_processes_write_one_run_directory(tmp_path):
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    proc = subprocess.run([sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
                           "-m", "sslab", "run", "barlow", "--preset", "smoke", "--out", str(tmp_path)],
                          cwd=REPO, env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    root = run_dir(tmp_path)  # exactly one: rank 1 wrote nothing of its own
    results = [r for r in comparable(root) if r.get("phase") == "result"]
    assert len(results) == len(METHODS) * 2  # each result once, not once per process
    assert (root / "summary.json").is_file() and (root / "report.html").is_file()
