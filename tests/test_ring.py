"""The C ring against its contract and against the numpy reference ring."""

from __future__ import annotations

import threading

import numpy as np
import pytest
from conftest import examples
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule

from fedwear.errors import RingError
from fedwear.ringbuf import Overflow, Ring, frame_dtype, make_frames, make_ring
from fedwear.ringbuf_py import PyRing


def frames(first: int, n: int, channels: int = 3) -> np.ndarray:
    t = np.arange(first, first + n, dtype=np.int64)
    return make_frames(t, np.repeat(t[:, None].astype(np.float32), channels, axis=1))


def test_frame_layout_matches_c() -> None:
    assert frame_dtype(6).itemsize == 32
    assert frame_dtype(1).itemsize == 16
    assert frame_dtype(3).fields["v"][1] == 8


def test_bad_arguments_are_rejected() -> None:
    with pytest.raises(RingError, match="power of two"):
        Ring(6, 3)
    with pytest.raises(RingError, match="channels"):
        Ring(8, 0)
    with pytest.raises(RingError, match="too large"):
        Ring(1 << 50, 3)
    r = Ring(8, 3)
    with pytest.raises(RingError, match="dtype"):
        r.write(frames(0, 2, channels=2))
    with pytest.raises(RingError, match="C-contiguous"):
        r.read(4, out=np.empty(2, dtype=r.dtype))


def test_wrap_around_keeps_order() -> None:
    r = Ring(8, 3, Overflow.DROP_NEWEST)
    expect, nxt = 0, 0
    for i in range(200):
        nxt += r.write(frames(nxt, i % 5 + 1))
        got = r.read(i % 3 + 1)
        assert list(got["t"]) == list(range(expect, expect + len(got)))
        assert np.all(got["v"][:, 2] == got["t"])
        expect += len(got)


def test_peek_last_is_a_sliding_window_and_skip_consumes() -> None:
    r = Ring(16, 3)
    r.write(frames(0, 10))
    assert list(r.peek_last(4)["t"]) == [6, 7, 8, 9]
    assert list(r.peek(3, offset=2)["t"]) == [2, 3, 4]
    assert len(r) == 10
    assert r.skip(4) == 4
    assert list(r.read(2)["t"]) == [4, 5]
    assert r.stats().read == 6


def test_read_fills_the_callers_buffer_without_a_copy() -> None:
    r = Ring(16, 3)
    r.write(frames(0, 5))
    out = np.zeros(8, dtype=r.dtype)
    got = r.read(8, out=out)
    assert got.base is out or np.shares_memory(got, out)
    assert list(out["t"][:5]) == [0, 1, 2, 3, 4]


def test_drop_policies_count_what_they_lose() -> None:
    newest = Ring(8, 3, Overflow.DROP_NEWEST)
    newest.write(frames(0, 6))
    assert newest.write(frames(6, 5)) == 2
    assert list(newest.read(8)["t"]) == list(range(8))
    assert newest.stats().dropped == 3 and newest.stats().overruns == 1

    oldest = Ring(8, 3, Overflow.DROP_OLDEST)
    oldest.write(frames(0, 6))
    assert oldest.write(frames(6, 5)) == 5
    assert list(oldest.read(8)["t"]) == list(range(3, 11))
    assert oldest.stats().dropped == 3


def test_linear_block_is_zero_copy_and_release_consumes() -> None:
    r = Ring(8, 3)
    r.write(frames(0, 6))
    r.skip(5)
    r.write(frames(6, 5))  # wraps: frames 5..10 sit at slots 5..7 then 0..2
    block = r.linear_block()
    assert list(block["t"]) == [5, 6, 7]
    assert len(r.read(1)) == 0  # the consumer is busy while a block is held
    with pytest.raises(RingError, match="already held"):
        r.linear_block()
    r.release(2)
    assert list(r.read(10)["t"]) == [7, 8, 9, 10]
    assert len(r.linear_block()) == 0
    r.release(0)  # an empty block holds nothing; releasing it is harmless
    with pytest.raises(RingError):
        r.release(1)


def test_pure_python_ring_is_chosen_by_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FEDWEAR_PURE_PYTHON", "1")
    assert isinstance(make_ring(8, 3), PyRing)
    monkeypatch.delenv("FEDWEAR_PURE_PYTHON")
    assert isinstance(make_ring(8, 3), Ring)


def test_two_threads_every_frame_once_in_order() -> None:
    """Producer thread against a consumer thread (the GIL is released inside cffi calls)."""
    r = Ring(64, 3, Overflow.DROP_NEWEST)
    total = examples(50_000)  # a quarter in the QEMU guest: still ~200 laps of the ring

    def produce() -> None:
        nxt = 0
        while nxt < total:
            nxt += r.write(frames(nxt, min(17, total - nxt)))

    t = threading.Thread(target=produce)
    t.start()
    got, out = 0, np.empty(32, dtype=r.dtype)
    while got < total:
        chunk = r.read(32, out=out)
        assert np.array_equal(chunk["t"], np.arange(got, got + len(chunk)))
        got += len(chunk)
    t.join()
    # Refused writes are retried (and counted as dropped); each frame is stored once.
    assert r.stats().written == total


class RingMatchesReference(RuleBasedStateMachine):
    """Random operation sequences give identical results on the C and numpy rings."""

    def __init__(self) -> None:
        super().__init__()
        self.c = Ring(8, 2, Overflow.DROP_OLDEST)
        self.py = PyRing(8, 2, Overflow.DROP_OLDEST)
        self.next = 0

    @rule(n=st.integers(0, 20))
    def write(self, n: int) -> None:
        f = frames(self.next, n, channels=2)
        self.next += n
        assert self.c.write(f) == self.py.write(f)

    @rule(n=st.integers(0, 10))
    def read(self, n: int) -> None:
        assert np.array_equal(self.c.read(n), self.py.read(n))

    @rule(n=st.integers(0, 10), offset=st.integers(0, 10))
    def peek(self, n: int, offset: int) -> None:
        assert np.array_equal(self.c.peek(n, offset), self.py.peek(n, offset))

    @rule(n=st.integers(0, 10))
    def peek_last(self, n: int) -> None:
        assert np.array_equal(self.c.peek_last(n), self.py.peek_last(n))

    @rule(n=st.integers(0, 10))
    def skip(self, n: int) -> None:
        assert self.c.skip(n) == self.py.skip(n)

    @rule(keep=st.integers(0, 10))
    def block(self, keep: int) -> None:
        a, b = self.c.linear_block(), self.py.linear_block()
        assert np.array_equal(a, b)
        k = min(keep, len(a))
        self.c.release(k)
        self.py.release(k)

    @invariant()
    def same_counts(self) -> None:
        assert len(self.c) == len(self.py)
        assert self.c.stats() == self.py.stats()


TestRingMatchesReference = RingMatchesReference.TestCase
# Slow input generation is a property of the machine (an emulated aarch64), not of the ring.
TestRingMatchesReference.settings = settings(
    max_examples=examples(200),
    stateful_step_count=40,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
