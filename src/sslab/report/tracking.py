"""Live logging to TensorBoard (``--logger tensorboard``), beside metrics.jsonl.

``metrics.jsonl`` stays the record that reports and ``--resume`` are built from; a
tracker only mirrors it for watching a long run live. ``Run.log`` hands every record to
``run.tracker.log``: numbers become scalars tagged ``seed<N>/<phase>/<key>`` (losses,
accuracies, SNRs, throughput) against the record's ``epoch`` or ``step``. After each
epoch record the tracker also picks up the images and sound clips the recipe has
written into the run directory since (figures, audio examples), a few at a time, and
recipes may send their own with ``log_image`` / ``log_audio``.

TensorBoard is an optional dependency (``pip install 'sslab[tensorboard]'``); it is
imported only when asked for.
"""

from __future__ import annotations

import math
import time
from pathlib import Path
from typing import Any, Mapping

import numpy as np

from sslab.errors import UserError

LOGGERS = ("none", "tensorboard")
LOGDIR = "tensorboard"  # inside the run directory
# Record fields that are coordinates or labels, not curves.
NOT_SCALARS = {"seed", "epoch", "step", "time", "phase", "event"}
# Folders of a run directory never scanned for media: training state and the logger's own files.
SKIP_DIRS = {"checkpoints", LOGDIR, "splits"}


def check(logger: str) -> None:
    """Refuse an unknown logger, or TensorBoard when it is not installed, before a run starts."""
    if logger not in LOGGERS:
        raise UserError(f"--logger {logger}: unknown logger; choose one of {', '.join(LOGGERS)}")
    if logger == "tensorboard":
        try:
            import torch.utils.tensorboard  # noqa: F401
        except ImportError:
            raise UserError("--logger tensorboard needs the tensorboard package; install it with "
                            "`pip install 'sslab[tensorboard]'` or drop --logger") from None


def open_tracker(logger: str, run_root: Path) -> "TensorBoardTracker | None":
    check(logger)
    if logger == "none":
        return None
    return TensorBoardTracker(Path(run_root) / LOGDIR, watch=Path(run_root))


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    value = float(value)
    return value if math.isfinite(value) else None


class TensorBoardTracker:
    """Writes TensorBoard event files under ``logdir``; ``watch`` is the run directory to take media from."""

    def __init__(self, logdir: Path, watch: Path | None = None, media_per_scan: int = 4, scan_every_s: float = 2.0):
        from torch.utils.tensorboard import SummaryWriter

        self.logdir = Path(logdir)
        self.writer = SummaryWriter(log_dir=str(self.logdir))
        self.watch = watch
        self.media_per_scan = media_per_scan
        self.scan_every_s = scan_every_s
        self._seen: dict[Path, float] = {}  # file -> mtime when it was last sent
        self._last_scan = -math.inf
        self._count = 0

    # ---- scalars ----------------------------------------------------------------------
    def log(self, record: Mapping[str, Any]) -> None:
        if "event" in record:  # resume marks, not measurements
            return
        self._count += 1
        step = _number(record.get("epoch"))
        if step is None:
            step = _number(record.get("step"))
        step = int(step) if step is not None else self._count
        prefix = "/".join(str(p) for p in (f"seed{record['seed']}" if "seed" in record else None, record.get("phase"))
                          if p is not None)
        for key, value in record.items():
            number = _number(value)
            if key in NOT_SCALARS or number is None:
                continue
            self.writer.add_scalar(f"{prefix}/{key}" if prefix else key, number, step)
        if "epoch" in record and self.watch is not None:
            self.scan(step)

    # ---- images and sound ---------------------------------------------------------------
    def image(self, tag: str, image: Any, step: int) -> None:
        """An HxWx3 (or HxW) uint8 image, or floats in [0, 1]."""
        arr = np.asarray(image.detach().cpu() if hasattr(image, "detach") else image)
        if arr.ndim == 2:
            arr = arr[..., None].repeat(3, axis=2)
        self.writer.add_image(tag, arr[..., :3], step, dataformats="HWC")

    def audio(self, tag: str, wave: Any, sample_rate: int, step: int) -> None:
        import torch

        w = torch.as_tensor(np.asarray(wave.detach().cpu() if hasattr(wave, "detach") else wave), dtype=torch.float32)
        if w.ndim > 1:
            w = w.mean(dim=-1) if w.shape[-1] <= 8 else w.mean(dim=0)  # frames x channels or channels x frames
        self.writer.add_audio(tag, w.clamp(-1, 1), step, sample_rate=int(sample_rate))

    def scan(self, step: int) -> None:
        """Send PNG figures and WAV clips written since the last scan (a few at a time)."""
        now = time.monotonic()
        if now - self._last_scan < self.scan_every_s:
            return
        self._last_scan = now
        fresh: dict[str, list[Path]] = {".png": [], ".wav": []}
        for path in sorted(self.watch.rglob("*")):
            rel = path.relative_to(self.watch)
            if path.suffix not in fresh or rel.parts[0] in SKIP_DIRS or path.name.startswith("."):
                continue
            try:
                mtime = path.stat().st_mtime
            except OSError:  # replaced while we looked
                continue
            if self._seen.get(path) != mtime:
                fresh[path.suffix].append(path)
        for path in fresh[".png"][: self.media_per_scan]:
            self._send(path, step, self._image_file)
        for path in fresh[".wav"][: self.media_per_scan]:
            self._send(path, step, self._audio_file)

    def _send(self, path: Path, step: int, sender) -> None:
        try:
            mtime = path.stat().st_mtime
            sender(path, path.relative_to(self.watch).with_suffix("").as_posix(), step)
        except (OSError, ValueError, UserError):
            return  # a file being replaced right now; the next scan takes it
        self._seen[path] = mtime

    def _image_file(self, path: Path, tag: str, step: int) -> None:
        from PIL import Image

        with Image.open(path) as im:
            self.image(tag, np.asarray(im.convert("RGB")), step)

    def _audio_file(self, path: Path, tag: str, step: int) -> None:
        from sslab.audio.io import read_audio

        wave, sample_rate, _ = read_audio(path)
        self.audio(tag, wave, sample_rate, step)

    def flush(self) -> None:
        self.writer.flush()

    def close(self) -> None:
        if self.watch is not None:
            self._last_scan = -math.inf
            self.scan(self._count)  # the figures and clips of the finished run
        self.writer.close()


def log_image(run: Any, tag: str, image: Any, step: int) -> None:
    """Send an image to the run's live logger, if it has one (recipes call this per epoch)."""
    if getattr(run, "tracker", None) is not None:
        run.tracker.image(tag, image, step)


def log_audio(run: Any, tag: str, wave: Any, sample_rate: int, step: int) -> None:
    """Send a sound clip to the run's live logger, if it has one."""
    if getattr(run, "tracker", None) is not None:
        run.tracker.audio(tag, wave, sample_rate, step)
