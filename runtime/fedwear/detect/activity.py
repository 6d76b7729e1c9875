"""A sensor hub's heart rate against the wearer's motion.

Many wrist sensor hubs run their own PPG algorithm and report a heart rate (the `hr`
stream). Without this detector that rate was only checked against a fixed range; with
it, a fast heart on a still wrist is reported as fedwear's own PPG model would report it
(``UnexplainedHeartRate``). The two streams arrive as separate windows, in no fixed
order: a rate waits until an IMU window ending at or after its time says how much the
wrist moved around it.
"""

from __future__ import annotations

__all__ = ["HeartRateActivityDetector"]

import collections

import numpy as np

from ..infer.features import acc_spread_g
from .base import Detector, Event, Window
from .unexplained import UnexplainedHeartRate

# Rates kept while no IMU window has come to judge them (a stalled imu stream), and IMU
# windows kept while no rate has come (no hr stream): at 1 Hz, two minutes of each.
MAX_WAITING = 120


class HeartRateActivityDetector(Detector):
    name = "heart_rate_activity"
    streams = frozenset({"hr", "imu"})

    def __init__(
        self,
        still_std_g: float,
        rest_max_bpm: float,
        hysteresis_bpm: float,
        hold_s: float,
        settle_s: float,
    ) -> None:
        self.rule = UnexplainedHeartRate(
            self.name, still_std_g, rest_max_bpm, hysteresis_bpm, hold_s, settle_s
        )
        self.reset()

    def reset(self) -> None:
        self.rule.reset()
        self._motion: collections.deque[tuple[int, float]] = collections.deque(maxlen=MAX_WAITING)
        self._waiting: collections.deque[tuple[int, float]] = collections.deque(maxlen=MAX_WAITING)

    def on_window(self, w: Window) -> list[Event]:
        if w.stream == "imu":
            # |acc| spread over the whole window; NaN (not still) where half of it is missing
            if w.all_finite:  # the usual case, known already to the fault rules: no copy
                moving = acc_spread_g(w.v) if len(w.v) else np.nan
            else:
                rows = w.finite.all(axis=1)
                moving = acc_spread_g(w.v[rows]) if 2 * rows.sum() >= len(w.v) else np.nan
            self._motion.append((int(w.t[-1]), moving))
        else:
            new = min(w.hop, len(w.t))
            for t_ns, bpm in zip(w.t[-new:], w.v[-new:, 0], strict=True):
                if np.isfinite(bpm):
                    self._waiting.append((int(t_ns), float(bpm)))
        return self._judge()

    def _judge(self) -> list[Event]:
        events: list[Event] = []
        while self._waiting and self._motion and self._waiting[0][0] <= self._motion[-1][0]:
            t_ns, bpm = self._waiting.popleft()
            while self._motion[0][0] < t_ns:  # the first window ending at or after it
                self._motion.popleft()
            events += self.rule.update(t_ns, bpm, self._motion[0][1], "hr", {})
        return events
