"""TimeAligner: several devices' frames onto the first device's instants, nothing made up."""

from __future__ import annotations

import numpy as np

from fedwear.ingest.align import TimeAligner

MS = 1_000_000


def test_same_instants_pass_through_unchanged() -> None:
    aligner = TimeAligner([1, 2], max_gap_ns=30 * MS, limit=100)
    t = np.arange(5) * 10 * MS
    aligner.add(0, t, np.arange(5.0))
    aligner.add(1, t, np.column_stack([np.arange(5.0) * 2, -np.arange(5.0)]))
    out_t, out_v = aligner.take()
    assert np.array_equal(out_t, t)
    assert out_v.tolist() == [[i, 2 * i, -i] for i in range(5)]
    assert aligner.take()[0].size == 0  # given out once


def test_an_instant_waits_for_the_other_device_and_then_interpolates() -> None:
    aligner = TimeAligner([1, 1], max_gap_ns=30 * MS, limit=100)
    aligner.add(0, np.array([10, 20, 30]) * MS, np.zeros(3))
    aligner.add(1, np.array([5, 15]) * MS, np.array([0.5, 1.5]))
    t, v = aligner.take()
    assert (t // MS).tolist() == [10] and v[:, 1].tolist() == [1.0]
    aligner.add(1, np.array([25, 35]) * MS, np.array([2.5, 3.5]))  # the next, across reads
    t, v = aligner.take()
    assert (t // MS).tolist() == [20, 30] and v[:, 1].tolist() == [2.0, 3.0]


def test_before_the_other_device_starts_and_across_its_holes_nothing_is_made_up() -> None:
    aligner = TimeAligner([1, 1], max_gap_ns=30 * MS, limit=100)
    aligner.add(0, np.arange(0, 100, 10) * MS, np.zeros(10))
    aligner.add(1, np.array([25, 35, 85, 95]) * MS, np.ones(4))
    t, v = aligner.take()
    assert (t // MS).tolist() == [30, 40, 50, 60, 70, 80, 90]
    assert aligner.dropped == 3  # 0, 10 and 20 ms: before the other's first sample
    assert np.isnan(v[1:6, 1]).all() and v[[0, 6], 1].tolist() == [1.0, 1.0]


def test_a_silent_device_holds_at_most_the_limit() -> None:
    aligner = TimeAligner([1, 1], max_gap_ns=30 * MS, limit=8)
    aligner.add(0, np.arange(20) * MS, np.arange(20.0))
    assert aligner.take()[0].size == 0 and aligner.dropped == 12
    aligner.add(1, np.array([12, 19]) * MS, np.zeros(2))
    t, _ = aligner.take()
    assert (t // MS).tolist() == list(range(12, 20))
