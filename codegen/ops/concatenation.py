"""CONCATENATION on int8 (TFLM concatenation.cc).

TFLM's int8 kernel does no rescaling: its Prepare rejects inputs whose scale or
zero point differ from the output's, and any fused activation. We refuse the same
models (the converter inserts a requantizing QUANTIZE before such inputs instead).
"""

import numpy as np

from tinyflow.codegen.ops.base import Layer, Prepared, register
from tinyflow.codegen.ops.linear_int16 import is_int16

MAX_INPUTS = 10    # TFLM's kMaxInputNum
MAX_RANK = 6       # TFLM's RuntimeShape::kMaxSmallSize


@register("CONCATENATION")
def concatenation(layer: Layer) -> Prepared:
    if is_int16(layer):                 # int16x8: its own module
        from tinyflow.codegen.ops.data_int16 import concatenation_int16
        return concatenation_int16(layer)
    inputs, y = layer.inputs(), layer.output()
    layer.require_dtype(y, "output", "int8")
    layer.require_per_tensor(y, "output")
    layer.require(len(inputs) <= MAX_INPUTS, f"{len(inputs)} inputs; TFLM takes at most {MAX_INPUTS}")
    activation = layer.option("fused_activation_function", "NONE")
    layer.require(activation == "NONE",
                  f"fused activation {activation}: TFLM's CONCATENATION supports only NONE")
    rank = len(y.shape)
    layer.require(rank <= MAX_RANK, f"rank {rank} is above {MAX_RANK}")
    axis = layer.option("axis", 0)
    axis = axis + rank if axis < 0 else axis
    layer.require(0 <= axis < rank, f"axis {layer.option('axis')} is out of range for rank {rank}")

    for position, x in enumerate(inputs):
        what = f"input {position + 1}"
        layer.require_dtype(x, what, "int8")
        layer.require_per_tensor(x, what)
        layer.require(len(x.shape) == rank, f"{what} has rank {len(x.shape)}, output {rank}")
        layer.require(all(x.shape[d] == y.shape[d] for d in range(rank) if d != axis),
                      f"{what} shape {list(x.shape)} does not match output {list(y.shape)} "
                      f"outside axis {axis}")
        layer.require(np.float32(x.scale) == np.float32(y.scale) and x.zero_point == y.zero_point,
                      f"{what} is quantized ({x.scale}, {x.zero_point}) unlike the output "
                      f"({y.scale}, {y.zero_point}); TFLM's int8 CONCATENATION does not rescale")
    layer.require(sum(x.shape[axis] for x in inputs) == y.shape[axis],
                  f"inputs do not add up to the output along axis {axis}")

    outer = int(np.prod(y.shape[:axis], dtype=np.int64))
    inner = int(np.prod(y.shape[axis + 1:], dtype=np.int64))
    # Per outer index, each input contributes one contiguous chunk, in input order.
    chunks = [dict(x=x, elements=x.shape[axis] * inner) for x in inputs]
    return layer.prepared("concatenation.c.j2", y=y, outer=outer, chunks=chunks)
