"""The model IR (tinyflow.codegen.ir): what load_model reads from the four MLPerf Tiny
models (operators, options, tensors, quantization, constant data, graph edges), that
bytes and paths load alike, that damaged files are ModelFormatErrors, and how operator
codes are read from hand-built flatbuffers.

Everything downstream (memory planner, code generator, profiler) trusts these fields,
so a misread here shows up as wrong C far away; these tests pin the reading itself.
"""

from __future__ import annotations

import functools
import hashlib

import numpy as np
import pytest

from conftest import MLPERF_MODELS, mlperf_model
from tinyflow.codegen.ir import load_model
from tinyflow.errors import ModelFormatError

CONV, DEPTHWISE, DENSE = "CONV_2D", "DEPTHWISE_CONV_2D", "FULLY_CONNECTED"
CLASSIFIER_HEAD = ["AVERAGE_POOL_2D", "RESHAPE", DENSE, "SOFTMAX"]

# What each model is, from its published architecture: operators in order, input and
# output shapes (all int8).
EXPECTED = {
    "kws_ref_model": dict(ops=[CONV] + [DEPTHWISE, CONV] * 4 + CLASSIFIER_HEAD,
                          input=(1, 49, 10, 1), output=(1, 12)),
    "vww_96_int8": dict(ops=[CONV] + [DEPTHWISE, CONV] * 13 + CLASSIFIER_HEAD,
                        input=(1, 96, 96, 3), output=(1, 2)),
    "pretrainedResnet_quant": dict(ops=[CONV, CONV, CONV, "ADD"] * 3 + CLASSIFIER_HEAD,
                                   input=(1, 32, 32, 3), output=(1, 10)),
    "ad01_int8": dict(ops=[DENSE] * 10, input=(1, 640), output=(1, 640)),
}


@functools.cache
def mlperf(name: str):
    return load_model(mlperf_model(name))


def test_every_mlperf_model_has_expectations():
    assert sorted(EXPECTED) == sorted(MLPERF_MODELS)


def test_kws_first_op_is_a_strided_conv_with_its_options():
    model = mlperf("kws_ref_model")
    op = model.operators[0]
    assert op.opcode == CONV and op.index == 0
    assert op.options["stride_h"] == 2 and op.options["stride_w"] == 2
    assert op.options["dilation_h_factor"] == 1 and op.options["dilation_w_factor"] == 1
    assert op.options["padding"] == "SAME"                    # enum read as its name
    assert op.options["fused_activation_function"] == "RELU"
    data, weights, bias = (model.tensors[i] for i in op.inputs)
    assert op.inputs[0] == model.inputs[0] and data.data is None
    assert (weights.shape, weights.dtype) == ((64, 10, 4, 1), "int8")
    assert (bias.shape, bias.dtype) == ((64,), "int32")
    assert model.tensors[op.outputs[0]].shape == (1, 25, 5, 64)   # 49x10, stride 2, SAME


def test_kws_other_ops_options():
    """One op of each other kind: its own options table is the one read."""
    ops = mlperf("kws_ref_model").operators
    assert ops[1].opcode == DEPTHWISE
    assert ops[1].options["depth_multiplier"] == 1
    assert (ops[1].options["stride_h"], ops[1].options["stride_w"]) == (1, 1)
    assert ops[9].opcode == "AVERAGE_POOL_2D"
    assert (ops[9].options["filter_height"], ops[9].options["filter_width"]) == (25, 5)
    assert ops[9].options["padding"] == "VALID"
    assert ops[11].opcode == DENSE and ops[11].options["fused_activation_function"] == "NONE"
    assert ops[12].opcode == "SOFTMAX" and ops[12].options["beta"] == 1.0


@pytest.mark.parametrize("name", MLPERF_MODELS)
def test_operators_and_graph_inputs_outputs(name):
    model = mlperf(name)
    expected = EXPECTED[name]
    assert [op.opcode for op in model.operators] == expected["ops"]
    assert [op.index for op in model.operators] == list(range(len(model.operators)))
    assert [(t.shape, t.dtype) for t in model.input_tensors] == [(expected["input"], "int8")]
    assert [(t.shape, t.dtype) for t in model.output_tensors] == [(expected["output"], "int8")]
    assert model.name == name and model.subgraph_count == 1
    assert model.sha256 == hashlib.sha256(mlperf_model(name).read_bytes()).hexdigest()


@pytest.mark.parametrize("name", MLPERF_MODELS)
def test_weights_are_quantized_per_output_channel(name):
    """Conv filters: one scale per output channel along axis 0; depthwise filters
    (1, H, W, C): along axis 3; dense weights: one scale. Biases are int32 with
    scale = input scale x weight scale, channel by channel (so the scales are read
    in order and as float32)."""
    model = mlperf(name)
    for op in model.operators:
        if op.opcode not in (CONV, DEPTHWISE, DENSE):
            continue
        data, weights, bias = (model.tensors[i] for i in op.inputs)
        channels = model.tensors[op.outputs[0]].shape[-1]
        quant = weights.quantization
        assert weights.dtype == "int8" and bias.dtype == "int32", op.location
        if op.opcode == DENSE:
            assert not quant.per_channel and weights.shape[0] == channels, op.location
        else:
            axis = 0 if op.opcode == CONV else 3
            assert quant.per_channel and quant.axis == axis, op.location
            assert len(quant.scale) == weights.shape[axis] == channels, op.location
        assert quant.zero_point == (0,) * len(quant.scale), op.location
        assert len(bias.quantization.scale) == len(quant.scale), op.location
        np.testing.assert_allclose(
            bias.quantization.scale,
            np.float32(data.scale) * np.asarray(quant.scale, dtype=np.float32),
            rtol=1e-6, err_msg=op.location)


@pytest.mark.parametrize("name", MLPERF_MODELS)
def test_constant_data_matches_its_tensor(name):
    """Weights, biases and shape operands carry data of the tensor's shape and dtype;
    activations (the graph input and every op's output) carry none."""
    model = mlperf(name)
    constants = [t for t in model.tensors if t.is_constant]
    assert constants
    for tensor in constants:
        assert tensor.data.shape == tensor.shape, tensor.name
        assert tensor.data.dtype == np.dtype(tensor.dtype), tensor.name
        assert tensor.data.nbytes == tensor.nbytes, tensor.name
    activations = set(model.inputs) | {t for op in model.operators for t in op.outputs}
    assert all(not model.tensors[t].is_constant for t in activations)
    for op in model.operators:
        if op.opcode in (CONV, DEPTHWISE, DENSE):
            assert all(model.tensors[t].is_constant for t in op.inputs[1:]), op.location


@pytest.mark.parametrize("name", MLPERF_MODELS)
def test_producer_and_consumers(name):
    """Every edge is seen from both ends, and operators are in execution order."""
    model = mlperf(name)
    assert model.producer(model.inputs[0]) is None
    assert model.operators[0] in model.consumers(model.inputs[0])
    assert model.producer(model.outputs[0]) is model.operators[-1]
    assert model.consumers(model.outputs[0]) == []
    for op in model.operators:
        for t in op.outputs:
            assert model.producer(t) is op
        for t in op.inputs:
            assert op in model.consumers(t)
            producer = model.producer(t)
            if model.tensors[t].is_constant or t in model.inputs:
                assert producer is None, op.location
            else:
                assert producer.index < op.index, op.location
    assert model.tensor(-1) is None          # -1 marks an omitted optional input


def test_resnet_skip_connections_have_two_consumers():
    """Each residual block's input feeds the block's first conv and its shortcut: the
    ADD itself (identity, block 1) or a 1x1 projection conv whose output the ADD takes."""
    model = mlperf("pretrainedResnet_quant")
    adds = [op for op in model.operators if op.opcode == "ADD"]
    shared = [t for t in range(len(model.tensors)) if len(model.consumers(t)) > 1]
    assert shared == [model.operators[0].outputs[0], adds[0].outputs[0], adds[1].outputs[0]]
    for tensor, add in zip(shared, adds):
        block_conv, shortcut = model.consumers(tensor)
        assert block_conv.opcode == CONV
        if shortcut.opcode == CONV:
            assert model.tensors[shortcut.inputs[1]].shape[1:3] == (1, 1)
            assert shortcut.outputs[0] in add.inputs
        else:
            assert shortcut is add


def _content(model) -> list:
    """Everything load_model read, in comparable form."""
    tensors = [(t.index, t.name, t.shape, t.dtype, t.quantization,
                None if t.data is None else t.data.tobytes()) for t in model.tensors]
    return [model.name, tensors, model.operators, model.inputs, model.outputs,
            model.description, model.sha256, model.subgraph_count]


@pytest.mark.parametrize("name", MLPERF_MODELS)
def test_bytes_and_path_load_the_same_model(name):
    path = mlperf_model(name)
    from_bytes = load_model(path.read_bytes(), name=name)
    assert _content(from_bytes) == _content(load_model(path))
    assert load_model(path.read_bytes()).name == "model"     # no path: a generic name


@pytest.mark.parametrize("fraction", [0.001, 0.1, 0.5, 0.99])
@pytest.mark.parametrize("name", MLPERF_MODELS)
def test_truncated_model_is_a_format_error(name, fraction, tmp_path):
    data = mlperf_model(name).read_bytes()
    cut = data[:int(len(data) * fraction)]
    with pytest.raises(ModelFormatError, match="corrupt or truncated"):
        load_model(cut)
    path = tmp_path / "truncated.tflite"
    path.write_bytes(cut)
    with pytest.raises(ModelFormatError, match="truncated.*corrupt or truncated"):
        load_model(path)


def test_tensor_naming_a_missing_buffer_is_a_format_error():
    """Regression (found by fuzzing a SUM model): a graph input whose buffer index is past
    the buffer table loaded as an ordinary input, while TFLM read past its table (and
    returned zeros)."""
    from fuzz.mutate import pack, unpack

    model = unpack(mlperf_model("ad01_int8").read_bytes())
    model.subgraphs[0].tensors[model.subgraphs[0].inputs[0]].buffer = len(model.buffers) + 3
    with pytest.raises(ModelFormatError, match=rf"names buffer {len(model.buffers) + 3}; "
                                               rf"the model has {len(model.buffers)}"):
        load_model(pack(model))


def test_operator_naming_a_negative_tensor_is_a_format_error():
    """Regression (found by fuzzing a BATCH_MATMUL model): an output index such as
    -2147483636 passed the loader (only -1 means omitted) and reached Python's negative
    indexing in the simplifier (an IndexError)."""
    from fuzz.mutate import pack, unpack

    model = unpack(mlperf_model("ad01_int8").read_bytes())
    model.subgraphs[0].operators[1].outputs[0] = -2147483636
    with pytest.raises(ModelFormatError, match="op #1 names tensor -2147483636"):
        load_model(pack(model))


def test_scales_without_zero_points_are_reported():
    """Regression (found by fuzzing a BATCH_MATMUL model): a tensor with a scale but no
    zero points loaded with zero point 0, while TFLM treats it as unquantized (scale 0:
    other outputs); now validation names the missing zero points."""
    from fuzz.mutate import pack, unpack
    from tinyflow.codegen.validate import validate_model

    model = unpack(mlperf_model("ad01_int8").read_bytes())
    graph = model.subgraphs[0]
    graph.tensors[graph.inputs[0]].quantization.zeroPoint = None
    loaded = load_model(pack(model))
    assert loaded.tensors[loaded.inputs[0]].quantization.zero_point == ()
    assert any("1 quantization scales but 0 zero points" in problem
               for problem in validate_model(loaded))


@pytest.mark.parametrize("content", [b"", b"TFL3", b"\x89PNG\r\n\x1a\n" + bytes(100),
                                     b"not a model, just some text\n" * 10])
def test_non_tflite_data_is_a_format_error(content, tmp_path):
    with pytest.raises(ModelFormatError, match="not a TFLite model"):
        load_model(content)
    path = tmp_path / "model.tflite"
    path.write_bytes(content)
    with pytest.raises(ModelFormatError, match="not a TFLite model"):
        load_model(path)


def test_missing_file_is_a_format_error(tmp_path):
    with pytest.raises(ModelFormatError, match="nope.tflite: cannot read model"):
        load_model(tmp_path / "nope.tflite")


# --- operator codes ------------------------------------------------------------------------------
# The schema has two opcode fields: deprecated_builtin_code (int8, the only one in old
# files) and builtin_code (int32, for codes past 127, where the old field holds the
# placeholder 127). TFLite reads the larger of the two (schema_utils.cc GetBuiltinCode).

def one_op_model(builtin_code: int, deprecated_builtin_code: int) -> bytes:
    """A minimal valid .tflite: float32 tensor 0 -> one operator -> tensor 1, whose
    only operator code stores the two given fields (built with the flatbuffers API)."""
    import importlib

    import flatbuffers
    from tflite.TensorType import TensorType

    # The builder functions live in the generated modules (the package's attribute
    # tflite.Tensor is the reader class of the same name).
    Buffer, Model, Operator, OperatorCode, SubGraph, Tensor = (
        importlib.import_module(f"tflite.{table}")
        for table in ("Buffer", "Model", "Operator", "OperatorCode", "SubGraph", "Tensor"))

    b = flatbuffers.Builder(256)

    def ints(start_vector, values):
        start_vector(b, len(values))
        for v in reversed(values):
            b.PrependInt32(v)
        return b.EndVector()

    def tables(start_vector, offsets):
        start_vector(b, len(offsets))
        for o in reversed(offsets):
            b.PrependUOffsetTRelative(o)
        return b.EndVector()

    tensors = []
    for name in ("x", "y"):
        name, shape = b.CreateString(name), ints(Tensor.TensorStartShapeVector, [1, 4])
        Tensor.TensorStart(b)
        Tensor.TensorAddShape(b, shape)
        Tensor.TensorAddType(b, TensorType.FLOAT32)
        Tensor.TensorAddBuffer(b, 0)
        Tensor.TensorAddName(b, name)
        tensors.append(Tensor.TensorEnd(b))
    op_inputs, op_outputs = (ints(Operator.OperatorStartInputsVector, [0]),
                             ints(Operator.OperatorStartOutputsVector, [1]))
    Operator.OperatorStart(b)
    Operator.OperatorAddOpcodeIndex(b, 0)
    Operator.OperatorAddInputs(b, op_inputs)
    Operator.OperatorAddOutputs(b, op_outputs)
    operator = Operator.OperatorEnd(b)

    tensor_vector = tables(SubGraph.SubGraphStartTensorsVector, tensors)
    graph_inputs, graph_outputs = (ints(SubGraph.SubGraphStartInputsVector, [0]),
                                   ints(SubGraph.SubGraphStartOutputsVector, [1]))
    operator_vector = tables(SubGraph.SubGraphStartOperatorsVector, [operator])
    SubGraph.SubGraphStart(b)
    SubGraph.SubGraphAddTensors(b, tensor_vector)
    SubGraph.SubGraphAddInputs(b, graph_inputs)
    SubGraph.SubGraphAddOutputs(b, graph_outputs)
    SubGraph.SubGraphAddOperators(b, operator_vector)
    subgraph = SubGraph.SubGraphEnd(b)

    OperatorCode.OperatorCodeStart(b)
    OperatorCode.OperatorCodeAddBuiltinCode(b, builtin_code)
    OperatorCode.OperatorCodeAddDeprecatedBuiltinCode(b, deprecated_builtin_code)
    code = OperatorCode.OperatorCodeEnd(b)
    Buffer.BufferStart(b)
    empty_buffer = Buffer.BufferEnd(b)          # buffer 0: the "no data" sentinel

    codes = tables(Model.ModelStartOperatorCodesVector, [code])
    subgraphs = tables(Model.ModelStartSubgraphsVector, [subgraph])
    buffers = tables(Model.ModelStartBuffersVector, [empty_buffer])
    Model.ModelStart(b)
    Model.ModelAddVersion(b, 3)
    Model.ModelAddOperatorCodes(b, codes)
    Model.ModelAddSubgraphs(b, subgraphs)
    Model.ModelAddBuffers(b, buffers)
    b.Finish(Model.ModelEnd(b), file_identifier=b"TFL3")
    return bytes(b.Output())


def test_hand_built_model_loads():
    """The builder above makes a model load_model reads in full (so the opcode cases
    below test the opcode, not a malformed file)."""
    model = load_model(one_op_model(3, 3))
    assert [(op.opcode, op.inputs, op.outputs) for op in model.operators] == [(CONV, (0,), (1,))]
    assert [(t.name, t.shape, t.dtype, t.data) for t in model.tensors] == [
        ("x", (1, 4), "float32", None), ("y", (1, 4), "float32", None)]
    assert (model.inputs, model.outputs) == ((0,), (1,))


@pytest.mark.parametrize("builtin_code, deprecated_builtin_code, opcode", [
    pytest.param(3, 3, CONV, id="both-fields"),
    pytest.param(0, 3, CONV, id="old-file-deprecated-field-only"),
    pytest.param(150, 127, "GELU", id="code-past-127"),
    pytest.param(3, 0, CONV, id="new-field-only"),
])
def test_opcode_is_the_larger_of_the_two_fields(builtin_code, deprecated_builtin_code, opcode):
    model = load_model(one_op_model(builtin_code, deprecated_builtin_code))
    assert model.operators[0].opcode == opcode
