"""2:4 structured sparsity: weight rows where every aligned group of four values along the
depth holds at most two non-zeros (1:4 rows qualify too), stored as two weights and one
index byte a group, 3 bytes where the dense layouts take 4.

The kernels (codegen/runtime/tf_kernels.h) expand their input into a table of eight int16
values a group (x0, x2, x1, x3, x0, x1, x2, x3): every pair of a group's values is two
adjacent entries, so each group costs one table load and one SMLAD. tf_mat_vec_sparse24
(single-row FULLY_CONNECTED) makes the table from the int8 row with the input offset
folded into the bias, 256 values at a time; tf_mat_mult_sparse24 (conv, multi-row FC)
makes two from a column pair. The prepare steps choose them with the instruction counts
below. A row is stored in steps of eight groups:
16 bytes of weights (word j: groups 2j and 2j + 1 as 2j low, 2j+1 low, 2j high, 2j+1 high,
what SXTB16 splits into two pairs), then one byte a group, 8 * (g % 16) + k, the halfword
offset of its pair in the table from the start of an even step on (the kernel's loop
takes two steps at a time).
"""

from __future__ import annotations

import numpy as np

SPARSE_2_4 = "sparse24"      # the layout's name: the packed C array is <weights>_sparse24

GROUP = 4                    # values a group
STEP_GROUPS = 8              # groups a step of the kernel's loop
STEP_BYTES = 24              # 16 bytes of weights, 8 index bytes
TABLE_BYTES_PER_GROUP = 16   # eight int16 entries
# A single row's table covers at most this many steps (256 values, 1 KB): a deeper row is
# summed window by window, an int32 a row carried between them (tf_mat_vec_sparse24_windows).
TABLE_WINDOW_STEPS = 8
INDEX_WINDOW_GROUPS = 16     # index bytes count from the table of an even step
_TABLE_ORDER = (0, 2, 1, 3, 0, 1, 2, 3)   # a group's values in its table, by position

# Instructions on Cortex-M4 (tf_kernels.h), to decide whether sparsity pays: two steps of
# one sparse row (16 groups) and a last odd step, a block of four rows' dense quads (4
# values), one group of the table built once per layer, and each row's loop and
# requantization in either kernel (measured on ad01's 128 x 128 layers on qemu-cortex-m4).
SPARSE_TWO_STEPS_INSTRUCTIONS = 71
SPARSE_LAST_STEP_INSTRUCTIONS = 34
QUAD_BLOCK_INSTRUCTIONS = 21
TABLE_GROUP_INSTRUCTIONS = 10
SPARSE_ROW_INSTRUCTIONS = 19
QUAD_ROW_INSTRUCTIONS = 28
SPARSE_WINDOW_ROW_INSTRUCTIONS = 16   # a row's sum carried over one more window (ad01: 128 x 640)


def _pair_slots() -> dict[tuple[int, int], tuple[int, int, int]]:
    """(i, j) with i < j -> (k, position of table[k], position of table[k + 1])."""
    slots = {}
    for k in range(len(_TABLE_ORDER) - 1):
        low, high = _TABLE_ORDER[k], _TABLE_ORDER[k + 1]
        slots.setdefault((min(low, high), max(low, high)), (k, low, high))
    return slots


PAIR_SLOTS = _pair_slots()
assert len(PAIR_SLOTS) == 6, "the table order must hold every pair of a group"


def steps(depth: int) -> int:
    """Steps of eight groups a row of ``depth`` values takes."""
    return -(-depth // (GROUP * STEP_GROUPS))


def _grouped(rows: np.ndarray) -> np.ndarray:
    """[count, depth] -> [count, steps * 8, 4], zero-padded."""
    count, depth = rows.shape
    padded = np.zeros((count, steps(depth) * STEP_GROUPS * GROUP), dtype=rows.dtype)
    padded[:, :depth] = rows
    return padded.reshape(count, -1, GROUP)


def is_2_4_sparse(rows: np.ndarray) -> bool:
    """Every aligned group of four values of every row has at most two non-zeros."""
    return bool(rows.size) and bool(((_grouped(rows) != 0).sum(axis=2) <= 2).all())


def pack_sparse_2_4(rows: np.ndarray) -> np.ndarray:
    """int8 2:4 sparse rows [count, depth] -> the sparse24 layout, flat int8."""
    groups = _grouped(rows)
    count, group_count, _ = groups.shape
    low = np.zeros((count, group_count), dtype=np.int8)
    high = np.zeros((count, group_count), dtype=np.int8)
    index = np.zeros((count, group_count), dtype=np.int8)
    for r in range(count):
        for g in range(group_count):
            nonzero = set(np.flatnonzero(groups[r, g]).tolist())
            assert len(nonzero) <= 2, "pack_sparse_2_4 needs 2:4 sparse rows"
            pair = next(p for p in PAIR_SLOTS if nonzero <= set(p))   # zero weights fill
            k, low_at, high_at = PAIR_SLOTS[pair]
            low[r, g], high[r, g] = groups[r, g, low_at], groups[r, g, high_at]
            index[r, g] = TABLE_BYTES_PER_GROUP // 2 * (g % INDEX_WINDOW_GROUPS) + k
    # [row, step, word j, group of the word] -> bytes low(2j), low(2j+1), high(2j), high(2j+1)
    shape = (count, group_count // STEP_GROUPS, STEP_GROUPS // 2, 2)
    words = np.concatenate([low.reshape(shape), high.reshape(shape)], axis=3)
    weights = words.reshape(count, -1, 2 * STEP_GROUPS)
    indices = index.reshape(count, -1, STEP_GROUPS)
    return np.concatenate([weights, indices], axis=2).reshape(-1)


def pays_off(units: int, depth: int) -> bool:
    """The sparse layout is smaller than the row quads and, by the instruction counts
    above, faster: not for shallow rows, which the steps of 32 values would mostly pad."""
    blocks = -(-depth // GROUP)
    quad_rows = -(-units // 4)
    sparse_bytes = units * STEP_BYTES * steps(depth)
    dense_bytes = quad_rows * 16 * blocks
    row = (SPARSE_TWO_STEPS_INSTRUCTIONS * (steps(depth) // 2)
           + SPARSE_LAST_STEP_INSTRUCTIONS * (steps(depth) % 2) + SPARSE_ROW_INSTRUCTIONS)
    windows = -(-steps(depth) // TABLE_WINDOW_STEPS)
    row += SPARSE_WINDOW_ROW_INSTRUCTIONS * (windows - 1)
    sparse = units * row + TABLE_GROUP_INSTRUCTIONS * STEP_GROUPS * steps(depth)
    dense = quad_rows * QUAD_BLOCK_INSTRUCTIONS * blocks + units * QUAD_ROW_INSTRUCTIONS
    return sparse_bytes < dense_bytes and sparse < dense


# The same for two columns (tf_mat_mult_sparse24: conv, multi-row FC) against the row pairs
# (tf_mat_mult_pairs): two steps of a sparse row and a last odd step, a block of a dense row
# pair (its loop's share included), the two tables made from a column pair, per group, and
# each row's (row pair's) loop and requantization of two outputs. Fitted to the sparse
# convolutions of tests/ops/test_sparse.py on qemu-cortex-m4 (9% to 11% fewer
# instructions, 0.3% for a patch-gathered one).
SPARSE_COLUMNS_TWO_STEPS_INSTRUCTIONS = 104
SPARSE_COLUMNS_LAST_STEP_INSTRUCTIONS = 50
PAIR_BLOCK_INSTRUCTIONS = 15.5
TABLES_GROUP_INSTRUCTIONS = 12
SPARSE_COLUMNS_ROW_INSTRUCTIONS = 30
PAIR_ROW_PAIR_INSTRUCTIONS = 65


def pays_off_for_columns(rows: int, depth: int) -> bool:
    """``pays_off`` for the two-column kernel, per column pair."""
    blocks, row_pairs = -(-depth // GROUP), -(-rows // 2)
    sparse_bytes = rows * STEP_BYTES * steps(depth)
    dense_bytes = row_pairs * 8 * blocks
    row = (SPARSE_COLUMNS_TWO_STEPS_INSTRUCTIONS * (steps(depth) // 2)
           + SPARSE_COLUMNS_LAST_STEP_INSTRUCTIONS * (steps(depth) % 2)
           + SPARSE_COLUMNS_ROW_INSTRUCTIONS)
    sparse = rows * row + TABLES_GROUP_INSTRUCTIONS * STEP_GROUPS * steps(depth)
    dense = row_pairs * (PAIR_BLOCK_INSTRUCTIONS * blocks + PAIR_ROW_PAIR_INSTRUCTIONS)
    return sparse_bytes < dense_bytes and sparse < dense


def row_scratch(units: int, depth: int) -> tuple[int, int | None]:
    """(scratch bytes, where the rows' sums start or None) of the single-row kernel: the
    row's whole table, or one window's table and the rows' int32 sums after it."""
    if steps(depth) <= TABLE_WINDOW_STEPS:
        return TABLE_BYTES_PER_GROUP * STEP_GROUPS * steps(depth), None
    window_table = TABLE_BYTES_PER_GROUP * STEP_GROUPS * TABLE_WINDOW_STEPS
    return window_table + 4 * units, window_table


def tables_bytes(depth: int) -> int:
    """Scratch of the two-column kernel's tables."""
    return 2 * TABLE_BYTES_PER_GROUP * STEP_GROUPS * steps(depth)


def prune_by_magnitude(rows: np.ndarray, keep: int = 2) -> np.ndarray:
    """``rows`` [count, depth] with all but the ``keep`` largest magnitudes of every aligned
    group of four values set to zero (ties: the first): N:4 sparse rows to try the layout
    on (the tests' Dense kernels, benchmarks/sparsity.py's pruned models)."""
    count, depth = rows.shape
    groups = _grouped(rows)
    order = np.argsort(-np.abs(groups.astype(np.float64)), axis=2, kind="stable")
    pruned = groups.copy()
    np.put_along_axis(pruned, order[:, :, keep:], 0, axis=2)
    return pruned.reshape(count, -1)[:, :depth]
