"""ADD and MUL on int8, with numpy-style broadcasting."""

from tinyflow.codegen.ops.base import Layer, Prepared, register
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


@register("ADD")
def add(layer: Layer) -> Prepared:
    a, b, y = _check(layer)
    left_shift = 20
    twice_max_input_scale = 2 * max(a.scale, b.scale)
    a_multiplier, a_shift = quantize_multiplier(a.scale / twice_max_input_scale)
    b_multiplier, b_shift = quantize_multiplier(b.scale / twice_max_input_scale)
    out_multiplier, out_shift = quantize_multiplier(
        twice_max_input_scale / ((1 << left_shift) * y.scale))
    act_min, act_max = activation_range(layer.activation(), y.scale, y.zero_point)
    return layer.prepared(
        "add.c.j2", **_cost(layer, a, b, y), a=a, b=b, y=y, left_shift=left_shift,
        a_offset=-a.zero_point, b_offset=-b.zero_point, output_offset=y.zero_point,
        a_multiplier=a_multiplier, a_shift=a_shift,
        b_multiplier=b_multiplier, b_shift=b_shift,
        out_multiplier=out_multiplier, out_shift=out_shift,
        act_min=act_min, act_max=act_max, **_broadcast(layer, a, b, y))


@register("MUL")
def mul(layer: Layer) -> Prepared:
    a, b, y = _check(layer)
    multiplier, shift = quantize_multiplier(a.scale * b.scale / y.scale)
    act_min, act_max = activation_range(layer.activation(), y.scale, y.zero_point)
    return layer.prepared(
        "mul.c.j2", **_cost(layer, a, b, y), a=a, b=b, y=y,
        a_offset=-a.zero_point, b_offset=-b.zero_point, output_offset=y.zero_point,
        multiplier=multiplier, shift=shift, act_min=act_min, act_max=act_max,
        **_broadcast(layer, a, b, y))
