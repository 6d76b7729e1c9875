"""A HID sensor hub made from user space (/dev/uhid): the kernel's own IIO drivers on it.

    python3 tests/uhid_sensor_hub.py            # makes the hub, prints its IIO devices
    python3 tests/uhid_sensor_hub.py --rate 50  # ...and sends a wrist at rest, from 50 Hz
                                                # to whatever rate the kernel then sets

The kernel binds hid-sensor-hub to it, and hid-sensor-accel-3d and hid-sensor-gyro-3d make
two IIO devices ("accel_3d", "gyro_3d") with real buffers, triggers and scan elements, as
on a laptop or tablet whose sensors sit behind a HID sensor hub. Only the sensor chip is
stood in for: the samples come from ``send()``. No driver module is built for this; they
are the distribution kernel's (CONFIG_UHID, CONFIG_HID_SENSOR_HUB, ..._ACCEL_3D, ..._GYRO_3D).

The report descriptor follows the HID Usage Tables' sensor page (0x20): one physical
collection per sensor, a feature report with the properties the drivers read (report
interval, power state, reporting state) and an input report with one 16-bit field per axis.
Accelerations are in 0.01 g and angular rates in 0.01 deg/s (the drivers' default units,
unit exponent -2), so the kernel's ``in_accel_scale`` and ``in_anglvel_scale`` convert them.
"""

from __future__ import annotations

import argparse
import errno
import math
import os
import random
import select
import socket
import struct
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

UHID = "/dev/uhid"
# linux/uhid.h event types
UHID_START, UHID_STOP, UHID_OPEN, UHID_CLOSE, UHID_OUTPUT = 2, 3, 4, 5, 6
UHID_GET_REPORT, UHID_GET_REPORT_REPLY, UHID_CREATE2, UHID_INPUT2 = 9, 10, 11, 12
UHID_SET_REPORT, UHID_SET_REPORT_REPLY, UHID_DESTROY = 13, 14, 1
EVENT_SIZE = 4 + 128 + 64 + 64 + 2 + 2 + 4 * 4 + 4096  # struct uhid_event (create2 is largest)
UHID_INPUT_REPORT = 2  # enum uhid_report_type; 0 is a feature report
BUS_VIRTUAL = 0x06
G = 9.80665

ACCEL_3D, GYRO_3D = 0x73, 0x76  # sensor page usages; axes: 0x453.., 0x457..
REPORT_ID = {ACCEL_3D: 1, GYRO_3D: 2}
FIRST_AXIS = {ACCEL_3D: 0x0453, GYRO_3D: 0x0457}
INTERVAL_MS = 10


def _usage16(usage: int) -> bytes:
    return bytes([0x0A]) + struct.pack("<H", usage)


def _sensor(kind: int) -> bytes:
    """One physical sensor collection: its feature report, then its input report."""
    features = (
        _usage16(0x030E)  # report interval (ms)
        + b"\x15\x00\x27\xff\xff\x00\x00\x75\x10\x95\x01\x55\x00\xb1\x02"
        + _usage16(0x0319)  # power state
        + b"\x15\x01\x25\x05\x75\x08\x95\x01\xb1\x02"
        + _usage16(0x0316)  # reporting state
        + b"\x15\x01\x25\x06\x75\x08\x95\x01\xb1\x02"
    )
    axes = b"\x16\x01\x80\x26\xff\x7f\x75\x10\x95\x01\x55\x0e"  # s16, exponent -2
    for axis in range(3):
        axes += _usage16(FIRST_AXIS[kind] + axis) + b"\x81\x02"  # Input (Data,Var,Abs)
    return (
        bytes([0x09, kind, 0xA1, 0x00, 0x85, REPORT_ID[kind]])  # Usage, Collection (Physical)
        + features
        + axes
        + b"\xc0"
    )


REPORT_DESCRIPTOR = (
    b"\x05\x20\x09\x01\xa1\x01"  # Usage Page (Sensor), Usage (Sensor), Collection (Application)
    + _sensor(ACCEL_3D)
    + _sensor(GYRO_3D)
    + b"\xc0"
)


@dataclass
class SensorHub:
    """Owns /dev/uhid; a thread answers the kernel's feature requests."""

    name: str = "fedwear uhid sensor hub"
    start_interval_ms: int = INTERVAL_MS  # the "chip's" default, until the kernel sets one
    fd: int = -1
    opened: threading.Event = field(default_factory=threading.Event)
    features: dict[int, bytes] = field(default_factory=dict)
    inputs: dict[int, bytes] = field(default_factory=dict)  # the last of each, for reads
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    def __enter__(self) -> SensorHub:
        self.fd = os.open(UHID, os.O_RDWR | os.O_CLOEXEC)
        for report_id in REPORT_ID.values():
            # the interval, power state D0 (1), reporting state "all events" (2)
            self.features[report_id] = struct.pack("<BHBB", report_id, self.start_interval_ms, 1, 2)
        create = struct.pack(
            "<I128s64s64sHHIIII4096s",
            UHID_CREATE2,
            self.name.encode(),
            b"fedwear-test",
            b"",
            len(REPORT_DESCRIPTOR),
            BUS_VIRTUAL,
            0x1D6B,
            0x0104,
            1,
            0,
            REPORT_DESCRIPTOR,
        )
        os.write(self.fd, create)
        self._thread = threading.Thread(target=self._serve, name="uhid", daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(5)
        os.write(self.fd, struct.pack("<I", UHID_DESTROY).ljust(EVENT_SIZE, b"\0"))
        os.close(self.fd)

    def _serve(self) -> None:
        while not self._stop.is_set():
            ready, _, _ = select.select([self.fd], [], [], 0.1)
            if not ready:
                continue
            event = os.read(self.fd, EVENT_SIZE)
            kind = struct.unpack_from("<I", event)[0]
            if kind == UHID_OPEN:
                self.opened.set()
            elif kind == UHID_CLOSE:
                self.opened.clear()
            elif kind == UHID_GET_REPORT:
                ident, rnum, rtype = struct.unpack_from("<IBB", event, 4)
                reports = self.inputs if rtype == UHID_INPUT_REPORT else self.features
                data = reports.get(rnum)
                err = 0 if data is not None else errno.EIO
                data = data or b""
                reply = struct.pack(
                    f"<IIHH{len(data)}s", UHID_GET_REPORT_REPLY, ident, err, len(data), data
                )
                os.write(self.fd, reply.ljust(EVENT_SIZE, b"\0"))
            elif kind == UHID_SET_REPORT:
                ident, rnum, _, size = struct.unpack_from("<IBBH", event, 4)
                if rnum in self.features:
                    self.features[rnum] = event[12 : 12 + size]
                reply = struct.pack("<IIH", UHID_SET_REPORT_REPLY, ident, 0)
                os.write(self.fd, reply.ljust(EVENT_SIZE, b"\0"))

    def interval_ms(self, report_id: int) -> int:
        """The report interval the kernel last set (``in_*_sampling_frequency``): what a
        real sensor would now pace its reports by."""
        return int(struct.unpack_from("<H", self.features[report_id], 1)[0])

    def send(self, accel: tuple[float, float, float], gyro: tuple[float, float, float]) -> None:
        """One sample of each sensor: m/s² and rad/s, as the hub's raw counts."""
        a = [round(v / G * 100) for v in accel]
        g = [round(v * 180 / 3.141592653589793 * 100) for v in gyro]
        for report_id, raw in ((1, a), (2, g)):
            report = struct.pack("<B3h", report_id, *raw)
            self.inputs[report_id] = report
            event = struct.pack(f"<IH{len(report)}s", UHID_INPUT2, len(report), report)
            os.write(self.fd, event.ljust(EVENT_SIZE, b"\0"))


def iio_devices(sysfs: str = "/sys/bus/iio/devices") -> dict[str, str]:
    """IIO device names (``accel_3d``) to their folder names (``iio:device0``)."""
    out = {}
    for dev in sorted(Path(sysfs).glob("iio:device*")):
        try:
            out[(dev / "name").read_text().strip()] = dev.name
        except OSError:
            continue
    return out


def wait_for_devices(names: tuple[str, ...], timeout: float = 20.0) -> dict[str, str]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = iio_devices()
        if all(n in found for n in names):
            return found
        time.sleep(0.05)
    raise TimeoutError(f"no IIO devices {names} after {timeout} s: found {iio_devices()}")


def notify_ready() -> None:
    """sd_notify READY=1, where systemd runs this as a Type=notify service (QEMU guest)."""
    address = os.environ.get("NOTIFY_SOCKET", "")
    if not address:
        return
    if address.startswith("@"):
        address = "\0" + address[1:]
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
        sock.sendto(b"READY=1", address)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--rate",
        type=float,
        default=0.0,
        help="send samples, at this rate (Hz) until the kernel sets the sensor's interval",
    )
    args = parser.parse_args()
    interval = round(1000 / args.rate) if args.rate > 0 else INTERVAL_MS
    with SensorHub(start_interval_ms=interval) as hub:
        print(wait_for_devices(("accel_3d", "gyro_3d")), flush=True)
        notify_ready()
        due, i, noise = time.monotonic(), 0, random.Random(0)
        while True:
            if args.rate <= 0:
                time.sleep(1)
                continue
            # a wrist at rest, turning slowly; a sensor's noise of a few counts, so that
            # the flat-line rule (a stuck sensor) has no reason to speak
            # (the hub's counts are 0.01 g and 0.01 deg/s)
            jitter = [noise.gauss(0.0, 0.1) for _ in range(6)]
            accel = (jitter[0], jitter[1], G + jitter[2])
            gyro = (jitter[3] / 30, jitter[4] / 30, 0.2 * math.sin(i / 50) + jitter[5] / 30)
            hub.send(accel, gyro)
            i += 1
            due += hub.interval_ms(REPORT_ID[ACCEL_3D]) / 1000  # paced as a sensor is told
            time.sleep(max(0.0, due - time.monotonic()))


if __name__ == "__main__":
    main()
