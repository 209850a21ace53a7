"""Official downloads with checksum, progress and safe extraction.

Extraction refuses any archive member that would land outside the target folder
(absolute paths, ``..``, a folder on the way that is a link) and every link or special member
(device, pipe) before writing anything.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import stat
import tarfile
import urllib.error
import urllib.request
import zipfile
from dataclasses import dataclass
from pathlib import Path

from sslab.errors import UserError
from sslab.train.progress import say


@dataclass(frozen=True)
class Download:
    name: str
    url: str
    md5: str
    filename: str
    extracted: str  # the folder the archive unpacks to, relative to the root
    use_with: str   # how to point sslab at it


DATASETS: dict[str, Download] = {
    "cifar10": Download(
        "cifar10", "https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz",
        "c58f30108f718f92721af3b95e74349a", "cifar-10-python.tar.gz", "cifar-10-batches-py",
        "sslab run augment --data {root}"),
    "stl10": Download(
        "stl10", "http://ai.stanford.edu/~acoates/stl10/stl10_binary.tar.gz",
        "91f7769df0f17e558f3565bffb0c7dfb", "stl10_binary.tar.gz", "stl10_binary",
        "sslab run barlow --data {root}"),
}


def md5sum(path: Path, chunk: int = 1 << 20) -> str:
    h = hashlib.md5()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(chunk), b""):
            h.update(block)
    return h.hexdigest()


def _short(name: str, keep: int = 60) -> str:
    return repr(name if len(name) <= keep else name[:keep] + "...")


def _check_name(archive: Path, target: Path, name: str) -> None:
    """Refuse a member name unless every component is a plain name and every folder on its way
    inside ``target`` is a real folder (not a symlink that exists on disk already)."""
    refuse = f"{archive}: member {_short(name)} would be written outside {target}; refusing to extract"
    if not name or "\x00" in name or os.path.isabs(name) or name.startswith(("/", "\\")) or re.match(r"^[A-Za-z]:", name):
        raise UserError(refuse)
    parts = [p for p in name.replace("\\", "/").split("/") if p not in ("", ".")]
    if not parts or any(p == ".." for p in parts):
        raise UserError(refuse)
    here = target
    for part in parts:
        here = here / part
        if os.path.islink(here):
            raise UserError(f"{archive}: member {_short(name)} passes through the link {here}; refusing to extract")
        if here.exists() and here != target / Path(*parts) and not here.is_dir():
            raise UserError(f"{archive}: member {_short(name)} passes through the file {here}; refusing to extract")


def check_members(archive: Path, target: Path) -> None:
    """Raise UserError unless every member is a regular file or folder that stays inside ``target``.

    The official archives hold no links at all, so every symlink, hard link, device, pipe or
    other special member is refused outright (a chain of nested links whose resolved path
    exceeds PATH_MAX fools a resolve()-based check and ``filter="data"``: CVE-2025-4517).
    Each regular member's path is then checked component by component.
    """
    target = target.resolve()
    if zipfile.is_zipfile(archive):
        with zipfile.ZipFile(archive) as zf:
            for info in zf.infolist():
                kind = stat.S_IFMT(info.external_attr >> 16)  # 0 when the zip does not say
                if kind and kind not in (stat.S_IFREG, stat.S_IFDIR):
                    raise UserError(f"{archive}: member {_short(info.filename)} is a link or special file; refusing to extract")
                _check_name(archive, target, info.filename)
        return
    with tarfile.open(archive) as tf:
        for m in tf.getmembers():
            if m.issym() or m.islnk():
                raise UserError(f"{archive}: member {_short(m.name)} is a link; the official data sets hold "
                                "none; refusing to extract")
            if not (m.isfile() or m.isdir()):
                raise UserError(f"{archive}: member {_short(m.name)} is a device, pipe or other special file; "
                                "refusing to extract")
            _check_name(archive, target, m.name)


def safe_extract(archive: str | os.PathLike, target: str | os.PathLike) -> Path:
    """Extract a .tar(.gz) or .zip into ``target`` after checking every member."""
    archive, target = Path(archive), Path(target)
    target.mkdir(parents=True, exist_ok=True)
    try:
        check_members(archive, target)
        if zipfile.is_zipfile(archive):
            with zipfile.ZipFile(archive) as zf:
                zf.extractall(target)
        else:
            with tarfile.open(archive) as tf:
                tf.extractall(target, filter="data")
    except (tarfile.TarError, zipfile.BadZipFile, EOFError) as exc:
        raise UserError(f"{archive}: damaged archive ({exc}); delete it and download again") from None
    return target


def fetch(url: str, dest: Path) -> None:
    """Stream ``url`` to ``dest`` with a progress bar (atomic: .part file then rename)."""
    from tqdm import tqdm

    part = dest.with_name(dest.name + ".part")
    try:
        with urllib.request.urlopen(url, timeout=30) as resp, open(part, "wb") as out:
            total = int(resp.headers.get("Content-Length") or 0) or None
            with tqdm(total=total, unit="B", unit_scale=True, desc=dest.name, disable=None) as bar:
                for block in iter(lambda: resp.read(1 << 20), b""):
                    out.write(block)
                    bar.update(len(block))
    except (urllib.error.URLError, OSError, TimeoutError) as exc:
        part.unlink(missing_ok=True)
        raise UserError(f"could not download {url} ({getattr(exc, 'reason', exc)}); on a machine without "
                        "internet, copy the data set there yourself and point --data at the folder") from None
    os.replace(part, dest)


def download(name: str, root: str | os.PathLike) -> Path:
    """Download, verify and extract a data set into ``root``; return the extracted folder."""
    if name not in DATASETS:
        raise UserError(f"unknown data set {name!r}; choose one of {', '.join(DATASETS)}")
    spec = DATASETS[name]
    root = Path(root).expanduser()
    if root.exists() and not root.is_dir():
        raise UserError(f"--root {root}: is a file; pass a folder to put the data set in")
    root.mkdir(parents=True, exist_ok=True)
    extracted = root / spec.extracted
    if extracted.is_dir() and (root / f".{spec.name}.ok").is_file():
        say(f"{name} is already in {extracted}")
        return extracted
    archive = root / spec.filename
    if not archive.is_file() or md5sum(archive) != spec.md5:
        say(f"downloading {spec.url}")
        fetch(spec.url, archive)
    got = md5sum(archive)
    if got != spec.md5:
        archive.unlink()
        raise UserError(f"{archive}: checksum {got} does not match the official {spec.md5}; the download was "
                        "damaged and has been deleted, run the command again")
    say(f"extracting {archive.name}")
    if extracted.exists():
        shutil.rmtree(extracted)
    safe_extract(archive, root)
    (root / f".{spec.name}.ok").write_text(spec.md5 + "\n")
    say(f"{name} ready in {extracted}; use it with `{spec.use_with.format(root=root)}`")
    return extracted
