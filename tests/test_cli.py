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
