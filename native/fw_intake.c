/* fw_intake: the device-reading thread; see fw_intake.h. */
#define _GNU_SOURCE /* pipe2 */
#include "fw_intake.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#define READ_CHUNK 4096
/* An IIO character device whose device is unregistered (a sensor unplugged, a driver
 * unbound) polls as nothing at all (iio_buffer_poll returns 0 once the device has no
 * info), while read() says ENODEV. So without data for this long the thread reads once,
 * and learns that the device is gone instead of waiting for it forever. */
#define IIO_PROBE_MS 1000

struct fw_intake {
    pthread_t thread;
    int fd;
    int wake[2]; /* self-pipe: a byte on wake[1] tells the thread to stop */
    fw_hub_decoder *hub;
    fw_iio_decoder *iio;
    _Atomic int32_t state;
    _Atomic int32_t error;
    _Atomic uint64_t reads;
    _Atomic uint64_t bytes;
};

/* The host's time of each read, for both decoders: the stream time of IIO scans without
 * a timestamp element, and how far a restarted hub's time goes on. CLOCK_BOOTTIME is the
 * clock the IIO source asks the kernel to stamp scans with. Unlike the wall clock it never
 * jumps when the time is set (a phone syncing the watch), and unlike CLOCK_MONOTONIC it
 * counts suspended time, so a suspend shows up as the gap it is (a hub, its own
 * microcontroller, runs on while the host sleeps). */
static int64_t boottime_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_BOOTTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static void finish(struct fw_intake *in, fw_intake_state state, int err) {
    atomic_store_explicit(&in->error, err, memory_order_relaxed);
    atomic_store_explicit(&in->state, (int32_t)state, memory_order_release);
}

static void *intake_main(void *arg) {
    struct fw_intake *in = arg;
    uint8_t buf[READ_CHUNK];
    for (;;) {
        struct pollfd p[2] = {{.fd = in->fd, .events = POLLIN}, {.fd = in->wake[0], .events = POLLIN}};
        int ready = poll(p, 2, in->iio ? IIO_PROBE_MS : -1);
        if (ready < 0) {
            if (errno == EINTR) continue;
            finish(in, FW_INTAKE_FAILED, errno);
            return NULL;
        }
        if (p[1].revents) {
            finish(in, FW_INTAKE_STOPPED, 0);
            return NULL;
        }
        if (p[0].revents & POLLNVAL) {
            finish(in, FW_INTAKE_FAILED, EBADF);
            return NULL;
        }
        if (!p[0].revents && ready != 0) continue; /* ready == 0: the IIO probe below */
        ssize_t n = read(in->fd, buf, sizeof buf);
        if (n > 0) {
            atomic_store_explicit(&in->reads, atomic_load_explicit(&in->reads, memory_order_relaxed) + 1,
                                  memory_order_relaxed);
            atomic_store_explicit(&in->bytes,
                                  atomic_load_explicit(&in->bytes, memory_order_relaxed) + (uint64_t)n,
                                  memory_order_relaxed);
            if (in->hub) {
                fw_hub_decoder_feed(in->hub, buf, (size_t)n, boottime_ns());
            } else {
                fw_iio_decoder_feed(in->iio, buf, (size_t)n, boottime_ns());
            }
        } else if (n == 0) {
            /* end of file only where poll said so: a probe of a FIFO (the tests' stand-in
             * for a device) that no writer has opened yet reads 0 too */
            if (ready == 0) continue;
            if (in->hub) fw_hub_decoder_finish(in->hub);
            finish(in, FW_INTAKE_ENDED, 0);
            return NULL;
        } else if (errno != EAGAIN && errno != EINTR) {
            finish(in, FW_INTAKE_FAILED, errno);
            return NULL;
        }
    }
}

static fw_intake *start(int fd, fw_hub_decoder *hub, fw_iio_decoder *iio) {
    if (fd < 0 || (hub == NULL && iio == NULL)) {
        errno = EINVAL;
        return NULL;
    }
    struct fw_intake *in = calloc(1, sizeof *in);
    if (in == NULL) return NULL;
    in->fd = fd;
    in->hub = hub;
    in->iio = iio;
    atomic_init(&in->state, FW_INTAKE_RUNNING);
    atomic_init(&in->error, 0);
    atomic_init(&in->reads, 0);
    atomic_init(&in->bytes, 0);
    if (pipe2(in->wake, O_CLOEXEC | O_NONBLOCK) != 0) {
        free(in);
        return NULL;
    }
    int rc = pthread_create(&in->thread, NULL, intake_main, in);
    if (rc != 0) {
        close(in->wake[0]);
        close(in->wake[1]);
        free(in);
        errno = rc;
        return NULL;
    }
    return in;
}

fw_intake *fw_intake_start_hub(int fd, fw_hub_decoder *decoder) { return start(fd, decoder, NULL); }
fw_intake *fw_intake_start_iio(int fd, fw_iio_decoder *decoder) { return start(fd, NULL, decoder); }

void fw_intake_status(fw_intake *in, fw_intake_status_t *out) {
    out->state = atomic_load_explicit(&in->state, memory_order_acquire);
    out->error = atomic_load_explicit(&in->error, memory_order_relaxed);
    out->reads = atomic_load_explicit(&in->reads, memory_order_relaxed);
    out->bytes = atomic_load_explicit(&in->bytes, memory_order_relaxed);
}

void fw_intake_stop(fw_intake *in) {
    if (in == NULL) return;
    const char byte = 1;
    ssize_t ignored = write(in->wake[1], &byte, 1); /* the pipe is empty: cannot block or fail */
    (void)ignored;
    pthread_join(in->thread, NULL);
    close(in->wake[0]);
    close(in->wake[1]);
    free(in);
}
