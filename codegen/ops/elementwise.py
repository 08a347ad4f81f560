"""Binary element-wise ops on int8, with numpy-style broadcasting: ADD, SUB, MUL,
SQUARED_DIFFERENCE, MAXIMUM and MINIMUM, as TFLM's reference kernels compute them.

- ADD and SUB (add_common.cc, sub_common.cc): both inputs are brought to a common
  scale (twice the larger input scale) with 20 bits of headroom, added or
  subtracted, and rescaled to the output. The same C (add.c.j2); only the
  multipliers' arithmetic differs: ADD computes them in double, SUB in float32.
- SQUARED_DIFFERENCE (squared_difference.cc): the same common scale with 7 bits of
  headroom, the difference squared, rescaled by the square of that scale.
- MAXIMUM and MINIMUM (maximum_minimum.cc) compare the raw int8 values: TFLM
  assumes the inputs and the output share one quantization (the converter makes
  them so); tinyflow refuses a model where they do not.
- PRELU (prelu_common.cc): x >= 0 rescaled to the output; x < 0 times alpha (a
  constant broadcast against x, its zero point removed), rescaled by
  input scale * alpha scale / output scale; both multipliers in double.
"""

import numpy as np

from tinyflow.codegen.ops.base import Layer, Prepared, register
from tinyflow.codegen.ops.linear_int16 import is_int16
from tinyflow.codegen.quantize import activation_range, quantize_multiplier

MAX_RANK = 6


def _broadcast(layer: Layer, a, b, y) -> dict:
    """Output dims and the element strides of each input (0 along broadcast axes)."""
    rank = max(len(a.shape), len(b.shape), len(y.shape))
    layer.require(rank <= MAX_RANK, f"rank {rank} is above {MAX_RANK}")

    def padded(shape):
        return (1,) * (rank - len(shape)) + tuple(shape)

    def strides(shape):
        result, step = [0] * rank, 1
        for axis in reversed(range(rank)):
            result[axis] = 0 if shape[axis] == 1 else step
            step *= shape[axis]
        return result

    a_shape, b_shape, y_shape = padded(a.shape), padded(b.shape), padded(y.shape)
    for axis in range(rank):
        for shape in (a_shape, b_shape):
            layer.require(shape[axis] in (1, y_shape[axis]),
                          f"shapes {list(a.shape)} and {list(b.shape)} do not broadcast "
                          f"to {list(y.shape)}")
    # Collapse to MAX_RANK with leading 1s so the template always has six loops.
    pad = (1,) * (MAX_RANK - rank)
    return dict(dims=pad + y_shape, a_strides=[0] * len(pad) + strides(a_shape),
                b_strides=[0] * len(pad) + strides(b_shape),
                broadcast=a_shape != y_shape or b_shape != y_shape)


def _check(layer: Layer):
    a, b, y = layer.input(0), layer.input(1), layer.output()
    layer.require_dtype(a, "input 1", "int8")
    layer.require_dtype(b, "input 2", "int8")
    layer.require_dtype(y, "output", "int8")
    for ref, what in ((a, "input 1"), (b, "input 2"), (y, "output")):
        layer.require_per_tensor(ref, what)
    return a, b, y


def _cost(layer: Layer, a, b, y) -> dict:
    """One arithmetic op per output element (with broadcasting, per output). An
    operand with zero point -128 is non-negative once offset, which lets the compiler
    drop the sign handling of its rescaling: the others cost more."""
    signed = sum(1 for x in (a, b) if x.zero_point != -128)
    outputs = y.elements
    return dict(variant=layer.opcode.lower(), macs=outputs,
                features=dict(valid_macs=outputs, signed_operands=outputs * signed),
                cost_terms=("calls", "outputs", "signed_operands"))


def _common_scale(a, b, y, left_shift: int, float32: bool) -> dict:
    """The multipliers of ADD and SUB: each input to half its share of twice the
    larger input scale, the result to the output scale (see the module docstring)."""
    if float32:       # sub_common.cc: float arithmetic, widened to double at the end
        twice = np.float32(2) * max(np.float32(a.scale), np.float32(b.scale))
        a_real = float(np.float32(a.scale) / twice)
        b_real = float(np.float32(b.scale) / twice)
        out_real = float(twice / (np.float32(1 << left_shift) * np.float32(y.scale)))
    else:             # add_common.cc: double arithmetic
        twice = 2 * max(a.scale, b.scale)
        a_real, b_real = a.scale / twice, b.scale / twice
        out_real = twice / ((1 << left_shift) * y.scale)
    a_multiplier, a_shift = quantize_multiplier(a_real)
    b_multiplier, b_shift = quantize_multiplier(b_real)
    out_multiplier, out_shift = quantize_multiplier(out_real)
    return dict(left_shift=left_shift, a_multiplier=a_multiplier, a_shift=a_shift,
                b_multiplier=b_multiplier, b_shift=b_shift,
                out_multiplier=out_multiplier, out_shift=out_shift)


@register("ADD", "SUB")
def add_or_sub(layer: Layer) -> Prepared:
    if is_int16(layer):                 # int16x8: its own module
        from tinyflow.codegen.ops.elementwise_int16 import add_or_sub_int16
        return add_or_sub_int16(layer)
    a, b, y = _check(layer)
    subtract = layer.opcode == "SUB"
    act_min, act_max = activation_range(layer.activation(), y.scale, y.zero_point)
    # Element i is read from both inputs before it is written: the output can take over
    # an input of its own size.
    return layer.prepared(
        "add.c.j2", **_cost(layer, a, b, y), in_place=True, a=a, b=b, y=y, subtract=subtract,
        a_offset=-a.zero_point, b_offset=-b.zero_point, output_offset=y.zero_point,
        **_common_scale(a, b, y, left_shift=20, float32=subtract),
        act_min=act_min, act_max=act_max, **_broadcast(layer, a, b, y))


@register("SQUARED_DIFFERENCE")
def squared_difference(layer: Layer) -> Prepared:
    a, b, y = _check(layer)
    left_shift = 7     # (255 << 7)^2 still fits an int32
    twice = 2 * max(a.scale, b.scale)
    a_multiplier, a_shift = quantize_multiplier(a.scale / twice)
    b_multiplier, b_shift = quantize_multiplier(b.scale / twice)
    # TFLM: (1 << 14) * output scale in float, then widened.
    out_multiplier, out_shift = quantize_multiplier(
        twice * twice / float(np.float32(1 << (2 * left_shift)) * np.float32(y.scale)))
    return layer.prepared(
        "squared_difference.c.j2", **_cost(layer, a, b, y), a=a, b=b, y=y,
        left_shift=left_shift, a_offset=-a.zero_point, b_offset=-b.zero_point,
        output_offset=y.zero_point, a_multiplier=a_multiplier, a_shift=a_shift,
        b_multiplier=b_multiplier, b_shift=b_shift, out_multiplier=out_multiplier,
        out_shift=out_shift, **_broadcast(layer, a, b, y))


@register("MAXIMUM", "MINIMUM")
def maximum_or_minimum(layer: Layer) -> Prepared:
    a, b, y = _check(layer)
    for ref, what in ((a, "input 1"), (b, "input 2")):
        layer.require(ref.tensor.quantization == y.tensor.quantization,
                      f"{what} is quantized (scale {ref.scale:g}, zero point "
                      f"{ref.zero_point}) unlike the output (scale {y.scale:g}, zero point "
                      f"{y.zero_point}); TFLM compares raw int8 values, so they must match")
    return layer.prepared("maximum_minimum.c.j2", **_cost(layer, a, b, y), a=a, b=b, y=y,
                          maximum=layer.opcode == "MAXIMUM", **_broadcast(layer, a, b, y))


@register("MUL")
def mul(layer: Layer) -> Prepared:
    if is_int16(layer):                 # int16x8: its own module
        from tinyflow.codegen.ops.elementwise_int16 import mul_int16
        return mul_int16(layer)
    a, b, y = _check(layer)
    multiplier, shift = quantize_multiplier(a.scale * b.scale / y.scale)
    act_min, act_max = activation_range(layer.activation(), y.scale, y.zero_point)
    return layer.prepared(
        "mul.c.j2", **_cost(layer, a, b, y), in_place=True, a=a, b=b, y=y,
        a_offset=-a.zero_point, b_offset=-b.zero_point, output_offset=y.zero_point,
        multiplier=multiplier, shift=shift, act_min=act_min, act_max=act_max,
        **_broadcast(layer, a, b, y))


@register("PRELU")
def prelu(layer: Layer) -> Prepared:
    x, alpha, y = layer.input(0), layer.input(1), layer.output()
    layer.require_dtype(x, "input", "int8")
    layer.require_dtype(alpha, "alpha", "int8")
    layer.require_dtype(y, "output", "int8")
    for ref, what in ((x, "input"), (alpha, "alpha"), (y, "output")):
        layer.require_per_tensor(ref, what)
    layer.require_not_constant(x, "input")
    positive_multiplier, positive_shift = quantize_multiplier(x.scale / y.scale)
    negative_multiplier, negative_shift = quantize_multiplier(x.scale * alpha.scale / y.scale)
    return layer.prepared(
        "prelu.c.j2", **_cost(layer, x, alpha, y), a=x, b=alpha, y=y,
        input_offset=-x.zero_point, alpha_offset=-alpha.zero_point,
        output_offset=y.zero_point,
        positive_multiplier=positive_multiplier, positive_shift=positive_shift,
        negative_multiplier=negative_multiplier, negative_shift=negative_shift,
        **_broadcast(layer, x, alpha, y))
