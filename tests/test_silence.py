"""A live stream that stops sending is a sensor fault, reported once and re-armed.

The end-to-end test is a hub on a real pty that sends, falls silent with the port still
open (a hung hub, not an unplugged one), sends again and falls silent again.
"""

from __future__ import annotations

import logging
import threading
import time
from pathlib import Path

import numpy as np
import pytest

from fedwear.config import load_config
from fedwear.detect.base import Event
from fedwear.detect.silence import SilenceWatch
from fedwear.evaluate.runner import EventCollector
from fedwear.ingest.base import StreamSpec
from fedwear.ingest.emulator import HubEmulator, PtyLink
from fedwear.ingest.recordings import Recording
from fedwear.ingest.uart import UartSource
from fedwear.pipeline import run_pipeline
from fedwear.ringbuf import Ring, make_frames


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def write(ring: Ring, t_ns: list[int]) -> None:
    t = np.asarray(t_ns, dtype=np.int64)
    ring.write(make_frames(t, np.zeros((len(t), 1), dtype=np.float32)))


def test_a_stream_that_stops_is_reported_once_and_again_after_it_resumes() -> None:
    clock = Clock()
    watch = SilenceWatch({"hr": StreamSpec("hr", ("hr",), 50.0)}, 2.0, clock)
    rings = {"hr": Ring(64, 1)}
    write(rings["hr"], [10, 20, 30])
    clock.now += 0.3
    assert watch.check(rings) == []  # the ring grew
    for _ in range(6):  # 1.8 s without a sample: under the limit
        clock.now += 0.3
        assert watch.check(rings) == []
    clock.now += 0.3
    [event] = watch.check(rings)
    assert (event.t_ns, event.detector, event.kind, event.stream) == (
        30,
        "silence",
        "sensor_fault",
        "hr",
    )
    assert event.message == "hr: no sample for 2.1 s (after 3 samples)"
    clock.now += 10
    assert watch.check(rings) == []  # once per silence
    write(rings["hr"], [40])
    clock.now += 0.3
    assert watch.check(rings) == []
    clock.now += 2.1
    [again] = watch.check(rings)
    assert again.t_ns == 40


def test_a_slow_stream_gets_three_periods() -> None:
    clock = Clock()
    watch = SilenceWatch({"hr": StreamSpec("hr", ("hr",), 0.1)}, 5.0, clock)
    assert watch.limits == {"hr": 30.0}


def test_a_stream_that_never_sent_is_a_warning_not_an_event(
    caplog: pytest.LogCaptureFixture,
) -> None:
    clock = Clock()
    watch = SilenceWatch({"ecg": StreamSpec("ecg", ("ecg",), 250.0)}, 5.0, clock)
    rings = {"ecg": Ring(64, 1)}
    clock.now += 6
    with caplog.at_level(logging.WARNING, "fedwear"):
        assert watch.check(rings) == []
        clock.now += 6
        assert watch.check(rings) == []
    assert [r.getMessage() for r in caplog.records] == [
        "ecg: no sample in the 6 s since the source opened; if the device has no such "
        "sensor, set streams.ecg.enabled = false"
    ]


def silence_events(sink: EventCollector) -> list[Event]:
    return [e for e in sink.events if e.detector == "silence"]


def imu_recording(seconds: float) -> Recording:
    t = np.round(np.arange(int(seconds * 100)) / 100 * 1e9).astype(np.int64)
    v = np.tile(np.float32([0.1, 0.2, 9.8, 0.01, 0.02, 0.03]), (len(t), 1))
    v += np.random.default_rng(1).normal(0, 0.05, v.shape).astype(np.float32)
    return Recording("walk", Path("walk"), {"imu": (t, v)})


def test_a_hub_that_goes_quiet_on_a_real_tty(caplog: pytest.LogCaptureFixture) -> None:
    """Send, hang with the port open, send again, hang again: two events, at the last
    sample before each silence; the run goes on (a hung hub is not an unplugged one)."""
    config = load_config(
        overrides={
            "streams.ppg.enabled": False,
            "streams.ecg.enabled": False,
            "streams.hr.enabled": False,
            "detectors.silence.seconds": 0.5,
        }
    )
    link = PtyLink()
    source = UartSource(link.path, 921600, config.stream_rates())
    sink = EventCollector()
    recording = imu_recording(6.0)
    emulator = HubEmulator(recording)
    deadline = time.monotonic() + 60

    def hub() -> None:
        link.wait_for_reader(lambda: time.monotonic() > deadline)
        emulator.serve(link, speed=0)
        while not silence_events(sink) and time.monotonic() < deadline:
            time.sleep(0.05)
        for _, frame in emulator.frames(time_offset_ns=20_000_000_000):  # 14 s later
            link.write(frame)

    sender = threading.Thread(target=hub)
    sender.start()
    try:
        with caplog.at_level(logging.INFO, "fedwear"):
            summary = run_pipeline(
                config,
                source,
                [],
                [sink],
                should_stop=lambda: len(silence_events(sink)) >= 2 or time.monotonic() > deadline,
            )
    finally:
        sender.join()
        link.close()
    silences = silence_events(sink)
    last = int(recording.streams["imu"][0][-1])
    assert [e.t_ns for e in silences] == [last, last + 20_000_000_000]
    assert all(e.kind == "sensor_fault" and e.stream == "imu" for e in silences)
    assert summary.events_by_detector == {"silence": 2}
    assert summary.samples == 1200 and not summary.source_lost and summary.ended == "stopped"
    assert any(r.getMessage().startswith("imu: samples again after") for r in caplog.records)
