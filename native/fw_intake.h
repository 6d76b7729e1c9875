/* fw_intake: a C thread that reads a device file descriptor (serial tty, IIO character
 * device, FIFO) and feeds one decoder, so intake never waits for the Python consumer.
 *
 * The intake thread is the only producer of the decoder's rings while it runs. It does not
 * own the descriptor or the decoder: the caller closes/frees them after fw_intake_stop().
 * Status fields are relaxed atomics: a stale but untorn snapshot from any thread.
 */
#ifndef FW_INTAKE_H
#define FW_INTAKE_H

#include <stdint.h>

#include "fw_decode.h"

typedef enum {
    FW_INTAKE_RUNNING = 0,
    FW_INTAKE_STOPPED = 1, /* fw_intake_stop() asked it to */
    FW_INTAKE_ENDED = 2,   /* the descriptor reached end of file */
    FW_INTAKE_FAILED = 3   /* read/poll failed (e.g. EIO: the tty vanished); see error */
} fw_intake_state;

typedef struct {
    int32_t state;
    int32_t error; /* errno for FW_INTAKE_FAILED, else 0 */
    uint64_t reads;
    uint64_t bytes;
} fw_intake_status_t;

typedef struct fw_intake fw_intake;

/* Start a thread over fd, which should be non-blocking (O_NONBLOCK): the IIO thread reads
 * after a second without data, to learn whether its device is gone, and a blocking read
 * there would hold fw_intake_stop() until data came. Returns NULL with errno set when the
 * thread cannot start. */
fw_intake *fw_intake_start_hub(int fd, fw_hub_decoder *decoder);
fw_intake *fw_intake_start_iio(int fd, fw_iio_decoder *decoder);
void fw_intake_status(fw_intake *in, fw_intake_status_t *out);
/* Wake the thread, join it and free it. Safe after the thread ended on its own. */
void fw_intake_stop(fw_intake *in);

#endif
