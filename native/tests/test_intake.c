/* Intake tests: hub frames with noise between them go through a pipe into the C intake
 * thread; the consumer (with a 200 ms stall) must see every sample once, in order. And
 * the hub decoder's restart handling at the ends of int64 time (under UBSan in `asan`). */
#define _GNU_SOURCE
#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "../fw_intake.h"

#include "check.h"

#define CH 6
#define PER_FRAME 10
#define FRAMES 300 /* 3000 samples: 3 s at 1 kHz */

static size_t encode_at(uint8_t *out, uint16_t seq, int64_t t0, int16_t first, uint32_t period) {
    uint16_t len = (uint16_t)(14 + 4 * CH + 2 * CH * PER_FRAME);
    uint8_t *p = out;
    *p++ = FW_HUB_SYNC0;
    *p++ = FW_HUB_SYNC1;
    *p++ = FW_HUB_VERSION;
    *p++ = 1; /* sensor id */
    *p++ = (uint8_t)seq;
    *p++ = (uint8_t)(seq >> 8);
    *p++ = (uint8_t)len;
    *p++ = (uint8_t)(len >> 8);
    for (int i = 0; i < 8; i++) *p++ = (uint8_t)((uint64_t)t0 >> (8 * i));
    for (int i = 0; i < 4; i++) *p++ = (uint8_t)(period >> (8 * i));
    *p++ = CH;
    *p++ = PER_FRAME;
    float scale = 1.0f;
    uint32_t bits;
    memcpy(&bits, &scale, 4);
    for (int c = 0; c < CH; c++)
        for (int i = 0; i < 4; i++) *p++ = (uint8_t)(bits >> (8 * i));
    for (int s = 0; s < PER_FRAME; s++)
        for (int c = 0; c < CH; c++) {
            uint16_t v = (uint16_t)(int16_t)(first + s + c);
            *p++ = (uint8_t)v;
            *p++ = (uint8_t)(v >> 8);
        }
    uint16_t crc = fw_crc16(out + 2, (size_t)(p - out - 2));
    *p++ = (uint8_t)crc;
    *p++ = (uint8_t)(crc >> 8);
    return (size_t)(p - out);
}

static size_t encode(uint8_t *out, uint16_t seq, int64_t t0, int16_t first) {
    return encode_at(out, seq, t0, first, 1000000); /* 1 kHz */
}

struct writer_arg {
    int fd;
};

static void *writer(void *arg) {
    struct writer_arg *w = arg;
    uint8_t buf[2048];
    const uint8_t noise[] = {0xA5, 0x00, 0x5A, 0xA5, 0x5A, 0x01, 0xFF};
    for (int f = 0; f < FRAMES; f++) {
        size_t n = encode(buf, (uint16_t)f, (int64_t)f * PER_FRAME * 1000000, (int16_t)(f * PER_FRAME % 20000));
        if (f % 7 == 3) { /* garbage between frames, including false sync words */
            memcpy(buf + n, noise, sizeof noise);
            n += sizeof noise;
        }
        size_t off = 0;
        while (off < n) { /* split writes so frames straddle reads */
            size_t k = (n - off) > 97 ? 97 : n - off;
            ssize_t wr = write(w->fd, buf + off, k);
            if (wr < 0 && errno == EINTR) continue;
            if (wr < 0) return NULL;
            off += (size_t)wr;
        }
        nanosleep(&(struct timespec){0, 10 * 1000000}, NULL); /* 10 samples / 10 ms: 1 kHz */
    }
    close(w->fd);
    return NULL;
}

static void test_stall_loses_nothing(void) {
    int p[2];
    CHECK(pipe(p) == 0);
    size_t cap = 1024; /* > 200 ms at 1 kHz, with margin */
    void *mem = malloc(fw_ring_memory_size(cap, CH));
    fw_ring *ring = fw_ring_init(mem, fw_ring_memory_size(cap, CH), cap, CH, FW_DROP_OLDEST);
    fw_ring *rings[2] = {NULL, ring};
    fw_hub_decoder *dec = fw_hub_decoder_new(rings, 2);
    fw_intake *in = fw_intake_start_hub(p[0], dec);
    CHECK(in != NULL);
    struct writer_arg w = {.fd = p[1]};
    pthread_t wt;
    pthread_create(&wt, NULL, writer, &w);

    nanosleep(&(struct timespec){0, 200 * 1000000}, NULL); /* the consumer stalls */
    struct {
        int64_t ts;
        float v[CH];
    } out[64];
    int64_t expect = 0;
    fw_intake_status_t st;
    for (;;) {
        size_t got = fw_ring_read(ring, out, 64);
        for (size_t i = 0; i < got; i++, expect++) {
            CHECK(out[i].ts == expect * 1000000);
            CHECK(out[i].v[2] == (float)((expect % 20000) + 2));
        }
        fw_intake_status(in, &st);
        if (!got && st.state != FW_INTAKE_RUNNING && fw_ring_count(ring) == 0) break;
        if (!got) nanosleep(&(struct timespec){0, 1000000}, NULL);
    }
    pthread_join(wt, NULL);
    CHECK(st.state == FW_INTAKE_ENDED);
    CHECK(expect == FRAMES * PER_FRAME);
    fw_hub_stats_t hs;
    fw_hub_stats(dec, &hs);
    CHECK(hs.frames == FRAMES && hs.lost_samples == 0);
    CHECK(hs.crc_errors > 0); /* the noise holds a false sync word with a valid version */
    CHECK(hs.garbage_bytes > 0);
    fw_ring_stats_t rs;
    fw_ring_stats(ring, &rs);
    CHECK(rs.dropped == 0 && rs.written == FRAMES * PER_FRAME);
    fw_intake_stop(in);
    fw_hub_decoder_free(dec);
    close(p[0]);
    free(mem);
}

static void test_stop_while_idle(void) {
    int p[2];
    CHECK(pipe(p) == 0);
    void *mem = malloc(fw_ring_memory_size(16, CH));
    fw_ring *ring = fw_ring_init(mem, fw_ring_memory_size(16, CH), 16, CH, FW_DROP_NEWEST);
    fw_ring *rings[2] = {NULL, ring};
    fw_hub_decoder *dec = fw_hub_decoder_new(rings, 2);
    fw_intake *in = fw_intake_start_hub(p[0], dec);
    fw_intake_status_t st;
    fw_intake_status(in, &st);
    CHECK(st.state == FW_INTAKE_RUNNING);
    fw_intake_stop(in); /* must not hang although no byte ever arrives */
    fw_hub_decoder_free(dec);
    close(p[0]);
    close(p[1]);
    free(mem);
    CHECK(fw_intake_start_hub(-1, dec) == NULL && errno == EINVAL);
}

/* One frame, read at the host's time now_ns. */
static size_t feed(fw_hub_decoder *dec, uint16_t seq, int64_t t0, int64_t now_ns) {
    uint8_t buf[512];
    size_t n = encode(buf, seq, t0, 0);
    fw_hub_decoder_feed(dec, buf, n, now_ns);
    return n;
}

/* A 256-frame ring for sensor 1's frames; free(*mem) when done. */
static fw_ring *imu_ring(void **mem) {
    size_t cap = 256;
    *mem = malloc(fw_ring_memory_size(cap, CH));
    return fw_ring_init(*mem, fw_ring_memory_size(cap, CH), cap, CH, FW_DROP_OLDEST);
}

/* A restart whose shifted times would pass INT64_MAX keeps the hub's own times; a frame
 * that the offset of an earlier restart would push past INT64_MAX is a bad frame. */
static void test_restart_at_the_edges_of_time(void) {
    void *mem;
    fw_ring *ring = imu_ring(&mem);
    fw_ring *rings[2] = {NULL, ring};
    fw_hub_decoder *dec = fw_hub_decoder_new(rings, 2);
    const int64_t span = PER_FRAME * 1000000;
    const int64_t late = INT64_MAX - span; /* the last t0 a frame may have */
    const int64_t second = 1000000000;
    feed(dec, 500, late, second);
    for (uint16_t seq = 0; seq < 3; seq++) {
        feed(dec, seq, (int64_t)seq * span, (2 + seq) * second);
    }
    fw_hub_stats_t hs;
    fw_hub_stats(dec, &hs);
    CHECK(hs.restarts == 1 && hs.out_of_order == 2 && hs.frames == 2 && hs.bad_frames == 0);
    struct {
        int64_t ts;
        float v[CH];
    } out[2 * PER_FRAME];
    CHECK(fw_ring_read(ring, out, 2 * PER_FRAME) == 2 * PER_FRAME);
    CHECK(out[0].ts == late && out[PER_FRAME].ts == 2 * span); /* no shift: it would overflow */

    /* From t0 = 0, a restart shifts time forward to the old last sample plus the host's
     * time between the two frames read (0.3 s)... */
    fw_hub_decoder *dec2 = fw_hub_decoder_new(rings, 2);
    const int64_t tenth = second / 10;
    feed(dec2, 7, late - 4 * span - second, second);
    for (uint16_t seq = 0; seq < 3; seq++) {
        feed(dec2, seq, (int64_t)seq * span, second + (1 + seq) * tenth);
    }
    fw_hub_stats(dec2, &hs);
    CHECK(hs.restarts == 1 && hs.frames == 2);
    CHECK(fw_ring_read(ring, out, 2 * PER_FRAME) == 2 * PER_FRAME);
    CHECK(out[PER_FRAME].ts == out[PER_FRAME - 1].ts + 3 * tenth);
    /* ...so a later frame of the new count near INT64_MAX cannot be shifted: bad frame. */
    feed(dec2, 3, late, second + 4 * tenth);
    fw_hub_stats(dec2, &hs);
    CHECK(hs.bad_frames == 1 && hs.frames == 2);
    fw_hub_decoder_free(dec);
    fw_hub_decoder_free(dec2);
    free(mem);
}

/* A frame at another period than the stream's is resampled onto the stream's grid, which
 * goes on across frames; one more than 16 times off, or whose grid would pass INT64_MAX,
 * is a bad frame (under UBSan in `asan`). */
static void test_resampling_and_its_limits(void) {
    void *mem;
    fw_ring *ring = imu_ring(&mem);
    fw_ring *rings[2] = {NULL, ring};
    fw_hub_decoder *dec = fw_hub_decoder_new(rings, 2);
    fw_hub_decoder_expect_period(dec, 1, 1000000);
    uint8_t buf[512];
    struct {
        int64_t ts;
        float v[CH];
    } out[64];
    /* A ramp sent every 1.25 ms (800 Hz) to a 1 kHz stream: two frames of 10 samples
     * span 0 .. 23.75 ms, so the grid has 24 instants, each the ramp's value there. */
    const uint32_t slow = 1250000;
    for (uint16_t seq = 0; seq < 2; seq++) {
        size_t n = encode_at(buf, seq, (int64_t)seq * 10 * slow, (int16_t)(seq * 10), slow);
        fw_hub_decoder_feed(dec, buf, n, 0);
    }
    CHECK(fw_ring_read(ring, out, 64) == 24);
    for (int i = 0; i < 24; i++) {
        CHECK(out[i].ts == (int64_t)i * 1000000);
        CHECK(fabsf(out[i].v[2] - (2.0f + (float)i * 0.8f)) < 1e-4f);
    }
    fw_hub_stats_t hs;
    fw_hub_stats(dec, &hs);
    CHECK(hs.off_rate_frames == 2 && hs.samples == 20 && hs.bad_frames == 0);

    /* 16 times off is resampled: 30 .. 174 ms, joined to the grid at 24 ms (the hole is
     * under 3 of the hub's periods), is 151 instants, written in chunks. More is not. */
    fw_hub_decoder_feed(dec, buf, encode_at(buf, 2, 30000000, 0, 16000000), 0);
    fw_hub_decoder_feed(dec, buf, encode_at(buf, 3, 500000000, 0, 16000001), 0);
    fw_hub_decoder_feed(dec, buf, encode_at(buf, 4, 700000000, 0, 62499), 0);
    fw_hub_stats(dec, &hs);
    CHECK(hs.off_rate_frames == 3 && hs.bad_frames == 2 && fw_hub_off_period(dec, 1) == 62499);
    int64_t first = -1, previous = 0;
    size_t total = 0, got;
    while ((got = fw_ring_read(ring, out, 64)) > 0) {
        if (first < 0) first = out[0].ts;
        for (size_t i = 0; i < got; i++, total++) {
            CHECK(total == 0 || out[i].ts == previous + 1000000);
            previous = out[i].ts;
        }
    }
    CHECK(total == 151 && first == 24000000 && previous == 174000000);

    /* The last t0 whose grid fits an int64, and one past it. */
    fw_hub_decoder *late = fw_hub_decoder_new(rings, 2);
    fw_hub_decoder_expect_period(late, 1, 1000000);
    const int64_t last = INT64_MAX - 10 * (int64_t)slow - 1000000;
    fw_hub_decoder_feed(late, buf, encode_at(buf, 0, last, 0, slow), 0);
    fw_hub_decoder_feed(late, buf, encode_at(buf, 0, last + 1, 0, slow), 0);
    fw_hub_stats(late, &hs);
    CHECK(hs.frames == 1 && hs.bad_frames == 1);
    CHECK(fw_ring_read(ring, out, 64) == 12 && out[11].ts == last + 11 * 1000000);
    fw_hub_decoder_free(dec);
    fw_hub_decoder_free(late);
    free(mem);
}

/* IIO scans without a timestamp element are stamped with the host's time of the read:
 * scans that waited in the kernel's buffer go back one period each from it, but never
 * before the last read's, and never past INT64_MAX or INT64_MIN (under UBSan in `asan`). */
static void test_iio_host_stamps_never_run_back(void) {
    size_t cap = 64;
    void *mem = malloc(fw_ring_memory_size(cap, 1));
    fw_ring *ring = fw_ring_init(mem, fw_ring_memory_size(cap, 1), cap, 1, FW_DROP_OLDEST);
    fw_iio_layout layout;
    memset(&layout, 0, sizeof layout);
    layout.scan_bytes = 2;
    layout.n_channels = 1;
    layout.channels[0] = (fw_iio_element){0, 2, 16, 0, 1, 0, 1.0, 0.0};
    layout.period_ns = 10000000;
    fw_iio_decoder *dec = fw_iio_decoder_new(&layout, ring);
    CHECK(dec != NULL);
    const uint8_t five[10] = {0};
    struct {
        int64_t ts;
        float v[1];
    } out[16];
    fw_iio_decoder_feed(dec, five, 10, 1000000000); /* 0.96 .. 1.00 s */
    fw_iio_decoder_feed(dec, five, 10, 1000000003); /* 3 ns later: 1.01 .. 1.05 s */
    CHECK(fw_ring_read(ring, out, 16) == 10);
    for (int i = 0; i < 10; i++) CHECK(out[i].ts == 960000000 + (int64_t)i * 10000000);
    fw_iio_decoder_feed(dec, five, 10, 2000000000); /* after a pause: the host's time */
    CHECK(fw_ring_read(ring, out, 16) == 5 && out[4].ts == 2000000000);
    fw_iio_decoder_feed(dec, five, 10, INT64_MAX); /* held there, not wrapped */
    fw_iio_decoder_feed(dec, five, 10, INT64_MAX);
    CHECK(fw_ring_read(ring, out, 16) == 10 && out[9].ts == INT64_MAX && out[4].ts <= out[5].ts);
    fw_iio_decoder *low = fw_iio_decoder_new(&layout, ring);
    fw_iio_decoder_feed(low, five, 10, INT64_MIN + 1);
    CHECK(fw_ring_read(ring, out, 16) == 5 && out[0].ts == INT64_MIN && out[4].ts > out[0].ts);
    fw_iio_decoder_free(dec);
    fw_iio_decoder_free(low);
    free(mem);
}

int main(void) {
    test_stall_loses_nothing();
    test_restart_at_the_edges_of_time();
    test_resampling_and_its_limits();
    test_iio_host_stamps_never_run_back();
    test_stop_while_idle();
    printf("test_intake: %s\n", failures ? "FAILED" : "ok");
    return failures != 0;
}
