"""Frame rings: the C single-producer/single-consumer ring, seen from Python as numpy.

A frame is an int64 timestamp in ns plus ``channels`` float32 values (``frame_dtype``).
Reads copy straight into a caller-owned numpy array (one memcpy, no temporary);
``linear_block`` hands out a zero-copy view that ``release`` then consumes.
Set ``FEDWEAR_PURE_PYTHON=1`` to use the numpy reference ring instead (no threads).
"""

from __future__ import annotations

__all__ = [
    "FrameRing",
    "Overflow",
    "Ring",
    "RingStats",
    "frame_dtype",
    "make_frames",
    "make_ring",
]

import os
from abc import ABC, abstractmethod
from dataclasses import dataclass
from enum import Enum
from functools import lru_cache

import numpy as np

from .errors import RingError


class Overflow(Enum):
    """What a full ring does with new frames."""

    DROP_NEWEST = "drop-newest"
    DROP_OLDEST = "drop-oldest"


@dataclass(frozen=True)
class RingStats:
    """Totals since creation; ``dropped`` counts frames lost to overflow."""

    written: int
    read: int
    dropped: int
    overruns: int


def frame_size(channels: int) -> int:
    """Bytes per frame: 8 + 4 * channels, padded to a multiple of 8 (as in fw_ring.h)."""
    return (8 + 4 * channels + 7) & ~7


@lru_cache(maxsize=64)
def frame_dtype(channels: int) -> np.dtype:
    """Structured dtype of one frame: ``t`` (int64 ns) and ``v`` (float32 x channels)."""
    if not 1 <= channels <= 256:
        raise RingError(f"channels must be 1..256, got {channels}", code="channels")
    return np.dtype(
        {
            "names": ["t", "v"],
            "formats": ["<i8", ("<f4", (channels,))],
            "offsets": [0, 8],
            "itemsize": frame_size(channels),
        }
    )


def make_frames(t_ns: np.ndarray, values: np.ndarray) -> np.ndarray:
    """Pack timestamps (n,) and values (n, channels) into a frame array."""
    values = np.asarray(values, dtype=np.float32)
    if values.ndim == 1:
        values = values[:, None]
    frames = np.empty(len(t_ns), dtype=frame_dtype(values.shape[1]))
    frames["t"] = t_ns
    frames["v"] = values
    return frames


def _check_capacity(capacity: int) -> None:
    if capacity < 1 or capacity & (capacity - 1):
        raise RingError(f"capacity must be a power of two, got {capacity}", code="capacity")


class FrameRing(ABC):
    """The frame ring interface (the C ring and the numpy reference ring implement it).

    Producer side: ``write``. Consumer side: everything else. Consumer methods return
    views of ``out`` (or of a new array when ``out`` is None).
    """

    capacity: int
    channels: int
    dtype: np.dtype

    @abstractmethod
    def __len__(self) -> int:
        """Frames waiting to be consumed."""

    @abstractmethod
    def write(self, frames: np.ndarray) -> int:
        """Store frames; returns how many were stored (overflow is counted)."""

    @abstractmethod
    def read(self, n: int, out: np.ndarray | None = None) -> np.ndarray:
        """Take up to n oldest frames."""

    @abstractmethod
    def peek(self, n: int, offset: int = 0, out: np.ndarray | None = None) -> np.ndarray:
        """Copy up to n frames starting ``offset`` after the oldest; keep them."""

    @abstractmethod
    def peek_last(self, n: int, out: np.ndarray | None = None) -> np.ndarray:
        """Copy the newest n frames without consuming."""

    @abstractmethod
    def skip(self, n: int) -> int:
        """Drop up to n oldest frames; returns how many."""

    @abstractmethod
    def linear_block(self) -> np.ndarray:
        """A zero-copy view of the oldest contiguous frames, held until ``release``."""

    @abstractmethod
    def release(self, consumed: int) -> None:
        """End a ``linear_block`` claim, consuming ``consumed`` frames."""

    @abstractmethod
    def stats(self) -> RingStats:
        """Totals since creation."""

    def _out(self, n: int, out: np.ndarray | None) -> np.ndarray:
        if out is None:
            return np.empty(n, dtype=self.dtype)
        if out.dtype != self.dtype or not out.flags.c_contiguous or len(out) < n:
            raise RingError(
                "out must be a C-contiguous frame array of at least n frames", code="out"
            )
        return out

    def _frames(self, frames: np.ndarray) -> np.ndarray:
        if frames.dtype != self.dtype:
            raise RingError(
                f"frames must have dtype {self.dtype}, got {frames.dtype}", code="dtype"
            )
        return np.ascontiguousarray(frames)


class Ring(FrameRing):
    """The C ring (native/fw_ring.c). One producer thread and one consumer thread."""

    def __init__(
        self, capacity: int, channels: int, overflow: Overflow = Overflow.DROP_OLDEST
    ) -> None:
        from .native import ffi, lib

        _check_capacity(capacity)
        self.dtype = frame_dtype(channels)
        size = lib.fw_ring_memory_size(capacity, channels)
        if size == 0:
            raise RingError(
                f"a ring of {capacity} x {channels} channels is too large", code="capacity"
            )
        self._ffi, self._lib = ffi, lib
        self._memory = ffi.new("char[]", size)  # owned here, for the ring's lifetime
        policy = lib.FW_DROP_OLDEST if overflow is Overflow.DROP_OLDEST else lib.FW_DROP_NEWEST
        self.ptr = lib.fw_ring_init(self._memory, size, capacity, channels, policy)
        if self.ptr == ffi.NULL:
            raise RingError("fw_ring_init refused its arguments", code="init")
        self.capacity, self.channels, self.overflow = capacity, channels, overflow
        self._stats = ffi.new("fw_ring_stats_t *")
        self._block = ffi.new("const void **")
        self._held = False

    def __len__(self) -> int:
        return int(self._lib.fw_ring_count(self.ptr))

    def write(self, frames: np.ndarray) -> int:
        """Producer: store frames; returns how many were stored (overflow is counted)."""
        frames = self._frames(frames)
        return int(self._lib.fw_ring_write(self.ptr, self._ffi.from_buffer(frames), len(frames)))

    def read(self, n: int, out: np.ndarray | None = None) -> np.ndarray:
        """Consumer: take up to n oldest frames."""
        buf = self._out(n, out)
        k = self._lib.fw_ring_read(self.ptr, self._ffi.from_buffer(buf), n)
        return buf[:k]

    def peek(self, n: int, offset: int = 0, out: np.ndarray | None = None) -> np.ndarray:
        """Consumer: copy up to n frames starting ``offset`` after the oldest; keep them."""
        buf = self._out(n, out)
        k = self._lib.fw_ring_peek(self.ptr, self._ffi.from_buffer(buf), offset, n)
        return buf[:k]

    def peek_last(self, n: int, out: np.ndarray | None = None) -> np.ndarray:
        """Consumer: copy the newest n frames (a sliding window) without consuming."""
        buf = self._out(n, out)
        k = self._lib.fw_ring_peek_last(self.ptr, self._ffi.from_buffer(buf), n)
        return buf[:k]

    def skip(self, n: int) -> int:
        """Consumer: drop up to n oldest frames; returns how many."""
        return int(self._lib.fw_ring_skip(self.ptr, n))

    def linear_block(self) -> np.ndarray:
        """Consumer: a zero-copy view of the oldest contiguous frames.

        The ring stays claimed until ``release`` is called, even with 0; the view must
        not be used after that.
        """
        if self._held:
            raise RingError("a block is already held; release it first", code="held")
        k = self._lib.fw_ring_linear_block(self.ptr, self._block)
        self._held = k > 0
        if k == 0:
            return np.empty(0, dtype=self.dtype)
        raw = self._ffi.buffer(self._block[0], k * self.dtype.itemsize)
        return np.frombuffer(raw, dtype=self.dtype)

    def release(self, consumed: int) -> None:
        """Consumer: end a ``linear_block`` claim, consuming ``consumed`` frames."""
        if consumed == 0 and not self._held:
            return  # the block was empty: nothing is claimed
        self._held = False
        rc = self._lib.fw_ring_release(self.ptr, consumed)
        if rc != self._lib.FW_OK:
            raise RingError(f"release({consumed}) without a matching block", code="release")

    def stats(self) -> RingStats:
        self._lib.fw_ring_stats(self.ptr, self._stats)
        s = self._stats
        return RingStats(int(s.written), int(s.read), int(s.dropped), int(s.overruns))


def make_ring(capacity: int, channels: int, overflow: Overflow = Overflow.DROP_OLDEST) -> FrameRing:
    """The C ring, or the numpy reference ring when FEDWEAR_PURE_PYTHON=1."""
    if os.environ.get("FEDWEAR_PURE_PYTHON") == "1":
        from .ringbuf_py import PyRing

        return PyRing(capacity, channels, overflow)
    return Ring(capacity, channels, overflow)
