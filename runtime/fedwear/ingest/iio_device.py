"""One IIO device: found by its name or its node, set up for buffered capture.

Setting up is what a user would otherwise do by hand with ``echo`` before every start, in
the order the kernel accepts it (everything below is refused while the buffer runs): turn
off a buffer that a killed run left on, enable the scan elements the stream reads and the
timestamp, ask for the stream's rate (``iio_rate``), give the kernel's buffer room for a
second of scans at the rate the device took (HID sensor hubs default to 2), and ask for
boot-time stamps. Then the buffer is enabled, by ``IioSource.start``.
"""

from __future__ import annotations

__all__ = ["BUFFER_SECONDS", "STREAM_CLOCK", "IioDevice", "resolve_device"]

import logging
import math
from pathlib import Path

from ..errors import SourceError
from .iio_layout import IioChannel, read_attribute, read_scan_layout, scan_elements
from .iio_rate import rate_attributes, rate_to_ask, read_rate, same_rate

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

    def set_up(self, wanted: list[str], rate_hz: float, shown_else: float = 0.0) -> float | None:
        """Make the device deliver ``wanted`` (and its timestamp) at ``rate_hz``, or as
        near as it goes; the rate it took (``rate``), or ``shown_else`` where it shows
        none (``source.iio.device_rate_hz``; 0: unknown)."""
        enable = self.path / "buffer" / "enable"
        if enable.exists() and read_attribute(enable) == "1":
            log.info(
                "%s: its buffer was left on (a run that was killed?); restarting it", self.label
            )
            self._write(enable, "0")
        for name in [*wanted, "timestamp"]:
            if name in self.elements:
                self._write(self.scan_dir / f"in_{name}_en", "1")
        device_rate = self.set_rate(wanted, rate_hz) or shown_else or None
        length = self.path / "buffer" / "length"
        if length.exists():
            want = max(2, math.ceil(max(rate_hz, device_rate or 0.0) * BUFFER_SECONDS))
            try:
                if int(read_attribute(length)) < want:
                    self._write(length, str(want))
            except ValueError:
                pass  # not a number: the kernel keeps its own
        self._set_clock(owned=True, stamped="timestamp" in self.elements)
        return device_rate

    def check_enabled(self, wanted: list[str], shown_else: float = 0.0) -> float | None:
        """Someone else sets the device up (``enable_buffer = false``): say what is off;
        the rate they set (``rate``), or ``shown_else`` as for ``set_up``."""
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
        return self.rate(wanted) or shown_else or None

    def set_rate(self, elements: list[str], rate_hz: float) -> float | None:
        """Ask for ``rate_hz`` (or the nearest rate above it the device lists); the rate
        it runs at, as ``rate`` reads it. A refused write is not fatal: the stream is
        then resampled from the rate the device keeps."""
        attributes = rate_attributes(self.path, elements)
        for attribute in attributes:
            value = rate_to_ask(attribute, rate_hz)
            try:
                attribute.write_text(value)
            except OSError as exc:
                log.warning(
                    "%s: cannot write %s Hz to %s (%s); it keeps its own rate",
                    self.label,
                    value,
                    attribute,
                    exc.strerror,
                )
        return self._rate_shown(attributes)

    def rate(self, elements: list[str]) -> float | None:
        """The rate the device samples ``elements`` at, or None where it does not say."""
        return self._rate_shown(rate_attributes(self.path, elements))

    def _rate_shown(self, attributes: list[Path]) -> float | None:
        rates = [(a, read_rate(a)) for a in attributes]
        known = [(a, r) for a, r in rates if r is not None]
        if not known:
            return None
        first = known[0][1]
        if any(not same_rate(r, first) for _, r in known):
            log.warning(
                "%s: its channels run at different rates (%s); its scans are taken to "
                "come at %g Hz",
                self.label,
                ", ".join(f"{a.name} {r:g} Hz" for a, r in known),
                first,
            )
        return first

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
