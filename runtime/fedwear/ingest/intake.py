"""The C intake thread (native/fw_intake.c) seen from Python.

The thread reads a device descriptor and feeds a decoder without the interpreter, so a
stalled consumer (GC, slow inference) does not stall intake while the ring has room.
"""

from __future__ import annotations

__all__ = ["IntakeState", "IntakeStatus", "IntakeThread"]

import errno
import os
from dataclasses import dataclass
from enum import IntEnum
from typing import Protocol

from ..errors import SourceError


class IntakeState(IntEnum):
    RUNNING = 0
    STOPPED = 1
    ENDED = 2
    FAILED = 3


@dataclass(frozen=True)
class IntakeStatus:
    state: IntakeState
    error: int
    reads: int
    bytes: int

    def counters(self) -> dict[str, int]:
        """What a run's summary shows of the thread (its decoder's figures go beside)."""
        return {"bytes": self.bytes, "reads": self.reads}

    def describe(self) -> str:
        if self.state is IntakeState.FAILED:
            name = errno.errorcode.get(self.error, str(self.error))
            return f"read failed: {name} ({os.strerror(self.error)})"
        return self.state.name.lower()


class _Decoder(Protocol):
    ptr: object

    def stats(self) -> dict[str, int]: ...


class IntakeThread:
    """Starts at construction; ``stop()`` wakes and joins it (idempotent)."""

    def __init__(self, fd: int, decoder: _Decoder, kind: str) -> None:
        from ..native import ffi, lib

        self._ffi, self._lib, self._decoder = ffi, lib, decoder
        start = lib.fw_intake_start_hub if kind == "hub" else lib.fw_intake_start_iio
        self._ptr = start(fd, decoder.ptr)
        if self._ptr == ffi.NULL:
            err = ffi.errno
            raise SourceError(
                f"cannot start the intake thread: {os.strerror(err)}", errno_value=err
            )
        self._status = ffi.new("fw_intake_status_t *")
        self._last: IntakeStatus | None = None  # as it ended, once stopped

    def counters(self) -> dict[str, int]:
        """The thread's figures and its decoder's, for a run's summary; once stopped, as
        they were when it stopped (a stopped thread's status reads as zeros)."""
        status = self._last if self._last is not None else self.status()
        return {**status.counters(), **self._decoder.stats()}

    def status(self) -> IntakeStatus:
        if self._ptr is None:
            return IntakeStatus(IntakeState.STOPPED, 0, 0, 0)
        self._lib.fw_intake_status(self._ptr, self._status)
        s = self._status
        return IntakeStatus(IntakeState(s.state), int(s.error), int(s.reads), int(s.bytes))

    def stop(self) -> IntakeStatus:
        """Join the thread; returns its last status."""
        last = self.status()
        if self._ptr is not None:
            self._lib.fw_intake_stop(self._ptr)
            self._ptr = None
            self._last = last
        return last

    def __del__(self) -> None:
        self.stop()  # never leave a thread running over a decoder about to be freed
