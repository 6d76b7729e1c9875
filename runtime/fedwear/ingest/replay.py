"""Replay of recorded data into the rings, at real-time pace or as fast as possible.

Recordings play one after another; each one starts a new segment (the pipeline resets its
windows between segments, so the jump between two recordings is not a sensor gap).
Replay is a polite producer: it never pushes more than a ring has room for.
"""

from __future__ import annotations

__all__ = ["ReplaySource", "bundled_recording"]

import time
from collections.abc import Mapping
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from ..ringbuf import make_frames
from .base import STREAM_CHANNELS, Source, SourceKind, SourceStatus, StreamSpec
from .recordings import WFDB_SUFFIXES, Recording, read_recording, recordings_in

if TYPE_CHECKING:
    from ..config import Config
    from ..ringbuf import FrameRing

# Which streams each recording format can carry (the rest stay empty).
_FORMAT_STREAMS = {
    ".edf": ("imu", "ppg", "ecg", "hr"),
    **dict.fromkeys(WFDB_SUFFIXES, ("ecg", "hr")),  # the suffixes read_recording takes
    ".txt": ("imu",),
}


def bundled_recording() -> Path:
    """The short recording shipped inside the package (see data/README.md)."""
    return Path(str(resources.files("fedwear") / "data" / "wrist_walk_excerpt.edf"))


class ReplaySource(Source):
    kind = SourceKind.REPLAY

    def __init__(
        self,
        path: Path,
        rates: Mapping[str, float],
        realtime: bool = False,
        ecg_lead: str | None = None,
    ) -> None:
        self.paths = recordings_in(path)
        self.rates = dict(rates)
        self.realtime = realtime
        self.ecg_lead = ecg_lead
        names = {s for p in self.paths for s in _FORMAT_STREAMS.get(p.suffix.lower(), ())}
        self._streams = {
            n: StreamSpec(n, STREAM_CHANNELS[n], self.rates[n])
            for n in STREAM_CHANNELS
            if n in names and n in self.rates
        }
        self._rings: Mapping[str, FrameRing] = {}
        self._index = -1
        self._current: Recording | None = None
        self._pos: dict[str, int] = {}
        self._offset_ns = 0
        self._segment_start_wall = 0.0
        self._replayed_s = 0.0
        self.recordings_played: list[str] = []

    @classmethod
    def from_config(cls, config: Config, **overrides: Any) -> ReplaySource:
        src = config.source
        path = overrides.get("path") or src.path
        return cls(
            Path(path) if path else bundled_recording(),
            config.stream_rates(),
            realtime=(overrides.get("pace") or src.pace) == "realtime",
        )

    def streams(self) -> dict[str, StreamSpec]:
        return dict(self._streams)

    def start(self, rings: Mapping[str, FrameRing]) -> None:
        self._rings = rings

    def _next_recording(self) -> bool:
        if self._current is not None:
            self._offset_ns += int(self._current.duration_s() * 1e9) + 1_000_000_000
            self._replayed_s += self._current.duration_s()
        self._index += 1
        if self._index >= len(self.paths):
            self._current = None
            return False
        self._current = read_recording(self.paths[self._index], self.rates, self.ecg_lead)
        self._current.streams = {
            k: v for k, v in self._current.streams.items() if k in self._streams
        }
        self._pos = dict.fromkeys(self._current.streams, 0)
        self._segment_start_wall = time.monotonic()
        self.recordings_played.append(self._current.name)
        return True

    def pump(self, budget_s: float) -> SourceStatus:
        if self._current is None and not self._next_recording():
            return SourceStatus(ended=True)
        assert self._current is not None
        if self.realtime:
            time.sleep(budget_s)
        if self.realtime:
            elapsed_ns = (time.monotonic() - self._segment_start_wall) * 1e9
        else:  # as fast as possible, but no stream ahead of the others in time
            horizon = self._horizon_ns()
        done = True
        for name, (t, v) in self._current.streams.items():
            ring, pos = self._rings[name], self._pos[name]
            if self.realtime:
                end = int(np.searchsorted(t, t[0] + elapsed_ns, side="right"))
            else:
                end = int(np.searchsorted(t, horizon, side="right"))
            end = min(end, pos + ring.capacity - len(ring))
            if end > pos:
                ring.write(make_frames(t[pos:end] + self._offset_ns, v[pos:end]))
                self._pos[name] = end
            done &= self._pos[name] >= len(t)
        status = SourceStatus()
        if done:
            status.segment_end = True
            if not self._next_recording():
                status.ended = True
        return status

    def _horizon_ns(self) -> int:
        """The latest time every unfinished stream can reach with the room its ring has.

        Streams are then written up to that time only, so they arrive interleaved as from
        a device; a detector that combines streams (PPG with IMU) sees them in step.
        """
        assert self._current is not None
        horizon = None
        for name, (t, _) in self._current.streams.items():
            pos = self._pos[name]
            if pos >= len(t):
                continue
            ring = self._rings[name]
            last = min(len(t), pos + ring.capacity - len(ring)) - 1
            reach = int(t[last]) if last >= 0 else int(t[0]) - 1
            horizon = reach if horizon is None else min(horizon, reach)
        return horizon if horizon is not None else 1 << 62

    def counters(self) -> dict[str, int]:
        return {"recordings": len(self.recordings_played)}

    def _current_fraction(self) -> float:
        """How much of the current recording has been pushed (its slowest stream)."""
        assert self._current is not None
        fractions = [self._pos[n] / max(1, len(t)) for n, (t, _) in self._current.streams.items()]
        return min(fractions) if fractions else 1.0

    def progress(self) -> float | None:
        if self._current is None:
            return 1.0 if self._index >= len(self.paths) else 0.0
        return (self._index + self._current_fraction()) / len(self.paths)

    def replayed_s(self) -> float:
        """Seconds of recording pushed so far (whole recordings plus the current one)."""
        if self._current is None:
            return self._replayed_s
        return self._replayed_s + self._current.duration_s() * self._current_fraction()

    def close(self) -> None:
        self._replayed_s = self.replayed_s()  # keep what was played of the current recording
        self._current = None
