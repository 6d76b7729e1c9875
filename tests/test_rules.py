"""Rule detectors on windows with known faults, and that clean windows stay quiet."""

from __future__ import annotations

import math

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
    det = HeartRateRangeDetector(40, 180, 5, clear_s=0)

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


def test_a_rate_hovering_about_a_limit_is_one_event() -> None:
    """A runner's rate crossing 180 and back every few seconds: one ``high`` event, which
    ends only after 30 s back inside the range (by the hysteresis); then a new one."""
    det = HeartRateRangeDetector(40, 180, 5, clear_s=30)
    bpm = [170.0] * 10 + [185.0, 172.0, 172.0, 188.0, 174.0, 183.0] * 10 + [170.0] * 40
    bpm += [190.0] * 5
    events = []
    for k, rate in enumerate(bpm):  # the hub's 1 Hz rate, a window a second
        t = np.array([k * 1_000_000_000], dtype=np.int64)
        events += det.on_window(window(np.array([rate]), t, stream="hr", hop=1))
    assert [(e.t_ns // 1_000_000_000, e.extra["state"]) for e in events] == [
        (10, "high"),
        (110, "high"),
    ]


def _wrist_run(
    seconds: list[tuple[float, float]], hr_lag_s: float, settle_s: float = 300.0
) -> list:  # type: ignore[type-arg]
    """A hub's 1 Hz heart rate and a 100 Hz IMU through HeartRateActivityDetector, as the
    pipeline hands them over: 4 s windows every 1 s per stream, each hr window handed
    over ``hr_lag_s`` after the IMU window of the same second (negative: before it).
    ``seconds``: (bpm, |acc| spread in g) per second."""
    from fedwear.detect.activity import HeartRateActivityDetector

    detector = HeartRateActivityDetector(0.02, 110.0, 5.0, 30.0, settle_s)
    rng = np.random.default_rng(1)
    t_imu = np.arange(len(seconds) * 100, dtype=np.int64) * 10_000_000
    spread = np.repeat([g for _, g in seconds], 100)
    imu = np.zeros((len(t_imu), 6), np.float32)
    imu[:, 2] = 9.80665 * (1 + spread * rng.standard_normal(len(t_imu)))
    t_hr = np.arange(len(seconds), dtype=np.int64) * 1_000_000_000 + 990_000_000
    bpm = np.array([b for b, _ in seconds], np.float32)
    handed: list[tuple[float, Window]] = []
    for k in range(4, len(seconds) + 1):
        handed.append((k, Window("imu", ("ax",) * 6, 100.0, t_imu[(k - 4) * 100 : k * 100],
                                 imu[(k - 4) * 100 : k * 100], 100)))  # fmt: skip
        handed.append((k + hr_lag_s, Window("hr", ("hr",), 1.0, t_hr[k - 4 : k],
                                            bpm[k - 4 : k, None], 1)))  # fmt: skip
    events = []
    for _, w in sorted(handed, key=lambda item: item[0]):
        events += detector.on_window(w)
    return events


def test_a_hubs_heart_rate_unexplained_by_motion_is_an_event() -> None:
    """A sensor hub's own heart rate (the hr stream) meets the same rule as the PPG
    model's: fast on a still wrist for 30 s is one event; moving clears it; a fast heart
    on a moving wrist, or a slow one on a still wrist, is none. Whichever stream's window
    comes first, the events are the same."""
    seconds = (
        [(80.0, 0.005)] * 20  # resting
        + [(130.0, 0.005)] * 60  # fast, still: one event 30 s in, not repeated
        + [(130.0, 0.3)] * 20  # moving: cleared, no event
        + [(130.0, 0.005)] * 40  # still again: a second event
        + [(95.0, 0.005)] * 30  # calm
    )
    for lag in (-0.5, 0.5, 7.5):  # hr first, IMU first, hr late by seven windows
        events = _wrist_run(seconds, lag)
        assert [e.kind for e in events] == ["heart_rate_unexplained"] * 2, lag
        # the second starts once the 4 s IMU window no longer holds the movement
        assert [round(e.t_ns / 1e9, 2) for e in events] == [20.99, 103.99], lag
        assert events[0].stream == "hr" and events[0].detector == "heart_rate_activity"
        assert events[0].value == 130.0 and events[0].extra["motion_std_g"] < 0.02
    assert _wrist_run([(130.0, 0.3)] * 80, -0.5) == []  # exercise explains it
    assert _wrist_run([(100.0, 0.005)] * 80, 0.5) == []  # not fast


def _recovery(minutes_before: float) -> list[tuple[float, float]]:
    """Ten minutes' run at 160 BPM, then rest: the rate falls back to 80 BPM (time constant
    90 s, above 110 BPM for the first 88 s), with a gesture every 45 s; ``minutes_before``
    into the rest the heart jumps to 130 BPM for 40 s with no gesture."""
    run = [(160.0, 0.3)] * 600
    rest = [(80 + 80 * math.exp(-k / 90), 0.3 if k % 45 == 44 else 0.005) for k in range(900)]
    onset = round(minutes_before * 60)
    rest[onset : onset + 40] = [(130.0, 0.005)] * 40
    return run + rest


def test_a_heart_still_fast_after_exercise_is_explained_by_it() -> None:
    """Sitting down after a run, the heart takes minutes to come down: no event, where a
    rule without the settling time raised one 30 s into the rest. A fast heart later in
    the rest is one; the gestures in between do not restart the wait."""
    late = _recovery(minutes_before=8)
    events = _wrist_run(late, 0.5)
    assert [(e.kind, round(e.t_ns / 1e9)) for e in events] == [("heart_rate_unexplained", 1081)]
    unsettled = _wrist_run(late, 0.5, settle_s=0)
    assert [round(e.t_ns / 1e9) for e in unsettled] == [604, 649, 1081]  # and after a gesture
    assert _wrist_run(_recovery(minutes_before=3), 0.5) == []  # 3 minutes: not settled yet


def test_a_hubs_heart_rate_without_motion_is_not_judged() -> None:
    """No IMU window at the rate's time (a stalled or missing imu stream): the rate waits,
    and unknown motion is never taken for stillness."""
    from fedwear.detect.activity import MAX_WAITING, HeartRateActivityDetector

    detector = HeartRateActivityDetector(0.02, 110.0, 5.0, 30.0, 300.0)
    for k in range(200):
        t = np.array([k * 1_000_000_000], np.int64)
        assert (
            detector.on_window(Window("hr", ("hr",), 1.0, t, np.full((1, 1), 150.0, np.float32), 1))
            == []
        )
    assert len(detector._waiting) == MAX_WAITING
    gap = np.full((400, 6), np.nan, np.float32)  # an IMU window that is all gap
    t_imu = 200_000_000_000 + np.arange(400, dtype=np.int64) * 10_000_000
    assert detector.on_window(Window("imu", ("ax",) * 6, 100.0, t_imu, gap, 100)) == []
    assert not detector._waiting


def test_the_activity_rule_is_built_only_where_the_source_has_hr_and_imu() -> None:
    """On an IMU alone (a MobiFall replay, an IIO accelerometer) it would compute the
    motion of every window for rates that never come."""
    from fedwear.config import Config
    from fedwear.detect.rules import build_rule_detectors

    def names(streams: set[str]) -> list[str]:
        return [d.name for d in build_rule_detectors(Config(), streams)]

    assert "heart_rate_activity" in names({"imu", "hr", "ppg"})
    assert "heart_rate_activity" not in names({"imu"})
    assert "heart_rate_activity" not in names({"hr"})
    assert "heart_rate_range" in names({"imu"})  # single-stream rules as before
