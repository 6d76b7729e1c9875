"""The fedwear sensor-hub UART protocol, version 1 (specified in docs/hub-protocol.md).

Encoding lives here in Python (the hub emulator and tests use it); decoding is done in C
(native/fw_hub.c) so that the intake thread never needs the interpreter.
"""

from __future__ import annotations

__all__ = [
    "MAX_SAMPLES_PER_FRAME",
    "SENSOR_IDS",
    "HubDecoder",
    "crc16",
    "encode_frame",
    "frame_samples",
]

import binascii
import struct
import time
from collections.abc import Mapping

import numpy as np

from ..errors import DecodeError
from ..ringbuf import Ring

VERSION = 1
SYNC = b"\xa5\x5a"
HEADER = struct.Struct("<2sBBHH")  # sync, version, sensor id, sequence, payload length
PAYLOAD_FIXED = struct.Struct("<qIBB")  # t0 ns, period ns, channels, count
MAX_PAYLOAD = 1024
MAX_CHANNELS = 16
MAX_SAMPLES_PER_FRAME = 255
SENSOR_IDS: dict[str, int] = {"imu": 1, "ppg": 2, "hr": 3, "ecg": 4}


def crc16(data: bytes) -> int:
    """CRC-16/CCITT-FALSE (poly 0x1021, init 0xFFFF), as the hub sends it."""
    return binascii.crc_hqx(data, 0xFFFF)


def frame_samples(channels: int) -> int:
    """Most samples one frame can carry for ``channels`` channels."""
    room = (MAX_PAYLOAD - PAYLOAD_FIXED.size - 4 * channels) // (2 * channels)
    return min(MAX_SAMPLES_PER_FRAME, room)


def encode_frame(
    sensor_id: int, seq: int, t0_ns: int, period_ns: int, scales: np.ndarray, raw: np.ndarray
) -> bytes:
    """One frame: ``raw`` is int16 (count, channels); value = raw * scale per channel."""
    raw = np.asarray(raw)
    if raw.dtype != np.int16 or raw.ndim != 2:
        raise DecodeError("raw samples must be an int16 array of shape (count, channels)")
    count, channels = raw.shape
    if not 1 <= channels <= MAX_CHANNELS or not 1 <= count <= frame_samples(channels):
        raise DecodeError(f"{count} samples x {channels} channels do not fit one frame")
    payload = (
        PAYLOAD_FIXED.pack(t0_ns, period_ns, channels, count)
        + np.asarray(scales, dtype="<f4").tobytes()
        + raw.astype("<i2", copy=False).tobytes()
    )
    body = HEADER.pack(SYNC, VERSION, sensor_id, seq & 0xFFFF, len(payload))[2:] + payload
    return SYNC + body + struct.pack("<H", crc16(body))


class HubDecoder:
    """The C decoder, routing each sensor id to its ring. Feed it from one thread."""

    def __init__(self, rings: Mapping[int, Ring]) -> None:
        from ..native import ffi, lib

        self._ffi, self._lib = ffi, lib
        self._rings = dict(rings)  # keep the rings alive as long as the decoder
        n = max(self._rings, default=0) + 1
        if n > lib.FW_HUB_MAX_SENSORS:
            raise DecodeError(f"sensor ids must be below {lib.FW_HUB_MAX_SENSORS}")
        table = ffi.new("fw_ring *[]", n)
        for sensor_id, ring in self._rings.items():
            table[sensor_id] = ring.ptr
        self.ptr = lib.fw_hub_decoder_new(table, n)
        if self.ptr == ffi.NULL:
            raise DecodeError("a ring has more channels than the hub protocol carries")
        self._stats = ffi.new("fw_hub_stats_t *")
        self._counter_names = [name for name, _ in ffi.typeof("fw_hub_stats_t").fields]

    def expect_period(self, sensor_id: int, period_ns: int) -> None:
        """Before the first feed: resample ``sensor_id``'s frames at another period
        onto this one's grid, count them (``off_rate_frames``), and keep the last such
        period (``off_period``). Frames more than 16 times off are bad frames."""
        self._lib.fw_hub_decoder_expect_period(self.ptr, sensor_id, period_ns)

    def off_period(self, sensor_id: int) -> int:
        """The period (ns) of ``sensor_id``'s last frame at another period; 0 if none."""
        return int(self._lib.fw_hub_off_period(self.ptr, sensor_id))

    def feed(self, data: bytes) -> None:
        """Decode ``data``, read now (on the host's boot clock, as the intake thread reads)."""
        now = time.clock_gettime_ns(time.CLOCK_BOOTTIME)
        self._lib.fw_hub_decoder_feed(self.ptr, data, len(data), now)

    def finish(self) -> None:
        """End of stream: a truncated frame left in the buffer is counted as garbage."""
        self._lib.fw_hub_decoder_finish(self.ptr)

    def stats(self) -> dict[str, int]:
        self._lib.fw_hub_stats(self.ptr, self._stats)
        return {name: int(getattr(self._stats, name)) for name in self._counter_names}

    def close(self) -> None:
        if self.ptr is not None:
            self._lib.fw_hub_decoder_free(self.ptr)
            self.ptr = None

    def __del__(self) -> None:
        self.close()
