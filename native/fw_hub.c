/* fw_hub: decoder for the fedwear sensor-hub protocol v1 (docs/hub-protocol.md).
 * Resynchronises on the next sync word after any malformed, corrupt or truncated frame,
 * and resamples a sensor sent at another rate than its stream's onto the stream's grid. */
#include <math.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "fw_decode.h"

#define MAX_FRAME (FW_HUB_HEADER + FW_HUB_MAX_PAYLOAD + FW_HUB_CRC)
#define BUF_SIZE (4 * MAX_FRAME)
#define PAYLOAD_FIXED 14 /* t0 (8) + period (4) + channels (1) + count (1) */
#define MAX_COUNT 255
#define N_COUNTERS (sizeof(fw_hub_stats_t) / sizeof(uint64_t))

/* A hub that restarts (a brown-out, its own watchdog, a firmware update) starts its
 * sequence numbers, and usually its clock, over. Its frames then look repeated or
 * backwards, and were dropped until the new sequence caught up with the old one: up to
 * 32767 frames per sensor, nine hours of a 1 Hz heart-rate stream. This many frames in a
 * row that continue one another, and not the old sequence, are a restart. */
#define RESTART_RUN 3

enum { C_BYTES, C_FRAMES, C_SAMPLES, C_CRC, C_BAD, C_GARBAGE, C_UNKNOWN, C_GAPS, C_LOST_FRAMES,
       C_LOST_SAMPLES, C_OUT_OF_ORDER, C_RESTARTS, C_CLOCK_STEPS, C_OFF_RATE };
_Static_assert(N_COUNTERS == C_OFF_RATE + 1, "counter enum mirrors fw_hub_stats_t");

/* What the decoder remembers of one sensor's frames. */
typedef struct {
    uint8_t have_seq;   /* a frame was delivered: last_seq, last_t and last_wall hold */
    uint16_t last_seq;  /* sequence number of the last frame delivered */
    uint8_t run;        /* frames in a row outside the sequence that continue one another */
    uint16_t run_seq;   /* the last of them */
    int64_t offset;     /* added to the hub's timestamps: nonzero after a restart */
    int64_t last_t;     /* time of the last sample delivered (offset included) */
    int64_t last_wall;  /* the host's time (feed's now_ns) when it was delivered */
    uint32_t expected_period; /* ns between samples of its stream; 0: not checked */
    int64_t next_grid;  /* the stream's grid instant after the last sample delivered */
    float last_v[FW_HUB_MAX_CHANNELS]; /* the values of the sample at last_t */
} sensor_state;

struct fw_hub_decoder {
    fw_ring *rings[FW_HUB_MAX_SENSORS];
    sensor_state sensors[FW_HUB_MAX_SENSORS];
    _Atomic uint64_t counters[N_COUNTERS];
    _Atomic uint32_t off_period[FW_HUB_MAX_SENSORS]; /* relaxed: a report, not a handshake */
    size_t start, end; /* unread bytes are buf[start, end) */
    uint8_t buf[BUF_SIZE];
    unsigned char frames[MAX_COUNT * (8 + 4 * FW_HUB_MAX_CHANNELS)];
    float values[MAX_COUNT * FW_HUB_MAX_CHANNELS]; /* one frame's samples, scaled */
};

static void bump(fw_hub_decoder *d, int which, uint64_t n) {
    _Atomic uint64_t *c = &d->counters[which]; /* single writer: the feeding thread */
    atomic_store_explicit(c, atomic_load_explicit(c, memory_order_relaxed) + n,
                          memory_order_relaxed);
}

/* CRC-16/CCITT-FALSE (poly 0x1021, init 0xFFFF, no reflection, no final xor), one table
 * lookup per byte. Entry i is the CRC register after shifting byte i through it. */
static const uint16_t CRC_TABLE[256] = {
    0x0000, 0x1021, 0x2042, 0x3063, 0x4084, 0x50A5, 0x60C6, 0x70E7,
    0x8108, 0x9129, 0xA14A, 0xB16B, 0xC18C, 0xD1AD, 0xE1CE, 0xF1EF,
    0x1231, 0x0210, 0x3273, 0x2252, 0x52B5, 0x4294, 0x72F7, 0x62D6,
    0x9339, 0x8318, 0xB37B, 0xA35A, 0xD3BD, 0xC39C, 0xF3FF, 0xE3DE,
    0x2462, 0x3443, 0x0420, 0x1401, 0x64E6, 0x74C7, 0x44A4, 0x5485,
    0xA56A, 0xB54B, 0x8528, 0x9509, 0xE5EE, 0xF5CF, 0xC5AC, 0xD58D,
    0x3653, 0x2672, 0x1611, 0x0630, 0x76D7, 0x66F6, 0x5695, 0x46B4,
    0xB75B, 0xA77A, 0x9719, 0x8738, 0xF7DF, 0xE7FE, 0xD79D, 0xC7BC,
    0x48C4, 0x58E5, 0x6886, 0x78A7, 0x0840, 0x1861, 0x2802, 0x3823,
    0xC9CC, 0xD9ED, 0xE98E, 0xF9AF, 0x8948, 0x9969, 0xA90A, 0xB92B,
    0x5AF5, 0x4AD4, 0x7AB7, 0x6A96, 0x1A71, 0x0A50, 0x3A33, 0x2A12,
    0xDBFD, 0xCBDC, 0xFBBF, 0xEB9E, 0x9B79, 0x8B58, 0xBB3B, 0xAB1A,
    0x6CA6, 0x7C87, 0x4CE4, 0x5CC5, 0x2C22, 0x3C03, 0x0C60, 0x1C41,
    0xEDAE, 0xFD8F, 0xCDEC, 0xDDCD, 0xAD2A, 0xBD0B, 0x8D68, 0x9D49,
    0x7E97, 0x6EB6, 0x5ED5, 0x4EF4, 0x3E13, 0x2E32, 0x1E51, 0x0E70,
    0xFF9F, 0xEFBE, 0xDFDD, 0xCFFC, 0xBF1B, 0xAF3A, 0x9F59, 0x8F78,
    0x9188, 0x81A9, 0xB1CA, 0xA1EB, 0xD10C, 0xC12D, 0xF14E, 0xE16F,
    0x1080, 0x00A1, 0x30C2, 0x20E3, 0x5004, 0x4025, 0x7046, 0x6067,
    0x83B9, 0x9398, 0xA3FB, 0xB3DA, 0xC33D, 0xD31C, 0xE37F, 0xF35E,
    0x02B1, 0x1290, 0x22F3, 0x32D2, 0x4235, 0x5214, 0x6277, 0x7256,
    0xB5EA, 0xA5CB, 0x95A8, 0x8589, 0xF56E, 0xE54F, 0xD52C, 0xC50D,
    0x34E2, 0x24C3, 0x14A0, 0x0481, 0x7466, 0x6447, 0x5424, 0x4405,
    0xA7DB, 0xB7FA, 0x8799, 0x97B8, 0xE75F, 0xF77E, 0xC71D, 0xD73C,
    0x26D3, 0x36F2, 0x0691, 0x16B0, 0x6657, 0x7676, 0x4615, 0x5634,
    0xD94C, 0xC96D, 0xF90E, 0xE92F, 0x99C8, 0x89E9, 0xB98A, 0xA9AB,
    0x5844, 0x4865, 0x7806, 0x6827, 0x18C0, 0x08E1, 0x3882, 0x28A3,
    0xCB7D, 0xDB5C, 0xEB3F, 0xFB1E, 0x8BF9, 0x9BD8, 0xABBB, 0xBB9A,
    0x4A75, 0x5A54, 0x6A37, 0x7A16, 0x0AF1, 0x1AD0, 0x2AB3, 0x3A92,
    0xFD2E, 0xED0F, 0xDD6C, 0xCD4D, 0xBDAA, 0xAD8B, 0x9DE8, 0x8DC9,
    0x7C26, 0x6C07, 0x5C64, 0x4C45, 0x3CA2, 0x2C83, 0x1CE0, 0x0CC1,
    0xEF1F, 0xFF3E, 0xCF5D, 0xDF7C, 0xAF9B, 0xBFBA, 0x8FD9, 0x9FF8,
    0x6E17, 0x7E36, 0x4E55, 0x5E74, 0x2E93, 0x3EB2, 0x0ED1, 0x1EF0,
};

uint16_t fw_crc16(const uint8_t *data, size_t n) {
    uint16_t crc = 0xFFFF;
    for (size_t i = 0; i < n; i++) {
        crc = (uint16_t)((crc << 8) ^ CRC_TABLE[((crc >> 8) ^ data[i]) & 0xFF]);
    }
    return crc;
}

static uint16_t le16(const uint8_t *p) { return (uint16_t)(p[0] | (p[1] << 8)); }
static uint32_t le32(const uint8_t *p) {
    return (uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16) | ((uint32_t)p[3] << 24);
}
static uint64_t le64(const uint8_t *p) { return (uint64_t)le32(p) | ((uint64_t)le32(p + 4) << 32); }

fw_hub_decoder *fw_hub_decoder_new(fw_ring *const *rings, size_t n_rings) {
    if (n_rings > FW_HUB_MAX_SENSORS || (n_rings > 0 && rings == NULL)) return NULL;
    for (size_t i = 0; i < n_rings; i++) {
        if (rings[i] && fw_ring_channels(rings[i]) > FW_HUB_MAX_CHANNELS) return NULL;
    }
    fw_hub_decoder *d = calloc(1, sizeof *d);
    if (d == NULL) return NULL;
    for (size_t i = 0; i < N_COUNTERS; i++) atomic_init(&d->counters[i], 0);
    for (size_t i = 0; i < FW_HUB_MAX_SENSORS; i++) atomic_init(&d->off_period[i], 0);
    for (size_t i = 0; i < n_rings; i++) d->rings[i] = rings[i];
    return d;
}

void fw_hub_decoder_expect_period(fw_hub_decoder *d, size_t sensor, uint32_t period_ns) {
    if (sensor < FW_HUB_MAX_SENSORS) d->sensors[sensor].expected_period = period_ns;
}

uint32_t fw_hub_off_period(const fw_hub_decoder *d, size_t sensor) {
    if (sensor >= FW_HUB_MAX_SENSORS) return 0;
    return atomic_load_explicit(&((fw_hub_decoder *)d)->off_period[sensor], memory_order_relaxed);
}

/* A hub that samples at another rate than its stream's is misread: the windows count
 * samples, so its signal is stretched or squeezed. More than 0.5 % apart counts. */
static int off_rate(uint32_t period, uint32_t expected) {
    uint64_t diff = period > expected ? period - expected : expected - period;
    return expected != 0 && diff * 200 > expected;
}

int fw_hub_too_far_off_rate(uint32_t period, uint32_t expected) {
    return expected != 0 && ((uint64_t)period > (uint64_t)expected * FW_HUB_MAX_RATE_FACTOR ||
                              (uint64_t)period * FW_HUB_MAX_RATE_FACTOR < expected);
}

void fw_hub_decoder_free(fw_hub_decoder *d) { free(d); }

void fw_hub_stats(const fw_hub_decoder *d, fw_hub_stats_t *out) {
    uint64_t v[N_COUNTERS];
    for (size_t i = 0; i < N_COUNTERS; i++) {
        v[i] = atomic_load_explicit(&((fw_hub_decoder *)d)->counters[i], memory_order_relaxed);
    }
    memcpy(out, v, sizeof v);
}

enum verdict { DROP, KEEP, RESTART, CLOCK_STEP };

/* Sequence bookkeeping for a frame whose first sample falls at t0 (offset included).
 * The next number, or a jump ahead with time moving on (lost frames), is kept; the next
 * number with time run back is kept as a clock step (the hub's clock was set back, its
 * count went on). A repeat, a step back, or a jump ahead while time runs back is dropped
 * as out of order, unless it completes a run of RESTART_RUN such frames: then the hub
 * restarted. */
static enum verdict judge_sequence(fw_hub_decoder *d, sensor_state *s, uint16_t seq,
                                   uint8_t count, int64_t t0) {
    if (!s->have_seq) return KEEP;
    uint16_t gap = (uint16_t)(seq - (uint16_t)(s->last_seq + 1));
    if (gap == 0 && t0 <= s->last_t) {
        s->run = 0;
        bump(d, C_CLOCK_STEPS, 1);
        return CLOCK_STEP;
    }
    if (gap == 0 || (gap < 0x8000 && t0 > s->last_t)) {
        s->run = 0;
        if (gap > 0) {
            bump(d, C_GAPS, 1);
            bump(d, C_LOST_FRAMES, gap);
            bump(d, C_LOST_SAMPLES, (uint64_t)gap * count);
        }
        return KEEP;
    }
    s->run = (s->run > 0 && seq == (uint16_t)(s->run_seq + 1)) ? (uint8_t)(s->run + 1) : 1;
    s->run_seq = seq;
    if (s->run < RESTART_RUN) {
        bump(d, C_OUT_OF_ORDER, 1);
        return DROP;
    }
    s->run = 0;
    bump(d, C_RESTARTS, 1);
    return RESTART;
}

/* After a restart or a clock step the stream's time goes on from its last sample plus
 * the host's time since it (at least one period), so it never runs backwards and an
 * outage shows as a gap of about its length. (Only a step back is mended: a clock set
 * forward cannot be told from a hub sending a backlog faster than real time.) Returns
 * the new offset, or the old one when the shifted times would not fit an int64. */
static int64_t continuing_offset(const sensor_state *s, uint64_t t0u, uint32_t period,
                                 uint8_t count, int64_t now) {
    int64_t step = now - s->last_wall;
    if (step < (int64_t)period) step = (int64_t)period;
    /* at most 2^32 x 256, with the resampling grid's one period more: no overflow */
    int64_t span = (int64_t)period * count + s->expected_period;
    if (s->last_t < 0 || s->last_t > INT64_MAX - step - span) return s->offset;
    return s->last_t + step - (int64_t)t0u; /* both in [0, INT64_MAX]: no overflow */
}

/* Append one sample to the frames buffer, writing the buffer to the ring when full. */
static void emit(fw_hub_decoder *d, fw_ring *ring, size_t *n, int64_t t, const float *v,
                 unsigned channels) {
    size_t fs = fw_ring_frame_size(channels);
    unsigned char *frame = d->frames + *n * fs;
    memcpy(frame, &t, sizeof t);
    memcpy(frame + 8, v, 4 * channels);
    if (++*n == MAX_COUNT) {
        fw_ring_write(ring, d->frames, *n);
        *n = 0;
    }
}

/* A frame at another period than its stream's, resampled onto the stream's grid (every
 * expected_period ns) by linear interpolation between its samples, so that windows
 * that count samples see the signal at the models' rate. The grid goes on from the
 * sensor's last frame unless more than 3 periods (of the hub's or the stream's, the
 * longer) lie between the two: then that hole stays a hole, for the dropout rule, and
 * the grid starts again at this frame's first sample. */
static void write_resampled(fw_hub_decoder *d, fw_ring *ring, sensor_state *st, int64_t t0,
                            uint32_t period, uint8_t count, unsigned channels) {
    int64_t step = st->expected_period;
    int64_t hole = 3 * (int64_t)(period > st->expected_period ? period : st->expected_period);
    int joined = st->have_seq && t0 > st->last_t && t0 - st->last_t <= hole;
    int64_t prev_t = st->last_t, grid = joined ? st->next_grid : t0;
    const float *prev_v = st->last_v;
    size_t n = 0;
    float v[FW_HUB_MAX_CHANNELS];
    for (unsigned i = 0; i < count; i++) {
        int64_t t = t0 + (int64_t)period * i;
        const float *cur = d->values + i * channels;
        if (!joined) { /* the grid's first instant is this sample */
            emit(d, ring, &n, t, cur, channels);
            grid = t + step;
            joined = 1;
        } else {
            for (; grid <= t; grid += step) {
                double w = (double)(grid - prev_t) / (double)(t - prev_t);
                for (unsigned c = 0; c < channels; c++) {
                    v[c] = (float)(prev_v[c] + (cur[c] - prev_v[c]) * w);
                }
                emit(d, ring, &n, grid, v, channels);
            }
        }
        prev_t = t;
        prev_v = cur;
    }
    if (n > 0) fw_ring_write(ring, d->frames, n); /* overflow is counted by the ring */
    st->next_grid = grid;
}

/* A CRC-valid frame, read at the host's time ``now``: check the payload layout and write
 * its samples to the ring. Returns 0 when the payload is inconsistent (a bad frame). */
static int deliver(fw_hub_decoder *d, const uint8_t *f, uint16_t len, int64_t now) {
    uint8_t sensor = f[3];
    const uint8_t *p = f + FW_HUB_HEADER;
    if (len < PAYLOAD_FIXED) return 0;
    uint64_t t0u = le64(p);
    uint32_t period = le32(p + 8);
    uint8_t channels = p[12], count = p[13];
    if (channels == 0 || channels > FW_HUB_MAX_CHANNELS || count == 0 ||
        len != PAYLOAD_FIXED + 4u * channels + 2u * channels * count) {
        return 0;
    }
    uint64_t span = (uint64_t)period * count;
    if (t0u > (uint64_t)INT64_MAX - span) return 0;
    float scale[FW_HUB_MAX_CHANNELS];
    for (unsigned c = 0; c < channels; c++) {
        uint32_t bits = le32(p + PAYLOAD_FIXED + 4 * c);
        memcpy(&scale[c], &bits, sizeof bits);
        if (!isfinite(scale[c])) return 0;
    }
    if (sensor >= FW_HUB_MAX_SENSORS || d->rings[sensor] == NULL) {
        bump(d, C_UNKNOWN, 1);
        return 1;
    }
    fw_ring *ring = d->rings[sensor];
    if (fw_ring_channels(ring) != channels) return 0;
    sensor_state *st = &d->sensors[sensor];
    if (fw_hub_too_far_off_rate(period, st->expected_period)) {
        atomic_store_explicit(&d->off_period[sensor], period, memory_order_relaxed);
        return 0;
    }
    /* A resampled frame's grid runs up to one stream period past its last sample. */
    int64_t reach = (int64_t)span + st->expected_period; /* < 2^41: no overflow */
    if (t0u > (uint64_t)(INT64_MAX - reach)) return 0;
    /* The hub's time shifted by this sensor's offset; a frame it would push past INT64_MAX
     * is malformed, as one whose own timestamps overflow is. */
    if (st->offset > 0 && (int64_t)t0u > INT64_MAX - reach - st->offset) return 0;
    int64_t t0 = (int64_t)t0u + st->offset;
    uint16_t seq = le16(f + 4);
    switch (judge_sequence(d, st, seq, count, t0)) {
    case DROP:
        return 1;
    case RESTART:
    case CLOCK_STEP:
        st->offset = continuing_offset(st, t0u, period, count, now);
        t0 = (int64_t)t0u + st->offset;
        break;
    case KEEP:
        break;
    }
    int resample = off_rate(period, st->expected_period);
    if (resample) {
        bump(d, C_OFF_RATE, 1);
        atomic_store_explicit(&d->off_period[sensor], period, memory_order_relaxed);
    }

    const uint8_t *s = p + PAYLOAD_FIXED + 4 * channels;
    for (unsigned k = 0; k < (unsigned)count * channels; k++, s += 2) {
        d->values[k] = (float)(int16_t)le16(s) * scale[k % channels];
    }
    if (resample) {
        write_resampled(d, ring, st, t0, period, count, channels);
    } else {
        size_t fs = fw_ring_frame_size(channels);
        for (unsigned i = 0; i < count; i++) {
            unsigned char *frame = d->frames + i * fs;
            int64_t ts = t0 + (int64_t)period * i;
            memcpy(frame, &ts, sizeof ts);
            memcpy(frame + 8, d->values + i * channels, 4 * channels);
        }
        fw_ring_write(ring, d->frames, count); /* overflow is counted by the ring */
        /* a resampled frame after this one goes on from here (within reach: no overflow) */
        st->next_grid = t0 + (int64_t)period * (count - 1) + st->expected_period;
    }
    memcpy(st->last_v, d->values + (count - 1) * channels, 4 * channels);
    st->have_seq = 1;
    st->last_seq = seq;
    st->last_t = t0 + (int64_t)period * (count - 1);
    st->last_wall = now;
    bump(d, C_FRAMES, 1);
    bump(d, C_SAMPLES, count);
    return 1;
}

static void drop(fw_hub_decoder *d, size_t n, int garbage) {
    d->start += n;
    if (garbage) bump(d, C_GARBAGE, n);
}

/* Decode every complete frame in the buffer; leave a partial one for the next feed. */
static void parse(fw_hub_decoder *d, int64_t now) {
    for (;;) {
        size_t avail = d->end - d->start;
        const uint8_t *b = d->buf + d->start;
        size_t sync = 0;
        while (sync + 1 < avail && !(b[sync] == FW_HUB_SYNC0 && b[sync + 1] == FW_HUB_SYNC1)) sync++;
        if (sync + 1 >= avail) { /* no sync word: keep a trailing 0xA5 that may start one */
            size_t keep = (avail > 0 && b[avail - 1] == FW_HUB_SYNC0) ? 1 : 0;
            drop(d, avail - keep, 1);
            return;
        }
        if (sync) {
            drop(d, sync, 1);
            continue;
        }
        if (avail < FW_HUB_HEADER) return;
        uint16_t len = le16(b + 6);
        if (b[2] != FW_HUB_VERSION || len > FW_HUB_MAX_PAYLOAD) {
            bump(d, C_BAD, 1);
            drop(d, 1, 1);
            continue;
        }
        size_t total = (size_t)FW_HUB_HEADER + len + FW_HUB_CRC;
        if (avail < total) return;
        uint16_t crc = le16(b + FW_HUB_HEADER + len);
        if (fw_crc16(b + 2, (size_t)FW_HUB_HEADER - 2 + len) != crc) {
            bump(d, C_CRC, 1);
            drop(d, 1, 1);
            continue;
        }
        if (!deliver(d, b, len, now)) {
            bump(d, C_BAD, 1);
            drop(d, total, 1);
            continue;
        }
        drop(d, total, 0);
    }
}

void fw_hub_decoder_feed(fw_hub_decoder *d, const uint8_t *data, size_t n, int64_t now_ns) {
    bump(d, C_BYTES, n);
    while (n > 0) {
        if (d->start > 0) { /* compact: the unread tail is at most one partial frame */
            memmove(d->buf, d->buf + d->start, d->end - d->start);
            d->end -= d->start;
            d->start = 0;
        }
        size_t room = BUF_SIZE - d->end;
        size_t k = n < room ? n : room;
        memcpy(d->buf + d->end, data, k);
        d->end += k;
        data += k;
        n -= k;
        parse(d, now_ns);
    }
}

void fw_hub_decoder_finish(fw_hub_decoder *d) {
    drop(d, d->end - d->start, 1);
    d->start = d->end = 0;
}
