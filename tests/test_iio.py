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

from fedwear.config import load_config
from fedwear.errors import ConfigError, DecodeError, SourceError
from fedwear.ingest.iio import IioSource, parse_scan_type, read_scan_layout
from fedwear.pipeline import run_pipeline
from fedwear.ringbuf import Ring

ACCEL_SCALE = 0.000598
GYRO_SCALE = 0.001
# Gyroscope first, as BMI160 and MPU-6050 scan: the stream's order is not the device's.
ELEMENTS = {
    "anglvel_x": "be:s12/16>>4",
    "anglvel_y": "le:s16/16>>0",
    "anglvel_z": "le:s16/16>>0",
    "accel_x": "le:s16/16>>0",
    "accel_y": "le:s16/16>>0",
    "accel_z": "le:s16/16>>0",
    "timestamp": "le:s64/64>>0",
}


def make_device(
    root: Path,
    *,
    timestamp: bool = True,
    types: dict[str, str] | None = None,
    enabled: bool = False,
    node: str = "iio:device0",
    name: str = "fixture-imu",
    elements: dict[str, str] | None = None,
    rate: str | None = "100.000000",
) -> Path:
    """A device as the kernel shows it after probing: nothing enabled, a 2-scan buffer,
    a rate per channel type (as BMI160 and HID sensors show it; None: no rate shown)."""
    dev = root / "sys" / node
    scan = dev / "scan_elements"
    scan.mkdir(parents=True)
    (dev / "buffer").mkdir()
    (dev / "buffer" / "enable").write_text("0\n")
    (dev / "buffer" / "length").write_text("2\n")
    (dev / "name").write_text(f"{name}\n")
    (dev / "current_timestamp_clock").write_text("realtime\n")  # the kernel's default
    (dev / "in_accel_scale").write_text(f"{ACCEL_SCALE}\n")
    (dev / "in_anglvel_scale").write_text(f"{GYRO_SCALE}\n")
    (dev / "in_anglvel_x_offset").write_text("2\n")
    kinds = dict(elements if elements is not None else ELEMENTS)
    kinds.update(types or {})
    if not timestamp:
        kinds.pop("timestamp", None)
    if rate is not None:
        for kind in {k.split("_")[0] for k in kinds if k != "timestamp"}:
            (dev / f"in_{kind}_sampling_frequency").write_text(f"{rate}\n")
    for index, (element, kind) in enumerate(kinds.items()):
        (scan / f"in_{element}_en").write_text("1\n" if enabled else "0\n")
        (scan / f"in_{element}_index").write_text(f"{index}\n")
        (scan / f"in_{element}_type").write_text(kind + "\n")
    (root / "dev").mkdir(exist_ok=True)
    os.mkfifo(root / "dev" / node)
    return dev


def scan_bytes(i: int, timestamp: bool = True) -> bytes:
    gyro12 = (-100 + i) & 0xFFF
    out = (
        struct.pack(">H", (gyro12 << 4) | 0xA)
        + struct.pack("<hh", 2 * i, -3 * i)
        + struct.pack("<hhh", i, -i, 1000 + i)
    )
    return out + struct.pack("<xxxxq", 1_000_000_000 + i * 10_000_000) if timestamp else out


def source_at(root: Path, device: str | list[str] = "iio:device0", **kw: object) -> IioSource:
    return IioSource(device, str(root / "sys"), str(root / "dev"), "imu", 100.0, **kw)  # type: ignore[arg-type]


def feed(root: Path, node: str, data: bytes, chunk: int = 7) -> None:
    fd = os.open(root / "dev" / node, os.O_WRONLY)
    for k in range(0, len(data), chunk):  # chunks that split scans
        os.write(fd, data[k : k + chunk])
    os.close(fd)


def run_to_end(source: IioSource) -> None:
    deadline = time.monotonic() + 10
    while not (status := source.pump(0.01)).ended and time.monotonic() < deadline:
        pass
    assert status.ended and not status.lost, status


def test_scan_type_parsing() -> None:
    assert parse_scan_type("le:s16/16>>0") == (False, True, 16, 16, 0)
    assert parse_scan_type("be:u12/16>>4\n") == (True, False, 12, 16, 4)
    for bad in ("le:f32/32>>0", "xx:s16/16>>0", "le:s17/16>>0", "le:s16/16X2>>0", "le:s8/8>>8"):
        with pytest.raises(DecodeError):
            parse_scan_type(bad, "in_x_type")


def test_layout_aligns_each_element_to_its_storage(tmp_path: Path) -> None:
    channels, size = read_scan_layout(make_device(tmp_path, enabled=True))
    assert [(c.name, c.byte_offset) for c in channels] == [
        ("anglvel_x", 0),
        ("anglvel_y", 2),
        ("anglvel_z", 4),
        ("accel_x", 6),
        ("accel_y", 8),
        ("accel_z", 10),
        ("timestamp", 16),
    ]
    assert size == 24
    assert channels[3].scale == ACCEL_SCALE and channels[0].offset == 2.0


def test_buffered_capture_sets_the_device_up_and_keeps_the_streams_order(
    tmp_path: Path,
) -> None:
    dev = make_device(tmp_path)
    source = source_at(tmp_path)
    ring = Ring(256, 6)
    source.start({"imu": ring})
    # What a user would otherwise echo by hand, in the order the kernel accepts it.
    assert {p.name: p.read_text() for p in (dev / "scan_elements").glob("*_en")} == {
        f"in_{e}_en": "1" for e in ELEMENTS
    }
    assert (dev / "buffer" / "length").read_text() == "100"  # a second of scans, not 2
    assert (dev / "buffer" / "enable").read_text() == "1"
    # Boot time, not the wall clock: setting the watch's time must not tear its stream.
    assert (dev / "current_timestamp_clock").read_text() == "boottime"
    feed(tmp_path, "iio:device0", b"".join(scan_bytes(i) for i in range(50)))
    run_to_end(source)
    assert source.counters()["scans"] == 50
    source.close()
    assert source.counters()["scans"] == 50  # kept after close, for the run's summary
    assert (dev / "buffer" / "enable").read_text() == "0"
    got = ring.read(100)
    i = np.arange(50)
    assert np.array_equal(got["t"], 1_000_000_000 + i * 10_000_000)
    # ax ay az gx gy gz, though the device scans the gyroscope first
    accel = [i * ACCEL_SCALE, -i * ACCEL_SCALE, (1000 + i) * ACCEL_SCALE]
    gyro = [(-100 + i + 2) * GYRO_SCALE, 2 * i * GYRO_SCALE, -3 * i * GYRO_SCALE]
    expected = np.column_stack([*accel, *gyro])
    np.testing.assert_allclose(got["v"], expected, rtol=1e-6)


def test_a_buffer_left_on_by_a_killed_run_is_restarted(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    dev = make_device(tmp_path)
    (dev / "buffer" / "enable").write_text("1\n")
    source = source_at(tmp_path)
    with caplog.at_level(logging.INFO, "fedwear"):
        source.start({"imu": Ring(64, 6)})
    feed(tmp_path, "iio:device0", b"")
    source.close()
    assert "its buffer was left on" in caplog.text
    assert (dev / "scan_elements" / "in_accel_x_en").read_text() == "1"


def test_without_timestamp_element_the_clock_is_used(tmp_path: Path) -> None:
    make_device(tmp_path, timestamp=False)
    source = source_at(tmp_path)
    ring = Ring(64, 6)
    source.start({"imu": ring})
    # One write (under PIPE_BUF, so atomic) and so one read: scans that arrive in one
    # read are stamped a period apart back from its time. Split into reads, as a slow
    # guest once read them, each read's scans start from that read's time instead.
    scans = b"".join(scan_bytes(i, timestamp=False) for i in range(10))
    feed(tmp_path, "iio:device0", scans, chunk=len(scans))
    run_to_end(source)
    source.close()
    got = ring.read(20)
    assert len(got) == 10
    assert np.all(np.diff(got["t"]) == 10_000_000)
    # CLOCK_BOOTTIME, as the kernel is asked to stamp scans (it was the wall clock)
    assert abs(got["t"][-1] - time.clock_gettime_ns(time.CLOCK_BOOTTIME)) < 60e9


def _wait_for(source: IioSource, ring: Ring, frames: int) -> None:
    deadline = time.monotonic() + 10
    while len(ring) < frames and time.monotonic() < deadline:
        source.pump(0.01)


def test_a_device_is_asked_for_the_streams_rate_and_resampled_from_the_one_it_took(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """An LSM6DS* lists 12.5, 26, 52, 104 ... Hz and starts at its default: asked for the
    stream's 100 Hz it takes 104, the smallest listed rate above. Its scans are then
    resampled onto the stream's 10 ms grid, which the models' windows count on."""
    dev = make_device(tmp_path, rate="26.000000")
    for kind in ("accel", "anglvel"):
        (dev / f"in_{kind}_sampling_frequency_available").write_text("12.5 26 52 104 208\n")
    source = source_at(tmp_path)
    ring = Ring(256, 6)
    with caplog.at_level(logging.INFO, "fedwear"):
        source.start({"imu": ring})
    for kind in ("accel", "anglvel"):
        assert (dev / f"in_{kind}_sampling_frequency").read_text() == "104"
    assert (dev / "buffer" / "length").read_text() == "104"  # a second at the device's rate
    period = 1e9 / 104
    t0 = 1_000_000_000
    stamps = [t0 + round(i * period) for i in range(104)]
    feed(
        tmp_path,
        "iio:device0",
        b"".join(scan_bytes(i, False) + struct.pack("<xxxxq", t) for i, t in enumerate(stamps)),
    )
    _wait_for(source, ring, 100)
    source.close()
    got = ring.read(200)
    assert np.array_equal(got["t"], t0 + np.arange(100) * 10_000_000)
    # accel_x is the scan's number: read off at each 10 ms instant, 1.04 scans apart
    np.testing.assert_allclose(got["v"][:, 0], np.arange(100) * 1.04 * ACCEL_SCALE, rtol=1e-4)
    assert "runs at 104 Hz: resampled to the imu stream's 100 Hz" in caplog.text


def test_what_rate_is_asked_and_where(tmp_path: Path) -> None:
    from fedwear.ingest.iio_rate import element_type, rate_attributes, rate_to_ask

    assert [element_type(e) for e in ("accel_x", "voltage0", "intensity_ir", "timestamp")] == [
        "accel",
        "voltage",
        "intensity",
        "timestamp",
    ]
    attribute = tmp_path / "sampling_frequency"
    attribute.write_text("0\n")
    assert rate_to_ask(attribute, 64.0) == "64"  # no list: as wanted
    listed = tmp_path / "sampling_frequency_available"
    for text, want, asked in [
        ("25 50 100 200 400\n", 64.0, "100"),  # the smallest at or above
        ("25 50\n", 64.0, "50"),  # none above: the fastest
        ("12.5 26 52 104 208\n", 100.0, "104"),
        ("[1 1 800]\n", 62.5, "62.5"),  # a range: as wanted
        ("99.8 200\n", 100.0, "99.8"),  # within 0.5 %: the same rate
    ]:
        listed.write_text(text)
        assert rate_to_ask(attribute, want) == asked, text
    # the most specific attribute of each element, each once
    (tmp_path / "in_accel_sampling_frequency").write_text("100\n")
    assert rate_attributes(tmp_path, ["accel_x", "accel_y", "anglvel_x"]) == [
        tmp_path / "in_accel_sampling_frequency",
        attribute,
    ]


def test_a_device_at_the_streams_rate_passes_its_scans_through(tmp_path: Path) -> None:
    """Asked with no list of rates, a device that keeps 100 Hz is read as it scans: its own
    stamps, no interpolation (the first test above checks the values)."""
    dev = make_device(tmp_path, rate="50")
    source = source_at(tmp_path)
    ring = Ring(64, 6)
    source.start({"imu": ring})
    assert (dev / "in_accel_sampling_frequency").read_text() == "100"
    assert source._aligner is None
    stamps = [1_000_000_000 + i * 10_000_000 + (i % 3) * 1000 for i in range(10)]
    feed(
        tmp_path,
        "iio:device0",
        b"".join(scan_bytes(i, False) + struct.pack("<xxxxq", t) for i, t in enumerate(stamps)),
    )
    run_to_end(source)
    source.close()
    assert ring.read(20)["t"].tolist() == stamps


def test_a_device_that_shows_no_rate(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    """A MAX30102 shows no rate. With kernel stamps, the scans are resampled on them; with
    neither rate nor stamps, nothing says when a scan was taken, and the log says so."""
    make_device(tmp_path, rate=None)
    source = source_at(tmp_path)
    with caplog.at_level(logging.INFO, "fedwear"):
        source.start({"imu": Ring(64, 6)})
    feed(tmp_path, "iio:device0", b"")
    source.close()
    assert source._aligner is not None and source._aligner.period_ns == 10_000_000
    assert "does not say its rate: resampled to the imu stream's 100 Hz on its stamps" in (
        caplog.text
    )
    caplog.clear()
    make_device(tmp_path / "bare", rate=None, timestamp=False)
    source = source_at(tmp_path / "bare")
    with caplog.at_level(logging.INFO, "fedwear"):
        source.start({"imu": Ring(64, 6)})
    feed(tmp_path / "bare", "iio:device0", b"")
    source.close()
    assert source._aligner is None
    assert "says neither its rate nor when it scanned" in caplog.text


def test_a_refused_rate_is_not_fatal(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    """Left without the udev rule's rate part, or with a driver that refuses a rate: the
    log says so and the run goes on, at the rate the device shows."""
    dev = make_device(tmp_path, rate="52")
    refused = dev / "in_anglvel_sampling_frequency"
    refused.unlink()
    refused.mkdir()  # refused even to root
    source = source_at(tmp_path)
    with caplog.at_level(logging.INFO, "fedwear"):
        source.start({"imu": Ring(64, 6)})
    feed(tmp_path, "iio:device0", b"")
    source.close()
    assert (dev / "in_accel_sampling_frequency").read_text() == "100"
    assert "cannot write 100 Hz to" in caplog.text and "in_anglvel_sampling_frequency" in (
        caplog.text
    )
    assert source._aligner is None  # in_anglvel (a folder) shows nothing; in_accel 100 Hz


def test_a_device_set_up_by_someone_else_keeps_its_clock_and_says_so(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    dev = make_device(tmp_path, enabled=True)
    (dev / "buffer" / "enable").write_text("1\n")  # enabled by whoever set it up
    source = source_at(tmp_path, enable_buffer=False)
    with caplog.at_level(logging.WARNING, "fedwear"):
        source.start({"imu": Ring(64, 6)})
    feed(tmp_path, "iio:device0", b"")  # let the reader end
    source.close()
    assert (dev / "current_timestamp_clock").read_text() == "realtime\n"
    assert (dev / "in_accel_sampling_frequency").read_text() == "100.000000\n"  # read, not set
    assert (dev / "buffer" / "length").read_text() == "2\n"
    assert (dev / "buffer" / "enable").read_text() == "1\n"
    assert [r.getMessage() for r in caplog.records] == [
        f"IIO device {tmp_path}/dev/iio:device0 stamps its scans with the realtime clock "
        "(source.iio.enable_buffer is false): setting the time will show as a gap or as "
        "time running back"
    ]


def test_someone_elses_device_must_have_the_elements_enabled(tmp_path: Path) -> None:
    dev = make_device(tmp_path, enabled=True)
    (dev / "scan_elements" / "in_anglvel_z_en").write_text("0\n")
    source = source_at(tmp_path, enable_buffer=False)
    with pytest.raises(SourceError, match=r"scan element anglvel_z is not enabled.*echo 1 >"):
        source.start({"imu": Ring(64, 6)})
    source.close()


def test_a_device_is_found_by_its_name(tmp_path: Path) -> None:
    make_device(tmp_path, node="iio:device3", name="bmi160")
    make_device(
        tmp_path, node="iio:device4", name="max30102", elements={"intensity_ir": "le:u18/32>>0"}
    )
    assert (
        source_at(tmp_path, "bmi160").device_label
        == f"IIO device {tmp_path}/dev/iio:device3 (bmi160)"
    )
    with pytest.raises(SourceError, match="no IIO device named 'lsm6dsm'"):
        source_at(tmp_path, "lsm6dsm")
    make_device(tmp_path, node="iio:device5", name="bmi160")
    with pytest.raises(
        SourceError, match=r"2 IIO devices are named 'bmi160' \(iio:device3, iio:device5\)"
    ):
        source_at(tmp_path, "bmi160")


def test_a_device_without_the_streams_elements_is_refused_by_name(tmp_path: Path) -> None:
    accel_only = {k: v for k, v in ELEMENTS.items() if not k.startswith("anglvel")}
    make_device(tmp_path, elements=accel_only)
    with pytest.raises(
        SourceError, match=r"no scan element anglvel_x, anglvel_y, anglvel_z for the 'imu'"
    ):
        source_at(tmp_path)
    make_device(
        tmp_path, node="iio:device1", name="pressure", elements={"pressure": "le:u24/32>>0"}
    )
    with pytest.raises(
        SourceError,
        match=r"iio:device1.*has none of the scan elements 'imu' still needs \(anglvel_x",
    ):
        source_at(tmp_path, ["iio:device0", "iio:device1"])


def test_other_streams_name_their_elements(tmp_path: Path) -> None:
    """A pulse oximeter as the kernel's max30102 driver shows one: red and infrared
    intensity, 18 bits in 32 big-endian ones shifted by 8, no timestamp, no rate."""
    max30102 = "be:u18/32>>8"
    dev = make_device(
        tmp_path,
        elements={"intensity_red": max30102, "intensity_ir": max30102},
        rate=None,
    )
    source = IioSource("iio:device0", str(tmp_path / "sys"), str(tmp_path / "dev"), "ppg", 64.0)
    assert source.streams()["ppg"].channels == ("ppg",)
    ring = Ring(64, 1)
    source.start({"ppg": ring})
    assert (dev / "scan_elements" / "in_intensity_ir_en").read_text() == "1"
    assert (dev / "scan_elements" / "in_intensity_red_en").read_text() == "0\n"
    feed(tmp_path, "iio:device0", struct.pack(">II", 5000 << 8 | 0x3F, 7000 << 8))
    run_to_end(source)
    source.close()
    assert ring.read(4)["v"][:, 0].tolist() == [5000.0, 7000.0]  # one element: 4-byte scans
    with pytest.raises(ConfigError, match=r"source\.iio\.elements"):
        IioSource("iio:device0", str(tmp_path / "sys"), str(tmp_path / "dev"), "hr", 1.0)
    with pytest.raises(ConfigError, match="'ppg' has 1 channels"):
        IioSource(
            "iio:device0",
            str(tmp_path / "sys"),
            str(tmp_path / "dev"),
            "ppg",
            64.0,
            elements=["a", "b"],
        )


def test_a_pulse_oximeter_that_shows_no_rate_is_given_one(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """A MAX30102 shows neither its rate (400 Hz averaged by 4: 100 Hz) nor stamps: read
    as the ppg stream's 64 Hz, every heart would look 36 % slower. Given its rate in
    source.iio.device_rate_hz, its scans are stamped 10 ms apart and resampled to 64 Hz."""
    max30102 = "be:u18/32>>8"
    make_device(tmp_path, elements={"intensity_red": max30102, "intensity_ir": max30102}, rate=None)
    source = IioSource(
        "iio:device0", str(tmp_path / "sys"), str(tmp_path / "dev"), "ppg", 64.0,
        device_rate_hz=100.0,
    )  # fmt: skip
    ring = Ring(256, 1)
    with caplog.at_level(logging.INFO, "fedwear"):
        source.start({"ppg": ring})
    scans = b"".join(struct.pack(">I", i << 8) for i in range(100))
    feed(tmp_path, "iio:device0", scans, chunk=len(scans))  # one read: stamped 10 ms apart
    _wait_for(source, ring, 64)
    source.close()
    got = ring.read(256)
    assert (tmp_path / "sys" / "iio:device0" / "buffer" / "length").read_text() == "100"
    assert "runs at 100 Hz: resampled to the ppg stream's 64 Hz" in caplog.text
    assert len(got) == 64 and np.all(np.diff(got["t"]) == 15_625_000)
    # the scan's number, read off every 15.625 ms of scans 10 ms apart
    np.testing.assert_allclose(got["v"][:, 0], np.arange(64) * 1.5625, rtol=1e-5)


def test_an_imu_shown_as_two_devices_is_one_stream(tmp_path: Path) -> None:
    """Accelerometer and gyroscope as two devices (LSM6DS*, HID sensor hubs): the gyro's
    values are interpolated at the accelerometer's times; a hole in it is NaN."""
    accel = {k: "le:s16/16>>0" for k in ("accel_x", "accel_y", "accel_z")} | {
        "timestamp": "le:s64/64>>0"
    }
    gyro = {k: "le:s16/16>>0" for k in ("anglvel_x", "anglvel_y", "anglvel_z")} | {
        "timestamp": "le:s64/64>>0"
    }
    make_device(tmp_path, node="iio:device0", name="accel", elements=accel)
    make_device(tmp_path, node="iio:device1", name="gyro", elements=gyro)
    (tmp_path / "sys" / "iio:device1" / "in_anglvel_x_offset").unlink()
    source = source_at(tmp_path, ["accel", "gyro"])
    ring = Ring(256, 6)
    source.start({"imu": ring})
    t0 = 5_000_000_000
    a = b"".join(struct.pack("<hhhxxq", i, 0, 100, t0 + i * 10_000_000) for i in range(40))
    # the gyro samples 5 ms later; its rate ramps, so interpolation has one right answer
    g_times = [t0 + 5_000_000 + k * 10_000_000 for k in range(40) if not 20 <= k < 25]
    g = b"".join(struct.pack("<hhhxxq", (t - t0) // 1_000_000, 7, 0, t) for t in g_times)
    feed(tmp_path, "iio:device1", g)
    feed(tmp_path, "iio:device0", a)
    deadline = time.monotonic() + 10
    while len(ring) < 39 and time.monotonic() < deadline:
        source.pump(0.01)
    counters = source.counters()
    source.close()
    got = ring.read(100)
    # the first accelerometer sample comes before any gyro sample: dropped, not made up
    assert counters["scans"] == 75 and counters["unaligned"] == 1
    assert counters["scans:accel"] == 40 and counters["scans:gyro"] == 35
    assert np.array_equal(got["t"], t0 + np.arange(1, 40) * 10_000_000)
    v = got["v"]
    np.testing.assert_allclose(v[:, 0], np.arange(1, 40) * ACCEL_SCALE, rtol=1e-6)
    hole = (got["t"] > g_times[19]) & (got["t"] < g_times[20])
    assert hole.sum() == 6 and np.isnan(v[hole, 3:]).all()
    ok = ~hole
    # ms since t0 at the accelerometer's instants, through the gyro's linear ramp
    np.testing.assert_allclose(v[ok, 3], (got["t"][ok] - t0) / 1e6 * GYRO_SCALE, rtol=1e-5)
    np.testing.assert_allclose(v[ok, 4], 7 * GYRO_SCALE, rtol=1e-6)


def test_unknown_scan_type_names_the_file(tmp_path: Path) -> None:
    make_device(tmp_path, types={"accel_y": "le:f32/32>>0"}, enabled=True)
    with pytest.raises(DecodeError, match=r"in_accel_y_type.*unknown IIO scan type"):
        read_scan_layout(tmp_path / "sys" / "iio:device0")


def test_bad_scale_and_missing_device(tmp_path: Path) -> None:
    dev = make_device(tmp_path, enabled=True)
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
    with pytest.raises(SourceError, match="not a buffered IIO device"):
        source_at(tmp_path, "iio:device9")
    # The kernel serves an attribute in one page at most: more is not sysfs.
    (dev / "in_accel_scale").unlink()
    (dev / "in_accel_scale").symlink_to("/dev/zero")
    with memory_cap(), pytest.raises(SourceError, match="in_accel_scale: more than the 4096"):
        read_scan_layout(dev)


def test_nothing_enabled(tmp_path: Path) -> None:
    dev = make_device(tmp_path)
    with pytest.raises(SourceError, match="no scan element is enabled"):
        read_scan_layout(dev)


def test_a_refused_write_names_the_attribute(tmp_path: Path) -> None:
    dev = make_device(tmp_path)
    en = dev / "scan_elements" / "in_accel_z_en"
    en.unlink()
    en.mkdir()  # refused even to root, as the kernel refuses writes while a buffer runs
    source = source_at(tmp_path)
    with pytest.raises(SourceError, match=r"cannot write '1' to .*in_accel_z_en: Is a directory"):
        source.start({"imu": Ring(64, 6)})
    source.close()


def test_missing_character_device(tmp_path: Path) -> None:
    make_device(tmp_path)
    (tmp_path / "dev" / "iio:device0").unlink()
    source = source_at(tmp_path)
    with pytest.raises(SourceError, match="cannot open"):
        source.start({"imu": Ring(64, 6)})
    source.close()
    # the buffer it had enabled is off again: the device is left as it was found
    assert (tmp_path / "sys" / "iio:device0" / "buffer" / "enable").read_text() == "0"


def test_a_run_whose_second_device_fails_leaves_the_first_as_it_found_it(tmp_path: Path) -> None:
    """The pipeline closes a source whose start() failed half way: the first device's
    intake thread stops and its buffer goes off again."""
    accel = {k: "le:s16/16>>0" for k in ("accel_x", "accel_y", "accel_z")}
    gyro = {k: "le:s16/16>>0" for k in ("anglvel_x", "anglvel_y", "anglvel_z")}
    first = make_device(tmp_path, node="iio:device0", name="accel", elements=accel)
    make_device(tmp_path, node="iio:device1", name="gyro", elements=gyro)
    (tmp_path / "dev" / "iio:device1").unlink()
    source = source_at(tmp_path, ["accel", "gyro"])
    with pytest.raises(SourceError, match=r"cannot open .*iio:device1"):
        run_pipeline(load_config(), source, [], [])
    assert (first / "buffer" / "enable").read_text() == "0"
    assert all(cap.intake is None for cap in source._captures)


def test_an_idle_device_is_not_an_ended_one(tmp_path: Path) -> None:
    """After a second without data the intake thread reads once, to learn whether its
    device is gone (an unregistered IIO device polls as nothing, and reads ENODEV: the
    kernel test in QEMU). A device that is merely quiet must not end the run by it."""
    make_device(tmp_path)
    source = source_at(tmp_path)
    ring = Ring(64, 6)
    source.start({"imu": ring})
    time.sleep(1.5)  # one probe: the FIFO, with no writer yet, reads 0
    assert not source.pump(0.0).ended
    feed(tmp_path, "iio:device0", b"".join(scan_bytes(i) for i in range(5)))
    run_to_end(source)
    source.close()
    assert len(ring.read(10)) == 5


def test_devices_listed_gyroscope_first_still_give_the_streams_order(tmp_path: Path) -> None:
    """The first device sets the instants; the stream's channels stay ax .. gz."""
    accel = {k: "le:s16/16>>0" for k in ("accel_x", "accel_y", "accel_z")}
    gyro = {k: "le:s16/16>>0" for k in ("anglvel_x", "anglvel_y", "anglvel_z")}
    stamp = {"timestamp": "le:s64/64>>0"}
    make_device(tmp_path, node="iio:device0", name="accel", elements=accel | stamp)
    make_device(tmp_path, node="iio:device1", name="gyro", elements=gyro | stamp)
    (tmp_path / "sys" / "iio:device1" / "in_anglvel_x_offset").unlink()
    source = source_at(tmp_path, ["gyro", "accel"])
    ring = Ring(64, 6)
    source.start({"imu": ring})
    times = [5_000_000_000 + i * 10_000_000 for i in range(5)]
    feed(tmp_path, "iio:device1", b"".join(struct.pack("<hhhxxq", 4, 5, 6, t) for t in times))
    feed(tmp_path, "iio:device0", b"".join(struct.pack("<hhhxxq", 1, 2, 3, t) for t in times))
    deadline = time.monotonic() + 10
    while len(ring) < 5 and time.monotonic() < deadline:
        source.pump(0.01)
    source.close()
    got = ring.read(10)
    expected = np.array([1, 2, 3, 4, 5, 6]) * np.repeat([ACCEL_SCALE, GYRO_SCALE], 3)
    np.testing.assert_allclose(got["v"], np.tile(expected, (5, 1)), rtol=1e-6)
