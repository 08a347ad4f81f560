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

/* Column pairs: the matrix kernel multiplies weight rows with two columns at once, so the
 * two columns are interleaved in blocks of four: block k holds column 0's values 4k..4k+3
 * (8 bytes), then column 1's (8 bytes). One LDRD then loads a column's block, and one
 * pointer walks both columns. A column is `depth4` values long, depth4 = depth rounded up
 * to a multiple of 4; the packed weights are zero there, so the padding values only need
 * to be finite (they are written as 0).
 *
 * Value p of column c lives at pairs[8 * (p / 4) + 4 * c + p % 4] (blocked order inside). */

/* Values p .. p + n of one column from int8 src, offset added. dst is &pairs[2 * p + 4 * c]
 * for a p that is a multiple of 4; a last partial block is completed with zeros. */
TF_INLINE void tf_s8_to_column_pair(const int8_t *src, int16_t *dst, int n, int32_t offset)
{
    int i = 0;
#if TF_HAVE_DSP
    const int32_t offset2 = (int32_t)(((uint32_t)offset & 0xFFFFu) | ((uint32_t)offset << 16));
    for (; i + 4 <= n; i += 4, dst += 8) {
        const int32_t x = tf_load_s8x4(src + i);
        const int32_t even = __sadd16(__sxtb16(x), offset2);     /* x0, x2 */
        const int32_t odd = __sadd16(tf_sxtb16_ror8(x), offset2); /* x1, x3 */
        memcpy(dst, &even, 4);
        memcpy(dst + 2, &odd, 4);
    }
#else
    for (; i + 4 <= n; i += 4, dst += 8) {
        dst[0] = (int16_t)(src[i] + offset);
        dst[1] = (int16_t)(src[i + 2] + offset);
        dst[2] = (int16_t)(src[i + 1] + offset);
        dst[3] = (int16_t)(src[i + 3] + offset);
    }
#endif
    if (i < n) { /* the last n % 4 values, in blocked order, zeros after them */
        int16_t block[4] = { 0, 0, 0, 0 };
        static const unsigned char blocked_position[4] = { 0, 2, 1, 3 };
        for (int r = 0; i + r < n; ++r) {
            block[blocked_position[r]] = (int16_t)(src[i + r] + offset);
        }
        memcpy(dst, block, sizeof(block));
    }
}

/* Zeros for values p .. p + n of one column (n a multiple of 4; dst as above). */
TF_INLINE void tf_zero_column_pair(int16_t *dst, int n)
{
    for (int i = 0; i < n; i += 4, dst += 8) {
        memset(dst, 0, 8);
    }
}

/* Requantization of one layer's outputs: multipliers and shifts (per row, or one for the
 * layer), output zero point and the fused activation's clamp. */
typedef struct {
    const int32_t *bias;       /* per row, or NULL */
    const int32_t *multiplier; /* per row, or [0] for every row */
    const int8_t *shift;       /* per row, or [0] for every row: TFLM's shift, or, when
                                * right_shifts_only, k = -shift - 2 (tf_scale_right) */
    int32_t output_offset;
    int32_t act_min;
    int32_t act_max;
    int32_t per_row;           /* multiplier and shift per row */
    int32_t right_shifts_only; /* every shift <= -2, stored as k */
} tf_requant_params;

/* tf_multiply_by_quantized_multiplier for shift <= -2 (given as k = -shift - 2) and a
 * multiplier of TFLM's (in [2^30, 2^31)), in fewer instructions. With s = -shift, TFLM's
 * two roundings (SaturatingRoundingDoublingHighMul, then RoundingDivideByPOT) are one:
 *   floor((acc * m + 2^30 - [p < 0] * 2^31 + 2^(30 + s)) / 2^(31 + s)),   p = acc * m + 2^30,
 * and for m >= 2^30, p < 0 exactly when acc < 0 (acc = -1 with m = 2^30 gives p = 0,
 * where both forms floor to the same value). So one SMLAL from a start value of 2^30, or
 * of -2^30 if acc < 0, gives h = floor((acc * m + ...) / 2^32), and the result is
 * floor((h + 2^k) / 2^(k+1)) = ((h >> k) + 1) >> 1. */
TF_INLINE int32_t tf_scale_right(int32_t acc, int32_t multiplier, int k)
{
    const uint32_t low = ((uint32_t)acc & 0x80000000u) ^ 0x40000000u;
    const int64_t start = (int64_t)(((uint64_t)(uint32_t)(acc >> 31) << 32) | low);
    const int32_t high = (int32_t)((start + (int64_t)acc * multiplier) >> 32);
    return ((high >> k) + 1) >> 1;
}

/* The requantization constants of a layer, copied into locals by a kernel so that its
 * int8 output stores (which may alias anything) do not force reloading them. */
typedef struct {
    const int32_t *multiplier;
    const int8_t *shift;
    int32_t output_offset;
    int32_t act_min;
    int32_t act_max;
    int32_t per_row;
    int32_t right_shifts_only;
} tf_requant_locals;

TF_INLINE tf_requant_locals tf_requant_locals_of(const tf_requant_params *q)
{
    const tf_requant_locals l = { q->multiplier, q->shift, q->output_offset, q->act_min,
                                  q->act_max, q->per_row, q->right_shifts_only };
    return l;
}

/* Requantized outputs of row r for n accumulators (1 or 2: the row's two columns), sharing
 * the row's multiplier and shift. Inlined with constant parameters, a per-layer multiplier
 * and shift become immediates. */
TF_INLINE void tf_requantize_row(const int32_t *acc, int n, tf_requant_locals l, int r,
                                 int8_t *out0, int8_t *out1)
{
    const int32_t multiplier = l.multiplier[l.per_row ? r : 0];
    const int shift = l.shift[l.per_row ? r : 0];
    for (int i = 0; i < n; ++i) {
        const int32_t scaled = l.right_shifts_only
                                   ? tf_scale_right(acc[i], multiplier, shift)
                                   : tf_multiply_by_quantized_multiplier(acc[i], multiplier, shift);
        int32_t value = scaled + l.output_offset;
#if TF_HAVE_DSP
        if (l.act_min == -128 && l.act_max == 127) { /* constant after inlining: one SSAT */
            value = __ssat(value, 8);
        } else {
            value = tf_clamp(value, l.act_min, l.act_max);
        }
#else
        value = tf_clamp(value, l.act_min, l.act_max);
#endif
        *(i == 0 ? out0 : out1) = (int8_t)value;
    }
}

/* Packed weights ("row pairs", laid out at build time by codegen/ops/packing.py): rows 2i
 * and 2i + 1 interleaved in blocks of four, row 2i's values 4k..4k+3 then row 2i + 1's,
 * each row zero-padded to depth4 and an odd last row paired with a zero row. A row pair is
 * 8 * blocks bytes, blocks = depth4 / 4. */

#if TF_HAVE_DSP
/* One block: a row pair (one LDRD, four SXTB16) against both columns (two LDRDs), eight
 * SMLADs: 15 instructions for 16 multiply-accumulates. */
#define TF_PAIR_BLOCK_2X2                               \
    "ldrd   %[wa], %[wb], [%[w]], #8\n\t"               \
    "ldrd   %[xe], %[xo], [%[x]], #8\n\t"               \
    "sxtb16 %[ta], %[wa]\n\t"                           \
    "sxtb16 %[wa], %[wa], ror #8\n\t"                   \
    "smlad  %[a00], %[ta], %[xe], %[a00]\n\t"           \
    "smlad  %[a00], %[wa], %[xo], %[a00]\n\t"           \
    "sxtb16 %[tb], %[wb]\n\t"                           \
    "sxtb16 %[wb], %[wb], ror #8\n\t"                   \
    "smlad  %[a10], %[tb], %[xe], %[a10]\n\t"           \
    "smlad  %[a10], %[wb], %[xo], %[a10]\n\t"           \
    "ldrd   %[xe], %[xo], [%[x]], #8\n\t"               \
    "smlad  %[a01], %[ta], %[xe], %[a01]\n\t"           \
    "smlad  %[a01], %[wa], %[xo], %[a01]\n\t"           \
    "smlad  %[a11], %[tb], %[xe], %[a11]\n\t"           \
    "smlad  %[a11], %[wb], %[xo], %[a11]\n\t"
#define TF_PAIR_2X2_OPERANDS                                                               \
    [a00] "+r"(a00), [a01] "+r"(a01), [a10] "+r"(a10), [a11] "+r"(a11), [w] "+r"(w),       \
    [x] "+r"(x), [wa] "=&r"(wa), [wb] "=&r"(wb), [xe] "=&r"(xe), [xo] "=&r"(xo),            \
    [ta] "=&r"(ta), [tb] "=&r"(tb)
/* The same row pair against column 0 only (column 1's half of the block is skipped). */
#define TF_PAIR_BLOCK_2X1                               \
    "ldrd   %[wa], %[wb], [%[w]], #8\n\t"               \
    "ldrd   %[xe], %[xo], [%[x]], #16\n\t"              \
    "sxtb16 %[ta], %[wa]\n\t"                           \
    "sxtb16 %[wa], %[wa], ror #8\n\t"                   \
    "smlad  %[a00], %[ta], %[xe], %[a00]\n\t"           \
    "smlad  %[a00], %[wa], %[xo], %[a00]\n\t"           \
    "sxtb16 %[tb], %[wb]\n\t"                           \
    "sxtb16 %[wb], %[wb], ror #8\n\t"                   \
    "smlad  %[a10], %[tb], %[xe], %[a10]\n\t"           \
    "smlad  %[a10], %[wb], %[xo], %[a10]\n\t"
#define TF_PAIR_2X1_OPERANDS                                                               \
    [a00] "+r"(a00), [a10] "+r"(a10), [w] "+r"(w), [x] "+r"(x), [wa] "=&r"(wa),             \
    [wb] "=&r"(wb), [xe] "=&r"(xe), [xo] "=&r"(xo), [ta] "=&r"(ta), [tb] "=&r"(tb)
#endif

#if TF_HAVE_DSP
/* Runs an assembly block `blocks` times over x (the kernel's locals: w, x, blocks and the
 * block's operands): one block, two, then four an iteration, so one compare and branch
 * serves four blocks; blocks is a constant in the inlined layer, so only the steps it
 * needs remain. `stride` is how far x moves a block, in its elements. */
#define TF_RUN_BLOCKS(block, operands, stride)                                              \
    do {                                                                                    \
        if (blocks & 1) {                                                                   \
            __asm__(block : operands : : "memory");                                         \
        }                                                                                   \
        if (blocks & 2) {                                                                   \
            __asm__(block block : operands : : "memory");                                   \
        }                                                                                   \
        if (blocks >= 4) {                                                                  \
            const void *const end = x + (stride) * (blocks & ~3);                           \
            __asm__("1:\n\t" block block block block                                        \
                    "cmp    %[x], %[end]\n\t"                                               \
                    "bne    1b\n\t"                                                         \
                    : operands                                                              \
                    : [end] "r"(end)                                                        \
                    : "cc", "memory");                                                      \
        }                                                                                   \
    } while (0)

#endif

/* acc[0..3] += a row pair (w) times a column pair (x) over `blocks` blocks:
 * acc = { row a col 0, row a col 1, row b col 0, row b col 1 }. */
TF_INLINE void tf_dot_pair_2x2(const int8_t *w, const int16_t *x, int blocks, int32_t *acc)
{
#if TF_HAVE_DSP
    int32_t a00 = acc[0], a01 = acc[1], a10 = acc[2], a11 = acc[3];
    int32_t wa, wb, xe, xo, ta, tb;
    TF_RUN_BLOCKS(TF_PAIR_BLOCK_2X2, TF_PAIR_2X2_OPERANDS, 8);
    acc[0] = a00;
    acc[1] = a01;
    acc[2] = a10;
    acc[3] = a11;
#else
    for (int k = 0; k < blocks; ++k, w += 8, x += 8) {
        acc[0] += tf_dot4(w, x);
        acc[1] += tf_dot4(w, x + 4);
        acc[2] += tf_dot4(w + 4, x);
        acc[3] += tf_dot4(w + 4, x + 4);
    }
#endif
}

/* acc[0..1] += a row pair times column 0 of a column pair: acc = { row a, row b }. */
TF_INLINE void tf_dot_pair_2x1(const int8_t *w, const int16_t *x, int blocks, int32_t *acc)
{
#if TF_HAVE_DSP
    int32_t a00 = acc[0], a10 = acc[1];
    int32_t wa, wb, xe, xo, ta, tb;
    TF_RUN_BLOCKS(TF_PAIR_BLOCK_2X1, TF_PAIR_2X1_OPERANDS, 8);
    acc[0] = a00;
    acc[1] = a10;
#else
    for (int k = 0; k < blocks; ++k, w += 8, x += 8) {
        acc[0] += tf_dot4(w, x);
        acc[1] += tf_dot4(w + 4, x);
    }
#endif
}

/* The matrix kernel of convolutions and fully connected layers: out0[r] (and out1[r], if
 * out1 is not NULL) = requantized dot product of weight row r with column 0 (column 1) of
 * the column pair, for r < rows. `weights` are packed row pairs, `blocks` blocks deep.
 * Inlined into each layer, whose constants (rows, output offset, clamp, the form of the
 * requantization) then become immediates. */
TF_INLINE void tf_mat_mult_pairs(const int8_t *weights, int rows, int blocks,
                                 const int16_t *columns, const tf_requant_params *q,
                                 int8_t *out0, int8_t *out1)
{
    const int32_t *const bias = q->bias;
    const tf_requant_locals l = tf_requant_locals_of(q);
    for (int r = 0; r < rows; r += 2, weights += 8 * blocks) {
        const int has_b = r + 1 < rows;
        const int32_t bias_a = bias ? bias[r] : 0;
        const int32_t bias_b = bias && has_b ? bias[r + 1] : 0;
        if (out1) {
            int32_t acc[4] = { bias_a, bias_a, bias_b, bias_b };
            tf_dot_pair_2x2(weights, columns, blocks, acc);
            tf_requantize_row(acc, 2, l, r, out0 + r, out1 + r);
            if (has_b) {
                tf_requantize_row(acc + 2, 2, l, r + 1, out0 + r + 1, out1 + r + 1);
            }
        } else {
            int32_t acc[2] = { bias_a, bias_b };
            tf_dot_pair_2x1(weights, columns, blocks, acc);
            tf_requantize_row(acc, 1, l, r, out0 + r, 0);
            if (has_b) {
                tf_requantize_row(acc + 1, 1, l, r + 1, out0 + r + 1, 0);
            }
        }
    }
}

/* Packed weights ("row quads", codegen/ops/packing.py): rows 4i .. 4i + 3 interleaved in
 * blocks of four values (16 bytes a block), rows zero-padded to depth4 and the row count
 * to a multiple of four. For one input row read as int8, with the input offset folded
 * into the bias at build time: a fully connected layer on a single row needs no column. */

#if TF_HAVE_DSP
/* One block: four input values (one LDR, two SXTB16) against four rows (two LDRDs, eight
 * SXTB16, eight SMLADs): 21 instructions for 16 multiply-accumulates. */
#define TF_QUAD_BLOCK_4X1                               \
    "ldr    %[xe], [%[x]], #4\n\t"                      \
    "sxtb16 %[xo], %[xe], ror #8\n\t"                   \
    "sxtb16 %[xe], %[xe]\n\t"                           \
    "ldrd   %[wa], %[wb], [%[w]], #8\n\t"               \
    "sxtb16 %[t], %[wa]\n\t"                            \
    "sxtb16 %[wa], %[wa], ror #8\n\t"                   \
    "smlad  %[a0], %[t], %[xe], %[a0]\n\t"              \
    "smlad  %[a0], %[wa], %[xo], %[a0]\n\t"             \
    "sxtb16 %[t], %[wb]\n\t"                            \
    "sxtb16 %[wb], %[wb], ror #8\n\t"                   \
    "smlad  %[a1], %[t], %[xe], %[a1]\n\t"              \
    "smlad  %[a1], %[wb], %[xo], %[a1]\n\t"             \
    "ldrd   %[wa], %[wb], [%[w]], #8\n\t"               \
    "sxtb16 %[t], %[wa]\n\t"                            \
    "sxtb16 %[wa], %[wa], ror #8\n\t"                   \
    "smlad  %[a2], %[t], %[xe], %[a2]\n\t"              \
    "smlad  %[a2], %[wa], %[xo], %[a2]\n\t"             \
    "sxtb16 %[t], %[wb]\n\t"                            \
    "sxtb16 %[wb], %[wb], ror #8\n\t"                   \
    "smlad  %[a3], %[t], %[xe], %[a3]\n\t"              \
    "smlad  %[a3], %[wb], %[xo], %[a3]\n\t"
#define TF_QUAD_4X1_OPERANDS                                                               \
    [a0] "+r"(a0), [a1] "+r"(a1), [a2] "+r"(a2), [a3] "+r"(a3), [w] "+r"(w), [x] "+r"(x),   \
    [wa] "=&r"(wa), [wb] "=&r"(wb), [xe] "=&r"(xe), [xo] "=&r"(xo), [t] "=&r"(t)
#endif

/* acc[0..3] += rows 4i .. 4i + 3 (a row quad, w) times int8 x over `blocks` whole blocks. */
TF_INLINE void tf_dot_quad_4x1(const int8_t *w, const int8_t *x, int blocks, int32_t *acc)
{
#if TF_HAVE_DSP
    int32_t a0 = acc[0], a1 = acc[1], a2 = acc[2], a3 = acc[3];
    int32_t wa, wb, xe, xo, t;
    TF_RUN_BLOCKS(TF_QUAD_BLOCK_4X1, TF_QUAD_4X1_OPERANDS, 4);
    acc[0] = a0;
    acc[1] = a1;
    acc[2] = a2;
    acc[3] = a3;
#else
    for (int k = 0; k < blocks; ++k, w += 16, x += 4) {
        for (int i = 0; i < 4; ++i) {
            for (int j = 0; j < 4; ++j) {
                acc[i] += w[4 * i + j] * x[j];
            }
        }
    }
#endif
}

/* out[r] = requantized (bias[r] + dot(weight row r, x)) for r < rows, x one int8 input row
 * of `depth` values and `bias` the folded bias (the input offset times the row's weights
 * included, zero-padded to a multiple of 4 rows). `weights` are packed row quads. */
TF_INLINE void tf_mat_vec_quads(const int8_t *weights, int rows, int depth, const int8_t *x,
                             const tf_requant_params *q, int8_t *out)
{
    const int blocks = depth >> 2, tail = depth & 3;
    const int32_t *const bias = q->bias;
    const tf_requant_locals l = tf_requant_locals_of(q);
    for (int r = 0; r < rows; r += 4) {
        int32_t acc[4];
        memcpy(acc, bias + r, sizeof(acc));
        tf_dot_quad_4x1(weights, x, blocks, acc);
        weights += 16 * blocks;
        if (tail) { /* the last depth % 4 values: the block's weights beyond are zero */
            for (int i = 0; i < 4; ++i) {
                for (int j = 0; j < tail; ++j) {
                    acc[i] += weights[4 * i + j] * x[4 * blocks + j];
                }
            }
            weights += 16;
        }
        for (int i = 0; i < 4 && r + i < rows; ++i) {
            tf_requantize_row(acc + i, 1, l, r + i, out + r + i, 0);
        }
    }
}

/* Sparse rows ("2:4 sparse", codegen/ops/sparse.py): weights where every aligned group of
 * four values along the depth holds at most two non-zeros keep only two weights a group
 * and one index byte. For one int8 input row, with the input offset folded into the bias
 * as for row quads.
 *
 * The input row is first expanded into a table of eight int16 values a group,
 * x0, x2, x1, x3, x0, x1, x2, x3: every one of the six pairs of a group's values sits in
 * two adjacent entries (halfword offsets 0..6), so one 32-bit load of the table at the
 * group's offset gives the pair an SMLAD multiplies with the group's two weights. Groups
 * beyond the depth are zeros. 16 bytes a group: four times the input row.
 *
 * A row is stored in steps of eight groups (32 values), 24 bytes a step: 16 bytes of
 * weights, word j holding groups 2j and 2j + 1 as (2j low, 2j+1 low, 2j high, 2j+1 high),
 * which SXTB16 splits into group 2j's pair and (ror 8) group 2j+1's; then one byte a
 * group, 8 * (g % 16) + k: the pair's halfword offset in the table from the start of an
 * even step on (two steps: 128 entries). The low weight multiplies table[k], the high
 * one table[k + 1]. */
enum { TF_SPARSE_STEP_GROUPS = 8, TF_SPARSE_STEP_BYTES = 24, TF_SPARSE_GROUP_ENTRIES = 8 };

/* The table of int8 row x (depth values; those beyond `steps` steps are left out) for
 * `steps` steps of groups. */
TF_INLINE void tf_sparse_table(const int8_t *x, int depth, int steps, int16_t *table)
{
    const int groups = steps * TF_SPARSE_STEP_GROUPS;
    int g = 0;
#if TF_HAVE_DSP
    for (; g < groups && 4 * g + 4 <= depth; ++g, table += TF_SPARSE_GROUP_ENTRIES) {
        const int32_t v = tf_load_s8x4(x + 4 * g);
        const int32_t even = __sxtb16(v);          /* x0, x2 */
        const int32_t odd = tf_sxtb16_ror8(v);     /* x1, x3 */
        const int32_t low = (int32_t)(((uint32_t)even & 0xFFFFu) | ((uint32_t)odd << 16));
        const int32_t high = (int32_t)(((uint32_t)odd & 0xFFFF0000u) | ((uint32_t)even >> 16));
        memcpy(table, &even, 4);
        memcpy(table + 2, &odd, 4);
        memcpy(table + 4, &low, 4);
        memcpy(table + 6, &high, 4);
    }
#endif
    static const unsigned char order[TF_SPARSE_GROUP_ENTRIES] = { 0, 2, 1, 3, 0, 1, 2, 3 };
    for (; g < groups; ++g, table += TF_SPARSE_GROUP_ENTRIES) {
        for (int e = 0; e < TF_SPARSE_GROUP_ENTRIES; ++e) {
            const int d = 4 * g + order[e];
            table[e] = (int16_t)(d < depth ? x[d] : 0);
        }
    }
}

#if TF_HAVE_DSP
/* Groups 2j and 2j + 1 of a step (their weights in `word`, their index bytes at `first`
 * and `second`, offsets from the pointer already past the step): 8 instructions. */
#define TF_SPARSE_GROUP_PAIR(word, first, second)       \
    "ldrb   %[i], [%[w], #" first "]\n\t"               \
    "sxtb16 %[t], " word "\n\t"                         \
    "ldr    %[xp], [%[tab], %[i], lsl #1]\n\t"          \
    "smlad  %[acc], %[t], %[xp], %[acc]\n\t"            \
    "ldrb   %[i], [%[w], #" second "]\n\t"              \
    "sxtb16 %[t], " word ", ror #8\n\t"                 \
    "ldr    %[xp], [%[tab], %[i], lsl #1]\n\t"          \
    "smlad  %[acc], %[t], %[xp], %[acc]\n\t"
#endif

#if TF_HAVE_DSP
/* One step (8 groups): `weights` loads its first four groups' weights (wa, wb), `w4` is
 * the offset of the other four's and i0..i7 those of its index bytes from w, which the
 * first load of a loop iteration has moved past the iteration's steps. */
#define TF_SPARSE_STEP_OF(pair, weights, w4, i0, i1, i2, i3, i4, i5, i6, i7)  \
    weights                                                                  \
    pair("%[wa]", i0, i1)                                                    \
    pair("%[wb]", i2, i3)                                                    \
    "ldrd   %[wa], %[wb], [%[w], #" w4 "]\n\t"                               \
    pair("%[wa]", i4, i5)                                                    \
    pair("%[wb]", i6, i7)
#define TF_SPARSE_STEP(...) TF_SPARSE_STEP_OF(TF_SPARSE_GROUP_PAIR, __VA_ARGS__)
#define TF_SPARSE_OPERANDS                                                                  \
    [acc] "+r"(acc), [w] "+r"(w), [tab] "+r"(table), [wa] "=&r"(wa), [wb] "=&r"(wb),         \
    [t] "=&r"(t), [i] "=&r"(i), [xp] "=&r"(xp)
#endif

/* acc + one sparse row (w, `steps` steps) times the table. Index bytes count from the
 * table of an even step, so on a DSP core two steps (64 values) take 71 instructions
 * (the row quads take 86 for four rows' 16 values), a last odd step 34. */
TF_INLINE int32_t tf_dot_sparse24(const int8_t *w, const int16_t *table, int steps, int32_t acc)
{
#if TF_HAVE_DSP
    int32_t wa, wb, t, i, xp;
    if (steps >= 2) {
        const int8_t *const end = w + 2 * TF_SPARSE_STEP_BYTES * (steps >> 1);
        __asm__("1:\n\t"
                TF_SPARSE_STEP("ldrd   %[wa], %[wb], [%[w]], #48\n\t", "-40",
                               "-32", "-31", "-30", "-29", "-28", "-27", "-26", "-25")
                TF_SPARSE_STEP("ldrd   %[wa], %[wb], [%[w], #-24]\n\t", "-16",
                               "-8", "-7", "-6", "-5", "-4", "-3", "-2", "-1")
                "add    %[tab], %[tab], #256\n\t"
                "cmp    %[w], %[end]\n\t"
                "bne    1b\n\t"
                : TF_SPARSE_OPERANDS
                : [end] "r"(end)
                : "cc", "memory");
    }
    if (steps & 1) {
        __asm__(TF_SPARSE_STEP("ldrd   %[wa], %[wb], [%[w]], #24\n\t", "-16",
                               "-8", "-7", "-6", "-5", "-4", "-3", "-2", "-1")
                : TF_SPARSE_OPERANDS
                :
                : "memory");
    }
#else
    for (int s = 0; s < steps; ++s, w += TF_SPARSE_STEP_BYTES) {
        const int16_t *const window = table + 2 * 64 * (s >> 1);  /* the even step's table */
        for (int g = 0; g < TF_SPARSE_STEP_GROUPS; ++g) {
            const int8_t *const word = w + 4 * (g >> 1);
            const int k = (uint8_t)w[16 + g];
            acc += window[k] * word[g & 1] + window[k + 1] * word[2 + (g & 1)];
        }
    }
#endif
    return acc;
}

/* out[r] = requantized (bias[r] + dot(weight row r, x)) for r < rows: tf_mat_vec_quads for
 * 2:4 sparse rows, `table` the input row's table (tf_sparse_table), `steps` >= 1 steps a
 * row, `bias` the folded bias. */
TF_INLINE void tf_mat_vec_sparse24(const int8_t *weights, int rows, int steps,
                                   const int16_t *table, const tf_requant_params *q,
                                   int8_t *out)
{
    const int32_t *const bias = q->bias;
    const tf_requant_locals l = tf_requant_locals_of(q);
    for (int r = 0; r < rows; ++r, weights += TF_SPARSE_STEP_BYTES * steps) {
        const int32_t acc = tf_dot_sparse24(weights, table, steps, bias[r]);
        tf_requantize_row(&acc, 1, l, r, out + r, 0);
    }
}

/* One window of tf_mat_vec_sparse24_windows: steps s .. s + n of every row. */
TF_INLINE void tf_sparse24_window(const int8_t *weights, int rows, int steps, int s, int n,
                                  const int8_t *x, int depth, int16_t *table, int32_t *acc,
                                  const int32_t *bias)
{
    const int values = TF_SPARSE_STEP_GROUPS * 4;   /* a step's input values */
    tf_sparse_table(x + values * s, depth - values * s, n, table);
    const int8_t *w = weights + TF_SPARSE_STEP_BYTES * s;
    for (int r = 0; r < rows; ++r, w += TF_SPARSE_STEP_BYTES * steps) {
        acc[r] = tf_dot_sparse24(w, table, n, s == 0 ? bias[r] : acc[r]);
    }
}

/* tf_mat_vec_sparse24 for rows deeper than one table should be: the input row's table is
 * made `window` steps (an even number) at a time in `table`, and each row's sum carried
 * between windows in acc[r] (`rows` int32). Whole windows, then the rest, so that with
 * constant arguments every window's step count is a constant. */
TF_INLINE void tf_mat_vec_sparse24_windows(const int8_t *weights, int rows, int steps,
                                           int window, const int8_t *x, int depth,
                                           int16_t *table, int32_t *acc,
                                           const tf_requant_params *q, int8_t *out)
{
    const int whole = steps / window * window;
    for (int s = 0; s < whole; s += window) {
        tf_sparse24_window(weights, rows, steps, s, window, x, depth, table, acc, q->bias);
    }
    if (whole < steps) {
        tf_sparse24_window(weights, rows, steps, whole, steps - whole, x, depth, table, acc,
                           q->bias);
    }
    const tf_requant_locals l = tf_requant_locals_of(q);
    for (int r = 0; r < rows; ++r) {
        tf_requantize_row(acc + r, 1, l, r, out + r, 0);
    }
}

/* Two columns against sparse rows (conv and multi-row FC): the column pair (int16, offset
 * added, blocked order) becomes two tables, column 1's `64 * steps` entries after column
 * 0's; a block's x0, x2, x1, x3 already are a group's first four entries. Groups beyond
 * `blocks` are zeros. */
TF_INLINE void tf_sparse_tables_of_pair(const int16_t *pairs, int blocks, int steps,
                                        int16_t *tables)
{
    const int groups = steps * TF_SPARSE_STEP_GROUPS;
#if TF_HAVE_DSP
    /* Both columns' entries of a group from the pair's block: one LDRD, two PKHs and two
     * STRDs a column (the pair and the tables are word-aligned). */
    const int16_t *src = pairs;
    int16_t *dst0 = tables, *dst1 = tables + groups * TF_SPARSE_GROUP_ENTRIES;
    for (int g = 0; g < blocks; ++g) {
        int32_t even, odd, low, high;
        /* volatile: its effect is the stores, which gcc would drop with the pointers
         * when nothing reads those afterwards */
        __asm__ volatile("ldrd   %[e], %[o], [%[src]], #8\n\t"
                         "pkhbt  %[l], %[e], %[o], lsl #16\n\t"
                         "pkhtb  %[h], %[o], %[e], asr #16\n\t"
                         "strd   %[l], %[h], [%[d0], #8]\n\t"
                         "strd   %[e], %[o], [%[d0]], #16\n\t"
                         "ldrd   %[e], %[o], [%[src]], #8\n\t"
                         "pkhbt  %[l], %[e], %[o], lsl #16\n\t"
                         "pkhtb  %[h], %[o], %[e], asr #16\n\t"
                         "strd   %[l], %[h], [%[d1], #8]\n\t"
                         "strd   %[e], %[o], [%[d1]], #16\n\t"
                         : [e] "=&r"(even), [o] "=&r"(odd), [l] "=&r"(low), [h] "=&r"(high),
                           [src] "+r"(src), [d0] "+r"(dst0), [d1] "+r"(dst1)
                         :
                         : "memory");
    }
    memset(dst0, 0, (size_t)(groups - blocks) * TF_SPARSE_GROUP_ENTRIES * 2);
    memset(dst1, 0, (size_t)(groups - blocks) * TF_SPARSE_GROUP_ENTRIES * 2);
#else
    for (int c = 0; c < 2; ++c) {
        int16_t *table = tables + c * groups * TF_SPARSE_GROUP_ENTRIES;
        for (int g = 0; g < blocks; ++g, table += TF_SPARSE_GROUP_ENTRIES) {
            const int32_t even = tf_load_s16x2(pairs + 8 * g + 4 * c);     /* x0, x2 */
            const int32_t odd = tf_load_s16x2(pairs + 8 * g + 4 * c + 2);  /* x1, x3 */
            const int32_t low = (int32_t)(((uint32_t)even & 0xFFFFu) | ((uint32_t)odd << 16));
            const int32_t high = (int32_t)(((uint32_t)odd & 0xFFFF0000u) | ((uint32_t)even >> 16));
            memcpy(table, &even, 4);
            memcpy(table + 2, &odd, 4);
            memcpy(table + 4, &low, 4);
            memcpy(table + 6, &high, 4);
        }
        memset(table, 0, (size_t)(groups - blocks) * TF_SPARSE_GROUP_ENTRIES * 2);
    }
#endif
}

#if TF_HAVE_DSP
/* tf_dot_sparse24's group pair against two tables (t0: column 0's, t1: column 1's). */
#define TF_SPARSE_GROUP_PAIR_2(word, first, second)     \
    "ldrb   %[i], [%[w], #" first "]\n\t"               \
    "sxtb16 %[t], " word "\n\t"                         \
    "ldr    %[xp], [%[tab], %[i], lsl #1]\n\t"          \
    "smlad  %[acc], %[t], %[xp], %[acc]\n\t"            \
    "ldr    %[xp], [%[tab1], %[i], lsl #1]\n\t"         \
    "smlad  %[acc1], %[t], %[xp], %[acc1]\n\t"          \
    "ldrb   %[i], [%[w], #" second "]\n\t"              \
    "sxtb16 %[t], " word ", ror #8\n\t"                 \
    "ldr    %[xp], [%[tab], %[i], lsl #1]\n\t"          \
    "smlad  %[acc], %[t], %[xp], %[acc]\n\t"            \
    "ldr    %[xp], [%[tab1], %[i], lsl #1]\n\t"         \
    "smlad  %[acc1], %[t], %[xp], %[acc1]\n\t"
#define TF_SPARSE_OPERANDS_2                                                                \
    [acc] "+r"(a0), [acc1] "+r"(a1), [w] "+r"(w), [tab] "+r"(table0), [tab1] "+r"(table1),   \
    [wa] "=&r"(wa), [wb] "=&r"(wb), [t] "=&r"(t), [i] "=&r"(i), [xp] "=&r"(xp)
#endif

/* acc[0..1] += one sparse row times two columns' tables (tables, tables + 64 * steps):
 * on a DSP core 104 instructions per two steps, a last odd step 50. */
TF_INLINE void tf_dot_sparse24_2(const int8_t *w, const int16_t *tables, int steps,
                                 int32_t *acc)
{
#if TF_HAVE_DSP
    const int16_t *table0 = tables, *table1 = tables + 64 * steps;
    int32_t a0 = acc[0], a1 = acc[1];
    int32_t wa, wb, t, i, xp;
    if (steps >= 2) {
        const int8_t *const end = w + 2 * TF_SPARSE_STEP_BYTES * (steps >> 1);
        __asm__("1:\n\t"
                TF_SPARSE_STEP_OF(TF_SPARSE_GROUP_PAIR_2, "ldrd   %[wa], %[wb], [%[w]], #48\n\t",
                                  "-40", "-32", "-31", "-30", "-29", "-28", "-27", "-26", "-25")
                TF_SPARSE_STEP_OF(TF_SPARSE_GROUP_PAIR_2, "ldrd   %[wa], %[wb], [%[w], #-24]\n\t",
                                  "-16", "-8", "-7", "-6", "-5", "-4", "-3", "-2", "-1")
                "add    %[tab], %[tab], #256\n\t"
                "add    %[tab1], %[tab1], #256\n\t"
                "cmp    %[w], %[end]\n\t"
                "bne    1b\n\t"
                : TF_SPARSE_OPERANDS_2
                : [end] "r"(end)
                : "cc", "memory");
    }
    if (steps & 1) {
        __asm__(TF_SPARSE_STEP_OF(TF_SPARSE_GROUP_PAIR_2, "ldrd   %[wa], %[wb], [%[w]], #24\n\t",
                                  "-16", "-8", "-7", "-6", "-5", "-4", "-3", "-2", "-1")
                : TF_SPARSE_OPERANDS_2
                :
                : "memory");
    }
    acc[0] = a0;
    acc[1] = a1;
#else
    acc[0] = tf_dot_sparse24(w, tables, steps, acc[0]);
    acc[1] = tf_dot_sparse24(w, tables + 64 * steps, steps, acc[1]);
#endif
}

/* tf_mat_mult_pairs for 2:4 sparse rows (`steps` >= 1 steps a row): the column pair is
 * turned into two tables in `tables` (2 * 64 * steps entries), then out0[r] (and out1[r],
 * if out1 is not NULL) = requantized (bias[r] + row r times column 0 (column 1)). */
TF_INLINE void tf_mat_mult_sparse24(const int8_t *weights, int rows, int blocks, int steps,
                                    const int16_t *columns, int16_t *tables,
                                    const tf_requant_params *q, int8_t *out0, int8_t *out1)
{
    const int32_t *const bias = q->bias;
    const tf_requant_locals l = tf_requant_locals_of(q);
    tf_sparse_tables_of_pair(columns, blocks, steps, tables);
    for (int r = 0; r < rows; ++r, weights += TF_SPARSE_STEP_BYTES * steps) {
        const int32_t b = bias ? bias[r] : 0;
        if (out1) {
            int32_t acc[2] = { b, b };
            tf_dot_sparse24_2(weights, tables, steps, acc);
            tf_requantize_row(acc, 2, l, r, out0 + r, out1 + r);
        } else {
            const int32_t acc = tf_dot_sparse24(weights, tables, steps, b);
            tf_requantize_row(&acc, 1, l, r, out0 + r, 0);
        }
    }
}

/* Depthwise convolution, one filter tap for four channels: acc[i] += (x[i] + offset) * w[i],
 * with the tap's weights widened to int16 at build time in the order SXTB16 gives the
 * inputs (w0, w2, w1, w3: codegen/ops/packing.py), so they load as two words. */
TF_INLINE void tf_depthwise_tap4(const int8_t *x, const int16_t *w, int32_t offset, int32_t *acc)
{
#if TF_HAVE_DSP
    /* In assembly, loads included: unrolled over the taps in C, gcc would load every tap
     * first and spill them; this way registers hold one tap and the four sums. The "m"
     * operands let it address each tap as [base, #offset]. */
    int32_t xv, w_even, w_odd, x_even, x_odd;
    if (offset == 0) { /* a constant: the test disappears */
        __asm__("ldr    %[xv], %[xm]\n\t"
                "ldr    %[we], %[wem]\n\t"
                "ldr    %[wo], %[wom]\n\t"
                "sxtb16 %[xe], %[xv]\n\t"
                "sxtb16 %[xo], %[xv], ror #8\n\t"
                "smlabb %[a0], %[xe], %[we], %[a0]\n\t"
                "smlatt %[a2], %[xe], %[we], %[a2]\n\t"
                "smlabb %[a1], %[xo], %[wo], %[a1]\n\t"
                "smlatt %[a3], %[xo], %[wo], %[a3]\n\t"
                : [a0] "+r"(acc[0]), [a1] "+r"(acc[1]), [a2] "+r"(acc[2]), [a3] "+r"(acc[3]),
                  [xv] "=&r"(xv), [we] "=&r"(w_even), [wo] "=&r"(w_odd), [xe] "=&r"(x_even),
                  [xo] "=&r"(x_odd)
                : [xm] "m"(*(const int32_t *)(const void *)x),
                  [wem] "m"(*(const int32_t *)(const void *)w),
                  [wom] "m"(*(const int32_t *)(const void *)(w + 2)));
    } else {
        const int32_t offset2 = (int32_t)(((uint32_t)offset & 0xFFFFu) | ((uint32_t)offset << 16));
        __asm__("ldr    %[xv], %[xm]\n\t"
                "ldr    %[we], %[wem]\n\t"
                "ldr    %[wo], %[wom]\n\t"
                "sxtb16 %[xe], %[xv]\n\t"
                "sxtb16 %[xo], %[xv], ror #8\n\t"
                "sadd16 %[xe], %[xe], %[off]\n\t"
                "sadd16 %[xo], %[xo], %[off]\n\t"
                "smlabb %[a0], %[xe], %[we], %[a0]\n\t"
                "smlatt %[a2], %[xe], %[we], %[a2]\n\t"
                "smlabb %[a1], %[xo], %[wo], %[a1]\n\t"
                "smlatt %[a3], %[xo], %[wo], %[a3]\n\t"
                : [a0] "+r"(acc[0]), [a1] "+r"(acc[1]), [a2] "+r"(acc[2]), [a3] "+r"(acc[3]),
                  [xv] "=&r"(xv), [we] "=&r"(w_even), [wo] "=&r"(w_odd), [xe] "=&r"(x_even),
                  [xo] "=&r"(x_odd)
                : [xm] "m"(*(const int32_t *)(const void *)x),
                  [wem] "m"(*(const int32_t *)(const void *)w),
                  [wom] "m"(*(const int32_t *)(const void *)(w + 2)), [off] "r"(offset2));
    }
#else
    acc[0] += (x[0] + offset) * w[0];
    acc[1] += (x[1] + offset) * w[2];
    acc[2] += (x[2] + offset) * w[1];
    acc[3] += (x[3] + offset) * w[3];
#endif
}

#endif /* TF_KERNELS_H */
