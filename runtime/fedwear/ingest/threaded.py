"""Shared behaviour of sources whose bytes are read by the C intake thread."""

from __future__ import annotations

__all__ = ["ThreadedSource", "watch"]

import time

from .base import Source, SourceStatus
from .intake import IntakeState, IntakeThread


class ThreadedSource(Source):
    """A source whose device is read by an ``IntakeThread``; pump() only watches it."""

    _intake: IntakeThread | None = None
    device_label = "device"
    # A serial port never reaches end of file on its own: EOF there is a hang-up.
    eof_is_loss = False

    _final_counters: dict[str, int] | None = None

    def counters(self) -> dict[str, int]:
        if self._intake is None:
            return dict(self._final_counters or {})
        return self._intake.counters()

    def _stop_intake(self) -> bool:
        """Join the intake thread if it runs, keeping its final counters; True when it did
        (idempotent)."""
        if self._intake is None:
            return False
        self._intake.stop()
        self._final_counters = self._intake.counters()
        self._intake = None
        return True

    def pump(self, budget_s: float) -> SourceStatus:
        if budget_s > 0:
            time.sleep(budget_s)  # the C thread fills the rings meanwhile
        assert self._intake is not None, "start() first"
        return watch(self._intake, self.device_label, self.eof_is_loss)


def watch(intake: IntakeThread, label: str, eof_is_loss: bool = False) -> SourceStatus:
    """What an intake thread's state means for the run: going on, ended, or lost."""
    st = intake.status()
    if st.state is IntakeState.FAILED:
        return SourceStatus(
            ended=True, lost=True, error=f"{label} vanished or failed: {st.describe()}"
        )
    if st.state is IntakeState.ENDED and eof_is_loss:
        return SourceStatus(ended=True, lost=True, error=f"{label} vanished (hang-up)")
    if st.state is IntakeState.ENDED:
        return SourceStatus(ended=True, error=f"{label} reached end of file")
    return SourceStatus()
