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
