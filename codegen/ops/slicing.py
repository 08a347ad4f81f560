"""STRIDED_SLICE, SLICE, SPLIT, SPLIT_V, UNPACK and PACK on int8: boxes of a tensor
copied to or from another, as TFLM's kernels pick them (strided_slice.cc and
strided_slice_logic.h, slice.cc, split.cc, split_v.cc, unpack.cc, pack.cc).

Keras slicing (``x[:, 1:5, ::2]``, ``Cropping2D``) converts to STRIDED_SLICE,
``keras.ops.slice`` to SLICE, ``keras.ops.split`` to SPLIT or SPLIT_V,
``keras.ops.unstack`` / ``stack`` to UNPACK / PACK. Which elements each output gets
is decided here, with TFLM's index arithmetic; the C is a copy (copying.py).
"""

from __future__ import annotations

import math

import numpy as np

from tinyflow.codegen.ops.base import Layer, Prepared, register
from tinyflow.codegen.ops.copying import (copy_layer, require_int8, row_major_strides,
                                          slice_copy)

STRIDED_SLICE_MAX_RANK = 4   # TFLM's strided_slice_common.cc kMaxDim
PADDED_RANK = 5              # TFLM's Eval pads every slice to five axes
SLICE_MAX_RANK = 5           # TFLM's slice.cc kMaxDim


def _axis(layer: Layer, axis: int, rank: int, what: str = "axis") -> int:
    layer.require(-rank <= axis < rank, f"{what} {axis} is out of range for rank {rank}")
    return axis + rank if axis < 0 else axis


def _constant_ints(layer: Layer, position: int, what: str, dtypes=("int32",)) -> list[int]:
    ref = layer.input(position)
    layer.require_constant(ref, what)
    layer.require(ref.tensor.dtype in dtypes,
                  f"{what} is {ref.tensor.dtype}; TFLM reads it as {' or '.join(dtypes)}")
    return [int(v) for v in ref.data.ravel()]


def _int8_activation(layer: Layer, position: int, what: str = "input"):
    x = layer.input(position)
    require_int8(layer, [x], what)
    layer.require_not_constant(x, what)
    return x


# --- STRIDED_SLICE ---------------------------------------------------------------------------

def _clamp(value: int, low: int, high: int) -> int:
    return high if value > high else low if value < low else value


def _eval_axis(size, begin, end, stride, begin_masked, end_masked, shrink) -> range:
    """The input indices TFLM's Eval visits along one axis (StridedSliceStartForAxis,
    StridedSliceEndForAxis and its loop condition)."""
    start = begin + size if begin < 0 else begin
    start = _clamp(start, 0, size) if stride > 0 else _clamp(start, -1, size - 1)
    if begin_masked:
        start = 0 if stride > 0 else size - 1
    if shrink:
        stop = start if start >= size else start + 1
    else:
        stop = end + size if end < 0 else end
        stop = _clamp(stop, 0, size) if stride > 0 else _clamp(stop, -1, size - 1)
        if end_masked:
            stop = size if stride > 0 else -1
    return range(start, stop, stride)


def _prepare_axis_length(size, begin, end, stride, begin_masked, end_masked, shrink) -> int:
    """The output length TFLM's Prepare checks the output shape against (StartForAxis,
    StopForAxis, then ceil((stop - start) / stride) in float)."""
    start = (-2**31 if stride > 0 else 2**31 - 1) if begin_masked else begin
    start = start + size if start < 0 else start
    start = _clamp(start, 0, size) if stride > 0 else _clamp(start, -1, size - 1)
    if shrink:
        stop = start + 1
    else:
        stop = (2**31 - 1 if stride > 0 else -2**31) if end_masked else end
        stop = stop + size if stop < 0 else stop
        stop = _clamp(stop, 0, size) if stride > 0 else _clamp(stop, -1, size - 1)
    return max(0, math.ceil(float(np.float32(stop - start) / np.float32(stride))))


@register("STRIDED_SLICE")
def strided_slice(layer: Layer) -> Prepared:
    x, y = _int8_activation(layer, 0), layer.output()
    require_int8(layer, [y], "output")
    rank = len(x.shape)
    layer.require(1 <= rank <= STRIDED_SLICE_MAX_RANK,
                  f"rank {rank}: TFLM's STRIDED_SLICE takes 1 to {STRIDED_SLICE_MAX_RANK} axes")
    begin = _constant_ints(layer, 1, "begin")
    end = _constant_ints(layer, 2, "end")
    strides = _constant_ints(layer, 3, "strides")
    layer.require(len(begin) == len(end) == len(strides) == rank,
                  f"begin, end and strides have {len(begin)}, {len(end)} and {len(strides)} "
                  f"values for a rank-{rank} input")
    layer.require(all(s != 0 for s in strides), "a stride is 0")
    layer.require(not layer.option("offset", False),
                  "the offset option is set; TFLM's STRIDED_SLICE does not read it")
    begin_mask, end_mask = layer.option("begin_mask", 0), layer.option("end_mask", 0)
    shrink_mask = layer.option("shrink_axis_mask", 0)
    # TFLM ignores ellipsis_mask and new_axis_mask (it sets them to 0); so do we, and its
    # Prepare then checks the output shape below.

    def bit(mask, axis):
        return bool(mask >> axis & 1)

    kept = [_prepare_axis_length(x.shape[a], begin[a], end[a], strides[a], bit(begin_mask, a),
                                 bit(end_mask, a), bit(shrink_mask, a))
            for a in range(rank) if not bit(shrink_mask, a)]
    layer.require(list(y.shape) == kept,
                  f"output shape {list(y.shape)}, but TFLM's Prepare computes {kept} "
                  f"(and refuses the model)")

    # Eval pads to five axes in front: whole axes of size 1.
    pad = PADDED_RANK - rank
    shape5 = [1] * pad + list(x.shape)
    axes = [range(0, 1)] * pad + [
        _eval_axis(x.shape[a], begin[a], end[a], strides[a], bit(begin_mask, a),
                   bit(end_mask, a), bit(shrink_mask, a)) for a in range(rank)]
    counts = [len(r) for r in axes]
    layer.require(int(np.prod(counts)) == y.elements,
                  f"TFLM's Eval would write {int(np.prod(counts))} elements into an output "
                  f"of {y.elements}")
    copy = slice_copy(x, y, [r.start for r in axes], counts, [r.step for r in axes],
                      src_shape=shape5)
    return copy_layer(layer, [copy])


# --- SLICE -----------------------------------------------------------------------------------

@register("SLICE")
def slice_(layer: Layer) -> Prepared:
    x, y = _int8_activation(layer, 0), layer.output()
    require_int8(layer, [y], "output")
    rank = len(x.shape)
    layer.require(rank <= SLICE_MAX_RANK, f"rank {rank} is above TFLM's {SLICE_MAX_RANK}")
    begin = _constant_ints(layer, 1, "begin", ("int32", "int64"))
    size = _constant_ints(layer, 2, "size", ("int32", "int64"))
    layer.require(layer.input(1).tensor.dtype == layer.input(2).tensor.dtype,
                  "begin and size have different types")
    layer.require(len(begin) == len(size) == rank,
                  f"begin and size have {len(begin)} and {len(size)} values for a "
                  f"rank-{rank} input")
    counts = []
    for axis, (start, count, dim) in enumerate(zip(begin, size, x.shape)):
        stop = dim if count == -1 else start + count
        # TFLM does not check these (it reads outside the input); we refuse.
        layer.require(0 <= start <= stop <= dim,
                      f"axis {axis}: slice [{start}, {stop}) is outside the input's {dim}")
        counts.append(stop - start)
    layer.require(list(y.shape) == counts,
                  f"output shape {list(y.shape)} is not the slice's {counts}")
    return copy_layer(layer, [slice_copy(x, y, begin, counts)])


# --- SPLIT, SPLIT_V, UNPACK: one input, several outputs --------------------------------------

def _split(layer: Layer, x, axis: int) -> Prepared:
    """Each output is the next box of ``x`` along ``axis``, as wide as the output."""
    outputs = [layer.output(i) for i in range(len(layer.op.outputs))]
    require_int8(layer, outputs, "output")
    rank = len(x.shape)
    for position, y in enumerate(outputs):
        layer.require(len(y.shape) == rank and all(
            y.shape[d] == x.shape[d] for d in range(rank) if d != axis),
            f"output {position} shape {list(y.shape)} does not match the input "
            f"{list(x.shape)} outside axis {axis}")
    widths = [y.shape[axis] for y in outputs]
    layer.require(sum(widths) == x.shape[axis],
                  f"the outputs' {widths} along axis {axis} do not add up to the input's "
                  f"{x.shape[axis]}")
    copies, offset = [], 0
    for y, width in zip(outputs, widths):
        starts = [offset if d == axis else 0 for d in range(rank)]
        copies.append(slice_copy(x, y, starts, list(y.shape)))
        offset += width
    return copy_layer(layer, copies)


@register("SPLIT")
def split(layer: Layer) -> Prepared:
    x = _int8_activation(layer, 1)
    (axis,) = _constant_ints(layer, 0, "axis")
    axis = _axis(layer, axis, len(x.shape))
    count = layer.option("num_splits", len(layer.op.outputs))
    layer.require(count == len(layer.op.outputs),
                  f"num_splits is {count} but the op has {len(layer.op.outputs)} outputs")
    layer.require(x.shape[axis] % count == 0,
                  f"axis {axis} of {x.shape[axis]} does not split into {count} equal parts")
    return _split(layer, x, axis)


@register("SPLIT_V")
def split_v(layer: Layer) -> Prepared:
    x = _int8_activation(layer, 0)
    (axis,) = _constant_ints(layer, 2, "axis")
    # TFLM takes each output's width from its shape; size_splits is not read.
    return _split(layer, x, _axis(layer, axis, len(x.shape)))


@register("UNPACK")
def unpack(layer: Layer) -> Prepared:
    x = _int8_activation(layer, 0)
    rank = len(x.shape)
    axis = _axis(layer, layer.option("axis", 0), rank)
    outputs = [layer.output(i) for i in range(len(layer.op.outputs))]
    require_int8(layer, outputs, "output")
    layer.require(layer.option("num", len(outputs)) == len(outputs) == x.shape[axis],
                  f"{len(outputs)} outputs from axis {axis} of {x.shape[axis]}")
    box = [1 if d == axis else x.shape[d] for d in range(rank)]
    for position, y in enumerate(outputs):
        expected = [x.shape[d] for d in range(rank) if d != axis]
        layer.require(list(y.shape) == expected,
                      f"output {position} shape {list(y.shape)} is not {expected}")
    copies = [slice_copy(x, y, [i if d == axis else 0 for d in range(rank)], box)
              for i, y in enumerate(outputs)]
    return copy_layer(layer, copies)


# --- PACK: several inputs, one output --------------------------------------------------------

@register("PACK")
def pack(layer: Layer) -> Prepared:
    inputs, y = layer.inputs(), layer.output()
    require_int8(layer, inputs, "input")
    require_int8(layer, [y], "output")
    rank = len(y.shape)
    axis = _axis(layer, layer.option("axis", 0), rank)
    layer.require(layer.option("values_count", len(inputs)) == len(inputs) == y.shape[axis],
                  f"{len(inputs)} inputs stacked into axis {axis} of {y.shape[axis]}")
    inner_shape = [y.shape[d] for d in range(rank) if d != axis]
    for position, x in enumerate(inputs):
        layer.require(list(x.shape) == inner_shape,
                      f"input {position} shape {list(x.shape)} is not {inner_shape}")
    out_strides = row_major_strides(y.shape)
    dst_strides = [out_strides[d] for d in range(rank) if d != axis]
    copies = [slice_copy(x, y, [0] * len(inner_shape), inner_shape,
                         dst_start=i * out_strides[axis], dst_strides=dst_strides)
              for i, x in enumerate(inputs)]
    return copy_layer(layer, copies)
