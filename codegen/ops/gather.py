"""GATHER on int8 (TFLM's gather.cc): ``keras.ops.take`` of an activation along an
axis, ``keras.layers.Embedding`` (a table of constants, int32 indices from the input).

For every batch, every outer index and every coordinate, TFLM copies the inner slab
at the coordinate's index. Constant indices become the slab offsets of a table
(``layer<N>_offsets``); indices computed at run time are read as TFLM reads them.
Keras 3 wraps negative indices first (SELECT(LESS(i, 0), ADD(i, n), i) on int32,
which TFLM cannot run); the simplifier folds that into this op
(``wrap_negative_indices``, codegen/simplify.py), so i < 0 reads slab i + n.

TFLM does not check run-time indices (outside [0, n) it reads outside params); the
generated code clamps them into range, so it never reads outside the table.
"""

from __future__ import annotations

import numpy as np

from tinyflow.codegen.ops.base import Layer, Prepared, register
from tinyflow.codegen.ops.copying import index_ctype, require_int8


@register("GATHER")
def gather(layer: Layer) -> Prepared:
    params, indices, y = layer.input(0), layer.input(1), layer.output()
    require_int8(layer, [params], "params")
    require_int8(layer, [y], "output")
    layer.require(indices is not None and indices.tensor.dtype == "int32",
                  "indices must be int32 (TFLM's GATHER takes no other type)")
    wrap = bool(layer.option("wrap_negative_indices", False))
    rank, index_rank = len(params.shape), len(indices.shape)
    axis = layer.option("axis", 0)
    axis = axis + rank if axis < 0 else axis
    batch_dims = layer.option("batch_dims", 0)
    batch_dims = batch_dims + index_rank if batch_dims < 0 else batch_dims
    layer.require(0 <= axis < rank, f"axis {layer.option('axis')} is out of range for rank {rank}")
    layer.require(0 <= batch_dims <= axis and batch_dims < rank and batch_dims <= index_rank,
                  f"batch_dims {layer.option('batch_dims')} does not fit axis {axis} and "
                  f"indices of rank {index_rank}")
    layer.require(tuple(params.shape[:batch_dims]) == tuple(indices.shape[:batch_dims]),
                  "params and indices differ in their batch dimensions")
    expected = (list(params.shape[:axis]) + list(indices.shape[batch_dims:])
                + list(params.shape[axis + 1:]))
    layer.require(list(y.shape) == expected,
                  f"output shape {list(y.shape)} is not TFLM's {expected}")
    axis_size = params.shape[axis]

    def size(shape) -> int:
        return int(np.prod(shape, dtype=np.int64))

    batch = size(params.shape[:batch_dims])
    outer = size(params.shape[batch_dims:axis])
    inner = size(params.shape[axis + 1:])
    coords = size(indices.shape[batch_dims:])
    tables = []
    if indices.tensor.is_constant:
        values = indices.data.astype(np.int64).ravel()
        if wrap:
            values = np.where(values < 0, values + axis_size, values)
        # TFLM only checks these in debug builds (it would read outside params): refused.
        layer.require(bool(np.all((values >= 0) & (values < axis_size))),
                      f"an index is outside [0, {axis_size})")
        offsets = [int(v) * inner for v in values]
        tables = [layer.table("offsets", index_ctype(offsets), offsets)]
    return layer.prepared(
        "gather.c.j2", features=dict(runs=batch * outer * coords),
        cost_terms=("calls", "outputs", "runs"), tables=tables,
        path="constant_indices" if tables else "run_time_indices",
        x=params, indices=indices, y=y, batch=batch, outer=outer, coords=coords, inner=inner,
        axis_size=axis_size, wrap=wrap)
