"""LOGISTIC and TANH on int8 (TFLM logistic_common.cc / tanh.cc).

This TFLM version evaluates both with gemmlowp fixed point, not a lookup table
(reference_integer_ops::Logistic / Tanh): the input, minus its zero point, is
rescaled to Q4.27; inputs beyond the saturation radius go straight to -128/127;
the Q0.31 result is rounded down to 8 bits. Logistic's output zero point must be
-128 (TFLM checks it); both kernels assume the output scale (1/256, 1/128) and
TFLM does not check it, so neither do we.
"""

from tinyflow.codegen.ops.base import Layer, Prepared, Unsupported, register
from tinyflow.codegen.ops.linear_int16 import is_int16
from tinyflow.codegen.quantize import frexp_multiplier, input_radius

INPUT_INTEGER_BITS = 4


def _input_scaling(layer: Layer) -> dict:
    x, y = layer.input(0), layer.output()
    layer.require_dtype(x, "input", "int8")
    layer.require_dtype(y, "output", "int8")
    layer.require_per_tensor(x, "input")
    layer.require_not_constant(x, "input")
    real_multiplier = x.scale * float(1 << (31 - INPUT_INTEGER_BITS))
    try:
        multiplier, left_shift = frexp_multiplier(real_multiplier)
    except ValueError as exc:
        raise Unsupported(str(exc)) from exc
    # TFLM's CalculateInputRadius shifts by input_left_shift: it must not be negative.
    layer.require(left_shift >= 0, f"input scale {x.scale} is too small (below 2^-28)")
    return dict(x=x, y=y, input_zero_point=x.zero_point, multiplier=multiplier,
                left_shift=left_shift, radius=input_radius(INPUT_INTEGER_BITS, left_shift),
                integer_bits=INPUT_INTEGER_BITS)


@register("LOGISTIC")
def logistic(layer: Layer) -> Prepared:
    if is_int16(layer):                 # int16x8: its own module
        from tinyflow.codegen.ops.activations_int16 import logistic_int16
        return logistic_int16(layer)
    params = _input_scaling(layer)
    y = params["y"]
    layer.require(y.zero_point == -128,
                  f"output zero point is {y.zero_point}; TFLM requires -128")
    # Q0.31 -> 8 fractional bits (scale 1/256), then the output zero point -128.
    return layer.prepared("logistic_tanh.c.j2", function="tf_logistic",
                          output_shift=31 - 8, output_offset=-128, **params)


@register("TANH")
def tanh(layer: Layer) -> Prepared:
    if is_int16(layer):                 # int16x8: its own module
        from tinyflow.codegen.ops.activations_int16 import tanh_int16
        return tanh_int16(layer)
    params = _input_scaling(layer)
    # Q0.31 -> 7 fractional bits (scale 1/128), zero point 0.
    return layer.prepared("logistic_tanh.c.j2", function="tf_tanh",
                          output_shift=31 - 7, output_offset=0, **params)
