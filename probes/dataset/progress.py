"""A one-line progress bar for long scans, drawn on standard error only when it is a terminal.

>>> import io
>>> bar = Progress("reading headers", 10, io.StringIO())   # not a terminal: draws nothing
>>> bar.advance(10); bar.close(); bar.enabled
False
"""
from __future__ import annotations

import sys
import time
from typing import TextIO

_INTERVAL = 0.1  # seconds between redraws
_WIDTH = 30


class Progress:
    def __init__(self, label: str, total: int, stream: TextIO | None = None):
        self.label = label
        self.total = total
        self.done = 0
        self.stream = stream if stream is not None else sys.stderr
        self.enabled = total > 0 and _is_terminal(self.stream)
        self.started = time.monotonic()
        self._drawn = 0.0

    def advance(self, count: int = 1) -> None:
        self.done += count
        now = time.monotonic()
        if self.enabled and (now - self._drawn >= _INTERVAL or self.done >= self.total):
            self._drawn = now
            filled = _WIDTH * self.done // self.total
            self.stream.write(f"\r{self.label} [{'#' * filled}{'.' * (_WIDTH - filled)}] {self.done}/{self.total} "
                              f"{now - self.started:.1f} s")
            self.stream.flush()

    def close(self) -> None:
        if self.enabled and self._drawn:
            self.stream.write("\r\x1b[2K")
            self.stream.flush()


def _is_terminal(stream: TextIO) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False
