"""The scan layout of an IIO buffer, as sysfs describes it.

The rules follow the kernel's Documentation/ABI/testing/sysfs-bus-iio and iio_utils.c:
enabled elements are ordered by ``_index``; each is aligned to its own storage size;
values are ``(raw + offset) * scale``.
"""

from __future__ import annotations

__all__ = [
    "IioChannel",
    "parse_scan_type",
    "read_attribute",
    "read_scan_layout",
    "scan_elements",
]

import math
import re
from dataclasses import dataclass
from pathlib import Path

from ..bounded import read_at_most
from ..errors import DecodeError, SourceError

SYSFS_PAGE = 4096  # the most a sysfs attribute read returns
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


def read_attribute(path: Path) -> str:
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
            text = read_attribute(p)
            try:
                value = float(text)
            except ValueError:
                value = math.nan
            if not math.isfinite(value):  # "nan" or "inf" would scale every sample so
                raise DecodeError(f"{p}: expected a finite number, got {text!r}", code="attribute")
            return value
    return default


def scan_elements(device: Path) -> Path:
    """The device's ``scan_elements`` folder; only a buffered device has one."""
    scan_dir = device / "scan_elements"
    if not scan_dir.is_dir():
        raise SourceError(f"{scan_dir} does not exist: not a buffered IIO device", code="sysfs")
    return scan_dir


def read_scan_layout(device: Path) -> tuple[list[IioChannel], int]:
    """Enabled elements with their byte offsets, and the scan size in bytes."""
    scan_dir = scan_elements(device)
    channels: list[IioChannel] = []
    for en in sorted(scan_dir.glob("in_*_en")):
        if read_attribute(en) != "1":
            continue
        name = en.name[3:-3]
        index_text = read_attribute(scan_dir / f"in_{name}_index")
        type_path = scan_dir / f"in_{name}_type"
        be, signed, real, storage, shift = parse_scan_type(
            read_attribute(type_path), str(type_path)
        )
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
