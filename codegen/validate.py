"""Whole-model validation: everything a model file must satisfy before anything is
simplified, planned or generated, checked at once so every problem is reported together.

A .tflite file is untrusted input. The loader (ir.py) only guarantees that the
flatbuffer parses, that operators name existing tensors and that constant data
matches its shape. This module checks the rest of what the generator relies on and
the TFLite schema promises:

- graph structure: the subgraph's inputs and outputs exist and are written (or fed);
  operators come in execution order, each tensor has at most one writer, every
  tensor an op reads is a constant, a graph input or written by an earlier op (which
  also rules out cycles and ops reading their own output); a constant is never written;
- tensors: a dtype tinyflow can hold, rank <= 6, positive dims, bounded sizes;
- quantization: finite positive scales, zero points in the dtype's range, per-channel
  scales matching the channel axis;
- operator options every op shares (strides, dilations and window sizes >= 1, known
  padding and fused activation) and, for the ops tinyflow generates, how many inputs
  and outputs they take and which keep their input's shape.

What an op computes (its dtypes, output shape, multipliers) is its prepare step's
business (codegen/ops/*.py); nothing is checked twice. Problems name their place as
``op #N (OPCODE)`` or ``tensor #N 'name'``, N being the index in the file.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from tinyflow.codegen.ir import Model, Operator, Tensor
from tinyflow.errors import InvalidModelError

MAX_RANK = 6                          # TFLM's RuntimeShape::kMaxSmallSize
MAX_TENSOR_BYTES = 2**31 - 1          # offsets and element counts are C ints
# Far beyond any microcontroller's RAM, but small enough that a host test build of
# a model's arena stays possible: a larger activation is a corrupt shape.
MAX_ACTIVATION_BYTES = 64 * 2**20
MAX_TOTAL_ACTIVATION_BYTES = 256 * 2**20

# numpy dtypes a tensor can have in tinyflow (int4 and string tensors cannot be held).
_HELD_DTYPES = frozenset({"float32", "float16", "float64", "int8", "uint8", "int16", "uint16",
                          "int32", "uint32", "int64", "uint64", "bool", "complex64"})

_PADDINGS = ("SAME", "VALID")
# TFLM's ConvParams holds these ops' strides and dilations as int16_t: a larger value
# wraps there (a stride of 65536 becomes 0), so TFLM computes another convolution.
_INT16_WINDOW_OPS = ("CONV_2D", "DEPTHWISE_CONV_2D", "TRANSPOSE_CONV")
_INT16_WINDOW_OPTIONS = ("stride_h", "stride_w", "dilation_h_factor", "dilation_w_factor")
_INT16_MAX = 2**15 - 1
# Options that count window positions or taps: zero or negative makes no window.
_POSITIVE_OPTIONS = ("stride_h", "stride_w", "dilation_h_factor", "dilation_w_factor",
                     "filter_height", "filter_width")


@dataclass(frozen=True)
class Signature:
    """What the TFLite schema defines for an op's tensors: how many inputs (the
    optional ones may be -1), how many outputs, and whether the output has the
    shape of input 0."""

    min_inputs: int
    max_inputs: int
    outputs: int = 1
    same_shape: bool = False


# The ops tinyflow generates, and the shape arithmetic it folds.
SIGNATURES = {
    "CONV_2D": Signature(2, 3), "DEPTHWISE_CONV_2D": Signature(2, 3),
    "FULLY_CONNECTED": Signature(2, 3),
    "AVERAGE_POOL_2D": Signature(1, 1), "MAX_POOL_2D": Signature(1, 1),
    "ADD": Signature(2, 2), "MUL": Signature(2, 2),
    "CONCATENATION": Signature(1, 10**6), "PAD": Signature(2, 2), "PADV2": Signature(2, 3),
    "MEAN": Signature(2, 2), "SUM": Signature(2, 2), "REDUCE_MAX": Signature(2, 2),
    "TRANSPOSE_CONV": Signature(3, 4), "BATCH_MATMUL": Signature(2, 2),
    "RESHAPE": Signature(1, 2), "SQUEEZE": Signature(1, 1), "EXPAND_DIMS": Signature(2, 2),
    **{opcode: Signature(1, 1, same_shape=True)
       for opcode in ("SOFTMAX", "LOGISTIC", "TANH", "RELU", "RELU6", "LEAKY_RELU",
                      "QUANTIZE", "DEQUANTIZE")},
    "SHAPE": Signature(1, 1), "STRIDED_SLICE": Signature(3, 4), "PACK": Signature(1, 10**6),
    "GATHER": Signature(2, 2),
}


@dataclass
class Validation:
    """The problems found, and what they leave usable: whether the graph can still be
    simplified (every op has an output), and which ops (by file index) have a problem
    or touch a broken tensor: the others can still be prepared, to report what they
    lack too."""

    problems: list[str] = field(default_factory=list)
    graph_sound: bool = True
    broken_ops: set[int] = field(default_factory=set)

    @property
    def ok(self) -> bool:
        return not self.problems


def validate_model(model: Model) -> list[str]:
    """Every problem of ``model`` (as read from the file), each with its location;
    empty if the model is well formed."""
    return validation(model).problems


def check_valid(model: Model) -> Model:
    """``model`` if it is well formed; else InvalidModelError listing every problem. For
    what reads a model's inputs or outputs before generating it (``infer --inputs``)."""
    problems = validate_model(model)
    if problems:
        raise InvalidModelError(model.name, problems)
    return model


def validation(model: Model) -> Validation:
    result = Validation()
    _check_graph_io(model, result)
    _check_operators(model, result)
    broken_tensors = _check_tensors(model, result)
    for op in model.operators:
        if broken_tensors.intersection(t for t in op.inputs + op.outputs if t >= 0):
            result.broken_ops.add(op.index)
    return result


def tensor_location(tensor: Tensor) -> str:
    return f"tensor #{tensor.index} '{_printable(tensor.name)}'"


def _printable(text: str) -> str:
    """A name on one line: control characters escaped, so a problem stays one line."""
    return text if text.isprintable() else text.encode("unicode_escape").decode("ascii")


def _op_location(op: Operator) -> str:
    return f"op #{op.index} ({_printable(op.opcode)})"


# --- graph structure -------------------------------------------------------------------------

def _check_graph_io(model: Model, result: Validation) -> None:
    count = len(model.tensors)
    for kind, indices in (("inputs", model.inputs), ("outputs", model.outputs)):
        if not indices:
            result.problems.append(f"the graph has no {kind}")
        for position, index in enumerate(indices):
            if not 0 <= index < count:
                result.problems.append(f"graph {kind[:-1]} {position} is tensor {index}, "
                                       f"but the model has tensors 0..{count - 1}")
        repeated = sorted({t for t in indices if indices.count(t) > 1})
        if repeated:
            result.problems.append(f"graph {kind} list tensor(s) {repeated} more than once")
    for position, index in enumerate(model.inputs):
        if 0 <= index < count and model.tensors[index].is_constant:
            result.problems.append(f"graph input {position} is "
                                   f"{tensor_location(model.tensors[index])}, a constant")
    if not model.operators:
        result.problems.append("the graph has no operators")
    elif model.outputs and set(model.outputs) <= set(model.inputs):
        result.problems.append("every graph output is a graph input: the model computes nothing")


def _check_operators(model: Model, result: Validation) -> None:
    """Execution order, single writers, what each op reads and writes, its options."""
    tensors = model.tensors
    in_range = set(range(len(tensors)))
    writer: dict[int, Operator] = {}
    for op in model.operators:
        for t in (t for t in op.outputs if t >= 0):
            if t in writer and writer[t] is not op:
                _op_problem(result, op, f"writes {tensor_location(tensors[t])}, which "
                                        f"{_op_location(writer[t])} writes too")
            writer.setdefault(t, op)

    graph_inputs = {t for t in model.inputs if t in in_range}
    for op in model.operators:
        _check_signature(model, op, result)
        _check_options(op, result)
        for t in op.outputs:
            if t < 0:
                _op_problem(result, op, "has an omitted (-1) output")
            elif tensors[t].is_constant:
                _op_problem(result, op, f"writes {tensor_location(tensors[t])}, a constant")
            elif t in graph_inputs:
                _op_problem(result, op, f"writes {tensor_location(tensors[t])}, a graph input")
        for t in op.inputs:
            if t < 0 or tensors[t].is_constant or t in graph_inputs:
                continue
            source = writer.get(t)
            if source is op:
                _op_problem(result, op, f"reads its own output {tensor_location(tensors[t])}")
            elif source is None:
                _op_problem(result, op, f"reads {tensor_location(tensors[t])}, which nothing "
                                        "writes (not a constant, not a graph input)")
            elif source.index > op.index:
                _op_problem(result, op, f"reads {tensor_location(tensors[t])} before "
                                        f"{_op_location(source)} writes it (operators out of "
                                        "execution order, or a cycle)")

    for position, t in enumerate(model.outputs):
        if t in in_range and t not in writer and t not in graph_inputs:
            result.problems.append(f"graph output {position} is {tensor_location(tensors[t])}, "
                                   "which no op writes")


def _op_problem(result: Validation, op: Operator, text: str) -> None:
    result.problems.append(f"{_op_location(op)}: {text}")
    result.broken_ops.add(op.index)


def _check_signature(model: Model, op: Operator, result: Validation) -> None:
    if not op.outputs:
        _op_problem(result, op, "has no outputs")
        result.graph_sound = False      # simplification reads every op's first output
    signature = SIGNATURES.get(op.opcode)
    if signature is None:
        return                           # not listed: its prepare step checks its tensors
    given = len(op.inputs)
    if not signature.min_inputs <= given <= signature.max_inputs:
        expected = (str(signature.min_inputs) if signature.min_inputs == signature.max_inputs
                    else f"{signature.min_inputs} to {signature.max_inputs}"
                    if signature.max_inputs < 10**6 else f"at least {signature.min_inputs}")
        _op_problem(result, op, f"has {given} inputs; {op.opcode} takes {expected}")
    elif any(t < 0 for t in op.inputs[:signature.min_inputs]):
        _op_problem(result, op, "omits (-1) a required input")
    if op.outputs and len(op.outputs) != signature.outputs:
        _op_problem(result, op, f"has {len(op.outputs)} outputs; {op.opcode} has "
                                f"{signature.outputs}")
    if (signature.same_shape and op.inputs and op.outputs and op.inputs[0] >= 0
            and op.outputs[0] >= 0):
        x, y = model.tensors[op.inputs[0]], model.tensors[op.outputs[0]]
        if x.shape != y.shape:
            _op_problem(result, op, f"output shape {list(y.shape)} differs from the input's "
                                    f"{list(x.shape)}; {op.opcode} keeps the shape")


def _check_options(op: Operator, result: Validation) -> None:
    options = op.options
    for key in _POSITIVE_OPTIONS:
        if key in options and options[key] < 1:
            _op_problem(result, op, f"{key} is {options[key]}; it must be at least 1")
    if op.opcode in _INT16_WINDOW_OPS:
        for key in _INT16_WINDOW_OPTIONS:
            if options.get(key, 1) > _INT16_MAX:
                _op_problem(result, op, f"{key} is {options[key]}; TFLM holds it as int16 "
                                        f"(at most {_INT16_MAX})")
    if "padding" in options and options["padding"] not in _PADDINGS:
        _op_problem(result, op, f"padding {options['padding']} is not a known padding "
                                "(SAME, VALID)")
    activation = options.get("fused_activation_function", "NONE")
    if not isinstance(activation, str):   # the loader names every known activation
        _op_problem(result, op, f"fused activation {activation} is not a known activation")


# --- tensors ---------------------------------------------------------------------------------

def _check_tensors(model: Model, result: Validation) -> set[int]:
    """Check every tensor an op or the graph uses; returns the broken ones' indices."""
    used = {t for op in model.operators for t in op.inputs + op.outputs if t >= 0}
    used.update(t for t in model.inputs + model.outputs if 0 <= t < len(model.tensors))
    broken = set()
    activation_bytes = 0
    for index in sorted(used):
        tensor = model.tensors[index]
        problems = _tensor_problems(tensor)
        if problems:
            broken.add(index)
            result.problems += [f"{tensor_location(tensor)}: {p}" for p in problems]
        elif not tensor.is_constant:
            activation_bytes += tensor.nbytes
    if activation_bytes > MAX_TOTAL_ACTIVATION_BYTES:
        result.problems.append(f"the activations add up to {activation_bytes} bytes; at most "
                               f"{MAX_TOTAL_ACTIVATION_BYTES} are supported")
    return broken


def _tensor_problems(tensor: Tensor) -> list[str]:
    if tensor.dtype not in _HELD_DTYPES:
        return [f"dtype {tensor.dtype} is not supported"]
    shape = tensor.shape
    if len(shape) > MAX_RANK:
        return [f"rank {len(shape)} is above {MAX_RANK}"]
    if any(d < 1 for d in shape):
        return [f"shape {list(shape)} has a dimension below 1"]
    problems = []
    nbytes = math.prod(shape) * np.dtype(tensor.dtype).itemsize
    limit = MAX_TENSOR_BYTES if tensor.is_constant else MAX_ACTIVATION_BYTES
    if nbytes > limit:
        problems.append(f"shape {list(shape)} takes {nbytes} bytes; at most {limit} are "
                        f"supported for {'a constant' if tensor.is_constant else 'an activation'}")
    if tensor.quantization is not None:
        problems += _quantization_problems(tensor)
    return problems


def _quantization_problems(tensor: Tensor) -> list[str]:
    q = tensor.quantization
    problems = []
    bad_scales = [s for s in q.scale if not (math.isfinite(s) and s > 0)]
    if bad_scales:
        problems.append(f"quantization scale {bad_scales[0]} is not a finite positive number")
    if len(q.zero_point) != len(q.scale):
        problems.append(f"{len(q.scale)} quantization scales but {len(q.zero_point)} "
                        "zero points")
    kind = np.dtype(tensor.dtype)
    if kind.kind in "iu":
        info = np.iinfo(kind)
        outside = [z for z in q.zero_point if not info.min <= z <= info.max]
        if outside:
            problems.append(f"zero point {outside[0]} is outside {tensor.dtype}'s range "
                            f"[{info.min}, {info.max}]")
    if q.per_channel:
        rank = len(tensor.shape)
        if not 0 <= q.axis < rank:
            problems.append(f"quantized per channel along axis {q.axis}, but the rank is {rank}")
        elif tensor.shape[q.axis] != len(q.scale):
            problems.append(f"{len(q.scale)} per-channel scales for {tensor.shape[q.axis]} "
                            f"channels along axis {q.axis}")
    return problems
