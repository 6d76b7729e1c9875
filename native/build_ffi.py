"""cffi builder (API mode, out-of-line) for fedwear's native core: ring, decoders, intake,
quantization.

setup.py names this file in ``cffi_modules``; it compiles the C sources in native/ into
``fedwear._native`` with the host or cross compiler that setuptools was given.
"""

from pathlib import Path

from cffi import FFI

HERE = Path(__file__).resolve().parent
SOURCES = ["fw_ring.c", "fw_hub.c", "fw_iio.c", "fw_intake.c", "fw_quant.c"]

CDEF = """
typedef enum { FW_DROP_NEWEST = 0, FW_DROP_OLDEST = 1 } fw_overflow_policy;
typedef struct fw_ring fw_ring;
typedef struct { uint64_t written; uint64_t read; uint64_t dropped; uint64_t overruns; }
    fw_ring_stats_t;
#define FW_OK ...
#define FW_EINVAL ...
#define FW_EBUSY ...
size_t fw_ring_frame_size(size_t channels);
size_t fw_ring_memory_size(size_t capacity, size_t channels);
fw_ring *fw_ring_init(void *mem, size_t mem_size, size_t capacity, size_t channels,
                      fw_overflow_policy policy);
size_t fw_ring_capacity(const fw_ring *r);
size_t fw_ring_channels(const fw_ring *r);
size_t fw_ring_count(fw_ring *r);
void fw_ring_stats(fw_ring *r, fw_ring_stats_t *out);
size_t fw_ring_write(fw_ring *r, const void *frames, size_t n);
size_t fw_ring_read(fw_ring *r, void *out, size_t n);
size_t fw_ring_peek(fw_ring *r, void *out, size_t offset, size_t n);
size_t fw_ring_peek_last(fw_ring *r, void *out, size_t n);
size_t fw_ring_skip(fw_ring *r, size_t n);
size_t fw_ring_linear_block(fw_ring *r, const void **block);
int fw_ring_release(fw_ring *r, size_t consumed);

#define FW_HUB_VERSION ...
#define FW_HUB_MAX_PAYLOAD ...
#define FW_HUB_MAX_SENSORS ...
#define FW_HUB_MAX_CHANNELS ...
#define FW_HUB_MAX_RATE_FACTOR ...
typedef struct {
    uint64_t bytes; uint64_t frames; uint64_t samples; uint64_t crc_errors;
    uint64_t bad_frames; uint64_t garbage_bytes; uint64_t unknown_sensor; uint64_t seq_gaps;
    uint64_t lost_frames; uint64_t lost_samples; uint64_t out_of_order; uint64_t restarts;
    uint64_t clock_steps; uint64_t off_rate_frames;
} fw_hub_stats_t;
typedef struct fw_hub_decoder fw_hub_decoder;
fw_hub_decoder *fw_hub_decoder_new(fw_ring *const *rings, size_t n_rings);
void fw_hub_decoder_free(fw_hub_decoder *d);
void fw_hub_decoder_feed(fw_hub_decoder *d, const uint8_t *data, size_t n, int64_t now_ns);
void fw_hub_decoder_finish(fw_hub_decoder *d);
void fw_hub_stats(const fw_hub_decoder *d, fw_hub_stats_t *out);
void fw_hub_decoder_expect_period(fw_hub_decoder *d, size_t sensor, uint32_t period_ns);
uint32_t fw_hub_off_period(const fw_hub_decoder *d, size_t sensor);
int fw_hub_too_far_off_rate(uint32_t period, uint32_t expected);
uint16_t fw_crc16(const uint8_t *data, size_t n);

#define FW_IIO_MAX_CHANNELS ...
typedef struct {
    uint32_t byte_offset; uint8_t storagebytes; uint8_t realbits; uint8_t shift;
    uint8_t is_signed; uint8_t big_endian; double scale; double value_offset;
} fw_iio_element;
typedef struct {
    uint32_t scan_bytes; uint32_t n_channels; fw_iio_element channels[32];
    int32_t has_timestamp; fw_iio_element timestamp; int64_t period_ns;
} fw_iio_layout;
typedef struct { uint64_t bytes; uint64_t scans; } fw_iio_stats_t;
typedef struct fw_iio_decoder fw_iio_decoder;
fw_iio_decoder *fw_iio_decoder_new(const fw_iio_layout *layout, fw_ring *ring);
void fw_iio_decoder_free(fw_iio_decoder *d);
void fw_iio_decoder_feed(fw_iio_decoder *d, const uint8_t *data, size_t n, int64_t now_ns);
void fw_iio_stats(const fw_iio_decoder *d, fw_iio_stats_t *out);

typedef enum { FW_INTAKE_RUNNING = 0, FW_INTAKE_STOPPED = 1, FW_INTAKE_ENDED = 2,
               FW_INTAKE_FAILED = 3 } fw_intake_state;
typedef struct { int32_t state; int32_t error; uint64_t reads; uint64_t bytes; }
    fw_intake_status_t;
typedef struct fw_intake fw_intake;
fw_intake *fw_intake_start_hub(int fd, fw_hub_decoder *decoder);
fw_intake *fw_intake_start_iio(int fd, fw_iio_decoder *decoder);
void fw_intake_status(fw_intake *in, fw_intake_status_t *out);
void fw_intake_stop(fw_intake *in);

int fw_quantize_i8(const float *x, size_t n, float inv_scale, int32_t zero_point, int8_t *out);
int fw_copy_finite_f32(const float *x, size_t n, float *out);
void fw_dequantize_i8(const int8_t *q, size_t n, int32_t zero_point, float scale, float *out);
"""

ffibuilder = FFI()
ffibuilder.cdef(CDEF)
ffibuilder.set_source(
    "fedwear._native",
    '#include "fw_ring.h"\n#include "fw_decode.h"\n#include "fw_intake.h"\n#include "fw_quant.h"\n',
    sources=[str(Path("native") / s) for s in SOURCES],
    include_dirs=["native"],
    extra_compile_args=["-std=c11", "-O2", "-Wall", "-Wextra", "-pthread"],
    extra_link_args=["-pthread"],
    libraries=["m"],
)

if __name__ == "__main__":
    ffibuilder.compile(verbose=True)
