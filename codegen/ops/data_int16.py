"""AVERAGE_POOL_2D, MAX_POOL_2D, PAD/PADV2, CONCATENATION and MEAN of int16x8 models.

TFLM's int16 kernels do what its int8 ones do, on int16 values:
- pooling (reference_integer_ops pooling.h): the window clipped to the input, a rounded
  int32 average (halves away from zero) or the maximum, clamped to the fused activation;
- PAD (pad.cc): a copy into the output filled with the zero point, or PADV2's constant;
- CONCATENATION (concatenation.cc): a copy; TFLM only checks the int16 zero points (0),
  tinyflow also refuses inputs whose scale differs from the output's (a raw copy
  would change their values);
- MEAN (reduce_common.cc, QuantizedMeanOrSum<int16_t>): the int8 arithmetic.
The int8 prepare steps dispatch here on an int16 input; shapes and plans come from
their modules' helpers.
"""

import numpy as np

from tinyflow.codegen.ops import concatenation, mean, pad
from tinyflow.codegen.ops.base import Layer, Prepared
from tinyflow.codegen.ops.linear_int16 import INT16_MAX, INT16_MIN, require_symmetric_int16
from tinyflow.codegen.ops.pooling import pool_window
from tinyflow.codegen.ops.window import window_counts
from tinyflow.codegen.quantize import activation_range, mean_rescale, quantize_multiplier


def pool_2d_int16(layer: Layer) -> Prepared:
    x, y = layer.input(0), layer.output()
    require_symmetric_int16(layer, x, "input")
    require_symmetric_int16(layer, y, "output")
    padding, filter_h, filter_w, stride_h, stride_w, out_h, pad_h, out_w, pad_w = \
        pool_window(layer, x, y)
    act_min, act_max = activation_range(layer.activation(), y.scale, 0, INT16_MIN, INT16_MAX)
    channels = x.dim(3)
    counts = window_counts(x.shape, filter_h, filter_w, stride_h=stride_h, stride_w=stride_w,
                           padding=padding)
    is_average = layer.opcode == "AVERAGE_POOL_2D"
    return layer.prepared(
        "pool_2d_int16.c.j2", variant="avg_pool_int16" if is_average else "max_pool_int16",
        macs=y.elements * filter_h * filter_w,
        features=dict(valid_macs=counts["taps"] * channels,
                      window_rows=counts["window_rows"] * channels),
        cost_terms=("calls", "valid_macs", "window_rows", "outputs"),
        x=x, y=y, is_average=is_average,
        batches=x.dim(0), in_h=x.dim(1), in_w=x.dim(2), channels=channels,
        filter_h=filter_h, filter_w=filter_w, stride_h=stride_h, stride_w=stride_w,
        pad_h=pad_h, pad_w=pad_w, out_h=out_h, out_w=out_w, act_min=act_min, act_max=act_max)


def pad_int16(layer: Layer) -> Prepared:
    x, paddings, y = layer.input(0), layer.input(1), layer.output()
    require_symmetric_int16(layer, x, "input")
    require_symmetric_int16(layer, y, "output")
    pairs = pad.checked_paddings(layer, x, paddings, y)
    constant = layer.input(2) if layer.opcode == "PADV2" else None
    if constant is not None:
        layer.require_dtype(constant, "constant_values", "int16")
        layer.require(constant.elements == 1, "constant_values must be a scalar")
        layer.require(constant.zero_point == 0
                      and np.float32(constant.scale) == np.float32(y.scale),
                      "constant_values is quantized differently from the output")
    return layer.prepared("pad_int16.c.j2", variant="pad_int16", x=x, y=y, constant=constant,
                          **pad._copy_plan(tuple(x.shape), tuple(y.shape),
                                           [lo for lo, _ in pairs]))


def concatenation_int16(layer: Layer) -> Prepared:
    inputs, y = layer.inputs(), layer.output()
    require_symmetric_int16(layer, y, "output")
    layer.require_per_tensor(y, "output")
    layer.require(len(inputs) <= concatenation.MAX_INPUTS,
                  f"{len(inputs)} inputs; TFLM takes at most {concatenation.MAX_INPUTS}")
    activation = layer.option("fused_activation_function", "NONE")
    layer.require(activation == "NONE",
                  f"fused activation {activation}: TFLM's CONCATENATION supports only NONE")
    rank = len(y.shape)
    layer.require(rank <= concatenation.MAX_RANK, f"rank {rank} is above {concatenation.MAX_RANK}")
    axis = layer.option("axis", 0)
    axis = axis + rank if axis < 0 else axis
    layer.require(0 <= axis < rank, f"axis {layer.option('axis')} is out of range for rank {rank}")
    for position, x in enumerate(inputs):
        what = f"input {position + 1}"
        require_symmetric_int16(layer, x, what)
        layer.require_per_tensor(x, what)
        layer.require(len(x.shape) == rank, f"{what} has rank {len(x.shape)}, output {rank}")
        layer.require(all(x.shape[d] == y.shape[d] for d in range(rank) if d != axis),
                      f"{what} shape {list(x.shape)} does not match output {list(y.shape)} "
                      f"outside axis {axis}")
        layer.require(np.float32(x.scale) == np.float32(y.scale),
                      f"{what} has scale {x.scale}, the output {y.scale}; TFLM's int16 "
                      f"CONCATENATION copies without rescaling")
    layer.require(sum(x.shape[axis] for x in inputs) == y.shape[axis],
                  f"inputs do not add up to the output along axis {axis}")
    outer = int(np.prod(y.shape[:axis], dtype=np.int64))
    inner = int(np.prod(y.shape[axis + 1:], dtype=np.int64))
    chunks = [dict(x=x, elements=x.shape[axis] * inner) for x in inputs]
    return layer.prepared("concatenation_int16.c.j2", variant="concatenation_int16", y=y,
                          outer=outer, chunks=chunks)


def mean_int16(layer: Layer) -> Prepared:
    x, axes, y = layer.input(0), layer.input(1), layer.output()
    require_symmetric_int16(layer, x, "input")
    require_symmetric_int16(layer, y, "output")
    layer.require_per_tensor(x, "input")
    layer.require_per_tensor(y, "output")
    layer.require_constant(axes, "axis")
    layer.require(axes.tensor.dtype == "int32", f"axis is {axes.tensor.dtype}; TFLM requires int32")
    rank = len(x.shape)
    layer.require(rank >= 1, "scalar input")
    reduced = mean._resolve_axes(layer, axes.data.ravel().astype(int).tolist(), rank)
    kept = [d for d in range(rank) if d not in reduced]
    layer.require(y.elements == int(np.prod([x.shape[d] for d in kept], dtype=np.int64)),
                  f"output shape {list(y.shape)} does not match the reduction of {list(x.shape)}")
    strides = [int(np.prod(x.shape[d + 1:], dtype=np.int64)) for d in range(rank)]
    count = int(np.prod([x.shape[d] for d in reduced], dtype=np.int64))
    layer.require(count > 0, "empty reduction")
    multiplier, shift = mean_rescale(*quantize_multiplier(x.scale / y.scale), count)
    return layer.prepared(
        "mean_int16.c.j2", variant="mean_int16", cost_terms=("calls", "inputs"), x=x, y=y,
        outer_loops=mean._merge_dims([(x.shape[d], strides[d]) for d in kept]),
        reduce_loops=mean._merge_dims([(x.shape[d], strides[d]) for d in reduced]),
        count=count, multiplier=multiplier, shift=shift)
