/* fw_iio: decoder for Linux IIO buffered scans (Documentation/ABI/testing/sysfs-bus-iio,
 * "scan_elements"). The caller lays out the scan from sysfs; this file only unpacks it. */
#include <math.h>
#include <stdint.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "fw_decode.h"

#define MAX_SCAN 512
#define BATCH 64

struct fw_iio_decoder {
    fw_iio_layout layout;
    fw_ring *ring;
    size_t frame_size;
    size_t pending; /* bytes of a partial scan in `partial` */
    int stamped;     /* a scan has been stamped by the host clock (no timestamp element) */
    int64_t last_ts; /* ... and the last such stamp */
    uint8_t partial[MAX_SCAN];
    _Atomic uint64_t bytes, scans;
    unsigned char frames[BATCH * (8 + 4 * FW_IIO_MAX_CHANNELS)];
};

static int element_ok(const fw_iio_element *e, uint32_t scan_bytes) {
    uint8_t sb = e->storagebytes;
    return (sb == 1 || sb == 2 || sb == 4 || sb == 8) && e->realbits >= 1 &&
           e->realbits <= 8u * sb && e->shift < 8u * sb && e->byte_offset + sb <= scan_bytes &&
           isfinite(e->scale) && isfinite(e->value_offset);
}

fw_iio_decoder *fw_iio_decoder_new(const fw_iio_layout *layout, fw_ring *ring) {
    if (layout == NULL || ring == NULL || layout->scan_bytes == 0 ||
        layout->scan_bytes > MAX_SCAN || layout->n_channels == 0 ||
        layout->n_channels > FW_IIO_MAX_CHANNELS || fw_ring_channels(ring) != layout->n_channels) {
        return NULL;
    }
    for (uint32_t i = 0; i < layout->n_channels; i++) {
        if (!element_ok(&layout->channels[i], layout->scan_bytes)) return NULL;
    }
    /* A period of at most a minute keeps the timestamp arithmetic far from overflow. */
    if (layout->period_ns < 0 || layout->period_ns > (int64_t)60000000000 ||
        (layout->has_timestamp ? !element_ok(&layout->timestamp, layout->scan_bytes)
                               : layout->period_ns == 0)) {
        return NULL;
    }
    fw_iio_decoder *d = calloc(1, sizeof *d);
    if (d == NULL) return NULL;
    d->layout = *layout;
    d->ring = ring;
    d->frame_size = fw_ring_frame_size(layout->n_channels);
    atomic_init(&d->bytes, 0);
    atomic_init(&d->scans, 0);
    return d;
}

void fw_iio_decoder_free(fw_iio_decoder *d) { free(d); }

void fw_iio_stats(const fw_iio_decoder *d, fw_iio_stats_t *out) {
    fw_iio_decoder *m = (fw_iio_decoder *)d;
    out->bytes = atomic_load_explicit(&m->bytes, memory_order_relaxed);
    out->scans = atomic_load_explicit(&m->scans, memory_order_relaxed);
}

/* Raw element value as a signed 64-bit integer: endianness, shift, realbits, sign. */
static int64_t element_raw(const fw_iio_element *e, const uint8_t *scan) {
    const uint8_t *p = scan + e->byte_offset;
    uint64_t u = 0;
    for (unsigned b = 0; b < e->storagebytes; b++) {
        unsigned idx = e->big_endian ? b : (unsigned)e->storagebytes - 1 - b;
        u = (u << 8) | p[idx];
    }
    u >>= e->shift;
    if (e->realbits < 64) {
        uint64_t top = (uint64_t)1 << e->realbits;
        u &= top - 1;
        if (e->is_signed && (u >> (e->realbits - 1))) return (int64_t)u - (int64_t)top;
        return (int64_t)u;
    }
    int64_t s;
    memcpy(&s, &u, sizeof s); /* two's complement reinterpretation without overflow */
    return s;
}

static void add(_Atomic uint64_t *c, uint64_t n) {
    atomic_store_explicit(c, atomic_load_explicit(c, memory_order_relaxed) + n,
                          memory_order_relaxed);
}

static void flush(fw_iio_decoder *d, size_t n) {
    fw_ring_write(d->ring, d->frames, n); /* overflow is counted by the ring */
    add(&d->scans, n);
}

static void decode_scan(fw_iio_decoder *d, const uint8_t *scan, size_t slot, int64_t fallback_ts) {
    const fw_iio_layout *l = &d->layout;
    unsigned char *frame = d->frames + slot * d->frame_size;
    int64_t ts = l->has_timestamp ? element_raw(&l->timestamp, scan) : fallback_ts;
    memcpy(frame, &ts, sizeof ts);
    for (uint32_t c = 0; c < l->n_channels; c++) {
        const fw_iio_element *e = &l->channels[c];
        float v = (float)(((double)element_raw(e, scan) + e->value_offset) * e->scale);
        memcpy(frame + 8 + 4 * c, &v, sizeof v);
    }
}

/* a + b for b >= 0, held at INT64_MAX: host stamps never wrap, whatever now_ns is. */
static int64_t add_held(int64_t a, int64_t b) { return a > INT64_MAX - b ? INT64_MAX : a + b; }

void fw_iio_decoder_feed(fw_iio_decoder *d, const uint8_t *data, size_t n, int64_t now_ns) {
    size_t sb = d->layout.scan_bytes;
    add(&d->bytes, n);
    /* Without a timestamp element the newest complete scan is stamped now_ns, the ones
     * before it one period apart; but never before the last read's scans plus a period
     * (scans that waited in the kernel's buffer would otherwise run time back). */
    size_t complete = (d->pending + n) / sb;
    int64_t period = d->layout.period_ns;
    int64_t back = (int64_t)(complete ? complete - 1 : 0) * period;
    int64_t ts = now_ns < INT64_MIN + back ? INT64_MIN : now_ns - back;
    if (!d->layout.has_timestamp && complete) {
        int64_t next = add_held(d->last_ts, period);
        if (d->stamped && ts < next) ts = next;
        d->stamped = 1;
        d->last_ts = add_held(ts, back);
    }
    size_t slot = 0;
    if (d->pending) {
        size_t k = sb - d->pending;
        if (k > n) k = n;
        memcpy(d->partial + d->pending, data, k);
        d->pending += k;
        data += k;
        n -= k;
        if (d->pending < sb) return;
        decode_scan(d, d->partial, slot++, ts);
        ts = add_held(ts, period);
        d->pending = 0;
    }
    for (; n >= sb; data += sb, n -= sb) {
        decode_scan(d, data, slot++, ts);
        ts = add_held(ts, period);
        if (slot == BATCH) {
            flush(d, slot);
            slot = 0;
        }
    }
    if (slot) flush(d, slot);
    memcpy(d->partial, data, n);
    d->pending = n;
}
