"""Smoke runs the report tests share (made once per test session: they train for seconds); the
denoise run, which tests/recipes reads too, is in tests/conftest.py."""

from __future__ import annotations

from pathlib import Path

import pytest

from sslab_testing import sslab


def _smoke(out: Path, recipe: str, *extra: str) -> Path:
    proc = sslab("run", recipe, "--preset", "smoke", "--out", str(out), *extra)
    assert proc.returncode == 0, proc.stderr[-2000:]
    (run_dir,) = [p for p in out.iterdir() if p.name.startswith(f"{recipe}-")]
    return run_dir


@pytest.fixture(scope="session")
def augment_run(tmp_path_factory) -> Path:
    """A finished augment run, as short as it gets: figures and a claim."""
    return _smoke(tmp_path_factory.mktemp("report-runs"), "augment", "epochs=1", "synthetic_size=300")
