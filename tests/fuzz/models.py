"""The models mutants are made from: MLPerf Tiny's four, and a small int8 model built
here with the schema's object API (no TensorFlow), which has the ops the MLPerf models
lack (PAD, MAX_POOL_2D, LOGISTIC, MUL, MEAN) in ten layers of a few hundred bytes each.
"""

from __future__ import annotations

import numpy as np

from tflite_micro.tensorflow.lite.micro.python import schema_py_generated as schema

from conftest import MLPERF_DIR, MLPERF_MODELS
from fuzz.mutate import pack


def seed_models() -> dict[str, bytes]:
    models = {name: (MLPERF_DIR / f"{name}.tflite").read_bytes() for name in MLPERF_MODELS}
    models["small"] = small_model()
    return models


class _Builder:
    """Tensors, buffers and ops of one subgraph, added in order."""

    def __init__(self, seed: int):
        self.rng = np.random.default_rng(seed)
        self.model = schema.ModelT()
        self.model.version = 3
        self.model.buffers = [schema.BufferT()]          # buffer 0: no data, by convention
        self.model.operatorCodes = []
        self.subgraph = schema.SubGraphT()
        self.subgraph.tensors, self.subgraph.operators = [], []

    def tensor(self, name, shape, dtype, scale=None, zero_point=None, data=None, axis=0):
        tensor = schema.TensorT()
        tensor.name, tensor.shape = name.encode(), np.array(shape, np.int32)
        tensor.type = {"int8": schema.TensorType.INT8, "int32": schema.TensorType.INT32}[dtype]
        tensor.buffer = 0
        if data is not None:
            buffer = schema.BufferT()
            buffer.data = np.frombuffer(np.asarray(data, dtype).tobytes(), np.uint8)
            self.model.buffers.append(buffer)
            tensor.buffer = len(self.model.buffers) - 1
        if scale is not None:
            q = schema.QuantizationParametersT()
            q.scale = np.atleast_1d(np.array(scale, np.float32))
            q.zeroPoint = np.atleast_1d(np.array(zero_point, np.int64))
            q.quantizedDimension = axis
            tensor.quantization = q
        self.subgraph.tensors.append(tensor)
        return len(self.subgraph.tensors) - 1

    def weights(self, name, shape, scales, axis=0):
        values = self.rng.integers(-127, 128, size=shape)
        return self.tensor(name, shape, "int8", scales, [0] * len(np.atleast_1d(scales)),
                           values, axis)

    def bias(self, name, channels, input_scale, weight_scales):
        scales = input_scale * np.atleast_1d(weight_scales)
        values = self.rng.integers(-3000, 3000, size=channels)
        return self.tensor(name, [channels], "int32", scales, [0] * len(scales), values)

    def op(self, opcode, inputs, outputs, options_type=0, options=None):
        codes = [c.builtinCode for c in self.model.operatorCodes]
        if opcode not in codes:
            code = schema.OperatorCodeT()
            code.builtinCode, code.deprecatedBuiltinCode, code.version = opcode, opcode, 1
            self.model.operatorCodes.append(code)
            codes.append(opcode)
        op = schema.OperatorT()
        op.opcodeIndex = codes.index(opcode)
        op.inputs, op.outputs = np.array(inputs, np.int32), np.array(outputs, np.int32)
        op.builtinOptionsType, op.builtinOptions = options_type, options
        self.subgraph.operators.append(op)

    def finish(self, inputs, outputs) -> bytes:
        self.subgraph.inputs = np.array(inputs, np.int32)
        self.subgraph.outputs = np.array(outputs, np.int32)
        self.subgraph.name = b"main"
        self.model.subgraphs = [self.subgraph]
        self.model.description = b"tinyflow fuzz seed model"
        return pack(self.model)


def _options(cls, **fields):
    options = cls()
    for key, value in fields.items():
        setattr(options, key, value)
    return options


def small_model(seed: int = 0) -> bytes:
    """PAD -> CONV_2D (RELU) -> MAX_POOL_2D, DEPTHWISE_CONV_2D beside it -> ADD ->
    LOGISTIC, MUL -> MEAN -> FULLY_CONNECTED -> SOFTMAX, on a 6x6x4 int8 input."""
    op, o = schema.BuiltinOperator, schema.BuiltinOptions
    b = _Builder(seed)
    x = b.tensor("input", [1, 6, 6, 4], "int8", 0.02, -5)
    paddings = b.tensor("paddings", [4, 2], "int32",
                        data=[[0, 0], [1, 1], [1, 1], [0, 0]])
    padded = b.tensor("padded", [1, 8, 8, 4], "int8", 0.02, -5)
    b.op(op.PAD, [x, paddings], [padded], o.PadOptions, schema.PadOptionsT())

    conv_scales = np.linspace(0.002, 0.01, 8)
    conv_w = b.weights("conv/filter", [8, 3, 3, 4], conv_scales)
    conv_b = b.bias("conv/bias", 8, 0.02, conv_scales)
    conv = b.tensor("conv", [1, 6, 6, 8], "int8", 0.05, -128)
    b.op(op.CONV_2D, [padded, conv_w, conv_b], [conv], o.Conv2DOptions,
         _options(schema.Conv2DOptionsT, padding=schema.Padding.VALID, strideW=1, strideH=1,
                  dilationWFactor=1, dilationHFactor=1,
                  fusedActivationFunction=schema.ActivationFunctionType.RELU))

    pooled = b.tensor("pooled", [1, 3, 3, 8], "int8", 0.05, -128)
    b.op(op.MAX_POOL_2D, [conv], [pooled], o.Pool2DOptions,
         _options(schema.Pool2DOptionsT, padding=schema.Padding.VALID, strideW=2, strideH=2,
                  filterWidth=2, filterHeight=2))

    dw_scales = np.linspace(0.004, 0.02, 8)
    dw_w = b.weights("depthwise/filter", [1, 3, 3, 8], dw_scales, axis=3)
    dw_b = b.bias("depthwise/bias", 8, 0.05, dw_scales)
    depthwise = b.tensor("depthwise", [1, 3, 3, 8], "int8", 0.04, 3)
    b.op(op.DEPTHWISE_CONV_2D, [pooled, dw_w, dw_b], [depthwise], o.DepthwiseConv2DOptions,
         _options(schema.DepthwiseConv2DOptionsT, padding=schema.Padding.SAME, strideW=1,
                  strideH=1, depthMultiplier=1, dilationWFactor=1, dilationHFactor=1))

    added = b.tensor("added", [1, 3, 3, 8], "int8", 0.08, -10)
    b.op(op.ADD, [pooled, depthwise], [added], o.AddOptions, schema.AddOptionsT())
    gate = b.tensor("gate", [1, 3, 3, 8], "int8", 1 / 256, -128)
    b.op(op.LOGISTIC, [added], [gate])
    gated = b.tensor("gated", [1, 3, 3, 8], "int8", 0.05, 0)
    b.op(op.MUL, [added, gate], [gated], o.MulOptions, schema.MulOptionsT())

    axes = b.tensor("axes", [2], "int32", data=[1, 2])
    mean = b.tensor("mean", [1, 8], "int8", 0.03, 2)
    b.op(op.MEAN, [gated, axes], [mean], o.ReducerOptions,
         _options(schema.ReducerOptionsT, keepDims=False))

    fc_w = b.weights("dense/weights", [5, 8], 0.01)
    fc_b = b.bias("dense/bias", 5, 0.03, 0.01)
    dense = b.tensor("dense", [1, 5], "int8", 0.1, 4)
    b.op(op.FULLY_CONNECTED, [mean, fc_w, fc_b], [dense], o.FullyConnectedOptions,
         schema.FullyConnectedOptionsT())
    probabilities = b.tensor("probabilities", [1, 5], "int8", 1 / 256, -128)
    b.op(op.SOFTMAX, [dense], [probabilities], o.SoftmaxOptions,
         _options(schema.SoftmaxOptionsT, beta=1.0))
    return b.finish([x], [probabilities])
