"""Where events go: JSON lines on a stream, and an append-only event log on disk.

The log is opened with O_APPEND and every event is one write() of one whole line, so a
kill at any moment leaves at most a partial last line: ``read_event_log`` skips it and
the next ``EventLog`` ends it before appending, so only the interrupted event is lost.
"""

from __future__ import annotations

__all__ = ["EventLog", "JsonLinesSink", "NullSink", "read_event_log"]

import json
import os
import stat
from pathlib import Path
from typing import Any, TextIO

from .detect.base import Event
from .errors import SourceError


class JsonLinesSink:
    """One JSON object per line on a text stream (stdout by default)."""

    def __init__(self, stream: TextIO) -> None:
        self.stream = stream

    def emit(self, record: dict[str, Any]) -> None:
        self.stream.write(json.dumps(record, separators=(",", ":")) + "\n")
        self.stream.flush()

    def event(self, event: Event) -> None:
        self.emit(event.to_dict())

    def close(self) -> None:
        self.stream.flush()


class NullSink:
    """Takes events and drops them: a sink whose transport is unavailable."""

    def event(self, event: Event) -> None:
        pass

    def close(self) -> None:
        pass


class EventLog:
    """Append-only JSON-lines file; fsync'd on close."""

    def __init__(self, path: Path) -> None:
        self.path = path
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            self._fd = os.open(path, os.O_RDWR | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC, 0o640)
            # /dev/null, a FIFO or a terminal take the lines but have nothing to mend or
            # to sync (fsync gives EINVAL there).
            self._regular = stat.S_ISREG(os.fstat(self._fd).st_mode)
            if self._regular:
                self._end_torn_line()
        except OSError as exc:
            raise SourceError(
                f"cannot open the event log {path}: {exc.strerror}", code="event-log"
            ) from None

    def _end_torn_line(self) -> None:
        """A kill mid-write leaves a partial last line: end it so the next event is whole."""
        size = os.fstat(self._fd).st_size
        if size and os.pread(self._fd, 1, size - 1) != b"\n":
            os.write(self._fd, b"\n")

    def event(self, event: Event) -> None:
        line = json.dumps(event.to_dict(), separators=(",", ":")) + "\n"
        os.write(self._fd, line.encode())

    def close(self) -> None:
        if self._fd >= 0:
            if self._regular:
                os.fsync(self._fd)
            os.close(self._fd)
            self._fd = -1


def read_event_log(path: Path) -> list[dict[str, Any]]:
    """Events from a log; a torn last line (a kill mid-write) is skipped."""
    out = []
    for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
        try:
            out.append(json.loads(line))
        except (json.JSONDecodeError, RecursionError):  # torn, or nested past json's limit
            continue
    return out
