"""TFLM's integer arithmetic in Python, for constant tables computed at build time.

An int8 op whose output depends on the input byte alone (RSQRT, ...) is generated as
a 256-entry table: each entry is what TFLM's kernel computes for that byte, with the
same fixed-point steps as gemmlowp and TFLM's common.h (double rounding), modelled
here on Python integers with int32 semantics (wrap-around where C would wrap,
saturation where gemmlowp saturates).
"""

from __future__ import annotations

INT32_MIN, INT32_MAX = -(1 << 31), (1 << 31) - 1


def wrap32(value: int) -> int:
    """``value`` as a two's complement int32 (what C's int32 arithmetic leaves)."""
    return (value + (1 << 31)) % (1 << 32) - (1 << 31)


def saturating_rounding_doubling_high_mul(a: int, b: int) -> int:
    """gemmlowp's SaturatingRoundingDoublingHighMul: (a * b * 2) >> 32, rounded half
    away from zero (the nudge, then C's division truncating toward zero)."""
    if a == b == INT32_MIN:
        return INT32_MAX
    product = a * b
    nudged = product + ((1 << 30) if product >= 0 else 1 - (1 << 30))
    quotient = abs(nudged) >> 31
    return quotient if nudged >= 0 else -quotient


def rounding_divide_by_pot(x: int, exponent: int) -> int:
    """gemmlowp's RoundingDivideByPOT: x / 2^exponent, ties away from zero."""
    mask = (1 << exponent) - 1
    remainder = x & mask
    threshold = (mask >> 1) + (1 if x < 0 else 0)
    return (x >> exponent) + (1 if remainder > threshold else 0)


def saturating_rounding_multiply_by_pot(x: int, exponent: int) -> int:
    """gemmlowp's SaturatingRoundingMultiplyByPOT: x * 2^exponent, saturating when
    exponent > 0, rounding when exponent < 0."""
    if exponent > 0:
        threshold = (1 << (31 - exponent)) - 1
        if x > threshold:
            return INT32_MAX
        if x < -threshold:
            return INT32_MIN
        return wrap32(x << exponent)
    return rounding_divide_by_pot(x, -exponent) if exponent < 0 else x


def multiply_by_quantized_multiplier(x: int, multiplier: int, shift: int) -> int:
    """TFLM's MultiplyByQuantizedMultiplier (int32 x, double rounding)."""
    left_shift, right_shift = max(shift, 0), max(-shift, 0)
    high = saturating_rounding_doubling_high_mul(wrap32(x * (1 << left_shift)), multiplier)
    return rounding_divide_by_pot(high, right_shift)


def inv_sqrt_quantized_multiplier_exp(value: int, reverse_shift: int) -> tuple[int, int]:
    """TFLM's GetInvSqrtQuantizedMultiplierExp: 1 / sqrt(value) as a Q31 multiplier and
    a shift, by five Newton-Raphson steps in gemmlowp fixed point with 3 integer bits."""
    if value <= 1:                  # 1, and 0 taken as 1 (as TFLM does)
        return INT32_MAX, 0
    shift = 11
    while value >= (1 << 29):
        value //= 4
        shift += 1
    leading_zeros = 32 - value.bit_length()
    left_shift_bit_pairs = (leading_zeros - 1) // 2 - 1
    shift -= left_shift_bit_pairs
    value <<= 2 * left_shift_bit_pairs
    # F3 numbers: raw int32 with 3 integer bits; F3 * F3 has 6, F3 * F3 * F3 has 9.
    fixed_input = value >> 1
    half_input = saturating_rounding_multiply_by_pot(fixed_input, -1)
    half_three = (1 << 28) + (1 << 27)          # 1.5
    x = 1 << 28                                 # 1.0
    for _ in range(5):
        x_cubed = saturating_rounding_multiply_by_pot(
            saturating_rounding_doubling_high_mul(
                saturating_rounding_doubling_high_mul(x, x), x), 9 - 3)
        step = wrap32(saturating_rounding_doubling_high_mul(half_three, x)
                      - saturating_rounding_doubling_high_mul(half_input, x_cubed))
        x = saturating_rounding_multiply_by_pot(step, 6 - 3)
    half_sqrt_2 = 1518500250                    # sqrt(2) / 2 with 0 integer bits
    multiplier = saturating_rounding_doubling_high_mul(x, half_sqrt_2)
    if shift < 0:
        multiplier = wrap32(multiplier << -shift)
        shift = 0
    return multiplier, shift * reverse_shift


# --- int16 (HARD_SWISH) --------------------------------------------------------------------

INT16_MIN, INT16_MAX = -(1 << 15), (1 << 15) - 1


def wrap16(value: int) -> int:
    """``value`` as a two's complement int16 (what a cast to int16_t leaves)."""
    return (value + (1 << 15)) % (1 << 16) - (1 << 15)


def saturating_rounding_doubling_high_mul_16(a: int, b: int) -> int:
    """gemmlowp's SaturatingRoundingDoublingHighMul on int16."""
    if a == b == INT16_MIN:
        return INT16_MAX
    product = a * b
    nudged = product + ((1 << 14) if product >= 0 else 1 - (1 << 14))
    quotient = abs(nudged) >> 15
    return wrap16(quotient if nudged >= 0 else -quotient)


def saturating_doubling_high_mul_16(a: int, b: int) -> int:
    """TFLM's SaturatingDoublingHighMul (hard_swish.h): like the above, but truncating
    toward zero instead of rounding."""
    if a == b == INT16_MIN:
        return INT16_MAX
    product = a * b
    quotient = abs(product) >> 15
    return wrap16(quotient if product >= 0 else -quotient)


def saturating_left_shift_16(value: int, amount: int) -> int:
    """TFLM's SaturatingLeftShift (hard_swish.h): value * 2^amount, clamped to int16."""
    return max(INT16_MIN, min(INT16_MAX, value * (1 << amount)))


def downscale_multiplier_to_int16(multiplier: int) -> int:
    """TFLM's DownScaleInt32ToInt16Multiplier: a Q31 multiplier as Q15, rounded."""
    rounding = 1 << 15
    if multiplier >= INT32_MAX - rounding:
        return INT16_MAX
    return (multiplier + rounding) >> 16
