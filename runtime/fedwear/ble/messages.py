"""Event messages on the BLE link: msgpack maps, split into fragments of one ATT PDU each.

A notification or indication carries at most ATT_MTU - 3 bytes (20 at the default MTU
of 23, which some phones never raise), and an event is a few hundred. So each message is
sent as fragments: one header byte (bit 7 set on the last fragment, bits 0-6 the
fragment's index) and a slice of the message. Messages carry the sender's ``boot`` id
and a sequence number, so a receiver drops the copy that is sent again after a link
loss (delivery is at least once).
"""

from __future__ import annotations

__all__ = [
    "MAX_MESSAGE",
    "PROTOCOL",
    "Reassembler",
    "decode_message",
    "encode_event",
    "fragment",
]

import math
from typing import Any

import msgpack

from ..errors import DecodeError

PROTOCOL = 1
MAX_MESSAGE = 2048  # bytes of msgpack; 128 fragments of at least 20 bytes hold it
_MAX_FRAGMENTS = 128
_LAST = 0x80
# Members every event message has, and their types.
_REQUIRED: dict[str, type | tuple[type, ...]] = {
    "v": int,
    "boot": int,
    "seq": int,
    "type": str,
    "t": (int, float),
    "detector": str,
    "kind": str,
    "stream": str,
}


def encode_event(boot: int, seq: int, event: dict[str, Any]) -> bytes:
    """One event (``Event.to_dict()``) as a message; ``extra`` members are dropped if too long."""
    message = {"v": PROTOCOL, "boot": boot, "seq": seq, **event}
    packed: bytes = msgpack.packb(message, use_bin_type=True)
    if len(packed) > MAX_MESSAGE:
        core = {k: message[k] for k in (*_REQUIRED, "at", "channel", "value") if k in message}
        core["message"] = str(event.get("message", ""))[:200]
        packed = msgpack.packb(core, use_bin_type=True)
    return packed


def fragment(message: bytes, payload_size: int) -> list[bytes]:
    """Split ``message`` into fragments of at most ``payload_size`` bytes, header included."""
    if payload_size < 2:
        raise ValueError(f"payload size {payload_size} leaves no room for data")
    step = payload_size - 1
    count = max(1, math.ceil(len(message) / step))
    if count > _MAX_FRAGMENTS:
        raise ValueError(f"{len(message)} bytes need {count} fragments (at most {_MAX_FRAGMENTS})")
    return [
        bytes([i | (_LAST if i == count - 1 else 0)]) + message[i * step : (i + 1) * step]
        for i in range(count)
    ]


class Reassembler:
    """Joins fragments back into messages; a bad fragment raises and drops the partial one."""

    def __init__(self, max_message: int = MAX_MESSAGE) -> None:
        self.max_message = max_message
        self._parts: list[bytes] = []
        self._size = 0

    def feed(self, data: bytes) -> bytes | None:
        """The whole message when ``data`` is its last fragment, else None."""
        if not data:
            raise DecodeError("empty fragment", code="fragment")
        index, last = data[0] & ~_LAST, bool(data[0] & _LAST)
        if index == 0:
            self._parts, self._size = [], 0  # a new message (the sender may have restarted one)
        elif index != len(self._parts):
            expected = len(self._parts)
            self._parts, self._size = [], 0
            raise DecodeError(
                f"fragment {index} out of order (expected {expected})", code="fragment"
            )
        self._size += len(data) - 1
        if self._size > self.max_message:
            self._parts, self._size = [], 0
            raise DecodeError(f"message longer than {self.max_message} bytes", code="oversized")
        self._parts.append(data[1:])
        if not last:
            return None
        message = b"".join(self._parts)
        self._parts, self._size = [], 0
        return message


def decode_message(data: bytes) -> dict[str, Any]:
    """A checked event message; DecodeError says what is wrong with it."""
    if len(data) > MAX_MESSAGE:
        raise DecodeError(f"message of {len(data)} bytes (at most {MAX_MESSAGE})", code="oversized")
    try:
        # unpackb bounds every string, array and map by len(data): no allocation bombs.
        message = msgpack.unpackb(data, raw=False, strict_map_key=True)
    except msgpack.ExtraData:
        raise DecodeError("trailing bytes after the message", code="malformed") from None
    except (ValueError, msgpack.UnpackException) as exc:
        detail = str(exc) or type(exc).__name__
        raise DecodeError(f"not a msgpack message: {detail}", code="malformed") from None
    if not isinstance(message, dict):
        raise DecodeError(f"message is a {type(message).__name__}, not a map", code="malformed")
    for key, kind in _REQUIRED.items():
        value = message.get(key)
        if value is None:
            raise DecodeError(f"message has no {key!r}", code="malformed")
        if not isinstance(value, kind) or isinstance(value, bool):
            raise DecodeError(
                f"{key!r} has the wrong type ({type(value).__name__})", code="malformed"
            )
    if message["v"] != PROTOCOL:
        raise DecodeError(
            f"protocol version {message['v']} (this side speaks {PROTOCOL})", code="version"
        )
    if message["type"] != "event":
        raise DecodeError(f"unknown message type {message['type']!r}", code="malformed")
    if message["seq"] < 0:
        raise DecodeError(f"negative sequence number {message['seq']}", code="malformed")
    at = message.get("at")  # optional: wearables before it was added do not send it
    if at is not None and (
        not isinstance(at, (int, float)) or isinstance(at, bool) or not math.isfinite(at)
    ):
        raise DecodeError(f"'at' is not a finite number ({at!r:.40})", code="malformed")
    return message
