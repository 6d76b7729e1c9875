/* fw_ring: a lock-free single-producer/single-consumer ring of fixed-size frames.
 *
 * Exactly one producer thread and one consumer thread may use a ring at a time.
 * The caller owns the memory: fw_ring_init() takes a block of fw_ring_memory_size()
 * bytes and never allocates or frees. A frame is an int64 timestamp (ns) followed by
 * `channels` float32 values, padded to a multiple of 8 bytes (fw_ring_frame_size()).
 * Capacity is a power of two, counted in frames; indices run freely and are masked.
 *
 * Producer side: fw_ring_write.
 * Consumer side: fw_ring_read, fw_ring_peek, fw_ring_peek_last, fw_ring_skip,
 *                fw_ring_linear_block / fw_ring_release.
 * Either side:   fw_ring_count, fw_ring_stats (a snapshot; may be stale, never torn).
 *
 * Memory ordering (the only two places data and indices meet):
 *  - The producer copies frames, then stores `head` with RELEASE; the consumer loads
 *    `head` with ACQUIRE before reading frames, so it sees every byte written before.
 *  - The consumer finishes reading frames, then stores `tail` with RELEASE; the producer
 *    loads `tail` with ACQUIRE before reusing those slots, so it never overwrites a frame
 *    that is still being read.
 * `tail` packs the read index with a BUSY bit. The consumer sets BUSY by CAS before it
 * touches frames and clears it when done; under FW_DROP_OLDEST the producer may advance
 * `tail` (discarding the oldest frames) only by CAS while BUSY is clear. A producer that
 * finds the ring full while the consumer is busy drops the new frames instead and counts
 * them, so it never waits. Counters are relaxed atomics: totals, not synchronisation.
 */
#ifndef FW_RING_H
#define FW_RING_H

#include <stddef.h>
#include <stdint.h>

typedef enum { FW_DROP_NEWEST = 0, FW_DROP_OLDEST = 1 } fw_overflow_policy;

typedef struct fw_ring fw_ring;

typedef struct {
    uint64_t written;  /* frames accepted into the ring */
    uint64_t read;     /* frames consumed (read or skipped) */
    uint64_t dropped;  /* frames lost to overflow, either policy */
    uint64_t overruns; /* write calls that could not store everything they were given */
} fw_ring_stats_t;

enum { FW_OK = 0, FW_EINVAL = -1, FW_EBUSY = -2 };

size_t fw_ring_frame_size(size_t channels);
/* Bytes to hand to fw_ring_init(); 0 when capacity is not a power of two or too big. */
size_t fw_ring_memory_size(size_t capacity, size_t channels);
/* Returns the ring (placed at the start of mem) or NULL on a bad argument. */
fw_ring *fw_ring_init(void *mem, size_t mem_size, size_t capacity, size_t channels,
                      fw_overflow_policy policy);

size_t fw_ring_capacity(const fw_ring *r);
size_t fw_ring_channels(const fw_ring *r);
size_t fw_ring_count(fw_ring *r);
void fw_ring_stats(fw_ring *r, fw_ring_stats_t *out);

/* Producer. Returns frames stored; the rest is counted in `dropped`. */
size_t fw_ring_write(fw_ring *r, const void *frames, size_t n);

/* Consumer. Each returns the number of frames it moved (0 when the ring is empty). */
size_t fw_ring_read(fw_ring *r, void *out, size_t n);
size_t fw_ring_peek(fw_ring *r, void *out, size_t offset, size_t n);
size_t fw_ring_peek_last(fw_ring *r, void *out, size_t n);
size_t fw_ring_skip(fw_ring *r, size_t n);
/* Zero-copy: points *block at the oldest frames (one contiguous run, up to the end of the
 * storage) and returns their count, holding the consumer BUSY until fw_ring_release(r, k)
 * consumes k of them (k may be 0). Returns 0 without holding anything when empty. */
size_t fw_ring_linear_block(fw_ring *r, const void **block);
int fw_ring_release(fw_ring *r, size_t consumed);

#endif
