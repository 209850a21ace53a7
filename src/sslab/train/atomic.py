"""Atomic file writes: write to a temporary file in the same folder, then rename.

A reader (or a resumed run) sees either the old file or the new one, never half of one,
even when the process is killed with SIGKILL in the middle of a write. Whole folders
(a data set sslab makes) are built the same way under a hidden name (:func:`new_folder`).
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator

from sslab.errors import UserError

_UMASK = os.umask(0)
os.umask(_UMASK)


@contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; on success rename it over ``path``."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    tmp_path = Path(tmp)
    try:
        yield tmp_path
        with open(tmp_path, "rb+") as fh:
            os.fsync(fh.fileno())
        os.chmod(tmp_path, 0o666 & ~_UMASK)  # mkstemp makes 0600; give the usual permissions
        os.replace(tmp_path, path)
    finally:
        if tmp_path.exists():
            tmp_path.unlink()


def require_new_folder(path: Path, option: str = "--out") -> None:
    """A one-line error unless ``path`` is absent or an empty folder."""
    if path.exists() and (not path.is_dir() or any(path.iterdir())):
        kind = "exists and is not empty" if path.is_dir() else "is a file"
        raise UserError(f"{option} {path}: {kind}; choose a new folder")


@contextmanager
def new_folder(path: str | os.PathLike, option: str = "--out") -> Iterator[Path]:
    """Yield a hidden folder beside ``path`` to fill; on success it becomes ``path``.

    ``path`` must not exist or be an empty folder (a one-line error otherwise). A process
    killed midway leaves only the hidden ``.NAME.*.partial`` folder, never a ``path`` that
    looks complete; an exception removes it.
    """
    path = Path(path)
    require_new_folder(path, option)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{path.name}.", suffix=".partial", dir=path.parent))
    try:
        yield tmp
        os.chmod(tmp, 0o777 & ~_UMASK)  # mkdtemp makes 0700; give the usual permissions
        if path.exists():
            path.rmdir()
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp)


def write_bytes(path: str | os.PathLike, data: bytes) -> None:
    with atomic_path(path) as tmp:
        tmp.write_bytes(data)


def write_text(path: str | os.PathLike, text: str) -> None:
    write_bytes(path, text.encode("utf-8"))


def write_json(path: str | os.PathLike, obj: Any) -> None:
    write_text(path, json.dumps(obj, indent=2, sort_keys=False, default=_json_default) + "\n")


def read_json(path: str | os.PathLike, hint: str = "") -> Any:
    """What :func:`write_json` wrote; a missing or damaged file is a one-line UserError (plus ``hint``)."""
    try:
        return json.loads(Path(path).read_text())
    except (OSError, ValueError) as exc:
        raise UserError(f"{path} is unreadable ({exc})" + (f"; {hint}" if hint else "")) from None


def _json_default(obj: Any) -> Any:
    # numpy and torch scalars show up in metrics; store them as plain numbers.
    if hasattr(obj, "item"):
        return obj.item()
    if hasattr(obj, "tolist"):
        return obj.tolist()
    if isinstance(obj, Path):
        return str(obj)
    raise TypeError(f"not JSON serialisable: {type(obj).__name__}")
