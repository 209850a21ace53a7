"""Progress bars on a terminal, plain periodic lines otherwise (logs, CI, pipes)."""

from __future__ import annotations

import os
import sys
import time
from typing import Iterable, Iterator, TypeVar

T = TypeVar("T")
# Set in worker processes that share one terminal (parallel seeds): each prints plain lines.
LINES_ENV = "SSLAB_PROGRESS_LINES"


def _bars() -> bool:
    return sys.stdout.isatty() and not os.environ.get(LINES_ENV)


class Progress:
    """Wrap an iterable; ``set(**values)`` shows the latest numbers beside the bar."""

    def __init__(self, iterable: Iterable[T], total: int | None, desc: str, every_s: float = 10.0):
        self.iterable = iterable
        self.total = total if total is not None else (len(iterable) if hasattr(iterable, "__len__") else None)  # type: ignore[arg-type]
        self.desc = desc
        self.values: dict[str, str] = {}
        self.every_s = every_s
        self._bar = None
        if _bars():
            from tqdm import tqdm

            self._bar = tqdm(total=self.total, desc=desc, leave=False, dynamic_ncols=True)

    def set(self, **values: float | str) -> None:
        self.values = {k: (f"{v:.4g}" if isinstance(v, float) else str(v)) for k, v in values.items()}
        if self._bar is not None:
            self._bar.set_postfix(self.values, refresh=False)

    def __iter__(self) -> Iterator[T]:
        start = last = time.monotonic()
        done = 0
        try:
            for item in self.iterable:
                yield item
                done += 1
                if self._bar is not None:
                    self._bar.update(1)
                    continue
                now = time.monotonic()
                if now - last >= self.every_s or (self.total is not None and done == self.total):
                    last = now
                    of = f"/{self.total}" if self.total is not None else ""
                    vals = " ".join(f"{k}={v}" for k, v in self.values.items())
                    print(f"[{self.desc}] {done}{of} {now - start:.0f}s {vals}".rstrip(), flush=True)
        finally:
            if self._bar is not None:
                self._bar.close()


def progress(iterable: Iterable[T], desc: str, total: int | None = None) -> Progress:
    return Progress(iterable, total, desc)


def say(message: str) -> None:
    """A status line for the user (kept apart from the bars)."""
    if _bars():
        from tqdm import tqdm

        tqdm.write(message)
    else:
        print(message, flush=True)
