"""Graph simplification (codegen/simplify.py): Keras 3 models built the default way
(``keras.Input(shape)``, a dynamic batch) convert with run-time shape arithmetic,
SHAPE -> STRIDED_SLICE -> PACK -> RESHAPE; tinyflow folds it and stays bit-exact.

The models are converted with ``tinyflow.compress.int8_tflite``, which converts the
model as it is (``quantize`` would retry on a batch-1 copy and hide the SHAPE ops).
"""

from __future__ import annotations

import numpy as np
import pytest

from conftest import assert_bit_exact, mlperf_model, MLPERF_MODELS
from tinyflow.codegen import generate, plan_memory
from tinyflow.codegen.ir import Model, Operator, Quantization, Tensor, load_model
from tinyflow.codegen.simplify import simplification, simplify
from tinyflow.errors import UnsupportedModelError

SHAPE_OPS = {"SHAPE", "STRIDED_SLICE", "PACK"}


def _convert(build, input_shape, seed):
    pytest.importorskip("tensorflow")
    import keras

    from tinyflow.compress import int8_tflite

    keras.utils.set_random_seed(seed)
    model = build(keras)
    assert model.inputs[0].shape[0] is None          # built the default way: dynamic batch
    samples = np.random.default_rng(seed).uniform(-1, 1, (32,) + input_shape)
    return int8_tflite(model, samples.astype(np.float32))


def conv_flatten_dense(keras):
    x = keras.Input((8, 8, 2))
    y = keras.layers.Conv2D(4, 3, activation="relu")(x)
    return keras.Model(x, keras.layers.Dense(10)(keras.layers.Flatten()(y)))


def dense_reshape(keras):
    x = keras.Input((12,))
    y = keras.layers.Dense(12, bias_initializer="glorot_uniform")(x)
    return keras.Model(x, keras.layers.Reshape((3, 4))(y))


def sequential_classifier(keras):
    """A typical first model: Sequential, pooling, Flatten, Dense, softmax."""
    return keras.Sequential([
        keras.Input((10, 10, 1)),
        keras.layers.Conv2D(3, 3, activation="relu"),
        keras.layers.MaxPooling2D(2),
        keras.layers.Flatten(),
        keras.layers.Dense(4, activation="softmax"),
    ])


def dilated_conv(keras):
    """Keras' dilated convolution on a dynamic batch: SPACE_TO_BATCH_ND -> CONV_2D ->
    BATCH_TO_SPACE_ND, folded into one dilated CONV_2D (the bias, zero here, would
    follow as an ADD)."""
    x = keras.Input((9, 10, 3))
    return keras.Model(x, keras.layers.Conv2D(4, 3, padding="same", dilation_rate=2)(x))


KERAS_MODELS = {
    "conv_flatten_dense": (conv_flatten_dense, (8, 8, 2)),
    "dense_reshape": (dense_reshape, (12,)),
    "sequential_classifier": (sequential_classifier, (10, 10, 1)),
    "dilated_conv": (dilated_conv, (9, 10, 3)),
}

_converted: dict[str, bytes] = {}


def converted(name: str) -> bytes:
    if name not in _converted:
        build, shape = KERAS_MODELS[name]
        _converted[name] = _convert(build, shape, seed=len(name))
    return _converted[name]


@pytest.mark.parametrize("name", sorted(set(KERAS_MODELS) - {"dilated_conv"}))
def test_dynamic_batch_model_generates_bit_exact(name):
    model_bytes = converted(name)
    model = load_model(model_bytes, name=name)
    opcodes = {op.opcode for op in model.operators}
    assert SHAPE_OPS <= opcodes, opcodes               # the converter really emitted them
    generated = generate(model)                        # no "op SHAPE is not supported"
    assert not SHAPE_OPS & {layer["op"] for layer in generated.manifest["layers"]}
    assert_bit_exact(model_bytes, batch=20, seed=3)


def test_folded_reshape_gets_a_constant_shape():
    model = load_model(converted("conv_flatten_dense"))
    simplified = simplify(model)
    assert [op.opcode for op in simplified.operators] == ["CONV_2D", "RESHAPE", "FULLY_CONNECTED"]
    reshape = simplified.operators[1]
    new_shape = simplified.tensors[reshape.inputs[1]]
    assert new_shape.is_constant and new_shape.data.tolist() == [1, 144]
    # Renumbered from 0, each op remembering its index in the file.
    assert [op.index for op in simplified.operators] == [0, 1, 2]
    assert [op.file_index for op in simplified.operators] == [0, 4, 5]
    assert reshape.location == "op #4 (RESHAPE)"
    # The file's model is untouched: its SHAPE output is not a constant.
    assert not model.tensors[model.operators[1].outputs[0]].is_constant


def test_noop_reshape_is_dropped():
    """The converter drops the no-op reshapes it can see; one whose new shape came from
    folded arithmetic goes here: its reader reads its input instead."""
    tensors = [_int8(0, (1, 6)), _int32(1, shape=(2,)), _int8(2, (1, 6)), _int8(3, (1, 6))]
    ops = [Operator(0, "SHAPE", (0,), (1,), dict(out_type=2)),
           Operator(1, "RESHAPE", (0, 1), (2,), {}),
           Operator(2, "TANH", (2,), (3,), {})]
    result = simplification(Model("noop", tensors, ops, (0,), (3,)))
    assert [op.opcode for op in result.model.operators] == ["TANH"]
    assert result.model.operators[0].inputs == (0,)
    assert [op.opcode for op in result.reshapes] == ["RESHAPE"]
    assert str(result) == ("simplified: 1 op folded (SHAPE); 1 op no-op, dropped (RESHAPE), "
                           "3 -> 1 ops")


def test_reshape_that_requantizes_is_kept():
    """Same shape but another quantization: the reader must keep the reshape's output."""
    tensors = [_int8(0, (1, 6)), _int32(1, [1, 6]),
               Tensor(2, "t2", (1, 6), "int8", Quantization((0.2,), (0,))), _int8(3, (1, 6))]
    ops = [Operator(0, "RESHAPE", (0, 1), (2,), {}), Operator(1, "TANH", (2,), (3,), {})]
    model = Model("kept", tensors, ops, (0,), (3,))
    assert simplify(model) is model


def test_inspect_shows_the_graph_before_and_after(tmp_path, capsys):
    from tinyflow.cli import main

    path = tmp_path / "conv_flatten_dense.tflite"
    path.write_bytes(converted("conv_flatten_dense"))
    assert main(["inspect", str(path)]) == 0
    out = capsys.readouterr().out
    assert "SHAPE" in out and "arena:" in out
    assert "simplified: 3 ops folded (SHAPE, STRIDED_SLICE, PACK), 6 -> 3 ops" in out
    assert "(file op #4)" in out


def test_inspect_shows_the_dilated_convolution_fold(tmp_path, capsys):
    """(Bit-exactness of the fold: the dilation cases of tests/ops/test_conv.py and
    test_depthwise.py.)"""
    from tinyflow.cli import main

    path = tmp_path / "dilated_conv.tflite"
    path.write_bytes(converted("dilated_conv"))
    assert main(["inspect", str(path)]) == 0
    out = capsys.readouterr().out
    before, after = out.split("simplified:", 1)
    assert "SPACE_TO_BATCH_ND" in before and "BATCH_TO_SPACE_ND" in before
    assert after.startswith(" 1 SPACE_TO_BATCH_ND -> conv -> BATCH_TO_SPACE_ND chain folded "
                            "into a dilated CONV_2D, 3 -> 1 ops"), after
    graph = after.split("\n\n")[0]
    assert "SPACE_TO_BATCH_ND" not in graph.split("\n", 1)[1]
    assert "CONV_2D              -> [1, 9, 10, 4]  (file op #1)" in graph
    conv = simplify(load_model(path)).operators[0]
    assert (conv.options["padding"], conv.options["dilation_h_factor"],
            conv.options["dilation_w_factor"]) == ("SAME", 2, 2)


@pytest.mark.parametrize("name", MLPERF_MODELS)
def test_models_without_shape_arithmetic_come_back_unchanged(name):
    model = load_model(mlperf_model(name))
    assert simplify(model) is model


# --- built IR: the folding rules, without TensorFlow ------------------------------------------

def _int32(index, values=None, shape=None):
    data = None if values is None else np.asarray(values, dtype=np.int32)
    return Tensor(index, f"t{index}", tuple(data.shape) if data is not None else shape,
                  "int32", data=data)


def _int8(index, shape):
    return Tensor(index, f"t{index}", shape, "int8", Quantization((0.1,), (0,)))


def test_strided_slice_masks_fold_like_numpy():
    """begin/end masks, negative indices and strides; shrink removes the axis."""
    tensors = [_int32(0, [[1, 2, 3, 4], [5, 6, 7, 8], [9, 10, 11, 12]]),
               _int32(1, [1, -1]), _int32(2, [0, 0]), _int32(3, [1, -2]),
               _int32(4, shape=(2, 2)), _int8(5, (1, 4)), _int8(6, (1, 4))]
    # rows 1.. (end masked), columns from -1 backwards by 2 (begin masked: from the end)
    slice_op = Operator(0, "STRIDED_SLICE", (0, 1, 2, 3), (4,),
                        dict(begin_mask=0b10, end_mask=0b01, shrink_axis_mask=0))
    # A reader of the folded value, so the model is a graph with an output.
    reshape = Operator(1, "RESHAPE", (5, 4), (6,), {})
    model = Model("slices", tensors, [slice_op, reshape], (5,), (6,))
    simplified = simplify(model)
    assert simplified.tensors[4].data.tolist() == [[8, 6], [12, 10]]
    assert [op.opcode for op in simplified.operators] == ["RESHAPE"]


def test_unsupported_op_is_named_by_its_index_in_the_file():
    """After folding, the ops are renumbered; the error still says where in the file."""
    tensors = [_int8(0, (1, 2, 2)), _int32(1, shape=(3,)), _int32(2, [0]), _int32(3, [1]),
               _int32(4, shape=(1,)), _int8(5, (1, 4)), _int8(6, (1, 4))]
    ops = [Operator(0, "SHAPE", (0,), (1,), dict(out_type=2)),
           Operator(1, "STRIDED_SLICE", (1, 2, 3, 3), (4,), dict(shrink_axis_mask=0)),
           Operator(2, "RESHAPE", (0, 4), (5,), {}),
           Operator(3, "CUSTOM:Frobnicate", (5,), (6,), {})]
    model = Model("custom", tensors, ops, (0,), (6,))
    simplified = simplify(model)
    assert [op.opcode for op in simplified.operators] == ["RESHAPE", "CUSTOM:Frobnicate"]
    assert simplified.tensors[4].data.tolist() == [1]
    with pytest.raises(UnsupportedModelError, match=r"op #3 \(CUSTOM:Frobnicate\)"):
        generate(model)
    plan_memory(model)      # inspecting an unsupported model still plans what it can


def test_a_shape_that_is_a_model_output_is_kept():
    """A shape computation that is itself a model output is not folded away."""
    tensors = [_int8(0, (1, 3)), _int32(1, shape=(2,))]
    model = Model("shape_out", tensors, [Operator(0, "SHAPE", (0,), (1,), {})], (0,), (1,))
    assert simplify(model) is model


# --- dilated convolutions, built IR -----------------------------------------------------------

def _dilation_chain(paddings, crops, conv_options=None, out_hw=(9, 10)):
    """x (1, 9, 10, 3) -> SPACE_TO_BATCH_ND (block 2x2) -> CONV_2D 3x3 -> BATCH_TO_SPACE_ND."""
    quant = Quantization((0.1,), (0,))
    tensors = [Tensor(0, "x", (1, 9, 10, 3), "int8", quant),
               _int32(1, [2, 2]), _int32(2, paddings), Tensor(3, "batched", (1, 7, 6, 3),
                                                                "int8", quant),
               Tensor(4, "w", (4, 3, 3, 3), "int8", Quantization((0.01,), (0,)),
                      np.ones((4, 3, 3, 3), np.int8)),
               Tensor(5, "conv", (1, 5, 4, 4), "int8", quant),
               _int32(6, crops), Tensor(7, "y", (1, *out_hw, 4), "int8", quant)]
    options = dict(padding="VALID", stride_h=1, stride_w=1, dilation_h_factor=1,
                   dilation_w_factor=1, fused_activation_function="NONE")
    options.update(conv_options or {})
    ops = [Operator(0, "SPACE_TO_BATCH_ND", (0, 1, 2), (3,), {}),
           Operator(1, "CONV_2D", (3, 4, -1), (5,), options),
           Operator(2, "BATCH_TO_SPACE_ND", (5, 1, 6), (7,), {})]
    return Model("chain", tensors, ops, (0,), (7,))


def test_dilation_chain_folds_with_the_padding_it_encodes():
    """SAME: paddings [[2, 3], [2, 2]], crops [[0, 1], [0, 0]] (as the converter writes
    them for 9x10): padding before 2 - 0 on both axes, output 9x10."""
    result = simplification(_dilation_chain([[2, 3], [2, 2]], [[0, 1], [0, 0]]))
    (conv,) = result.model.operators
    assert conv.inputs == (0, 4, -1) and conv.outputs == (7,)
    assert (conv.options["padding"], conv.options["dilation_h_factor"]) == ("SAME", 2)
    assert conv.file_index == 1 and not result.refused
    # VALID: no padding read; 9 -> 9 - 4 = 5 rows, 10 -> 6 columns.
    valid = simplify(_dilation_chain([[0, 1], [0, 0]], [[0, 1], [0, 0]], out_hw=(5, 6)))
    assert valid.operators[0].options["padding"] == "VALID"


@pytest.mark.parametrize("paddings, crops, conv_options, out_hw, reason", [
    # padding before 1 on the rows: neither SAME (2) nor VALID (0)
    ([[1, 4], [2, 2]], [[0, 1], [0, 0]], None, (9, 10), "neither SAME nor VALID"),
    ([[2, 3], [2, 2]], [[0, 1], [0, 0]], dict(padding="SAME"), (9, 10), "not VALID"),
    ([[2, 3], [2, 2]], [[0, 1], [0, 0]], None, (8, 10), "is not what the paddings"),
])
def test_dilation_chain_that_is_no_dilated_convolution_is_left(paddings, crops, conv_options,
                                                               out_hw, reason):
    """Left as it is (so code generation names SPACE_TO_BATCH_ND as unsupported), and
    inspect says why."""
    model = _dilation_chain(paddings, crops, conv_options, out_hw)
    result = simplification(model)
    assert result.model is model and not result.dilations
    assert reason in str(result)
    assert "not folded into a dilated convolution: op #1 (CONV_2D)" in str(result)
    with pytest.raises(UnsupportedModelError, match=r"op #0 \(SPACE_TO_BATCH_ND\)"):
        generate(model)
