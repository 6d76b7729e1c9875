"""One IIO device: found by its name or its node, set up for buffered capture.

Setting up is what a user would otherwise do by hand with ``echo`` before every start, in
the order the kernel accepts it (everything below is refused while the buffer runs): turn
off a buffer that a killed run left on, enable the scan elements the stream reads and the
timestamp, give the kernel's buffer room for a second of scans (HID sensor hubs default
to 2), and ask for boot-time stamps. Then the buffer is enabled, by ``IioSource.start``.
"""

from __future__ import annotations

__all__ = ["BUFFER_SECONDS", "STREAM_CLOCK", "IioDevice", "resolve_device"]

import logging
import math
from pathlib import Path

from ..errors import SourceError
from .iio_layout import IioChannel, read_attribute, read_scan_layout, scan_elements

# The clock the kernel stamps scans with (current_timestamp_clock; "realtime" by default).
# Boot time never jumps when the time is set, and counts suspended time.
STREAM_CLOCK = "boottime"
# The kernel's buffer holds this much between reads of the intake thread.
BUFFER_SECONDS = 1.0

log = logging.getLogger("fedwear")


def resolve_device(sysfs_dir: Path, device: str) -> str:
    """``iio:device3`` as given; any other word is a device's ``name`` attribute (the
    numbers follow probe order and can change between boots; the names do not)."""
    if device.startswith("iio:device") or not sysfs_dir.is_dir():
        return device
    matches = []
    for candidate in sorted(sysfs_dir.glob("iio:device*")):
        try:
            if read_attribute(candidate / "name") == device:
                matches.append(candidate.name)
        except SourceError:
            continue
    if len(matches) == 1:
        return matches[0]
    if matches:
        raise SourceError(
            f"{len(matches)} IIO devices are named {device!r} ({', '.join(matches)}): "
            "name one by its node (iio:deviceN)",
            code="open",
        )
    raise SourceError(f"no IIO device named {device!r} in {sysfs_dir}", code="open")


class IioDevice:
    """The sysfs side of one device; the bytes are read by the intake thread."""

    def __init__(self, sysfs_dir: str, dev_dir: str, device: str) -> None:
        self.name = device  # as configured: a node or a name
        node = resolve_device(Path(sysfs_dir), device)
        self.path = Path(sysfs_dir) / node
        self.node = Path(dev_dir) / node
        self.label = f"IIO device {self.node}" + (f" ({device})" if device != node else "")
        self.scan_dir = scan_elements(self.path)
        self.elements = sorted(p.name[3:-3] for p in self.scan_dir.glob("in_*_en"))

    def set_up(self, wanted: list[str], rate_hz: float) -> None:
        """Make the device deliver ``wanted`` (and its timestamp) at ``rate_hz``."""
        enable = self.path / "buffer" / "enable"
        if enable.exists() and read_attribute(enable) == "1":
            log.info(
                "%s: its buffer was left on (a run that was killed?); restarting it", self.label
            )
            self._write(enable, "0")
        for name in [*wanted, "timestamp"]:
            if name in self.elements:
                self._write(self.scan_dir / f"in_{name}_en", "1")
        length = self.path / "buffer" / "length"
        if length.exists():
            want = max(2, math.ceil(rate_hz * BUFFER_SECONDS))
            try:
                if int(read_attribute(length)) < want:
                    self._write(length, str(want))
            except ValueError:
                pass  # not a number: the kernel keeps its own
        self._set_clock(owned=True, stamped="timestamp" in self.elements)

    def check_enabled(self, wanted: list[str]) -> None:
        """Someone else sets the device up (``enable_buffer = false``): say what is off."""
        off = [n for n in wanted if read_attribute(self.scan_dir / f"in_{n}_en") != "1"]
        if off:
            raise SourceError(
                f"{self.label}: scan element {', '.join(off)} is not enabled, and with "
                "source.iio.enable_buffer = false fedwear does not enable it "
                f"(echo 1 > {self.scan_dir}/in_{off[0]}_en)",
                code="sysfs",
            )
        stamped = (
            "timestamp" in self.elements
            and read_attribute(self.scan_dir / "in_timestamp_en") == "1"
        )
        self._set_clock(owned=False, stamped=stamped)

    def layout(self) -> tuple[list[IioChannel], int]:
        return read_scan_layout(self.path)

    def set_buffer(self, on: bool) -> None:
        enable = self.path / "buffer" / "enable"
        if not enable.exists():
            return
        try:
            enable.write_text("1" if on else "0")
        except OSError as exc:
            if on:
                raise SourceError(f"cannot enable {enable}: {exc.strerror}", code="sysfs") from exc

    def _write(self, path: Path, value: str) -> None:
        try:
            path.write_text(value)
        except OSError as exc:
            raise SourceError(
                f"cannot write {value!r} to {path}: {exc.strerror}", code="sysfs"
            ) from exc

    def _set_clock(self, owned: bool, stamped: bool) -> None:
        """Ask the kernel to stamp scans with boot time, not the wall clock: with the
        default ("realtime") a watch whose time is set by its phone sees an hour-long gap
        in its IMU, or time running back. Where that cannot be set, say so once."""
        attribute = self.path / "current_timestamp_clock"
        if not stamped or not attribute.exists():
            return
        clock = read_attribute(attribute)
        if clock == STREAM_CLOCK:
            return
        reason = "source.iio.enable_buffer is false"
        if owned:
            try:
                attribute.write_text(STREAM_CLOCK)
                return
            except OSError as exc:
                reason = f"writing {STREAM_CLOCK!r} failed: {exc.strerror}"
        log.warning(
            "%s stamps its scans with the %s clock (%s): setting the time will show as a "
            "gap or as time running back",
            self.label,
            clock,
            reason,
        )
