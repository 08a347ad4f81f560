/* tinyflow runtime: the int8 kernels shared by the generated layers.
 *
 * Part of tinyflow's runtime (codegen/runtime/ in tinyflow), copied verbatim into every
 * generated library. Do not edit the copy: it is replaced when the model is regenerated.
 *
 * Every function here has two bodies: with TF_HAVE_DSP (Cortex-M4/M7/M33...) it uses the
 * 16-bit SIMD instructions SXTB16, SADD16, SMLAD, SMLABB/SMLATT; otherwise plain C that
 * computes the same integers. Host tests run the C path; on a DSP core the SIMD path runs
 * (tests/ops/ checks both against TFLM).
 *
 * Convolutions and fully connected layers reduce to dot products of int8 weight rows with
 * "columns": input values widened to int16 with the input offset already added (so a padded
 * tap, which holds the input zero point, becomes 0: exactly TFLM skipping it).
 *
 * Column layout: blocks of four values are stored as x0, x2, x1, x3 (the tail of fewer than
 * four in natural order). That is the order SXTB16 produces from four packed int8 weights
 * (bytes 0,2 then bytes 1,3), so on a DSP core one 32-bit weight load feeds two SMLADs with
 * no shuffling. The portable C path reads the same layout, so both give the same integer
 * sums (integer addition is exact, its order does not matter).
 */
#ifndef TF_KERNELS_H
#define TF_KERNELS_H

#include "tf_runtime.h"

TF_INLINE int32_t tf_load_s8x4(const int8_t *p)
{
    int32_t v;
    memcpy(&v, p, 4); /* one unaligned LDR on Cortex-M4 */
    return v;
}

TF_INLINE int32_t tf_load_s16x2(const int16_t *p)
{
    int32_t v;
    memcpy(&v, p, 4);
    return v;
}

#if TF_HAVE_DSP
/* Bytes 1 and 3 of x sign-extended to two halfwords, in one instruction. */
TF_INLINE int32_t tf_sxtb16_ror8(int32_t x)
{
    int32_t result;
    __asm__("sxtb16 %0, %1, ror #8" : "=r"(result) : "r"(x));
    return result;
}
#else
/* Portable: four column values (blocked order) times four int8 weights (natural order). */
TF_INLINE int32_t tf_dot4(const int8_t *w, const int16_t *column)
{
    return column[0] * w[0] + column[1] * w[2] + column[2] * w[1] + column[3] * w[3];
}
#endif

/* dst[0..n) = src[0..n) + offset as int16, in the blocked column layout. */
TF_INLINE void tf_s8_to_column(const int8_t *src, int16_t *dst, int n, int32_t offset)
{
    int i = 0;
#if TF_HAVE_DSP
    const int32_t offset2 = (int32_t)(((uint32_t)offset & 0xFFFFu) | ((uint32_t)offset << 16));
    for (; i + 4 <= n; i += 4) {
        const int32_t x = tf_load_s8x4(src + i);
        const int32_t even = __sadd16(__sxtb16(x), offset2);     /* x0, x2 */
        const int32_t odd = __sadd16(tf_sxtb16_ror8(x), offset2); /* x1, x3 */
        memcpy(dst + i, &even, 4);
        memcpy(dst + i + 2, &odd, 4);
    }
#else
    for (; i + 4 <= n; i += 4) {
        dst[i] = (int16_t)(src[i] + offset);
        dst[i + 1] = (int16_t)(src[i + 2] + offset);
        dst[i + 2] = (int16_t)(src[i + 1] + offset);
        dst[i + 3] = (int16_t)(src[i + 3] + offset);
    }
#endif
    for (int r = 0; r < (n & 3); ++r) { /* the last n % 4, natural order */
        dst[i + r] = (int16_t)(src[i + r] + offset);
    }
}

/* Requantization of one layer's outputs: per-row multipliers and shifts, output zero point
 * and the fused activation's clamp. */
typedef struct {
    const int32_t *bias;       /* per row, or NULL */
    const int32_t *multiplier; /* per row */
    const int8_t *shift;       /* per row */
    int32_t output_offset;
    int32_t act_min;
    int32_t act_max;
} tf_requant_params;

/* The 2x2 block of tf_mat_mult_s8_s16: weight rows w and w + depth against columns x and
 * x + depth. Addressing both rows (and both columns) from one pointer leaves enough
 * registers for the four accumulators, so the loop does not spill. */
TF_INLINE void tf_dot_2x2(const int8_t *w, const int16_t *x, int depth, int32_t *acc)
{
    int32_t acc00 = acc[0], acc01 = acc[1], acc10 = acc[2], acc11 = acc[3];
    const int8_t *const end = w + (depth & ~3);
    while (w != end) {
#if TF_HAVE_DSP
        const int32_t wa = tf_load_s8x4(w);
        const int32_t wb = tf_load_s8x4(w + depth);
        const int32_t x0_even = tf_load_s16x2(x), x0_odd = tf_load_s16x2(x + 2);
        const int32_t x1_even = tf_load_s16x2(x + depth), x1_odd = tf_load_s16x2(x + depth + 2);
        const int32_t wa_even = __sxtb16(wa), wb_even = __sxtb16(wb);
        acc00 = __smlad(wa_even, x0_even, acc00);
        acc01 = __smlad(wa_even, x1_even, acc01);
        acc10 = __smlad(wb_even, x0_even, acc10);
        acc11 = __smlad(wb_even, x1_even, acc11);
        const int32_t wa_odd = tf_sxtb16_ror8(wa), wb_odd = tf_sxtb16_ror8(wb);
        acc00 = __smlad(wa_odd, x0_odd, acc00);
        acc01 = __smlad(wa_odd, x1_odd, acc01);
        acc10 = __smlad(wb_odd, x0_odd, acc10);
        acc11 = __smlad(wb_odd, x1_odd, acc11);
#else
        acc00 += tf_dot4(w, x);
        acc01 += tf_dot4(w, x + depth);
        acc10 += tf_dot4(w + depth, x);
        acc11 += tf_dot4(w + depth, x + depth);
#endif
        w += 4;
        x += 4;
    }
    for (int n = depth & 3; n > 0; --n, ++w, ++x) {
        acc00 += w[0] * x[0];
        acc01 += w[0] * x[depth];
        acc10 += w[depth] * x[0];
        acc11 += w[depth] * x[depth];
    }
    acc[0] = acc00;
    acc[1] = acc01;
    acc[2] = acc10;
    acc[3] = acc11;
}

/* Weight rows w, w + depth, w + 2 depth, w + 3 depth against one column x: each column
 * load serves four rows (the one-column case, as a fully connected layer on one row). */
TF_INLINE void tf_dot_4x1(const int8_t *w, const int16_t *x, int depth, int32_t *acc)
{
    int32_t acc0 = acc[0], acc1 = acc[1], acc2 = acc[2], acc3 = acc[3];
    const int8_t *w1 = w + depth, *w2 = w1 + depth, *w3 = w2 + depth;
    const int16_t *const end = x + (depth & ~3);
    while (x != end) {
#if TF_HAVE_DSP
        const int32_t x_even = tf_load_s16x2(x), x_odd = tf_load_s16x2(x + 2);
        int32_t v = tf_load_s8x4(w);
        acc0 = __smlad(__sxtb16(v), x_even, acc0);
        acc0 = __smlad(tf_sxtb16_ror8(v), x_odd, acc0);
        v = tf_load_s8x4(w1);
        acc1 = __smlad(__sxtb16(v), x_even, acc1);
        acc1 = __smlad(tf_sxtb16_ror8(v), x_odd, acc1);
        v = tf_load_s8x4(w2);
        acc2 = __smlad(__sxtb16(v), x_even, acc2);
        acc2 = __smlad(tf_sxtb16_ror8(v), x_odd, acc2);
        v = tf_load_s8x4(w3);
        acc3 = __smlad(__sxtb16(v), x_even, acc3);
        acc3 = __smlad(tf_sxtb16_ror8(v), x_odd, acc3);
#else
        acc0 += tf_dot4(w, x);
        acc1 += tf_dot4(w1, x);
        acc2 += tf_dot4(w2, x);
        acc3 += tf_dot4(w3, x);
#endif
        w += 4;
        w1 += 4;
        w2 += 4;
        w3 += 4;
        x += 4;
    }
    for (int n = depth & 3; n > 0; --n, ++x) {
        acc0 += *w++ * x[0];
        acc1 += *w1++ * x[0];
        acc2 += *w2++ * x[0];
        acc3 += *w3++ * x[0];
    }
    acc[0] = acc0;
    acc[1] = acc1;
    acc[2] = acc2;
    acc[3] = acc3;
}

/* One row against one column. */
TF_INLINE int32_t tf_dot_1x1(const int8_t *w, const int16_t *x, int depth, int32_t acc)
{
    for (int n = depth >> 2; n > 0; --n) {
#if TF_HAVE_DSP
        const int32_t wa = tf_load_s8x4(w);
        acc = __smlad(__sxtb16(wa), tf_load_s16x2(x), acc);
        acc = __smlad(tf_sxtb16_ror8(wa), tf_load_s16x2(x + 2), acc);
#else
        acc += tf_dot4(w, x);
#endif
        w += 4;
        x += 4;
    }
    for (int n = depth & 3; n > 0; --n) {
        acc += *w++ * *x++;
    }
    return acc;
}

/* out[r] = requantized acc[r] for r < count (rows first_row ...). A loop of its own, so the
 * requantization constants stay in registers instead of competing with the dot products. */
TF_INLINE void tf_requantize_rows(const int32_t *acc, int count, const int32_t *multiplier,
                                  const int8_t *shift, int32_t output_offset, int32_t act_min,
                                  int32_t act_max, int8_t *out)
{
#if TF_HAVE_DSP
    if (act_min == -128 && act_max == 127) { /* no activation clamp: one SSAT saturates */
        for (int r = 0; r < count; ++r) {
            const int left_shift = shift[r] > 0 ? shift[r] : 0;
            const int32_t scaled = tf_scale_high_mul_rounded(
                (int32_t)((uint32_t)acc[r] << left_shift), multiplier[r], left_shift - shift[r]);
            out[r] = (int8_t)__ssat(scaled + output_offset, 8);
        }
        return;
    }
#endif
    for (int r = 0; r < count; ++r) {
        out[r] = tf_requantize_s8(acc[r], multiplier[r], shift[r], output_offset, act_min, act_max);
    }
}

/* Rows computed per block; their int32 sums wait in a small stack buffer. */
#define TF_MAT_MULT_BLOCK_ROWS 32

/* out[r] = requantized dot(weights row r, column) for r < rows, four rows at a time so each
 * column load serves four rows. */
__attribute__((noinline, unused))
static void tf_mat_mult_s8_s16_1col(const int8_t *weights, int rows, int depth,
                                    const int16_t *column, const tf_requant_params *q,
                                    int8_t *out)
{
    int32_t sums[TF_MAT_MULT_BLOCK_ROWS] __attribute__((aligned(4)));
    const int32_t *const bias = q->bias;
    for (int first = 0; first < rows; first += TF_MAT_MULT_BLOCK_ROWS) {
        const int count = rows - first < TF_MAT_MULT_BLOCK_ROWS ? rows - first
                                                                : TF_MAT_MULT_BLOCK_ROWS;
        const int8_t *w = weights + first * depth; /* row first + r */
        int r = 0;
        for (; r + 4 <= count; r += 4, w += 4 * depth) {
            int32_t acc[4];
            for (int i = 0; i < 4; ++i) {
                acc[i] = bias ? bias[first + r + i] : 0;
            }
            tf_dot_4x1(w, column, depth, acc);
            for (int i = 0; i < 4; ++i) {
                sums[r + i] = acc[i];
            }
        }
        for (int i = 0; i < (count & 3); ++i, w += depth) { /* the last count % 4 rows */
            sums[r + i] = tf_dot_1x1(w, column, depth, bias ? bias[first + r + i] : 0);
        }
        tf_requantize_rows(sums, count, q->multiplier + first, q->shift + first,
                           q->output_offset, q->act_min, q->act_max, out + first);
    }
}

/* out0[r] and out1[r] = requantized dot(weights row r, column0 / column1) for r < rows.
 * Weight rows are `depth` int8 values, consecutive; so are the two columns (column1 is
 * column0 + depth). Two rows and two columns are computed together, so each weight load
 * serves two columns and each column load two rows. */
__attribute__((noinline, unused))
static void tf_mat_mult_s8_s16_2col(const int8_t *weights, int rows, int depth,
                                    const int16_t *column0, const int16_t *column1,
                                    const tf_requant_params *q, int8_t *out0, int8_t *out1)
{
    /* sums[column][row in block] */
    int32_t sums[2][TF_MAT_MULT_BLOCK_ROWS] __attribute__((aligned(4)));
    const int32_t *const bias = q->bias;
    for (int first = 0; first < rows; first += TF_MAT_MULT_BLOCK_ROWS) {
        const int count = rows - first < TF_MAT_MULT_BLOCK_ROWS ? rows - first
                                                                : TF_MAT_MULT_BLOCK_ROWS;
        const int8_t *w = weights + first * depth; /* row first + r */
        int r = 0;
        for (; r + 2 <= count; r += 2, w += 2 * depth) {
            const int32_t bias0 = bias ? bias[first + r] : 0;
            const int32_t bias1 = bias ? bias[first + r + 1] : 0;
            int32_t acc[4] = { bias0, bias0, bias1, bias1 }; /* acc[2 * row + column] */
            tf_dot_2x2(w, column0, depth, acc);
            sums[0][r] = acc[0];
            sums[1][r] = acc[1];
            sums[0][r + 1] = acc[2];
            sums[1][r + 1] = acc[3];
        }
        if (r < count) { /* the last row of an odd count */
            const int32_t start = bias ? bias[first + r] : 0;
            sums[0][r] = tf_dot_1x1(w, column0, depth, start);
            sums[1][r] = tf_dot_1x1(w, column1, depth, start);
        }
        tf_requantize_rows(sums[0], count, q->multiplier + first, q->shift + first,
                           q->output_offset, q->act_min, q->act_max, out0 + first);
        tf_requantize_rows(sums[1], count, q->multiplier + first, q->shift + first,
                           q->output_offset, q->act_min, q->act_max, out1 + first);
    }
}

/* The matrix kernel of convolutions and fully connected layers: out0 gets the requantized
 * products of the weight rows with column0, out1 those with column1 (= column0 + depth), or
 * column1 and out1 are NULL for a single column. */
TF_INLINE void tf_mat_mult_s8_s16(const int8_t *weights, int rows, int depth,
                                  const int16_t *column0, const int16_t *column1,
                                  const tf_requant_params *q, int8_t *out0, int8_t *out1)
{
    if (column1) {
        tf_mat_mult_s8_s16_2col(weights, rows, depth, column0, column1, q, out0, out1);
    } else {
        tf_mat_mult_s8_s16_1col(weights, rows, depth, column0, q, out0);
    }
}

/* Depthwise convolution, one filter tap for four channels: acc[i] += (x[i] + offset) * w[i]. */
TF_INLINE void tf_depthwise_tap4(const int8_t *x, const int8_t *w, int32_t offset, int32_t *acc)
{
#if TF_HAVE_DSP
    const int32_t offset2 = (int32_t)(((uint32_t)offset & 0xFFFFu) | ((uint32_t)offset << 16));
    const int32_t xv = tf_load_s8x4(x);
    const int32_t wv = tf_load_s8x4(w);
    int32_t x_even = __sxtb16(xv);        /* channels 0, 2 */
    int32_t x_odd = tf_sxtb16_ror8(xv);   /* channels 1, 3 */
    if (offset != 0) { /* a constant: the test disappears */
        x_even = __sadd16(x_even, offset2);
        x_odd = __sadd16(x_odd, offset2);
    }
    const int32_t w_even = __sxtb16(wv);
    const int32_t w_odd = tf_sxtb16_ror8(wv);
    acc[0] = __smlabb(x_even, w_even, acc[0]);
    acc[2] = __smlatt(x_even, w_even, acc[2]);
    acc[1] = __smlabb(x_odd, w_odd, acc[1]);
    acc[3] = __smlatt(x_odd, w_odd, acc[3]);
#else
    for (int i = 0; i < 4; ++i) {
        acc[i] += (x[i] + offset) * w[i];
    }
#endif
}

#endif /* TF_KERNELS_H */
