"""SOFTMAX, LOGISTIC (sigmoid), TANH, RELU, RELU6, LEAKY_RELU, PRELU and ELU over a range
of input scales. (The converter leaves Keras' ELU in float32, between a DEQUANTIZE and
a QUANTIZE.)

SOFTMAX beta: the converter never fuses a scale into beta (`softmax(3 * x)` stays
MUL + SOFTMAX with beta 1), so beta != 1 is not reachable from Keras; different
input scales are covered through the calibration range instead.
"""

from __future__ import annotations

import numpy as np
import pytest

from conftest import assert_bit_exact

from .harness import (Case, assert_case_matches_tflm, check_contains_op, converted, dims,
                      initializers, seeds_from_name, span, value_range)


# --- SOFTMAX -------------------------------------------------------------------------------------
def softmax(shape, dense_units=None):
    """Softmax over the last axis, after a Dense layer when ``dense_units`` is given."""
    import keras

    x = keras.Input(shape, batch_size=1)
    y = keras.layers.Dense(dense_units, **initializers(70))(x) if dense_units else x
    return keras.Model(x, keras.layers.Softmax()(y))


def _softmax(name, shape, calibration, dense_units=None):
    name = f"softmax_{name}"
    return Case(name, softmax, dict(shape=shape, dense_units=dense_units), "SOFTMAX",
                calibration=value_range(calibration), **seeds_from_name(name))


SOFTMAX_CASES = [
    _softmax("after_dense", (12,), 1.0, dense_units=10),
    _softmax("rows_range1", (3, 10), 1.0),
    _softmax("rows_range8", (4, 6), 8.0),
    _softmax("rows_range40", (2, 16), 40.0),
    _softmax("4d_range0.1", (3, 3, 5), 0.1),
    _softmax("depth1", (7, 1), 2.0),
]


# --- LOGISTIC / TANH -----------------------------------------------------------------------------
def activation(shape, name, input_gain):
    """keras.layers.Activation(name) after a Rescaling, so the activation's input scale
    varies."""
    import keras

    x = keras.Input(shape, batch_size=1)
    y = keras.layers.Rescaling(input_gain)(x) if input_gain != 1.0 else x
    return keras.Model(x, keras.layers.Activation(name)(y))


OPCODES = {"sigmoid": "LOGISTIC", "tanh": "TANH"}


def _logistic_tanh(function, shape, input_gain, calibration=(-1.0, 1.0), input_seed=7):
    opcode = OPCODES[function]
    name = f"{opcode.lower()}_{dims(shape)}_gain{input_gain:g}_range{span(calibration)}"
    return Case(name, activation, dict(shape=shape, name=function, input_gain=input_gain),
                opcode, calibration=calibration, input_seed=input_seed)


LOGISTIC_TANH_CASES = [
    _logistic_tanh(function, shape, input_gain, calibration)
    for function in OPCODES
    for shape, input_gain, calibration in [
        ((6, 5, 3), 1.0, (-1.0, 1.0)),
        ((40,), 8.0, (-1.0, 1.0)),      # wide input range: saturation on both sides
        ((4, 4), 0.05, (-1.0, 1.0)),    # narrow input range: large multiplier
        ((3, 3, 3), 20.0, (-1.0, 1.0)),
        ((50,), 4.0, (-0.2, 1.0)),      # input zero point far from 0
        ((2, 25), 1.0, (-3.0, 0.1)),
    ]
]

# --- RELU / RELU6 / LEAKY_RELU ------------------------------------------------------------------
def relu_after(shape, function, after):
    """A standalone ReLU family op: directly on the input ("input"), or after a
    Concatenate with a 1x1 Conv2D branch ("concat"; the converter fuses a ReLU into
    ADD or a convolution, never into CONCATENATION). Built the default Keras way:
    ``keras.Input(shape)``, a dynamic batch."""
    import keras

    x = keras.Input(shape)
    y = x
    if after == "concat":
        y = keras.layers.Concatenate()([x, keras.layers.Conv2D(shape[-1], 1, **initializers(90))(x)])
    if function == "relu":
        layer = keras.layers.ReLU()
    elif function == "relu6":
        layer = keras.layers.ReLU(max_value=6.0)
    else:   # "leaky0.3": keras.layers.LeakyReLU with that negative slope
        layer = keras.layers.LeakyReLU(negative_slope=float(function.removeprefix("leaky")))
    return keras.Model(x, layer(y))


RELU_OPCODES = {"relu": "RELU", "relu6": "RELU6"}


def _relu(function, shape, after, calibration):
    opcode = RELU_OPCODES.get(function, "LEAKY_RELU")
    name = f"{function}_{after}_{dims(shape)}_range{span(calibration)}"
    return Case(name, relu_after, dict(shape=shape, function=function, after=after), opcode,
                extra_ops=("CONCATENATION",) if after == "concat" else (),
                calibration=calibration, **seeds_from_name(name))


_RELU_SETTINGS = [
    ((4, 5, 3), "concat", (-1.0, 1.0)),
    ((6, 6, 2), "concat", (-8.0, 8.0)),     # RELU6 clamps at 6 inside the range
    ((3, 3, 4), "concat", (-0.2, 3.0)),     # zero point far from the middle
    ((40,), "input", (-1.0, 1.0)),
    ((5, 7), "input", (-10.0, 2.0)),
    ((2, 3, 5), "input", (0.5, 9.0)),       # no negative inputs at all
]

RELU_CASES = [_relu("relu", *settings) for settings in _RELU_SETTINGS]
RELU6_CASES = [_relu("relu6", *settings) for settings in _RELU_SETTINGS]
LEAKY_RELU_CASES = [_relu(function, *settings) for function in ("leaky0.3", "leaky0.01")
                    for settings in _RELU_SETTINGS] + [
    _relu("leaky2.5", (4, 4, 2), "concat", (-2.0, 2.0)),    # alpha > 1
]

# --- PRELU ---------------------------------------------------------------------------------------
def prelu(shape, alpha_range, shared_axes=None, after_conv=False, batch_size=1, seed=0):
    """keras.layers.PReLU with seeded random alphas in ``alpha_range`` (one per element,
    or shared along ``shared_axes``), on the input or after a 1x1 Conv2D."""
    import keras

    x = keras.Input(shape, batch_size=batch_size)
    y = keras.layers.Conv2D(shape[-1], 1, **initializers(seed))(x) if after_conv else x
    alphas = keras.initializers.RandomUniform(*alpha_range, seed=seed + 2)
    return keras.Model(x, keras.layers.PReLU(alphas, shared_axes=shared_axes)(y))


def _prelu(name, shape, alpha_range, calibration=1.0, **options):
    name = f"prelu_{name}"
    return Case(name, prelu, dict(shape=shape, alpha_range=alpha_range, **options), "PRELU",
                calibration=value_range(calibration), **seeds_from_name(name))


PRELU_CASES = [
    _prelu("per_element_6x5x4", (6, 5, 4), (0.0, 0.5)),
    _prelu("per_channel_7x6x8", (7, 6, 8), (-0.5, 1.5), shared_axes=[1, 2], calibration=3.0),
    _prelu("shared_5x5x3", (5, 5, 3), (0.1, 0.3), shared_axes=[1, 2, 3]),
    _prelu("per_channel_rows_12x10", (12, 10), (0.0, 2.0), shared_axes=[1],
           calibration=(-4.0, 1.0)),
    _prelu("after_conv_dynamic_batch", (5, 6, 4), (-0.2, 0.6), shared_axes=[1, 2],
           after_conv=True, batch_size=None, seed=4, calibration=2.0),
]

# --- ELU -----------------------------------------------------------------------------------------
def elu(shape, after_conv=False, batch_size=1, seed=0):
    """keras.layers.ELU on the input, or after a 1x1 Conv2D."""
    import keras

    x = keras.Input(shape, batch_size=batch_size)
    y = keras.layers.Conv2D(shape[-1], 1, **initializers(seed))(x) if after_conv else x
    return keras.Model(x, keras.layers.ELU()(y))


def _elu(name, shape, calibration, **options):
    name = f"elu_{name}"
    return Case(name, elu, dict(shape=shape, **options), "ELU",
                extra_ops=("DEQUANTIZE", "QUANTIZE"), calibration=value_range(calibration),
                **seeds_from_name(name))


ELU_CASES = [
    _elu("-1to1", (6, 5, 4), 1.0),
    _elu("-8to2", (30,), (-8.0, 2.0)),
    _elu("-0.1to5", (4, 7), (-0.1, 5.0)),
    _elu("after_conv_dynamic_batch", (5, 6, 4), 3.0, after_conv=True, batch_size=None, seed=5),
]

CASES = (SOFTMAX_CASES + LOGISTIC_TANH_CASES + RELU_CASES + RELU6_CASES + LEAKY_RELU_CASES
         + PRELU_CASES + ELU_CASES)


@pytest.mark.parametrize("case", CASES, ids=str)
def test_activation_matches_tflm(case):
    assert_case_matches_tflm(case)


def test_logistic_tanh_every_int8_input():
    """All 256 int8 input values through both functions, at two input scales."""
    from tinyflow.codegen.ir import load_model

    every_value = np.arange(-128, 128, dtype=np.int8).reshape(1, 1, 256)
    for function in OPCODES:
        for gain in (1.0, 6.0):
            case = _logistic_tanh(function, (256,), gain)
            model_bytes = converted(case)
            check_contains_op(load_model(model_bytes), case)
            assert_bit_exact(model_bytes, inputs=[np.repeat(every_value, 20, axis=0)])


def test_leaky_relu_multipliers_are_tflms_on_every_int8_input():
    """int8 LEAKY_RELU with scales and alpha whose multipliers differ when computed in
    float32 and in double: TFLM's Prepare computes them in double (found on the int16x8
    kernel, tests/ops/test_int16x8.py); all 256 inputs compared."""
    from tflite_micro.tensorflow.lite.micro.python.schema_py_generated import BuiltinOperator

    from conftest import assert_bit_exact
    from fuzz.mutate import pack, unpack
    from tinyflow.codegen.quantize import quantize_multiplier

    from .harness import by_name, converted

    # found by search: x - zero point = -53 gives -22 with the float32 multiplier, -23
    # with the double one
    input_scale, output_scale = np.float32(0.07507857), np.float32(0.08796903)
    alpha = np.float32(0.49188995)
    assert (quantize_multiplier(float(input_scale * alpha / output_scale))
            != quantize_multiplier(float(input_scale) * float(alpha) / float(output_scale)))
    (case,) = by_name(LEAKY_RELU_CASES, "leaky0.3_concat_4x5x3_range-1to1")
    model = unpack(converted(case))
    subgraph = model.subgraphs[0]
    (leaky,) = [op for op in subgraph.operators
                if model.operatorCodes[op.opcodeIndex].builtinCode == BuiltinOperator.LEAKY_RELU]
    for tensor, scale in ((leaky.inputs[0], input_scale), (leaky.outputs[0], output_scale)):
        subgraph.tensors[tensor].quantization.scale = np.array([scale], np.float32)
        subgraph.tensors[tensor].quantization.zeroPoint = np.array([0], np.int64)
    leaky.builtinOptions.alpha = float(alpha)
    subgraph.inputs = np.array([leaky.inputs[0]], np.int32)     # the LEAKY_RELU alone
    subgraph.operators = [leaky]
    every_int8 = np.arange(-128, 128, dtype=np.int8)
    shape = tuple(subgraph.tensors[leaky.inputs[0]].shape)
    batch = -(-every_int8.size // int(np.prod(shape)))
    assert_bit_exact(pack(model), inputs=[np.resize(every_int8, (batch, *shape))])
