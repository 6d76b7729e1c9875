"""IIO capture from the kernel's own drivers: a HID sensor hub made through /dev/uhid.

The kernel's hid-sensor-accel-3d and hid-sensor-gyro-3d drivers make two IIO devices
with real buffers, triggers, scan elements and timestamps; only the sensor chip behind
them is this test's (tests/uhid_sensor_hub.py). The aarch64 QEMU guest loads the modules
(tools/qemu/harness.py); elsewhere the tests skip.
"""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from uhid_sensor_hub import SensorHub, wait_for_devices

from fedwear.ingest.iio import IioSource
from fedwear.ringbuf import Ring

SYSFS = Path("/sys/bus/iio/devices")
pytestmark = pytest.mark.skipif(
    not (os.path.exists("/dev/uhid") and Path("/sys/bus/hid/drivers/hid-sensor-hub").is_dir()),
    reason="needs /dev/uhid and the kernel's HID sensor drivers (loaded in the QEMU guest)",
)
G = 9.80665


@pytest.fixture
def hub() -> Iterator[tuple[SensorHub, dict[str, str]]]:
    with SensorHub() as made:
        yield made, wait_for_devices(("accel_3d", "gyro_3d"))
    deadline = time.monotonic() + 10  # the devices go with the hub
    while {"accel_3d", "gyro_3d"} & set(_names()) and time.monotonic() < deadline:
        time.sleep(0.05)


def _names() -> list[str]:
    return [(d / "name").read_text().strip() for d in SYSFS.glob("iio:device*")]


def test_an_imu_behind_the_kernels_hid_sensor_drivers(
    hub: tuple[SensorHub, dict[str, str]],
) -> None:
    sensor, nodes = hub
    source = IioSource(["accel_3d", "gyro_3d"], str(SYSFS), "/dev", "imu", 100.0)
    ring = Ring(512, 6)
    source.start({"imu": ring})
    accel = SYSFS / nodes["accel_3d"]
    try:
        # set up as a user would by hand: elements on, room for a second, boot-time stamps
        assert (accel / "scan_elements" / "in_accel_y_en").read_text() == "1\n"
        assert (accel / "scan_elements" / "in_timestamp_en").read_text() == "1\n"
        assert int((accel / "buffer" / "length").read_text()) >= 100  # the driver's is 2
        assert (accel / "current_timestamp_clock").read_text() == "boottime\n"
        assert sensor.opened.wait(10)  # the driver powered the sensor up
        before = time.clock_gettime_ns(time.CLOCK_BOOTTIME)
        for i in range(60):  # faster than the kernel's default buffer of 2 could hold
            sensor.send((0.1 * i, -1.0, G), (0.0, 0.5, -0.25))
        deadline = time.monotonic() + 20
        while len(ring) < 59 and time.monotonic() < deadline:
            assert not source.pump(0.02).ended
        counters = source.counters()
    finally:
        source.close()
    assert (accel / "buffer" / "enable").read_text() == "0\n"
    got = ring.read(100)
    # Each accelerometer sample at or before the last gyroscope one goes out: all 60, or
    # 59 when the first comes before any gyroscope sample (then it is counted, not guessed).
    assert len(got) + counters["unaligned"] == 60 and counters["scans"] == 120
    first = 60 - len(got)
    t = got["t"]
    assert np.all(np.diff(t) > 0) and before <= t[0] and t[-1] - before < 30e9
    v = got["v"]
    quantum = 0.01 * G  # the hub's counts: 0.01 g, 0.01 deg/s
    ramp = 0.1 * np.arange(first, 60)
    np.testing.assert_allclose(v[:, 0], ramp, atol=quantum)
    np.testing.assert_allclose(v[:, 1:3], np.tile([-1.0, G], (len(v), 1)), atol=quantum)
    np.testing.assert_allclose(v[:, 3:], np.tile([0.0, 0.5, -0.25], (len(v), 1)), atol=2e-4)


def test_a_rate_the_driver_cannot_set_is_resampled(
    hub: tuple[SensorHub, dict[str, str]],
) -> None:
    """HID sensors are paced in whole milliseconds: asked for 64 Hz (the ppg stream's
    rate, as a test of an imu stream), the driver sets 15 ms and shows 66.6 Hz. The
    source reads that back and resamples both devices onto the 64 Hz grid."""
    sensor, nodes = hub
    source = IioSource(["accel_3d", "gyro_3d"], str(SYSFS), "/dev", "imu", 64.0)
    ring = Ring(512, 6)
    source.start({"imu": ring})
    try:
        interval = sensor.interval_ms(1)
        assert interval == sensor.interval_ms(2) == 15  # the driver told the sensor
        shown = float((SYSFS / nodes["accel_3d"] / "in_accel_sampling_frequency").read_text())
        assert abs(shown - 1000 / interval) < 0.1  # Debian's 6.12 shows "66.600000"
        assert sensor.opened.wait(10)
        start = time.monotonic()
        for i in range(134):  # 2 s, paced as the sensor was told: ax one count a report
            sensor.send((0.01 * G * i, 0.0, G), (0.0, 0.0, 0.0))
            time.sleep(max(0.0, start + (i + 1) * interval / 1000 - time.monotonic()))
        deadline = time.monotonic() + 20
        while len(ring) < 100 and time.monotonic() < deadline:
            assert not source.pump(0.02).ended
        time.sleep(0.2)
        source.pump(0.0)
    finally:
        source.close()
    got = ring.read(512)
    assert 100 <= len(got) <= 2 * 64
    assert np.all(np.diff(got["t"]) == round(1e9 / 64))
    ax = got["v"][:, 0] / (0.01 * G)  # in reports sent: a ramp read off at 64 Hz
    assert np.all(np.diff(ax) > 0)
    # one count per report interval, though the guest's timers are coarse: within 20 %
    slope = np.polyfit((got["t"] - got["t"][0]) / 1e9, ax, 1)[0]
    assert abs(slope - 1000 / interval) < 0.2 * 1000 / interval, slope


def test_fedwear_run_names_the_devices_and_reads_them(
    hub: tuple[SensorHub, dict[str, str]], tmp_path: Path
) -> None:
    """The command line as a user gives it: devices by name, a real-time stream."""
    sensor, nodes = hub
    enables = [SYSFS / node / "buffer" / "enable" for node in nodes.values()]
    proc = subprocess.Popen(
        [sys.executable, "-m", "fedwear.cli", "run", "--source", "iio", "--device", "accel_3d",
         "--device", "gyro_3d", "--quiet", "--event-log", str(tmp_path / "e.jsonl")],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 120  # start-up is slow on emulated machines
        while not all(e.read_text() == "1\n" for e in enables):
            time.sleep(0.2)
            if proc.poll() is not None or time.monotonic() > deadline:
                proc.kill()
                pytest.fail(f"fedwear did not start the buffers: {proc.communicate()[1]}")
        start = time.monotonic()
        for i in range(300):  # 3 s at 100 Hz: a wrist at rest, turning slowly
            sensor.send((0.0, 0.0, G), (0.0, 0.0, 0.2 * math.sin(i / 50)))
            time.sleep(max(0.0, start + (i + 1) / 100 - time.monotonic()))
        time.sleep(0.5)
    finally:
        proc.terminate()
        out, err = proc.communicate(timeout=120)
    assert proc.returncode == 0, err
    summary = json.loads(out.strip().splitlines()[-1])
    assert summary["ended"] == "stopped", summary
    # 300 scans of each device, and each accelerometer scan went out or was counted
    assert summary["source"]["scans"] == 600 and summary["dropped"] == 0, summary
    assert summary["samples"] + summary["source"]["unaligned"] == 300, summary


def test_a_device_that_goes_away_is_a_lost_source() -> None:
    """A sensor that is unplugged (here: the hub destroyed) ends the run as lost, as a
    hung-up tty does, so systemd restarts the service; it must not wait forever."""
    with SensorHub() as sensor:
        wait_for_devices(("accel_3d", "gyro_3d"))
        source = IioSource(["accel_3d", "gyro_3d"], str(SYSFS), "/dev", "imu", 100.0)
        source.start({"imu": Ring(512, 6)})
        for _ in range(5):
            sensor.send((0.0, 0.0, G), (0.0, 0.0, 0.0))
    # the hub is gone (UHID_DESTROY): the kernel has removed both devices
    deadline = time.monotonic() + 15
    while not (status := source.pump(0.05)).ended and time.monotonic() < deadline:
        pass
    source.close()
    assert status.ended and status.lost, status
    assert "vanished" in status.error and "ENODEV" in status.error, status.error
