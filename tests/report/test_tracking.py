import sys

import numpy as np
import pytest
import yaml
from PIL import Image

from sslab.audio.io import write_wav
from sslab.cli import main
from sslab.errors import UserError
from sslab.report import tracking
from sslab.train.rundir import Run
from sslab_testing import sslab

pytest.importorskip("tensorboard", reason="tensorboard is an optional dependency (pip install 'sslab[tensorboard]')")
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator  # noqa: E402


def _events(logdir):
    acc = EventAccumulator(str(logdir), size_guidance={"scalars": 0, "images": 0, "audio": 0})
    acc.Reload()
    return acc


def test_records_become_scalars_and_new_files_images_and_clips(tmp_path):
    run = Run.create(tmp_path, "t")
    run.tracker = tracking.TensorBoardTracker(run.root / "tensorboard", watch=run.root, scan_every_s=0)
    for epoch in range(3):
        run.log(seed=0, phase="rnn", epoch=epoch, loss=1.0 / (epoch + 1), val_snr=float(epoch), note="text",
                flag=True, frames_per_s=1000 + epoch)
    run.mark("seed0/rnn")  # a resume mark: no scalar
    Image.fromarray(np.zeros((6, 9, 3), np.uint8)).save(run.figures / "curve.png")
    write_wav(run.root / "examples" / "ex0-rnn.wav", np.zeros(800, np.float32), 16000)
    (run.checkpoints / "ignored.png").write_bytes(b"not read")  # training state is never scanned
    run.log(seed=0, phase="rnn", epoch=3, loss=0.2)
    tracking.log_image(run, "views", np.full((4, 4, 3), 255, np.uint8), 3)
    tracking.log_audio(run, "clip", np.zeros(400, np.float32), 8000, 3)
    run.tracker.close()

    acc = _events(run.root / "tensorboard")
    tags = acc.Tags()
    assert set(tags["scalars"]) == {"seed0/rnn/loss", "seed0/rnn/val_snr", "seed0/rnn/frames_per_s"}
    snr = acc.Scalars("seed0/rnn/val_snr")
    assert [e.step for e in snr] == [0, 1, 2] and [e.value for e in snr] == [0.0, 1.0, 2.0]
    assert [e.step for e in acc.Scalars("seed0/rnn/loss")] == [0, 1, 2, 3]
    assert set(tags["images"]) == {"figures/curve", "views"}
    assert set(tags["audio"]) == {"examples/ex0-rnn", "clip"}
    assert acc.Audio("examples/ex0-rnn")[0].sample_rate == 16000
    # metrics.jsonl stays the record, untouched by the tracker.
    assert len(run.records()) == 5


def test_a_file_is_sent_again_only_when_it_changes(tmp_path):
    run = Run.create(tmp_path, "t")
    tracker = tracking.TensorBoardTracker(run.root / "tb", watch=run.root, scan_every_s=0)
    path = run.figures / "tsne.png"
    Image.fromarray(np.zeros((4, 4, 3), np.uint8)).save(path)
    tracker.scan(0)
    tracker.scan(1)
    Image.fromarray(np.full((4, 4, 3), 9, np.uint8)).save(path)
    import os

    os.utime(path, (1e9, 1e9))  # a different mtime, as a rewrite a second later would have
    tracker.scan(2)
    tracker.writer.close()
    assert [e.step for e in _events(run.root / "tb").Images("figures/tsne")] == [0, 2]


def test_unknown_or_missing_logger_is_a_user_error(monkeypatch):
    tracking.check("none")
    assert tracking.open_tracker("none", None) is None
    with pytest.raises(UserError, match="unknown logger"):
        tracking.check("wandb")
    monkeypatch.setitem(sys.modules, "torch.utils.tensorboard", None)  # as if tensorboard were not installed
    with pytest.raises(UserError, match=r"pip install 'sslab\[tensorboard\]'"):
        tracking.check("tensorboard")


def test_cli_logger_is_saved_printed_and_kept_on_resume(tmp_path, capsys):
    proc = sslab("run", "augment", "--preset", "smoke", "epochs=1", "synthetic_size=300", "logger=tensorboard",
                 "--out", str(tmp_path))
    assert proc.returncode == 0, proc.stderr[-2000:]
    (run_dir,) = tmp_path.iterdir()
    assert f"tensorboard --logdir {run_dir / 'tensorboard'}" in proc.stdout
    assert yaml.safe_load((run_dir / "config.yaml").read_text())["logger"] == "tensorboard"
    tags = _events(run_dir / "tensorboard").Tags()
    assert "seed0/baseline/val_acc" in tags["scalars"] and "seed0/augmented/val_acc" in tags["scalars"]
    assert any(t.startswith("figures/") for t in tags["images"])
    assert main(["run", "--resume", str(run_dir)]) == 0
    assert "tensorboard --logdir" in capsys.readouterr().out
    assert main(["run", "--resume", str(run_dir), "--logger", "tensorboard"]) == 2
    assert "drop --logger" in capsys.readouterr().err


def test_cli_refuses_an_unknown_logger(tmp_path, capsys):
    with pytest.raises(SystemExit) as exit_:
        main(["run", "augment", "--preset", "smoke", "--logger", "wandb", "--out", str(tmp_path)])
    assert exit_.value.code == 2 and "invalid choice" in capsys.readouterr().err
    assert main(["run", "augment", "--preset", "smoke", "logger=wandb", "--out", str(tmp_path)]) == 2
    assert "unknown logger" in capsys.readouterr().err and not any(tmp_path.iterdir())
