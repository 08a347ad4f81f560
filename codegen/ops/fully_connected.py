"""FULLY_CONNECTED, int8 with per-tensor or per-channel weights."""

import numpy as np

from tinyflow.codegen.ops import sparse
from tinyflow.codegen.ops.base import Layer, Prepared, register
from tinyflow.codegen.ops.linear_int16 import fully_connected_int16, is_int16
from tinyflow.codegen.ops.packing import (ROW_PAIRS, ROW_QUADS, depth_blocks,
                                          matrix_requantization, pack_row_pairs, pack_row_quads)
from tinyflow.codegen.quantize import activation_range, quantize_multipliers


@register("FULLY_CONNECTED")
def fully_connected(layer: Layer) -> Prepared:
    if is_int16(layer):                 # int16x8: its own module
        return fully_connected_int16(layer)
    x, w, bias = layer.input(0), layer.input(1), layer.input(2)
    y = layer.output()
    layer.require_dtype(x, "input", "int8")
    layer.require_not_constant(x, "input")
    layer.require_dtype(w, "weights", "int8")
    layer.require_constant(w, "weights")
    layer.require_dtype(y, "output", "int8")
    layer.require(layer.option("weights_format", 0) == 0, "shuffled weights are not supported")
    if bias is not None:
        layer.require_dtype(bias, "bias", "int32")
        layer.require_constant(bias, "bias")
    layer.require(len(w.shape) == 2, f"weights must be 2-D, got {list(w.shape)}")
    units, depth = w.shape
    if bias is not None:
        layer.require(bias.shape == (units,),
                      f"bias has shape {list(bias.shape)} for {units} units")
    layer.require(x.elements % depth == 0,
                  f"input of {x.elements} elements does not split into rows of {depth}")
    layer.require(len(y.shape) >= 1 and y.shape[-1] == units,
                  f"output shape {list(y.shape)} has no {units} units")
    layer.require(y.elements == x.elements // depth * units,
                  f"output shape {list(y.shape)} does not hold {x.elements // depth} rows "
                  f"of {units} units")
    scales = w.tensor.quantization.scale
    layer.require(len(scales) in (1, units), f"weights have {len(scales)} scales for {units} units")
    if len(scales) == 1:
        scales = scales * units
    multipliers, shifts = quantize_multipliers(x.scale * s / y.scale for s in scales)
    act_min, act_max = activation_range(layer.activation(), y.scale, y.zero_point)
    batches = x.elements // depth
    per_channel = len(set(zip(multipliers, shifts))) > 1
    # TFLM's per-channel kernel (FullyConnectedPerChannel) ignores the weights' zero
    # points; only per-tensor weights have theirs subtracted.
    weights_offset = 0 if w.tensor.quantization.per_channel else -w.zero_point
    # The SMLAD matrix kernel needs symmetric weights (zero point 0, as TFLite's int8
    # spec requires); anything else takes the plain loops.
    fast = not any(w.tensor.quantization.zero_point)
    # The matrix kernels read their own form of the constants; the plain loops read
    # tables only when per channel.
    if fast:
        tables, matrix = matrix_requantization(layer, multipliers, shifts)
    else:
        tables = ([layer.table("multiplier", "int32_t", multipliers),
                   layer.table("shift", "int8_t", shifts)] if per_channel else [])
        matrix = {}
    macs = batches * units * depth
    folded = _folded_bias(w, bias, -x.zero_point) if fast and batches == 1 else None
    variant, kernel = "fully_connected", None
    table_offset = None     # where the column kernel's sparse tables start in the scratch
    sums_offset = None      # a deep single-row sparse layer's sums, after its table
    if folded is not None:
        # 2:4 sparse weights may also take the sparse layout: by default when it is smaller
        # and estimated faster (``tinyflow tune`` measures).
        qualifies = sparse.is_2_4_sparse(w.data)
        kernel = layer.choose("kernel", ("row", "matrix") + (("sparse",) if qualifies else ()),
                              "sparse" if qualifies and sparse.pays_off(units, depth) else "row")
    if kernel == "matrix":
        folded = None       # the tuning record found the column kernel faster here
    if kernel == "sparse":
        # One input row, 2:4 sparse weights: two weights and an index a group, against a
        # table of the input row's pairs built in the scratch; the offset folded as below.
        path, variant = "sparse_body", "fully_connected_sparse24"
        scratch, sums_offset = sparse.row_scratch(units, depth)
        packed = w.packed(sparse.SPARSE_2_4, sparse.pack_sparse_2_4(w.data))
        tables.insert(0, layer.table("folded_bias", "int32_t", folded))
    elif folded is not None:
        # One input row: read as int8 against packed row quads, the input offset folded
        # into the bias; no column, no scratch.
        path, scratch, packed = "row_body", 0, w.packed(ROW_QUADS, pack_row_quads(w.data))
        folded += [0] * (-len(folded) % 4)      # the kernel reads biases four at a time
        tables.insert(0, layer.table("folded_bias", "int32_t", folded))
    elif fast:
        # Rows two at a time as an int16 column pair (offset added) against row pairs, or,
        # for 2:4 sparse weights where it pays (not when tuning chose "matrix" for a
        # single row), sparse rows against two tables made from the pair.
        path, scratch = "matrix_body", 2 * 2 * 4 * depth_blocks(depth)
        if (kernel is None and sparse.is_2_4_sparse(w.data)
                and sparse.pays_off_for_columns(units, depth)):
            variant, table_offset = "fully_connected_columns_sparse24", scratch
            scratch += sparse.tables_bytes(depth)
            packed = w.packed(sparse.SPARSE_2_4, sparse.pack_sparse_2_4(w.data))
        else:
            packed = w.packed(ROW_PAIRS, pack_row_pairs(w.data))
    else:
        path, scratch, packed = "loops_body", 0, None
    return layer.prepared(
        "fully_connected.c.j2", variant=variant, macs=macs,
        features=dict(valid_macs=macs, rows=batches),
        cost_terms=("calls", "macs", "inputs", "outputs", "rows"), tables=tables,
        scratch_bytes=scratch, packed=packed, blocks=depth_blocks(depth),
        steps=sparse.steps(depth), sparse_tables=table_offset, sums_offset=sums_offset,
        window=sparse.TABLE_WINDOW_STEPS, **matrix,
        x=x, w=w, bias=bias, y=y, batches=batches, units=units, depth=depth,
        path=path, per_channel=per_channel,
        multipliers=multipliers, shifts=shifts, act_min=act_min, act_max=act_max,
        input_offset=-x.zero_point, weights_offset=weights_offset, output_offset=y.zero_point)


def _folded_bias(w, bias, input_offset: int):
    """bias + input_offset * (sum of the unit's weights), per unit, or None if a value does
    not fit in int32: sum((x + offset) * w) + bias = sum(x * w) + this, exactly."""
    folded = input_offset * w.data.astype(np.int64).sum(axis=1)
    if bias is not None:
        folded = folded + bias.data.astype(np.int64)
    if np.abs(folded).max(initial=0) >= 2**31:
        return None
    return [int(v) for v in folded]
