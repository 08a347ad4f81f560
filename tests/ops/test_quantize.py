"""QUANTIZE and DEQUANTIZE at a model's float32 edges (float inputs both inside and
far beyond the calibration range, so clamping is exercised), and QUANTIZE's rounding.
The int8 -> int8 QUANTIZE (a requantization) is in test_shape_ops.py, before a
CONCATENATION."""

from __future__ import annotations

import numpy as np
import pytest

from conftest import assert_bit_exact

from .harness import Case, assert_case_matches_tflm, converted, dims, first_op, opcodes, span


def float_edges(shape, inner):
    """A model with float32 input and output: QUANTIZE, one op, DEQUANTIZE. The op is
    keras.layers.Activation(inner), or a Rescaling when ``inner`` is None."""
    import keras

    x = keras.Input(shape, batch_size=1)
    y = keras.layers.Activation(inner)(x) if inner else keras.layers.Rescaling(1.5)(x)
    return keras.Model(x, y)


def quantize_first_dequantize_last(model):
    ops = opcodes(model)
    assert ops[0] == "QUANTIZE" and ops[-1] == "DEQUANTIZE", ops


def _float_edges(shape, inner, calibration, inputs):
    name = f"float_edges_{dims(shape)}_{inner or 'rescale'}_range{span(calibration)}" \
           f"_inputs{span(inputs)}"
    return Case(name, float_edges, dict(shape=shape, inner=inner), "QUANTIZE",
                extra_ops=("DEQUANTIZE",), check=quantize_first_dequantize_last,
                calibration=calibration, int8_io=False, float_inputs=inputs, input_seed=8)


CASES = [
    _float_edges(shape, inner, calibration, inputs)
    for inputs in [(-1.0, 1.0), (-6.0, 6.0), (-1e4, 1e4)]
    for shape, inner, calibration in [
        ((6, 5, 3), None, (-1.0, 1.0)),
        ((17,), "tanh", (-1.0, 1.0)),
        ((4, 8), "sigmoid", (-1.0, 1.0)),
        ((33,), None, (0.0, 3.0)),        # input zero point -128
        ((5, 7), "tanh", (-2.5, 0.25)),   # input zero point near +100
    ]
]


@pytest.mark.parametrize("case", CASES, ids=str)
def test_float_edges_match_tflm(case):
    outputs = assert_case_matches_tflm(case)
    assert outputs[0].dtype == np.float32


def test_quantize_rounds_halves_away_from_zero():
    """Inputs at exact half steps of the input scale: roundf, not round-half-even."""
    from tinyflow.codegen.ir import load_model

    case = Case("quantize_halves", float_edges, dict(shape=(64,), inner=None), "QUANTIZE",
                int8_io=False)
    model_bytes = converted(case)
    model = load_model(model_bytes)
    scale = np.float32(model.tensors[first_op(model, "QUANTIZE").outputs[0]].scale)
    halves = (np.arange(-32, 32, dtype=np.float32) + np.float32(0.5)) * scale
    batch = np.stack([halves * np.float32(k) for k in (1, 2, 3, -1, 5)] * 4)
    assert_bit_exact(model_bytes, inputs=[batch.astype(np.float32).reshape(20, 1, 64)])
