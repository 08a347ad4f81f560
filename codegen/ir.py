"""The model IR: one typed graph that the profiler, memory planner and code generator read.

``load_model`` parses a ``.tflite`` flatbuffer with the generated bindings of the
TFLite schema (the ``tflite`` package) into plain dataclasses: tensors with shape,
dtype, quantization and constant data; operators with their inputs, outputs and
options as a dict; and the graph's inputs and outputs.
"""

from __future__ import annotations

import hashlib
import inspect
import re
from dataclasses import dataclass, field
from pathlib import Path

import flatbuffers
import numpy as np
import tflite

from tinyflow.errors import ModelFormatError

# TFLite's TensorType enum value -> numpy dtype name.
_TENSOR_TYPES = {
    "FLOAT32": "float32", "FLOAT16": "float16", "FLOAT64": "float64",
    "INT8": "int8", "UINT8": "uint8", "INT16": "int16", "UINT16": "uint16",
    "INT32": "int32", "UINT32": "uint32", "INT64": "int64", "UINT64": "uint64",
    "BOOL": "bool", "INT4": "int4", "STRING": "string", "COMPLEX64": "complex64",
}


def _enum_names(enum_class) -> dict[int, str]:
    return {v: k for k, v in vars(enum_class).items() if not k.startswith("_")}


_TYPE_NAMES = _enum_names(tflite.TensorType)
_OP_NAMES = _enum_names(tflite.BuiltinOperator)
_OPTION_NAMES = _enum_names(tflite.BuiltinOptions)
_PADDING_NAMES = _enum_names(tflite.Padding)
_ACTIVATION_NAMES = _enum_names(tflite.ActivationFunctionType)


@dataclass(frozen=True)
class Quantization:
    """Affine quantization: real = scale * (q - zero_point), per tensor or per channel."""

    scale: tuple[float, ...]        # float32 values, kept exactly as stored in the model
    zero_point: tuple[int, ...]
    axis: int = 0                   # the channel axis when per-channel

    @property
    def per_channel(self) -> bool:
        return len(self.scale) > 1


@dataclass
class Tensor:
    index: int
    name: str
    shape: tuple[int, ...]
    dtype: str                      # numpy dtype name: "int8", "int32", "float32", ...
    quantization: Quantization | None = None
    data: np.ndarray | None = None  # constant data (weights, biases, shapes), else None

    @property
    def is_constant(self) -> bool:
        return self.data is not None

    @property
    def num_elements(self) -> int:
        return int(np.prod(self.shape, dtype=np.int64)) if self.shape else 1

    @property
    def nbytes(self) -> int:
        return self.num_elements * np.dtype(self.dtype).itemsize

    @property
    def scale(self) -> float:
        """The per-tensor scale (as float32 widened to double, like TFLM does)."""
        return float(self.quantization.scale[0])

    @property
    def zero_point(self) -> int:
        return int(self.quantization.zero_point[0])


@dataclass
class Operator:
    index: int
    opcode: str                     # builtin name ("CONV_2D") or "CUSTOM:<name>"
    inputs: tuple[int, ...]         # tensor indices; -1 marks an omitted optional input
    outputs: tuple[int, ...]
    options: dict = field(default_factory=dict)
    # The op's index in the .tflite file, when simplification (codegen/simplify.py)
    # renumbered the graph; messages name this one, so the user can find the op.
    file_index: int | None = None

    @property
    def location(self) -> str:
        index = self.index if self.file_index is None else self.file_index
        return f"op #{index} ({self.opcode})"


@dataclass
class Model:
    name: str
    tensors: list[Tensor]
    operators: list[Operator]
    inputs: tuple[int, ...]
    outputs: tuple[int, ...]
    description: str = ""
    sha256: str = ""
    subgraph_count: int = 1

    def tensor(self, index: int) -> Tensor | None:
        return None if index < 0 else self.tensors[index]

    @property
    def input_tensors(self) -> list[Tensor]:
        return [self.tensors[i] for i in self.inputs]

    @property
    def output_tensors(self) -> list[Tensor]:
        return [self.tensors[i] for i in self.outputs]

    def consumers(self, tensor_index: int) -> list[Operator]:
        return [op for op in self.operators if tensor_index in op.inputs]

    def producer(self, tensor_index: int) -> Operator | None:
        for op in self.operators:
            if tensor_index in op.outputs:
                return op
        return None

    def _repr_html_(self) -> str:
        rows = "".join(
            f"<tr><td>{op.index}</td><td>{op.opcode}</td>"
            f"<td>{' '.join(str(list(self.tensors[i].shape)) for i in op.inputs if i >= 0)}</td>"
            f"<td>{' '.join(str(list(self.tensors[i].shape)) for i in op.outputs)}</td></tr>"
            for op in self.operators
        )
        return (f"<b>{self.name}</b>: {len(self.operators)} ops, {len(self.tensors)} tensors"
                f"<table><tr><th>#</th><th>op</th><th>inputs</th><th>outputs</th></tr>{rows}</table>")

    def __str__(self) -> str:
        lines = [f"{self.name}: {len(self.operators)} ops, {len(self.tensors)} tensors"]
        for op in self.operators:
            # Before validation an output may be -1 (omitted): shown as such.
            outs = ", ".join(str(list(self.tensors[i].shape)) if i >= 0 else "-"
                             for i in op.outputs)
            lines.append(f"  {op.index:3d} {op.opcode:<20} -> {outs}")
        return "\n".join(lines)


def load_model(source: str | Path | bytes, name: str | None = None) -> Model:
    """Load a .tflite model from a path or from its bytes.

    Raises ModelFormatError when the bytes are not a complete TFLite flatbuffer.
    """
    if isinstance(source, (bytes, bytearray, memoryview)):
        buf = bytes(source)
        name = name or "model"
    else:
        path = Path(source)
        try:
            buf = path.read_bytes()
        except OSError as exc:
            raise ModelFormatError(f"{path}: cannot read model: {exc.strerror}") from exc
        name = name or path.stem
    if len(buf) < 8 or not tflite.Model.ModelBufferHasIdentifier(buf, 0):
        raise ModelFormatError(
            f"{name}: not a TFLite model (the file identifier 'TFL3' is missing at byte 4)")
    try:
        return _parse(buf, name)
    except ModelFormatError:
        raise
    except Exception as exc:  # the flatbuffer bindings raise assorted errors on bad offsets
        needed = re.search(r"at least (\d+) bytes", str(exc))
        detail = (f"it refers to data up to byte {needed.group(1)}, past the end of the file"
                  if needed else f"{type(exc).__name__}: {exc}")
        raise ModelFormatError(
            f"{name}: corrupt or truncated TFLite model ({len(buf)} bytes): {detail}") from exc


def _parse(buf: bytes, name: str) -> Model:
    fb_model = tflite.Model.GetRootAsModel(buf, 0)
    if fb_model.SubgraphsLength() < 1:
        raise ModelFormatError(f"{name}: the model has no subgraph")
    subgraph = fb_model.Subgraphs(0)

    opcodes = []
    for i in range(fb_model.OperatorCodesLength()):
        code = fb_model.OperatorCodes(i)
        builtin = max(_raw_builtin_code(code), code.DeprecatedBuiltinCode())
        if _OP_NAMES.get(builtin) == "CUSTOM":
            opcodes.append("CUSTOM:" + (code.CustomCode() or b"?").decode())
        else:
            opcodes.append(_OP_NAMES.get(builtin, f"BUILTIN_{builtin}"))

    tensors = [_parse_tensor(buf, fb_model, subgraph.Tensors(i), i, name)
               for i in range(subgraph.TensorsLength())]

    operators = []
    for i in range(subgraph.OperatorsLength()):
        fb_op = subgraph.Operators(i)
        opcode_index = fb_op.OpcodeIndex()
        if opcode_index >= len(opcodes):
            raise ModelFormatError(f"{name}: op #{i} names opcode {opcode_index}, "
                                   f"but the model has {len(opcodes)}")
        operators.append(Operator(
            index=i,
            opcode=opcodes[opcode_index],
            inputs=tuple(int(t) for t in _as_list(fb_op.InputsAsNumpy())),
            outputs=tuple(int(t) for t in _as_list(fb_op.OutputsAsNumpy())),
            options=_parse_options(fb_op),
        ))
        for t in operators[-1].inputs + operators[-1].outputs:
            if t >= len(tensors) or t < -1:          # -1 alone marks an omitted tensor
                raise ModelFormatError(f"{name}: op #{i} names tensor {t}, "
                                       f"but the model has {len(tensors)}")

    description = fb_model.Description()
    return Model(
        name=name,
        tensors=tensors,
        operators=operators,
        inputs=tuple(int(t) for t in _as_list(subgraph.InputsAsNumpy())),
        outputs=tuple(int(t) for t in _as_list(subgraph.OutputsAsNumpy())),
        description=description.decode(errors="replace") if description else "",
        sha256=hashlib.sha256(buf).hexdigest(),
        subgraph_count=fb_model.SubgraphsLength(),
    )


def _raw_builtin_code(code) -> int:
    """OperatorCode.builtin_code as stored. The bindings' BuiltinCode() answers the
    deprecated field for codes below 127, so a writer that leaves the deprecated
    field at 0 (ai-edge-quantizer) would read as ADD; the field sits in vtable slot 3."""
    offset = code._tab.Offset(10)
    return code._tab.Get(flatbuffers.number_types.Int32Flags, offset + code._tab.Pos) \
        if offset else 0


def _as_list(array_or_zero) -> list:
    # The bindings return the int 0 instead of an empty array for absent vectors.
    return [] if isinstance(array_or_zero, int) else list(array_or_zero)


def _parse_tensor(buf, fb_model, fb_tensor, index, model_name) -> Tensor:
    type_name = _TYPE_NAMES.get(fb_tensor.Type(), f"TYPE_{fb_tensor.Type()}")
    dtype = _TENSOR_TYPES.get(type_name, type_name.lower())
    shape = tuple(int(d) for d in _as_list(fb_tensor.ShapeAsNumpy()))

    quantization = None
    fb_quant = fb_tensor.Quantization()
    if fb_quant is not None and fb_quant.ScaleLength() > 0:
        scales = _as_list(fb_quant.ScaleAsNumpy())
        # No default when absent: TFLM then ignores the scales too (the tensor is not
        # quantized there), so validation reports the missing zero points.
        zero_points = _as_list(fb_quant.ZeroPointAsNumpy())
        quantization = Quantization(
            scale=tuple(float(np.float32(s)) for s in scales),
            zero_point=tuple(int(z) for z in zero_points),
            axis=int(fb_quant.QuantizedDimension()),
        )

    data = None
    buffer_index = fb_tensor.Buffer()
    if buffer_index >= fb_model.BuffersLength():
        # TFLM would read past its buffer table (undefined: e.g. an input read as zeros).
        raise ModelFormatError(
            f"{model_name}: tensor #{index} '{fb_tensor.Name().decode(errors='replace')}' "
            f"names buffer {buffer_index}; the model has {fb_model.BuffersLength()}")
    if buffer_index > 0:
        raw = _buffer_bytes(buf, fb_model.Buffers(buffer_index))
        if raw is not None and len(raw) > 0 and dtype not in ("string", "int4"):
            itemsize = np.dtype(dtype).itemsize
            expected = int(np.prod(shape, dtype=np.int64)) * itemsize if shape else itemsize
            if len(raw) != expected:
                raise ModelFormatError(
                    f"{model_name}: tensor #{index} '{fb_tensor.Name().decode()}' has "
                    f"{len(raw)} bytes of data, its shape {list(shape)} needs {expected}")
            data = np.frombuffer(raw, dtype=np.dtype(dtype).newbyteorder("<")).reshape(shape)
            data = data.astype(dtype)  # native byte order, writable copy

    return Tensor(index=index, name=fb_tensor.Name().decode(errors="replace"), shape=shape,
                  dtype=dtype, quantization=quantization, data=data)


def _buffer_bytes(buf: bytes, fb_buffer) -> bytes | None:
    # Models over 2 GB keep buffers after the flatbuffer, addressed by offset and size.
    offset = fb_buffer.Offset() if hasattr(fb_buffer, "Offset") else 0
    if offset > 1:
        size = fb_buffer.Size()
        if offset + size > len(buf):
            raise ModelFormatError(f"buffer at offset {offset} runs past the end of the file")
        return buf[offset:offset + size]
    if fb_buffer.DataLength() == 0:
        return None
    return fb_buffer.DataAsNumpy().tobytes()


def _snake_case(camel: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", camel).lower()


def _parse_options(fb_op) -> dict:
    """Read an operator's builtin options table into a dict of snake_case keys."""
    options_name = _OPTION_NAMES.get(fb_op.BuiltinOptionsType(), "NONE")
    table = fb_op.BuiltinOptions()
    options_class = getattr(tflite, options_name, None)
    if options_name == "NONE" or table is None or options_class is None:
        return {}
    options = options_class()
    options.Init(table.Bytes, table.Pos)
    members = set(dir(options_class))
    result = {}
    for member in sorted(members):
        if member.startswith(("_", "GetRootAs", "Init")) or member.endswith(
                ("BufferHasIdentifier", "AsNumpy", "Length", "IsNone")):
            continue
        if member + "AsNumpy" in members:
            value = [int(v) for v in _as_list(getattr(options, member + "AsNumpy")())]
        else:
            method = getattr(options, member)
            if len(inspect.signature(method).parameters) != 0:
                continue
            value = method()
        key = _snake_case(member)
        if key == "padding":
            value = _PADDING_NAMES.get(value, value)
        elif key == "fused_activation_function":
            value = _ACTIVATION_NAMES.get(value, value)
        result[key] = value
    return result
