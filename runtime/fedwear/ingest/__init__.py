"""Sensor intake: sources that fill frame rings (UART hub, Linux IIO, replay)."""

from .base import Source, SourceKind, StreamSpec, open_source

__all__ = ["Source", "SourceKind", "StreamSpec", "open_source"]
