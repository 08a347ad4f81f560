"""ADD, SUB and MUL of int16x8 models (int16 inputs and output, zero point 0), with
numpy-style broadcasting, as TFLM's reference kernels compute them.

- ADD and SUB (add_common.cc, sub_common.cc): the int8 arithmetic (both inputs to a
  common scale, combined, rescaled; ADD's multipliers in double, SUB's in float32) with
  15 bits of headroom instead of 20, so a shifted int16 still fits an int32. TFLM's
  micro ADD calls the general (not the power-of-two) int16 path.
- MUL (mul_common.cc): the product of the two int16 values rescaled to the output by
  one multiplier, as for int8; TFLM requires every zero point to be 0.
elementwise.py dispatches here on an int16 first input; the shapes and the multipliers
come from its helpers.
"""

from tinyflow.codegen.ops import elementwise
from tinyflow.codegen.ops.base import Layer, Prepared
from tinyflow.codegen.ops.linear_int16 import INT16_MAX, INT16_MIN, require_symmetric_int16
from tinyflow.codegen.quantize import activation_range, quantize_multiplier

# Headroom bits of TFLM's int16 ADD/SUB (add_common.cc: 15 for int16, 20 for int8).
INT16_LEFT_SHIFT = 15


def _check(layer: Layer):
    a, b, y = layer.input(0), layer.input(1), layer.output()
    for ref, what in ((a, "input 1"), (b, "input 2"), (y, "output")):
        require_symmetric_int16(layer, ref, what)
        layer.require_per_tensor(ref, what)
    act_min, act_max = activation_range(layer.activation(), y.scale, 0, INT16_MIN, INT16_MAX)
    return a, b, y, dict(act_min=act_min, act_max=act_max)


def _cost(layer: Layer, y) -> dict:
    return dict(variant=f"{layer.opcode.lower()}_int16", macs=y.elements,
                features=dict(valid_macs=y.elements), cost_terms=("calls", "outputs"))


def add_or_sub_int16(layer: Layer) -> Prepared:
    a, b, y, clamp = _check(layer)
    subtract = layer.opcode == "SUB"
    scales = elementwise._common_scale(a, b, y, left_shift=INT16_LEFT_SHIFT, float32=subtract)
    return layer.prepared("add_int16.c.j2", **_cost(layer, y), a=a, b=b, y=y,
                          subtract=subtract, **scales, **clamp,
                          **elementwise._broadcast(layer, a, b, y))


def mul_int16(layer: Layer) -> Prepared:
    a, b, y, clamp = _check(layer)
    multiplier, shift = quantize_multiplier(a.scale * b.scale / y.scale)
    return layer.prepared("mul_int16.c.j2", **_cost(layer, y), a=a, b=b, y=y,
                          multiplier=multiplier, shift=shift, **clamp,
                          **elementwise._broadcast(layer, a, b, y))
