/* fw_quant: see fw_quant.h. */
#include "fw_quant.h"

#include <math.h>
#include <string.h>

#include "fw_ring.h" /* FW_OK, FW_EINVAL */

static int all_finite(const float *x, size_t n) {
    for (size_t i = 0; i < n; i++) {
        if (!isfinite(x[i])) return 0;
    }
    return 1;
}

int fw_quantize_i8(const float *x, size_t n, float inv_scale, int32_t zero_point, int8_t *out) {
    if (!all_finite(x, n)) return FW_EINVAL;
    const float zp = (float)zero_point;
    for (size_t i = 0; i < n; i++) {
        /* Each step rounds to float32 on its own (C11, FLT_EVAL_METHOD 0 on x86-64 SSE
         * and aarch64), as numpy's float32 ufuncs do; nothing here can fuse. */
        const float scaled = x[i] * inv_scale;
        float q = rintf(scaled) + zp;
        /* Clamped before the conversion: a float outside int8's range converts with
         * undefined behaviour. */
        if (q < -128.0f) q = -128.0f;
        if (q > 127.0f) q = 127.0f;
        out[i] = (int8_t)q;
    }
    return FW_OK;
}

int fw_copy_finite_f32(const float *x, size_t n, float *out) {
    if (!all_finite(x, n)) return FW_EINVAL;
    memcpy(out, x, n * sizeof *x);
    return FW_OK;
}

void fw_dequantize_i8(const int8_t *q, size_t n, int32_t zero_point, float scale, float *out) {
    const float zp = (float)zero_point;
    for (size_t i = 0; i < n; i++) {
        const float centred = (float)q[i] - zp;
        out[i] = centred * scale;
    }
}
