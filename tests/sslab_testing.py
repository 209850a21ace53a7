"""Helpers the tests share: paths to ../shared and a CLI runner."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("SSLAB_SHARED", REPO.parent / "shared"))
CIFAR_TARBALL = SHARED / "data" / "cifar10-jpeg.tar.gz"
NOISE_DIR = SHARED / "data" / "noise"


def sslab(*args: str, cwd: Path | None = None, timeout: float = 300, env: dict | None = None) -> subprocess.CompletedProcess:
    """Run the CLI as a user would (a subprocess), capturing its output."""
    full_env = {**os.environ, "PYTHONUNBUFFERED": "1", **(env or {})}
    return subprocess.run([sys.executable, "-m", "sslab", *args], cwd=cwd or REPO, capture_output=True, text=True,
                          timeout=timeout, env=full_env)


def kill_midway(args: list[str], out: Path, ready, timeout: float = 180) -> Path:
    """Start ``sslab ARGS``, SIGKILL it once ``ready(metric lines)`` holds; return the run folder.

    For a new run ``out`` is the folder passed as ``--out``; when ARGS resume a run
    (``run --resume RUN_DIR``) ``out`` is that run folder. This is how a user's run dies
    (power cut, OOM killer): no handler runs, files are as the last completed write left them.
    """
    import signal
    import time

    resuming = "--resume" in args
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    command = [sys.executable, "-m", "sslab", *args, *([] if resuming else ["--out", str(out)])]
    proc = subprocess.Popen(command, cwd=REPO, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + timeout
    run_dir = None
    try:
        while time.monotonic() < deadline and proc.poll() is None:
            found = [m for m in ([Path(out) / "metrics.jsonl"] if resuming else Path(out).glob("*/metrics.jsonl"))
                     if m.exists()]
            if found and ready(found[0].read_text().splitlines()):
                run_dir = found[0].parent
                break
            time.sleep(0.02)
        proc.send_signal(signal.SIGKILL)
    finally:
        proc.wait()
    assert run_dir is not None, "the run finished or never started before it could be killed"
    assert not (run_dir / "summary.json").exists(), "a killed run must not look complete"
    return run_dir


def make_nested_link_escape(path):
    """The CVE-2025-4517 pattern: a chain of symlinks whose resolved path exceeds PATH_MAX, so a
    resolve()-based check and Python 3.11's filter="data" both let ``escape/evil.txt`` through."""
    comp, steps, prefix = "d" * 247, "abcdefghijklmnop", ""
    import io
    import tarfile

    with tarfile.open(path, "w") as tar:
        for step in steps:
            folder = tarfile.TarInfo(f"{prefix}{comp}")
            folder.type = tarfile.DIRTYPE
            tar.addfile(folder)
            link = tarfile.TarInfo(f"{prefix}{step}")
            link.type, link.linkname = tarfile.SYMTYPE, comp
            tar.addfile(link)
            prefix += comp + "/"
        long_link = "/".join(steps) + "/" + "l" * 254
        link = tarfile.TarInfo(long_link)
        link.type, link.linkname = tarfile.SYMTYPE, "../" * len(steps)
        tar.addfile(link)
        link = tarfile.TarInfo("escape")
        link.type, link.linkname = tarfile.SYMTYPE, long_link + "/.."
        tar.addfile(link)
        data = b"escaped"
        evil = tarfile.TarInfo("escape/evil.txt")
        evil.size = len(data)
        tar.addfile(evil, io.BytesIO(data))


def cli(*args: str, traceback_as_outcome: bool = False) -> subprocess.CompletedProcess:
    """``sslab ARGS`` in this process (``sslab.cli.main``, what the command runs), its exit code and output
    captured as :func:`sslab` returns them; for the many one-line refusals, which then need no new Python
    (a subprocess spends seconds importing torch). An exception escaping main propagates (the test fails),
    or, with ``traceback_as_outcome`` (tests/test_hardening.py records every outcome), is printed to the
    captured stderr as a user would see it, with the exit code ``"traceback"``."""
    import io
    import traceback
    from contextlib import redirect_stderr, redirect_stdout

    from sslab.cli import main

    out, err = io.StringIO(), io.StringIO()
    with redirect_stdout(out), redirect_stderr(err):
        try:
            code = main([str(a) for a in args])
        except SystemExit as exc:  # argparse's usage errors
            code = exc.code
        except BaseException:  # noqa: BLE001 - what a user would see as a traceback
            if not traceback_as_outcome:
                raise
            traceback.print_exc(file=err)
            code = "traceback"
    return subprocess.CompletedProcess(["sslab", *args], code, out.getvalue(), err.getvalue())


def sigint_as_in_a_terminal() -> None:
    """``preexec_fn`` for a command a test stops with SIGINT: Ctrl-C reaches a command run in a terminal, but a
    test session started as a background job (``nohup make test &``) passes SIGINT on *ignored*, and Python keeps
    an ignored SIGINT, so the command would never see it. Restore the default, as a terminal has it."""
    import signal

    signal.signal(signal.SIGINT, signal.SIG_DFL)
