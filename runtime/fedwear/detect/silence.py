"""A live stream that stops sending: the sensor fault no window can show.

The flat-line, saturation and dropout rules look at windows, and a sensor hub that hangs,
a loose cable or an IIO trigger that stops firing delivers no window at all: the run
would wait for ever without a word (the loop still pings the systemd watchdog, rightly:
the runtime is not hung). This watch compares the frames written to each ring with the
wall clock, and reports a stream silent for longer than its limit once, as a
``sensor_fault`` event; it re-arms when samples come again.

A stream that has sent nothing since the source opened gets one warning in the log, not
an event: that is usually a stream the configuration enables and the device lacks (a hub
without ECG), which `streams.<name>.enabled = false` says.
"""

from __future__ import annotations

__all__ = ["SilenceWatch"]

import logging
import time
from collections.abc import Callable, Mapping

from ..ingest.base import StreamSpec
from ..ringbuf import FrameRing
from .base import Event

log = logging.getLogger("fedwear")

# A stream slower than this many sample periods per limit gets a longer limit: one late
# sample of a 1 Hz heart-rate stream is not a fault.
_MIN_PERIODS = 3.0
# How often the rings are looked at: a limit is seconds, a quarter of one is plenty.
_CHECK_EVERY_S = 0.25


class SilenceWatch:
    """Reports live streams that deliver no sample for ``seconds`` (or 3 periods)."""

    name = "silence"

    def __init__(
        self,
        specs: Mapping[str, StreamSpec],
        seconds: float,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._clock = clock
        self.limits = {n: max(seconds, _MIN_PERIODS / s.rate_hz) for n, s in specs.items()}
        start = clock()
        self._checked = start
        self._written = dict.fromkeys(specs, 0)
        self._since = dict.fromkeys(specs, start)  # wall time a ring last grew
        self._last_t: dict[str, int] = {}  # stream time of the newest sample seen
        self._silent: set[str] = set()

    def check(self, rings: Mapping[str, FrameRing]) -> list[Event]:
        """Events for streams that just went silent; call it on every pass of the loop."""
        now = self._clock()
        if now - self._checked < _CHECK_EVERY_S:
            return []
        self._checked = now
        events = []
        for name, ring in rings.items():
            written = ring.stats().written
            if written != self._written[name]:
                self._grew(name, ring, written, now)
                continue
            quiet = now - self._since[name]
            if quiet < self.limits[name] or name in self._silent:
                continue
            self._silent.add(name)
            if written == 0:
                log.warning(
                    "%s: no sample in the %.0f s since the source opened; if the device has "
                    "no such sensor, set streams.%s.enabled = false",
                    name,
                    quiet,
                    name,
                )
                continue
            events.append(
                Event(
                    self._last_t.get(name, 0),
                    self.name,
                    "sensor_fault",
                    name,
                    f"{name}: no sample for {quiet:.1f} s (after {written} samples)",
                    value=quiet,
                )
            )
        return events

    def _grew(self, name: str, ring: FrameRing, written: int, now: float) -> None:
        if name in self._silent:
            self._silent.discard(name)
            log.info("%s: samples again after %.1f s", name, now - self._since[name])
        self._written[name] = written
        self._since[name] = now
        if len(ring):
            self._last_t[name] = int(ring.peek_last(1)["t"][0])
