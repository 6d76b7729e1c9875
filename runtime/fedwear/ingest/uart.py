"""UART sensor hub: pyserial opens and configures the tty; the C intake thread reads it."""

from __future__ import annotations

__all__ = ["UartSource"]

import contextlib
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from ..errors import SourceError
from .base import STREAM_CHANNELS, SourceKind, StreamSpec
from .hub_protocol import SENSOR_IDS, HubDecoder
from .intake import IntakeThread
from .threaded import ThreadedSource

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
        self._intake = IntakeThread(self._serial.fileno(), self._decoder, "hub")

    def close(self) -> None:
        self._stop_intake()
        if self._serial is not None:
            with contextlib.suppress(OSError):  # the device may already be gone
                self._serial.close()
            self._serial = None
