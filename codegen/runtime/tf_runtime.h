/* tinyflow runtime: the integer arithmetic of the TFLite quantization spec, bit-exact
 * with TFLM's reference kernels (gemmlowp fixed point, double rounding).
 *
 * Part of tinyflow's runtime (codegen/runtime/ in tinyflow), copied verbatim into every
 * generated library. Do not edit the copy: it is replaced when the model is regenerated. */
#ifndef TF_RUNTIME_H
#define TF_RUNTIME_H

#include <stdint.h>
#include <string.h>

#if defined(__ARM_FEATURE_DSP) && __ARM_FEATURE_DSP && !defined(__ARM_BIG_ENDIAN) \
    && !defined(TF_NO_DSP)
/* Cortex-M4/M7/M33...: 16-bit SIMD multiply-accumulate (SMLAD) and friends. The kernels'
 * packed loads assume little-endian byte order; big-endian builds take the C path, and
 * so does a file defining TF_NO_DSP (the unit test compares the two paths on one core). */
#include <arm_acle.h>
#define TF_HAVE_DSP 1
#else
#define TF_HAVE_DSP 0
#endif

#define TF_INLINE static inline __attribute__((always_inline))

/* Two's complement wrap-around add/sub (signed overflow is undefined in C). */
TF_INLINE int32_t tf_add_wrap(int32_t a, int32_t b) { return (int32_t)((uint32_t)a + (uint32_t)b); }
TF_INLINE int32_t tf_sub_wrap(int32_t a, int32_t b) { return (int32_t)((uint32_t)a - (uint32_t)b); }

TF_INLINE int32_t tf_clamp(int32_t x, int32_t lo, int32_t hi)
{
    return x < lo ? lo : (x > hi ? hi : x);
}

/* round(a * b / 2^31), saturating the one overflowing case (ARM VQRDMULH). */
TF_INLINE int32_t tf_sat_rounding_doubling_high_mul(int32_t a, int32_t b)
{
    if (a == b && a == INT32_MIN) {
        return INT32_MAX;
    }
    /* TFLM adds a nudge of 2^30 (1 - 2^30 if negative) and divides truncating toward
     * zero; that equals adding 2^30 and shifting right (flooring), which is cheaper. */
    const int64_t ab = (int64_t)a * (int64_t)b;
    return (int32_t)((ab + (1LL << 30)) >> 31);
}

/* x / 2^exponent rounded to nearest, ties away from zero. */
TF_INLINE int32_t tf_rounding_divide_by_pot(int32_t x, int exponent)
{
    const int32_t mask = (int32_t)((1LL << exponent) - 1);
    const int32_t remainder = x & mask;
    const int32_t threshold = (mask >> 1) + (x < 0 ? 1 : 0);
    return (x >> exponent) + (remainder > threshold ? 1 : 0);
}

/* RoundingDivideByPOT(SaturatingRoundingDoublingHighMul(x, multiplier), right_shift) for
 * every x and multiplier except both INT32_MIN (the one saturating product), with the two
 * roundings merged into one 64-bit expression:
 *   p = x * multiplier + 2^30;  high = floor(p / 2^31)          (the rounding high-mul)
 *   RDBP(high, e) = floor((high + 2^(e-1) - [high < 0]) / 2^e)    (e >= 1)
 *                 = floor((p + (2^(e-1) - [p < 0]) * 2^31) / 2^(31+e))
 * which cannot overflow in 64 bits; the shift by 31 + e >= 32 takes the high word. */
TF_INLINE int32_t tf_scale_high_mul_rounded(int32_t x, int32_t multiplier, int right_shift)
{
    const int64_t p = (int64_t)x * multiplier + (1LL << 30);
    if (right_shift == 0) {
        return (int32_t)(p >> 31);
    }
    /* 2^(e-1) - [p < 0] is in [0, 2^30]: a 32-bit value, shifted into place. */
    const int32_t nudge = (int32_t)(1u << (right_shift - 1)) - (p < 0 ? 1 : 0);
    const int64_t rounded = p + ((int64_t)nudge << 31);
    return (int32_t)(rounded >> 32) >> (right_shift - 1);
}

/* x * multiplier * 2^(shift - 31): TFLM's MultiplyByQuantizedMultiplier. */
TF_INLINE int32_t tf_multiply_by_quantized_multiplier(int32_t x, int32_t multiplier, int shift)
{
    const int left_shift = shift > 0 ? shift : 0;
    const int right_shift = left_shift - shift;
    const int32_t shifted = (int32_t)((uint32_t)x << left_shift);
    if (shifted == INT32_MIN && multiplier == INT32_MIN) { /* the high-mul saturates */
        return tf_rounding_divide_by_pot(INT32_MAX, right_shift);
    }
    return tf_scale_high_mul_rounded(shifted, multiplier, right_shift);
}

/* Requantize an int32 accumulator to the int8 output: scale, add the output zero point,
 * clamp to the activation range. For a layer's multiplier (>= 0, never INT32_MIN), so
 * without tf_multiply_by_quantized_multiplier's saturation test. */
TF_INLINE int8_t tf_requantize_s8(int32_t acc, int32_t multiplier, int shift, int32_t output_offset,
                                  int32_t act_min, int32_t act_max)
{
    const int left_shift = shift > 0 ? shift : 0;
    const int right_shift = left_shift - shift;
    const int32_t scaled = tf_scale_high_mul_rounded((int32_t)((uint32_t)acc << left_shift),
                                                     multiplier, right_shift);
#if TF_HAVE_DSP
    /* Bounds known at compile time to be the whole int8 range: one SSAT clamps. */
    if (__builtin_constant_p(act_min) && __builtin_constant_p(act_max) && act_min == -128
        && act_max == 127) {
        return (int8_t)__ssat(scaled + output_offset, 8);
    }
#endif
    return (int8_t)tf_clamp(scaled + output_offset, act_min, act_max);
}

/* x * 2^exponent, saturating for exponent > 0, rounding for exponent < 0. */
TF_INLINE int32_t tf_sat_rounding_mul_by_pot(int32_t x, int exponent)
{
    if (exponent > 0) {
        const int32_t threshold = (int32_t)((1LL << (31 - exponent)) - 1);
        if (x > threshold) {
            return INT32_MAX;
        }
        if (x < -threshold) {
            return INT32_MIN;
        }
        return (int32_t)((uint32_t)x << exponent);
    }
    return exponent < 0 ? tf_rounding_divide_by_pot(x, -exponent) : x;
}

/* --- Fixed-point transcendental functions (Q-format raw int32 values) --- */

/* exp(a) for a in [-1/4, 0), a in Q0.31; result Q0.31. */
TF_INLINE int32_t tf_exp_on_interval_quarter(int32_t a)
{
    const int32_t constant_term = 1895147668;      /* exp(-1/8) */
    const int32_t constant_1_over_3 = 715827883;
    const int32_t x = tf_add_wrap(a, 1 << 28);      /* Taylor expansion around -1/8 */
    const int32_t x2 = tf_sat_rounding_doubling_high_mul(x, x);
    const int32_t x3 = tf_sat_rounding_doubling_high_mul(x2, x);
    const int32_t x4 = tf_sat_rounding_doubling_high_mul(x2, x2);
    const int32_t x4_over_4 = tf_rounding_divide_by_pot(x4, 2);
    const int32_t poly = tf_rounding_divide_by_pot(
        tf_add_wrap(tf_sat_rounding_doubling_high_mul(tf_add_wrap(x4_over_4, x3),
                                                      constant_1_over_3), x2), 1);
    return tf_add_wrap(constant_term,
                       tf_sat_rounding_doubling_high_mul(constant_term, tf_add_wrap(x, poly)));
}

/* exp(a) for a <= 0 with `integer_bits` integer bits; result Q0.31. */
TF_INLINE int32_t tf_exp_on_negative_values(int32_t a, int integer_bits)
{
    static const int32_t barrel_multipliers[7] = {
        1672461947, 1302514674, 790015084, 290630308, 39332535, 720401, 242,
    }; /* exp(-1/4), exp(-1/2), exp(-1), exp(-2), exp(-4), exp(-8), exp(-16) */
    const int fractional_bits = 31 - integer_bits;
    const int32_t one_quarter = (int32_t)1 << (fractional_bits - 2);
    const int32_t a_mod_quarter_minus_one_quarter = tf_sub_wrap(a & (one_quarter - 1), one_quarter);
    int32_t result = tf_exp_on_interval_quarter(
        tf_sat_rounding_mul_by_pot(a_mod_quarter_minus_one_quarter, integer_bits));
    const int32_t remainder = tf_sub_wrap(a_mod_quarter_minus_one_quarter, a);
    for (int exponent = -2; exponent <= 4; ++exponent) {
        if (integer_bits > exponent) {
            const int shift = fractional_bits + exponent;
            if (remainder & (int32_t)((uint32_t)1 << shift)) {
                result = tf_sat_rounding_doubling_high_mul(result, barrel_multipliers[exponent + 2]);
            }
        }
    }
    if (integer_bits > 5 && a < -((int32_t)1 << (36 - integer_bits))) {
        result = 0;
    }
    return a == 0 ? INT32_MAX : result;
}

/* Newton-Raphson 1 / (1 + a) for a in [0, 1) in Q0.31; x returned in Q2.29. */
TF_INLINE int32_t tf_newton_reciprocal_q2(int32_t a)
{
    const int64_t sum = (int64_t)a + INT32_MAX;
    const int32_t half_denominator = (int32_t)((sum + (sum >= 0 ? 1 : -1)) / 2);
    int32_t x = tf_add_wrap(1515870810, tf_sat_rounding_doubling_high_mul(half_denominator,
                                                                          -1010580540));
    for (int i = 0; i < 3; ++i) {
        const int32_t half_denominator_times_x = tf_sat_rounding_doubling_high_mul(half_denominator, x);
        const int32_t one_minus = tf_sub_wrap(1 << 29, half_denominator_times_x);
        x = tf_add_wrap(x, tf_sat_rounding_mul_by_pot(tf_sat_rounding_doubling_high_mul(x, one_minus), 2));
    }
    return x;
}

/* 1 / (1 + a) for a in [0, 1), Q0.31 in and out. */
TF_INLINE int32_t tf_one_over_one_plus_x(int32_t a)
{
    return tf_sat_rounding_mul_by_pot(tf_newton_reciprocal_q2(a), 1);
}

/* (1 - a) / (1 + a) for a in [0, 1), Q0.31 in and out. */
TF_INLINE int32_t tf_one_minus_x_over_one_plus_x(int32_t a)
{
    return tf_sat_rounding_mul_by_pot(tf_sub_wrap(tf_newton_reciprocal_q2(a), 1 << 29), 2);
}

/* 1 / (1 + exp(-a)), a with `integer_bits` integer bits; result Q0.31. */
TF_INLINE int32_t tf_logistic(int32_t a, int integer_bits)
{
    if (a == 0) {
        return 1 << 30;
    }
    const int32_t abs_a = a > 0 ? a : -a;
    const int32_t positive = tf_one_over_one_plus_x(tf_exp_on_negative_values(-abs_a, integer_bits));
    return a > 0 ? positive : tf_sub_wrap(INT32_MAX, positive);
}

/* tanh(a), a with `integer_bits` integer bits; result Q0.31. */
TF_INLINE int32_t tf_tanh(int32_t a, int integer_bits)
{
    if (a == 0) {
        return 0;
    }
    const int32_t negative = a < 0 ? a : -a;
    const int32_t t = tf_one_minus_x_over_one_plus_x(tf_exp_on_negative_values(negative, integer_bits + 1));
    return a < 0 ? -t : t;
}

/* Reciprocal of a positive sum with `integer_digits` integer bits, as Q0.31 scaled
 * by 2^-num_bits_over_unit. */
TF_INLINE int32_t tf_reciprocal(int32_t x, int integer_digits, int *num_bits_over_unit)
{
    const int headroom_plus_one = __builtin_clz((uint32_t)x);
    *num_bits_over_unit = integer_digits - headroom_plus_one;
    const int32_t shifted_minus_one =
        (int32_t)(((uint32_t)x << headroom_plus_one) - ((uint32_t)1 << 31));
    return tf_one_over_one_plus_x(shifted_minus_one);
}

/* x * multiplier * 2^(shift - 31) for a 64-bit accumulator (int16x8 kernels): TFLM's
 * MultiplyByQuantizedMultiplier(int64_t, ...), which first rounds the Q31 multiplier to
 * Q15 (saturating at 0x7FFF) and then rounds once: (x * m15 + 2^(14 - shift)) >> (15 - shift).
 * TFLM's range: multiplier >= 0, shift in [-31, 8), |x| < 2^47. */
TF_INLINE int32_t tf_multiply_by_quantized_multiplier_s64(int64_t x, int32_t multiplier, int shift)
{
    const int32_t reduced = multiplier < 0x7FFF0000 ? (multiplier + (1 << 15)) >> 16 : 0x7FFF;
    const int total_shift = 15 - shift;
    const int64_t rounded = x * reduced + ((int64_t)1 << (total_shift - 1));
    return (int32_t)(rounded >> total_shift);
}

/* A 513-entry int16 table over the int16 range (128 values a segment), linearly
 * interpolated and rounded: TFLM's LUTLookup(int16_t, const int16_t *), whose slope is
 * an int16. For the int16 SOFTMAX. */
TF_INLINE int16_t tf_lut_lookup_s16(int16_t value, const int16_t *table)
{
    const int index = 256 + (value >> 7);
    const int offset = value & 0x7F;
    const int16_t slope = (int16_t)(table[index + 1] - table[index]);
    return (int16_t)(table[index] + ((slope * offset + 64) >> 7));
}

#endif /* TF_RUNTIME_H */
