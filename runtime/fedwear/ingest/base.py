"""The source interface: every sensor backend fills one frame ring per stream.

Streams are named by what they carry, with fixed channel order:
``imu`` (ax, ay, az in m/s^2; gx, gy, gz in rad/s), ``ppg`` (raw optical signal),
``ecg`` (mV) and ``hr`` (beats per minute).
"""

from __future__ import annotations

__all__ = ["STREAM_CHANNELS", "Source", "SourceKind", "SourceStatus", "StreamSpec", "open_source"]

from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass
from enum import Enum
from types import TracebackType
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ..config import Config
    from ..ringbuf import FrameRing

STREAM_CHANNELS: dict[str, tuple[str, ...]] = {
    "imu": ("ax", "ay", "az", "gx", "gy", "gz"),
    "ppg": ("ppg",),
    "ecg": ("ecg",),
    "hr": ("hr",),
}


@dataclass(frozen=True)
class StreamSpec:
    """One stream a source produces: its channels and nominal sample rate."""

    name: str
    channels: tuple[str, ...]
    rate_hz: float


@dataclass
class SourceStatus:
    """What a source reports after each pump: whether and why it ended."""

    ended: bool = False
    error: str = ""
    lost: bool = False  # the device vanished (as opposed to a clean end of data)
    segment_end: bool = False  # a recording ended; the next frames start a new segment


class SourceKind(Enum):
    """Backends; only the chosen one is imported."""

    REPLAY = "replay"
    UART = "uart"
    IIO = "iio"


class Source(ABC):
    """A producer of frames into one ring per stream."""

    kind: SourceKind

    @abstractmethod
    def streams(self) -> dict[str, StreamSpec]:
        """The streams this source will produce, known before start()."""

    @abstractmethod
    def start(self, rings: Mapping[str, FrameRing]) -> None:
        """Begin producing into ``rings`` (one per stream name)."""

    @abstractmethod
    def pump(self, budget_s: float) -> SourceStatus:
        """Let the source make progress for at most ``budget_s`` seconds.

        Replay sources push their next chunk here; thread-backed sources wait for
        data and watch their intake thread.
        """

    def counters(self) -> dict[str, int]:
        """What the source counted (bytes, frames, errors, ...), read once for the run's
        summary; after close() it holds the final figures."""
        return {}

    def progress(self) -> float | None:
        """Fraction of the input consumed (replay), or None when unbounded."""
        return None

    def replayed_s(self) -> float | None:
        """Seconds of recording played so far (replay), or None for a live source."""
        return None

    @abstractmethod
    def close(self) -> None:
        """Stop producing and release the device. Idempotent."""

    def __enter__(self) -> Source:
        return self

    def __exit__(
        self, et: type[BaseException] | None, ev: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()


def open_source(config: Config, **overrides: Any) -> Source:
    """Build the source the configuration names."""
    kind = SourceKind(config.source.kind)
    if kind is SourceKind.REPLAY:
        from .replay import ReplaySource

        return ReplaySource.from_config(config, **overrides)
    if kind is SourceKind.UART:
        from .uart import UartSource

        return UartSource.from_config(config, **overrides)
    from .iio import IioSource

    return IioSource.from_config(config, **overrides)
