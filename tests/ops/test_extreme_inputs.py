"""Saturating inputs through one model of each arithmetic family, where rounding and
clamping corners are most likely to differ from TFLM."""

from __future__ import annotations

import numpy as np

from conftest import assert_bit_exact

from . import test_conv, test_depthwise, test_elementwise, test_fully_connected, test_pooling
from .harness import by_name, converted

CASES = by_name(test_conv.CASES + test_depthwise.CASES + test_fully_connected.CASES
                + test_pooling.CASES + test_elementwise.CASES,
                "conv_3x3_stride2_same_even", "depthwise_3x3_m2_valid", "dense_100_to_17_relu",
                "avgpool_3x3_s2_same", "add_same_shape", "mul_constant_1x1x8")


def test_extreme_inputs_match_tflm():
    """All -128, all 127, all 0, and two alternating patterns of -128 and 127."""
    from tinyflow.codegen.ir import load_model

    for case in CASES:
        model_bytes = converted(case)
        shape = tuple(load_model(model_bytes).input_tensors[0].shape)
        size = int(np.prod(shape))
        patterns = [np.full(size, -128), np.full(size, 127), np.full(size, 0),
                    np.where(np.arange(size) % 2 == 0, -128, 127),
                    np.where(np.arange(size) % 3 == 0, 127, -128)]
        batch = np.stack([p.reshape(shape) for p in patterns]).astype(np.int8)
        assert_bit_exact(model_bytes, inputs=[batch])
