"""Whole-model validation (codegen/validate.py): a broken model is refused before
anything is generated, every problem listed at once with its location.

Each case breaks one thing of a valid model through the schema's object API (the
small model of tests/fuzz/models.py: PAD, CONV_2D, MAX_POOL_2D, DEPTHWISE_CONV_2D,
ADD, LOGISTIC, MUL, MEAN, FULLY_CONNECTED, SOFTMAX) and checks the message names it.
"""

from __future__ import annotations

import copy
import math
import re

import numpy as np
import pytest

from conftest import MLPERF_MODELS, mlperf_model
from fuzz.models import small_model
from fuzz.mutate import pack, unpack
from tinyflow.cli import main
from tinyflow.codegen import check_supported, generate
from tinyflow.codegen.ir import load_model
from tinyflow.codegen.validate import validate_model
from tinyflow.errors import InvalidModelError, TinyflowError, UnsupportedModelError

# The small model's tensors and ops, by name.
T = dict(input=0, paddings=1, padded=2, conv_w=3, conv_b=4, conv=5, pooled=6, dw_w=7, dw_b=8,
         depthwise=9, added=10, gate=11, gated=12, axes=13, mean=14, fc_w=15, fc_b=16,
         dense=17, probabilities=18)
OP = dict(pad=0, conv=1, pool=2, depthwise=3, add=4, logistic=5, mul=6, mean=7, fc=8, softmax=9)


@pytest.fixture(scope="module")
def original() -> bytes:
    return small_model()


def broken(original: bytes, change) -> bytes:
    model = unpack(original)
    change(model, model.subgraphs[0])
    return pack(model)


def problems_of(data: bytes) -> list[str]:
    """Every problem tinyflow reports for the model (validation and prepare)."""
    with pytest.raises((InvalidModelError, UnsupportedModelError)) as caught:
        check_supported(load_model(data, name="broken"))
    return caught.value.problems


def _quant(sg, name):
    return sg.tensors[T[name]].quantization


def _set(obj, **fields):
    for key, value in fields.items():
        setattr(obj, key, value)


def _swap(ops, i, j):
    ops[i], ops[j] = ops[j], ops[i]


def _self_loop(m, sg):
    sg.operators[OP["add"]].inputs[1] = T["added"]


def _insert_writer(m, sg):
    # A second op writes 'pooled': a copy of MAX_POOL_2D placed after it.
    sg.operators.insert(OP["pool"] + 1, copy.deepcopy(sg.operators[OP["pool"]]))


def _read_unwritten(m, sg):
    # MUL reads a new tensor #19 (a copy of 'gate') that no op writes.
    sg.tensors.append(copy.deepcopy(sg.tensors[T["gate"]]))
    sg.operators[OP["mul"]].inputs = np.array([T["added"], 19], np.int32)


def _short_bias(tensor_name, length):
    def change(m, sg):
        tensor = sg.tensors[T[tensor_name]]
        tensor.shape = np.array([length], np.int32)
        buffer = m.buffers[tensor.buffer]
        buffer.data = buffer.data[:4 * length]
        q = tensor.quantization         # a consistent tensor: only its op can tell
        if len(q.scale) > 1:
            q.scale, q.zeroPoint = q.scale[:length], q.zeroPoint[:length]
    return change


CASES = {
    # graph structure
    "out of order": (lambda m, sg: _swap(sg.operators, OP["pool"], OP["depthwise"]),
                     r"op #2 \(DEPTHWISE_CONV_2D\): reads tensor #6 'pooled' before op #3 "
                     r"\(MAX_POOL_2D\) writes it"),
    "reads own output": (_self_loop, r"op #4 \(ADD\): reads its own output tensor #10 'added'"),
    "two writers": (_insert_writer, r"op #3 \(MAX_POOL_2D\): writes tensor #6 'pooled', which "
                                    r"op #2 \(MAX_POOL_2D\) writes too"),
    "read of an unwritten tensor": (
        _read_unwritten,
        r"op #6 \(MUL\): reads tensor #19 'gate', which nothing writes"),
    "graph input out of range": (lambda m, sg: _set(sg, inputs=np.array([40], np.int32)),
                                 r"graph input 0 is tensor 40, but the model has tensors 0..18"),
    "constant graph input": (lambda m, sg: _set(sg, inputs=np.array([T["input"], T["axes"]],
                                                                     np.int32)),
                             r"graph input 1 is tensor #13 'axes', a constant"),
    "outputs are inputs": (lambda m, sg: _set(sg, outputs=np.array([T["input"]], np.int32)),
                           r"every graph output is a graph input: the model computes nothing"),
    "no operators": (lambda m, sg: _set(sg, operators=[]), r"the graph has no operators"),
    "no graph outputs": (lambda m, sg: _set(sg, outputs=np.array([], np.int32)),
                         r"the graph has no outputs"),
    "output nothing writes": (lambda m, sg: _set(sg, outputs=np.array([T["axes"]], np.int32)),
                              r"graph output 0 is tensor #13 'axes', which no op writes"),
    "op without outputs": (lambda m, sg: _set(sg.operators[OP["softmax"]],
                                              outputs=np.array([], np.int32)),
                           r"op #9 \(SOFTMAX\): has no outputs"),
    "op writes a constant": (lambda m, sg: _set(sg.operators[OP["mean"]],
                                                outputs=np.array([T["axes"]], np.int32)),
                             r"op #7 \(MEAN\): writes tensor #13 'axes', a constant"),
    "input count": (lambda m, sg: _set(sg.operators[OP["fc"]],
                                       inputs=np.array([T["mean"]], np.int32)),
                    r"op #8 \(FULLY_CONNECTED\): has 1 inputs; FULLY_CONNECTED takes 2 to 3"),
    "output count": (lambda m, sg: _set(sg.operators[OP["logistic"]],
                                        outputs=np.array([T["gate"], T["gated"]], np.int32)),
                     r"op #5 \(LOGISTIC\): has 2 outputs; LOGISTIC has 1"),
    # shapes and dtypes
    "zero dim": (lambda m, sg: _set(sg.tensors[T["pooled"]],
                                    shape=np.array([1, 0, 3, 8], np.int32)),
                 r"tensor #6 'pooled': shape \[1, 0, 3, 8\] has a dimension below 1"),
    "negative dim": (lambda m, sg: _set(sg.tensors[T["conv"]],
                                        shape=np.array([1, -6, 6, 8], np.int32)),
                     r"tensor #5 'conv': shape \[1, -6, 6, 8\] has a dimension below 1"),
    "rank above 6": (lambda m, sg: _set(sg.tensors[T["gated"]], shape=np.ones(7, np.int32)),
                     r"tensor #12 'gated': rank 7 is above 6"),
    "huge activation": (lambda m, sg: _set(sg.tensors[T["input"]], shape=np.array(
                            [1, 2**31 - 1, 2**31 - 1, 4], np.int32)),
                        r"tensor #0 'input': shape \[1, 2147483647, 2147483647, 4\] takes "
                        r"\d+ bytes; at most 67108864 are supported for an activation"),
    "int4 tensor": (lambda m, sg: _set(sg.tensors[T["gated"]], type=17),
                    r"tensor #12 'gated': dtype int4 is not supported"),
    "unknown dtype": (lambda m, sg: _set(sg.tensors[T["gated"]], type=60),
                      r"tensor #12 'gated': dtype type_60 is not supported"),
    "output shape of a shape-keeping op": (
        lambda m, sg: _set(sg.tensors[T["gate"]], shape=np.array([1, 3, 3, 9], np.int32)),
        r"op #5 \(LOGISTIC\): output shape \[1, 3, 3, 9\] differs from the input's"),
    # quantization
    "scale 0": (lambda m, sg: _set(_quant(sg, "conv"), scale=np.array([0.0], np.float32)),
                r"tensor #5 'conv': quantization scale 0.0 is not a finite positive number"),
    "scale NaN": (lambda m, sg: _set(_quant(sg, "added"), scale=np.array([math.nan], np.float32)),
                  r"tensor #10 'added': quantization scale nan is not a finite positive"),
    "scale inf": (lambda m, sg: _set(_quant(sg, "input"), scale=np.array([math.inf], np.float32)),
                  r"tensor #0 'input': quantization scale inf is not a finite positive"),
    "negative scale": (lambda m, sg: _quant(sg, "conv_w").scale.__setitem__(3, -0.5),
                       r"tensor #3 'conv/filter': quantization scale -0.5 is not a finite"),
    "zero point out of range": (
        lambda m, sg: _set(_quant(sg, "pooled"), zeroPoint=np.array([2**31 - 1])),
        r"tensor #6 'pooled': zero point 2147483647 is outside int8's range \[-128, 127\]"),
    "per-channel axis out of range": (lambda m, sg: _set(_quant(sg, "dw_w"), quantizedDimension=4),
                                      r"tensor #7 'depthwise/filter': quantized per channel "
                                      r"along axis 4, but the rank is 4"),
    "per-channel count": (lambda m, sg: _set(_quant(sg, "conv_w"), quantizedDimension=3),
                          r"tensor #3 'conv/filter': 8 per-channel scales for 4 channels "
                          r"along axis 3"),
    "scales and zero points differ in number": (
        lambda m, sg: _set(_quant(sg, "dw_w"), zeroPoint=np.zeros(3, np.int64)),
        r"tensor #7 'depthwise/filter': 8 quantization scales but 3 zero points"),
    "multiplier out of range": (
        lambda m, sg: _set(_quant(sg, "dense"), scale=np.array([1e-30], np.float32)),
        r"op #8 \(FULLY_CONNECTED\) -> 'dense': requantization multiplier .* needs a left "
        r"shift of \d+ bits; at most 31 fit"),
    # options
    "stride 0": (lambda m, sg: _set(sg.operators[OP["pool"]].builtinOptions, strideW=0),
                 r"op #2 \(MAX_POOL_2D\): stride_w is 0; it must be at least 1"),
    "dilation 0": (lambda m, sg: _set(sg.operators[OP["conv"]].builtinOptions,
                                      dilationHFactor=0),
                   r"op #1 \(CONV_2D\): dilation_h_factor is 0; it must be at least 1"),
    "stride above int16": (lambda m, sg: _set(sg.operators[OP["depthwise"]].builtinOptions,
                                              strideW=65536),
                           r"op #3 \(DEPTHWISE_CONV_2D\): stride_w is 65536; TFLM holds it as "
                           r"int16 \(at most 32767\)"),
    "filter size 0": (lambda m, sg: _set(sg.operators[OP["pool"]].builtinOptions,
                                         filterHeight=-2),
                      r"op #2 \(MAX_POOL_2D\): filter_height is -2; it must be at least 1"),
    "unknown padding": (lambda m, sg: _set(sg.operators[OP["depthwise"]].builtinOptions,
                                           padding=7),
                        r"op #3 \(DEPTHWISE_CONV_2D\): padding 7 is not a known padding"),
    "unknown fused activation": (lambda m, sg: _set(sg.operators[OP["add"]].builtinOptions,
                                                    fusedActivationFunction=42),
                                 r"op #4 \(ADD\): fused activation 42 is not a known activation"),
    # op semantics, checked by the op's prepare step
    "short bias": (_short_bias("conv_b", 4),
                   r"op #1 \(CONV_2D\) -> 'conv': bias has shape \[4\] for 8 output channels"),
    "short dense bias": (_short_bias("fc_b", 2),
                         r"op #8 \(FULLY_CONNECTED\) -> 'dense': bias has shape \[2\] for 5 units"),
    "softmax beta": (lambda m, sg: _set(sg.operators[OP["softmax"]].builtinOptions, beta=1e-9),
                     r"op #9 \(SOFTMAX\) -> 'probabilities': softmax input multiplier .* is "
                     r"not above 1, as TFLM requires"),
    "bias as a matrix": (lambda m, sg: _set(sg.tensors[T["fc_b"]],
                                            shape=np.array([5, 1], np.int32)),
                         r"op #8 \(FULLY_CONNECTED\) -> 'dense': bias has shape \[5, 1\] for 5 "
                         r"units"),
    # (found by tests/fuzz: an input batch of 2 made these write past their output)
    "dense output rows": (lambda m, sg: _set(sg.tensors[T["mean"]],
                                             shape=np.array([2, 8], np.int32)),
                          r"op #8 \(FULLY_CONNECTED\) -> 'dense': output shape \[1, 5\] does "
                          r"not hold 2 rows of 5 units"),
    "convolution batch": (lambda m, sg: _set(sg.tensors[T["padded"]],
                                             shape=np.array([2, 8, 8, 4], np.int32)),
                          r"op #1 \(CONV_2D\) -> 'conv': output shape \[1, 6, 6, 8\] does not "
                          r"match the convolution"),
    "pooling batch": (lambda m, sg: _set(sg.tensors[T["conv"]],
                                         shape=np.array([2, 6, 6, 8], np.int32)),
                      r"op #2 \(MAX_POOL_2D\) -> 'pooled': output shape \[1, 3, 3, 8\] does "
                      r"not match the pooling window"),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_each_problem_is_named_with_its_place(original, case):
    change, expected = CASES[case]
    problems = problems_of(broken(original, change))
    assert any(re.search(expected, p) for p in problems), problems


def test_valid_models_have_no_problems(original):
    for source in [original] + [mlperf_model(name) for name in MLPERF_MODELS]:
        model = load_model(source)
        assert validate_model(model) == [], model.name
    check_supported(load_model(original))


def test_a_loader_never_tracebacks_on_broken_quantization_and_io(original):
    """What used to reach a traceback (issue 10): scale 0/NaN/inf, stride 0, graph I/O
    index out of range, an INT4 tensor, an op without outputs."""
    for case in ("scale 0", "scale NaN", "scale inf", "stride 0", "graph input out of range",
                 "int4 tensor", "op without outputs"):
        data = broken(original, CASES[case][0])
        with pytest.raises(TinyflowError):
            generate(load_model(data))


def several_problems(m, sg):
    """Five problems of four kinds, and an op tinyflow lacks (CUSTOM)."""
    sg.operators[OP["pool"]].builtinOptions.strideH = 0                         # option
    _quant(sg, "added").scale = np.array([math.inf], np.float32)               # quantization
    sg.tensors[T["gated"]].shape = np.array([1, 3, -3, 8], np.int32)            # shape
    sg.outputs = np.array([T["probabilities"], 33], np.int32)                  # graph output
    _quant(sg, "dw_w").quantizedDimension = 9                                   # per channel
    code = m.operatorCodes[sg.operators[OP["softmax"]].opcodeIndex]
    code.builtinCode = code.deprecatedBuiltinCode = 32                          # CUSTOM
    code.customCode = b"Frobnicate"


def test_every_problem_at_once_on_the_command_line(original, tmp_path, capsys):
    path = tmp_path / "broken.tflite"
    path.write_bytes(broken(original, several_problems))
    out = tmp_path / "out"
    assert main(["codegen", str(path), "-o", str(out)]) == 1
    err = capsys.readouterr().err
    assert "Traceback" not in err and not out.exists()
    lines = err.strip().splitlines()
    assert lines[0] == "tinyflow codegen: error: broken: 6 problem(s) in the model:", lines
    expected = [r"graph output 1 is tensor 33, but the model has tensors 0\.\.18",
                r"op #2 \(MAX_POOL_2D\): stride_h is 0",
                r"tensor #7 'depthwise/filter': quantized per channel along axis 9",
                r"tensor #10 'added': quantization scale inf",
                r"tensor #12 'gated': shape \[1, 3, -3, 8\] has a dimension below 1",
                r"op #9 \(CUSTOM:Frobnicate\): op CUSTOM:Frobnicate is not supported"]
    assert len(lines) == 1 + len(expected)
    for pattern in expected:     # one line each
        assert sum(bool(re.search(pattern, line)) for line in lines[1:]) == 1, \
            (pattern, lines)

    # inspect shows the ops it could read, then the same problems.
    assert main(["inspect", str(path)]) == 1
    captured = capsys.readouterr()
    assert "MAX_POOL_2D" in captured.out and "CUSTOM:Frobnicate" in captured.out
    assert "6 problem(s)" in captured.err and "Traceback" not in captured.err


def test_infer_reads_inputs_only_of_a_valid_model(original, tmp_path, capsys):
    """infer --inputs reads the model's input tensors before generating: a graph input
    out of range is reported like every other problem, not an IndexError."""
    path = tmp_path / "broken.tflite"
    path.write_bytes(broken(original, CASES["graph input out of range"][0]))
    inputs = tmp_path / "x.npy"
    np.save(inputs, np.zeros((2, 1, 6, 6, 4), np.int8))
    assert main(["infer", str(path), "--inputs", str(inputs),
                 "--outputs", str(tmp_path / "y.npy")]) == 1
    err = capsys.readouterr().err
    assert "graph input 0 is tensor 40" in err and "Traceback" not in err
