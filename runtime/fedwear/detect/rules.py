"""Rule detectors a wearable always needs: sensor faults and heart rate out of range.

- flat line: a channel whose peak-to-peak over a whole window is (near) zero: a stuck or
  disconnected sensor;
- saturation: a run of samples stuck at the window's extreme while the signal moves
  elsewhere: clipping at the sensor's full scale;
- dropout: a gap in the timestamps or non-finite samples;
- heart rate outside [min_bpm, max_bpm], with hysteresis so that a value hovering at a
  limit does not flap.
"""

from __future__ import annotations

__all__ = [
    "DropoutDetector",
    "FlatlineDetector",
    "HeartRateRangeDetector",
    "SaturationDetector",
    "build_rule_detectors",
    "longest_run",
]

from collections.abc import Collection, Iterable
from typing import TYPE_CHECKING

import numpy as np

from .activity import HeartRateActivityDetector
from .base import Detector, Event, OnsetTracker, Window

if TYPE_CHECKING:
    from ..config import Config


def longest_run(mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per column of a boolean (n, c) array: length and start row of the longest True run.

    Vectorised: a running count of consecutive Trues is the cumulative sum minus its value
    at the last False.
    """
    mask = np.asarray(mask, dtype=bool).reshape(len(mask), -1)
    count = np.cumsum(mask, axis=0)
    at_false = np.where(mask, 0, count)
    run = count - np.maximum.accumulate(at_false, axis=0)
    end = np.argmax(run, axis=0)
    length = run[end, np.arange(run.shape[1])]
    return length, end - length + 1


class FlatlineDetector(Detector):
    name = "flatline"

    def __init__(self, streams: Iterable[str], tolerance: float) -> None:
        self.streams = frozenset(streams)
        self.tolerance = tolerance
        self._onsets = OnsetTracker()

    def on_window(self, w: Window) -> list[Event]:
        events = []
        lo = w.low
        flat = (w.finite_count > 1) & (w.high - lo <= self.tolerance)
        for c in self._onsets.onsets(w.stream, flat):
            channel = w.channels[c]
            events.append(
                Event(
                    int(w.t[0]),
                    self.name,
                    "sensor_fault",
                    w.stream,
                    f"{w.stream}.{channel} flat at {float(lo[c]):.6g} for "
                    f"{len(w.t) / w.rate_hz:.1f} s",
                    channel,
                    float(lo[c]),
                )
            )
        return events

    def reset(self) -> None:
        self._onsets.reset()


class SaturationDetector(Detector):
    name = "saturation"

    def __init__(self, streams: Iterable[str], min_run: int) -> None:
        self.streams = frozenset(streams)
        self.min_run = min_run
        self._onsets = OnsetTracker()

    def on_window(self, w: Window) -> list[Event]:
        events: list[Event] = []
        hi, lo, n = w.high, w.low, w.v.shape[1]
        at_extreme = np.hstack([w.v == hi, w.v == lo])
        if at_extreme.sum(axis=0).max() < self.min_run:
            # No channel has min_run samples at an extreme, so no run can be that long.
            self._onsets.onsets(w.stream, np.zeros(n, dtype=bool))
            return events
        runs, starts = longest_run(at_extreme)
        run_hi, run_lo, at_hi, at_lo = runs[:n], runs[n:], starts[:n], starts[n:]
        # A flat channel is the flat-line detector's business, not clipping.
        moving = (w.finite_count >= self.min_run) & (hi > lo)
        use_hi = run_hi >= run_lo
        run = np.where(use_hi, run_hi, run_lo)
        stuck = moving & (run >= self.min_run)
        for c in self._onsets.onsets(w.stream, stuck):
            at = int(at_hi[c] if use_hi[c] else at_lo[c])
            value = float(hi[c] if use_hi[c] else lo[c])
            events.append(
                Event(
                    int(w.t[at]),
                    self.name,
                    "sensor_fault",
                    w.stream,
                    f"{w.stream}.{w.channels[c]} stuck at {value:.6g} for {int(run[c])} samples",
                    w.channels[c],
                    value,
                    {"samples": int(run[c])},
                )
            )
        return events

    def reset(self) -> None:
        self._onsets.reset()


class DropoutDetector(Detector):
    name = "dropout"

    def __init__(self, streams: Iterable[str], gap_factor: float) -> None:
        self.streams = frozenset(streams)
        self.gap_factor = gap_factor
        self._last_gap_end: dict[str, int] = {}
        self._onsets = OnsetTracker()

    def on_window(self, w: Window) -> list[Event]:
        events = []
        period_ns = 1e9 / w.rate_hz
        steps = np.diff(w.t)
        for i in np.flatnonzero(steps > self.gap_factor * period_ns).tolist():
            end = int(w.t[i + 1])
            if end > self._last_gap_end.get(w.stream, -1):
                self._last_gap_end[w.stream] = end
                gap_s = float(steps[i]) / 1e9
                events.append(
                    Event(
                        int(w.t[i]),
                        self.name,
                        "sensor_fault",
                        w.stream,
                        f"{w.stream}: no samples for {gap_s:.3f} s",
                        value=gap_s,
                        extra={"missing": round(gap_s * w.rate_hz) - 1},
                    )
                )
        if len(self._onsets.onsets(w.stream, not w.all_finite)):
            bad = ~w.finite
            row = int(np.flatnonzero(bad.any(axis=1))[0])
            events.append(
                Event(
                    int(w.t[row]),
                    self.name,
                    "sensor_fault",
                    w.stream,
                    f"{w.stream}: {int(bad.any(axis=1).sum())} non-finite samples",
                    extra={"nonfinite": int(bad.any(axis=1).sum())},
                )
            )
        return events

    def reset(self) -> None:
        self._last_gap_end.clear()
        self._onsets.reset()


class HeartRateRangeDetector(Detector):
    name = "heart_rate_range"

    def __init__(
        self, min_bpm: float, max_bpm: float, hysteresis_bpm: float, clear_s: float
    ) -> None:
        """A high or low rate ends once back inside by ``hysteresis_bpm`` for ``clear_s``."""
        self.streams = frozenset({"hr"})
        self.min_bpm, self.max_bpm, self.hysteresis = min_bpm, max_bpm, hysteresis_bpm
        self.clear_ns = int(clear_s * 1e9)
        self._state = "normal"
        self._inside_since_ns: int | None = None  # first reading back inside the range

    def on_window(self, w: Window) -> list[Event]:
        recent = w.v[-max(1, w.hop) :, 0]
        recent = recent[np.isfinite(recent)]
        if not len(recent):
            return []
        bpm = float(np.median(recent))
        t_ns = int(w.t[-1])
        if self._state == "normal":
            state = "high" if bpm > self.max_bpm else "low" if bpm < self.min_bpm else "normal"
        elif self.min_bpm + self.hysteresis <= bpm <= self.max_bpm - self.hysteresis:
            if self._inside_since_ns is None:
                self._inside_since_ns = t_ns
            inside_long_enough = t_ns - self._inside_since_ns >= self.clear_ns
            state = "normal" if inside_long_enough else self._state
        else:
            self._inside_since_ns = None
            state = self._state
        changed, self._state = state != self._state, state
        if changed:
            self._inside_since_ns = None
        if not changed or state == "normal":
            return []
        limit = self.max_bpm if state == "high" else self.min_bpm
        word = "above" if state == "high" else "below"
        return [
            Event(
                t_ns,
                self.name,
                "heart_rate",
                w.stream,
                f"heart rate {bpm:.0f} bpm is {word} {limit:.0f} bpm",
                "hr",
                bpm,
                {"state": state},
            )
        ]

    def reset(self) -> None:
        self._state = "normal"
        self._inside_since_ns = None


def build_rule_detectors(config: Config, streams: Collection[str]) -> list[Detector]:
    """The enabled rule detectors; one that needs two streams together only where the
    source has both (``streams``), or it would do its work on one for nothing."""
    d = config.detectors
    out: list[Detector] = []
    if d.flatline.enabled:
        out.append(FlatlineDetector(d.flatline.streams, d.flatline.tolerance))
    if d.saturation.enabled:
        out.append(SaturationDetector(d.saturation.streams, d.saturation.min_run))
    if d.dropout.enabled:
        out.append(DropoutDetector(d.dropout.streams, d.dropout.gap_factor))
    hr = d.heart_rate
    if hr.enabled:
        out.append(HeartRateRangeDetector(hr.min_bpm, hr.max_bpm, hr.hysteresis_bpm, hr.clear_s))
    if hr.enabled and hr.unexplained and HeartRateActivityDetector.streams <= set(streams):
        out.append(
            HeartRateActivityDetector(
                hr.still_std_g,
                hr.unexplained_above_bpm,
                hr.hysteresis_bpm,
                hr.unexplained_hold_s,
                hr.unexplained_settle_s,
            )
        )
    return out
