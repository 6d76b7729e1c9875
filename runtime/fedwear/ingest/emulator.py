"""A sensor-hub emulator: a recording served through a pseudo-terminal, as a hub would.

Each stream is cut into frames of about 100 ms, quantized to int16 with one scale per
channel (chosen from the recording's range, as a hub's sensor range would be), and the
frames of all streams are interleaved in time order. The pty is switched to raw mode
before anything is written, so no line discipline rewrites bytes.
"""

from __future__ import annotations

__all__ = ["HubEmulator", "PtyLink", "sleep_unless"]

import contextlib
import errno
import heapq
import os
import select
import time
import tty
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np

from .hub_protocol import SENSOR_IDS, encode_frame, frame_samples
from .recordings import Recording


def sleep_unless(seconds: float, should_stop: Callable[[], bool]) -> None:
    """Sleep ``seconds`` in steps of at most 50 ms, ending early once ``should_stop()``:
    a signal then ends the wait at once (time.sleep would sit it out, or overflow)."""
    deadline = time.monotonic() + seconds
    while not should_stop():
        left = deadline - time.monotonic()
        if left <= 0:
            return
        time.sleep(min(left, 0.05))


class PtyLink:
    """A pty pair; the slave side is what a reader opens (optionally through a symlink)."""

    def __init__(self, link: Path | None = None) -> None:
        self.master, slave = os.openpty()
        tty.setraw(slave)
        self.slave_name = os.ttyname(slave)
        # Close our slave end: the master then reports POLLHUP until a reader opens the
        # port, which is how wait_for_reader() knows someone is listening.
        os.close(slave)
        self.link = link
        if link is not None:
            with contextlib.suppress(FileNotFoundError):
                link.unlink()
            link.symlink_to(self.slave_name)

    def wait_for_reader(self, should_stop: Callable[[], bool] = lambda: False) -> bool:
        """Block until a process has the port open (as a hub waits for its host)."""
        poller = select.poll()
        poller.register(self.master, select.POLLHUP)
        while not should_stop():
            events = poller.poll(50)
            if not any(e & select.POLLHUP for _, e in events):
                return True
            time.sleep(0.05)  # POLLHUP is level-triggered: do not spin
        return False

    @property
    def path(self) -> str:
        return str(self.link) if self.link is not None else self.slave_name

    def write(self, data: bytes) -> None:
        view = memoryview(data)
        while view:
            n = os.write(self.master, view)
            view = view[n:]

    def close(self) -> None:
        """Closing the master is a hub being unplugged: readers see a hang-up."""
        with contextlib.suppress(OSError):
            os.close(self.master)
        if self.link is not None:
            with contextlib.suppress(FileNotFoundError):
                self.link.unlink()


# A restart (``restart_after_s``): the hub is down this long, as in a power cycle, and
# then counts and stamps from 0 again, as a hub's microcontroller does after a reset.
RESTART_OUTAGE_S = 0.5


class HubEmulator:
    def __init__(
        self,
        recording: Recording,
        frame_seconds: float = 0.1,
        restart_after_s: float | None = None,
    ) -> None:
        self.recording = recording
        self.frame_seconds = frame_seconds
        self.restart_after_s = restart_after_s
        self.frames_sent = 0
        self._seq: dict[str, int] = {}  # next sequence number per stream, across loops
        self._restarted: set[str] = set()  # streams past the restart (once per emulator)

    def frames(self, time_offset_ns: int = 0) -> Iterator[tuple[int, bytes]]:
        """(stream time in ns at the end of the frame, encoded frame), in time order."""
        per_stream = [
            self._stream_frames(name, t, v, time_offset_ns)
            for name, (t, v) in self.recording.streams.items()
            if name in SENSOR_IDS
        ]
        return heapq.merge(*per_stream, key=lambda item: item[0])

    def _stream_frames(
        self, name: str, t: np.ndarray, v: np.ndarray, offset_ns: int
    ) -> Iterator[tuple[int, bytes]]:
        if len(t) < 2:
            return
        period_ns = round(float(np.median(np.diff(t))))
        v = np.nan_to_num(np.asarray(v, dtype=np.float64), nan=0.0, posinf=0.0, neginf=0.0)
        peak = np.max(np.abs(v), axis=0)
        scales = np.where(peak > 0, peak / 32767.0, 1.0).astype(np.float32)
        raw = np.clip(np.round(v / scales), -32768, 32767).astype(np.int16)
        rate = 1e9 / period_ns
        per_frame = max(1, min(frame_samples(v.shape[1]), round(rate * self.frame_seconds)))
        sensor = SENSOR_IDS[name]
        down: tuple[int, int] | None = None  # the restart's outage, recording time
        if self.restart_after_s is not None and name not in self._restarted:
            at = int(t[0]) + round(self.restart_after_s * 1e9)
            down = (at, at + round(RESTART_OUTAGE_S * 1e9))
        clock_zero = 0  # recording time at which the hub's clock reads 0
        for start in range(0, len(t), per_frame):
            chunk = raw[start : start + per_frame]
            t_rec = int(t[start])
            if down is not None and t_rec >= down[0]:
                if t_rec < down[1]:
                    continue  # rebooting: nothing is sent
                self._restarted.add(name)
                self._seq[name], clock_zero, down = 0, t_rec, None
            seq = self._seq.get(name, 0)
            self._seq[name] = seq + 1
            t0 = t_rec + offset_ns  # the pace follows the recording ...
            yield (
                t0 + period_ns * (len(chunk) - 1),
                # ... the stamps follow the hub's clock
                encode_frame(sensor, seq, t0 - clock_zero, period_ns, scales, chunk),
            )

    def serve(
        self,
        link: PtyLink,
        speed: float = 1.0,
        loop: bool = False,
        should_stop: Callable[[], bool] = lambda: False,
    ) -> int:
        """Write frames at ``speed`` x real time (0: unpaced) until done, or forever with
        ``loop``; returns the number of frames sent."""
        offset = 0
        start = time.monotonic()
        while True:
            for t_end, frame in self.frames(offset):
                if speed > 0:  # a tiny pace makes a delay of days: SIGTERM must end it
                    sleep_unless(start + t_end / 1e9 / speed - time.monotonic(), should_stop)
                if should_stop():
                    return self.frames_sent
                try:
                    link.write(frame)
                except OSError as exc:
                    if exc.errno in (errno.EIO, errno.EBADF):
                        return self.frames_sent
                    raise
                self.frames_sent += 1
            if not loop:
                return self.frames_sent
            offset += int(self.recording.duration_s() * 1e9) + 1_000_000_000
