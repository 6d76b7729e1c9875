"""Heart rate from wrist PPG, and heart rate the wearer's motion does not explain.

Every 2 s the PPG and accelerometer spectra of the last 8 s go through the int8 model;
the tracker turns its per-bin likelihoods into a rate. "Abnormal for the activity" is
``UnexplainedHeartRate`` on that rate, with the card's thresholds, where the tracker is
confident enough.
"""

from __future__ import annotations

__all__ = ["Estimate", "PpgHeartRateDetector"]

from typing import NamedTuple

from ..infer.features import acc_spread_g
from ..infer.heart import largest_peaks
from .base import Detector, Event, Window
from .unexplained import UnexplainedHeartRate
from .wrist import WristEstimator


class Estimate(NamedTuple):
    """One 2 s step's rate, kept for evaluation (``record_estimates``)."""

    t_ns: int
    bpm: float
    confidence: float
    ppg_peaks: tuple[float, ...]  # the PPG spectrum's largest peaks (RECORDED_PEAKS)


class PpgHeartRateDetector(Detector):
    name = "ppg_hr"
    streams = frozenset({"ppg", "imu"})
    RECORDED_PEAKS = 5

    def __init__(self, wrist: WristEstimator) -> None:
        card = wrist.model.card
        self.wrist = wrist
        self.rule = UnexplainedHeartRate(
            self.name,
            card.number("thresholds", "still_std_g"),
            card.number("thresholds", "rest_max_bpm"),
            card.number("thresholds", "hysteresis_bpm"),
            card.number("thresholds", "hold_s"),
            card.number("thresholds", "settle_s"),
        )
        self.min_confidence = card.number("thresholds", "min_confidence")
        self.estimates: list[Estimate] = []
        self.record_estimates = False
        self.reset()

    def flagged_windows(self) -> int:
        return self.wrist.spectra.flagged

    def reset(self) -> None:
        self.wrist.reset()
        self.rule.reset()

    def on_window(self, w: Window) -> list[Event]:
        events: list[Event] = []
        for step in self.wrist.steps(w):
            if self.record_estimates:
                peaks = largest_peaks(step.spectra[:, 0], self.RECORDED_PEAKS)
                self.estimates.append(Estimate(step.t_ns, step.bpm, step.confidence, peaks))
            moving_g = acc_spread_g(step.imu)
            events += self._unexplained(step.t_ns, step.bpm, step.confidence, moving_g, w.stream)
        return events

    def _unexplained(
        self, t_ns: int, bpm: float, confidence: float, moving_g: float, stream: str
    ) -> list[Event]:
        sure = confidence >= self.min_confidence
        extra = {"confidence": round(confidence, 3)}
        return self.rule.update(t_ns, bpm if sure else None, moving_g, stream, extra)
