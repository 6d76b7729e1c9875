"""TimeAligner: several devices' frames onto the first device's instants, nothing made up."""

from __future__ import annotations

import numpy as np

from fedwear.ingest.align import TimeAligner

MS = 1_000_000


def test_same_instants_pass_through_unchanged() -> None:
    aligner = TimeAligner([1, 2], max_gaps_ns=[30 * MS] * 2, limit=100)
    t = np.arange(5) * 10 * MS
    aligner.add(0, t, np.arange(5.0))
    aligner.add(1, t, np.column_stack([np.arange(5.0) * 2, -np.arange(5.0)]))
    out_t, out_v = aligner.take()
    assert np.array_equal(out_t, t)
    assert out_v.tolist() == [[i, 2 * i, -i] for i in range(5)]
    assert aligner.take()[0].size == 0  # given out once


def test_an_instant_waits_for_the_other_device_and_then_interpolates() -> None:
    aligner = TimeAligner([1, 1], max_gaps_ns=[30 * MS] * 2, limit=100)
    aligner.add(0, np.array([10, 20, 30]) * MS, np.zeros(3))
    aligner.add(1, np.array([5, 15]) * MS, np.array([0.5, 1.5]))
    t, v = aligner.take()
    assert (t // MS).tolist() == [10] and v[:, 1].tolist() == [1.0]
    aligner.add(1, np.array([25, 35]) * MS, np.array([2.5, 3.5]))  # the next, across reads
    t, v = aligner.take()
    assert (t // MS).tolist() == [20, 30] and v[:, 1].tolist() == [2.0, 3.0]


def test_before_the_other_device_starts_and_across_its_holes_nothing_is_made_up() -> None:
    aligner = TimeAligner([1, 1], max_gaps_ns=[30 * MS] * 2, limit=100)
    aligner.add(0, np.arange(0, 100, 10) * MS, np.zeros(10))
    aligner.add(1, np.array([25, 35, 85, 95]) * MS, np.ones(4))
    t, v = aligner.take()
    assert (t // MS).tolist() == [30, 40, 50, 60, 70, 80, 90]
    assert aligner.dropped == 3  # 0, 10 and 20 ms: before the other's first sample
    assert np.isnan(v[1:6, 1]).all() and v[[0, 6], 1].tolist() == [1.0, 1.0]


def test_a_silent_device_holds_at_most_the_limit() -> None:
    aligner = TimeAligner([1, 1], max_gaps_ns=[30 * MS] * 2, limit=8)
    aligner.add(0, np.arange(20) * MS, np.arange(20.0))
    assert aligner.take()[0].size == 0 and aligner.dropped == 12
    aligner.add(1, np.array([12, 19]) * MS, np.zeros(2))
    t, _ = aligner.take()
    assert (t // MS).tolist() == list(range(12, 20))


def test_on_a_grid_every_device_is_resampled_to_the_streams_period() -> None:
    """A device at 104 Hz for a 100 Hz stream (an LSM6DS*): the frames come every 10 ms,
    each device's ramp read off at those instants, across reads."""
    aligner = TimeAligner([1, 1], max_gaps_ns=[30 * MS] * 2, limit=1000, period_ns=10 * MS)
    period = 1e9 / 104
    t_fast = np.round(np.arange(208) * period).astype(np.int64) + 3 * MS
    aligner.add(0, t_fast[:104], np.arange(104.0))
    aligner.add(1, np.arange(0, 1000, 20) * MS, np.arange(0, 1000, 20) / 1000)  # 50 Hz
    t, v = aligner.take()
    assert (t // MS).tolist() == list(range(3, 980, 10))  # from where both have started
    aligner.add(0, t_fast[104:], np.arange(104.0, 208.0))
    aligner.add(1, np.arange(1000, 2000, 20) * MS, np.arange(1000, 2000, 20) / 1000)
    t2, v2 = aligner.take()
    t, v = np.concatenate([t, t2]), np.vstack([v, v2])
    assert np.array_equal(np.diff(t), np.full(len(t) - 1, 10 * MS))
    assert t[-1] <= min(t_fast[-1], 1980 * MS)
    np.testing.assert_allclose(v[:, 0], (t - 3 * MS) / period, atol=1e-4)
    np.testing.assert_allclose(v[:, 1], t / 1e9, atol=1e-6)


def test_on_a_grid_one_devices_hole_is_nan_and_a_hole_in_all_is_jumped() -> None:
    """A hole in one device is NaN in its channels; one that every device has (a
    suspend of an hour) is left out, not filled with 360 000 empty frames."""
    aligner = TimeAligner([1, 1], max_gaps_ns=[30 * MS] * 2, limit=1000, period_ns=10 * MS)
    hour = 3600 * 1000 * MS
    t = np.concatenate([np.arange(0, 200, 10), np.arange(0, 200, 10) + hour // MS]) * MS
    with_hole = np.concatenate([t[:5], t[10:]])  # 50 .. 90 ms missing in device 1
    aligner.add(0, t, np.ones(len(t)))
    aligner.add(1, with_hole, np.full(len(with_hole), 2.0))
    out_t, v = aligner.take()
    assert len(out_t) == 40 and out_t[20] == hour  # the hour jumped, on the same grid
    assert np.isnan(v[5:10, 1]).all() and not np.isnan(np.delete(v[:, 1], range(5, 10))).any()
    assert (v[:, 0] == 1.0).all()
