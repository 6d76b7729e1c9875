/* Ring tests: a deterministic single-thread pass (wrap-around, policies, bad arguments)
 * and a two-thread fuzz run in which every frame must arrive exactly once, in order. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../fw_ring.h"

#define CH 6
#include "check.h"

typedef struct {
    int64_t ts;
    float v[CH];
} frame_t; /* 8 + 24 = 32 bytes, equal to fw_ring_frame_size(6) */

static fw_ring *make(size_t cap, fw_overflow_policy policy, void **mem) {
    size_t sz = fw_ring_memory_size(cap, CH);
    *mem = malloc(sz);
    return fw_ring_init(*mem, sz, cap, CH, policy);
}

static void fill(frame_t *f, size_t n, int64_t first) {
    for (size_t i = 0; i < n; i++) {
        f[i].ts = first + (int64_t)i;
        for (int c = 0; c < CH; c++) f[i].v[c] = (float)(first + (int64_t)i) + (float)c * 0.25f;
    }
}

static void test_bad_arguments(void) {
    char mem[4096];
    CHECK(fw_ring_frame_size(CH) == sizeof(frame_t));
    CHECK(fw_ring_memory_size(0, CH) == 0);
    CHECK(fw_ring_memory_size(6, CH) == 0);
    CHECK(fw_ring_memory_size(8, 0) == 0);
    CHECK(fw_ring_memory_size((size_t)1 << 62, CH) == 0);
    CHECK(fw_ring_init(NULL, 4096, 8, CH, FW_DROP_NEWEST) == NULL);
    CHECK(fw_ring_init(mem, 10, 8, CH, FW_DROP_NEWEST) == NULL);
    CHECK(fw_ring_init(mem, sizeof mem, 8, CH, (fw_overflow_policy)7) == NULL);
    fw_ring *r = fw_ring_init(mem + 1, sizeof mem - 1, 8, CH, FW_DROP_NEWEST); /* unaligned */
    CHECK(r != NULL && ((uintptr_t)r % 64) == 0);
    CHECK(fw_ring_write(r, NULL, 3) == 0);
    CHECK(fw_ring_read(r, NULL, 3) == 0);
    CHECK(fw_ring_release(r, 0) == FW_EBUSY);
}

static void test_wrap_and_peek(void) {
    void *mem;
    fw_ring *r = make(8, FW_DROP_NEWEST, &mem);
    frame_t in[8], out[8];
    int64_t next = 0, expect = 0;
    for (int round = 0; round < 50; round++) { /* odd batch sizes walk across the wrap */
        size_t n = (size_t)(round % 5) + 1;
        fill(in, n, next);
        size_t w = fw_ring_write(r, in, n);
        next += (int64_t)w;
        size_t k = fw_ring_peek_last(r, out, 2);
        if (k) CHECK(out[k - 1].ts == next - 1);
        size_t got = fw_ring_read(r, out, (size_t)(round % 3) + 1);
        for (size_t i = 0; i < got; i++) {
            CHECK(out[i].ts == expect);
            CHECK(out[i].v[CH - 1] == (float)expect + 1.25f);
            expect++;
        }
    }
    /* peek at an offset and skip */
    while (fw_ring_skip(r, 100)) {}
    fill(in, 5, 1000);
    CHECK(fw_ring_write(r, in, 5) == 5);
    CHECK(fw_ring_peek(r, out, 2, 10) == 3 && out[0].ts == 1002);
    CHECK(fw_ring_peek(r, out, 5, 1) == 0);
    CHECK(fw_ring_skip(r, 2) == 2 && fw_ring_count(r) == 3);
    /* zero-copy block stops at the end of storage; release consumes part of it */
    const void *block;
    size_t k = fw_ring_linear_block(r, &block);
    CHECK(k >= 1 && k <= 3 && ((const frame_t *)block)[0].ts == 1002);
    CHECK(fw_ring_read(r, out, 1) == 0); /* consumer busy while a block is held */
    CHECK(fw_ring_release(r, k + 1) == FW_EINVAL);
    CHECK(fw_ring_release(r, 1) == FW_OK && fw_ring_count(r) == 2);
    CHECK(fw_ring_release(r, 0) == FW_EBUSY);
    free(mem);
}

static void test_policies(void) {
    void *mem;
    frame_t in[20], out[20];
    fw_ring_stats_t st;
    fw_ring *r = make(8, FW_DROP_NEWEST, &mem);
    fill(in, 20, 0);
    CHECK(fw_ring_write(r, in, 6) == 6);
    CHECK(fw_ring_write(r, in + 6, 5) == 2); /* keeps 6, 7; drops 8, 9, 10 */
    fw_ring_stats(r, &st);
    CHECK(st.dropped == 3 && st.overruns == 1 && st.written == 8);
    CHECK(fw_ring_read(r, out, 20) == 8 && out[7].ts == 7);
    free(mem);

    r = make(8, FW_DROP_OLDEST, &mem);
    CHECK(fw_ring_write(r, in, 6) == 6);
    CHECK(fw_ring_write(r, in + 6, 5) == 5); /* discards 0, 1, 2 */
    CHECK(fw_ring_count(r) == 8);
    CHECK(fw_ring_write(r, in, 20) == 8); /* larger than capacity: newest 8 survive */
    fw_ring_stats(r, &st);
    CHECK(st.dropped == 3 + 8 + 12 && st.overruns == 2);
    CHECK(fw_ring_read(r, out, 20) == 8 && out[0].ts == 12 && out[7].ts == 19);
    /* while a block is held, a full ring drops the newest frames instead */
    CHECK(fw_ring_write(r, in, 8) == 8);
    const void *block;
    CHECK(fw_ring_linear_block(r, &block) > 0);
    CHECK(fw_ring_write(r, in + 8, 2) == 0);
    CHECK(fw_ring_release(r, 0) == FW_OK);
    CHECK(fw_ring_write(r, in + 8, 2) == 2);
    CHECK(fw_ring_read(r, out, 20) == 8 && out[0].ts == 2 && out[7].ts == 9);
    free(mem);
}

#define FUZZ_FRAMES 2000000
struct fuzz {
    fw_ring *r;
    int64_t received;
    int errors;
};

static void *producer(void *arg) {
    struct fuzz *f = arg;
    frame_t batch[37];
    unsigned seed = 12345;
    int64_t next = 0;
    while (next < FUZZ_FRAMES) {
        size_t n = (size_t)(rand_r(&seed) % 37) + 1;
        if (next + (int64_t)n > FUZZ_FRAMES) n = (size_t)(FUZZ_FRAMES - next);
        fill(batch, n, next);
        size_t done = 0;
        while (done < n) done += fw_ring_write(f->r, batch + done, n - done);
        next += (int64_t)n;
    }
    return NULL;
}

static void *consumer(void *arg) {
    struct fuzz *f = arg;
    frame_t out[29];
    unsigned seed = 777;
    while (f->received < FUZZ_FRAMES) {
        size_t n = (size_t)(rand_r(&seed) % 29) + 1;
        size_t got;
        if (rand_r(&seed) % 4 == 0) { /* exercise the zero-copy path too */
            const void *block;
            got = fw_ring_linear_block(f->r, &block);
            if (got > n) got = n;
            if (got) memcpy(out, block, got * sizeof(frame_t));
            if (got || block) fw_ring_release(f->r, got);
        } else {
            got = fw_ring_read(f->r, out, n);
        }
        for (size_t i = 0; i < got; i++, f->received++) {
            if (out[i].ts != f->received || out[i].v[3] != (float)f->received + 0.75f) f->errors++;
        }
    }
    return NULL;
}

static void test_two_threads(void) {
    void *mem;
    struct fuzz f = {.r = make(64, FW_DROP_NEWEST, &mem)};
    pthread_t p, c;
    pthread_create(&c, NULL, consumer, &f);
    pthread_create(&p, NULL, producer, &f);
    pthread_join(p, NULL);
    pthread_join(c, NULL);
    CHECK(f.errors == 0);
    CHECK(f.received == FUZZ_FRAMES);
    free(mem);
}

int main(void) {
    test_bad_arguments();
    test_wrap_and_peek();
    test_policies();
    test_two_threads();
    printf("test_ring: %s\n", failures ? "FAILED" : "ok");
    return failures != 0;
}
