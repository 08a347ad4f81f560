"""FULLY_CONNECTED: sizes, bias or not, fused activations, batch dimensions."""

from __future__ import annotations

import numpy as np
import pytest

from .harness import Case, assert_case_matches_tflm, initializers, seeds_from_name, value_range


def dense(shape, units, use_bias=True, activation=None, seed=1):
    """One Dense layer with seeded weights; inputs of rank > 1 add batch rows."""
    import keras

    x = keras.Input(shape, batch_size=1)
    y = keras.layers.Dense(units, use_bias=use_bias, activation=activation,
                           **initializers(seed))(x)
    return keras.Model(x, y)


def conv_flatten_dense(shape):
    """Conv2D 1x1, Flatten (a RESHAPE), Dense: the usual classifier head."""
    import keras

    x = keras.Input(shape, batch_size=1)
    y = keras.layers.Conv2D(4, 1, **initializers(48))(x)
    y = keras.layers.Flatten()(y)
    y = keras.layers.Dense(3, **initializers(49))(y)
    return keras.Model(x, y)


def _dense(name, shape, units, fused=None, calibration=1.0, **options):
    """A FULLY_CONNECTED case; ``fused``: the activation the converter must fuse."""
    name = f"dense_{name}"
    return Case(name, dense, dict(shape=shape, units=units, **options), "FULLY_CONNECTED",
                activation=fused, calibration=value_range(calibration), **seeds_from_name(name))


CASES = [
    _dense("6_to_5", (6,), 5, seed=41),
    _dense("no_bias", (9,), 4, use_bias=False, seed=42),
    _dense("1_to_1", (1,), 1, seed=43),
    _dense("100_to_17_relu", (100,), 17, activation="relu", fused="RELU", seed=44),
    _dense("33_to_10_relu6", (33,), 10, activation="relu6", fused="RELU6", seed=45),
    _dense("multidim_3x4x6", (3, 4, 6), 5, seed=46),       # 12 rows of 6: batch dims
    _dense("multidim_2x7_no_bias", (2, 7), 3, use_bias=False, seed=47),
    _dense("positive_inputs", (24,), 6, seed=86, calibration=(0.0, 6.0)),
    Case("flatten_dense", conv_flatten_dense, dict(shape=(4, 4, 3)), "FULLY_CONNECTED",
         extra_ops=("RESHAPE", "CONV_2D"), **seeds_from_name("flatten_dense")),
]


@pytest.mark.parametrize("case", CASES, ids=str)
def test_fully_connected_matches_tflm(case):
    assert_case_matches_tflm(case)


@pytest.mark.parametrize("name", ["dense_6_to_5", "dense_multidim_3x4x6"])
def test_per_channel_weights_ignore_their_zero_points_as_tflm_does(name):
    """Regression (found by fuzzing): with per-channel weights TFLM's FULLY_CONNECTED
    (FullyConnectedPerChannel) ignores the weights' zero points; tinyflow subtracted the
    first one. Per-tensor weights still have theirs subtracted."""
    from conftest import assert_bit_exact
    from fuzz.mutate import pack, unpack

    from .harness import by_name, converted

    (case,) = by_name(CASES, name)
    model = unpack(converted(case))
    graph = model.subgraphs[0]
    fc = next(op for op in graph.operators
              if model.operatorCodes[op.opcodeIndex].builtinCode == 9)    # FULLY_CONNECTED
    quantization = graph.tensors[fc.inputs[1]].quantization
    assert len(quantization.scale) > 1, "the converter gave per-tensor weights"
    quantization.zeroPoint[0] = -5
    assert_bit_exact(pack(model), batch=24, seed=3)


@pytest.mark.parametrize("activations, reason", [
    ("int8", "output shape [] has no 1 units"),
    ("int16", "output shape [] does not hold 1 rows of 1 units"),
])
def test_a_scalar_output_is_refused_with_its_reason(activations, reason):
    """Regression (found by fuzzing): an output of rank 0 raised an IndexError (int8 and
    int16x8 layers)."""
    from tinyflow.codegen.ir import Quantization, Tensor

    from .test_data_movement import _refusal

    weights = np.ones((1, 6), dtype=np.int8)
    tensors = [Tensor(0, "input", (1, 6), activations, Quantization((0.5,), (0,))),
               Tensor(1, "output", (), activations, Quantization((0.5,), (0,))),
               Tensor(2, "weights", (1, 6), "int8", Quantization((0.1,), (0,)), data=weights)]
    message = _refusal("FULLY_CONNECTED", tensors, (0, 2), (1,), {})
    assert "op #0 (FULLY_CONNECTED)" in message
    assert reason in message, message
