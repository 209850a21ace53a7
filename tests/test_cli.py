import os
import signal
import subprocess
import sys
import time

import pytest

from sslab_testing import sigint_as_in_a_terminal, sslab


def test_help_lists_commands():
    proc = sslab("--help")
    assert proc.returncode == 0
    for word in ("run", "report", "data"):
        assert word in proc.stdout


@pytest.mark.parametrize("args", [["run", "--help"], ["report", "--help"], ["data", "download", "--help"]])
def test_subcommand_help(args):
    proc = sslab(*args)
    assert proc.returncode == 0 and "usage:" in proc.stdout


def test_help_config_lists_options_and_presets():
    proc = sslab("run", "augment", "--help-config")
    assert proc.returncode == 0
    assert "epochs (int; >= 1" in proc.stdout and "paper=200" in proc.stdout


def test_python_dash_m_works():
    assert sslab("--version").stdout.startswith("sslab ")


@pytest.mark.parametrize("sig, code, how", [(signal.SIGINT, 130, "interrupted"), (signal.SIGTERM, 143, "stopped by SIGTERM")])
def test_ctrl_c_and_sigterm_name_the_run_to_resume(tmp_path, sig, code, how):
    # A run long enough to be stopped midway: many epochs of a tiny made-up set.
    proc = subprocess.Popen([sys.executable, "-m", "sslab", "run", "augment", "--preset", "smoke", "epochs=500",
                             "synthetic_size=200", "--out", str(tmp_path)], stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, text=True, env={**os.environ, "PYTHONUNBUFFERED": "1"},
                            preexec_fn=sigint_as_in_a_terminal)
    deadline = time.monotonic() + 240
    while time.monotonic() < deadline and not list(tmp_path.glob("*/checkpoints/*.state.safetensors")):
        assert proc.poll() is None, proc.stderr.read()
        time.sleep(0.1)
    proc.send_signal(sig)
    _, err = proc.communicate(timeout=60)
    (run_dir,) = tmp_path.iterdir()
    assert proc.returncode == code
    assert err.strip().splitlines()[-1] == (f"sslab: {how}; continue with `sslab run --resume {run_dir}` "
                                            "(same numbers as an uninterrupted run)")
    assert "Traceback" not in err and not (run_dir / "summary.json").exists()


def test_interrupted_before_a_run_directory_says_so():
    from sslab import runner
    from sslab.cli import interrupted_line
    from sslab.errors import Terminated

    assert runner.RESUMABLE is None
    assert interrupted_line(KeyboardInterrupt()) == "sslab: interrupted"
    assert interrupted_line(Terminated()) == "sslab: stopped by SIGTERM"
