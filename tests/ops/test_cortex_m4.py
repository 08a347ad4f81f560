"""The generated kernels on Cortex-M4: cross-compiled, and run on an emulated board.

The host build compiles the portable C path of the kernels; a Cortex-M4 build takes
the SMLAD/SXTB16 path (codegen/runtime/tf_kernels.h), which only an Arm build exercises.
"""

from __future__ import annotations

import subprocess

import numpy as np
import pytest

from . import (test_activations, test_conv, test_depthwise, test_elementwise, test_fully_connected,
               test_lookup, test_normalization, test_quantize, test_shape_ops, test_sparse)
from .harness import board_and_reference_outputs, by_name, converted, name_seed, require_tools
from tinyflow.firmware.build import library_cflags

# Cases that cover each branch of the DSP path: 1x1 "direct" columns, per-tap and
# gathered-patch columns, odd filter counts and depths (tails), the depthwise channel
# remainder, border and dilated windows, input offset +128, and dense layers with one
# and with many rows.
DSP_CASES = [
    "conv_1x1_c16_f17_relu", "conv_3x3_stride2_same_odd_relu6", "conv_3x3_c32_f16",
    "conv_5x3_stride2_same_c13", "conv_3x3_dilation2_same", "conv_3x3_positive_inputs",
    "conv_1x1_relu_n1_to_1", "depthwise_3x3_m1_c17", "depthwise_3x3_m1_dilation2_valid_relu6",
    "depthwise_3x3_m1_stride2_same_even_relu", "depthwise_3x3_m1_positive_inputs",
    "depthwise_3x3_m1_no_bias", "depthwise_in_place_3x3_c7_relu6",
    "depthwise_in_place_5x3_dilation2_c12", "conv_in_place_3x3_c8_tap",
    "conv_in_place_3x3_c6_patch",
    "dense_100_to_17_relu", "dense_multidim_3x4x6",
    # dilated convolutions folded from SPACE_TO_BATCH_ND -> conv -> BATCH_TO_SPACE_ND
    "conv_3x3_dilation3x3_same_10x11x2_dynamic_batch",
    "depthwise_3x3_dilation2x2_same_9x10x3_dynamic_batch",
    # 2:4 sparse weights: one row's table (a padded last step, 1:4 rows), then two
    # columns' tables (dense rows, direct and tap-gathered convolutions, held rows)
    "sparse_dense_96_to_48_relu", "sparse_dense_120_to_17", "sparse_dense_126_to_40_1of4",
    "sparse_dense_600_to_20",
    "sparse_dense_rows_5x128_to_48", "sparse_conv_1x1_c64_f32",
    "sparse_conv_3x3_c32_f32_same_7x7", "sparse_conv_2x2_c32_f24_relu",
    "sparse_conv_3x3_c6_f48_same_patch",
]
ARITHMETIC_CASES = (test_conv.CASES + test_conv.IN_PLACE_CASES + test_depthwise.CASES
                    + test_depthwise.IN_PLACE_CASES
                    + test_fully_connected.CASES + test_sparse.CASES)


@pytest.mark.slow
@pytest.mark.parametrize("name", DSP_CASES)
def test_cortex_m4_dsp_kernels_match_tflm(name):
    """The same models on an emulated Cortex-M4 (QEMU): every output byte equals TFLM's
    (or the case's own reference, for a model TFLM cannot run)."""
    (case,) = by_name(ARITHMETIC_CASES, name)
    ours, reference = board_and_reference_outputs(case, seed=name_seed(name) + 1)
    for a, b in zip(ours, reference):
        mismatched = np.flatnonzero(a.view(np.uint8) != b.view(np.uint8))
        assert mismatched.size == 0, f"{name}: {mismatched.size} of {a.nbytes} bytes differ"


CROSS_CC = "arm-none-eabi-gcc"
# The firmware's own flags for the board, compile only.
CROSS_FLAGS = library_cflags("qemu-cortex-m4") + ["-c"]

# One case of each op family that has no DSP path, to show its C builds for Arm too.
CROSS_BUILD_CASES = [
    "pad_6x5x3_pads12-03_range-1to1", "padv2_6x5x3_pads00-11-20-01_value0.5",
    "concat_4x5x3_axis1_conv_same", "concat_requantized_3x4x2", "mean_global_pool_6x5x3",
    "mean_6x5x3_axes1_3_keepdims_range-1to1", "logistic_6x5x3_gain1_range-1to1",
    "tanh_6x5x3_gain1_range-1to1", "float_edges_17_tanh_range-1to1_inputs-1to1",
    "sub_broadcast_4x4x8_1x1x8", "max_constant_1x1x8", "squared_difference_broadcast_1x1x8",
    "rsqrt_0to4", "hard_swish_-4to4", "prelu_per_channel_7x6x8", "elu_-1to1",
    "layer_norm_6x8_axis-1",
]


def test_generated_code_builds_for_cortex_m4(tmp_path):
    require_tools(CROSS_CC)
    from tinyflow.codegen.generator import generate

    cases = by_name(test_shape_ops.CASES + test_activations.CASES + test_quantize.CASES
                    + test_elementwise.CASES + test_lookup.CASES + test_normalization.CASES,
                    *CROSS_BUILD_CASES)
    for position, case in enumerate(cases):
        out_dir = generate(converted(case)).write(tmp_path / f"model{position}")
        sources = sorted(out_dir.glob("*.c"))
        assert sources
        for source in sources:
            result = subprocess.run([CROSS_CC, *CROSS_FLAGS, str(source), "-I", str(out_dir),
                                     "-o", str(tmp_path / (source.stem + ".o"))],
                                    capture_output=True, text=True)
            assert result.returncode == 0, f"{case.name}: {source.name}:\n{result.stderr}"
