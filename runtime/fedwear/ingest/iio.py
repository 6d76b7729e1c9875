"""Linux IIO buffered capture: scan layout from sysfs, samples from /dev/iio:deviceN.

The layout rules follow the kernel's Documentation/ABI/testing/sysfs-bus-iio and
iio_utils.c: enabled elements are ordered by ``_index``; each is aligned to its own
storage size; values are ``(raw + offset) * scale``.
"""

from __future__ import annotations

__all__ = ["IioChannel", "IioSource", "parse_scan_type", "read_scan_layout"]

import logging
import math
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..bounded import read_at_most
from ..errors import DecodeError, SourceError
from .base import SourceKind, StreamSpec
from .intake import IntakeThread
from .threaded import ThreadedSource

if TYPE_CHECKING:
    from ..config import Config
    from ..ringbuf import Ring

SYSFS_PAGE = 4096  # the most a sysfs attribute read returns
# The clock the kernel stamps scans with (current_timestamp_clock; "realtime" by default).
# Boot time never jumps when the time is set, and counts suspended time.
STREAM_CLOCK = "boottime"

log = logging.getLogger("fedwear")
_TYPE = re.compile(r"^(be|le):([su])(\d+)/(\d+)(?:X(\d+))?>>(\d+)$")


@dataclass(frozen=True)
class IioChannel:
    """One enabled scan element."""

    name: str  # e.g. "accel_x", "timestamp"
    index: int
    big_endian: bool
    signed: bool
    realbits: int
    storagebits: int
    shift: int
    scale: float = 1.0
    offset: float = 0.0
    byte_offset: int = 0


def parse_scan_type(text: str, where: str = "") -> tuple[bool, bool, int, int, int]:
    """``le:s12/16>>4`` -> (big_endian, signed, realbits, storagebits, shift)."""
    m = _TYPE.match(text.strip())
    if not m:
        raise DecodeError(f"{where}: unknown IIO scan type {text.strip()!r}", code="scan-type")
    endian, sign, real, storage, repeat, shift = m.groups()
    real_i, storage_i, shift_i = int(real), int(storage), int(shift)
    if repeat not in (None, "1"):
        raise DecodeError(
            f"{where}: repeated scan elements ({text.strip()!r}) are not supported",
            code="scan-type",
        )
    if storage_i not in (8, 16, 32, 64) or not 1 <= real_i <= storage_i or shift_i >= storage_i:
        raise DecodeError(f"{where}: inconsistent IIO scan type {text.strip()!r}", code="scan-type")
    return endian == "be", sign == "s", real_i, storage_i, shift_i


def _read(path: Path) -> str:
    """A sysfs attribute: the kernel serves at most a page, so more is not one."""
    try:
        raw = read_at_most(path, SYSFS_PAGE)
    except OSError as exc:
        raise SourceError(f"cannot read {path}: {exc.strerror}", code="sysfs") from exc
    if len(raw) > SYSFS_PAGE:
        raise SourceError(
            f"cannot read {path}: more than the {SYSFS_PAGE} bytes of a sysfs attribute",
            code="sysfs",
        )
    try:
        return raw.decode("utf-8").strip()
    except UnicodeDecodeError as exc:
        raise SourceError(f"cannot read {path}: {exc}", code="sysfs") from None


def _attribute(device: Path, name: str, attr: str, default: float) -> float:
    """Per-channel attribute, else the shared one (in_accel_x_scale, then in_accel_scale)."""
    kind = name.rsplit("_", 1)[0] if "_" in name else name
    for candidate in (f"in_{name}_{attr}", f"in_{kind}_{attr}"):
        p = device / candidate
        if p.exists():
            text = _read(p)
            try:
                value = float(text)
            except ValueError:
                value = math.nan
            if not math.isfinite(value):  # "nan" or "inf" would scale every sample so
                raise DecodeError(f"{p}: expected a finite number, got {text!r}", code="attribute")
            return value
    return default


def read_scan_layout(device: Path) -> tuple[list[IioChannel], int]:
    """Enabled elements with their byte offsets, and the scan size in bytes."""
    scan_dir = device / "scan_elements"
    if not scan_dir.is_dir():
        raise SourceError(f"{scan_dir} does not exist: not a buffered IIO device", code="sysfs")
    channels: list[IioChannel] = []
    for en in sorted(scan_dir.glob("in_*_en")):
        if _read(en) != "1":
            continue
        name = en.name[3:-3]
        index_text = _read(scan_dir / f"in_{name}_index")
        type_path = scan_dir / f"in_{name}_type"
        be, signed, real, storage, shift = parse_scan_type(_read(type_path), str(type_path))
        try:
            index = int(index_text)
        except ValueError:
            raise DecodeError(
                f"{scan_dir / f'in_{name}_index'}: not an integer", code="attribute"
            ) from None
        scale = 1.0 if name == "timestamp" else _attribute(device, name, "scale", 1.0)
        offset = 0.0 if name == "timestamp" else _attribute(device, name, "offset", 0.0)
        channels.append(IioChannel(name, index, be, signed, real, storage, shift, scale, offset))
    if not channels:
        raise SourceError(f"{scan_dir}: no scan element is enabled", code="sysfs")
    channels.sort(key=lambda c: c.index)
    placed, pos, align = [], 0, 1
    for ch in channels:
        size = ch.storagebits // 8
        pos = (pos + size - 1) // size * size
        placed.append(IioChannel(**{**ch.__dict__, "byte_offset": pos}))
        pos += size
        align = max(align, size)
    return placed, (pos + align - 1) // align * align


class IioSource(ThreadedSource):
    """Buffered capture from one IIO device into one stream."""

    kind = SourceKind.IIO

    def __init__(
        self,
        device: str,
        sysfs_dir: str,
        dev_dir: str,
        stream: str,
        rate_hz: float,
        enable_buffer: bool = True,
    ) -> None:
        from ..native import lib

        self.device_path = Path(sysfs_dir) / device
        self.dev_node = Path(dev_dir) / device
        self.device_label = f"IIO device {self.dev_node}"
        self.enable_buffer = enable_buffer
        self.channels, self.scan_bytes = read_scan_layout(self.device_path)
        self.values = [c for c in self.channels if c.name != "timestamp"]
        stamps = [c for c in self.channels if c.name == "timestamp"]
        self.timestamp = stamps[0] if stamps else None
        if not self.values or len(self.values) > lib.FW_IIO_MAX_CHANNELS:
            raise SourceError(
                f"{self.device_path}: {len(self.values)} value channels enabled; "
                f"need 1..{lib.FW_IIO_MAX_CHANNELS}",
                code="sysfs",
            )
        self._stream = StreamSpec(stream, tuple(c.name for c in self.values), rate_hz)
        self._fd = -1

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
        )

    def streams(self) -> dict[str, StreamSpec]:
        return {self._stream.name: self._stream}

    def _layout(self) -> Any:
        from ..native import ffi

        layout = ffi.new("fw_iio_layout *")
        layout.scan_bytes = self.scan_bytes
        layout.n_channels = len(self.values)
        for dst, ch in zip(layout.channels, self.values, strict=False):
            _fill_element(dst, ch)
        if self.timestamp is not None:
            layout.has_timestamp = 1
            _fill_element(layout.timestamp, self.timestamp)
        layout.period_ns = round(1e9 / self._stream.rate_hz)
        return layout

    def _set_buffer(self, on: bool) -> None:
        enable = self.device_path / "buffer" / "enable"
        if self.enable_buffer and enable.exists():
            try:
                enable.write_text("1" if on else "0")
            except OSError as exc:
                if on:
                    raise SourceError(
                        f"cannot enable {enable}: {exc.strerror}", code="sysfs"
                    ) from exc

    def _set_clock(self) -> None:
        """Ask the kernel to stamp scans with boot time, not the wall clock: with the
        default ("realtime") a watch whose time is set by its phone sees an hour-long gap
        in its IMU, or time running back. Where that cannot be set, say so once."""
        attribute = self.device_path / "current_timestamp_clock"
        if self.timestamp is None or not attribute.exists():
            return
        clock = _read(attribute)
        if clock == STREAM_CLOCK:
            return
        reason = "source.iio.enable_buffer is false"
        if self.enable_buffer:  # fedwear sets the device up; the buffer is still off here
            try:
                attribute.write_text(STREAM_CLOCK)
                return
            except OSError as exc:
                reason = f"writing {STREAM_CLOCK!r} failed: {exc.strerror}"
        log.warning(
            "%s stamps its scans with the %s clock (%s): setting the time will show as a "
            "gap or as time running back",
            self.device_label,
            clock,
            reason,
        )

    def start(self, rings: Mapping[str, Ring]) -> None:  # type: ignore[override]
        from ..native import ffi, lib

        ring = rings[self._stream.name]
        self._decoder = _IioDecoder(lib.fw_iio_decoder_new(self._layout(), ring.ptr), ring)
        if self._decoder.ptr == ffi.NULL:
            raise DecodeError(
                f"{self.device_path}: scan layout rejected by the decoder", code="layout"
            )
        self._set_clock()
        self._set_buffer(True)
        try:
            self._fd = os.open(self.dev_node, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
        except OSError as exc:
            raise SourceError(
                f"cannot open {self.dev_node}: {exc.strerror}",
                code="open",
                errno_value=exc.errno or 0,
            ) from exc
        self._intake = IntakeThread(self._fd, self._decoder, "iio")

    def close(self) -> None:
        if self._stop_intake():
            self._set_buffer(False)
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1


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
