"""Unary int8 ops whose output depends on the input byte alone, generated as a table.

For each of the 256 input values prepare computes the output the way TFLM's kernel
computes it (its integer steps modelled in codegen/fixedpoint.py); the C is one
table lookup per element (lookup_table.c.j2).

- RSQRT (elementwise.cc, RsqrtEvalQuantized): x = input - zero point; 0 gives 127;
  otherwise 1 / sqrt(x) by gemmlowp's Newton-Raphson, scaled by
  1 / (sqrt(input scale) * output scale) with 20 bits of headroom. TFLM refuses
  (fails the invoke on) an input below the zero point, a negative real: the table
  holds, for those, what the same steps give (TFLM's inverse square root takes every
  value <= 1 as 1).
- HARD_SWISH (hard_swish_common.cc, reference_ops::HardSwish): x * relu6(x + 3) / 6
  in int16 fixed point: the input on a "hires" scale (x 128), a Q15 output multiplier
  and a saturating "relu-ish" factor in [0, 1], multiplied with a truncating
  high-mul; the multipliers computed in float32 as TFLM's Prepare does.
"""

import numpy as np

from tinyflow.codegen.fixedpoint import (INT16_MAX, INT16_MIN, downscale_multiplier_to_int16,
                                         inv_sqrt_quantized_multiplier_exp,
                                         multiply_by_quantized_multiplier,
                                         rounding_divide_by_pot, saturating_doubling_high_mul_16,
                                         saturating_left_shift_16,
                                         saturating_rounding_doubling_high_mul_16, wrap16)
from tinyflow.codegen.ops.base import Layer, Prepared, register
from tinyflow.codegen.quantize import INT8_MAX, INT8_MIN, quantize_multiplier

INT8_VALUES = range(INT8_MIN, INT8_MAX + 1)


def _int8_tensors(layer: Layer):
    x, y = layer.input(0), layer.output()
    layer.require_dtype(x, "input", "int8")
    layer.require_dtype(y, "output", "int8")
    layer.require_per_tensor(x, "input")
    layer.require_per_tensor(y, "output")
    layer.require_not_constant(x, "input")
    return x, y


def _lookup(layer: Layer, x, y, outputs) -> Prepared:
    """The layer as a table of the outputs of every int8 input, -128 first."""
    table = [max(INT8_MIN, min(INT8_MAX, value)) for value in outputs]
    return layer.prepared("lookup_table.c.j2", variant="lookup_table",
                          tables=[layer.table("table", "int8_t", table)], x=x, y=y)


@register("RSQRT")
def rsqrt(layer: Layer) -> Prepared:
    x, y = _int8_tensors(layer)
    headroom = 20
    # TFLM: 1 / double(sqrt(float input scale) * float output scale).
    product = np.sqrt(np.float32(x.scale)) * np.float32(y.scale)
    multiplier, shift = quantize_multiplier(1.0 / float(product))

    def output(q: int) -> int:
        value = q - x.zero_point
        if value == 0:
            return INT8_MAX           # TFLM: "any value close to 0 represents the max"
        inv_multiplier, inv_shift = inv_sqrt_quantized_multiplier_exp(value, -1)
        scaled = multiply_by_quantized_multiplier(1, inv_multiplier, inv_shift + headroom)
        return multiply_by_quantized_multiplier(scaled, multiplier,
                                                shift - headroom) + y.zero_point

    return _lookup(layer, x, y, [output(q) for q in INT8_VALUES])


@register("HARD_SWISH")
def hard_swish(layer: Layer) -> Prepared:
    x, y = _int8_tensors(layer)
    hires_input_scale = np.float32(1.0 / 128.0) * np.float32(x.scale)
    reluish_scale = np.float32(3.0 / 32768.0)
    output_multiplier, output_exponent = quantize_multiplier(
        float(hires_input_scale / np.float32(y.scale)))
    layer.require(output_exponent <= 0,
                  f"input scale {x.scale:g} over output scale {y.scale:g} needs a left shift; "
                  f"TFLM's HARD_SWISH refuses it")
    reluish_multiplier, reluish_exponent = quantize_multiplier(
        float(hires_input_scale / reluish_scale))
    output_multiplier = downscale_multiplier_to_int16(output_multiplier)
    reluish_multiplier = downscale_multiplier_to_int16(reluish_multiplier)

    def output(q: int) -> int:
        hires = wrap16((q - x.zero_point) * (1 << 7))
        preshift_output = saturating_rounding_doubling_high_mul_16(hires, output_multiplier)
        # The factor relu6(x + 3) / 6 on [-1, 1] in Q15, saturating, then moved to [0, 1].
        reluish = hires
        if reluish_exponent > 0:
            reluish = saturating_left_shift_16(reluish, reluish_exponent - 1)
        reluish = saturating_rounding_doubling_high_mul_16(reluish, reluish_multiplier)
        if reluish_exponent > 0:
            reluish = saturating_left_shift_16(reluish, 1)
        if reluish_exponent < 0:
            reluish = rounding_divide_by_pot(reluish, -reluish_exponent)
        reluish = (reluish + (1 << 15)) >> 1
        value = saturating_doubling_high_mul_16(reluish, preshift_output)
        value = wrap16(rounding_divide_by_pot(value, -output_exponent) + y.zero_point)
        return max(INT16_MIN, min(INT16_MAX, value))

    return _lookup(layer, x, y, [output(q) for q in INT8_VALUES])
