import pytest

from sslab_testing import sslab


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


def test_interrupted_before_a_run_directory_says_so():
    from sslab import runner
    from sslab.cli import interrupted_line
    from sslab.errors import Terminated

    assert runner.RESUMABLE is None
    assert interrupted_line(KeyboardInterrupt()) == "sslab: interrupted"
    assert interrupted_line(Terminated()) == "sslab: stopped by SIGTERM"
