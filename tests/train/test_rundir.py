"""The run directory: one writer at a time, torn metrics, leftovers of a kill, divergence."""

import json
import subprocess
import sys
import textwrap

import pytest
import torch

from sslab.errors import UserError
from sslab.train.rundir import DIVERGED_FILE, Diverged, Run


def new_run(tmp_path) -> Run:
    run = Run.create(tmp_path, "x")
    run.save_config({"recipe": "x", "config": {"lr": 0.5, "epochs": 3}})
    return run


def test_a_second_writer_is_refused_naming_the_holder(tmp_path):
    run = new_run(tmp_path)
    other = subprocess.run([sys.executable, "-c", textwrap.dedent(f"""
        from sslab.train.rundir import Run
        from sslab.errors import UserError
        try:
            Run.open({str(run.root)!r}).prepare_resume()
        except UserError as exc:
            print(exc)
        """)], capture_output=True, text=True, timeout=60)
    assert "is being written by another sslab (pid" in other.stdout
    assert "two writers at once would lose records" in other.stdout
    run.release()
    again = Run.open(run.root)
    again.prepare_resume()  # free once the first writer is gone
    again.release()


def test_resume_drops_a_torn_last_line_and_refuses_a_damaged_middle(tmp_path):
    run = new_run(tmp_path)
    run.log(seed=0, phase="a", epoch=1)
    run.mark("a")
    run.release()
    with open(run.metrics_path, "a") as fh:
        fh.write('{"seed": 0, "pha')
    resumed = Run.open(run.root)
    resumed.prepare_resume()
    assert [r.get("phase") for r in resumed.records()] == ["a", None]
    assert run.metrics_path.read_text().endswith("}\n")
    resumed.release()
    lines = run.metrics_path.read_text().splitlines()
    run.metrics_path.write_text("\n".join(["garbage", *lines]) + "\n")
    with pytest.raises(UserError, match="line 1 is damaged"):
        Run.open(run.root).records()


def test_resume_removes_temporary_files_a_kill_left_and_keeps_the_summary(tmp_path):
    run = new_run(tmp_path)
    run.write_summary({"text": "done"})
    (run.figures / ".curves.png.abc123.tmp").write_bytes(b"half")
    (run.root / ".metrics.jsonl.x1.tmp").write_bytes(b"half")
    run.release()
    resumed = Run.open(run.root)
    resumed.prepare_resume()
    assert not list(run.root.rglob("*.tmp"))
    assert resumed.complete and resumed.summary() == {"text": "done"}


def test_a_damaged_summary_is_one_line(tmp_path):
    run = new_run(tmp_path)
    (run.root / "summary.json").write_text("{not json")
    with pytest.raises(UserError, match="summary.json is damaged"):
        run.summary()


def test_a_nan_loss_stops_the_run_marks_it_and_resume_refuses_it(tmp_path):
    run = new_run(tmp_path)
    run.log(seed=0, phase="train", epoch=1, loss=1.0)
    with pytest.raises(Diverged, match=r"diverged in train, seed 0, epoch 2 \(loss is nan\).*lr=0.5"):
        run.log(seed=0, phase="train", epoch=2, loss=float("nan"))
    assert len(run.records()) == 1 and json.loads((run.root / DIVERGED_FILE).read_text())["epoch"] == 2
    run.release()
    with pytest.raises(UserError, match="cannot be resumed"):
        Run.open(run.root).prepare_resume()
    with pytest.raises(UserError, match="training diverged"):
        Run.open(run.root).summary()


def test_a_stage_whose_weights_blow_up_stops_before_its_checkpoint(tmp_path):
    run = new_run(tmp_path)
    model = torch.nn.Linear(2, 1)
    stage = run.stage("seed0/m", model=model)
    with pytest.raises(Diverged, match=r"seed0/m, epoch 2 \(the weights of model hold NaN or inf\)"):
        for epoch in stage.epochs(3):
            if epoch == 1:
                with torch.no_grad():
                    model.weight.fill_(float("inf"))
    saved = run.stage("seed0/m", model=torch.nn.Linear(2, 1))
    assert saved.restore() == 1  # the diverged epoch was never checkpointed
