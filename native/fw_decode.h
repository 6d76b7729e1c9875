/* fw_decode: byte-stream decoders that turn device bytes into ring frames.
 *
 * fw_hub: the fedwear sensor-hub UART protocol, version 1 (docs/hub-protocol.md).
 * fw_iio: Linux IIO buffered scans, laid out by the caller from scan_elements/.
 *
 * A decoder is the producer of the rings it is given: feed it from one thread only.
 * Its counters are relaxed atomics written by that thread and may be read from any
 * other thread (fw_*_stats) as a stale but untorn snapshot. Overflow is counted by the
 * rings themselves (fw_ring_stats), whichever policy they use.
 */
#ifndef FW_DECODE_H
#define FW_DECODE_H

#include <stddef.h>
#include <stdint.h>

#include "fw_ring.h"

#define FW_HUB_VERSION 1
#define FW_HUB_SYNC0 0xA5
#define FW_HUB_SYNC1 0x5A
#define FW_HUB_HEADER 8
#define FW_HUB_CRC 2
#define FW_HUB_MAX_PAYLOAD 1024
#define FW_HUB_MAX_SENSORS 16
#define FW_HUB_MAX_CHANNELS 16
/* A frame more than this many times slower or faster than its stream is not resampled
 * but dropped as bad: interpolating it would make up (or throw away) most of the signal,
 * and a hostile period would cost up to 2^32 output samples per input sample. */
#define FW_HUB_MAX_RATE_FACTOR 16

typedef struct {
    uint64_t bytes;          /* bytes fed */
    uint64_t frames;         /* frames delivered to a ring */
    uint64_t samples;        /* samples in those frames */
    uint64_t crc_errors;     /* frames whose CRC did not match */
    uint64_t bad_frames;     /* bad version, length or payload layout */
    uint64_t garbage_bytes;  /* bytes skipped while looking for the next frame */
    uint64_t unknown_sensor; /* valid frames for a sensor id with no ring */
    uint64_t seq_gaps;       /* times the sequence number jumped forward */
    uint64_t lost_frames;    /* frames missing in those jumps */
    uint64_t lost_samples;   /* estimated samples missing (lost frames x samples per frame) */
    uint64_t out_of_order;   /* repeated or backwards sequence numbers (frame dropped) */
    uint64_t restarts;       /* a sensor's sequence started over: the hub restarted */
    uint64_t clock_steps;    /* a sensor's time ran back with its count going on */
    uint64_t off_rate_frames; /* frames at another period than their sensor's expected one
                                 (resampled: docs/hub-protocol.md) */
} fw_hub_stats_t;

typedef struct fw_hub_decoder fw_hub_decoder;

/* rings[i] receives sensor id i (NULL: unknown sensor). n_rings <= FW_HUB_MAX_SENSORS. */
fw_hub_decoder *fw_hub_decoder_new(fw_ring *const *rings, size_t n_rings);
void fw_hub_decoder_free(fw_hub_decoder *d);
/* now_ns: the host's time when the bytes were read (the intake thread passes
 * CLOCK_BOOTTIME); a restarted hub's time goes on by it (docs/hub-protocol.md). */
void fw_hub_decoder_feed(fw_hub_decoder *d, const uint8_t *data, size_t n, int64_t now_ns);
/* End of stream: bytes still buffered (a truncated frame) count as garbage. */
void fw_hub_decoder_finish(fw_hub_decoder *d);
void fw_hub_stats(const fw_hub_decoder *d, fw_hub_stats_t *out);
/* Before the first feed: frames of ``sensor`` whose period differs from ``period_ns`` by
 * more than 0.5 % are counted in off_rate_frames and resampled onto a grid every
 * ``period_ns``, or dropped as bad frames when more than FW_HUB_MAX_RATE_FACTOR times
 * off (0: any period is taken as it is). */
void fw_hub_decoder_expect_period(fw_hub_decoder *d, size_t sensor, uint32_t period_ns);
/* The period of the last such frame of ``sensor``, 0 if none: a relaxed atomic, readable
 * from any thread. */
uint32_t fw_hub_off_period(const fw_hub_decoder *d, size_t sensor);
/* 1 when a frame every ``period`` ns is more than FW_HUB_MAX_RATE_FACTOR times off a
 * stream every ``expected`` ns (0: any period is taken), and so dropped, not resampled. */
int fw_hub_too_far_off_rate(uint32_t period, uint32_t expected);
uint16_t fw_crc16(const uint8_t *data, size_t n);

#define FW_IIO_MAX_CHANNELS 32

typedef struct {
    uint32_t byte_offset; /* where the element starts in the scan */
    uint8_t storagebytes; /* 1, 2, 4 or 8 */
    uint8_t realbits;     /* 1..storagebits */
    uint8_t shift;        /* right shift before masking */
    uint8_t is_signed;
    uint8_t big_endian;
    double scale; /* value = (raw + value_offset) * scale */
    double value_offset;
} fw_iio_element;

typedef struct {
    uint32_t scan_bytes;  /* size of one scan, padding included */
    uint32_t n_channels;  /* value elements, in ring-channel order */
    fw_iio_element channels[FW_IIO_MAX_CHANNELS];
    int32_t has_timestamp; /* 1: `timestamp` holds the ns timestamp element */
    fw_iio_element timestamp;
    int64_t period_ns;     /* used for timestamps when there is no timestamp element */
} fw_iio_layout;

typedef struct {
    uint64_t bytes;
    uint64_t scans;
} fw_iio_stats_t;

typedef struct fw_iio_decoder fw_iio_decoder;

/* Returns NULL when the layout is inconsistent (element outside the scan, bad sizes,
 * channel count different from the ring's). */
fw_iio_decoder *fw_iio_decoder_new(const fw_iio_layout *layout, fw_ring *ring);
void fw_iio_decoder_free(fw_iio_decoder *d);
/* now_ns: timestamp of the newest complete scan in this chunk when the layout has none
 * (the intake thread passes CLOCK_BOOTTIME). */
void fw_iio_decoder_feed(fw_iio_decoder *d, const uint8_t *data, size_t n, int64_t now_ns);
void fw_iio_stats(const fw_iio_decoder *d, fw_iio_stats_t *out);

#endif
