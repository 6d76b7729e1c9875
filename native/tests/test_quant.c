/* Quantization tests: rounding, clamping at both ends, the extremes of float32, and
 * non-finite input refused with the output untouched. Run under ASan + UBSan: a float
 * converted to int8 outside its range would be undefined behaviour, which UBSan's
 * float-cast-overflow check is not on by default for, so the clamp is checked here. */
#include <float.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "../fw_quant.h"
#include "../fw_ring.h"
#include "check.h"

static void test_rounding_and_clamping(void) {
    /* scale 0.5 (inv 2), zero point -10: q = rint(2x) - 10, half to even. */
    const float x[] = {0.0f, 0.25f, 0.75f, -0.25f, 1.25f, 5.0f, -5.0f, 100.0f, -100.0f,
                       FLT_MAX, -FLT_MAX, FLT_MIN, -0.0f, 1e-45f};
    const int8_t want[] = {-10, -10, -8, -10, -8, 0, -20, 127, -128, 127, -128, -10, -10, -10};
    enum { N = sizeof x / sizeof x[0] };
    int8_t out[N];
    CHECK(fw_quantize_i8(x, N, 2.0f, -10, out) == FW_OK);
    for (size_t i = 0; i < N; i++) {
        if (out[i] != want[i]) fprintf(stderr, "x=%g: got %d, want %d\n", x[i], out[i], want[i]);
        CHECK(out[i] == want[i]);
    }
}

static void test_non_finite_is_refused_untouched(void) {
    const float bad[3][4] = {
        {0.0f, 1.0f, NAN, 2.0f}, {INFINITY, 0.0f, 0.0f, 0.0f}, {0.0f, 0.0f, 0.0f, -INFINITY}};
    for (int k = 0; k < 3; k++) {
        int8_t out[4];
        memset(out, 0x5a, sizeof out);
        CHECK(fw_quantize_i8(bad[k], 4, 1.0f, 0, out) == FW_EINVAL);
        for (int i = 0; i < 4; i++) CHECK(out[i] == 0x5a);
        float copy[4] = {7.0f, 7.0f, 7.0f, 7.0f};
        CHECK(fw_copy_finite_f32(bad[k], 4, copy) == FW_EINVAL);
        for (int i = 0; i < 4; i++) CHECK(copy[i] == 7.0f);
    }
    int8_t none = 3;
    CHECK(fw_quantize_i8(bad[0], 0, 1.0f, 0, &none) == FW_OK && none == 3);
}

static void test_copy_and_dequantize(void) {
    const float x[] = {1.5f, -2.25f, 0.0f, FLT_MAX};
    float copy[4];
    CHECK(fw_copy_finite_f32(x, 4, copy) == FW_OK);
    CHECK(memcmp(copy, x, sizeof x) == 0);
    const int8_t q[] = {-128, -1, 0, 127};
    float out[4];
    fw_dequantize_i8(q, 4, -128, 1.0f / 256.0f, out);
    CHECK(out[0] == 0.0f && out[1] == 127.0f / 256.0f && out[3] == 255.0f / 256.0f);
    CHECK(out[2] == 128.0f / 256.0f);
}

static void test_every_int8_round_trips(void) {
    /* Every int8 value, dequantized and quantized again, comes back as itself. */
    int8_t q[256], back[256];
    float x[256];
    for (int i = 0; i < 256; i++) q[i] = (int8_t)(i - 128);
    fw_dequantize_i8(q, 256, 3, 0.1f, x);
    CHECK(fw_quantize_i8(x, 256, 1.0f / 0.1f, 3, back) == FW_OK);
    for (int i = 0; i < 256; i++) {
        /* (-128 - 3) * 0.1 and (127 - 3) * 0.1 quantize back inside int8: no clamping. */
        CHECK(back[i] == q[i]);
    }
}

int main(void) {
    test_rounding_and_clamping();
    test_non_finite_is_refused_untouched();
    test_copy_and_dequantize();
    test_every_int8_round_trips();
    printf("test_quant: %s\n", failures ? "FAILED" : "ok");
    return failures != 0;
}
