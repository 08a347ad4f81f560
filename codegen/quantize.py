"""The integer-arithmetic "Prepare" math of the TFLite quantization spec, in Python.

Everything here runs at generation time and must produce exactly the numbers
TFLM's Prepare functions compute on the device, because the generated C bakes
them in as constants. Floats follow TFLM's types: tensor scales are float32,
products of scales are computed in double.
"""

from __future__ import annotations

import math

import numpy as np

INT8_MIN, INT8_MAX = -128, 127

# The largest left shift the kernels apply to an int32 accumulator: TFLM computes
# x * (1 << shift) in int32, and the generated C shifts a uint32_t.
MAX_LEFT_SHIFT = 31


class MultiplierRangeError(ValueError):
    """A scale ratio no Q31 multiplier and int32 shift can represent (a model whose
    scales are wildly apart); the op's prepare step reports it as unsupported."""


def round_half_away(x: float) -> float:
    """C's round(): halves go away from zero (Python's round() goes to even)."""
    return math.copysign(math.floor(abs(x) + 0.5), x)


def quantize_multiplier(real_multiplier: float) -> tuple[int, int]:
    """A double as a Q31 multiplier and a power-of-two shift (positive = left).

    real ~= multiplier * 2**(shift - 31), multiplier in [2**30, 2**31).
    """
    if real_multiplier == 0.0:
        return 0, 0
    fraction, shift = math.frexp(real_multiplier)
    q_fixed = int(round_half_away(fraction * (1 << 31)))
    assert q_fixed <= (1 << 31)
    if q_fixed == (1 << 31):
        q_fixed //= 2
        shift += 1
    if shift < -31:       # every bit would be shifted out: flush to zero
        shift, q_fixed = 0, 0
    if shift > MAX_LEFT_SHIFT:
        raise MultiplierRangeError(f"requantization multiplier {real_multiplier:.6g} needs a "
                                   f"left shift of {shift} bits; at most {MAX_LEFT_SHIFT} fit")
    return q_fixed, shift


def quantize_multipliers(real_multipliers) -> tuple[list[int], list[int]]:
    pairs = [quantize_multiplier(float(m)) for m in real_multipliers]
    return [p[0] for p in pairs], [p[1] for p in pairs]


def quantize_float(value: float, scale: float, zero_point: int) -> int:
    """zero_point + round(value / scale), the division in float32 as TFLM does."""
    return zero_point + int(round_half_away(float(np.float32(value) / np.float32(scale))))


def activation_range(activation: str, scale: float, zero_point: int,
                     qmin: int = INT8_MIN, qmax: int = INT8_MAX) -> tuple[int, int]:
    """Clamp bounds of a fused activation on a quantized output."""
    if activation in ("NONE", None):
        return qmin, qmax
    if activation == "RELU":
        return max(qmin, quantize_float(0.0, scale, zero_point)), qmax
    if activation == "RELU6":
        return (max(qmin, quantize_float(0.0, scale, zero_point)),
                min(qmax, quantize_float(6.0, scale, zero_point)))
    if activation == "RELU_N1_TO_1":
        return (max(qmin, quantize_float(-1.0, scale, zero_point)),
                min(qmax, quantize_float(1.0, scale, zero_point)))
    raise ValueError(f"fused activation {activation} is not supported")


def softmax_scaling(beta: float, input_scale: float, integer_bits: int = 5) -> tuple[int, int, int]:
    """(multiplier, left_shift, diff_min) of TFLM's int8 softmax."""
    real = min(float(np.float32(beta)) * input_scale * (1 << (31 - integer_bits)),
               float((1 << 31) - 1))
    # TFLM's QuantizeMultiplierGreaterThanOne aborts on anything else (a non-positive
    # beta, or an input scale below ~2^-26 / beta).
    if not real > 1.0:
        raise MultiplierRangeError(f"softmax input multiplier beta * scale * 2^{31 - integer_bits}"
                                   f" = {real:.6g} is not above 1, as TFLM requires")
    multiplier, left_shift = quantize_multiplier(real)
    radius = input_radius(integer_bits, left_shift)
    return multiplier, left_shift, -radius


def input_radius(integer_bits: int, left_shift: int, total_signed_bits: int = 31) -> int:
    """The largest input magnitude that does not saturate after rescaling."""
    rescaled = (1.0 * ((1 << integer_bits) - 1) * (1 << (total_signed_bits - integer_bits))
                / (1 << left_shift))
    return int(math.floor(rescaled))


def same_padding(in_size: int, filter_size: int, stride: int, dilation: int, padding: str):
    """(output size, padding before) for TFLite SAME / VALID padding."""
    effective_filter = (filter_size - 1) * dilation + 1
    if padding == "SAME":
        out_size = (in_size + stride - 1) // stride
    elif padding == "VALID":
        out_size = (in_size + stride - effective_filter) // stride
    else:
        raise ValueError(f"padding {padding}")
    total = max(0, (out_size - 1) * stride + effective_filter - in_size)
    return out_size, total // 2


def float32_hex_literal(value: float) -> str:
    """A float32 value as an exact C99 hexadecimal float literal, e.g. 0x1.8p-3f."""
    return float(np.float32(value)).hex() + "f"


def frexp_multiplier(real_multiplier: float) -> tuple[int, int]:
    """(multiplier, shift) the way TFLM's logistic/tanh Prepare computes them.

    frexp + TfLiteRound(q * 2^31), without QuantizeMultiplier's correction when the
    rounding reaches 2^31 (TFLM then overflows an int32; we refuse instead).
    """
    fraction, shift = math.frexp(real_multiplier)
    multiplier = int(round_half_away(fraction * (1 << 31)))
    if multiplier >= (1 << 31):
        raise ValueError(f"multiplier {real_multiplier!r} rounds to 2^31 and overflows int32")
    return multiplier, shift


def mean_rescale(multiplier: int, shift: int, count: int) -> tuple[int, int]:
    """Fold 1/count into a (multiplier, shift) pair as TFLM's QuantizedMeanOrSum does."""
    extra_shift = min(count.bit_length() - 1, 32, 31 + shift)
    return (multiplier << extra_shift) // count, shift - extra_shift
