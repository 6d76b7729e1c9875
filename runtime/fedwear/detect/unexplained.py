"""Heart rate the wearer's motion does not explain: one rule, whoever measured the rate.

A heart above ``rest_max_bpm`` on a still wrist (little spread of |acc|) has no exercise
behind it; held for ``hold_s`` it is one event, cleared with hysteresis once the wrist
moves or the rate falls. fedwear's PPG model (``ppg_hr``) and a sensor hub's own heart
rate (``heart_rate_activity``) feed the same rule, so their events mean the same thing.

Exercise explains a fast heart for a while after it stops, too: the rate falls steeply in
the first minute of rest, then slowly over several. So a fast heart counts only once the
wrist has not been active for ``settle_s``, active meaning that most of the motion
readings of the last minute were not still: sitting down after a run is no event, and
neither a gesture nor a shifted arm restarts that wait.
"""

from __future__ import annotations

__all__ = ["ACTIVE_S", "UnexplainedHeartRate"]

import collections
from typing import Any

from .base import Event

ACTIVE_S = 60.0  # the span over which "active" is judged


class UnexplainedHeartRate:
    def __init__(
        self,
        detector: str,
        still_std_g: float,
        rest_max_bpm: float,
        hysteresis_bpm: float,
        hold_s: float,
        settle_s: float,
    ) -> None:
        self.detector = detector
        self.still_g, self.rest_max = still_std_g, rest_max_bpm
        self.hysteresis, self.hold_ns = hysteresis_bpm, int(hold_s * 1e9)
        self.settle_ns, self.active_ns = int(settle_s * 1e9), int(ACTIVE_S * 1e9)
        self.reset()

    def reset(self) -> None:
        self._since: int | None = None
        self._active = False
        self._recent: collections.deque[tuple[int, bool]] = collections.deque()
        self._moving = 0  # readings in _recent that were not still
        self._exercised_ns: int | None = None  # the last reading at which the wrist was active

    def _note_motion(self, t_ns: int, still: bool) -> None:
        self._recent.append((t_ns, not still))
        self._moving += not still
        while self._recent[0][0] <= t_ns - self.active_ns:
            self._moving -= self._recent.popleft()[1]
        if 2 * self._moving > len(self._recent):
            self._exercised_ns = t_ns

    def update(
        self, t_ns: int, bpm: float | None, moving_g: float, stream: str, extra: dict[str, Any]
    ) -> list[Event]:
        """One rate at ``t_ns`` and the wrist's |acc| spread (g) around it; ``bpm`` None
        for a rate too unsure to judge, whose motion still counts."""
        still = moving_g <= self.still_g  # False for NaN: unknown motion is not stillness
        self._note_motion(t_ns, still)
        if bpm is None:
            return []
        if self._active:
            if not still or bpm < self.rest_max - self.hysteresis:
                self._active, self._since = False, None
            return []
        rested = self._exercised_ns is None or t_ns - self._exercised_ns >= self.settle_ns
        if not (still and rested and bpm > self.rest_max):
            self._since = None
            return []
        if self._since is None:
            self._since = t_ns
        if t_ns - self._since < self.hold_ns:
            return []
        self._active = True
        return [
            Event(
                self._since,
                self.detector,
                "heart_rate_unexplained",
                stream,
                f"heart rate {bpm:.0f} bpm while still (motion {moving_g:.3f} g)",
                value=bpm,
                extra={"motion_std_g": round(moving_g, 4), **extra},
            )
        ]
