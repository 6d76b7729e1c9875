/* fw_ring: see fw_ring.h for the threading contract and the memory-ordering pairs. */
#include "fw_ring.h"

#include <stdalign.h>
#include <stdatomic.h>
#include <string.h>

#define BUSY ((uint64_t)1)
#define CACHE_LINE 64
#define MAX_CHANNELS 256u

struct fw_ring {
    alignas(CACHE_LINE) _Atomic uint64_t head; /* written by the producer only */
    alignas(CACHE_LINE) _Atomic uint64_t tail; /* (read index << 1) | BUSY */
    alignas(CACHE_LINE) uint64_t capacity;     /* immutable after init from here on */
    uint64_t mask;
    size_t frame_size;
    size_t channels;
    fw_overflow_policy policy;
    unsigned char *data;
    _Atomic uint64_t written; /* producer-only counters */
    _Atomic uint64_t dropped;
    _Atomic uint64_t overruns;
    alignas(CACHE_LINE) _Atomic uint64_t read; /* consumer-only counter */
    size_t held;                               /* consumer-only: frames lent by linear_block */
};

size_t fw_ring_frame_size(size_t channels) {
    size_t raw = sizeof(int64_t) + channels * sizeof(float);
    return (raw + 7u) & ~(size_t)7u;
}

static int is_power_of_two(size_t x) { return x != 0 && (x & (x - 1)) == 0; }

size_t fw_ring_memory_size(size_t capacity, size_t channels) {
    if (!is_power_of_two(capacity) || channels == 0 || channels > MAX_CHANNELS) {
        return 0;
    }
    size_t fs = fw_ring_frame_size(channels);
    size_t overhead = sizeof(struct fw_ring) + CACHE_LINE; /* CACHE_LINE: room to align */
    if (capacity > (SIZE_MAX - overhead) / fs || capacity > ((uint64_t)1 << 40)) {
        return 0;
    }
    return overhead + capacity * fs;
}

fw_ring *fw_ring_init(void *mem, size_t mem_size, size_t capacity, size_t channels,
                      fw_overflow_policy policy) {
    size_t need = fw_ring_memory_size(capacity, channels);
    if (mem == NULL || need == 0 || mem_size < need ||
        (policy != FW_DROP_NEWEST && policy != FW_DROP_OLDEST)) {
        return NULL;
    }
    uintptr_t base = (uintptr_t)mem;
    uintptr_t aligned = (base + (CACHE_LINE - 1)) & ~(uintptr_t)(CACHE_LINE - 1);
    fw_ring *r = (fw_ring *)aligned;
    memset(r, 0, sizeof *r);
    atomic_init(&r->head, 0);
    atomic_init(&r->tail, 0);
    atomic_init(&r->written, 0);
    atomic_init(&r->dropped, 0);
    atomic_init(&r->overruns, 0);
    atomic_init(&r->read, 0);
    r->capacity = capacity;
    r->mask = capacity - 1;
    r->channels = channels;
    r->frame_size = fw_ring_frame_size(channels);
    r->policy = policy;
    r->data = (unsigned char *)r + sizeof *r;
    return r;
}

size_t fw_ring_capacity(const fw_ring *r) { return (size_t)r->capacity; }
size_t fw_ring_channels(const fw_ring *r) { return r->channels; }

size_t fw_ring_count(fw_ring *r) {
    /* tail first: head only grows, so head - tail cannot go negative. */
    uint64_t t = atomic_load_explicit(&r->tail, memory_order_acquire) >> 1;
    uint64_t h = atomic_load_explicit(&r->head, memory_order_acquire);
    return (size_t)(h - t);
}

void fw_ring_stats(fw_ring *r, fw_ring_stats_t *out) {
    out->written = atomic_load_explicit(&r->written, memory_order_relaxed);
    out->read = atomic_load_explicit(&r->read, memory_order_relaxed);
    out->dropped = atomic_load_explicit(&r->dropped, memory_order_relaxed);
    out->overruns = atomic_load_explicit(&r->overruns, memory_order_relaxed);
}

/* Copy k frames starting at free-running index `start`: at most two memcpy segments. */
static void copy_out(const fw_ring *r, unsigned char *dst, uint64_t start, size_t k) {
    size_t off = (size_t)(start & r->mask);
    size_t first = (size_t)r->capacity - off;
    if (first > k) first = k;
    memcpy(dst, r->data + off * r->frame_size, first * r->frame_size);
    if (k > first) memcpy(dst + first * r->frame_size, r->data, (k - first) * r->frame_size);
}

static void copy_in(fw_ring *r, uint64_t start, const unsigned char *src, size_t k) {
    size_t off = (size_t)(start & r->mask);
    size_t first = (size_t)r->capacity - off;
    if (first > k) first = k;
    memcpy(r->data + off * r->frame_size, src, first * r->frame_size);
    if (k > first) memcpy(r->data, src + first * r->frame_size, (k - first) * r->frame_size);
}

static void add_relaxed(_Atomic uint64_t *counter, uint64_t n) {
    /* Single writer per counter: a load + store is enough and cheaper than fetch_add. */
    atomic_store_explicit(counter, atomic_load_explicit(counter, memory_order_relaxed) + n,
                          memory_order_relaxed);
}

size_t fw_ring_write(fw_ring *r, const void *frames, size_t n) {
    if (n == 0 || frames == NULL) return 0;
    const unsigned char *src = frames;
    uint64_t lost = 0;
    uint64_t h = atomic_load_explicit(&r->head, memory_order_relaxed); /* ours */
    uint64_t tv = atomic_load_explicit(&r->tail, memory_order_acquire);
    size_t free_slots = (size_t)(r->capacity - (h - (tv >> 1)));
    if (n > free_slots && r->policy == FW_DROP_OLDEST) {
        if (n > r->capacity) { /* only the newest `capacity` frames can survive */
            lost += n - r->capacity;
            src += (n - r->capacity) * r->frame_size;
            n = (size_t)r->capacity;
        }
        /* Discard the oldest frames, but only while the consumer is not touching them. */
        while (n > free_slots && !(tv & BUSY)) {
            uint64_t need = n - free_slots;
            uint64_t want = tv + (need << 1);
            if (atomic_compare_exchange_weak_explicit(&r->tail, &tv, want, memory_order_acq_rel,
                                                      memory_order_acquire)) {
                lost += need;
                free_slots += (size_t)need;
                tv = want;
            } else {
                free_slots = (size_t)(r->capacity - (h - (tv >> 1)));
            }
        }
    }
    if (n > free_slots) { /* drop-newest, or drop-oldest while the consumer is busy */
        lost += n - free_slots;
        n = free_slots;
    }
    if (n > 0) {
        copy_in(r, h, src, n);
        /* RELEASE: the frames above become visible before the new head. */
        atomic_store_explicit(&r->head, h + n, memory_order_release);
        add_relaxed(&r->written, n);
    }
    if (lost > 0) {
        add_relaxed(&r->dropped, lost);
        add_relaxed(&r->overruns, 1);
    }
    return n;
}

/* Consumer: set BUSY so the producer cannot discard frames we are about to touch.
 * Returns the read index, or UINT64_MAX when a linear block is still held. */
static uint64_t claim(fw_ring *r) {
    uint64_t tv = atomic_load_explicit(&r->tail, memory_order_relaxed);
    for (;;) {
        if (tv & BUSY) return UINT64_MAX;
        if (atomic_compare_exchange_weak_explicit(&r->tail, &tv, tv | BUSY, memory_order_acquire,
                                                  memory_order_relaxed)) {
            return tv >> 1;
        }
    }
}

/* Consumer: clear BUSY at index t. RELEASE: our reads of the slots finish before the
 * producer (which loads tail with ACQUIRE) may reuse them. */
static void unclaim(fw_ring *r, uint64_t t) {
    atomic_store_explicit(&r->tail, t << 1, memory_order_release);
}

static size_t available(fw_ring *r, uint64_t t) {
    /* ACQUIRE pairs with the producer's RELEASE store of head. */
    return (size_t)(atomic_load_explicit(&r->head, memory_order_acquire) - t);
}

size_t fw_ring_read(fw_ring *r, void *out, size_t n) {
    if (out == NULL) return 0;
    uint64_t t = claim(r);
    if (t == UINT64_MAX) return 0;
    size_t k = available(r, t);
    if (k > n) k = n;
    if (k) copy_out(r, out, t, k);
    unclaim(r, t + k);
    if (k) add_relaxed(&r->read, k);
    return k;
}

size_t fw_ring_peek(fw_ring *r, void *out, size_t offset, size_t n) {
    if (out == NULL) return 0;
    uint64_t t = claim(r);
    if (t == UINT64_MAX) return 0;
    size_t avail = available(r, t);
    size_t k = 0;
    if (offset < avail) {
        k = avail - offset;
        if (k > n) k = n;
        copy_out(r, out, t + offset, k);
    }
    unclaim(r, t);
    return k;
}

size_t fw_ring_peek_last(fw_ring *r, void *out, size_t n) {
    if (out == NULL) return 0;
    uint64_t t = claim(r);
    if (t == UINT64_MAX) return 0;
    size_t avail = available(r, t);
    size_t k = avail < n ? avail : n;
    if (k) copy_out(r, out, t + (avail - k), k);
    unclaim(r, t);
    return k;
}

size_t fw_ring_skip(fw_ring *r, size_t n) {
    uint64_t t = claim(r);
    if (t == UINT64_MAX) return 0;
    size_t k = available(r, t);
    if (k > n) k = n;
    unclaim(r, t + k);
    if (k) add_relaxed(&r->read, k);
    return k;
}

size_t fw_ring_linear_block(fw_ring *r, const void **block) {
    if (block == NULL) return 0;
    *block = NULL;
    uint64_t t = claim(r);
    if (t == UINT64_MAX) return 0;
    size_t k = available(r, t);
    size_t off = (size_t)(t & r->mask);
    if (k > (size_t)r->capacity - off) k = (size_t)r->capacity - off;
    if (k == 0) {
        unclaim(r, t);
        return 0;
    }
    r->held = k; /* BUSY stays set until fw_ring_release */
    *block = r->data + off * r->frame_size;
    return k;
}

int fw_ring_release(fw_ring *r, size_t consumed) {
    uint64_t tv = atomic_load_explicit(&r->tail, memory_order_relaxed);
    if (!(tv & BUSY) || r->held == 0) return FW_EBUSY; /* nothing is held */
    if (consumed > r->held) return FW_EINVAL;
    r->held = 0;
    unclaim(r, (tv >> 1) + consumed);
    if (consumed) add_relaxed(&r->read, consumed);
    return FW_OK;
}
