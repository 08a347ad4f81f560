"""Differential tests: every int8 kernel, many shapes and options, byte-for-byte against TFLM.

Each case builds a tiny Keras model around one op, converts it to int8 with
`quantize_keras` (calibrated on a seeded representative dataset), checks that the
converted model really contains the op under test (and the fused activation, if
any), then compares every output byte of the generated C with TFLM's interpreter
on random int8 inputs.

TensorFlow is imported lazily and each conversion is cached for the module, so
collecting the tests stays cheap. Notes on what the converter can produce:
- Grouped convolution: Keras `Conv2D(groups=g)` converts to one CONV_2D whose filter
  has in_channels / g channels; covered.
- RELU_N1_TO_1: Keras' `ReLU` rejects a negative threshold, but a clip to [-1, 1]
  after a conv is fused into the conv as RELU_N1_TO_1; covered that way.
- SOFTMAX beta: the converter never fuses a scale into beta (`softmax(3 * x)` stays
  MUL + SOFTMAX with beta 1), so beta != 1 is not reachable from Keras; different
  input scales are covered through the calibration range instead.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from typing import Callable

import numpy as np
import pytest

from conftest import assert_bit_exact

BATCH = 24               # inputs compared per model (>= 20)
CALIBRATION_SAMPLES = 32


@dataclass(frozen=True)
class Case:
    """One model: `build(keras, tf)` returns the layers applied to the input (or a callable
    taking the input tensor for non-sequential graphs)."""

    name: str
    input_shape: tuple
    build: Callable
    op: str                                   # opcode that must be in the converted model
    activation: str | None = None             # fused activation that op must carry
    calibration_range: float | tuple = 1.0    # representative data ~ U(-r, r), or U(lo, hi)
    functional: bool = False                  # build(keras, tf) maps an input tensor to an output
    extra_ops: tuple = field(default=())      # other opcodes that must also be present

    def __str__(self):
        return self.name


def _initializers(keras, seed: int):
    """Seeded random weights, and non-zero biases so the bias path is exercised."""
    return dict(kernel_initializer=keras.initializers.GlorotUniform(seed=seed),
                bias_initializer=keras.initializers.RandomUniform(-0.3, 0.3, seed=seed + 1))


def _depthwise_initializers(keras, seed: int):
    return dict(depthwise_initializer=keras.initializers.GlorotUniform(seed=seed),
                bias_initializer=keras.initializers.RandomUniform(-0.3, 0.3, seed=seed + 1))


def _clip_n1_to_1(tf):
    return lambda t: tf.clip_by_value(t, -1.0, 1.0)


# --- CONV_2D ----------------------------------------------------------------------------------
def _conv(name, shape, filters, kernel, strides=1, padding="same", dilation=1, groups=1,
          activation=None, use_bias=True, seed=1, clip=False, fused=None, calibration=1.0):
    def build(keras, tf):
        layers = [keras.layers.Conv2D(filters, kernel, strides=strides, padding=padding,
                                      dilation_rate=dilation, groups=groups,
                                      activation=activation, use_bias=use_bias,
                                      **_initializers(keras, seed))]
        if clip:
            layers.append(keras.layers.Lambda(_clip_n1_to_1(tf)))
        return layers
    return Case(f"conv_{name}", shape, build, "CONV_2D", activation=fused,
                calibration_range=calibration)


CONV_CASES = [
    _conv("1x1_c1_f1", (5, 5, 1), 1, 1),
    _conv("1x1_c3_f8", (6, 6, 3), 8, 1, seed=2),
    _conv("1x1_c16_f17_relu", (4, 4, 16), 17, 1, activation="relu", fused="RELU", seed=3),
    _conv("1x1_stride2_valid", (7, 7, 5), 6, 1, strides=2, padding="valid", seed=4),
    _conv("3x3_same_c3_f4", (8, 8, 3), 4, 3, seed=5),
    _conv("3x3_valid_c7_f5", (9, 7, 7), 5, 3, padding="valid", seed=6),
    _conv("3x3_stride2_same_even", (8, 8, 4), 6, 3, strides=2, seed=7),
    _conv("3x3_stride2_same_odd_relu6", (9, 9, 2), 3, 3, strides=2, activation="relu6",
          fused="RELU6", seed=8),
    _conv("3x3_stride2_valid_c17", (9, 8, 17), 9, 3, strides=2, padding="valid", seed=9),
    _conv("5x3_same_c1", (10, 7, 1), 5, (5, 3), seed=10),
    _conv("5x3_stride_2x1_valid", (11, 6, 6), 4, (5, 3), strides=(2, 1), padding="valid",
          seed=11),
    _conv("5x3_stride2_same_c13", (9, 9, 13), 11, (5, 3), strides=2, seed=12),
    _conv("3x3_dilation2_same", (9, 9, 3), 4, 3, dilation=2, seed=13),
    _conv("3x3_dilation2_valid", (10, 9, 5), 3, 3, padding="valid", dilation=2, seed=14),
    _conv("3x3_groups2", (8, 8, 4), 6, 3, groups=2, seed=15),
    _conv("1x1_groups3_relu", (5, 5, 9), 12, 1, groups=3, activation="relu", fused="RELU",
          seed=16),
    _conv("3x3_no_bias", (6, 6, 5), 7, 3, use_bias=False, seed=17),
    _conv("1x1_relu_n1_to_1", (6, 6, 4), 4, 1, clip=True, fused="RELU_N1_TO_1", seed=18),
    _conv("3x3_relu_n1_to_1", (7, 7, 3), 5, 3, clip=True, fused="RELU_N1_TO_1", seed=19),
    _conv("3x3_c32_f16", (6, 6, 32), 16, 3, activation="relu", fused="RELU", seed=20),
    # Inputs in [0, 6] (as after a ReLU6): input zero point -128, input offset +128.
    _conv("3x3_positive_inputs", (7, 7, 6), 5, 3, seed=81, calibration=(0.0, 6.0)),
    _conv("1x1_positive_inputs", (5, 5, 8), 8, 1, seed=82, calibration=(0.0, 6.0)),
    _conv("3x3_c64_f8_stride2", (7, 7, 64), 8, 3, strides=2, seed=83),   # long accumulations
]


# --- DEPTHWISE_CONV_2D --------------------------------------------------------------------------
def _depthwise(name, shape, kernel, multiplier=1, strides=1, padding="same", dilation=1,
               activation=None, seed=1, fused=None, calibration=1.0, use_bias=True):
    def build(keras, tf):
        return [keras.layers.DepthwiseConv2D(kernel, strides=strides, padding=padding,
                                             depth_multiplier=multiplier,
                                             dilation_rate=dilation, activation=activation,
                                             use_bias=use_bias,
                                             **_depthwise_initializers(keras, seed))]
    return Case(f"depthwise_{name}", shape, build, "DEPTHWISE_CONV_2D", activation=fused,
                calibration_range=calibration)


DEPTHWISE_CASES = [
    _depthwise("3x3_m1_same", (8, 8, 4), 3, seed=21),
    _depthwise("3x3_m1_c1", (7, 7, 1), 3, seed=22),
    _depthwise("3x3_m2_valid", (7, 9, 3), 3, multiplier=2, padding="valid", seed=23),
    _depthwise("3x3_m3_stride2_same", (9, 9, 3), 3, multiplier=3, strides=2, seed=24),
    _depthwise("3x3_m1_stride2_same_even_relu", (8, 8, 5), 3, strides=2, activation="relu",
               fused="RELU", seed=25),
    _depthwise("5x3_m1_stride2_valid", (11, 9, 7), (5, 3), strides=2, padding="valid", seed=26),
    _depthwise("3x3_m2_dilation2_same", (9, 9, 3), 3, multiplier=2, dilation=2, seed=27),
    _depthwise("3x3_m1_dilation2_valid_relu6", (10, 10, 6), 3, padding="valid", dilation=2,
               activation="relu6", fused="RELU6", seed=28),
    _depthwise("1x1_m2", (5, 5, 4), 1, multiplier=2, seed=29),
    _depthwise("3x3_m1_c17", (6, 6, 17), 3, seed=30),
    _depthwise("3x3_m1_c32_relu6", (6, 6, 32), 3, activation="relu6", fused="RELU6", seed=31),
    _depthwise("3x3_m1_positive_inputs", (6, 6, 8), 3, seed=84, calibration=(0.0, 6.0)),
    _depthwise("3x3_m1_no_bias", (7, 6, 12), 3, seed=87, use_bias=False),
    _depthwise("5x3_m1_stride2_same_c8", (10, 9, 8), (5, 3), strides=2, seed=88),
    _depthwise("3x3_m2_stride2_positive_inputs", (7, 7, 3), 3, multiplier=2, strides=2,
               seed=85, calibration=(0.0, 6.0)),
]


# --- FULLY_CONNECTED ----------------------------------------------------------------------------
def _dense(name, shape, units, use_bias=True, activation=None, seed=1, fused=None,
           calibration=1.0):
    def build(keras, tf):
        return [keras.layers.Dense(units, use_bias=use_bias, activation=activation,
                                   **_initializers(keras, seed))]
    return Case(f"dense_{name}", shape, build, "FULLY_CONNECTED", activation=fused,
                calibration_range=calibration)


DENSE_CASES = [
    _dense("6_to_5", (6,), 5, seed=41),
    _dense("no_bias", (9,), 4, use_bias=False, seed=42),
    _dense("1_to_1", (1,), 1, seed=43),
    _dense("100_to_17_relu", (100,), 17, activation="relu", fused="RELU", seed=44),
    _dense("33_to_10_relu6", (33,), 10, activation="relu6", fused="RELU6", seed=45),
    _dense("multidim_3x4x6", (3, 4, 6), 5, seed=46),       # 12 rows of 6: batch dims
    _dense("multidim_2x7_no_bias", (2, 7), 3, use_bias=False, seed=47),
    _dense("positive_inputs", (24,), 6, seed=86, calibration=(0.0, 6.0)),
]


def _flatten_dense(keras, tf):
    return [keras.layers.Conv2D(4, 1, **_initializers(keras, 48)), keras.layers.Flatten(),
            keras.layers.Dense(3, **_initializers(keras, 49))]


DENSE_CASES.append(Case("flatten_dense", (4, 4, 3), _flatten_dense, "FULLY_CONNECTED",
                        extra_ops=("RESHAPE", "CONV_2D")))


# --- AVERAGE_POOL_2D / MAX_POOL_2D ----------------------------------------------------------------
def _pool(kind, name, shape, pool, strides, padding, calibration_range=1.0):
    opcode = {"avg": "AVERAGE_POOL_2D", "max": "MAX_POOL_2D"}[kind]

    def build(keras, tf):
        layer = {"avg": keras.layers.AveragePooling2D, "max": keras.layers.MaxPooling2D}[kind]
        return [layer(pool, strides=strides, padding=padding)]
    return Case(f"{kind}pool_{name}", shape, build, opcode, calibration_range=calibration_range)


POOL_CASES = [
    case
    for kind in ("avg", "max")
    for case in (
        _pool(kind, "2x2_s2_valid", (8, 8, 3), 2, 2, "valid"),
        _pool(kind, "2x2_s2_same_overhang", (7, 7, 3), 2, 2, "same"),     # last window overhangs
        _pool(kind, "3x3_s2_same", (7, 7, 5), 3, 2, "same"),              # pads both sides
        _pool(kind, "3x3_s1_same", (5, 6, 2), 3, 1, "same"),
        _pool(kind, "3x2_s_2x1_valid", (9, 7, 4), (3, 2), (2, 1), "valid"),
        _pool(kind, "3x3_s3_same_wide_range", (8, 10, 6), 3, 3, "same", calibration_range=8.0),
        _pool(kind, "global_5x5", (5, 5, 9), 5, 5, "valid"),
        _pool(kind, "2x2_s1_same_positive", (6, 5, 4), 2, 1, "same", calibration_range=(0.0, 6.0)),
    )
]


# --- ADD / MUL ------------------------------------------------------------------------------------
def _binary_branches(kind, keras, tf, seed, shortcut_pool=None, relu=False):
    """x op conv1x1(x), or x op avgpool(x) for an (H,W,C) x (1,1,C) broadcast; a
    following ReLU is fused into the op by the converter."""
    merge = {"add": keras.layers.Add, "mul": keras.layers.Multiply}[kind]

    def build(x):
        if shortcut_pool:
            other = keras.layers.AveragePooling2D(shortcut_pool)(x)
        else:
            other = keras.layers.Conv2D(x.shape[-1], 1, **_initializers(keras, seed))(x)
        merged = merge()([x, other])
        return keras.layers.ReLU()(merged) if relu else merged
    return build


def _binary_cases(kind):
    opcode = kind.upper()
    op = {"add": lambda a, b: a + b, "mul": lambda a, b: a * b}[kind]

    def with_constant(constant):
        def build(keras, tf):
            value = tf.constant(np.asarray(constant, dtype=np.float32))
            return [keras.layers.Lambda(lambda t: op(t, value))]
        return build

    rng = np.random.default_rng(50 if kind == "add" else 60)
    return [
        Case(f"{kind}_same_shape", (5, 5, 6),
             lambda keras, tf: _binary_branches(kind, keras, tf, 51), opcode,
             functional=True, extra_ops=("CONV_2D",)),
        Case(f"{kind}_broadcast_4x4x8_1x1x8", (4, 4, 8),
             lambda keras, tf: _binary_branches(kind, keras, tf, 52, shortcut_pool=4), opcode,
             functional=True, extra_ops=("AVERAGE_POOL_2D",)),
        Case(f"{kind}_same_shape_relu", (6, 4, 5),
             lambda keras, tf: _binary_branches(kind, keras, tf, 53, relu=True), opcode,
             functional=True, activation="RELU", calibration_range=(-1.0, 3.0)),
        Case(f"{kind}_constant_vector", (4, 4, 8),
             with_constant(rng.uniform(-1, 1, 8)), opcode),
        Case(f"{kind}_constant_1x1x8", (3, 5, 8),
             with_constant(rng.uniform(-2, 2, (1, 1, 8))), opcode, calibration_range=3.0),
        Case(f"{kind}_constant_row_4x1x1", (4, 3, 2),
             with_constant(rng.uniform(0.5, 1.5, (4, 1, 1))), opcode),
        Case(f"{kind}_constant_scalar", (6, 7),
             with_constant(0.37), opcode, calibration_range=5.0),
    ]


BINARY_CASES = _binary_cases("add") + _binary_cases("mul")


# --- SOFTMAX / RESHAPE ----------------------------------------------------------------------------
def _softmax(name, shape, calibration_range, dense_units=None):
    def build(keras, tf):
        layers = [keras.layers.Dense(dense_units, **_initializers(keras, 70))] if dense_units else []
        return layers + [keras.layers.Softmax()]
    return Case(f"softmax_{name}", shape, build, "SOFTMAX", calibration_range=calibration_range)


SOFTMAX_CASES = [
    _softmax("after_dense", (12,), 1.0, dense_units=10),
    _softmax("rows_range1", (3, 10), 1.0),
    _softmax("rows_range8", (4, 6), 8.0),
    _softmax("rows_range40", (2, 16), 40.0),
    _softmax("4d_range0.1", (3, 3, 5), 0.1),
    _softmax("depth1", (7, 1), 2.0),
]

RESHAPE_CASES = [
    Case("reshape_to_2d", (4, 6, 2),
         lambda keras, tf: [keras.layers.Conv2D(3, 1, **_initializers(keras, 80)),
                            keras.layers.Reshape((8, 9))],
         "RESHAPE", extra_ops=("CONV_2D",)),
    Case("flatten_then_softmax", (2, 3, 4),
         lambda keras, tf: [keras.layers.Flatten(), keras.layers.Softmax()],
         "RESHAPE", extra_ops=("SOFTMAX",), calibration_range=4.0),
]

ALL_CASES = (CONV_CASES + DEPTHWISE_CASES + DENSE_CASES + POOL_CASES + BINARY_CASES
             + SOFTMAX_CASES + RESHAPE_CASES)
CASES_BY_NAME = {case.name: case for case in ALL_CASES}
assert len(CASES_BY_NAME) == len(ALL_CASES), "case names must be unique"


@functools.cache
def converted(name: str) -> bytes:
    """The int8 .tflite bytes of one case (converted once per test session)."""
    tf = pytest.importorskip("tensorflow")
    import keras

    from tinyflow.convert import quantize_keras

    case = CASES_BY_NAME[name]
    keras.utils.set_random_seed(sum(map(ord, name)))
    inputs = keras.Input(case.input_shape, batch_size=1)   # static shapes, no SHAPE ops
    if case.functional:
        outputs = case.build(keras, tf)(inputs)
    else:
        outputs = inputs
        for layer in case.build(keras, tf):
            outputs = layer(outputs)
    model = keras.Model(inputs, outputs)
    rng = np.random.default_rng(sum(map(ord, name)) + 7)
    r = case.calibration_range
    low, high = r if isinstance(r, tuple) else (-r, r)
    samples = rng.uniform(low, high, size=(CALIBRATION_SAMPLES,) + tuple(case.input_shape))
    return quantize_keras(model, samples)


def check_contains_op(model_bytes: bytes, case: Case) -> None:
    """Guard against vacuous passes: the op under test (with its activation) is there."""
    from tinyflow.codegen.ir import load_model

    operators = load_model(model_bytes).operators
    opcodes = [op.opcode for op in operators]
    assert case.op in opcodes, f"{case.name}: no {case.op} in {opcodes}"
    for extra in case.extra_ops:
        assert extra in opcodes, f"{case.name}: no {extra} in {opcodes}"
    if case.activation is not None:
        activations = [op.options.get("fused_activation_function") for op in operators
                       if op.opcode == case.op]
        assert case.activation in activations, (
            f"{case.name}: {case.op} carries {activations}, expected {case.activation}")


@pytest.mark.parametrize("case", ALL_CASES, ids=str)
def test_op_matches_tflm(case):
    model_bytes = converted(case.name)
    check_contains_op(model_bytes, case)
    assert_bit_exact(model_bytes, batch=BATCH, seed=sum(map(ord, case.name)))


def test_extreme_inputs_match_tflm():
    """Saturating inputs (all -128, all 127, alternating) through conv, depthwise and dense,
    where rounding and clamping corners are most likely to differ."""
    from tinyflow.codegen.ir import load_model

    for name in ("conv_3x3_stride2_same_even", "depthwise_3x3_m2_valid", "dense_100_to_17_relu",
                 "avgpool_3x3_s2_same", "add_same_shape", "mul_constant_1x1x8"):
        model_bytes = converted(name)
        shape = tuple(load_model(model_bytes).input_tensors[0].shape)
        size = int(np.prod(shape))
        patterns = [np.full(size, -128), np.full(size, 127), np.full(size, 0),
                    np.where(np.arange(size) % 2 == 0, -128, 127),
                    np.where(np.arange(size) % 3 == 0, 127, -128)]
        batch = np.stack([p.reshape(shape) for p in patterns]).astype(np.int8)
        assert_bit_exact(model_bytes, inputs=[batch])


# The host build compiles the portable C path of the kernels; a Cortex-M4 build takes the
# SMLAD/SXTB16 path (kernels.h.j2). These cases cover each of its branches: 1x1 "direct"
# columns, per-tap and gathered-patch columns, odd filter counts and depths (tails), the
# depthwise channel remainder, border and dilated windows, input offset +128, and dense
# layers with one and with many rows.
DSP_CASES = [
    "conv_1x1_c16_f17_relu", "conv_3x3_stride2_same_odd_relu6", "conv_3x3_c32_f16",
    "conv_5x3_stride2_same_c13", "conv_3x3_dilation2_same", "conv_3x3_positive_inputs",
    "conv_1x1_relu_n1_to_1", "depthwise_3x3_m1_c17", "depthwise_3x3_m1_dilation2_valid_relu6",
    "depthwise_3x3_m1_stride2_same_even_relu", "depthwise_3x3_m1_positive_inputs",
    "depthwise_3x3_m1_no_bias",
    "dense_100_to_17_relu", "dense_multidim_3x4x6",
]


@pytest.mark.slow
@pytest.mark.parametrize("name", DSP_CASES)
def test_cortex_m4_dsp_kernels_match_tflm(name):
    """The same models on an emulated Cortex-M4 (QEMU): every output byte equals TFLM's."""
    import shutil

    for tool in ("arm-none-eabi-gcc", "qemu-system-arm"):
        if shutil.which(tool) is None:
            pytest.skip(f"{tool} is not installed")
    from conftest import random_inputs
    from tinyflow.firmware.infer import run_on_board
    from tinyflow.codegen.ir import load_model
    from tinyflow.reference import ReferenceInterpreter

    model_bytes = converted(name)
    model = load_model(model_bytes)
    inputs = random_inputs(model, BATCH, seed=sum(map(ord, name)) + 1)
    ours = run_on_board(model, inputs, "qemu-cortex-m4")
    reference = ReferenceInterpreter(model_bytes).run(inputs)
    for a, b in zip(ours, reference):
        mismatched = np.flatnonzero(a.view(np.uint8) != b.view(np.uint8))
        assert mismatched.size == 0, f"{name}: {mismatched.size} of {a.nbytes} bytes differ"
