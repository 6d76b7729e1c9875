"""UART sensor hub: pyserial opens and configures the tty; the C intake thread reads it."""

from __future__ import annotations

__all__ = ["UartSource"]

import contextlib
import logging
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from ..errors import SourceError
from .base import STREAM_CHANNELS, SourceKind, SourceStatus, StreamSpec
from .hub_protocol import SENSOR_IDS, HubDecoder
from .intake import IntakeThread
from .threaded import ThreadedSource

log = logging.getLogger("fedwear")

if TYPE_CHECKING:
    import serial

    from ..config import Config
    from ..ringbuf import Ring


class UartSource(ThreadedSource):
    """Reads the hub protocol (docs/hub-protocol.md) from a serial port."""

    kind = SourceKind.UART
    eof_is_loss = True

    def __init__(self, port: str, baudrate: int, rates: Mapping[str, float]) -> None:
        self.port, self.baudrate = port, baudrate
        self.device_label = f"serial port {port}"
        self._streams = {
            name: StreamSpec(name, STREAM_CHANNELS[name], rate) for name, rate in rates.items()
        }
        self._serial: serial.Serial | None = None
        self._decoder: HubDecoder | None = None
        self._off_rate_told: set[str] = set()

    @classmethod
    def from_config(cls, config: Config, **overrides: Any) -> UartSource:
        uart = config.source.uart
        return cls(overrides.get("port") or uart.port, uart.baudrate, config.stream_rates())

    def streams(self) -> dict[str, StreamSpec]:
        return dict(self._streams)

    def start(self, rings: Mapping[str, Ring]) -> None:  # type: ignore[override]
        import serial

        try:
            self._serial = serial.Serial(self.port, self.baudrate, timeout=0)
        except (serial.SerialException, ValueError) as exc:
            raise SourceError(f"cannot open serial port {self.port}: {exc}", code="open") from exc
        self._decoder = HubDecoder({SENSOR_IDS[name]: ring for name, ring in rings.items()})
        for name in rings:
            self._decoder.expect_period(SENSOR_IDS[name], self._period_ns(name))
        self._intake = IntakeThread(self._serial.fileno(), self._decoder, "hub")

    def _period_ns(self, stream: str) -> int:
        return round(1e9 / self._streams[stream].rate_hz)

    def pump(self, budget_s: float) -> SourceStatus:
        status = super().pump(budget_s)
        self._tell_off_rate()
        return status

    def _tell_off_rate(self) -> None:
        """Once per stream: the hub samples it at another rate than the stream's (the
        models' rate). The decoder resamples its frames onto the stream's grid, or drops
        them when they are more than 16 times off; either way the hub should be set to
        the stream's rate, and the journal says how."""
        from ..native import lib

        for name in self._streams.keys() - self._off_rate_told:
            period = self._decoder.off_period(SENSOR_IDS[name]) if self._decoder else 0
            if not period:
                continue
            self._off_rate_told.add(name)
            wanted = self._period_ns(name)
            dropped = lib.fw_hub_too_far_off_rate(period, wanted)
            log.log(
                logging.ERROR if dropped else logging.WARNING,
                "%s: the hub sends %s samples every %d ns (%.4g Hz), but the %s stream is "
                "%g Hz: %s; set the hub to %d ns",
                self.device_label,
                name,
                period,
                1e9 / period,
                name,
                self._streams[name].rate_hz,
                f"more than {lib.FW_HUB_MAX_RATE_FACTOR} times off, its frames are dropped "
                "(bad_frames)"
                if dropped
                else "they are resampled to the stream's rate on the host",
                wanted,
            )

    def close(self) -> None:
        self._stop_intake()
        if self._serial is not None:
            with contextlib.suppress(OSError):  # the device may already be gone
                self._serial.close()
            self._serial = None
