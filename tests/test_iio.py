"""IIO buffered capture against a fixture sysfs tree and a FIFO in place of /dev/iio:deviceN.

The tree follows the kernel's layout (scan_elements/in_<ch>_{en,index,type}, in_<type>_scale);
a FIFO delivers bytes to the C intake thread the way the character device does.
"""

from __future__ import annotations

import logging
import os
import struct
import time
from pathlib import Path

import numpy as np
import pytest
from conftest import memory_cap

from fedwear.errors import DecodeError, SourceError
from fedwear.ingest.iio import IioSource, parse_scan_type, read_scan_layout
from fedwear.ringbuf import Ring

ACCEL_SCALE = 0.000598
GYRO_SCALE = 0.001


def make_device(root: Path, *, timestamp: bool = True, types: dict[str, str] | None = None) -> Path:
    dev = root / "sys" / "iio:device0"
    scan = dev / "scan_elements"
    scan.mkdir(parents=True)
    (dev / "buffer").mkdir()
    (dev / "buffer" / "enable").write_text("0\n")
    (dev / "name").write_text("fixture-imu\n")
    (dev / "current_timestamp_clock").write_text("realtime\n")  # the kernel's default
    (dev / "in_accel_scale").write_text(f"{ACCEL_SCALE}\n")
    (dev / "in_anglvel_x_scale").write_text(f"{GYRO_SCALE}\n")
    (dev / "in_anglvel_x_offset").write_text("2\n")
    elements = {
        "accel_x": "le:s16/16>>0",
        "accel_y": "le:s16/16>>0",
        "accel_z": "le:s16/16>>0",
        "anglvel_x": "be:s12/16>>4",
        "timestamp": "le:s64/64>>0",
    }
    elements.update(types or {})
    for index, (name, kind) in enumerate(elements.items()):
        enabled = name != "timestamp" or timestamp
        (scan / f"in_{name}_en").write_text("1\n" if enabled else "0\n")
        (scan / f"in_{name}_index").write_text(f"{index}\n")
        (scan / f"in_{name}_type").write_text(kind + "\n")
    (root / "dev").mkdir()
    os.mkfifo(root / "dev" / "iio:device0")
    return dev


def scan_bytes(i: int) -> bytes:
    gyro12 = (-100 + i) & 0xFFF
    return (
        struct.pack("<hhh", i, -i, 1000 + i)
        + struct.pack(">H", (gyro12 << 4) | 0xA)
        + struct.pack("<q", 1_000_000_000 + i * 10_000_000)
    )


def test_scan_type_parsing() -> None:
    assert parse_scan_type("le:s16/16>>0") == (False, True, 16, 16, 0)
    assert parse_scan_type("be:u12/16>>4\n") == (True, False, 12, 16, 4)
    for bad in ("le:f32/32>>0", "xx:s16/16>>0", "le:s17/16>>0", "le:s16/16X2>>0", "le:s8/8>>8"):
        with pytest.raises(DecodeError):
            parse_scan_type(bad, "in_x_type")


def test_layout_aligns_each_element_to_its_storage(tmp_path: Path) -> None:
    channels, size = read_scan_layout(make_device(tmp_path))
    assert [(c.name, c.byte_offset) for c in channels] == [
        ("accel_x", 0),
        ("accel_y", 2),
        ("accel_z", 4),
        ("anglvel_x", 6),
        ("timestamp", 8),
    ]
    assert size == 16
    assert channels[0].scale == ACCEL_SCALE and channels[3].offset == 2.0


def test_buffered_capture_through_the_intake_thread(tmp_path: Path) -> None:
    make_device(tmp_path)
    source = IioSource("iio:device0", str(tmp_path / "sys"), str(tmp_path / "dev"), "imu", 100.0)
    ring = Ring(256, 4)
    source.start({"imu": ring})
    assert (tmp_path / "sys" / "iio:device0" / "buffer" / "enable").read_text() == "1"
    # Boot time, not the wall clock: setting the watch's time must not tear its stream.
    assert (tmp_path / "sys" / "iio:device0" / "current_timestamp_clock").read_text() == "boottime"
    data = b"".join(scan_bytes(i) for i in range(50))
    fd = os.open(tmp_path / "dev" / "iio:device0", os.O_WRONLY)
    for k in range(0, len(data), 7):  # chunks that split scans
        os.write(fd, data[k : k + 7])
    os.close(fd)
    deadline = time.monotonic() + 10
    while not (status := source.pump(0.01)).ended and time.monotonic() < deadline:
        pass
    assert status.ended and not status.lost and source.counters()["scans"] == 50
    source.close()
    assert source.counters()["scans"] == 50  # kept after close, for the run's summary
    assert (tmp_path / "sys" / "iio:device0" / "buffer" / "enable").read_text() == "0"
    got = ring.read(100)
    i = np.arange(50)
    assert np.array_equal(got["t"], 1_000_000_000 + i * 10_000_000)
    np.testing.assert_allclose(got["v"][:, 0], i * ACCEL_SCALE, rtol=1e-6)
    np.testing.assert_allclose(got["v"][:, 1], -i * ACCEL_SCALE, rtol=1e-6)
    np.testing.assert_allclose(got["v"][:, 3], (-100 + i + 2) * GYRO_SCALE, rtol=1e-6)


def test_without_timestamp_element_the_clock_is_used(tmp_path: Path) -> None:
    make_device(tmp_path, timestamp=False)
    source = IioSource("iio:device0", str(tmp_path / "sys"), str(tmp_path / "dev"), "imu", 100.0)
    ring = Ring(64, 4)
    source.start({"imu": ring})
    fd = os.open(tmp_path / "dev" / "iio:device0", os.O_WRONLY)
    os.write(fd, b"".join(scan_bytes(i)[:8] for i in range(10)))
    os.close(fd)
    while not source.pump(0.01).ended:
        pass
    source.close()
    got = ring.read(20)
    assert len(got) == 10
    assert np.all(np.diff(got["t"]) == 10_000_000)
    # CLOCK_BOOTTIME, as the kernel is asked to stamp scans (it was the wall clock)
    assert abs(got["t"][-1] - time.clock_gettime_ns(time.CLOCK_BOOTTIME)) < 60e9


def test_a_device_set_up_by_someone_else_keeps_its_clock_and_says_so(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    dev = make_device(tmp_path)
    (dev / "buffer" / "enable").write_text("1\n")  # enabled by whoever set it up
    source = IioSource(
        "iio:device0", str(tmp_path / "sys"), str(tmp_path / "dev"), "imu", 100.0, False
    )
    with caplog.at_level(logging.WARNING, "fedwear"):
        source.start({"imu": Ring(64, 4)})
    os.close(os.open(tmp_path / "dev" / "iio:device0", os.O_WRONLY))  # let the reader end
    source.close()
    assert (dev / "current_timestamp_clock").read_text() == "realtime\n"
    assert [r.getMessage() for r in caplog.records] == [
        f"IIO device {tmp_path}/dev/iio:device0 stamps its scans with the realtime clock "
        "(source.iio.enable_buffer is false): setting the time will show as a gap or as "
        "time running back"
    ]


def test_unknown_scan_type_names_the_file(tmp_path: Path) -> None:
    make_device(tmp_path, types={"accel_y": "le:f32/32>>0"})
    with pytest.raises(DecodeError, match=r"in_accel_y_type.*unknown IIO scan type"):
        IioSource("iio:device0", str(tmp_path / "sys"), str(tmp_path / "dev"), "imu", 100.0)


def test_bad_scale_and_missing_device(tmp_path: Path) -> None:
    dev = make_device(tmp_path)
    for bad in ("fast", "nan", "inf", "-1e999"):
        (dev / "in_accel_scale").write_text(f"{bad}\n")
        with pytest.raises(DecodeError, match="in_accel_scale: expected a finite number"):
            read_scan_layout(dev)
    (dev / "in_accel_scale").write_text("0.0024\n")
    (dev / "in_accel_x_offset").write_text("NaN\n")
    with pytest.raises(DecodeError, match="in_accel_x_offset: expected a finite number"):
        read_scan_layout(dev)
    with pytest.raises(SourceError, match="not a buffered IIO device"):
        read_scan_layout(tmp_path / "sys" / "iio:device9")
    # The kernel serves an attribute in one page at most: more is not sysfs.
    (dev / "in_accel_scale").unlink()
    (dev / "in_accel_scale").symlink_to("/dev/zero")
    with memory_cap(), pytest.raises(SourceError, match="in_accel_scale: more than the 4096"):
        read_scan_layout(dev)


def test_nothing_enabled(tmp_path: Path) -> None:
    dev = make_device(tmp_path)
    for en in (dev / "scan_elements").glob("*_en"):
        en.write_text("0\n")
    with pytest.raises(SourceError, match="no scan element is enabled"):
        read_scan_layout(dev)


def test_missing_character_device(tmp_path: Path) -> None:
    make_device(tmp_path)
    (tmp_path / "dev" / "iio:device0").unlink()
    source = IioSource("iio:device0", str(tmp_path / "sys"), str(tmp_path / "dev"), "imu", 100.0)
    with pytest.raises(SourceError, match="cannot open"):
        source.start({"imu": Ring(64, 4)})
    source.close()
