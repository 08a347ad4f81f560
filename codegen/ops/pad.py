"""PAD and PADV2 on int8 (TFLM pad.cc / pad_common.cc).

PAD fills with the output zero point (the quantized 0.0); PADV2 with its scalar
constant_values input. The padding itself is a copy, so the only arithmetic is in
Python: which input rows land where in the output.
"""

import numpy as np

from tinyflow.codegen.ops.base import Layer, Prepared, register
from tinyflow.codegen.ops.linear_int16 import is_int16

MAX_RANK = 5   # TFLM's PadKernelMaxDimensionCount()


def _copy_plan(in_shape, out_shape, before) -> dict:
    """Describe the copy as outer loops around one contiguous memcpy.

    The dims after the last padded one are contiguous in both input and output, so
    they merge into the copied row together with that dim (the "row dim").
    """
    rank = len(in_shape)
    padded = [d for d in range(rank) if in_shape[d] != out_shape[d]]
    row_dim = padded[-1] if padded else 0
    inner = int(np.prod(in_shape[row_dim + 1:], dtype=np.int64))
    out_strides = [int(np.prod(out_shape[d + 1:], dtype=np.int64)) for d in range(rank)]
    loops = [dict(count=in_shape[d], out_stride=out_strides[d],
                  out_start=before[d] * out_strides[d]) for d in range(row_dim)]
    return dict(loops=loops, row_elements=in_shape[row_dim] * inner,
                row_out_start=before[row_dim] * out_strides[row_dim],
                fill=any(a != b for a, b in zip(in_shape, out_shape)))


def padding_pairs(layer: Layer, paddings) -> list[list[int]]:
    """The (before, after) pairs of a constant paddings tensor, one per axis."""
    layer.require(paddings.data.size % 2 == 0,
                  f"paddings hold {paddings.data.size} values, not (before, after) pairs")
    return paddings.data.reshape(-1, 2).astype(int).tolist()


def checked_paddings(layer: Layer, x, paddings, y) -> list[tuple[int, int]]:
    """A PAD's (before, after) pairs per axis, checked against its input and output
    (int8 and int16)."""
    layer.require_not_constant(x, "input")
    layer.require(len(x.shape) <= MAX_RANK, f"rank {len(x.shape)} is above {MAX_RANK}")
    layer.require_constant(paddings, "paddings")
    # TFLM reads the paddings buffer as int32 whatever its declared type.
    layer.require(paddings.tensor.dtype == "int32",
                  f"paddings are {paddings.tensor.dtype}; TFLM reads them as int32")
    pairs = padding_pairs(layer, paddings)
    layer.require(len(pairs) == len(y.shape) == len(x.shape),
                  f"{len(pairs)} padding pairs for a rank-{len(x.shape)} tensor")
    layer.require(all(lo >= 0 and hi >= 0 for lo, hi in pairs),
                  f"negative paddings (cropping) are not supported: {pairs}")
    for axis, ((lo, hi), n_in, n_out) in enumerate(zip(pairs, x.shape, y.shape)):
        layer.require(n_out == n_in + lo + hi,
                      f"axis {axis}: output size {n_out} != {n_in} + {lo} + {hi}")
    return pairs


@register("PAD", "PADV2")
def pad(layer: Layer) -> Prepared:
    if is_int16(layer):                 # int16x8: its own module
        from tinyflow.codegen.ops.data_int16 import pad_int16
        return pad_int16(layer)
    x, paddings, y = layer.input(0), layer.input(1), layer.output()
    layer.require_dtype(x, "input", "int8")
    layer.require_dtype(y, "output", "int8")
    pairs = checked_paddings(layer, x, paddings, y)

    constant = layer.input(2) if layer.opcode == "PADV2" else None
    if constant is not None:
        layer.require_dtype(constant, "constant_values", "int8")
        layer.require(constant.elements == 1, "constant_values must be a scalar")
        # TFLM requires the pad value to be quantized like the output.
        layer.require(constant.zero_point == y.zero_point
                      and np.float32(constant.scale) == np.float32(y.scale),
                      "constant_values is quantized differently from the output")
    return layer.prepared("pad.c.j2", x=x, y=y, constant=constant, pad_value=y.zero_point,
                **_copy_plan(tuple(x.shape), tuple(y.shape), [lo for lo, _ in pairs]))
