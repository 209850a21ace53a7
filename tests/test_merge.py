"""`sslab merge`: runs of other seeds on other machines, one run directory with all of them."""

import io
import json
import shutil
from contextlib import redirect_stderr, redirect_stdout
from pathlib import Path

import pytest
import yaml

from sslab_testing import cli, sslab

@pytest.fixture(scope="module")
def runs(tmp_path_factory, augment_seed0_cpu, augment_two_seeds_cpu) -> dict[str, Path]:
    """Finished `sslab run augment --preset smoke --device cpu --workers 1` runs of seed 0, of seed 1 and of
    both seeds (`--seeds 2`); the first and the last are the session's (tests/conftest.py), read only here."""
    from sslab.runner import run_recipe

    with redirect_stdout(io.StringIO()), redirect_stderr(io.StringIO()):
        seed1 = run_recipe("augment", preset="smoke", overrides={"seed": "1"}, device="cpu", workers=1,
                           out=tmp_path_factory.mktemp("merge")).root
    return {"seed0": augment_seed0_cpu, "seed1": seed1, "both": augment_two_seeds_cpu}


def _comparable(summary: dict) -> dict:
    headline = {k: v for k, v in summary["headline"].items() if "per_s" not in k}
    return {"headline": headline, "claims": summary["claims"], "text": summary["text"]}


def test_merge_of_seed0_and_seed1_equals_one_run_with_two_seeds(runs, tmp_path):
    out = tmp_path / "merged"
    proc = sslab("merge", str(runs["seed1"]), str(runs["seed0"]), "--out", str(out))
    assert proc.returncode == 0, proc.stderr
    merged = json.loads((out / "summary.json").read_text())
    both = json.loads((runs["both"] / "summary.json").read_text())
    assert _comparable(merged) == _comparable(both)
    keep = ("seed", "phase", "epoch", "train_loss", "val_acc", "val_loss")
    rows = lambda run: [tuple(r.get(k) for k in keep) for r in map(json.loads, (run / "metrics.jsonl").read_text().splitlines())]
    assert rows(out) == rows(runs["both"])
    conf = yaml.safe_load((out / "config.yaml").read_text())
    assert conf["seeds"] == [0, 1] and conf["config"]["seeds"] == 2
    assert [m["seeds"] for m in conf["merged_from"]] == [[0], [1]]
    for name in ("report.html", "report.ipynb", "figures/val_accuracy.png", "splits/seed1.json",
                 "checkpoints/seed0-baseline-model.safetensors", "checkpoints/seed1-augmented-model.safetensors"):
        assert (out / name).is_file(), name
    # The merged run is an ordinary finished run: its report rebuilds from it alone.
    assert sslab("report", str(out), "--out", str(tmp_path / "again.html")).returncode == 0


def _fails(*args: str) -> str:
    """`sslab merge ARGS` refused: exit 2 and one line (in this process: sslab.cli.main is what the command runs;
    an exception escaping it, a traceback to a user, fails the test)."""
    proc = cli("merge", *args)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr, proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1
    return proc.stderr


def test_merge_refuses_mismatched_configs_naming_the_keys(runs, tmp_path):
    odd = tmp_path / "odd"
    shutil.copytree(runs["seed1"], odd)
    conf = yaml.safe_load((odd / "config.yaml").read_text())
    conf["config"]["epochs"] = 5
    conf["config"]["lr"] = 0.01
    conf["git_commit"] = "0" * 40
    (odd / "config.yaml").write_text(yaml.safe_dump(conf, sort_keys=False))
    err = _fails(str(runs["seed0"]), str(odd), "--out", str(tmp_path / "m"))
    assert "differ in git_commit" in err and "epochs (2 vs 5)" in err and "lr (0.001 vs 0.01)" in err
    assert not (tmp_path / "m").exists()


def test_merge_refuses_overlapping_seeds_unfinished_runs_and_a_full_out(runs, tmp_path):
    err = _fails(str(runs["seed0"]), str(runs["both"]), "--out", str(tmp_path / "m"))
    assert "seed 0 is in both" in err
    unfinished = tmp_path / "unfinished"
    shutil.copytree(runs["seed1"], unfinished)
    (unfinished / "summary.json").unlink()
    assert "did not finish" in _fails(str(runs["seed0"]), str(unfinished), "--out", str(tmp_path / "m"))
    assert "at least two" in _fails(str(runs["seed0"]), "--out", str(tmp_path / "m"))
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "x").write_text("")
    assert "not empty" in _fails(str(runs["seed0"]), str(runs["seed1"]), "--out", str(tmp_path / "full"))
    assert not (tmp_path / "m").exists()
