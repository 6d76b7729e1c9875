"""Heart rate from wrist PPG, and heart rate the wearer's motion does not explain.

Every 2 s the PPG and accelerometer spectra of the last 8 s go through the int8 model;
the tracker turns its per-bin likelihoods into a rate. "Abnormal for the activity": while
the wearer is still (little acceleration variance), a rate above ``rest_max_bpm`` has no
exercise behind it; held for ``hold_s`` it is an event, cleared with hysteresis.
"""

from __future__ import annotations

__all__ = ["PpgHeartRateDetector"]

from ..infer.features import motion_stats
from .base import Detector, Event, Window
from .wrist import WristEstimator


class PpgHeartRateDetector(Detector):
    name = "ppg_hr"
    streams = frozenset({"ppg", "imu"})

    def __init__(self, wrist: WristEstimator) -> None:
        card = wrist.model.card
        self.wrist = wrist
        self.still_g = card.number("thresholds", "still_std_g")
        self.rest_max = card.number("thresholds", "rest_max_bpm")
        self.hysteresis = card.number("thresholds", "hysteresis_bpm")
        self.hold_ns = int(card.number("thresholds", "hold_s") * 1e9)
        self.min_confidence = card.number("thresholds", "min_confidence")
        self.estimates: list[tuple[int, float, float]] = []  # (t_ns, bpm, confidence)
        self.record_estimates = False
        self.reset()

    def flagged_windows(self) -> int:
        return self.wrist.spectra.flagged

    def reset(self) -> None:
        self.wrist.reset()
        self._unexplained_since: int | None = None
        self._active = False

    def on_window(self, w: Window) -> list[Event]:
        events: list[Event] = []
        for step in self.wrist.steps(w):
            if self.record_estimates:
                self.estimates.append((step.t_ns, step.bpm, step.confidence))
            moving_g, _ = motion_stats(step.imu)
            events += self._unexplained(step.t_ns, step.bpm, step.confidence, moving_g, w.stream)
        return events

    def _unexplained(
        self, t_ns: int, bpm: float, confidence: float, moving_g: float, stream: str
    ) -> list[Event]:
        if confidence < self.min_confidence:
            return []
        still = moving_g <= self.still_g
        if self._active:
            if not still or bpm < self.rest_max - self.hysteresis:
                self._active = False
                self._unexplained_since = None
            return []
        if still and bpm > self.rest_max:
            if self._unexplained_since is None:
                self._unexplained_since = t_ns
            if t_ns - self._unexplained_since >= self.hold_ns:
                self._active = True
                return [
                    Event(
                        self._unexplained_since,
                        self.name,
                        "heart_rate_unexplained",
                        stream,
                        f"heart rate {bpm:.0f} bpm while still (motion {moving_g:.3f} g)",
                        value=bpm,
                        extra={
                            "motion_std_g": round(moving_g, 4),
                            "confidence": round(confidence, 3),
                        },
                    )
                ]
        else:
            self._unexplained_since = None
        return []
