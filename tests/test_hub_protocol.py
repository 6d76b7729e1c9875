"""The hub protocol: Python encoder and C decoder, and the decoder's behaviour on noise."""

from __future__ import annotations

import struct
import time

import numpy as np
import pytest
from conftest import examples
from hypothesis import given, settings
from hypothesis import strategies as st

from fedwear.errors import DecodeError
from fedwear.ingest.hub_protocol import SENSOR_IDS, HubDecoder, crc16, encode_frame
from fedwear.native import lib
from fedwear.ringbuf import Ring

IMU = SENSOR_IDS["imu"]
HR = SENSOR_IDS["hr"]
SCALES = np.array([0.01, 0.01, 0.01, 0.001, 0.001, 0.001], dtype=np.float32)


def imu_frame(seq: int, first: int = 0, count: int = 10) -> bytes:
    raw = (np.arange(count * 6, dtype=np.int16).reshape(count, 6) + first).astype(np.int16)
    return encode_frame(IMU, seq, 1_000_000 * first, 1_000_000, SCALES, raw)


def decoder() -> tuple[HubDecoder, Ring, Ring]:
    imu, hr = Ring(1024, 6), Ring(64, 1)
    return HubDecoder({IMU: imu, HR: hr}), imu, hr


def test_c_crc_matches_the_specification() -> None:
    # CRC-16/CCITT-FALSE check value for "123456789" is 0x29B1.
    assert crc16(b"123456789") == 0x29B1
    assert lib.fw_crc16(b"123456789", 9) == 0x29B1


def test_round_trip_values_and_timestamps() -> None:
    dec, imu, _ = decoder()
    dec.feed(imu_frame(0, first=5))
    got = imu.read(100)
    assert len(got) == 10
    assert list(got["t"]) == [5_000_000 + 1_000_000 * i for i in range(10)]
    expected = (np.arange(60).reshape(10, 6) + 5) * SCALES
    np.testing.assert_allclose(got["v"], expected, rtol=1e-6)
    assert dec.stats()["frames"] == 1


def test_byte_by_byte_feeding_is_the_same_as_one_chunk() -> None:
    dec, imu, _ = decoder()
    for b in imu_frame(0) + imu_frame(1):
        dec.feed(bytes([b]))
    assert len(imu) == 20


def test_wrong_crc_is_counted_and_the_next_frame_still_decodes() -> None:
    dec, imu, _ = decoder()
    bad = bytearray(imu_frame(0))
    bad[20] ^= 0xFF
    dec.feed(bytes(bad) + imu_frame(1))
    s = dec.stats()
    assert s["crc_errors"] == 1 and s["frames"] == 1
    assert len(imu) == 10


def test_garbage_truncation_and_bad_headers_are_skipped() -> None:
    dec, imu, _ = decoder()
    frame = imu_frame(0)
    bad_version = frame[:2] + b"\x07" + frame[3:]
    oversized = frame[:6] + struct.pack("<H", 5000) + frame[8:]
    dec.feed(b"\x00\xff\xa5garbage" + bad_version + oversized + frame[:30] + imu_frame(1))
    dec.finish()
    s = dec.stats()
    assert s["frames"] == 1
    assert s["bad_frames"] >= 2
    assert s["garbage_bytes"] > 0
    assert len(imu) == 10


def test_valid_crc_with_inconsistent_payload_is_a_bad_frame() -> None:
    dec, imu, _ = decoder()
    frame = bytearray(imu_frame(0))
    frame[8 + 12] = 5  # claims 5 channels; the length says 6
    body = bytes(frame[2:-2])
    frame[-2:] = struct.pack("<H", crc16(body))
    dec.feed(bytes(frame))
    assert dec.stats()["bad_frames"] == 1 and len(imu) == 0


def frames(*seqs: int, start: int = 0) -> bytes:
    """IMU frames with these sequence numbers, each 10 ms after the last, from ``start`` ms."""
    raw = np.arange(60, dtype=np.int16).reshape(10, 6)
    return b"".join(
        encode_frame(IMU, seq, 1_000_000 * (start + 10 * i), 1_000_000, SCALES, raw + i)
        for i, seq in enumerate(seqs)
    )


def test_sequence_gaps_count_lost_samples_and_repeats_are_dropped() -> None:
    dec, imu, _ = decoder()
    dec.feed(imu_frame(0) + imu_frame(1, 10) + imu_frame(4, 40) + imu_frame(4, 40))
    dec.feed(imu_frame(3, 30))
    s = dec.stats()
    assert s["seq_gaps"] == 1 and s["lost_frames"] == 2 and s["lost_samples"] == 20
    assert s["out_of_order"] == 2 and s["restarts"] == 0
    assert len(imu) == 30


@pytest.mark.parametrize("old_start", [0, 40_000])
def test_a_hub_that_restarts_is_followed_not_dropped(old_start: int) -> None:
    """A restarted hub counts from 0 again, on a clock from 0 again. Its frames used to
    be dropped until the count caught up (old_start 0: behind the old count), or kept
    with the old count's distance as lost frames (40000: ahead of it, modulo 2^16)."""
    dec, imu, _ = decoder()
    old = [(old_start + k) % 65536 for k in range(50)]
    dec.feed(frames(*old, start=100_000))  # the hub has run for 100 s
    before = imu.read(1000)
    time.sleep(0.3)  # rebooting
    dec.feed(frames(*range(40)))
    after = imu.read(1000)
    s = dec.stats()
    assert s["restarts"] == 1 and s["lost_frames"] == 0
    assert s["out_of_order"] == 2  # the new count's first two frames: not yet a restart
    assert len(after) == 380 and np.all(np.diff(after["t"]) == 1_000_000)
    # Time goes on from the last sample, by the wall-clock time the reboot took.
    gap = int(after["t"][0] - before["t"][-1])
    assert 300_000_000 <= gap < 60_000_000_000
    np.testing.assert_allclose(after["v"], before["v"][20:400])  # frames 2 to 39


def test_a_clock_set_back_is_mended_and_a_clock_set_forward_is_kept() -> None:
    """The hub's clock is set back (its count goes on): time would run back in the
    windows. Set forward it is kept: that cannot be told from a hub sending a backlog
    faster than real time."""
    dec, imu, _ = decoder()
    dec.feed(frames(0, 1, 2, start=50_000) + frames(3, 4, start=10_000))
    dec.feed(frames(5, 6, start=90_000))
    got = imu.read(1000)
    s = dec.stats()
    assert s["clock_steps"] == 1 and s["restarts"] == 0 and s["out_of_order"] == 0
    assert len(got) == 70 and np.all(np.diff(got["t"]) > 0)
    t = got["t"][::10] // 1_000_000  # each frame's first sample, in ms
    assert list(t[:3]) == [50_000, 50_010, 50_020]
    assert t[4] - t[3] == 10 and t[5] - t[4] == 90_000 - 10_010  # the step forward kept


def test_a_burst_of_repeats_is_not_a_restart() -> None:
    dec, imu, _ = decoder()
    dec.feed(frames(0, 1, 2, 3, 4, 5) + frames(2, 2, 4, 3, start=20) + frames(6, start=60))
    s = dec.stats()
    assert s["restarts"] == 0 and s["out_of_order"] == 4 and s["seq_gaps"] == 0
    assert len(imu) == 70


def test_sequence_numbers_wrap_without_a_gap() -> None:
    dec, _, _ = decoder()
    dec.feed(imu_frame(0xFFFF) + imu_frame(0))
    assert dec.stats()["seq_gaps"] == 0


def test_unknown_sensor_and_channel_mismatch() -> None:
    dec, _, hr = decoder()
    raw = np.ones((3, 1), dtype=np.int16)
    dec.feed(encode_frame(9, 0, 0, 1_000_000_000, np.ones(1, np.float32), raw))
    dec.feed(
        encode_frame(HR, 0, 0, 1_000_000_000, np.ones(6, np.float32), np.ones((3, 6), np.int16))
    )  # HR ring has one channel
    s = dec.stats()
    assert s["unknown_sensor"] == 1 and s["bad_frames"] == 1
    assert len(hr) == 0


def test_non_finite_scale_is_rejected() -> None:
    dec, imu, _ = decoder()
    scales = SCALES.copy()
    scales[0] = np.nan
    dec.feed(encode_frame(IMU, 0, 0, 1_000_000, scales, np.ones((2, 6), np.int16)))
    assert dec.stats()["bad_frames"] == 1 and len(imu) == 0


def test_encoder_refuses_what_does_not_fit() -> None:
    with pytest.raises(DecodeError):
        encode_frame(IMU, 0, 0, 1, SCALES, np.ones((200, 6), np.int16))
    with pytest.raises(DecodeError):
        encode_frame(IMU, 0, 0, 1, SCALES, np.ones((2, 6), np.float32))


@settings(max_examples=examples(300), deadline=None)
@given(
    noise=st.lists(st.binary(max_size=64), min_size=6, max_size=6),
    splits=st.lists(st.integers(1, 97), min_size=1, max_size=8),
)
def test_every_valid_frame_survives_any_noise_between_frames(
    noise: list[bytes], splits: list[int]
) -> None:
    dec, imu, _ = decoder()
    stream = b"".join(n + imu_frame(i, first=10 * i) for i, n in enumerate(noise[:5]))
    stream += noise[5]
    pos, i = 0, 0
    while pos < len(stream):  # arbitrary read sizes, as a tty delivers them
        step = splits[i % len(splits)]
        dec.feed(stream[pos : pos + step])
        pos, i = pos + step, i + 1
    dec.finish()
    got = imu.read(1000)
    assert dec.stats()["frames"] == 5
    assert list(got["t"]) == [1_000_000 * k for k in range(50)]


def ramp_frames(seq0: int, t0_ns: int, period_ns: int, frames: int, count: int = 10) -> bytes:
    """imu frames whose channel 0 reads the time in ms (a ramp, 1 LSB per 0.02 ms, which
    wraps after 655 ms)."""
    out = b""
    for k in range(frames):
        t = t0_ns + np.arange(k * count, (k + 1) * count) * period_ns
        raw = np.zeros((count, 6), np.int16)
        raw[:, 0] = np.round(t / 20_000) % 32768  # 0.02 ms per LSB: up to 655 ms
        out += encode_frame(IMU, seq0 + k, t0_ns + k * count * period_ns, period_ns,
                            np.array([0.02, 1, 1, 1, 1, 1], np.float32), raw)  # fmt: skip
    return out


def test_frames_at_another_period_are_resampled_onto_the_streams_grid() -> None:
    """A hub set to 104 Hz for the 100 Hz imu stream would be misread (the windows count
    samples): its frames are resampled to one sample every 10 ms, each the signal's
    value at that instant, and counted; their period is there to be told."""
    dec, imu, _ = decoder()
    dec.expect_period(IMU, 10_000_000)
    dec.feed(ramp_frames(0, 0, 10_040_000, 1))  # 0.4 % off: the same rate, as sent
    assert dec.stats()["off_rate_frames"] == 0 and dec.off_period(IMU) == 0
    assert list(imu.read(100)["t"]) == [10_040_000 * k for k in range(10)]
    period = round(1e9 / 104)
    dec.feed(ramp_frames(1, 100_400_000, period, 3))  # 30 samples at 104 Hz
    assert dec.stats()["off_rate_frames"] == 3 and dec.off_period(IMU) == period
    got = imu.read(100)
    last_sample = 100_400_000 + 29 * period
    grid = np.arange(100_360_000, last_sample + 1, 10_000_000)  # goes on from the last
    assert list(got["t"]) == list(grid)
    np.testing.assert_allclose(got["v"][:, 0], grid / 1e6, atol=0.011)
    assert dec.stats()["samples"] == 40  # the hub's samples, as received


@settings(max_examples=examples(200), deadline=None)
@given(
    frames=st.lists(
        st.tuples(
            st.integers(625_000, 160_000_000),  # the hub's period: 16 times either way
            st.integers(0, 200_000_000),  # time between this frame and the one before
            st.integers(1, 40),  # samples in the frame
            st.integers(-32768, 32767),  # the signal's first value
            st.integers(-3000, 3000),  # and its step per sample
        ),
        min_size=1,
        max_size=12,
    )
)
def test_resampled_frames_stay_on_the_grid_inside_the_signal(
    frames: list[tuple[int, int, int, int, int]],
) -> None:
    """Whatever the hub's periods and holes: time only runs forward, every sample lies
    between two of the hub's (inside the signal's range, never across a hole), and
    resampled samples follow one another a stream period apart."""
    dec, imu, _ = decoder()
    stream_period = 10_000_000
    dec.expect_period(IMU, stream_period)
    t_next, spans, low, high = 0, [], 32767.0, -32768.0
    for seq, (period, gap, count, first, step) in enumerate(frames):
        t0 = t_next + gap
        raw = np.zeros((count, 6), np.int16)
        raw[:, 0] = np.clip(first + step * np.arange(count), -32768, 32767)
        low, high = min(low, raw[:, 0].min()), max(high, raw[:, 0].max())
        dec.feed(encode_frame(IMU, seq, t0, period, np.ones(6, np.float32), raw))
        spans.append((t0, t0 + period * (count - 1), period))
        t_next = spans[-1][1] + period
    got = imu.read(100_000)
    t, v = got["t"], got["v"][:, 0]
    assert dec.stats()["frames"] == len(frames) and dec.stats()["bad_frames"] == 0
    assert len(t) > 0 and np.all(np.diff(t) > 0)
    assert np.all((v >= low) & (v <= high))
    inside = np.zeros(len(t), bool)  # within a frame, or joining two across a small hole
    holes = 0
    for k, (start, end, period) in enumerate(spans):
        before = spans[k - 1][1] if k else start
        joined = start - before <= 3 * max(period, stream_period)
        holes += not joined
        inside |= (t >= (before if joined else start)) & (t <= end)
    assert np.all(inside)
    if all(abs(period - stream_period) * 200 > stream_period for _, _, period in spans):
        steps = np.diff(t)  # one stream period, or longer where a hole restarted the grid
        assert np.all(steps >= stream_period) and np.sum(steps != stream_period) <= holes


def test_a_hole_in_a_resampled_stream_stays_a_hole() -> None:
    """More than 3 periods without frames is a dropout, not a line to draw: the grid
    starts again at the next frame's first sample."""
    dec, imu, _ = decoder()
    dec.expect_period(IMU, 10_000_000)
    period = round(1e9 / 104)
    dec.feed(ramp_frames(0, 0, period, 1))
    dec.feed(ramp_frames(2, 10 * period + 31_000_000, period, 1))  # frame 1 lost, and 31 ms
    t = imu.read(100)["t"]  # the first frame spans 0 .. 86.5 ms, the second 127 .. 214
    assert list(t[:9]) == [10_000_000 * k for k in range(9)]
    assert t[9] == 10 * period + 31_000_000 and np.all(np.diff(t[9:]) == 10_000_000)
    assert dec.stats()["lost_frames"] == 1


def test_a_hub_far_off_the_streams_rate_is_dropped_not_resampled() -> None:
    """More than 16 times off is a hub set for something else (or a hostile period that
    would make up 2^32 samples out of one): bad frames, and the period is kept to tell."""
    dec, imu, _ = decoder()
    dec.expect_period(IMU, 10_000_000)
    dec.feed(ramp_frames(0, 0, 160_000_001, 1))
    dec.feed(ramp_frames(1, 2_000_000_000, 624_999, 1))
    dec.feed(ramp_frames(2, 3_000_000_000, 0xFFFF_FFFF, 1))
    assert dec.stats()["bad_frames"] == 3 and len(imu) == 0
    assert dec.off_period(IMU) == 0xFFFF_FFFF
    dec.feed(ramp_frames(3, 4_000_000_000, 160_000_000, 1))  # 16 times: resampled
    assert len(imu) == 145 and dec.stats()["off_rate_frames"] == 1
    assert dec.off_period(HR) == 0 and dec.off_period(99) == 0
