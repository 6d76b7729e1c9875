"""What every detector receives (a window) and emits (events)."""

from __future__ import annotations

__all__ = ["Detector", "Event", "OnsetTracker", "Window"]

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

import numpy as np


@dataclass(frozen=True)
class Window:
    """A sliding window of one stream: ``t`` int64 ns (n,), ``v`` float32 (n, channels)."""

    stream: str
    channels: tuple[str, ...]
    rate_hz: float
    t: np.ndarray
    v: np.ndarray
    hop: int  # frames new since the previous window of this stream

    # Per-channel statistics several detectors need, computed once per window.
    @cached_property
    def finite(self) -> np.ndarray:
        """(n, channels) mask of finite samples."""
        return np.isfinite(self.v)

    @cached_property
    def all_finite(self) -> bool:
        return bool(self.finite.all())

    @cached_property
    def high(self) -> np.ndarray:
        """Per-channel maximum of the finite samples (-inf where none)."""
        return (
            self.v.max(axis=0)
            if self.all_finite
            else np.where(self.finite, self.v, -np.inf).max(axis=0)
        )

    @cached_property
    def low(self) -> np.ndarray:
        """Per-channel minimum of the finite samples (+inf where none)."""
        return (
            self.v.min(axis=0)
            if self.all_finite
            else np.where(self.finite, self.v, np.inf).min(axis=0)
        )

    @cached_property
    def finite_count(self) -> np.ndarray:
        return np.full(self.v.shape[1], len(self.v)) if self.all_finite else self.finite.sum(0)


@dataclass(frozen=True)
class Event:
    """Something a detector found; ``t_ns`` is the stream time where it starts.

    Stream time is the device's (a hub's clock from its boot) or the recording's, and says
    nothing of when: ``at`` is the wall-clock time (UTC, seconds since the epoch) at which
    the pipeline emitted the event, so a fall read from the log or delivered over BLE
    hours later still says when it happened.
    """

    t_ns: int
    detector: str
    kind: str  # "sensor_fault", "heart_rate", ...
    stream: str
    message: str
    channel: str | None = None
    value: float | None = None
    extra: dict[str, Any] = field(default_factory=dict)
    at: float | None = None

    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {
            "type": "event",
            "t": round(self.t_ns / 1e9, 6),
        }
        if self.at is not None:
            d["at"] = round(self.at, 3)
        d |= {"detector": self.detector, "kind": self.kind, "stream": self.stream}
        if self.channel is not None:
            d["channel"] = self.channel
        if self.value is not None:
            d["value"] = round(float(self.value), 6)
        d["message"] = self.message
        d.update(self.extra)
        return d


class OnsetTracker:
    """Reports a condition once when it starts and re-arms when it clears.

    Windows overlap, so a fault that lasts one second is seen by several windows; this
    keeps it to one event. Conditions are boolean vectors (one entry per channel).
    """

    def __init__(self) -> None:
        self._active: dict[str, np.ndarray] = {}

    def onsets(self, key: str, condition: np.ndarray | bool) -> np.ndarray:
        """Indices where ``condition`` turned on since the last call for ``key``."""
        cond = np.asarray(condition, dtype=bool).reshape(-1)
        previous = self._active.get(key)
        self._active[key] = cond
        return np.flatnonzero(cond if previous is None else cond & ~previous)

    def reset(self) -> None:
        self._active.clear()


class Detector(ABC):
    """Looks at windows of the streams it names."""

    name: str
    streams: frozenset[str]

    @abstractmethod
    def on_window(self, window: Window) -> list[Event]:
        """Events found in this window (usually none)."""

    def reset(self) -> None:  # noqa: B027 - stateless detectors need nothing here
        """Forget state: the next window starts a new segment (another recording)."""

    def flagged_windows(self) -> int:
        """Windows (or steps) left unscored for gaps or non-finite samples since the
        detector was made. The run summary and `fedwear eval` report them, so a figure
        over partly unusable data never passes for one over all of it."""
        return 0
