"""MEAN, SUM and REDUCE_MAX on int8 (TFLM reduce.cc / reduce_common.cc).

The three share their axis handling: the kept axes become the outer loops, the
reduced ones the inner loops (both merged where memory is contiguous), and one C
template (reduce.c.j2) walks them.

MEAN and SUM are reference_ops::QuantizedMeanOrSum. This TFLM version has one int8
path for every axis set and keep_dims value (no special 4-D spatial case): sum the
raw int8 values in int32, subtract input_zero_point * count, then rescale by
input_scale / output_scale; MEAN also divides by count, folded into the Q31
multiplier by integer division (quantize.mean_rescale) rather than computed in
floating point.

REDUCE_MAX is reference_ops::ReduceGeneric with a max: TFLM requires the input and
output to share scale and zero point, so the largest raw int8 value is the output.
"""

import numpy as np

from tinyflow.codegen.ops.base import Layer, Prepared, register
from tinyflow.codegen.ops.linear_int16 import is_int16
from tinyflow.codegen.quantize import mean_rescale, quantize_multiplier


def _wrap_int32(value: int) -> int:
    return (value + (1 << 31)) % (1 << 32) - (1 << 31)


def _resolve_axes(layer: Layer, axes, rank: int) -> list[int]:
    """Negative axes counted from the end, duplicates dropped (TFLM ResolveAxis)."""
    resolved = []
    for axis in axes:
        positive = axis + rank if axis < 0 else axis
        layer.require(0 <= positive < rank, f"axis {axis} is out of range for rank {rank}")
        if positive not in resolved:
            resolved.append(positive)
    return resolved


def _merge_dims(dims):
    """Merge neighbouring (size, stride) loops that walk memory contiguously."""
    merged = []
    for size, stride in dims:
        if size == 1:
            continue
        if merged and merged[-1][1] == size * stride:
            merged[-1] = (merged[-1][0] * size, stride)
        else:
            merged.append((size, stride))
    return [dict(count=size, stride=stride) for size, stride in merged]


def _reduction(layer: Layer) -> dict:
    """Check an int8 reduction's tensors and axes; its loops and element count."""
    x, axes, y = layer.input(0), layer.input(1), layer.output()
    layer.require_dtype(x, "input", "int8")
    layer.require_dtype(y, "output", "int8")
    layer.require_per_tensor(x, "input")
    layer.require_per_tensor(y, "output")
    layer.require_constant(axes, "axis")
    layer.require(axes.tensor.dtype == "int32", f"axis is {axes.tensor.dtype}; TFLM requires int32")
    rank = len(x.shape)
    layer.require(rank >= 1, "scalar input")
    reduced = _resolve_axes(layer, axes.data.ravel().astype(int).tolist(), rank)
    kept = [d for d in range(rank) if d not in reduced]
    expected = [x.shape[d] for d in kept]
    layer.require(int(np.prod(y.shape, dtype=np.int64)) == int(np.prod(expected, dtype=np.int64)),
                  f"output shape {list(y.shape)} does not match the reduction of {list(x.shape)}")

    strides = [int(np.prod(x.shape[d + 1:], dtype=np.int64)) for d in range(rank)]
    count = int(np.prod([x.shape[d] for d in reduced], dtype=np.int64))
    layer.require(count > 0, "empty reduction")
    return dict(x=x, y=y, count=count,
                outer_loops=_merge_dims([(x.shape[d], strides[d]) for d in kept]),
                reduce_loops=_merge_dims([(x.shape[d], strides[d]) for d in reduced]))


def _mean_or_sum(layer: Layer, divide_by_count: bool) -> Prepared:
    loops = _reduction(layer)
    x, y, count = loops["x"], loops["y"], loops["count"]
    multiplier, shift = quantize_multiplier(x.scale / y.scale)
    if divide_by_count:
        multiplier, shift = mean_rescale(multiplier, shift, count)
    return layer.prepared("reduce.c.j2", cost_terms=("calls", "inputs"), **loops,
                          reducer="mean" if divide_by_count else "sum",
                          zero_point_sum=_wrap_int32(x.zero_point * count),
                          multiplier=multiplier, shift=shift, output_zero_point=y.zero_point)


@register("MEAN")
def mean(layer: Layer) -> Prepared:
    if is_int16(layer):                 # int16x8: its own module
        from tinyflow.codegen.ops.data_int16 import mean_int16
        return mean_int16(layer)
    return _mean_or_sum(layer, divide_by_count=True)


@register("SUM")
def reduce_sum(layer: Layer) -> Prepared:
    return _mean_or_sum(layer, divide_by_count=False)


@register("REDUCE_MAX")
def reduce_max(layer: Layer) -> Prepared:
    loops = _reduction(layer)
    x, y = loops["x"], loops["y"]
    # TFLM's Eval refuses any other int8 reduce_max (no rescaling on this path).
    layer.require(x.scale == y.scale and x.zero_point == y.zero_point,
                  f"input quantization ({x.scale:g}, {x.zero_point}) differs from the output's "
                  f"({y.scale:g}, {y.zero_point}); TFLM requires them equal")
    return layer.prepared("reduce.c.j2", cost_terms=("calls", "inputs"), **loops, reducer="max")
