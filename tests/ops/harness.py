"""The op-test harness: a case is data, the harness converts and compares it.

A `Case` names a builder (a function returning a small Keras model), the builder's
keyword arguments, and the opcode the converted model must contain.
`assert_case_matches_tflm(case)` then:

1. builds the Keras model (after seeding Keras when the case says so),
2. converts it to int8 TFLite with `quantize_keras` (int16x8 when the case says
   `activations="int16"`), calibrated on seeded uniform samples (one conversion per
   distinct model per test session: `converted`),
3. checks the op under test is really in the converted model (and its fused
   activation, the other expected ops, and any extra `check`), so a case cannot
   pass vacuously because the converter chose other ops,
4. runs the generated C on the host and TFLM's interpreter on the same inputs and
   compares every output byte (`conftest.assert_bit_exact`).

Adding a case: append a `Case(...)` to a list in its family's file (test_conv.py,
test_shape_ops.py, ...); that file's parametrized test picks it up. Adding an op:
write a builder next to its family's cases, plus a case list, and add the list to
the family's `CASES`. Builders import Keras inside the function, so collecting the
tests stays fast, and use `keras.Input(shape, batch_size=1)` (static shapes); cases
built the default Keras way, `keras.Input(shape)` (a dynamic batch: the converter may
add SHAPE ops or a dilation chain, which tinyflow folds), pass `batch_size=None` and
say so in their name. Give new cases
`**seeds_from_name(name)`, so their weights, calibration and inputs are all seeded.

Seeds: the conv, depthwise, dense, pooling, ADD/MUL, softmax and reshape cases take
theirs from their names; the PAD, CONCATENATION, MEAN, LOGISTIC/TANH and QUANTIZE
cases were written with calibration seed 0, one input seed per group of cases, and
unseeded Keras (the Conv2D/Dense branches of a few CONCATENATION models); they keep
those seeds, so each case still converts to the model it always did.

TensorFlow is imported only when a case is converted.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from typing import Callable

import numpy as np
import pytest

from conftest import assert_bit_exact

BATCH = 24                  # inputs compared per model (>= 20)
CALIBRATION_SAMPLES = 32    # representative samples the converter calibrates on


def name_seed(name: str) -> int:
    """A seed derived from a case's name: stable, and different for most cases."""
    return sum(map(ord, name))


def seeds_from_name(name: str) -> dict:
    """Case seeds derived from its name (Keras weights, calibration samples, compared
    inputs), so no two cases share random data by accident."""
    seed = name_seed(name)
    return dict(keras_seed=seed, calibration_seed=seed + 7, input_seed=seed)


def value_range(r) -> tuple[float, float]:
    """A calibration range: r -> (-r, r); a (low, high) pair stays as it is."""
    return tuple(r) if isinstance(r, tuple) else (-r, r)


@dataclass(frozen=True)
class Case:
    """One converted model, the op it targets, and how to feed it."""

    name: str                                  # the test id; unique in tests/ops
    build: Callable                            # build(**params) -> keras.Model
    params: dict                               # the builder's keyword arguments
    op: str | tuple[str, ...]                  # opcode that must be in the model (a tuple: any one)
    activation: str | None = None              # fused activation `op` must carry
    extra_ops: tuple[str, ...] = ()            # other opcodes that must be present too
    check: Callable | None = None              # check(model IR): further assertions
    calibration: tuple[float, float] = (-1.0, 1.0)   # representative samples ~ U(low, high)
    calibration_seed: int = 0
    keras_seed: int | None = None              # keras.utils.set_random_seed before building
    int8_io: bool = True                       # False: float32 inputs/outputs (QUANTIZE/DEQUANTIZE)
    activations: str = "int8"                  # "int16": an int16x8 model (int16 activations)
    input_seed: int = 0                        # seed of the compared inputs
    float_inputs: tuple[float, float] | None = None  # float32 inputs ~ U(low, high)
    # reference(model bytes, inputs) -> outputs, the oracle instead of TFLM for a model
    # TFLM cannot run (the case's module says why)
    reference: Callable | None = None

    def __str__(self):
        return self.name

    @property
    def model_key(self) -> tuple:
        """What decides the converted model: cases that share it share one conversion."""
        return (self.build.__module__, self.build.__qualname__, repr(sorted(self.params.items())),
                self.calibration, self.calibration_seed, self.keras_seed, self.int8_io,
                self.activations)


# --- building helpers shared by the families -----------------------------------------------------

def initializers(seed: int, kernel: str = "kernel") -> dict:
    """Seeded random weights, and non-zero biases so the bias path is exercised.
    ``kernel`` is the weight's keyword: "kernel", or "depthwise" for DepthwiseConv2D."""
    import keras

    return {f"{kernel}_initializer": keras.initializers.GlorotUniform(seed=seed),
            "bias_initializer": keras.initializers.RandomUniform(-0.3, 0.3, seed=seed + 1)}


def dims(shape) -> str:
    """(6, 5, 3) -> "6x5x3", for readable case names."""
    return "x".join(str(d) for d in shape)


def span(bounds) -> str:
    """(-1.0, 0.5) -> "-1to0.5", for readable case names."""
    low, high = bounds
    return f"{low:g}to{high:g}"


def by_name(cases, *names) -> list[Case]:
    """The cases called ``names``, in that order (a KeyError names a missing one)."""
    index = {case.name: case for case in cases}
    return [index[name] for name in names]


def require_tools(*tools) -> None:
    """Skip the test unless every command-line tool is installed."""
    for tool in tools:
        if shutil.which(tool) is None:
            pytest.skip(f"{tool} is not installed")


# --- converting, with one conversion per model per session ---------------------------------------

_converted: dict[tuple, bytes] = {}


def converted(case: Case) -> bytes:
    """The .tflite bytes of ``case``'s model (int8, or int16x8 by ``case.activations``)."""
    key = case.model_key
    if key not in _converted:
        pytest.importorskip("tensorflow")
        import keras

        from tinyflow.convert import quantize_keras

        if case.keras_seed is not None:
            keras.utils.set_random_seed(case.keras_seed)
        model = case.build(**case.params)
        shape = tuple(model.inputs[0].shape[1:])
        rng = np.random.default_rng(case.calibration_seed)
        samples = rng.uniform(*case.calibration, size=(CALIBRATION_SAMPLES,) + shape)
        _converted[key] = quantize_keras(model, samples.astype(np.float32),
                                         int8_io=case.int8_io, activations=case.activations)
    return _converted[key]


# --- checking ------------------------------------------------------------------------------------

def opcodes(model) -> list[str]:
    return [op.opcode for op in model.operators]


def first_op(model, opcode: str):
    """The model's first operator with ``opcode`` (an assertion error if there is none)."""
    found = [op for op in model.operators if op.opcode == opcode]
    assert found, f"{model.name}: no {opcode} in {opcodes(model)}"
    return found[0]


def check_contains_op(model, case: Case) -> None:
    """Guard against vacuous passes: the op under test (with its activation) is there."""
    present = opcodes(model)
    wanted = (case.op,) if isinstance(case.op, str) else case.op
    assert any(op in present for op in wanted), (
        f"{case.name}: no {' or '.join(wanted)} in {present}")
    for extra in case.extra_ops:
        assert extra in present, f"{case.name}: no {extra} in {present}"
    if case.activation is not None:
        activations = [op.options.get("fused_activation_function") for op in model.operators
                       if op.opcode == case.op]
        assert case.activation in activations, (
            f"{case.name}: {case.op} carries {activations}, expected {case.activation}")


def case_inputs(model, case: Case) -> list[np.ndarray] | None:
    """Float inputs over ``case.float_inputs``; None: conftest's random inputs over
    the whole range of each input's dtype."""
    if case.float_inputs is None:
        return None
    rng = np.random.default_rng(case.input_seed)
    return [rng.uniform(*case.float_inputs, size=(BATCH,) + tuple(t.shape)).astype(np.float32)
            for t in model.input_tensors]


def assert_case_matches_tflm(case: Case) -> list[np.ndarray]:
    """Convert ``case``, check its ops, compare every output byte with TFLM; returns
    the generated code's outputs."""
    from tinyflow.codegen.ir import load_model

    model_bytes = converted(case)
    model = load_model(model_bytes, name=case.name)
    check_contains_op(model, case)
    if case.check is not None:
        case.check(model)
    return assert_bit_exact(model_bytes, batch=BATCH, seed=case.input_seed,
                            inputs=case_inputs(model, case), reference=case.reference)


# --- other runners: TFLite's interpreter, an emulated board ------------------------------------

def run_tflite_interpreter(model_bytes: bytes, inputs, reference_kernels: bool = False) -> list:
    """TFLite's interpreter (ai-edge-litert) on ``inputs`` (batch first), sample by sample;
    ``reference_kernels``: its reference kernels (BUILTIN_REF) instead of the optimized
    ones. The oracle for models TFLM cannot run."""
    from ai_edge_litert.interpreter import Interpreter, OpResolverType

    options = ({"experimental_op_resolver_type": OpResolverType.BUILTIN_REF}
               if reference_kernels else {})
    interpreter = Interpreter(model_content=model_bytes, **options)
    interpreter.allocate_tensors()
    ins, outs = interpreter.get_input_details(), interpreter.get_output_details()
    results = [[] for _ in outs]
    for sample in range(len(inputs[0])):
        for detail, array in zip(ins, inputs):
            interpreter.set_tensor(detail["index"], array[sample])
        interpreter.invoke()
        for result, detail in zip(results, outs):
            result.append(interpreter.get_tensor(detail["index"]).copy())
    return [np.stack(result) for result in results]


def board_and_reference_outputs(case: Case, seed: int, board: str = "qemu-cortex-m4"):
    """``case``'s model on ``board`` (QEMU) and on its oracle (TFLM, or the case's own
    reference), on BATCH random inputs from ``seed``: (ours, reference)."""
    require_tools("arm-none-eabi-gcc", "qemu-system-arm")
    from conftest import random_inputs
    from tinyflow.codegen.ir import load_model
    from tinyflow.firmware.infer import run_on_board
    from tinyflow.reference import ReferenceInterpreter

    model_bytes = converted(case)
    model = load_model(model_bytes)
    inputs = random_inputs(model, BATCH, seed=seed)
    ours = run_on_board(model, inputs, board)
    reference = (case.reference(model_bytes, inputs) if case.reference is not None
                 else ReferenceInterpreter(model_bytes).run(inputs))
    return ours, reference
