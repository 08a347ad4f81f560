/* The runtime's kernels with the SIMD path switched off (TF_NO_DSP), whatever the core. */
#define TF_NO_DSP
#include "portable_kernels.h"

void portable_s8_to_column(const int8_t *src, int16_t *dst, int n, int32_t offset)
{
    tf_s8_to_column(src, dst, n, offset);
}

void portable_mat_mult_s8_s16(const int8_t *weights, int rows, int depth,
                              const int16_t *column0, const int16_t *column1,
                              const tf_requant_params *q, int8_t *out0, int8_t *out1)
{
    tf_mat_mult_s8_s16(weights, rows, depth, column0, column1, q, out0, out1);
}

void portable_depthwise_tap4(const int8_t *x, const int8_t *w, int32_t offset, int32_t *acc)
{
    tf_depthwise_tap4(x, w, offset, acc);
}
