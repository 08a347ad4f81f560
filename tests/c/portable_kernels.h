/* The kernels' portable C path, compiled in a file of its own (portable_kernels.c) so that
 * the unit test can compare it with the path the compiler picks for the core: on a
 * Cortex-M4 that is the SIMD path (SXTB16, SMLAD, SSAT). */
#ifndef PORTABLE_KERNELS_H
#define PORTABLE_KERNELS_H

#include "tf_kernels.h"

void portable_s8_to_column_pair(const int8_t *src, int16_t *dst, int n, int32_t offset);
void portable_mat_mult_pairs(const int8_t *weights, int rows, int blocks,
                             const int16_t *columns, const tf_requant_params *q,
                             int8_t *out0, int8_t *out1);
void portable_mat_vec_quads(const int8_t *weights, int rows, int depth, const int8_t *x,
                            const tf_requant_params *q, int8_t *out);
void portable_depthwise_tap4(const int8_t *x, const int16_t *w, int32_t offset, int32_t *acc);
void portable_sparse_table(const int8_t *x, int depth, int steps, int16_t *table);
void portable_mat_vec_sparse24(const int8_t *weights, int rows, int steps, const int16_t *table,
                               const tf_requant_params *q, int8_t *out);
void portable_mat_mult_sparse24(const int8_t *weights, int rows, int blocks, int steps,
                                const int16_t *columns, int16_t *tables,
                                const tf_requant_params *q, int8_t *out0, int8_t *out1);
void portable_mat_vec_sparse24_windows(const int8_t *weights, int rows, int steps, int window,
                                       const int8_t *x, int depth, int16_t *table, int32_t *acc,
                                       const tf_requant_params *q, int8_t *out);

#endif /* PORTABLE_KERNELS_H */
