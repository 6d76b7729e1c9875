"""Linux IIO buffered capture into one stream, from one device or several.

The stream's channels come from the scan elements that carry them (``accel_x`` is the
imu stream's ``ax``), in the stream's order, whatever order the device scans them in:
the C decoder picks each element at its byte offset. Where a stream is spread over
devices (an accelerometer and a gyroscope shown as two, as ST's LSM6DS* and HID sensor
hubs do), each device has its own intake thread and ring, and ``TimeAligner`` joins them.
A device that runs at another rate than the stream (``iio_rate``) also goes through its
own ring, and ``TimeAligner`` resamples it onto the stream's rate.
"""

from __future__ import annotations

__all__ = ["DEFAULT_ELEMENTS", "IioChannel", "IioSource", "parse_scan_type", "read_scan_layout"]

import logging
import os
import time
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from ..errors import ConfigError, DecodeError, SourceError
from .align import TimeAligner
from .base import STREAM_CHANNELS, Source, SourceKind, SourceStatus, StreamSpec
from .iio_device import IioDevice
from .iio_layout import IioChannel, parse_scan_type, read_scan_layout
from .iio_rate import same_rate
from .intake import IntakeThread
from .threaded import watch

if TYPE_CHECKING:
    from ..config import Config
    from ..ringbuf import Ring

# The kernel's names (Documentation/ABI/testing/sysfs-bus-iio) for each stream's channels.
# ppg: the infrared intensity of MAX3010x pulse oximeters (the kernel's max30102 driver;
# it shows no rate: source.iio.device_rate_hz); ecg: an ADC's first input.
# Others are named in source.iio.elements.
DEFAULT_ELEMENTS: dict[str, tuple[str, ...]] = {
    "imu": ("accel_x", "accel_y", "accel_z", "anglvel_x", "anglvel_y", "anglvel_z"),
    "ppg": ("intensity_ir",),
    "ecg": ("voltage0",),
}
MAX_GAP_PERIODS = 3  # a device's samples further apart than this are a hole, not a line

log = logging.getLogger("fedwear")


def stream_elements(stream: str, configured: Sequence[str]) -> list[str]:
    """The scan element for each of the stream's channels, in its order."""
    channels = STREAM_CHANNELS[stream]
    elements = list(configured) or list(DEFAULT_ELEMENTS.get(stream, ()))
    if not elements:
        raise ConfigError(
            f"name the scan element that carries {stream!r} (X of scan_elements/in_X_en)",
            key="source.iio.elements",
        )
    if len(elements) != len(channels) or len(set(elements)) != len(elements):
        raise ConfigError(
            f"{stream!r} has {len(channels)} channels ({', '.join(channels)}): name "
            f"{len(channels)} different scan elements, got {elements}",
            key="source.iio.elements",
        )
    return elements


class _Capture:
    """One device's part of the stream: which channels, and what reads them."""

    def __init__(self, device: IioDevice, elements: list[str]) -> None:
        self.device, self.elements = device, elements
        self.decoder: _IioDecoder | None = None
        self.intake: IntakeThread | None = None
        self.ring: Ring | None = None  # its own ring, when the stream has several
        self.fd = -1
        self.buffer_on = False  # enabled by this source, to be disabled by it
        self.final: dict[str, int] = {}
        self.rate_hz: float | None = None  # as the device shows it; None: it does not
        self.channels: list[IioChannel] = []
        self.scan_bytes = 0

    @property
    def stamped(self) -> bool:
        """The kernel stamps each scan (a timestamp element is enabled)."""
        return any(c.name == "timestamp" for c in self.channels)

    def counters(self) -> dict[str, int]:
        return self.final if self.intake is None else self.intake.counters()


class IioSource(Source):
    """Buffered capture from one or more IIO devices into one stream."""

    kind = SourceKind.IIO

    def __init__(
        self,
        device: str | Sequence[str],
        sysfs_dir: str,
        dev_dir: str,
        stream: str,
        rate_hz: float,
        enable_buffer: bool = True,
        elements: Sequence[str] = (),
        device_rate_hz: float = 0.0,
    ) -> None:
        names = [device] if isinstance(device, str) else list(device)
        self.enable_buffer = enable_buffer
        self.device_rate_hz = device_rate_hz  # for devices that do not show theirs
        self._stream = StreamSpec(stream, STREAM_CHANNELS[stream], rate_hz)
        wanted = stream_elements(stream, elements)
        devices = [IioDevice(sysfs_dir, dev_dir, name) for name in names]
        self._captures: list[_Capture] = []
        placed: set[str] = set()
        for dev in devices:
            mine = [e for e in wanted if e in dev.elements and e not in placed]
            if not mine:
                raise SourceError(
                    f"{dev.label} has none of the scan elements {stream!r} still needs "
                    f"({', '.join(e for e in wanted if e not in placed)}); it has "
                    f"{', '.join(dev.elements) or 'none'}",
                    code="sysfs",
                )
            placed.update(mine)
            self._captures.append(_Capture(dev, mine))
        missing = [e for e in wanted if e not in placed]
        if missing:
            raise SourceError(
                f"no scan element {', '.join(missing)} for the {stream!r} stream on "
                + "; ".join(
                    f"{c.device.label} ({', '.join(c.device.elements)})" for c in self._captures
                ),
                code="sysfs",
            )
        self.device_label = " + ".join(c.device.label for c in self._captures)
        # joined frames hold the devices' channels one device after another: where each
        # of the stream's channels sits among them
        joined = [e for c in self._captures for e in c.elements]
        self._stream_order = [joined.index(e) for e in wanted]
        self._aligner: TimeAligner | None = None
        self._ring: Ring | None = None

    @classmethod
    def from_config(cls, config: Config, **overrides: Any) -> IioSource:
        iio = config.source.iio
        rate = config.stream_rates().get(iio.stream, 100.0)
        return cls(
            overrides.get("device") or iio.device,
            iio.sysfs_dir,
            iio.dev_dir,
            iio.stream,
            rate,
            iio.enable_buffer,
            iio.elements,
            iio.device_rate_hz,
        )

    def streams(self) -> dict[str, StreamSpec]:
        return {self._stream.name: self._stream}

    def start(self, rings: Mapping[str, Ring]) -> None:  # type: ignore[override]
        from ..native import ffi, lib
        from ..ringbuf import Ring

        self._ring = rings[self._stream.name]  # the C ring: the decoder writes into it
        for cap in self._captures:
            dev = cap.device
            if self.enable_buffer:
                cap.rate_hz = dev.set_up(cap.elements, self._stream.rate_hz, self.device_rate_hz)
            else:
                cap.rate_hz = dev.check_enabled(cap.elements, self.device_rate_hz)
            cap.channels, cap.scan_bytes = dev.layout()
        resampled = [cap for cap in self._captures if self._resamples(cap)]
        merged = len(self._captures) > 1 or bool(resampled)
        for cap in self._captures:
            dev = cap.device
            cap.ring = Ring(self._ring.capacity, len(cap.elements)) if merged else self._ring
            layout = self._layout(cap)
            cap.decoder = _IioDecoder(lib.fw_iio_decoder_new(layout, cap.ring.ptr), cap.ring)
            if cap.decoder.ptr == ffi.NULL:
                raise DecodeError(f"{dev.path}: scan layout rejected by the decoder", code="layout")
            if self.enable_buffer:
                dev.set_buffer(True)
                cap.buffer_on = True
            try:
                cap.fd = os.open(dev.node, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
            except OSError as exc:
                raise SourceError(
                    f"cannot open {dev.node}: {exc.strerror}",
                    code="open",
                    errno_value=exc.errno or 0,
                ) from exc
            cap.intake = IntakeThread(cap.fd, cap.decoder, "iio")
        if merged:
            stream_hz = self._stream.rate_hz
            self._aligner = TimeAligner(
                [len(c.elements) for c in self._captures],
                [
                    round(MAX_GAP_PERIODS * 1e9 / min(c.rate_hz or stream_hz, stream_hz))
                    for c in self._captures
                ],
                self._ring.capacity,
                round(1e9 / stream_hz) if resampled else None,
            )

    def _resamples(self, cap: _Capture) -> bool:
        """Whether ``cap``'s scans must be resampled onto the stream's rate: the device
        runs at another rate, or does not say its rate but stamps its scans."""
        stream = f"the {self._stream.name} stream's {self._stream.rate_hz:g} Hz"
        label = cap.device.label
        if same_rate(cap.rate_hz, self._stream.rate_hz):
            return False
        if cap.rate_hz is not None:
            log.info("%s runs at %g Hz: resampled to %s", label, cap.rate_hz, stream)
            return True
        if cap.stamped:
            log.info("%s does not say its rate: resampled to %s on its stamps", label, stream)
            return True
        log.warning(
            "%s says neither its rate nor when it scanned (no timestamp element): its scans "
            "are taken to come at %s; where they do not, set source.iio.device_rate_hz",
            label,
            stream,
        )
        return False

    def _layout(self, cap: _Capture) -> Any:
        from ..native import ffi

        by_name = {c.name: c for c in cap.channels}
        layout = ffi.new("fw_iio_layout *")
        layout.scan_bytes = cap.scan_bytes
        layout.n_channels = len(cap.elements)
        for dst, name in zip(layout.channels, cap.elements, strict=False):
            _fill_element(dst, by_name[name])
        if "timestamp" in by_name:
            layout.has_timestamp = 1
            _fill_element(layout.timestamp, by_name["timestamp"])
        # without stamps from the kernel, scans are stamped back from each read at this
        layout.period_ns = round(1e9 / (cap.rate_hz or self._stream.rate_hz))
        return layout

    def pump(self, budget_s: float) -> SourceStatus:
        if budget_s > 0:
            time.sleep(budget_s)  # the C threads fill the rings meanwhile
        statuses = []
        for cap in self._captures:
            assert cap.intake is not None, "start() first"
            statuses.append(watch(cap.intake, cap.device.label))
        if self._aligner is not None:
            self._align()  # after the states: what came before a device ended still goes out
        return next((status for status in statuses if status.ended), SourceStatus())

    def _align(self) -> None:
        from ..ringbuf import make_frames

        assert self._aligner is not None and self._ring is not None
        for k, cap in enumerate(self._captures):
            assert cap.ring is not None
            frames = cap.ring.read(len(cap.ring))
            self._aligner.add(k, frames["t"], frames["v"])
        t, parts = self._aligner.take()
        if len(t):
            self._ring.write(make_frames(t, parts[:, self._stream_order]))

    def counters(self) -> dict[str, int]:
        totals: dict[str, int] = {}
        for cap in self._captures:
            counted = cap.counters()
            for key, value in counted.items():
                totals[key] = totals.get(key, 0) + value
            if self._aligner is not None:  # which device went quiet, when the stream does
                totals[f"scans:{cap.device.name}"] = counted.get("scans", 0)
        if self._aligner is not None:
            totals["unaligned"] = self._aligner.dropped
        return totals

    def close(self) -> None:
        for cap in self._captures:
            if cap.intake is not None:
                cap.intake.stop()  # joined before the buffer goes off
                cap.final = cap.intake.counters()
                cap.intake = None
            if cap.buffer_on:  # also when start() failed after it: leave the device off
                cap.device.set_buffer(False)
                cap.buffer_on = False
            if cap.fd >= 0:
                os.close(cap.fd)
                cap.fd = -1


def _fill_element(dst: Any, ch: IioChannel) -> None:
    dst.byte_offset = ch.byte_offset
    dst.storagebytes = ch.storagebits // 8
    dst.realbits = ch.realbits
    dst.shift = ch.shift
    dst.is_signed = int(ch.signed)
    dst.big_endian = int(ch.big_endian)
    dst.scale = ch.scale
    dst.value_offset = ch.offset


class _IioDecoder:
    """Owns a C IIO decoder (and keeps its ring alive)."""

    def __init__(self, ptr: Any, ring: Ring) -> None:
        from ..native import ffi, lib

        self.ptr, self._ring, self._lib, self._ffi = ptr, ring, lib, ffi
        self._stats = ffi.new("fw_iio_stats_t *")

    def stats(self) -> dict[str, int]:
        self._lib.fw_iio_stats(self.ptr, self._stats)
        return {"scans": int(self._stats.scans)}

    def __del__(self) -> None:
        if self.ptr is not None and self.ptr != self._ffi.NULL:
            self._lib.fw_iio_decoder_free(self.ptr)
            self.ptr = None
