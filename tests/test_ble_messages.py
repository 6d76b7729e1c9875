"""Event messages on the BLE link: fragments and msgpack, and what a receiver refuses."""

from __future__ import annotations

import msgpack
import pytest
from conftest import examples
from hypothesis import given, settings
from hypothesis import strategies as st

from fedwear.ble.messages import (
    MAX_MESSAGE,
    Reassembler,
    decode_message,
    encode_event,
    fragment,
)
from fedwear.ble.receiver import Receiver
from fedwear.detect.base import Event
from fedwear.errors import DecodeError

FALL = Event(
    2_020_000_000, "fall", "fall", "imu", "fall detected", value=0.99, extra={"n": 3},
    at=1_796_000_000.125,
)  # fmt: skip


def test_an_event_survives_encoding_fragmenting_and_decoding() -> None:
    packed = encode_event(7, 42, FALL.to_dict())
    parts = fragment(packed, 20)  # the default ATT MTU of 23 leaves 20 bytes
    assert len(parts) > 1 and all(len(p) <= 20 for p in parts)
    r = Reassembler()
    assert [r.feed(p) for p in parts[:-1]] == [None] * (len(parts) - 1)
    whole = r.feed(parts[-1])
    assert whole is not None
    assert decode_message(whole) == {"v": 1, "boot": 7, "seq": 42, **FALL.to_dict()}


@settings(max_examples=examples(200), deadline=None)
@given(st.binary(max_size=MAX_MESSAGE), st.integers(min_value=17, max_value=512))
def test_fragments_join_back_into_the_message(message: bytes, size: int) -> None:
    parts = fragment(message, size)
    assert all(len(p) <= size for p in parts)
    r = Reassembler()
    results = [r.feed(p) for p in parts]
    assert results[-1] == message and results[:-1] == [None] * (len(parts) - 1)


@settings(max_examples=examples(300), deadline=None)
@given(st.binary(max_size=300))
def test_arbitrary_bytes_are_refused_with_a_decode_error(data: bytes) -> None:
    try:
        message = decode_message(data)
    except DecodeError:
        return
    assert message["type"] == "event"  # only a well-formed event gets through


def test_a_receiver_can_resync_after_a_lost_fragment() -> None:
    first = fragment(encode_event(1, 1, FALL.to_dict()), 20)
    second = fragment(encode_event(1, 2, FALL.to_dict()), 20)
    r = Reassembler()
    r.feed(first[0])
    with pytest.raises(DecodeError, match="fragment 2 out of order \\(expected 1\\)"):
        r.feed(first[2])
    out = [r.feed(p) for p in second]  # the next message starts clean
    assert out[-1] is not None and decode_message(out[-1])["seq"] == 2


def test_a_restarted_message_replaces_the_partial_one() -> None:
    parts = fragment(encode_event(1, 5, FALL.to_dict()), 20)
    r = Reassembler()
    r.feed(parts[0])
    r.feed(parts[1])
    out = [r.feed(p) for p in parts]  # the sender started the message over
    assert out[-1] is not None and decode_message(out[-1])["seq"] == 5


@pytest.mark.parametrize(
    ("fragments", "error"),
    [
        ([b""], "empty fragment"),
        ([bytes([i]) + b"x" * 100 for i in range(30)], "longer than 2048 bytes"),
        ([bytes([0x03]) + b"x"], "fragment 3 out of order"),
    ],
)
def test_hostile_fragments(fragments: list[bytes], error: str) -> None:
    r = Reassembler()
    with pytest.raises(DecodeError, match=error):
        for f in fragments:
            r.feed(f)


def _packed(**changes: object) -> bytes:
    message = {"v": 1, "boot": 1, "seq": 1, **FALL.to_dict(), **changes}
    return msgpack.packb({k: v for k, v in message.items() if v is not None})


@pytest.mark.parametrize(
    ("data", "error"),
    [
        (b"", "not a msgpack message"),
        (b"\xc1", "not a msgpack message: FormatError"),
        (b"\x93\x01\x02", "not a msgpack message"),  # truncated array
        (msgpack.packb([1, 2]), "is a list, not a map"),
        (msgpack.packb({1: 2}), "not allowed for map key"),
        (_packed() + b"\x00", "trailing bytes"),
        (_packed(seq=None), "no 'seq'"),
        (_packed(seq="1"), "'seq' has the wrong type \\(str\\)"),
        (_packed(v=True), "'v' has the wrong type \\(bool\\)"),
        (_packed(v=2), "protocol version 2"),
        (_packed(type="delta"), "unknown message type 'delta'"),
        (_packed(seq=-1), "negative sequence number"),
        (_packed(at="noon"), "'at' is not a finite number \\('noon'\\)"),
        (_packed(at=float("nan")), "'at' is not a finite number"),
        (b"\xdf\xff\xff\xff\xff", "not a msgpack message"),  # a map of 4 G entries
        (b"\xa1" * (MAX_MESSAGE + 1), "at most 2048"),
    ],
)
def test_malformed_messages_are_refused_precisely(data: bytes, error: str) -> None:
    with pytest.raises(DecodeError, match=error):
        decode_message(data)


def test_a_message_without_a_wall_clock_time_is_still_an_event() -> None:
    """'at' came after protocol version 1: a wearable of before it sends none."""
    assert "at" not in decode_message(_packed(at=None))


def test_an_event_too_long_for_a_message_loses_its_extras_not_its_identity() -> None:
    big = Event(1, "normal", "not_my_normal", "ppg", "odd", extra={"blob": "x" * 5000}, at=5.0)
    packed = encode_event(1, 9, big.to_dict())
    assert len(packed) <= MAX_MESSAGE
    message = decode_message(packed)
    assert (message["seq"], message["kind"], message["message"]) == (9, "not_my_normal", "odd")
    assert message["at"] == 5.0  # when it happened is part of its identity too
    assert "blob" not in message


def test_the_receiver_drops_repeats_and_survives_bad_messages() -> None:
    got: list[dict] = []
    receiver = Receiver(got.append)
    first = fragment(encode_event(7, 1, FALL.to_dict()), 20)
    for part in first + first:  # sent again after a link loss
        receiver.feed(part)
    receiver.feed(bytes([0x80]) + b"\xc1")  # one whole fragment of garbage
    receiver.feed(b"")  # an empty indication
    for part in fragment(encode_event(7, 2, FALL.to_dict()), 20):
        receiver.feed(part)
    assert [m["seq"] for m in got] == [1, 2]
    assert receiver.counts == {"messages": 2, "duplicates": 1, "rejected": 2}
