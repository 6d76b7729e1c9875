"""The serial path end to end: pyserial opens a real pty, the C thread reads it.

A pseudo-terminal is the most real stand-in for a hub's UART available without hardware;
the bytes cross the kernel's tty layer exactly as they would from /dev/ttyS*.
"""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from fedwear.errors import SourceError
from fedwear.ingest.emulator import HubEmulator, PtyLink
from fedwear.ingest.recordings import Recording, read_mobifall
from fedwear.ingest.uart import UartSource
from fedwear.ringbuf import Overflow, Ring


def wait_until(predicate, timeout: float = 10.0) -> bool:  # type: ignore[no-untyped-def]
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if predicate():
            return True
        time.sleep(0.01)
    return False


def _imu_hub_on_a_pty() -> tuple[PtyLink, UartSource, Ring]:
    """A pty for a hub to write to, and a started 100 Hz imu source reading it."""
    link = PtyLink()
    source = UartSource(link.path, 921600, {"imu": 100.0})
    ring = Ring(4096, 6)
    source.start({"imu": ring})
    return link, source, ring


def test_emulated_hub_recording_arrives_through_the_tty(data_dir: Path) -> None:
    rec = read_mobifall(data_dir / "mobifall" / "FOL_acc_2_1.txt", 100.0)
    t, v = rec.streams["imu"]
    link, source, ring = _imu_hub_on_a_pty()
    sender = threading.Thread(target=HubEmulator(rec).serve, args=(link, 0))
    sender.start()
    assert wait_until(lambda: len(ring) >= len(t))
    sender.join()
    got = ring.read(len(t) + 10)
    assert np.array_equal(got["t"], t)
    step = np.abs(v).max(axis=0) / 32767  # the emulator quantizes to int16 per channel
    assert np.all(np.abs(got["v"] - v) <= step * 0.51 + 1e-6)
    link.close()  # unplug the hub
    status = source.pump(0)
    assert wait_until(lambda: source.pump(0).ended)
    status = source.pump(0)
    assert status.lost and "vanished" in status.error
    counters = source.counters()
    assert counters["frames"] > 0 and counters["crc_errors"] == 0
    source.close()
    assert source.counters()["reads"] >= counters["reads"] > 0  # kept after close (was 0)


def test_a_hub_at_104_hz_reaches_a_100_hz_stream_as_the_signal_at_100_hz(
    data_dir: Path,
) -> None:
    """A fall recorded by a hub set to 104 Hz, through the tty: the ring holds the same
    signal on the stream's 100 Hz grid (the models count samples), not 4 % more of it."""
    rec = read_mobifall(data_dir / "mobifall" / "FOL_acc_2_1.txt", 104.0)
    t, v = rec.streams["imu"]
    link, source, ring = _imu_hub_on_a_pty()
    grid = np.arange(t[0], t[-1] + 1, 10_000_000)
    try:
        HubEmulator(rec).serve(link, 0)
        assert wait_until(lambda: len(ring) >= len(grid))
        time.sleep(0.2)
        got = ring.read(4096)
    finally:
        source.close()
        link.close()
    assert np.array_equal(got["t"], grid)
    want = np.stack([np.interp(grid, t, v[:, c]) for c in range(6)], axis=1)
    step = np.abs(v).max(axis=0) / 32767  # the emulator quantizes to int16 per channel
    assert np.all(np.abs(got["v"] - want) <= step * 0.51 + 1e-4 * np.abs(want) + 1e-6)
    assert source.counters()["off_rate_frames"] == source.counters()["frames"] > 0


def _restarting_hub(
    data_dir: Path,
    send: Callable[[Recording, PtyLink, Ring], None],
    expected: Callable[[int], int],
) -> tuple[np.ndarray, np.ndarray, dict[str, int]]:
    """A fall recording's imu through a pty, written by ``send``, until the ring holds
    ``expected(its length)`` frames: (the recording's times, the frames, the counters)."""
    rec = read_mobifall(data_dir / "mobifall" / "FOL_acc_2_1.txt", 100.0)
    link, source, ring = _imu_hub_on_a_pty()
    try:
        send(rec, link, ring)
        assert wait_until(lambda: len(ring) >= expected(len(rec.streams["imu"][0])))
        time.sleep(0.2)
        got = ring.read(4096)
        counters = source.counters()
    finally:
        source.close()
        link.close()
    return rec.streams["imu"][0], got, counters


def test_a_hub_that_restarts_keeps_streaming_through_the_tty(data_dir: Path) -> None:
    """The hub restarts (power, its watchdog): count and clock start from 0 again on the
    same port. Everything from its third frame on arrives, on a time that goes on."""

    def twice(rec: Recording, link: PtyLink, ring: Ring) -> None:
        HubEmulator(rec).serve(link, 0)
        assert wait_until(lambda: len(ring) >= len(rec.streams["imu"][0]))
        time.sleep(0.2)
        HubEmulator(rec).serve(link, 0)  # a new emulator: the restarted hub

    # 10 samples a frame; two frames to see the restart
    t, got, counters = _restarting_hub(data_dir, twice, lambda n: 2 * n - 20)
    assert len(got) == 2 * len(t) - 20
    assert counters["restarts"] == 1 and counters["out_of_order"] == 2
    assert counters["lost_frames"] == 0
    assert np.all(np.diff(got["t"]) > 0)
    again = got["t"][len(t) :]
    assert np.array_equal(again - again[0], t[20:] - t[20])
    np.testing.assert_array_equal(got["v"][len(t) :], got["v"][20 : len(t)])


def test_the_emulator_restarts_a_hub_on_request(data_dir: Path) -> None:
    """`hub-emulator --restart-after`: half a second without frames, then count and clock
    from 0; the decoder follows it on a time that goes on (docs/hub-protocol.md)."""

    def restarting(rec: Recording, link: PtyLink, ring: Ring) -> None:
        HubEmulator(rec, restart_after_s=2.0).serve(link, 0)

    # the outage (0.5 s); then two frames to see the restart
    t, got, counters = _restarting_hub(data_dir, restarting, lambda n: n - 50 - 20)
    assert len(got) == len(t) - 70 and counters["restarts"] == 1
    assert counters["lost_frames"] == 0
    assert np.all(np.diff(got["t"]) > 0)
    after = got["t"][200:]  # from the restart's third frame: the recording's own spacing
    assert np.array_equal(after - after[0], t[270:] - t[270])


WRITER = textwrap.dedent("""
    import os, sys, time
    import numpy as np
    from fedwear.ingest.hub_protocol import encode_frame
    fd, frames = int(sys.argv[1]), int(sys.argv[2])
    scales = np.ones(6, dtype=np.float32)
    start = time.monotonic()
    for f in range(frames):  # 10 samples x 6 channels every 10 ms: 1 kHz
        raw = (np.arange(60).reshape(10, 6) % 1000 + f).astype(np.int16)
        data = encode_frame(1, f, f * 10_000_000, 1_000_000, scales, raw)
        while data:
            data = data[os.write(fd, data):]
        delay = start + (f + 1) * 0.010 - time.monotonic()
        if delay > 0:
            time.sleep(delay)
""")


def hold_the_gil(seconds: float) -> None:
    """A consumer stall that keeps the interpreter busy, as a GC pause does."""
    end = time.perf_counter() + seconds
    while time.perf_counter() < end:
        pass


@pytest.mark.parametrize(("capacity", "expect_loss"), [(1024, False), (64, True)])
def test_200ms_consumer_stall_at_1khz(capacity: int, expect_loss: bool) -> None:
    frames = 150  # 1.5 s, 1500 samples
    link = PtyLink()
    source = UartSource(link.path, 921600, {"imu": 1000.0})
    ring = Ring(capacity, 6, Overflow.DROP_OLDEST)
    source.start({"imu": ring})
    writer = subprocess.Popen(
        [sys.executable, "-c", WRITER, str(link.master), str(frames)], pass_fds=(link.master,)
    )
    received: list[np.ndarray] = []
    out = np.empty(capacity, dtype=ring.dtype)
    deadline = time.monotonic() + 30
    stalls = 0
    while time.monotonic() < deadline:
        got = ring.read(capacity, out=out)
        if len(got):
            received.append(got["t"].copy())
        if stalls < 3 and sum(map(len, received)) > 300 * (stalls + 1):
            hold_the_gil(0.2)
            stalls += 1
        if writer.poll() is not None and not len(got) and len(ring) == 0:
            time.sleep(0.05)
            if len(ring) == 0:
                break
        time.sleep(0.002)
    assert writer.wait() == 0
    source.close()
    counters = source.counters()
    link.close()
    t = np.concatenate(received)
    assert stalls == 3
    assert counters["lost_samples"] == 0 and counters["crc_errors"] == 0
    if expect_loss:  # the same stall overflows a ring that is too small
        assert ring.stats().dropped > 0
    else:
        assert ring.stats().dropped == 0
        assert np.array_equal(t, np.arange(frames * 10) * 1_000_000)


def test_missing_port_is_a_clear_error(tmp_path: Path) -> None:
    source = UartSource(str(tmp_path / "ttyNOPE"), 115200, {"imu": 100.0})
    with pytest.raises(SourceError, match="cannot open serial port"):
        source.start({"imu": Ring(64, 6)})


def test_close_does_not_hang_while_the_hub_is_silent() -> None:
    link = PtyLink()
    source = UartSource(link.path, 115200, {"imu": 100.0})
    source.start({"imu": Ring(64, 6)})
    started = time.monotonic()
    source.close()
    source.close()  # idempotent
    assert time.monotonic() - started < 5
    link.close()
    assert not os.path.exists(link.path) or link.link is None


def test_a_hub_at_another_rate_than_the_stream_is_resampled_and_told_once(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """The hub's firmware sets its rates, the models' cards the streams': the imu sent at
    104 Hz to a 100 Hz stream comes out at 100 Hz, a heart rate sent at 20 Hz to a 1 Hz
    stream is dropped, and the journal says, once per stream, what to set the hub to."""
    from fedwear.ingest.hub_protocol import SENSOR_IDS, encode_frame

    link = PtyLink()
    source = UartSource(link.path, 115200, {"imu": 100.0, "hr": 1.0})
    rings = {"imu": Ring(256, 6), "hr": Ring(16, 1)}
    source.start(rings)
    period = round(1e9 / 104)
    frames = b"".join(
        encode_frame(SENSOR_IDS["imu"], seq, seq * 10 * period, period,
                     np.full(6, 0.01, np.float32), np.zeros((10, 6), np.int16))
        for seq in range(3)
    ) + encode_frame(SENSOR_IDS["hr"], 0, 0, 50_000_000, np.ones(1, np.float32),
                     np.full((2, 1), 70, np.int16))  # fmt: skip
    os.write(link.master, frames)
    with caplog.at_level(logging.WARNING, "fedwear"):
        assert wait_until(lambda: source.counters()["bad_frames"] == 1)
        for _ in range(3):
            source.pump(0.01)
    source.close()
    link.close()
    t = rings["imu"].read(100)["t"]
    assert list(t) == [10_000_000 * k for k in range(28)]  # 30 samples over 279 ms
    assert len(rings["hr"]) == 0 and source.counters()["off_rate_frames"] == 3
    told = sorted((r.levelno, r.getMessage()) for r in caplog.records)
    assert [level for level, _ in told] == [logging.WARNING, logging.ERROR], told
    assert "the hub sends imu samples every 9615385 ns (104 Hz)" in told[0][1]
    assert "resampled to the stream's rate on the host; set the hub to 10000000 ns" in told[0][1]
    assert "hr samples every 50000000 ns (20 Hz)" in told[1][1]
    assert "more than 16 times off, its frames are dropped (bad_frames)" in told[1][1]
