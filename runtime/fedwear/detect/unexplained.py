"""Heart rate the wearer's motion does not explain: one rule, whoever measured the rate.

A heart above ``rest_max_bpm`` on a still wrist (little spread of |acc|) has no exercise
behind it; held for ``hold_s`` it is one event, cleared with hysteresis once the wrist
moves or the rate falls. fedwear's PPG model (``ppg_hr``) and a sensor hub's own heart
rate (``heart_rate_activity``) feed the same rule, so their events mean the same thing.
"""

from __future__ import annotations

__all__ = ["UnexplainedHeartRate"]

from typing import Any

from .base import Event


class UnexplainedHeartRate:
    def __init__(
        self,
        detector: str,
        still_std_g: float,
        rest_max_bpm: float,
        hysteresis_bpm: float,
        hold_s: float,
    ) -> None:
        self.detector = detector
        self.still_g, self.rest_max = still_std_g, rest_max_bpm
        self.hysteresis, self.hold_ns = hysteresis_bpm, int(hold_s * 1e9)
        self.reset()

    def reset(self) -> None:
        self._since: int | None = None
        self._active = False

    def update(
        self, t_ns: int, bpm: float, moving_g: float, stream: str, extra: dict[str, Any]
    ) -> list[Event]:
        """One rate at ``t_ns`` and the wrist's |acc| spread (g) around it."""
        still = moving_g <= self.still_g  # False for NaN: unknown motion is not stillness
        if self._active:
            if not still or bpm < self.rest_max - self.hysteresis:
                self._active, self._since = False, None
            return []
        if not (still and bpm > self.rest_max):
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
