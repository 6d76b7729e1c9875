"""A one-line progress bar on a terminal; silent when the stream is not a tty."""

from __future__ import annotations

__all__ = ["ProgressBar"]

import time
from typing import TextIO


class ProgressBar:
    def __init__(
        self, stream: TextIO, label: str, width: int = 30, min_interval_s: float = 0.1
    ) -> None:
        self.stream, self.label, self.width = stream, label, width
        self.enabled = stream.isatty()
        self._min_interval, self._last = min_interval_s, 0.0

    def update(self, fraction: float, note: str = "") -> None:
        now = time.monotonic()
        if not self.enabled or now - self._last < self._min_interval:
            return
        self._last = now
        fraction = min(1.0, max(0.0, fraction))
        filled = int(fraction * self.width)
        bar = "#" * filled + "-" * (self.width - filled)
        self.stream.write(f"\r{self.label} [{bar}] {fraction * 100:5.1f}% {note}\x1b[K")
        self.stream.flush()

    def close(self) -> None:
        if self.enabled:
            self.stream.write("\r\x1b[K")
            self.stream.flush()
