"""The fibrillation check tells a random RR series from frequent premature beats."""

from __future__ import annotations

import numpy as np
import pytest

from fedwear.infer.rhythm import FibrillationCheck

WINDOW = 128


def verdicts(rr: np.ndarray) -> np.ndarray:
    check = FibrillationCheck(WINDOW, rmssd_ratio=0.1, entropy=0.7)
    return np.array([check.push(float(r)) for r in rr])


def test_random_intervals_are_fibrillation_once_the_window_is_full() -> None:
    rng = np.random.default_rng(1)
    flags = verdicts(rng.uniform(0.4, 1.2, 600))
    assert not flags[: WINDOW - 1].any()
    assert flags[WINDOW:].mean() > 0.9


def test_regular_sinus_rhythm_is_not() -> None:
    rng = np.random.default_rng(2)
    assert not verdicts(0.8 + rng.normal(0, 0.02, 600)).any()


def test_bigeminy_is_irregular_but_not_fibrillation() -> None:
    rng = np.random.default_rng(3)
    rr = np.tile([0.55, 1.05], 300) + rng.normal(0, 0.02, 600)
    check = FibrillationCheck(WINDOW, rmssd_ratio=0.1, entropy=0.7)
    flags = [check.push(float(r)) for r in rr]
    assert check.latest is not None and check.latest.rmssd_ratio > 0.5
    assert not check.latest.random_order  # it alternates: a turning point at every beat
    assert not any(flags)


def test_irregular_is_the_first_two_tests_whatever_the_order() -> None:
    """Random intervals dealt out long, short, long, short: as irregular and spread out as
    fibrillation, but a turning point at every beat. The beat detector asks for the
    first two tests alone of the intervals between beats not V by shape."""
    rng = np.random.default_rng(5)
    ordered = np.sort(rng.uniform(0.4, 1.2, 600))
    alternating = np.empty(600)
    alternating[0::2], alternating[1::2] = ordered[300:][rng.permutation(300)], ordered[:300]
    check = FibrillationCheck(WINDOW, rmssd_ratio=0.1, entropy=0.7)
    assert not check.irregular  # nothing measured yet
    flags = [check.push(float(r)) for r in alternating]
    assert check.irregular and not any(flags)
    regular = FibrillationCheck(WINDOW, rmssd_ratio=0.1, entropy=0.7)
    for r in 0.8 + rng.normal(0, 0.02, 200):
        regular.push(float(r))
    assert regular.latest is not None and not regular.irregular


def test_frequent_premature_beats_with_pauses_are_not_fibrillation() -> None:
    """Every third or fourth beat early, then a compensatory pause: two extra clusters."""
    rng = np.random.default_rng(4)
    rr: list[float] = []
    while len(rr) < 600:
        rr += [0.85] * int(rng.integers(2, 4)) + [0.5, 1.2]
    flags = verdicts(np.array(rr[:600]) + rng.normal(0, 0.02, 600))
    assert not flags.any()


def test_statistics_of_a_known_series() -> None:
    check = FibrillationCheck(32, rmssd_ratio=0.1, entropy=0.7)
    rr = np.tile([1.0, 2.0], 16)
    stats = check.measure(rr)
    assert stats.turning_points == 30  # every inner interval is a peak or a trough
    assert not stats.random_order
    assert stats.rmssd_ratio == pytest.approx(1.0 / 1.5)
    assert stats.entropy == pytest.approx(np.log(2) / np.log(16))


def test_a_window_too_short_for_the_histogram_is_refused() -> None:
    with pytest.raises(ValueError, match="at least 32 beats"):
        FibrillationCheck(16, rmssd_ratio=0.1, entropy=0.7)


def test_equal_intervals_stay_equal_whatever_the_timestamps_float_noise() -> None:
    """R peaks land on sample ticks (4 ms at 250 Hz), so equal intervals are common; noise
    from how the timestamps were computed must not turn ties into turning points."""
    rng = np.random.default_rng(5)
    ticks = rng.integers(100, 275, 300) * 0.004
    clean, noisy = (FibrillationCheck(WINDOW, 0.1, 0.7) for _ in range(2))
    for rr in ticks:
        clean.push(float(rr))
        noisy.push(float(rr) + float(rng.normal(0, 1e-7)))
        assert clean.latest == noisy.latest


def test_beat_times_give_the_intervals_and_a_gap_gives_none() -> None:
    rng = np.random.default_rng(6)
    times = np.cumsum(rng.integers(100, 275, 200) * 0.004)
    by_interval, by_time = (FibrillationCheck(WINDOW, 0.1, 0.7) for _ in range(2))
    for rr in np.diff(times):
        by_interval.push(float(rr))
    for t in times:
        by_time.beat(float(t))
    assert by_time.latest == by_interval.latest
    by_time.gap()
    by_time.beat(float(times[-1]) + 100.0)  # after a gap: no 100 s interval
    assert by_time.latest == by_interval.latest
    by_time.beat(float(times[-1]) + 100.8)
    by_interval.push(0.8)
    assert by_time.latest == by_interval.latest
