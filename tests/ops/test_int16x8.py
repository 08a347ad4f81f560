"""int16x8 models: int16 activations, int8 weights, int64 biases (the converter's
EXPERIMENTAL_TFLITE_BUILTINS_ACTIVATIONS_INT16_WEIGHTS_INT8), compared byte for byte with
TFLM's int16 reference kernels.

Every case is converted with `activations="int16"` and checks that the op it targets
is there with an int16 input, so a case cannot pass on an int8 kernel. The models are
built the way users build Keras 3 models: some on the default dynamic batch
(`keras.Input(shape)`, names ending in `_dynamic_batch`), some with batch_size=1.
A few cases are also compiled for Cortex-M4 and run on QEMU (`M4_CASES`).
"""

from __future__ import annotations

import subprocess

import numpy as np
import pytest

from .harness import (BATCH, Case, assert_case_matches_tflm, by_name, converted, dims,
                      initializers, name_seed, require_tools, seeds_from_name, value_range)


def int16_operand(opcode: str, side: str = "input"):
    """A check: the model's first ``opcode`` reads (``side="input"``) or writes
    (``"output"``: a QUANTIZE from float32) an int16 tensor."""
    def check(model):
        ops = [op for op in model.operators if op.opcode == opcode]
        assert ops, f"no {opcode} in the model"
        tensor = ops[0].inputs[0] if side == "input" else ops[0].outputs[0]
        dtype = model.tensors[tensor].dtype
        assert dtype == "int16", f"{opcode}'s {side} is {dtype}, not int16"
    return check


def int16_case(name, build, params, op, calibration=1.0, side="input", **options) -> Case:
    """An int16x8 case named ``int16_<name>`` whose ``op`` must read int16 (or write it:
    ``side="output"``)."""
    name = f"int16_{name}"
    return Case(name, build, params, op, activations="int16", check=int16_operand(op, side),
                calibration=value_range(calibration), **seeds_from_name(name), **options)


# --- builders ----------------------------------------------------------------------------------

def dense(shape, units, activation=None, use_bias=True, batch_size=1):
    import keras

    x = keras.Input(shape, batch_size=batch_size)
    y = keras.layers.Dense(units, activation=activation, use_bias=use_bias,
                           **initializers(5))(x)
    return keras.Model(x, y)


def conv2d(shape, filters, kernel, strides=1, padding="same", dilation=1, groups=1,
           activation=None, batch_size=1):
    import keras

    x = keras.Input(shape, batch_size=batch_size)
    y = keras.layers.Conv2D(filters, kernel, strides=strides, padding=padding,
                            dilation_rate=dilation, groups=groups, activation=activation,
                            **initializers(6))(x)
    return keras.Model(x, y)


def depthwise(shape, kernel, multiplier=1, strides=1, padding="same", dilation=1,
              activation=None, batch_size=1):
    import keras

    x = keras.Input(shape, batch_size=batch_size)
    y = keras.layers.DepthwiseConv2D(kernel, strides=strides, padding=padding,
                                     depth_multiplier=multiplier, dilation_rate=dilation,
                                     activation=activation,
                                     **initializers(7, kernel="depthwise"))(x)
    return keras.Model(x, y)


def dense_reshape(shape, units, target, batch_size=1):
    """Dense, then a Reshape of its int16 output."""
    import keras

    x = keras.Input(shape, batch_size=batch_size)
    y = keras.layers.Dense(units, **initializers(11))(x)
    y = keras.layers.Reshape(target)(y)
    return keras.Model(x, y)


def merge(shape, layer, activation=None, batch_size=1):
    """``layer`` (Add, Subtract, Multiply, Concatenate) of a Conv2D branch and a
    Dense branch (both built on the input), then an optional activation."""
    import keras

    x = keras.Input(shape, batch_size=batch_size)
    a = keras.layers.Conv2D(shape[-1], 3, padding="same", **initializers(12))(x)
    b = keras.layers.Dense(shape[-1], **initializers(13))(x)
    merged = {"add": keras.layers.Add, "subtract": keras.layers.Subtract,
              "multiply": keras.layers.Multiply,
              "concatenate": keras.layers.Concatenate}[layer]()([a, b])
    if activation is not None:
        merged = keras.layers.Activation(activation)(merged)
    return keras.Model(x, merged)


def pooling(shape, kind, pool, strides=None, padding="valid", batch_size=1):
    """A Conv2D, then MaxPooling2D / AveragePooling2D / ZeroPadding2D / GlobalAveragePooling2D."""
    import keras

    x = keras.Input(shape, batch_size=batch_size)
    y = keras.layers.Conv2D(4, 1, **initializers(14))(x)
    if kind == "max":
        y = keras.layers.MaxPooling2D(pool, strides=strides, padding=padding)(y)
    elif kind == "average":
        y = keras.layers.AveragePooling2D(pool, strides=strides, padding=padding)(y)
    elif kind == "zero_padding":
        y = keras.layers.ZeroPadding2D(pool)(y)
    else:
        y = keras.layers.GlobalAveragePooling2D(keepdims=pool == "keepdims")(y)
    return keras.Model(x, y)


def activation(shape, function, dense_units=None, batch_size=1):
    """Keras ``Activation(function)`` on the input, or on a Dense layer's output."""
    import keras

    x = keras.Input(shape, batch_size=batch_size)
    y = x if dense_units is None else keras.layers.Dense(dense_units, **initializers(15))(x)
    return keras.Model(x, keras.layers.Activation(function)(y))


def concat_then(shape, kind, batch_size=1):
    """Concatenate a Conv2D and a Dense branch, then a standalone activation layer
    (the converter cannot fuse one into a CONCATENATION)."""
    import keras

    x = keras.Input(shape, batch_size=batch_size)
    a = keras.layers.Conv2D(3, 3, padding="same", **initializers(16))(x)
    b = keras.layers.Dense(2, **initializers(17))(x)
    y = keras.layers.Concatenate()([a, b])
    layer = {"relu": keras.layers.ReLU(), "relu6": keras.layers.ReLU(max_value=6.0),
             "leaky_relu": keras.layers.LeakyReLU(negative_slope=0.1)}[kind]
    return keras.Model(x, layer(y))


def small_cnn(shape, batch_size=None):
    """Conv, depthwise, flatten, dense: a whole int16x8 classifier."""
    import keras

    x = keras.Input(shape, batch_size=batch_size)
    y = keras.layers.Conv2D(6, 3, strides=2, padding="same", activation="relu",
                            **initializers(8))(x)
    y = keras.layers.DepthwiseConv2D(3, padding="same", activation="relu6",
                                     **initializers(9, kernel="depthwise"))(y)
    y = keras.layers.Flatten()(y)
    y = keras.layers.Dense(4, **initializers(10))(y)
    return keras.Model(x, y)


# --- cases -------------------------------------------------------------------------------------

LINEAR_CASES = [
    int16_case("dense_6_to_5", dense, dict(shape=(6,), units=5), "FULLY_CONNECTED"),
    int16_case("dense_40_to_12_relu", dense, dict(shape=(40,), units=12, activation="relu"),
               "FULLY_CONNECTED", activation="RELU"),
    int16_case("dense_no_bias_9_to_4", dense, dict(shape=(9,), units=4, use_bias=False),
               "FULLY_CONNECTED"),
    int16_case("dense_3x7_to_3_dynamic_batch", dense,
               dict(shape=(3, 7), units=3, batch_size=None), "FULLY_CONNECTED",
               calibration=(-2.0, 3.0)),
    int16_case("conv_3x3_same_6x5x3_f4", conv2d, dict(shape=(6, 5, 3), filters=4, kernel=3),
               "CONV_2D"),
    int16_case("conv_5x3_stride2_valid_relu6", conv2d,
               dict(shape=(9, 8, 2), filters=5, kernel=(5, 3), strides=2, padding="valid",
                    activation="relu6"), "CONV_2D", activation="RELU6", calibration=4.0),
    int16_case("conv_1x1_c8_f3_dynamic_batch", conv2d,
               dict(shape=(4, 4, 8), filters=3, kernel=1, batch_size=None), "CONV_2D"),
    int16_case("conv_3x3_dilation2_same", conv2d,
               dict(shape=(8, 7, 2), filters=3, kernel=3, dilation=2), "CONV_2D"),
    int16_case("conv_grouped_3x3_c4_g2", conv2d,
               dict(shape=(5, 5, 4), filters=6, kernel=3, groups=2), "CONV_2D"),
    int16_case("depthwise_3x3_same_c5", depthwise, dict(shape=(6, 7, 5), kernel=3),
               "DEPTHWISE_CONV_2D"),
    int16_case("depthwise_3x3_m2_stride2_relu", depthwise,
               dict(shape=(7, 6, 3), kernel=3, multiplier=2, strides=2, activation="relu"),
               "DEPTHWISE_CONV_2D", activation="RELU"),
    int16_case("depthwise_5x5_valid_c4_dynamic_batch", depthwise,
               dict(shape=(8, 8, 4), kernel=5, padding="valid", batch_size=None),
               "DEPTHWISE_CONV_2D", calibration=(0.0, 2.0)),
    int16_case("small_cnn_8x8x2_dynamic_batch", small_cnn, dict(shape=(8, 8, 2)),
               "DEPTHWISE_CONV_2D", extra_ops=("CONV_2D", "FULLY_CONNECTED")),
]

# float32 edges: QUANTIZE float32 -> int16 in front, DEQUANTIZE int16 -> float32 behind.
EDGE_CASES = [
    int16_case("float_edges_dense_8_to_6", dense, dict(shape=(8,), units=6), "QUANTIZE",
               side="output", extra_ops=("DEQUANTIZE",), int8_io=False, float_inputs=(-1.5, 1.5)),
    int16_case("float_edges_conv_dynamic_batch", conv2d,
               dict(shape=(5, 4, 2), filters=3, kernel=3, batch_size=None), "DEQUANTIZE",
               extra_ops=("QUANTIZE",), int8_io=False, calibration=2.0,
               float_inputs=(-3.0, 3.0)),
]

SHAPE_CASES = [
    int16_case("reshape_dense_12_to_3x4", dense_reshape,
               dict(shape=(5,), units=12, target=(3, 4)), "RESHAPE"),
    int16_case("reshape_dense_2x3_to_6_dynamic_batch", dense_reshape,
               dict(shape=(2, 3), units=4, target=(8,), batch_size=None), "RESHAPE"),
]

ELEMENTWISE_CASES = [
    int16_case("add_6x5x3", merge, dict(shape=(6, 5, 3), layer="add"), "ADD"),
    int16_case("add_relu_4x4x8_dynamic_batch", merge,
               dict(shape=(4, 4, 8), layer="add", activation="relu", batch_size=None), "ADD",
               activation="RELU", calibration=(-1.0, 3.0)),
    int16_case("sub_5x4x2", merge, dict(shape=(5, 4, 2), layer="subtract"), "SUB"),
    int16_case("mul_6x5x3", merge, dict(shape=(6, 5, 3), layer="multiply"), "MUL",
               calibration=2.0),
    int16_case("mul_3x3x4_dynamic_batch", merge,
               dict(shape=(3, 3, 4), layer="multiply", batch_size=None), "MUL"),
]

WINDOW_CASES = [
    int16_case("max_pool_2x2_8x7x2", pooling, dict(shape=(8, 7, 2), kind="max", pool=2),
               "MAX_POOL_2D"),
    int16_case("max_pool_3x3_stride2_same_dynamic_batch", pooling,
               dict(shape=(9, 8, 3), kind="max", pool=3, strides=2, padding="same",
                    batch_size=None), "MAX_POOL_2D"),
    int16_case("avg_pool_2x2_8x7x2", pooling, dict(shape=(8, 7, 2), kind="average", pool=2),
               "AVERAGE_POOL_2D"),
    int16_case("avg_pool_3x3_stride2_same_dynamic_batch", pooling,
               dict(shape=(9, 8, 3), kind="average", pool=3, strides=2, padding="same",
                    batch_size=None), "AVERAGE_POOL_2D", calibration=(0.0, 2.0)),
    int16_case("pad_zero_padding_1x2_5x4x2", pooling,
               dict(shape=(5, 4, 2), kind="zero_padding", pool=(1, 2)), "PAD"),
    int16_case("pad_zero_padding_2_dynamic_batch", pooling,
               dict(shape=(4, 4, 3), kind="zero_padding", pool=2, batch_size=None), "PAD"),
    int16_case("mean_global_pool_6x5x3", pooling, dict(shape=(6, 5, 3), kind="global", pool=None),
               "MEAN"),
    int16_case("mean_global_pool_keepdims_dynamic_batch", pooling,
               dict(shape=(5, 7, 2), kind="global", pool="keepdims", batch_size=None), "MEAN"),
    int16_case("concat_conv_dense_4x5x3", merge, dict(shape=(4, 5, 3), layer="concatenate"),
               "CONCATENATION"),
    int16_case("concat_conv_dense_3x3x2_dynamic_batch", merge,
               dict(shape=(3, 3, 2), layer="concatenate", batch_size=None), "CONCATENATION"),
]

# Input scales: +-8 calibrates to 2^-12 (TFLM's power-of-two path), the others to a
# multiplier and a shift.
ACTIVATION_CASES = [
    int16_case("logistic_64_range8", activation, dict(shape=(64,), function="sigmoid"),
               "LOGISTIC", calibration=8.0),
    int16_case("logistic_6x5x3_range3", activation, dict(shape=(6, 5, 3), function="sigmoid"),
               "LOGISTIC", calibration=3.0),
    int16_case("logistic_dense_10_to_7_dynamic_batch", activation,
               dict(shape=(10,), function="sigmoid", dense_units=7, batch_size=None),
               "LOGISTIC", calibration=2.0),
    int16_case("tanh_64_range8", activation, dict(shape=(64,), function="tanh"), "TANH",
               calibration=8.0),
    int16_case("tanh_6x5x3_range0.7", activation, dict(shape=(6, 5, 3), function="tanh"),
               "TANH", calibration=0.7),
    int16_case("tanh_dense_10_to_7_dynamic_batch", activation,
               dict(shape=(10,), function="tanh", dense_units=7, batch_size=None), "TANH",
               calibration=2.0),
    int16_case("softmax_10_range4", activation, dict(shape=(10,), function="softmax"),
               "SOFTMAX", calibration=4.0),
    int16_case("softmax_4x6x9_range1", activation, dict(shape=(4, 6, 9), function="softmax"),
               "SOFTMAX"),
    int16_case("softmax_dense_12_to_40_dynamic_batch", activation,
               dict(shape=(12,), function="softmax", dense_units=40, batch_size=None),
               "SOFTMAX", calibration=3.0),
    int16_case("relu_after_concat_5x4x2", concat_then, dict(shape=(5, 4, 2), kind="relu"),
               "RELU"),
    int16_case("relu6_after_concat_dynamic_batch", concat_then,
               dict(shape=(4, 4, 3), kind="relu6", batch_size=None), "RELU6", calibration=8.0),
    int16_case("leaky_relu_after_concat_5x4x2", concat_then,
               dict(shape=(5, 4, 2), kind="leaky_relu"), "LEAKY_RELU", calibration=2.0),
    int16_case("leaky_relu_after_concat_dynamic_batch", concat_then,
               dict(shape=(3, 6, 2), kind="leaky_relu", batch_size=None), "LEAKY_RELU"),
]

CASES = (LINEAR_CASES + EDGE_CASES + SHAPE_CASES + ELEMENTWISE_CASES + WINDOW_CASES
         + ACTIVATION_CASES)


@pytest.mark.parametrize("case", CASES, ids=str)
def test_int16x8_matches_tflm(case):
    assert_case_matches_tflm(case)


@pytest.mark.parametrize("name", ["int16_logistic_64_range8", "int16_logistic_6x5x3_range3",
                                  "int16_tanh_64_range8", "int16_tanh_6x5x3_range0.7"])
def test_int16_lookup_activations_match_tflm_on_every_input(name):
    """LOGISTIC and TANH on every int16 value (each table segment and both signs)."""
    from conftest import assert_bit_exact
    from tinyflow.codegen.ir import load_model

    (case,) = by_name(CASES, name)
    model_bytes = converted(case)
    shape = load_model(model_bytes).input_tensors[0].shape
    every_int16 = np.arange(-32768, 32768, dtype=np.int16)
    batch = -(-every_int16.size // int(np.prod(shape)))
    assert_bit_exact(model_bytes, inputs=[np.resize(every_int16, (batch, *shape))])


def test_leaky_relu_multipliers_are_tflms_on_every_input():
    """A LEAKY_RELU whose multipliers differ when computed in float32 and in double (input
    scale 6.4059e-4, output 2.7709e-4, alpha 0.030077): TFLM's are the double ones; every
    int16 input compared."""
    from tflite_micro.tensorflow.lite.micro.python.schema_py_generated import BuiltinOperator

    from conftest import assert_bit_exact
    from fuzz.mutate import pack, unpack
    from tinyflow.codegen.quantize import quantize_multiplier

    input_scale, output_scale = np.float32(0.0006405920721590519), np.float32(0.00027708883862942457)
    alpha = np.float32(0.030077027156949043)
    assert (quantize_multiplier(float(input_scale * alpha / output_scale))
            != quantize_multiplier(float(input_scale) * float(alpha) / float(output_scale)))
    assert (quantize_multiplier(float(input_scale / output_scale))
            != quantize_multiplier(float(input_scale) / float(output_scale)))
    (case,) = by_name(CASES, "int16_leaky_relu_after_concat_5x4x2")
    model = unpack(converted(case))
    subgraph = model.subgraphs[0]
    (leaky,) = [op for op in subgraph.operators
                if model.operatorCodes[op.opcodeIndex].builtinCode == BuiltinOperator.LEAKY_RELU]
    subgraph.tensors[leaky.inputs[0]].quantization.scale = np.array([input_scale], np.float32)
    subgraph.tensors[leaky.outputs[0]].quantization.scale = np.array([output_scale], np.float32)
    leaky.builtinOptions.alpha = float(alpha)
    # The LEAKY_RELU alone: its input is the graph's input.
    subgraph.inputs = np.array([leaky.inputs[0]], np.int32)
    subgraph.operators = [leaky]
    every_int16 = np.arange(-32768, 32768, dtype=np.int16)
    shape = tuple(subgraph.tensors[leaky.inputs[0]].shape)
    batch = -(-every_int16.size // int(np.prod(shape)))
    assert_bit_exact(pack(model), inputs=[np.resize(every_int16, (batch, *shape))])


@pytest.mark.parametrize("name", ["int16_dense_40_to_12_relu", "int16_conv_3x3_same_6x5x3_f4"])
def test_int32_bias_takes_tflms_32_bit_accumulator(name):
    """The same layer with its int64 bias rewritten as int32: TFLM then accumulates in
    32 bits and requantizes with the 32-bit MultiplyByQuantizedMultiplier (another rounding
    than the 64-bit one), and so must the generated code."""
    from tflite_micro.tensorflow.lite.micro.python.schema_py_generated import TensorType

    from conftest import assert_bit_exact
    from fuzz.mutate import pack, unpack

    (case,) = by_name(CASES, name)
    model = unpack(converted(case))
    subgraph = model.subgraphs[0]
    (layer,) = [op for op in subgraph.operators if len(op.inputs) == 3 and op.inputs[2] >= 0]
    bias = subgraph.tensors[layer.inputs[2]]
    assert bias.type == TensorType.INT64
    buffer = model.buffers[bias.buffer]
    values = np.frombuffer(bytes(buffer.data), np.int64)
    assert np.abs(values).max() < 2**31
    bias.type = TensorType.INT32
    buffer.data = np.frombuffer(values.astype(np.int32).tobytes(), np.uint8)
    assert_bit_exact(pack(model), batch=BATCH, seed=case.input_seed)


# --- mixed int8/int16 models -------------------------------------------------------------------

def requantize_chain(size: int = 40) -> bytes:
    """int8 -> QUANTIZE -> int16 -> QUANTIZE -> int16 (another scale) -> QUANTIZE -> int8:
    the requantizations between the int8 and int16 regions of a mixed model (as
    ai-edge-quantizer writes them; the TensorFlow converter makes no such model, so it is
    built here with the schema's object API)."""
    from tflite_micro.tensorflow.lite.micro.python import schema_py_generated as schema

    from fuzz.mutate import pack

    types = {"int8": schema.TensorType.INT8, "int16": schema.TensorType.INT16}
    tensors = [("in_int8", "int8", 0.05, 3), ("wide", "int16", 1.3e-4, 0),
               ("wider", "int16", 3.1e-4, 0), ("out_int8", "int8", 0.037, -2)]
    subgraph = schema.SubGraphT()
    subgraph.tensors, subgraph.operators = [], []
    for name, dtype, scale, zero_point in tensors:
        tensor = schema.TensorT()
        tensor.name, tensor.shape = name.encode(), np.array([1, size], np.int32)
        tensor.type, tensor.buffer = types[dtype], 0
        tensor.quantization = schema.QuantizationParametersT()
        tensor.quantization.scale = np.array([scale], np.float32)
        tensor.quantization.zeroPoint = np.array([zero_point], np.int64)
        subgraph.tensors.append(tensor)
    for position in range(3):
        op = schema.OperatorT()
        op.opcodeIndex = 0
        op.inputs = np.array([position], np.int32)
        op.outputs = np.array([position + 1], np.int32)
        subgraph.operators.append(op)
    subgraph.inputs, subgraph.outputs = np.array([0], np.int32), np.array([3], np.int32)
    code = schema.OperatorCodeT()
    code.builtinCode = code.deprecatedBuiltinCode = schema.BuiltinOperator.QUANTIZE
    code.version = 1
    model = schema.ModelT()
    model.version, model.operatorCodes = 3, [code]
    model.buffers, model.subgraphs = [schema.BufferT()], [subgraph]
    return pack(model)


def test_requantize_between_int8_and_int16_matches_tflm():
    """int8 -> int16, int16 -> int16 and int16 -> int8 QUANTIZE, every int8 input value."""
    from conftest import assert_bit_exact
    from tinyflow.codegen.ir import load_model

    model_bytes = requantize_chain()
    model = load_model(model_bytes)
    dtypes = [(model.tensors[op.inputs[0]].dtype, model.tensors[op.outputs[0]].dtype)
              for op in model.operators]
    assert dtypes == [("int8", "int16"), ("int16", "int16"), ("int16", "int8")]
    every_int8 = np.arange(-128, 128, dtype=np.int8)
    inputs = [np.resize(every_int8, (BATCH, 1, 40))]
    assert_bit_exact(model_bytes, inputs=inputs)


# --- Cortex-M4 ---------------------------------------------------------------------------------

# One case of each int16x8 kernel family, cross-compiled for Cortex-M4 with the firmware's
# flags (-Wall -Wextra -Werror); QEMU_CASES also run on QEMU.
M4_CASES = ["int16_small_cnn_8x8x2_dynamic_batch", "int16_add_relu_4x4x8_dynamic_batch",
            "int16_conv_grouped_3x3_c4_g2", "int16_dense_40_to_12_relu",
            "int16_float_edges_dense_8_to_6", "int16_mul_6x5x3", "int16_sub_5x4x2",
            "int16_avg_pool_3x3_stride2_same_dynamic_batch", "int16_max_pool_2x2_8x7x2",
            "int16_pad_zero_padding_1x2_5x4x2", "int16_mean_global_pool_6x5x3",
            "int16_concat_conv_dense_4x5x3", "int16_reshape_dense_12_to_3x4",
            "int16_logistic_6x5x3_range3", "int16_tanh_dense_10_to_7_dynamic_batch",
            "int16_softmax_4x6x9_range1", "int16_relu_after_concat_5x4x2",
            "int16_relu6_after_concat_dynamic_batch", "int16_leaky_relu_after_concat_5x4x2"]
QEMU_CASES = M4_CASES[:2] + ["int16_softmax_4x6x9_range1", "int16_logistic_6x5x3_range3"]


def test_int16x8_code_builds_for_cortex_m4(tmp_path):
    from tinyflow.codegen.generator import generate
    from tinyflow.firmware.build import library_cflags

    require_tools("arm-none-eabi-gcc")
    flags = library_cflags("qemu-cortex-m4") + ["-c"]
    for position, case in enumerate(by_name(CASES, *M4_CASES)):
        out_dir = generate(converted(case)).write(tmp_path / f"model{position}")
        sources = sorted(out_dir.glob("*.c"))
        assert sources
        for source in sources:
            result = subprocess.run(["arm-none-eabi-gcc", *flags, str(source), "-I", str(out_dir),
                                     "-o", str(tmp_path / f"{position}_{source.stem}.o")],
                                    capture_output=True, text=True)
            assert result.returncode == 0, f"{case.name}: {source.name}:\n{result.stderr}"


@pytest.mark.slow
@pytest.mark.parametrize("name", QEMU_CASES)
def test_int16x8_on_cortex_m4_matches_tflm(name):
    """The same int16x8 models on an emulated Cortex-M4 (QEMU), every output byte TFLM's."""
    from .harness import board_and_reference_outputs

    (case,) = by_name(CASES, name)
    ours, reference = board_and_reference_outputs(case, seed=name_seed(name) + 1)
    for a, b in zip(ours, reference):
        assert a.dtype == b.dtype == np.int16
        mismatched = np.flatnonzero(a.view(np.uint8) != b.view(np.uint8))
        assert mismatched.size == 0, f"{name}: {mismatched.size} of {a.nbytes} bytes differ"


# --- mutated int16x8 models --------------------------------------------------------------------

FUZZ_SEEDS = ["int16_small_cnn_8x8x2_dynamic_batch", "int16_add_relu_4x4x8_dynamic_batch",
              "int16_softmax_4x6x9_range1", "int16_logistic_6x5x3_range3",
              "int16_mean_global_pool_6x5x3", "int16_concat_conv_dense_4x5x3"]


@pytest.mark.slow
def test_mutated_int16x8_models_are_refused_cleanly_or_bit_exact(tmp_path, monkeypatch):
    """Mutants of int16x8 models (tests/fuzz/'s mutators) reach the int16 prepare steps
    with odd shapes, scales, options and dtypes: each is generated or refused with a
    TinyflowError, and accepted ones TFLM also runs are bit-exact."""
    import random

    from fuzz.mutate import byte_mutant, structure_mutant
    from fuzz.runner import Tally, check_mutant

    monkeypatch.setenv("TINYFLOW_CACHE", str(tmp_path / "cache"))
    tally = Tally()
    for name in FUZZ_SEEDS:
        (case,) = by_name(CASES, name)
        data = converted(case)
        for index in range(40):
            seed = f"{name}/{index}"
            rng = random.Random(seed)
            mutant, what = (structure_mutant(data, rng, count=rng.randint(1, 3))
                            if index % 4 else byte_mutant(data, rng))
            check_mutant(mutant, f"{seed}: {what}", tally, compile_budget=12, seed=index)
    print(tally)
    assert not tally.failures, "\n".join(tally.failures)
    assert tally.rejected > 0 and tally.bit_exact > 0
