"""Weights and requantization constants in the form the matrix kernels read, arranged
once at build time.

The matrix kernel (tf_mat_mult_pairs in codegen/runtime/tf_kernels.h) walks two weight
rows at a time, four values of each per step, with one 8-byte load. So the rows are
stored as "row pairs": rows 2i and 2i + 1 interleaved in blocks of four, each row
zero-padded to a multiple of four values, an odd last row paired with a zero row.
Zero weights add nothing, so the padding changes no sum.
"""

from __future__ import annotations

import numpy as np

ROW_PAIRS = "pairs"   # the layout's name: the packed C array is <weights>_pairs


def depth_blocks(depth: int) -> int:
    """Blocks of four values a row of ``depth`` values takes."""
    return (depth + 3) // 4


def pack_row_pairs(rows: np.ndarray) -> np.ndarray:
    """int8 rows [count, depth] -> the row-pair layout, flat."""
    count, depth = rows.shape
    padded = np.zeros((count + count % 2, 4 * depth_blocks(depth)), dtype=rows.dtype)
    padded[:count, :depth] = rows
    pairs, depth4 = padded.shape[0] // 2, padded.shape[1]
    # [pair, row of the pair, block, value] -> [pair, block, row of the pair, value]
    return padded.reshape(pairs, 2, depth4 // 4, 4).transpose(0, 2, 1, 3).reshape(-1)


def matrix_requantization(layer, multipliers, shifts) -> tuple[list, dict]:
    """The tables and template parameters of the matrix kernels' requantization
    (tf_requant_params in codegen/runtime/tf_kernels.h). When every shift is a right shift
    of at least 2 bits (most layers), shifts are stored as k = -shift - 2, what the shorter
    form (tf_scale_right) reads. One multiplier and shift per row as tables; when all rows
    share them, as constants in the code (``requant_arrays``: the C arguments)."""
    per_row = len(set(zip(multipliers, shifts))) > 1
    right_shifts_only = all(s <= -2 for s in shifts)
    if right_shifts_only:
        shifts = [-s - 2 for s in shifts]
    if per_row:
        tables = [layer.table("multiplier", "int32_t", multipliers),
                  layer.table("shift", "int8_t", shifts)]
        arrays = f"layer{layer.index}_multiplier, layer{layer.index}_shift"
    else:   # folded into immediates by the compiler: no table in flash
        tables = []
        arrays = f"(const int32_t[1]){{ {multipliers[0]} }}, (const int8_t[1]){{ {shifts[0]} }}"
    return tables, dict(per_row=per_row, right_shifts_only=right_shifts_only,
                        requant_arrays=arrays)


ROW_QUADS = "quads"   # rows 4i .. 4i + 3 interleaved: the single-row kernel's layout


def pack_row_quads(rows: np.ndarray) -> np.ndarray:
    """int8 rows [count, depth] -> rows 4i .. 4i + 3 interleaved in blocks of four, flat
    (rows zero-padded to a multiple of four values, the row count to a multiple of four)."""
    count, depth = rows.shape
    padded = np.zeros((-(-count // 4) * 4, 4 * depth_blocks(depth)), dtype=rows.dtype)
    padded[:count, :depth] = rows
    quads, depth4 = padded.shape[0] // 4, padded.shape[1]
    return padded.reshape(quads, 4, depth4 // 4, 4).transpose(0, 2, 1, 3).reshape(-1)


CHANNEL_BLOCKS = "channels16"   # depthwise taps: int16, channels in SXTB16's order


def pack_channel_blocks(taps: np.ndarray) -> np.ndarray:
    """int8 depthwise weights [taps, channels] -> int16, each tap's channels in blocks of
    four ordered c0, c2, c1, c3 (what SXTB16 gives from four int8 inputs), the channel
    count zero-padded to a multiple of four; flat."""
    count, channels = taps.shape
    padded = np.zeros((count, 4 * depth_blocks(channels)), dtype=np.int16)
    padded[:, :channels] = taps
    return padded.reshape(count, -1, 4)[:, :, [0, 2, 1, 3]].reshape(-1)
