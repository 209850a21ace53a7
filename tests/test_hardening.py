"""Hardening: what an adversarial user tries, and that each ends clean.

Each case does what a user would (mostly through ``sslab.cli.main``, in this process, so the
module stays fast) and checks the standard: exit code 2 for bad input (the documented code
otherwise), exactly one ``sslab: error:`` line and it is the last, no traceback, nothing lost,
nothing written outside its folder. The cases' outcomes make the table in docs/hardening.md:
``test_the_table_in_docs_is_current`` fails when the table and the measured outcomes differ;
``SSLAB_WRITE_HARDENING=1 pytest tests/test_hardening.py`` writes it again. One smoke run of
`augment` (a session fixture) is copied and damaged by the run-directory cases.
"""

from __future__ import annotations

import errno
import io
import json
import os
import pickle
import re
import shutil
import struct
import tarfile
import traceback
import zlib
from contextlib import redirect_stderr
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np
import pytest
import torch
import yaml

import sslab_testing
from sslab_testing import REPO, make_nested_link_escape, sigint_as_in_a_terminal

DOC = REPO / "docs" / "hardening.md"
OUTCOMES: dict[str, tuple[str, str, str]] = {}  # case id -> (area, exit, what sslab said)


# ---- running a command as a user would ------------------------------------------------------
@dataclass
class Result:
    code: int | str
    out: str
    err: str

    @property
    def line(self) -> str:
        lines = [x for x in self.err.strip().splitlines() if x.strip()]
        return lines[-1] if lines else (self.out.strip().splitlines() or [""])[-1]


def cli(*args: str) -> Result:
    """``sslab ARGS`` in this process; an exception escaping main is what a user sees as a traceback."""
    proc = sslab_testing.cli(*args, traceback_as_outcome=True)
    return Result(proc.returncode, proc.stdout, proc.stderr)


def api(fn: Callable[[], object]) -> Result:
    """A library call as the CLI reports it: a UserError is exit 2 and one line."""
    from sslab.errors import UserError

    err = io.StringIO()
    try:
        with redirect_stderr(err):
            fn()
    except UserError as exc:
        return Result(2, "", err.getvalue() + f"sslab: error: {exc}\n")
    except BaseException:  # noqa: BLE001
        return Result("traceback", "", traceback.format_exc())
    return Result(0, "", err.getvalue())


def clean(result: Result, says: str, code: int = 2) -> None:
    """The standard: the exit code, one error line (the last), no traceback, the expected words."""
    assert "Traceback" not in result.err, result.err
    assert result.code == code, (result.code, result.err)
    errors = [x for x in result.err.splitlines() if "error:" in x]
    if code == 2:
        assert len(errors) == 1 and result.line == errors[0], result.err
    if code in (130, 143):  # a signal: one line, the last, no error line
        assert not errors and result.line.startswith("sslab: "), result.err
    assert says in result.line, (says, result.line)


# ---- fixtures ----------------------------------------------------------------------------------
@pytest.fixture(scope="session")
def smoke(tmp_path_factory) -> Path:
    """One finished smoke run of `augment` in the sequential layout (`--workers 1`: the damage cases name its
    files; tests/test_parallel.py damages the parallel layout's); cases damage copies of it."""
    from sslab.runner import run_recipe

    with redirect_stderr(io.StringIO()):
        run = run_recipe("augment", preset="smoke", out=tmp_path_factory.mktemp("smoke"), workers=1)
    return run.root


def numbers(run_dir: Path) -> list[dict]:
    """The metric records without the wall-clock fields: what must come out the same."""
    records = [json.loads(x) for x in (run_dir / "metrics.jsonl").read_text().splitlines() if x.strip()]
    return [{k: v for k, v in r.items() if k not in ("time", "images_per_s")} for r in records]


class Lab:
    def __init__(self, tmp: Path, smoke_dir: Path | None):
        self.tmp, self.smoke_dir = tmp, smoke_dir

    def copy(self, name: str = "run") -> Path:
        dst = self.tmp / name
        shutil.copytree(self.smoke_dir, dst)
        (dst / ".lock").unlink(missing_ok=True)
        return dst

    def edit_config(self, run: Path, fn: Callable[[dict], object]) -> None:
        """Change config.yaml in place (``fn`` edits the dict)."""
        conf = yaml.safe_load((run / "config.yaml").read_text())
        fn(conf)
        (run / "config.yaml").write_text(yaml.safe_dump(conf, sort_keys=False))

    def nothing_new(self, folder: Path) -> None:
        assert not folder.exists() or not any(folder.iterdir()), f"{folder} has {list(folder.iterdir())}"


def inject(monkeypatch, code: int, when: Callable[[str], bool]) -> None:
    """Make the atomic rename of matching paths fail as the OS would (ENOSPC, EROFS ...)."""
    real = os.replace

    def failing(src, dst, *a, **k):
        if when(str(dst)):
            raise OSError(code, os.strerror(code), str(dst))
        return real(src, dst, *a, **k)

    monkeypatch.setattr(os, "replace", failing)


# ---- security --------------------------------------------------------------------------------
def extract(lab: Lab, build: Callable[[Path], None], suffix: str = ".tar") -> Result:
    from sslab.data.download import safe_extract

    archive = lab.tmp / f"a{suffix}"
    build(archive)
    result = api(lambda: safe_extract(archive, lab.tmp / "out"))
    outside = sorted(p.name for p in lab.tmp.iterdir()) == sorted([archive.name, "out"])
    assert outside, f"something was written beside the target: {list(lab.tmp.iterdir())}"
    lab.nothing_new(lab.tmp / "out")
    return result


def tar_of(*members: tuple[str, bytes, str]) -> Callable[[Path], None]:
    def build(path: Path) -> None:
        with tarfile.open(path, "w") as tf:
            for name, kind, link in members:
                info = tarfile.TarInfo(name)
                if kind == b"file":
                    info.size = 5
                    tf.addfile(info, io.BytesIO(b"hello"))
                else:
                    info.type, info.linkname = kind, link
                    tf.addfile(info)
    return build


def case_nested_links(lab):
    return extract(lab, make_nested_link_escape), "is a link"


def case_inner_symlink(lab):
    return extract(lab, tar_of(("d/x", b"file", ""), ("d/l", tarfile.SYMTYPE, "x"))), "is a link"


def case_hardlink(lab):
    return extract(lab, tar_of(("x", b"file", ""), ("h", tarfile.LNKTYPE, "x"))), "is a link"


def case_dotdot(lab):
    return extract(lab, tar_of(("d/../../evil.txt", b"file", ""))), "would be written outside"


def case_absolute(lab):
    return extract(lab, tar_of(("/tmp/sslab-evil.txt", b"file", ""))), "would be written outside"


def case_device(lab):
    return extract(lab, tar_of(("dev", tarfile.CHRTYPE, ""))), "device, pipe"


def case_zip_dotdot(lab):
    import zipfile

    def build(path):
        with zipfile.ZipFile(path, "w") as zf:
            zf.writestr("../evil.txt", "x")
    return extract(lab, build, ".zip"), "would be written outside"


def case_zip_symlink(lab):
    import stat
    import zipfile

    def build(path):
        with zipfile.ZipFile(path, "w") as zf:
            info = zipfile.ZipInfo("link")
            info.external_attr = (stat.S_IFLNK | 0o777) << 16
            zf.writestr(info, "/etc/passwd")
    return extract(lab, build, ".zip"), "is a link or special file"


# ---- data loss and write failures ---------------------------------------------------------------
def case_two_writers(lab):
    from sslab.train.rundir import Run

    run = lab.copy()
    before = (run / "metrics.jsonl").read_bytes()
    holder = Run.open(run)
    holder.claim()
    try:
        result = cli("run", "--resume", run)
    finally:
        holder.release()
    assert (run / "metrics.jsonl").read_bytes() == before
    return result, "is being written by another sslab (pid"


def case_refinish_fails(lab, monkeypatch):
    run = lab.copy()
    summary = (run / "summary.json").read_bytes()
    inject(monkeypatch, errno.ENOSPC, lambda p: p.endswith("report.html"))
    result = cli("run", "--resume", run)
    assert (run / "summary.json").read_bytes() == summary, "a finished run must stay finished"
    return result, "No space left on device"


def case_disk_full_midrun(lab, monkeypatch):
    """The disk fills while the second arm checkpoints; after freeing space, resume ends with the same numbers."""
    out = lab.tmp / "runs"
    with monkeypatch.context() as m:
        inject(m, errno.ENOSPC, lambda p: p.endswith("seed0-augmented.state.safetensors"))
        # --workers 1: the injected failure reaches this process only, not a worker process
        result = cli("run", "augment", "--preset", "smoke", "--workers", "1", "--out", out)
    (run,) = out.iterdir()
    assert not (run / "summary.json").exists() and not list(run.rglob("*.tmp"))
    again = cli("run", "--resume", run)
    assert again.code == 0, again.err
    assert numbers(run) == numbers(lab.smoke_dir), "the resumed run must give the same numbers"
    return result, "then continue with `sslab run --resume"


def case_read_only_out(lab, monkeypatch):
    inject(monkeypatch, errno.EROFS, lambda p: True)
    result = cli("run", "augment", "--preset", "smoke", "epochs=1", "--out", lab.tmp / "runs")
    return result, "Read-only file system"


def case_out_under_file(lab):
    (lab.tmp / "file").write_text("x")
    return cli("run", "augment", "--preset", "smoke", "--out", lab.tmp / "file" / "runs"), "Not a directory"


def case_name_too_long(lab):
    return cli("run", "augment", "--preset", "smoke", "--out", lab.tmp / ("n" * 300)), "File name too long"


def case_download_root_file(lab):
    (lab.tmp / "file").write_text("x")
    return cli("data", "download", "cifar10", "--root", lab.tmp / "file"), "is a file"


def case_tmp_leftovers(lab):
    run = lab.copy()
    (run / "figures" / ".curves.png.k1ll3d.tmp").write_bytes(b"half a figure")
    result = cli("run", "--resume", run)
    assert not list(run.rglob("*.tmp"))
    return result, "report at"


def case_torn_metrics(lab):
    run = lab.copy()
    with open(run / "metrics.jsonl", "a") as fh:
        fh.write('{"seed": 0, "phase": "basel')
    result = cli("run", "--resume", run)
    assert numbers(run) == numbers(lab.smoke_dir)
    return result, "report at"


def stop_midway(lab, sig) -> tuple[Result, Path]:
    """Start a smoke run as a user would (a process), send ``sig`` after its first record."""
    import signal  # noqa: F401  (the caller passes signal.SIGINT / SIGTERM)
    import subprocess
    import sys
    import time

    out = lab.tmp / "runs"
    proc = subprocess.Popen([sys.executable, "-m", "sslab", "run", "augment", "--preset", "smoke", "--out", str(out)],
                            cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env={**os.environ, "PYTHONUNBUFFERED": "1"}, preexec_fn=sigint_as_in_a_terminal)
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline and proc.poll() is None:
        metrics = list(out.glob("*/metrics.jsonl")) + list(out.glob("*/seeds/*.jsonl"))  # either layout
        if any(m.read_text().strip() for m in metrics):
            break
        time.sleep(0.05)
    proc.send_signal(sig)
    stdout, stderr = proc.communicate(timeout=120)
    (run,) = out.iterdir()
    assert not (run / "summary.json").exists(), "the run finished before it could be stopped"
    return Result(proc.returncode, stdout, stderr), run


def case_ctrl_c(lab):
    import signal

    result, run = stop_midway(lab, signal.SIGINT)
    return result, f"sslab: interrupted; continue with `sslab run --resume {run}`"


def case_sigterm(lab):
    import signal

    result, run = stop_midway(lab, signal.SIGTERM)
    again = cli("run", "--resume", run)
    assert again.code == 0, again.err
    assert numbers(run) == numbers(lab.smoke_dir), "the resumed run must give the same numbers"
    return result, f"sslab: stopped by SIGTERM; continue with `sslab run --resume {run}`"


# ---- values --------------------------------------------------------------------------------------
def new_run(lab, *args):
    result = cli("run", *args, "--out", lab.tmp / "runs")
    lab.nothing_new(lab.tmp / "runs")
    return result


def case_lr_nan(lab):
    return new_run(lab, "augment", "lr=nan"), "lr=nan: must be a finite number"


def case_brighten_nan(lab):
    return new_run(lab, "augment", "brighten=nan"), "brighten=nan: must be a finite number"


def case_dropout_nan(lab):
    return new_run(lab, "denoise", "dropout=nan"), "dropout=nan: must be a finite number"


def case_snr_low_nan(lab):
    return new_run(lab, "denoise", "snr_low=nan"), "snr_low=nan: must be a finite number"


def case_loss_weight_inf(lab):
    return new_run(lab, "denoise", "loss_weight=inf"), "loss_weight=inf: must be a finite number"


def case_seeds_zero(lab):
    return new_run(lab, "augment", "--seeds", "0"), "--seeds: 0 must be at least 1"


def denoise_args(lab, *extra):
    return ("denoise", "--checkpoint", lab.tmp, "--input", lab.tmp, "--output", lab.tmp / "o", *extra)


def case_chunk_nan(lab):
    return cli(*denoise_args(lab, "--chunk-ms", "nan")), "--chunk-ms: 'nan' is not a finite number"


def case_chunk_inf(lab):
    return cli(*denoise_args(lab, "--chunk-ms", "inf")), "--chunk-ms: 'inf' is not a finite number"


def case_chunk_zero(lab):
    return cli(*denoise_args(lab, "--chunk-ms", "0")), "--chunk-ms: 0 must be more than 0"


def case_chunk_negative(lab):
    return cli(*denoise_args(lab, "--chunk-ms", "-5")), "--chunk-ms: -5 must be more than 0"


def case_seconds_zero(lab):
    return cli("sample", "--checkpoint", lab.tmp, "--genre", "x", "--seconds", "0"), "--seconds: 0 must be more than 0"


def case_gl_iters_negative(lab):
    return (cli("sample", "--checkpoint", lab.tmp, "--genre", "x", "--griffin-lim-iters", "-3"),
            "--griffin-lim-iters: -3 must be at least 0")


def make_denoise_args(lab, *extra):
    return ("data", "make-denoise", "--speech", lab.tmp, "--noise", lab.tmp, "--out", lab.tmp / "o", *extra)


def case_snr_db_nan(lab):
    return cli(*make_denoise_args(lab, "--snr-db", "nan", "nan")), "--snr-db: 'nan' is not a finite number"


def case_sample_rate_zero(lab):
    return cli(*make_denoise_args(lab, "--sample-rate", "0")), "--sample-rate: 0 must be at least 1000"


def case_diverges(lab, monkeypatch):
    """The loss turns NaN in the first epoch (the test makes cross-entropy NaN: no option within its limits
    makes the small CNN diverge under Adam)."""
    real = torch.nn.functional.cross_entropy
    monkeypatch.setattr(torch.nn.functional, "cross_entropy", lambda *a, **k: real(*a, **k) * float("nan"))
    out = lab.tmp / "runs"
    result = cli("run", "augment", "--preset", "smoke", "--workers", "1", "--out", out)  # the patch is this process's
    (run,) = out.iterdir()
    assert (run / "diverged.json").is_file() and not (run / "summary.json").exists()
    again = cli("run", "--resume", run)
    clean(again, "cannot be resumed")
    return result, "training diverged in"


def nan_weights(model: torch.nn.Module) -> torch.nn.Module:
    with torch.no_grad():
        next(model.parameters()).fill_(float("nan"))
    return model


def case_denoise_nan_model(lab):
    from sslab.audio.io import write_wav
    from sslab.audio.models import RecurrentMasker, architecture
    from sslab.train.checkpoint import save_model

    model = nan_weights(RecurrentMasker(513, "gru", hidden=8))
    save_model(lab.tmp / "m.safetensors", model, {"recipe": "denoise", "arm": "rnn", "architecture": architecture(model),
                                                  "sample_rate": 16000, "n_fft": 1024, "hop": 512})
    write_wav(lab.tmp / "in" / "a.wav", np.zeros(16000, np.float32) + 0.1, 16000)
    result = cli("denoise", "--checkpoint", lab.tmp / "m.safetensors", "--input", lab.tmp / "in",
                 "--output", lab.tmp / "o")
    assert not (lab.tmp / "o").exists()
    return result, "holds NaN or infinite weights"


def case_sample_nan_model(lab):
    from sslab.audio.generative import Sampler, save_sampler
    from sslab.audio.spectral import SpectralDomain

    domain = SpectralDomain("stft", 8000, 128, 32)
    sampler = nan_weights(Sampler(domain.bins, 2, z_dim=4, hidden=16, genre_dim=4))
    save_sampler(lab.tmp / "s.safetensors", sampler, domain, ["classical", "rock"], {"griffin_lim_iters": 2})
    result = cli("sample", "--checkpoint", lab.tmp / "s.safetensors", "--genre", "rock", "--n", "1",
                 "--seconds", "0.5", "--out", lab.tmp / "o")
    assert not (lab.tmp / "o").exists()
    return result, "holds NaN or infinite weights"


def case_score_silent_reference(lab):
    from sslab.audio.io import write_wav

    rng = np.random.default_rng(0)
    for i in range(3):
        s = (0.1 * rng.standard_normal(8000)).astype(np.float32) * (i != 2)
        write_wav(lab.tmp / "ref" / f"tes{i}.wav", s, 16000)
        write_wav(lab.tmp / "est" / f"tex{i}.wav", s + 0.01 * rng.standard_normal(8000).astype(np.float32), 16000)
    result = cli("score", "--reference", lab.tmp / "ref", "--estimate", lab.tmp / "est")
    assert "mean over 2 files (1 silent reference(s) left out): SNR 20" in result.out, result.out
    return Result(result.code, "", result.out.strip().splitlines()[-1] + "\n"), "left out of the mean"


# ---- damaged run directories ---------------------------------------------------------------------
def resume_damaged(lab, damage: Callable[[Path], None], *extra: str) -> Result:
    run = lab.copy()
    damage(run)
    before = {p: p.read_bytes() for p in run.rglob("*") if p.is_file()}
    result = cli("run", "--resume", run, *extra)
    after = {p: p.read_bytes() for p in run.rglob("*") if p.is_file() and p.name != ".lock"}
    assert after == {p: b for p, b in before.items() if p.name != ".lock"}, "a refused resume must change nothing"
    return result


def case_config_empty(lab):
    return resume_damaged(lab, lambda r: (r / "config.yaml").write_text("")), "config.yaml is empty"


def case_config_list(lab):
    return resume_damaged(lab, lambda r: (r / "config.yaml").write_text("- 1\n- 2\n")), "is a list, not a mapping"


def case_epochs_abc(lab):
    return (resume_damaged(lab, lambda r: lab.edit_config(r, lambda c: c["config"].update(epochs="abc"))),
            "epochs='abc': expected a whole number")


def case_epochs_zero(lab):
    return (resume_damaged(lab, lambda r: lab.edit_config(r, lambda c: c["config"].update(epochs=0))),
            "epochs=0: must be at least 1")


def case_epochs_negative(lab):
    return (resume_damaged(lab, lambda r: lab.edit_config(r, lambda c: c["config"].update(epochs=-1))),
            "epochs=-1: must be at least 1")


def case_lr_nan_in_file(lab):
    return (resume_damaged(lab, lambda r: lab.edit_config(r, lambda c: c["config"].update(lr=float("nan")))),
            "lr=nan: must be a finite number")


def case_config_key_missing(lab):
    return (resume_damaged(lab, lambda r: lab.edit_config(r, lambda c: c.pop("config"))),
            "has no `config:` mapping")


def case_recipe_changed(lab):
    return (resume_damaged(lab, lambda r: lab.edit_config(r, lambda c: c.update(recipe="denoise"))),
            "is not an option of this recipe")


def case_recipe_unknown(lab):
    return (resume_damaged(lab, lambda r: lab.edit_config(r, lambda c: c.update(recipe="nope"))),
            "`recipe: nope` is not one of")


def case_threads_zero(lab):
    return (resume_damaged(lab, lambda r: lab.edit_config(r, lambda c: c.update(threads=0))),
            "`threads: 0` must be at least 1")


def case_other_recipes_checkpoint(lab):
    from sslab.train.checkpoint import save_state

    def damage(run):
        save_state(run / "checkpoints" / "seed0-baseline.state.safetensors",
                   {"epoch": 2, "metrics_count": 1, "model": torch.nn.GRU(4, 4).state_dict()})
    return resume_damaged(lab, damage), "does not fit this run"


def case_checkpoint_meta_not_json(lab):
    from safetensors.torch import save_file

    def damage(run):
        save_file({"x": torch.zeros(1)}, str(run / "checkpoints" / "seed0-baseline.state.safetensors"),
                  metadata={"sslab_state": "{not json"})
    return resume_damaged(lab, damage), "has damaged metadata"


def case_metrics_damaged_middle(lab):
    def damage(run):
        lines = (run / "metrics.jsonl").read_text().splitlines()
        lines[1] = lines[1][:10]
        (run / "metrics.jsonl").write_text("\n".join(lines) + "\n")
    return resume_damaged(lab, damage), "line 2 is damaged"


def case_resume_other_recipe(lab):
    run = lab.copy()
    lab.edit_config(run, lambda c: c.update(recipe="denoise"))
    return cli("run", "augment", "--resume", run), "is a run of denoise, not of augment"


def case_resume_with_option(lab):
    run = lab.copy()
    before = numbers(run)
    result = cli("run", "--resume", run, "epochs=5")
    assert numbers(run) == before
    return result, "it takes no recipe name and no key=value options"


def case_resume_missing_dir(lab):
    return cli("run", "--resume", lab.tmp / "nope"), "no such run directory"


def case_report_summary_corrupt(lab):
    run = lab.copy()
    (run / "summary.json").write_text('{"text": ')
    return cli("report", run, "--out", lab.tmp / "r"), "summary.json is damaged"


def case_report_config_list(lab):
    run = lab.copy()
    (run / "config.yaml").write_text("- 1\n")
    return cli("report", run, "--out", lab.tmp / "r"), "is a list, not a mapping"


def case_report_figure_deleted(lab):
    run = lab.copy()
    next((run / "figures").glob("*.png")).unlink()
    return cli("report", run, "--out", lab.tmp / "r"), "is missing; draw it again with `sslab run --resume"


def case_report_study_corrupt(lab):
    study = lab.tmp / "all"
    study.mkdir()
    shutil.copytree(lab.smoke_dir, study / "augment")
    (study / "study.json").write_text("{")
    return cli("report", study, "--out", lab.tmp / "r"), "study.json is unreadable"


def case_resume_study_corrupt(lab):
    study = lab.tmp / "all"
    study.mkdir()
    (study / "study.json").write_text('{"recipes": "augment"}')
    return cli("run", "--resume", study), "study.json is damaged"


def case_sample_of_other_recipe(lab):
    return cli("sample", "--checkpoint", lab.copy(), "--genre", "rock"), "is a run of augment, not of generate"


def case_sample_config_empty(lab):
    run = lab.copy()
    (run / "config.yaml").write_text("")
    return cli("sample", "--checkpoint", run, "--genre", "rock"), "config.yaml is empty"


def case_denoise_meta_not_json(lab):
    from safetensors.torch import save_file

    save_file({"x": torch.zeros(1)}, str(lab.tmp / "m.safetensors"), metadata={"sslab_meta": "[1, 2"})
    return (cli("denoise", "--checkpoint", lab.tmp / "m.safetensors", "--input", lab.tmp, "--output", lab.tmp / "o"),
            "has damaged metadata")


def case_denoise_sample_rate_zero(lab):
    from sslab.audio.models import RecurrentMasker, architecture
    from sslab.train.checkpoint import save_model

    model = RecurrentMasker(513, "gru", hidden=8)
    save_model(lab.tmp / "m.safetensors", model, {"recipe": "denoise", "architecture": architecture(model),
                                                  "sample_rate": 0, "n_fft": 1024, "hop": 512})
    return (cli("denoise", "--checkpoint", lab.tmp / "m.safetensors", "--input", lab.tmp, "--output", lab.tmp / "o"),
            "`sample_rate: 0` is malformed")


# ---- data readers -----------------------------------------------------------------------------------
def image_folders(lab, train_classes, test_classes) -> Path:
    from PIL import Image

    root = lab.tmp / "data"
    for split, classes in (("train", train_classes), ("test", test_classes)):
        for c in classes:
            (root / split / c).mkdir(parents=True)
            for i in range(3):
                Image.new("RGB", (32, 32), (i * 40, 10, 10)).save(root / split / c / f"{i}.png")
    return root


def run_on_data(lab, root: Path) -> Result:
    return new_run(lab, "augment", "--preset", "smoke", "--data", root)


def png_header_only(path: Path, width: int, height: int) -> None:
    """A PNG whose header claims width x height, with a few bytes of (compressed) data."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    idat = zlib.compress(b"\0" * 4096, 9)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0))
                     + chunk(b"IDAT", idat) + chunk(b"IEND", b""))


def case_decompression_bomb(lab):
    root = image_folders(lab, ["a", "b"], ["a", "b"])
    png_header_only(root / "train" / "a" / "bomb.png", 20_000, 20_000)
    return run_on_data(lab, root), "bomb.png: not a readable image"


def case_train_class_missing(lab):
    return run_on_data(lab, image_folders(lab, ["a", "b"], ["a", "b", "c"])), "no counterpart in"


def case_test_class_missing(lab):
    return run_on_data(lab, image_folders(lab, ["a", "b", "c"], ["a", "b"])), "class folder 'c' is missing"


def cifar_batches(lab, labels, protocol=2) -> Path:
    root = lab.tmp / "cifar-10-batches-py"
    root.mkdir()
    for name in [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]:
        batch = {b"data": np.zeros((len(labels), 3072), np.uint8), b"labels": list(labels)}
        (root / name).write_bytes(pickle.dumps(batch, protocol=protocol))
    return root


def case_cifar_string_labels(lab):
    return run_on_data(lab, cifar_batches(lab, ["cat", "dog"])), "'labels' are not whole numbers 0..9"


def case_cifar_protocol5(lab):
    from sslab.data.cifar10 import load_cifar10

    root = cifar_batches(lab, [1, 2, 3], protocol=5)
    result = api(lambda: load_cifar10(root))
    train, _ = load_cifar10(root)
    assert len(train) == 15 and train.labels[:3].tolist() == [1, 2, 3]
    return Result(result.code, "", "read 15 training images\n"), "read 15 training images"


def case_cifar_code_pickle(lab):
    class Evil:
        def __reduce__(self):
            return (os.system, ("touch " + str(lab.tmp / "pwned"),))
    root = lab.tmp / "cifar-10-batches-py"
    root.mkdir()
    (root / "data_batch_1").write_bytes(pickle.dumps({b"data": Evil()}))
    result = run_on_data(lab, root)
    assert not (lab.tmp / "pwned").exists()
    return result, "refusing to load posix.system"


def speech_and_noise(lab, utterance: np.ndarray, noise: np.ndarray) -> tuple[Path, Path]:
    from sslab.audio.io import write_wav

    rng = np.random.default_rng(0)
    for i in range(4):
        speech = utterance if i == 0 else (0.1 * rng.standard_normal(16000)).astype(np.float32)
        write_wav(lab.tmp / "speech" / f"s{i}" / "u.wav", speech, 16000)
    write_wav(lab.tmp / "noise" / "n.wav", noise, 16000)
    return lab.tmp / "speech", lab.tmp / "noise"


def case_make_denoise_short(lab):
    speech, noise = speech_and_noise(lab, np.full(50, 0.1, np.float32), np.full(160000, 0.1, np.float32))
    result = cli("data", "make-denoise", "--speech", speech, "--noise", noise, "--out", lab.tmp / "o")
    lab.nothing_new(lab.tmp / "o")
    return result, "only 50 samples"


def case_make_denoise_silent_noise(lab):
    speech, noise = speech_and_noise(lab, np.full(16000, 0.1, np.float32), np.zeros(160000, np.float32))
    result = cli("data", "make-denoise", "--speech", speech, "--noise", noise, "--out", lab.tmp / "o")
    lab.nothing_new(lab.tmp / "o")
    return result, "n.wav: silent"


# ---- numerics ------------------------------------------------------------------------------------------
def case_int16_round_trip(lab):
    import soundfile as sf

    from sslab.audio.io import read_audio
    from sslab.data.gtzan import to_int16

    every = np.arange(-32768, 32768, dtype=np.int16)
    sf.write(lab.tmp / "all.wav", every, 22050, subtype="PCM_16")
    samples, _, _ = read_audio(lab.tmp / "all.wav")
    exact = int((to_int16(samples) == every).sum())
    assert exact == every.size
    return Result(0, "", f"{exact} of {every.size} 16-bit values come back exactly\n"), "65536 of 65536"


def case_griffin_lim_length(lab):
    from sslab.audio.spectral import griffin_lim

    out = griffin_lim(torch.rand(1, 65, 10), 128, 32, iters=1, length=300, generator=torch.Generator().manual_seed(0))
    assert out.shape[-1] == 300
    return Result(0, "", f"length=300 gives {out.shape[-1]} samples\n"), "gives 300 samples"


def case_claim_nan_and_none(lab):
    from sslab.report.stats import claim

    c = claim("x", [1.0, float("nan"), None])
    assert c["n_seeds"] == 1 and c["values"] == [1.0] and c["missing"] == 2
    return Result(0, "", f"[1.0, nan, None] counts {c['n_seeds']} seed ({c['missing']} missing)\n"), "counts 1 seed"


# ---- the cases, in the table's order ------------------------------------------------------------------
CASES = [
    ("security", "archive: nested symlinks whose resolved path exceeds PATH_MAX (CVE-2025-4517)", case_nested_links),
    ("security", "archive: a symlink pointing inside the target", case_inner_symlink),
    ("security", "archive: a hard link", case_hardlink),
    ("security", "archive: `d/../../evil.txt`", case_dotdot),
    ("security", "archive: an absolute path", case_absolute),
    ("security", "archive: a device member", case_device),
    ("security", "zip: `../evil.txt`", case_zip_dotdot),
    ("security", "zip: a symlink member", case_zip_symlink),
    ("security", "CIFAR batch pickle that runs `os.system`", case_cifar_code_pickle),
    ("data loss", "`--resume` while another process writes the run", case_two_writers),
    ("data loss", "`--resume` of a finished run whose report write fails (disk full)", case_refinish_fails),
    ("data loss", "disk full while a checkpoint is written, then `--resume`", case_disk_full_midrun),
    ("data loss", "read-only `--out` (EROFS from the write layer)", case_read_only_out),
    ("data loss", "`--out` under a file", case_out_under_file),
    ("data loss", "`--out` name over 255 bytes", case_name_too_long),
    ("data loss", "`data download --root FILE`", case_download_root_file),
    ("data loss", "`.NAME.*.tmp` left by a kill, then `--resume`", case_tmp_leftovers),
    ("data loss", "torn last line in metrics.jsonl, then `--resume`", case_torn_metrics),
    ("data loss", "Ctrl-C (SIGINT) during a run", case_ctrl_c),
    ("data loss", "SIGTERM during a run, then `--resume` (same numbers)", case_sigterm),
    ("values", "`run augment lr=nan`", case_lr_nan),
    ("values", "`run augment brighten=nan`", case_brighten_nan),
    ("values", "`run denoise dropout=nan`", case_dropout_nan),
    ("values", "`run denoise snr_low=nan`", case_snr_low_nan),
    ("values", "`run denoise loss_weight=inf`", case_loss_weight_inf),
    ("values", "`run augment --seeds 0`", case_seeds_zero),
    ("values", "`denoise --chunk-ms nan`", case_chunk_nan),
    ("values", "`denoise --chunk-ms inf`", case_chunk_inf),
    ("values", "`denoise --chunk-ms 0`", case_chunk_zero),
    ("values", "`denoise --chunk-ms -5`", case_chunk_negative),
    ("values", "`sample --seconds 0`", case_seconds_zero),
    ("values", "`sample --griffin-lim-iters -3`", case_gl_iters_negative),
    ("values", "`make-denoise --snr-db nan nan`", case_snr_db_nan),
    ("values", "`make-denoise --sample-rate 0`", case_sample_rate_zero),
    ("values", "training diverges (NaN loss in epoch 1), then `--resume`", case_diverges),
    ("values", "`denoise` with a model holding NaN weights", case_denoise_nan_model),
    ("values", "`sample` with a sampler holding NaN weights", case_sample_nan_model),
    ("values", "`score` with a silent reference (exit 1: a reference unscored)", case_score_silent_reference),
    ("damaged run", "`--resume`: empty config.yaml", case_config_empty),
    ("damaged run", "`--resume`: list-shaped config.yaml", case_config_list),
    ("damaged run", "`--resume`: `epochs: abc`", case_epochs_abc),
    ("damaged run", "`--resume`: `epochs: 0`", case_epochs_zero),
    ("damaged run", "`--resume`: `epochs: -1`", case_epochs_negative),
    ("damaged run", "`--resume`: `lr: .nan`", case_lr_nan_in_file),
    ("damaged run", "`--resume`: `config:` key missing", case_config_key_missing),
    ("damaged run", "`--resume`: `recipe:` changed to another recipe", case_recipe_changed),
    ("damaged run", "`--resume`: unknown recipe", case_recipe_unknown),
    ("damaged run", "`--resume`: `threads: 0`", case_threads_zero),
    ("damaged run", "`--resume`: another recipe's checkpoint", case_other_recipes_checkpoint),
    ("damaged run", "`--resume`: non-JSON checkpoint metadata", case_checkpoint_meta_not_json),
    ("damaged run", "`--resume`: a damaged metrics line before the last", case_metrics_damaged_middle),
    ("damaged run", "`run augment --resume <a denoise run>`", case_resume_other_recipe),
    ("damaged run", "`run --resume RUN epochs=5`", case_resume_with_option),
    ("damaged run", "`run --resume` of a missing folder", case_resume_missing_dir),
    ("damaged run", "`report`: corrupt summary.json", case_report_summary_corrupt),
    ("damaged run", "`report`: list-shaped config.yaml", case_report_config_list),
    ("damaged run", "`report`: a figure deleted", case_report_figure_deleted),
    ("damaged run", "`report`: corrupt study.json", case_report_study_corrupt),
    ("damaged run", "`run --resume` of a study with a damaged study.json", case_resume_study_corrupt),
    ("damaged run", "`sample --checkpoint <an augment run>`", case_sample_of_other_recipe),
    ("damaged run", "`sample`: empty config.yaml", case_sample_config_empty),
    ("damaged run", "`denoise`: non-JSON model metadata", case_denoise_meta_not_json),
    ("damaged run", "`denoise`: model metadata `sample_rate: 0`", case_denoise_sample_rate_zero),
    ("data readers", "decompression-bomb PNG (20,000 x 20,000 in 4 KB)", case_decompression_bomb),
    ("data readers", "class folder in test/ but not in train/", case_train_class_missing),
    ("data readers", "class folder in train/ but not in test/", case_test_class_missing),
    ("data readers", "CIFAR batches with string labels", case_cifar_string_labels),
    ("data readers", "CIFAR batches pickled with protocol 5 (read, nothing executed)", case_cifar_protocol5),
    ("data readers", "`make-denoise` with a 50-sample utterance", case_make_denoise_short),
    ("data readers", "`make-denoise` with silent noise", case_make_denoise_silent_noise),
    ("numerics", "every 16-bit sample through read_audio and to_int16", case_int16_round_trip),
    ("numerics", "`griffin_lim(length=300)`", case_griffin_lim_length),
    ("numerics", "`stats.claim` with NaN and None values", case_claim_nan_and_none),
]
EXIT = {case_score_silent_reference: 1, case_ctrl_c: 130, case_sigterm: 143, case_tmp_leftovers: 0, case_torn_metrics: 0, case_cifar_protocol5: 0,
        case_int16_round_trip: 0, case_griffin_lim_length: 0, case_claim_nan_and_none: 0}


def _id(fn) -> str:
    return fn.__name__.removeprefix("case_")


@pytest.mark.parametrize("area, name, fn", CASES, ids=[_id(c[2]) for c in CASES])
def test_case(area, name, fn, tmp_path, request, monkeypatch):
    needs_run = any(n in fn.__code__.co_names for n in ("copy", "smoke_dir", "resume_damaged"))
    lab = Lab(tmp_path, request.getfixturevalue("smoke") if needs_run else None)
    args = (lab, monkeypatch) if "monkeypatch" in fn.__code__.co_varnames[:fn.__code__.co_argcount] else (lab,)
    result, says = fn(*args)
    clean(result, says, EXIT.get(fn, 2))
    line = result.line.replace(str(tmp_path), "TMP")
    if lab.smoke_dir is not None:
        line = line.replace(str(lab.smoke_dir.parent), "RUNS")
    line = re.sub(r"\d{8}-\d{6}(-\d+)?", "STAMP", line)
    line = re.sub(r"pid \d+ on \S+ since \S+ `[^`]*`", "pid N on HOST since TIME: `COMMAND`", line)
    line = re.sub(r"n{300}", "nnn...(300 bytes)", line)
    OUTCOMES[_id(fn)] = (area, name, str(result.code), line)


def table() -> str:
    rows = ["# Hardening: bad input, damaged runs and faults", "",
            "Each row is a case from `tests/test_hardening.py`, run by the test suite, with the exit code and "
            "the last line sslab printed (paths shortened: TMP is the case's folder, RUNS the smoke run's). "
            "Every one ends clean: the code in the table, one line, no traceback, nothing lost, nothing "
            "written outside its folder. Regenerate with "
            "`SSLAB_WRITE_HARDENING=1 python -m pytest -q tests/test_hardening.py`.", "",
            "| area | case | exit | what sslab says |", "|---|---|---|---|"]
    for area, name, fn in CASES:
        _, _, code, line = OUTCOMES[_id(fn)]
        rows.append(f"| {area} | {name} | {code} | {line.replace('|', '/')} |")
    return "\n".join(rows) + "\n"


def test_the_table_in_docs_is_current():
    missing = [_id(c[2]) for c in CASES if _id(c[2]) not in OUTCOMES]
    if missing:
        pytest.skip(f"{len(missing)} cases did not run in this session (run the whole module)")
    text = table()
    if os.environ.get("SSLAB_WRITE_HARDENING"):
        DOC.write_text(text)
    assert DOC.is_file() and DOC.read_text() == text, (
        "docs/hardening.md differs from the measured outcomes; regenerate it with "
        "`SSLAB_WRITE_HARDENING=1 python -m pytest -q tests/test_hardening.py` and review the diff")
