/* fw_quant: float32 windows into an int8 TFLite model's input tensor and its int8
 * outputs back to float32, one pass each.
 *
 * The engine (runtime/fedwear/infer/engine.py) calls these once per model call instead
 * of seven numpy operations, whose fixed cost per call outweighed the invoke of the
 * small shipped models (docs/benchmarks.md). The arithmetic is numpy's, step for step,
 * in float32: q = clamp(rint(x * inv_scale) + zero_point, -128, 127), rounding half to
 * even under the default rounding mode; and x = (q - zero_point) * scale. So the
 * results are bit for bit those of the numpy formulation the tests compare against.
 *
 * No state, no allocation, no threads: each call reads its input and writes its output.
 */
#ifndef FW_QUANT_H
#define FW_QUANT_H

#include <stddef.h>
#include <stdint.h>

/* Quantize n float32 values into out. Returns FW_OK, or FW_EINVAL (out untouched) when
 * any value is NaN or infinite; finite values beyond the int8 range clamp to its ends. */
int fw_quantize_i8(const float *x, size_t n, float inv_scale, int32_t zero_point, int8_t *out);

/* Copy n float32 values into out (a float32 model's input). Returns FW_OK, or FW_EINVAL
 * (out untouched) when any value is NaN or infinite. */
int fw_copy_finite_f32(const float *x, size_t n, float *out);

/* Dequantize n int8 values into out. */
void fw_dequantize_i8(const int8_t *q, size_t n, int32_t zero_point, float scale, float *out);

#endif
