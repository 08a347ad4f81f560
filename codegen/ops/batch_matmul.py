"""BATCH_MATMUL on int8 (TFLM batch_matmul.cc -> reference_ops::BatchMatMul<int8_t, int32_t>).

output[..., r, c] = sum_k (lhs[..., r, k] - lhs_zp) * (rhs[..., k, c] - rhs_zp) in
int32, then TFLM's fully-connected requantization: one multiplier for the tensor
(from the float32 product lhs_scale * rhs_scale, divided by output_scale in double,
as GetQuantizedConvolutionMultipler computes it) and a clamp to int8 (BATCH_MATMUL
has no fused activation). adj_x / adj_y say an operand is stored transposed: TFLM
copies it into a transposed buffer first; the generated C reads it with swapped
strides instead, the same products in the same order. Batch dimensions (up to three
in front of the matrices) broadcast: a dimension of 1 is reused.
"""

import numpy as np

from tinyflow.codegen.ops.base import Layer, Prepared, register
from tinyflow.codegen.quantize import quantize_multiplier

MAX_RANK = 5                     # TFLM supports ranks 2 to 5
MAX_DEPTH = (2**31 - 1) // (255 * 255)   # products of offset int8 values stay in int32


def _batch_loops(layer: Layer, lhs_shape, rhs_shape, out_shape) -> list[dict]:
    """The broadcast batch dimensions as loops: count, and each operand's step (0 when it
    is broadcast), dropping dimensions of 1."""
    rank = len(out_shape)
    lhs = (1,) * (rank - len(lhs_shape)) + tuple(lhs_shape)
    rhs = (1,) * (rank - len(rhs_shape)) + tuple(rhs_shape)
    loops = []
    for d in range(rank - 2):
        layer.require(lhs[d] == rhs[d] or 1 in (lhs[d], rhs[d]),
                      f"batch dimension {d}: {lhs[d]} and {rhs[d]} do not broadcast")
        count = max(lhs[d], rhs[d])
        layer.require(out_shape[d] == count,
                      f"output shape {list(out_shape)} does not match the batch dimensions")
        if count > 1:
            loops.append(dict(count=count,
                              lhs_step=0 if lhs[d] == 1 else int(np.prod(lhs[d + 1:])),
                              rhs_step=0 if rhs[d] == 1 else int(np.prod(rhs[d + 1:]))))
    return loops


@register("BATCH_MATMUL")
def batch_matmul(layer: Layer) -> Prepared:
    lhs, rhs, y = layer.input(0), layer.input(1), layer.output()
    layer.require_dtype(lhs, "lhs", "int8")
    layer.require_dtype(rhs, "rhs", "int8")
    layer.require_dtype(y, "output", "int8")
    for ref, what in ((lhs, "lhs"), (rhs, "rhs"), (y, "output")):
        layer.require_per_tensor(ref, what)
    for ref, what in ((lhs, "lhs"), (rhs, "rhs")):
        layer.require(2 <= len(ref.shape) <= MAX_RANK,
                      f"{what} has rank {len(ref.shape)}; TFLM supports 2 to {MAX_RANK}")
    layer.require(len(y.shape) == max(len(lhs.shape), len(rhs.shape)),
                  f"output has rank {len(y.shape)} for inputs of rank {len(lhs.shape)} "
                  f"and {len(rhs.shape)}")
    adj_x, adj_y = bool(layer.option("adj_x", False)), bool(layer.option("adj_y", False))
    lhs_a, lhs_b = lhs.shape[-2:]
    rhs_a, rhs_b = rhs.shape[-2:]
    rows, depth = (lhs_b, lhs_a) if adj_x else (lhs_a, lhs_b)
    rhs_depth, cols = (rhs_b, rhs_a) if adj_y else (rhs_a, rhs_b)
    layer.require(depth == rhs_depth,
                  f"lhs rows have {depth} values, rhs columns {rhs_depth}")
    layer.require(tuple(y.shape[-2:]) == (rows, cols),
                  f"output shape {list(y.shape)} is not {rows}x{cols} matrices")
    layer.require(depth <= MAX_DEPTH, f"{depth} values per dot product; at most {MAX_DEPTH} "
                                      f"fit an int32 sum")
    loops = _batch_loops(layer, lhs.shape, rhs.shape, y.shape)

    # TFLM: double(float32(lhs_scale * rhs_scale)) / double(output_scale).
    product_scale = float(np.float32(lhs.scale) * np.float32(rhs.scale))
    multiplier, shift = quantize_multiplier(product_scale / float(np.float32(y.scale)))
    matrices = int(np.prod([loop["count"] for loop in loops], dtype=np.int64))
    return layer.prepared(
        "batch_matmul.c.j2", macs=matrices * rows * cols * depth,
        cost_terms=("calls", "macs", "outputs"),
        lhs=lhs, rhs=rhs, y=y, batch_loops=loops, rows=rows, cols=cols, depth=depth,
        lhs_row_step=1 if adj_x else depth, lhs_depth_step=rows if adj_x else 1,
        rhs_col_step=depth if adj_y else 1, rhs_depth_step=1 if adj_y else cols,
        lhs_offset=-lhs.zero_point, rhs_offset=-rhs.zero_point,
        multiplier=multiplier, shift=shift, output_zero_point=y.zero_point)
