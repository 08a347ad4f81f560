/* Unit test of tinyflow's C runtime (codegen/runtime/): the fixed-point arithmetic against
 * known values and TFLM's own formulation of it, the int8 kernels against plain loops.
 *
 * tests/test_c_runtime.py builds it for this computer (the kernels' portable C path) and
 * for a Cortex-M4 run under QEMU (their SIMD path); both builds also run the portable path
 * (portable_kernels.c) and compare it with the path compiled here. Prints one line per
 * failure and a summary; exits non-zero if anything failed. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tf_runtime.h"
#include "tf_kernels.h"
#include "portable_kernels.h"

static int checks;
static int failures;
static char context[96] = "";   /* the random case being checked, for failure messages */

static void expect(int ok, const char *what, long actual, long expected, int line)
{
    ++checks;
    if (!ok && ++failures <= 20) {
        printf("FAIL line %d %s: %s = %ld, expected %ld\n", line, context, what, actual,
               expected);
    }
}

#define EXPECT_EQ(actual, expected)                                                         \
    expect((long)(actual) == (long)(expected), #actual, (long)(actual), (long)(expected),  \
           __LINE__)
#define EXPECT_NEAR(actual, expected, tolerance)                                            \
    expect(labs((long)(actual) - (long)(expected)) <= (tolerance), #actual, (long)(actual), \
           (long)(expected), __LINE__)

/* xorshift32: the same pseudo-random numbers on every machine. */
static uint32_t random_state = 2463534242u;

static uint32_t random_u32(void)
{
    random_state ^= random_state << 13;
    random_state ^= random_state >> 17;
    random_state ^= random_state << 5;
    return random_state;
}

/* Uniform in [lo, hi], for hi - lo < 2^32 - 1. */
static int32_t random_in(int32_t lo, int32_t hi)
{
    const uint32_t span = (uint32_t)((int64_t)hi - lo) + 1u;
    return (int32_t)((int64_t)lo + random_u32() % span);
}

/* --- TFLM's formulation of the arithmetic, which the runtime rearranges for speed ------ */

/* SaturatingRoundingDoublingHighMul: a nudge, then a division truncating toward zero. */
static int32_t reference_high_mul(int32_t a, int32_t b)
{
    if (a == INT32_MIN && b == INT32_MIN) {
        return INT32_MAX;
    }
    const int64_t ab = (int64_t)a * b;
    const int64_t nudge = ab >= 0 ? (1 << 30) : (1 - (1 << 30));
    return (int32_t)((ab + nudge) / ((int64_t)1 << 31));
}

/* RoundingDivideByPOT: x / 2^exponent, to nearest, ties away from zero. */
static int32_t reference_divide_by_pot(int32_t x, int exponent)
{
    if (exponent == 0) {
        return x;
    }
    const int64_t magnitude = x < 0 ? -(int64_t)x : x;
    const int64_t rounded = (magnitude + ((int64_t)1 << (exponent - 1))) >> exponent;
    return (int32_t)(x < 0 ? -rounded : rounded);
}

/* MultiplyByQuantizedMultiplier, for x * 2^max(shift, 0) within int32. */
static int32_t reference_multiply(int32_t x, int32_t multiplier, int shift)
{
    const int left_shift = shift > 0 ? shift : 0;
    return reference_divide_by_pot(reference_high_mul(x * (1 << left_shift), multiplier),
                                   left_shift - shift);
}

/* --- the arithmetic ------------------------------------------------------------------ */

static void test_known_values(void)
{
    EXPECT_EQ(tf_clamp(200, -128, 127), 127);
    EXPECT_EQ(tf_clamp(-200, -128, 127), -128);
    EXPECT_EQ(tf_clamp(-7, -128, 127), -7);
    EXPECT_EQ(tf_clamp(INT32_MIN, 0, 6), 0);

    /* Ties round away from zero. */
    EXPECT_EQ(tf_rounding_divide_by_pot(5, 1), 3);             /* 2.5 */
    EXPECT_EQ(tf_rounding_divide_by_pot(-5, 1), -3);           /* -2.5 */
    EXPECT_EQ(tf_rounding_divide_by_pot(-6, 2), -2);           /* -1.5 */
    EXPECT_EQ(tf_rounding_divide_by_pot(-5, 2), -1);           /* -1.25 */
    EXPECT_EQ(tf_rounding_divide_by_pot(INT32_MAX, 31), 1);
    EXPECT_EQ(tf_rounding_divide_by_pot(INT32_MIN, 31), -1);

    /* round(a * b / 2^31); the nudge rounds ties up, and the one overflow saturates. */
    EXPECT_EQ(tf_sat_rounding_doubling_high_mul(3, 1 << 30), 2);     /* 1.5 */
    EXPECT_EQ(tf_sat_rounding_doubling_high_mul(-3, 1 << 30), -1);   /* -1.5 */
    EXPECT_EQ(tf_sat_rounding_doubling_high_mul(INT32_MAX, INT32_MAX), INT32_MAX - 1);
    EXPECT_EQ(tf_sat_rounding_doubling_high_mul(INT32_MIN, INT32_MAX), -INT32_MAX);
    EXPECT_EQ(tf_sat_rounding_doubling_high_mul(INT32_MIN, INT32_MIN), INT32_MAX);

    /* x * multiplier / 2^31 * 2^shift, rounded twice as TFLM does. */
    EXPECT_EQ(tf_multiply_by_quantized_multiplier(1000, 1 << 30, 0), 500);
    EXPECT_EQ(tf_multiply_by_quantized_multiplier(3, 1 << 30, 2), 6);        /* shift left first */
    EXPECT_EQ(tf_multiply_by_quantized_multiplier(100, 1518500250, -3), 9);  /* 100 * 0.7071 / 8 */
    EXPECT_EQ(tf_multiply_by_quantized_multiplier(5, 1 << 30, -1), 2);   /* 1.25: 2.5 -> 3 -> 2 */
    EXPECT_EQ(tf_multiply_by_quantized_multiplier(-5, 1 << 30, -1), -1); /* -2.5 -> -2 -> -1 */
    EXPECT_EQ(tf_multiply_by_quantized_multiplier(INT32_MIN, INT32_MIN, 0), INT32_MAX);
    EXPECT_EQ(tf_multiply_by_quantized_multiplier(INT32_MIN, INT32_MIN, -1), 1 << 30);

    /* Accumulator to int8: scale, add the zero point, clamp to the activation range. */
    EXPECT_EQ(tf_requantize_s8(1000, 1 << 30, -2, -5, -128, 127), 120);
    EXPECT_EQ(tf_requantize_s8(100000, 1 << 30, -2, -5, -128, 127), 127);
    EXPECT_EQ(tf_requantize_s8(-100000, 1 << 30, -2, -5, -128, 127), -128);
    EXPECT_EQ(tf_requantize_s8(-1000, 1 << 30, -2, -5, -5, 50), -5);   /* ReLU */
    EXPECT_EQ(tf_requantize_s8(1000, 1 << 30, -2, -5, -5, 50), 50);    /* ReLU-N */

    EXPECT_EQ(tf_sat_rounding_mul_by_pot(100, 3), 800);
    EXPECT_EQ(tf_sat_rounding_mul_by_pot(5, -1), 3);
    EXPECT_EQ(tf_sat_rounding_mul_by_pot(1 << 30, 1), INT32_MAX);
    EXPECT_EQ(tf_sat_rounding_mul_by_pot(-(1 << 30) - 1, 1), INT32_MIN);

    /* Transcendentals, Q0.31 results: exact at 0, within 2^-21 (1024 in Q0.31) of the
     * real function elsewhere. 1.0 is 1 << 26 with 5 integer bits, 1 << 27 with 4. */
    EXPECT_EQ(tf_exp_on_negative_values(0, 5), INT32_MAX);
    EXPECT_NEAR(tf_exp_on_negative_values(-(1 << 26), 5), 790015084, 1024);   /* exp(-1) */
    EXPECT_EQ(tf_logistic(0, 4), 1 << 30);
    EXPECT_NEAR(tf_logistic(1 << 27, 4), 1569936343, 1024);     /* 1 / (1 + exp(-1)) */
    EXPECT_NEAR(tf_logistic(-(1 << 27), 4), 577547305, 1024);   /* 1 / (1 + exp(1)) */
    EXPECT_EQ(tf_tanh(0, 4), 0);
    EXPECT_NEAR(tf_tanh(1 << 27, 4), 1635510996, 1024);         /* tanh(1) */
    EXPECT_NEAR(tf_tanh(-(1 << 27), 4), -1635510996, 1024);
}

/* The runtime's merged rounding (one 64-bit expression) against TFLM's two steps. */
static void test_multiply_against_reference(void)
{
    static const int32_t edges[] = {
        0, 1, -1, 2, -2, 12345, -12345, 1 << 30, -(1 << 30), INT32_MAX, INT32_MAX - 1,
        INT32_MIN, INT32_MIN + 1,
    };
    const int count = (int)(sizeof(edges) / sizeof(edges[0]));
    for (int shift = -31; shift <= 0; ++shift) {
        for (int i = 0; i < count; ++i) {
            for (int j = 0; j < count; ++j) {
                snprintf(context, sizeof(context), "(x %ld, multiplier %ld, shift %d)",
                         (long)edges[i], (long)edges[j], shift);
                EXPECT_EQ(tf_multiply_by_quantized_multiplier(edges[i], edges[j], shift),
                          reference_multiply(edges[i], edges[j], shift));
            }
        }
    }
    for (int n = 0; n < 100000; ++n) {
        const int shift = random_in(-31, 7);
        /* x * 2^shift must fit in int32 for TFLM's formula to be defined */
        const int32_t limit = shift > 0 ? (INT32_MAX >> shift) : INT32_MAX;
        const int32_t x = random_in(-limit, limit);
        const int32_t multiplier = random_in(0, INT32_MAX);
        const int32_t output_offset = random_in(-128, 127);
        snprintf(context, sizeof(context), "(x %ld, multiplier %ld, shift %d)", (long)x,
                 (long)multiplier, shift);
        EXPECT_EQ(tf_multiply_by_quantized_multiplier(x, multiplier, shift),
                  reference_multiply(x, multiplier, shift));
        EXPECT_EQ(tf_requantize_s8(x, multiplier, shift, output_offset, -128, 127),
                  tf_clamp(reference_multiply(x, multiplier, shift) + output_offset, -128, 127));
    }
    context[0] = '\0';
}

/* --- the kernels ------------------------------------------------------------------------ */

static void test_column_layout(void)
{
    /* Blocks of four in the order x0, x2, x1, x3 (what SXTB16 gives), 8 values apart (the
     * other column of the pair between them); the tail block completed with zeros. */
    static const int8_t src[7] = { -128, 127, -1, 0, 5, 6, 7 };
    static const int16_t expected[12] = { 0, 127, 255, 128, -1, -1, -1, -1, 133, 135, 134, 0 };
    int16_t pair[12], portable[12];
    for (int i = 0; i < 12; ++i) {
        pair[i] = portable[i] = -1;
    }
    tf_s8_to_column_pair(src, pair, 7, 128);
    portable_s8_to_column_pair(src, portable, 7, 128);
    for (int i = 0; i < 12; ++i) {
        EXPECT_EQ(pair[i], expected[i]);
        EXPECT_EQ(portable[i], expected[i]);
    }
}

/* The short requantization (every shift <= -2) against TFLM's two steps. */
static void test_scale_right(void)
{
    static const int32_t edges[] = { 0, 1, -1, 2, -2, 12345, -12345, 1 << 30, -(1 << 30),
                                     INT32_MAX, INT32_MAX - 1, INT32_MIN, INT32_MIN + 1 };
    const int count = (int)(sizeof(edges) / sizeof(edges[0]));
    for (int shift = -31; shift <= -2; ++shift) {
        for (int i = 0; i < count; ++i) {
            for (int j = 0; j < 4; ++j) {
                static const int32_t multipliers[4] = { 1 << 30, (1 << 30) + 1, 1518500250,
                                                        INT32_MAX };
                const int32_t multiplier = multipliers[j];
                snprintf(context, sizeof(context), "(x %ld, multiplier %ld, shift %d)",
                         (long)edges[i], (long)multiplier, shift);
                EXPECT_EQ(tf_scale_right(edges[i], multiplier, -shift - 2),
                          reference_multiply(edges[i], multiplier, shift));
            }
        }
    }
    for (int n = 0; n < 100000; ++n) {
        const int shift = random_in(-31, -2);
        const int32_t x = n % 2 ? (int32_t)random_u32() : random_in(-100000, 100000);
        const int32_t multiplier = random_in(1 << 30, INT32_MAX);
        snprintf(context, sizeof(context), "(x %ld, multiplier %ld, shift %d)", (long)x,
                 (long)multiplier, shift);
        EXPECT_EQ(tf_scale_right(x, multiplier, -shift - 2), reference_multiply(x, multiplier, shift));
    }
    context[0] = '\0';
}

enum { MAX_ROWS = 67, MAX_DEPTH = 40, MAX_BLOCKS = (MAX_DEPTH + 3) / 4 };

/* Packing as codegen/ops/packing.py does it: `group` rows (2: row pairs, 4: row quads)
 * interleaved in blocks of four, zero-padded. */
static void pack_rows(const int8_t *weights, int rows, int depth, int group, int8_t *packed)
{
    const int blocks = (depth + 3) / 4;
    const int padded_rows = (rows + group - 1) / group * group;
    for (int g = 0; g < padded_rows / group; ++g) {
        for (int k = 0; k < blocks; ++k) {
            for (int i = 0; i < group; ++i) {
                for (int j = 0; j < 4; ++j) {
                    const int row = g * group + i, d = 4 * k + j;
                    *packed++ = row < rows && d < depth ? weights[row * depth + d] : 0;
                }
            }
        }
    }
}

/* One random layer through tf_mat_mult_pairs (two columns, then one) and tf_mat_vec_quads,
 * against plain loops and against the portable path. */
static void test_mat_mult_case(int rows, int depth, int with_bias, int relu, int right_only)
{
    const int blocks = (depth + 3) / 4;
    int8_t weights[MAX_ROWS * MAX_DEPTH], input[2 * MAX_DEPTH];
    int8_t pairs[(MAX_ROWS + 1) * 4 * MAX_BLOCKS] __attribute__((aligned(4)));
    int8_t quads[(MAX_ROWS + 3) * 4 * MAX_BLOCKS] __attribute__((aligned(4)));
    int32_t bias[MAX_ROWS], folded[MAX_ROWS + 3], multiplier[MAX_ROWS];
    int8_t shift[MAX_ROWS], stored_shift[MAX_ROWS];
    int16_t columns[8 * MAX_BLOCKS] __attribute__((aligned(4)));
    int16_t portable_columns[8 * MAX_BLOCKS] __attribute__((aligned(4)));
    int8_t out[2][MAX_ROWS], portable_out[2][MAX_ROWS], single[MAX_ROWS], vec[MAX_ROWS],
        portable_vec[MAX_ROWS];

    for (int i = 0; i < rows * depth; ++i) {
        weights[i] = (int8_t)random_in(-128, 127);
    }
    for (int i = 0; i < 2 * depth; ++i) {
        input[i] = (int8_t)random_in(-128, 127);
    }
    const int32_t input_offset = random_in(-127, 128);  /* minus the input zero point */
    for (int r = 0; r < rows; ++r) {
        bias[r] = random_in(-(1 << 16), 1 << 16);
        multiplier[r] = random_in(1 << 30, INT32_MAX);   /* a normalized scale in [0.5, 1) */
        shift[r] = (int8_t)(right_only ? random_in(-15, -2) : random_in(-15, 1));
        /* what codegen/ops/packing.py stores: k = -shift - 2 for the shorter form */
        stored_shift[r] = (int8_t)(right_only ? -shift[r] - 2 : shift[r]);
        folded[r] = with_bias ? bias[r] : 0;
        for (int k = 0; k < depth; ++k) {
            folded[r] += input_offset * weights[r * depth + k];
        }
    }
    for (int r = rows; r < rows + 3; ++r) {
        folded[r] = 0; /* padded to a multiple of 4 rows, as the generator does */
    }
    const int32_t output_offset = random_in(-128, 127);
    const int32_t act_min = relu ? output_offset : -128;
    const int32_t act_max = relu ? random_in(output_offset, 127) : 127;
    const tf_requant_params q = { with_bias ? bias : NULL, multiplier, stored_shift,
                                  output_offset, act_min, act_max, 1, right_only };
    const tf_requant_params q_folded = { folded, multiplier, stored_shift, output_offset,
                                         act_min, act_max, 1, right_only };
    snprintf(context, sizeof(context), "(rows %d, depth %d, bias %d, relu %d, right %d)", rows,
             depth, with_bias, relu, right_only);

    pack_rows(weights, rows, depth, 2, pairs);
    pack_rows(weights, rows, depth, 4, quads);
    tf_s8_to_column_pair(input, columns, depth, input_offset);
    tf_s8_to_column_pair(input + depth, columns + 4, depth, input_offset);
    tf_mat_mult_pairs(pairs, rows, blocks, columns, &q, out[0], out[1]);
    tf_mat_mult_pairs(pairs, rows, blocks, columns, &q, single, NULL);
    tf_mat_vec_quads(quads, rows, depth, input, &q_folded, vec);
    portable_s8_to_column_pair(input, portable_columns, depth, input_offset);
    portable_s8_to_column_pair(input + depth, portable_columns + 4, depth, input_offset);
    portable_mat_mult_pairs(pairs, rows, blocks, portable_columns, &q, portable_out[0],
                            portable_out[1]);
    portable_mat_vec_quads(quads, rows, depth, input, &q_folded, portable_vec);

    for (int i = 0; i < 8 * blocks; ++i) {
        EXPECT_EQ(columns[i], portable_columns[i]);
    }
    for (int c = 0; c < 2; ++c) {
        for (int r = 0; r < rows; ++r) {
            int32_t acc = with_bias ? bias[r] : 0;
            for (int k = 0; k < depth; ++k) {
                acc += weights[r * depth + k] * (input[c * depth + k] + input_offset);
            }
            const int32_t expected = tf_clamp(
                reference_multiply(acc, multiplier[r], shift[r]) + output_offset, act_min, act_max);
            EXPECT_EQ(out[c][r], expected);
            EXPECT_EQ(portable_out[c][r], expected);
            if (c == 0) {
                EXPECT_EQ(single[r], expected);
                EXPECT_EQ(vec[r], expected);
                EXPECT_EQ(portable_vec[r], expected);
            }
        }
    }
}

static void test_mat_mult(void)
{
    /* Row counts around the row pairs and quads; depths around the blocks of 4 and the
     * two-block steps of the SIMD loops. */
    static const int rows[] = { 1, 2, 3, 4, 5, 7, 31, 32, 33, 67 };
    static const int depths[] = { 1, 2, 3, 4, 5, 8, 11, 12, 16, 27, 40 };
    for (int i = 0; i < (int)(sizeof(rows) / sizeof(rows[0])); ++i) {
        for (int j = 0; j < (int)(sizeof(depths) / sizeof(depths[0])); ++j) {
            for (int variant = 0; variant < 8; ++variant) {
                test_mat_mult_case(rows[i], depths[j], variant & 1, (variant >> 1) & 1,
                                   variant >> 2);
            }
        }
    }
    context[0] = '\0';
}

enum {
    SPARSE_MAX_ROWS = 17,
    SPARSE_MAX_DEPTH = 160,
    SPARSE_MAX_BLOCKS = (SPARSE_MAX_DEPTH + 3) / 4,
    SPARSE_MAX_STEPS = (SPARSE_MAX_DEPTH + 31) / 32
};

/* Packing as codegen/ops/sparse.py does it: per row, steps of eight groups of four values,
 * 16 bytes of weights (word j: groups 2j and 2j + 1 as 2j low, 2j+1 low, 2j high, 2j+1
 * high) then one index byte a group, 8 * (g % 16) + k for the row's group g, k the first
 * table offset whose pair of positions (x0, x2, x1, x3, x0, x1, x2, x3) covers the group's
 * non-zeros. */
static void pack_sparse(const int8_t *weights, int rows, int depth, int8_t *packed)
{
    static const int order[8] = { 0, 2, 1, 3, 0, 1, 2, 3 };
    const int steps = (depth + 31) / 32;
    for (int r = 0; r < rows; ++r) {
        for (int s = 0; s < steps; ++s, packed += TF_SPARSE_STEP_BYTES) {
            for (int g = 0; g < 8; ++g) {
                int8_t value[4];
                for (int j = 0; j < 4; ++j) {
                    const int d = 32 * s + 4 * g + j;
                    value[j] = d < depth ? weights[r * depth + d] : 0;
                }
                int k = 0;
                for (; k < 7; ++k) {
                    int covered = 1;
                    for (int j = 0; j < 4; ++j) {
                        covered &= value[j] == 0 || j == order[k] || j == order[k + 1];
                    }
                    if (covered) {
                        break;
                    }
                }
                packed[4 * (g >> 1) + (g & 1)] = value[order[k]];
                packed[4 * (g >> 1) + 2 + (g & 1)] = value[order[k + 1]];
                packed[16 + g] = (int8_t)(8 * ((8 * s + g) % 16) + k);
            }
        }
    }
}

/* One random 2:4 sparse layer (groups of 0, 1 or 2 non-zeros) through tf_sparse_table and
 * tf_mat_vec_sparse24, against plain loops and against the portable path. */
static void test_sparse_case(int rows, int depth, int relu, int right_only)
{
    const int steps = (depth + 31) / 32;
    int8_t weights[SPARSE_MAX_ROWS * SPARSE_MAX_DEPTH], input[2 * SPARSE_MAX_DEPTH];
    int8_t packed[SPARSE_MAX_ROWS * TF_SPARSE_STEP_BYTES * SPARSE_MAX_STEPS]
        __attribute__((aligned(4)));
    int16_t table[64 * SPARSE_MAX_STEPS] __attribute__((aligned(4)));
    int16_t portable_table[64 * SPARSE_MAX_STEPS] __attribute__((aligned(4)));
    int16_t columns[8 * SPARSE_MAX_BLOCKS] __attribute__((aligned(4)));
    int16_t tables[2 * 64 * SPARSE_MAX_STEPS] __attribute__((aligned(4)));
    int16_t portable_tables[2 * 64 * SPARSE_MAX_STEPS] __attribute__((aligned(4)));
    int8_t pair_out[2][SPARSE_MAX_ROWS], portable_pair_out[2][SPARSE_MAX_ROWS],
        single[SPARSE_MAX_ROWS];
    int32_t bias[SPARSE_MAX_ROWS], folded[SPARSE_MAX_ROWS], multiplier[SPARSE_MAX_ROWS];
    int8_t shift[SPARSE_MAX_ROWS], stored_shift[SPARSE_MAX_ROWS];
    int8_t out[SPARSE_MAX_ROWS], portable_out[SPARSE_MAX_ROWS];

    for (int i = 0; i < rows * depth; ++i) {
        weights[i] = 0;
    }
    for (int r = 0; r < rows; ++r) {
        for (int g = 0; 4 * g < depth; ++g) {
            const int kept = random_in(0, 2);   /* 2:4, 1:4 or an empty group */
            for (int n = 0; n < kept; ++n) {
                const int d = 4 * g + random_in(0, 3);
                if (d < depth) {
                    weights[r * depth + d] = (int8_t)random_in(-128, 127);
                }
            }
        }
    }
    for (int i = 0; i < 2 * depth; ++i) {
        input[i] = (int8_t)random_in(-128, 127);
    }
    const int32_t input_offset = random_in(-127, 128);
    for (int r = 0; r < rows; ++r) {
        multiplier[r] = random_in(1 << 30, INT32_MAX);
        shift[r] = (int8_t)(right_only ? random_in(-15, -2) : random_in(-15, 1));
        stored_shift[r] = (int8_t)(right_only ? -shift[r] - 2 : shift[r]);
        folded[r] = bias[r] = random_in(-(1 << 16), 1 << 16);
        for (int k = 0; k < depth; ++k) {
            folded[r] += input_offset * weights[r * depth + k];
        }
    }
    const int32_t output_offset = random_in(-128, 127);
    const int32_t act_min = relu ? output_offset : -128;
    const int32_t act_max = relu ? random_in(output_offset, 127) : 127;
    const tf_requant_params q = { folded, multiplier, stored_shift, output_offset,
                                  act_min, act_max, 1, right_only };
    const tf_requant_params q_columns = { bias, multiplier, stored_shift, output_offset,
                                          act_min, act_max, 1, right_only };
    snprintf(context, sizeof(context), "(sparse rows %d, depth %d, relu %d, right %d)", rows,
             depth, relu, right_only);

    pack_sparse(weights, rows, depth, packed);
    tf_sparse_table(input, depth, steps, table);
    tf_mat_vec_sparse24(packed, rows, steps, table, &q, out);
    portable_sparse_table(input, depth, steps, portable_table);
    portable_mat_vec_sparse24(packed, rows, steps, portable_table, &q, portable_out);
    /* windows of two steps (a row deeper than one table), the last one possibly short */
    int8_t windowed[SPARSE_MAX_ROWS], portable_windowed[SPARSE_MAX_ROWS];
    int32_t sums[SPARSE_MAX_ROWS];
    tf_mat_vec_sparse24_windows(packed, rows, steps, 2, input, depth, table, sums, &q, windowed);
    portable_mat_vec_sparse24_windows(packed, rows, steps, 2, input, depth, portable_table, sums,
                                      &q, portable_windowed);
    /* two columns (conv, multi-row FC): int16 with the offset, from a column pair */
    const int blocks = (depth + 3) / 4;
    tf_s8_to_column_pair(input, columns, depth, input_offset);
    tf_s8_to_column_pair(input + depth, columns + 4, depth, input_offset);
    tf_mat_mult_sparse24(packed, rows, blocks, steps, columns, tables, &q_columns, pair_out[0],
                         pair_out[1]);
    portable_mat_mult_sparse24(packed, rows, blocks, steps, columns, portable_tables,
                               &q_columns, portable_pair_out[0], portable_pair_out[1]);
    for (int i = 0; i < 2 * 64 * steps; ++i) {
        EXPECT_EQ(tables[i], portable_tables[i]);
    }
    tf_mat_mult_sparse24(packed, rows, blocks, steps, columns, tables, &q_columns, single, NULL);

    for (int i = 0; i < 64 * steps; ++i) {
        EXPECT_EQ(table[i], portable_table[i]);
    }
    for (int r = 0; r < rows; ++r) {
        int32_t acc = folded[r];
        for (int k = 0; k < depth; ++k) {
            acc += weights[r * depth + k] * input[k];   /* the offset is in the bias */
        }
        const int32_t expected = tf_clamp(
            reference_multiply(acc, multiplier[r], shift[r]) + output_offset, act_min, act_max);
        EXPECT_EQ(out[r], expected);
        EXPECT_EQ(portable_out[r], expected);
        EXPECT_EQ(single[r], expected);
        EXPECT_EQ(windowed[r], expected);
        EXPECT_EQ(portable_windowed[r], expected);
        for (int c = 0; c < 2; ++c) {
            int32_t column_acc = bias[r];
            for (int k = 0; k < depth; ++k) {
                column_acc += weights[r * depth + k] * (input[c * depth + k] + input_offset);
            }
            const int32_t column_expected =
                tf_clamp(reference_multiply(column_acc, multiplier[r], shift[r]) + output_offset,
                         act_min, act_max);
            EXPECT_EQ(pair_out[c][r], column_expected);
            EXPECT_EQ(portable_pair_out[c][r], column_expected);
        }
    }
}

/* The tables of a column pair with constant sizes and no padding groups, as a generated
 * layer inlines it: the stores must survive though nothing reads the pointers after them
 * (gcc dropped a non-volatile asm's stores there). */
static void test_sparse_tables_constant_sizes(void)
{
    int16_t columns[8 * 16] __attribute__((aligned(4)));
    int16_t tables[2 * 64 * 2] __attribute__((aligned(4)));
    static const int order[8] = { 0, 2, 1, 3, 0, 1, 2, 3 };   /* a group's entries */
    static const int blocked[4] = { 0, 2, 1, 3 };             /* a block's values */
    for (int i = 0; i < 8 * 16; ++i) {
        columns[i] = (int16_t)random_in(-255, 255);
    }
    memset(tables, 0x55, sizeof(tables));
    tf_sparse_tables_of_pair(columns, 16, 2, tables);           /* 16 blocks = 2 steps */
    for (int c = 0; c < 2; ++c) {
        for (int g = 0; g < 16; ++g) {
            for (int e = 0; e < 8; ++e) {
                /* value p of the group in column c is at columns[8 g + 4 c + position] */
                int position = 0;
                while (blocked[position] != order[e]) {
                    ++position;
                }
                EXPECT_EQ(tables[c * 128 + 8 * g + e], columns[8 * g + 4 * c + position]);
            }
        }
    }
}

static void test_sparse(void)
{
    /* Depths around the groups of four and the steps of 32 values. */
    static const int rows[] = { 1, 2, 3, 17 };
    static const int depths[] = { 1, 3, 4, 5, 31, 32, 33, 64, 65, 96, 100, 129, 160 };
    for (int i = 0; i < (int)(sizeof(rows) / sizeof(rows[0])); ++i) {
        for (int j = 0; j < (int)(sizeof(depths) / sizeof(depths[0])); ++j) {
            for (int variant = 0; variant < 4; ++variant) {
                test_sparse_case(rows[i], depths[j], variant & 1, variant >> 1);
            }
        }
    }
    context[0] = '\0';
}

static void test_depthwise_tap(void)
{
    for (int n = 0; n < 1000; ++n) {
        int8_t x[4], w[4];
        int16_t blocked[4] __attribute__((aligned(4)));  /* w0, w2, w1, w3 as int16 */
        int32_t acc[4], portable[4], expected[4];
        /* offset 0 is a branch of its own in the SIMD path */
        const int32_t offset = n % 4 == 0 ? 0 : random_in(-127, 128);
        for (int i = 0; i < 4; ++i) {
            x[i] = (int8_t)random_in(-128, 127);
            w[i] = (int8_t)random_in(-128, 127);
            acc[i] = portable[i] = random_in(-(1 << 20), 1 << 20);
            expected[i] = acc[i] + (x[i] + offset) * w[i];
        }
        blocked[0] = w[0];
        blocked[1] = w[2];
        blocked[2] = w[1];
        blocked[3] = w[3];
        tf_depthwise_tap4(x, blocked, offset, acc);
        portable_depthwise_tap4(x, blocked, offset, portable);
        for (int i = 0; i < 4; ++i) {
            EXPECT_EQ(acc[i], expected[i]);
            EXPECT_EQ(portable[i], expected[i]);
        }
    }
}

/* int16x8 arithmetic: TFLM's 64-bit MultiplyByQuantizedMultiplier (the multiplier rounded
 * to Q15 first, saturating at 0x7FFF; one rounding, halves up) at its shift range's ends,
 * and the interpolating int16 table lookup of the int16 SOFTMAX. */
static void test_int16x8_arithmetic(void)
{
    const int32_t half = 1 << 30;                       /* 0.5 in Q31: 16384 in Q15 */
    EXPECT_EQ(tf_multiply_by_quantized_multiplier_s64(1000, half, 0), 500);
    EXPECT_EQ(tf_multiply_by_quantized_multiplier_s64(1001, half, 0), 501);   /* 500.5 -> 501 */
    EXPECT_EQ(tf_multiply_by_quantized_multiplier_s64(-1001, half, 0), -500); /* -500.5 -> -500 */
    EXPECT_EQ(tf_multiply_by_quantized_multiplier_s64(3, half, 7), 192);      /* 3 * 0.5 * 2^7 */
    EXPECT_EQ(tf_multiply_by_quantized_multiplier_s64((int64_t)1 << 20, INT32_MAX, 0), 1048544);
    EXPECT_EQ(tf_multiply_by_quantized_multiplier_s64(((int64_t)1 << 47) - 1, INT32_MAX, -31), 65534);
    EXPECT_EQ(tf_multiply_by_quantized_multiplier_s64(-((int64_t)1 << 47), INT32_MAX, -31), -65534);

    int16_t table[513];
    for (int i = 0; i < 513; ++i) {
        table[i] = (int16_t)(2 * i);
    }
    EXPECT_EQ(tf_lut_lookup_s16(0, table), 512);
    EXPECT_EQ(tf_lut_lookup_s16(-1, table), 512);       /* 510 + (2 * 127 + 64) >> 7 */
    EXPECT_EQ(tf_lut_lookup_s16(100, table), 514);
    EXPECT_EQ(tf_lut_lookup_s16(-32768, table), 0);
    EXPECT_EQ(tf_lut_lookup_s16(32767, table), 1024);   /* 1022 + (2 * 127 + 64) >> 7 */
}

int main(void)
{
    test_known_values();
    test_multiply_against_reference();
    test_column_layout();
    test_scale_right();
    test_mat_mult();
    test_sparse();
    test_sparse_tables_constant_sizes();
    test_depthwise_tap();
    test_int16x8_arithmetic();
    printf("test_runtime (kernels: %s): %d checks, %d failures\n",
           TF_HAVE_DSP ? "SIMD path" : "portable C path", checks, failures);
    return failures ? 1 : 0;
}
