"""Rule detectors on windows with known faults, and that clean windows stay quiet."""

from __future__ import annotations

import numpy as np

from fedwear.detect.base import Window
from fedwear.detect.rules import (
    DropoutDetector,
    FlatlineDetector,
    HeartRateRangeDetector,
    SaturationDetector,
    longest_run,
)

RATE = 100.0


def window(
    v: np.ndarray, t: np.ndarray | None = None, stream: str = "imu", hop: int = 100
) -> Window:
    v = np.asarray(v, dtype=np.float32).reshape(len(v), -1)
    if t is None:
        t = np.arange(len(v), dtype=np.int64) * 10_000_000
    channels = tuple(f"c{i}" for i in range(v.shape[1]))
    return Window(stream, channels, RATE, t, v, hop)


def noisy(n: int = 400, channels: int = 3, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return np.sin(np.arange(n)[:, None] / 7.0 + np.arange(channels)) + 0.1 * rng.standard_normal(
        (n, channels)
    )


def test_longest_run_per_column() -> None:
    mask = np.array([[1, 0], [1, 1], [0, 1], [1, 1], [1, 1], [1, 0]], dtype=bool)
    length, start = longest_run(mask)
    assert list(length) == [3, 4] and list(start) == [3, 1]


def test_flatline_fires_once_and_rearms() -> None:
    det = FlatlineDetector(["imu"], 1e-6)
    v = noisy()
    v[:, 1] = 0.5  # stuck channel
    assert [e.channel for e in det.on_window(window(v))] == ["c1"]
    assert det.on_window(window(v)) == []  # still stuck: no repeat
    assert det.on_window(window(noisy())) == []  # recovered
    assert len(det.on_window(window(v))) == 1  # stuck again: a new event


def test_saturation_finds_clipping_but_not_a_clean_signal() -> None:
    det = SaturationDetector(["imu"], 4)
    assert det.on_window(window(noisy())) == []
    v = noisy()
    v[:, 0] = np.clip(v[:, 0] * 3, -2.0, 2.0)  # clipped at the rails
    events = det.on_window(window(v))
    assert [e.channel for e in events] == ["c0"]
    assert abs(abs(events[0].value) - 2.0) < 1e-6 and events[0].extra["samples"] >= 4


def test_saturation_leaves_flat_channels_to_flatline() -> None:
    v = noisy()
    v[:, 2] = 1.0
    assert SaturationDetector(["imu"], 4).on_window(window(v)) == []


def test_dropout_reports_each_gap_once_across_overlapping_windows() -> None:
    det = DropoutDetector(["imu"], 2.5)
    t = np.arange(400, dtype=np.int64) * 10_000_000
    t[200:] += 500_000_000  # half a second missing
    first = det.on_window(window(noisy(), t))
    assert len(first) == 1 and abs(first[0].value - 0.51) < 1e-6
    assert first[0].extra["missing"] == 50
    assert det.on_window(window(noisy(), t)) == []
    v = noisy()
    v[10:13, 0] = np.nan
    nonfinite = det.on_window(window(v))
    assert len(nonfinite) == 1 and nonfinite[0].extra["nonfinite"] == 3


def test_heart_rate_range_with_hysteresis() -> None:
    det = HeartRateRangeDetector(40, 180, 5)

    def hr(bpm: float) -> Window:
        return window(
            np.full(4, bpm), np.arange(4, dtype=np.int64) * 1_000_000_000, stream="hr", hop=1
        )

    assert det.on_window(hr(120)) == []
    high = det.on_window(hr(190))
    assert len(high) == 1 and high[0].extra["state"] == "high" and high[0].value == 190
    assert det.on_window(hr(178)) == []  # inside the limit but within the hysteresis band
    assert det.on_window(hr(170)) == []  # back to normal, silently
    assert det.on_window(hr(190))[0].extra["state"] == "high"
    det.reset()
    low = det.on_window(hr(30))
    assert low[0].extra["state"] == "low"
    assert det.on_window(window(np.full(4, np.nan), stream="hr", hop=1)) == []
