"""A pure-numpy reference ring with the C ring's semantics, for one thread.

Used when FEDWEAR_PURE_PYTHON=1 (no compiled core), as the model the C ring is tested
against, and as a baseline in tools/bench/ring_throughput.py.
"""

from __future__ import annotations

__all__ = ["PyRing"]

import numpy as np

from .errors import RingError
from .ringbuf import FrameRing, Overflow, RingStats, _check_capacity, frame_dtype


class PyRing(FrameRing):
    """Same API as ``Ring``; not thread-safe."""

    def __init__(
        self, capacity: int, channels: int, overflow: Overflow = Overflow.DROP_OLDEST
    ) -> None:
        _check_capacity(capacity)
        self.capacity, self.channels, self.overflow = capacity, channels, overflow
        self.dtype = frame_dtype(channels)
        self._data = np.zeros(capacity, dtype=self.dtype)
        self._head = self._tail = 0
        self._written = self._read = self._dropped = self._overruns = 0
        self._held = 0

    def __len__(self) -> int:
        return self._head - self._tail

    def _copy_out(self, start: int, k: int, buf: np.ndarray) -> None:
        idx = (start + np.arange(k)) % self.capacity
        buf[:k] = self._data[idx]

    def write(self, frames: np.ndarray) -> int:
        frames = self._frames(frames)
        n, lost = len(frames), 0
        free = self.capacity - len(self)
        if n > free and self.overflow is Overflow.DROP_OLDEST and not self._held:
            if n > self.capacity:
                lost += n - self.capacity
                frames, n = frames[n - self.capacity :], self.capacity
            need = n - free
            self._tail += need
            lost += need
            free += need
        if n > free:
            lost += n - free
            n = free
        if n:
            idx = (self._head + np.arange(n)) % self.capacity
            self._data[idx] = frames[:n]
            self._head += n
            self._written += n
        if lost:
            self._dropped += lost
            self._overruns += 1
        return n

    def read(self, n: int, out: np.ndarray | None = None) -> np.ndarray:
        buf = self._out(n, out)
        if self._held:
            return buf[:0]
        k = min(n, len(self))
        self._copy_out(self._tail, k, buf)
        self._tail += k
        self._read += k
        return buf[:k]

    def peek(self, n: int, offset: int = 0, out: np.ndarray | None = None) -> np.ndarray:
        buf = self._out(n, out)
        if self._held:
            return buf[:0]
        k = max(0, min(n, len(self) - offset))
        self._copy_out(self._tail + offset, k, buf)
        return buf[:k]

    def peek_last(self, n: int, out: np.ndarray | None = None) -> np.ndarray:
        buf = self._out(n, out)
        if self._held:
            return buf[:0]
        k = min(n, len(self))
        self._copy_out(self._head - k, k, buf)
        return buf[:k]

    def skip(self, n: int) -> int:
        if self._held:
            return 0
        k = min(n, len(self))
        self._tail += k
        self._read += k
        return k

    def linear_block(self) -> np.ndarray:
        if self._held:
            raise RingError("a block is already held; release it first", code="held")
        off = self._tail % self.capacity
        k = min(len(self), self.capacity - off)
        self._held = k
        return self._data[off : off + k]

    def release(self, consumed: int) -> None:
        if consumed == 0 and not self._held:
            return
        if not self._held or consumed > self._held:
            raise RingError(f"release({consumed}) without a matching block", code="release")
        self._held = 0
        self._tail += consumed
        self._read += consumed

    def stats(self) -> RingStats:
        return RingStats(self._written, self._read, self._dropped, self._overruns)
