"""SUM, REDUCE_MAX, TRANSPOSE_CONV and BATCH_MATMUL on Cortex-M4: plain C loops with no
DSP path, cross-compiled with the firmware's flags (-Werror) and run on QEMU, one case
of each op (its broadcasting or strided form where it has one), bit-exact with TFLM."""

from __future__ import annotations

import numpy as np
import pytest

from . import test_batch_matmul, test_reductions, test_transpose_conv
from .harness import board_and_reference_outputs, by_name, name_seed

CORTEX_M4_CASES = [
    "sum_6x5x3_axes1_3_keepdims_range-1to1", "max_6x5x3_axes1_3_range-1to1",
    "transpose_conv_6x5x4_f3_k3x3_s2x2_same", "batch_matmul_shared_query_6x8_w8_heads2",
]
CASES = test_reductions.CASES + test_transpose_conv.CASES + test_batch_matmul.CASES


@pytest.mark.slow
@pytest.mark.parametrize("name", CORTEX_M4_CASES)
def test_plain_loop_kernels_on_cortex_m4_match_tflm(name):
    (case,) = by_name(CASES, name)
    ours, reference = board_and_reference_outputs(case, seed=name_seed(name) + 1)
    for a, b in zip(ours, reference, strict=True):
        mismatched = np.flatnonzero(a.view(np.uint8) != b.view(np.uint8))
        assert mismatched.size == 0, f"{name}: {mismatched.size} of {a.nbytes} bytes differ"
