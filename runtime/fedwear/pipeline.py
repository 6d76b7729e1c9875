"""The main job: source -> rings -> sliding windows -> detectors -> events.

Each stream has its own ring. A window is a peek of the oldest ``window`` frames (the
ring itself is the history, no second buffer); after the detectors have seen it, ``hop``
frames are skipped. The producer (C intake thread or replay) and this consumer never
share anything but the ring. A live stream that stops sending delivers no window at all,
so the loop also watches each ring's growth against the wall clock (detect.silence).
"""

from __future__ import annotations

__all__ = ["RunSummary", "StreamWindows", "run_pipeline"]

import dataclasses
import math
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np

from .config import Config
from .detect.base import Detector, Event, Window
from .detect.silence import SilenceWatch
from .ingest.base import Source, SourceStatus, StreamSpec
from .ringbuf import FrameRing, Overflow, make_ring


class EventSink(Protocol):
    def event(self, event: Event) -> None: ...


def ring_capacity(seconds: float, rate_hz: float) -> int:
    """Frames for ``seconds`` of a stream, rounded up to a power of two."""
    return 1 << max(4, math.ceil(math.log2(max(1.0, seconds * rate_hz))))


class StreamWindows:
    """Sliding windows over one ring, with a reused output buffer."""

    def __init__(self, spec: StreamSpec, ring: FrameRing, window_s: float, hop_s: float) -> None:
        self.spec, self.ring = spec, ring
        self.size = max(2, round(window_s * spec.rate_hz))
        self.hop = max(1, min(self.size, round(hop_s * spec.rate_hz)))
        self._buf = np.empty(self.size, dtype=ring.dtype)
        self._fresh = self.size  # frames in the next window not seen before
        self._shown = False  # a window of this segment is in _buf
        self.windows = 0

    def next_window(self) -> Window | None:
        if len(self.ring) < self.size:
            return None
        w = self._window(self.ring.peek(self.size, out=self._buf), self._fresh)
        self.ring.skip(self.hop)
        self._fresh = self.hop
        self._shown = True
        return w

    def final_window(self) -> Window | None:
        """At a segment's end: its last frames, fewer than a hop, that no window has shown,
        in a window of the usual size that ends at the last frame (the rest comes from the
        window before). None when there are none, or the segment was shorter than a window.

        Without it a recording's last second never reached the detectors (the beat
        detector lost the beats there, and `fedwear eval` differed from the cards)."""
        left = len(self.ring)
        fresh = left - (self.size - self.hop)
        if not self._shown or fresh <= 0:
            return None
        tail = self.ring.peek(left)
        frames = np.concatenate((self._buf[self.hop - (self.size - left) : self.hop], tail))
        self.ring.skip(left)
        return self._window(frames, fresh)

    def _window(self, frames: np.ndarray, fresh: int) -> Window:
        self.windows += 1
        return Window(
            self.spec.name, self.spec.channels, self.spec.rate_hz, frames["t"], frames["v"], fresh
        )

    def end_segment(self) -> int:
        """Discard frames too few for a window; returns how many."""
        self._fresh = self.size
        self._shown = False
        return self.ring.skip(len(self.ring))


@dataclass
class RunSummary:
    samples: int = 0
    windows: int = 0
    events_by_detector: dict[str, int] = field(default_factory=dict)
    # windows (or steps) each detector left unscored: gaps or non-finite samples
    flagged_by_detector: dict[str, int] = field(default_factory=dict)
    dropped: int = 0  # ring overflow
    lost: int = 0  # missing at the source (sequence gaps)
    recording_s: float = 0.0
    wall_s: float = 0.0
    ended: str = "end of data"
    source_lost: bool = False  # the device vanished: systemd should restart us
    source: dict[str, int] = field(default_factory=dict)

    @property
    def events(self) -> int:
        return sum(self.events_by_detector.values())

    @property
    def realtime_factor(self) -> float:
        return self.recording_s / self.wall_s if self.wall_s > 0 else 0.0

    def to_dict(self) -> dict[str, Any]:
        return {
            "type": "summary",
            "samples": self.samples,
            "windows": self.windows,
            "events": self.events,
            "events_by_detector": self.events_by_detector,
            "flagged_by_detector": self.flagged_by_detector,
            "dropped": self.dropped,
            "lost": self.lost,
            "recording_s": round(self.recording_s, 3),
            "wall_s": round(self.wall_s, 3),
            "realtime_factor": round(self.realtime_factor, 1),
            "ended": self.ended,
            "source": self.source,
        }


def run_pipeline(
    config: Config,
    source: Source,
    detectors: list[Detector],
    sinks: Iterable[EventSink],
    *,
    should_stop: Callable[[], bool] = lambda: False,
    on_progress: Callable[[float, RunSummary], None] | None = None,
    on_ready: Callable[[], None] | None = None,
    poll_s: float = 0.02,
) -> RunSummary:
    """Run until the source ends or ``should_stop()``; returns the summary.

    ``on_ready`` runs once the source is open; ``on_progress`` runs on every pass of the
    main loop (so a watchdog pinged from it stops when the loop hangs).
    """
    sinks = list(sinks)
    overflow = Overflow(config.ring.overflow)
    specs = source.streams()
    rings = {
        name: make_ring(
            ring_capacity(config.ring.seconds, spec.rate_hz), len(spec.channels), overflow
        )
        for name, spec in specs.items()
    }
    windows = {
        name: StreamWindows(spec, rings[name], config.window.seconds, config.window.hop_seconds)
        for name, spec in specs.items()
    }
    by_stream = {name: [d for d in detectors if name in d.streams] for name in specs}
    summary = RunSummary()
    flagged_before = {d.name: d.flagged_windows() for d in detectors}
    started = time.perf_counter()
    # Only a live source can fall silent: the wall clock says nothing about a recording
    # (replayed as fast as the detectors allow), whose pauses are gaps in its timestamps.
    live = source.replayed_s() is None
    silence = (
        SilenceWatch(specs, config.detectors.silence.seconds)
        if live and config.detectors.silence.enabled
        else None
    )
    status = SourceStatus()
    busy = False

    def emit(events: list[Event]) -> None:
        for ev in events:
            summary.events_by_detector[ev.detector] = (
                summary.events_by_detector.get(ev.detector, 0) + 1
            )
            stamped = dataclasses.replace(ev, at=time.time())  # once, for every sink
            for sink in sinks:
                sink.event(stamped)

    def deliver(w: Window) -> None:
        for det in by_stream[w.stream]:
            emit(det.on_window(w))

    try:
        source.start(rings)  # inside: a start that fails half way is closed too
        if on_ready is not None:
            on_ready()
        while not should_stop():
            # Wait for data only when the last pass found nothing to do.
            status = source.pump(0.0 if busy else poll_s)
            busy = False
            for sw in windows.values():
                while (w := sw.next_window()) is not None:
                    busy = True
                    deliver(w)
            if status.segment_end or status.ended:
                for sw in windows.values():
                    if (w := sw.final_window()) is not None:
                        deliver(w)
                    sw.end_segment()
                for det in detectors:
                    det.reset()
            if silence is not None:
                emit(silence.check(rings))
            if on_progress is not None:
                on_progress(source.progress() or 0.0, summary)
            if status.ended:
                break
    finally:
        source.close()
    summary.wall_s = time.perf_counter() - started
    replayed = source.replayed_s()
    summary.recording_s = replayed if replayed is not None else summary.wall_s
    summary.windows = sum(sw.windows for sw in windows.values())
    for det in detectors:
        if flagged := det.flagged_windows() - flagged_before[det.name]:
            summary.flagged_by_detector[det.name] = flagged
    for ring in rings.values():
        st = ring.stats()
        summary.samples += st.written
        summary.dropped += st.dropped
    summary.source = source.counters()  # after close(): the final figures
    summary.lost = summary.source.get("lost_samples", 0)
    summary.source_lost = status.lost
    if status.error:
        summary.ended = status.error
    elif not status.ended:
        summary.ended = "stopped"
    return summary
