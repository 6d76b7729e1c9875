"""End-to-end intake rate through a real pty, against the tty's own limit, in one run.

A writer thread pushes pre-encoded hub frames (IMU, 6 channels, 10 samples per frame)
into the pty master as fast as the kernel takes them; on the slave side either
  (a) pyserial + the C intake thread decode them into a ring (what fedwear does),
  (b) the same with the hub at 1040 Hz, which the decoder resamples onto the 1 kHz
      stream's grid (docs/hub-protocol.md), or
  (c) a plain Python loop reads and discards the same bytes (the tty path's limit).
All are reported in the hub's samples/s and as a multiple of a 1 kHz IMU's need.

Usage: python tools/bench/intake_pty.py [--frames N]
"""

from __future__ import annotations

import argparse
import os
import select
import threading
import time

import numpy as np
import serial

from fedwear.ingest.emulator import PtyLink
from fedwear.ingest.hub_protocol import encode_frame
from fedwear.ingest.uart import UartSource
from fedwear.ringbuf import Ring

PER_FRAME = 10


STREAM_PERIOD_NS = 1_000_000  # the imu stream at 1 kHz
OFF_PERIOD_NS = 961_538  # a hub set to 1040 Hz


def blob(frames: int, period_ns: int = STREAM_PERIOD_NS) -> bytes:
    scales = np.full(6, 0.001, np.float32)
    raw = (np.arange(PER_FRAME * 6) % 3000).astype(np.int16).reshape(PER_FRAME, 6)
    return b"".join(
        encode_frame(1, f, f * PER_FRAME * period_ns, period_ns, scales, raw) for f in range(frames)
    )


def resampled_count(frames: int, period_ns: int) -> int:
    """Samples on the stream's grid from the first sample to the last."""
    return (frames * PER_FRAME - 1) * period_ns // STREAM_PERIOD_NS + 1


def writer(link: PtyLink, data: bytes, started: list[float]) -> threading.Thread:
    """Write ``data`` once the reader is settled; the start time goes into ``started``."""

    def run() -> None:
        link.wait_for_reader()
        time.sleep(0.2)  # pyserial flushes the input while it opens the port
        started.append(time.perf_counter())
        link.write(data)

    th = threading.Thread(target=run)
    th.start()
    return th


def with_fedwear(data: bytes, samples: int, arriving: int | None = None) -> float:
    """The hub's ``samples`` per second, timed until ``arriving`` (default: as many)
    frames are in the ring."""
    arriving = samples if arriving is None else arriving
    link = PtyLink()
    ring = Ring(1 << 16, 6)
    source = UartSource(link.path, 921600, {"imu": 1000.0})
    source.start({"imu": ring})
    started: list[float] = []
    th = writer(link, data, started)
    out = np.empty(1 << 16, dtype=ring.dtype)
    got = 0
    while got < arriving:
        k = len(ring.read(1 << 16, out=out))
        got += k
        if not k:
            time.sleep(0.0005)
    elapsed = time.perf_counter() - started[0]
    th.join()
    source.close()
    link.close()
    return samples / elapsed


def raw_read(data: bytes, samples: int) -> float:
    link = PtyLink()
    port = serial.Serial(link.path, 921600, timeout=0)
    started: list[float] = []
    th = writer(link, data, started)
    fd, total = port.fileno(), 0
    poller = select.poll()
    poller.register(fd, select.POLLIN)
    while total < len(data):
        poller.poll(100)
        total += len(os.read(fd, 4096))
    elapsed = time.perf_counter() - started[0]
    th.join()
    port.close()
    link.close()
    return samples / elapsed


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--frames", type=int, default=20000)
    args = ap.parse_args()
    data = blob(args.frames)
    samples = args.frames * PER_FRAME
    off = blob(args.frames, OFF_PERIOD_NS)
    arriving = resampled_count(args.frames, OFF_PERIOD_NS)
    ours = max(with_fedwear(data, samples) for _ in range(3))
    resampling = max(with_fedwear(off, samples, arriving) for _ in range(3))
    limit = max(raw_read(data, samples) for _ in range(3))
    print(f"{len(data) / 1e6:.1f} MB, {samples} IMU samples through a pty")
    for name, rate in (
        ("raw tty read (limit)", limit),
        ("pyserial + C intake", ours),
        ("... hub at 1040 Hz, resampled", resampling),
    ):
        print(f"{name:30} {rate:12,.0f} samples/s  {rate / 1000:8.0f}x a 1 kHz IMU")
    print(f"ratio fedwear/raw read         {ours / limit:12.2f}")
    print(f"ratio resampled/as sent        {resampling / ours:12.2f}")


if __name__ == "__main__":
    main()
