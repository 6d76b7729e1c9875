#define _POSIX_C_SOURCE 199309L /* clock_gettime under -std=c11 */
/* Ring throughput against its limit, in one process: a write + read cycle of the ring moves
 * a batch twice (in, out), so the baseline is two memcpy of the same batch through a buffer
 * of the ring's size, at the same advancing offsets. Usage: ring_bench BATCH_BYTES ITERS */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../../native/fw_ring.h"

#define CH 6

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

int main(int argc, char **argv) {
    size_t batch_bytes = argc > 1 ? (size_t)atol(argv[1]) : 4096;
    long iters = argc > 2 ? atol(argv[2]) : 1000000;
    size_t fs = fw_ring_frame_size(CH), n = batch_bytes / fs, cap = 4096;
    unsigned char *src = malloc(n * fs), *dst = malloc(n * fs), *store = malloc(cap * fs);
    for (size_t i = 0; i < n * fs; i++) src[i] = (unsigned char)i;
    size_t mem_size = fw_ring_memory_size(cap, CH);
    void *mem = malloc(mem_size);
    fw_ring *r = fw_ring_init(mem, mem_size, cap, CH, FW_DROP_NEWEST);
    unsigned sink = 0;
    double best_copy = 1e9, best_ring = 1e9;
    for (int rep = 0; rep < 5; rep++) { /* best of 5, alternating, to damp noise */
        double t0 = now();
        size_t off = 0;
        for (long i = 0; i < iters; i++) {
            size_t first = (cap - off) < n ? cap - off : n;
            memcpy(store + off * fs, src, first * fs);
            memcpy(store, src + first * fs, (n - first) * fs);
            memcpy(dst, store + off * fs, first * fs);
            memcpy(dst + first * fs, store, (n - first) * fs);
            off = (off + n) % cap;
            sink += dst[i % (n * fs)];
        }
        double t1 = now();
        for (long i = 0; i < iters; i++) {
            fw_ring_write(r, src, n);
            fw_ring_read(r, dst, n);
            sink += dst[i % (n * fs)];
        }
        double t2 = now();
        if (t1 - t0 < best_copy) best_copy = t1 - t0;
        if (t2 - t1 < best_ring) best_ring = t2 - t1;
    }
    double bytes = (double)iters * (double)(n * fs);
    printf("batch %zu bytes (%zu frames of %zu channels)\n", n * fs, n, (size_t)CH);
    printf("memcpy x2 (limit)   %8.2f GB/s\n", bytes / best_copy / 1e9);
    printf("fw_ring write+read  %8.2f GB/s\n", bytes / best_ring / 1e9);
    printf("ratio ring/memcpy   %8.2f  (sink %u)\n", best_copy / best_ring, sink & 1);
    free(src); free(dst); free(store); free(mem);
    return 0;
}
