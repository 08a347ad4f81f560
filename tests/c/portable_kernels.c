/* The runtime's kernels with the SIMD path switched off (TF_NO_DSP), whatever the core. */
#define TF_NO_DSP
#include "portable_kernels.h"

void portable_s8_to_column_pair(const int8_t *src, int16_t *dst, int n, int32_t offset)
{
    tf_s8_to_column_pair(src, dst, n, offset);
}

void portable_mat_mult_pairs(const int8_t *weights, int rows, int blocks,
                             const int16_t *columns, const tf_requant_params *q,
                             int8_t *out0, int8_t *out1)
{
    tf_mat_mult_pairs(weights, rows, blocks, columns, q, out0, out1);
}

void portable_mat_vec_quads(const int8_t *weights, int rows, int depth, const int8_t *x,
                            const tf_requant_params *q, int8_t *out)
{
    tf_mat_vec_quads(weights, rows, depth, x, q, out);
}

void portable_depthwise_tap4(const int8_t *x, const int16_t *w, int32_t offset, int32_t *acc)
{
    tf_depthwise_tap4(x, w, offset, acc);
}

void portable_sparse_table(const int8_t *x, int depth, int steps, int16_t *table)
{
    tf_sparse_table(x, depth, steps, table);
}

void portable_mat_vec_sparse24(const int8_t *weights, int rows, int steps, const int16_t *table,
                               const tf_requant_params *q, int8_t *out)
{
    tf_mat_vec_sparse24(weights, rows, steps, table, q, out);
}

void portable_mat_mult_sparse24(const int8_t *weights, int rows, int blocks, int steps,
                                const int16_t *columns, int16_t *tables,
                                const tf_requant_params *q, int8_t *out0, int8_t *out1)
{
    tf_mat_mult_sparse24(weights, rows, blocks, steps, columns, tables, q, out0, out1);
}

void portable_mat_vec_sparse24_windows(const int8_t *weights, int rows, int steps, int window,
                                       const int8_t *x, int depth, int16_t *table, int32_t *acc,
                                       const tf_requant_params *q, int8_t *out)
{
    tf_mat_vec_sparse24_windows(weights, rows, steps, window, x, depth, table, acc, q, out);
}
