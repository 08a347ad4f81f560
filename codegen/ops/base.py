"""What every op kernel shares: the registry and the per-layer context.

An op kernel is a Python "prepare" function registered for a TFLite opcode. It
checks that the layer is supported (raising Unsupported with the reason), computes
every constant the C code needs (multipliers, shifts, padding, clamp bounds) and
returns the template name and its parameters. The C template is the "eval".
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np

from tinyflow.codegen.ir import Model, Operator, Tensor
from tinyflow.codegen.memory import MemoryPlan

C_TYPES = {"int8": "int8_t", "uint8": "uint8_t", "int16": "int16_t", "int32": "int32_t",
           "int64": "int64_t", "float32": "float", "bool": "uint8_t"}


class Unsupported(Exception):
    """This layer cannot be generated; the message says why."""


@dataclass(frozen=True)
class OpKernel:
    opcode: str
    prepare: Callable[["Layer"], dict]


REGISTRY: dict[str, OpKernel] = {}


def register(*opcodes: str):
    def decorate(prepare):
        for opcode in opcodes:
            REGISTRY[opcode] = OpKernel(opcode, prepare)
        return prepare
    return decorate


class TensorRef:
    """A tensor as a template sees it: its C pointer expression and its numbers."""

    def __init__(self, tensor: Tensor, layer: "Layer"):
        self.tensor = tensor
        self._layer = layer

    @property
    def ptr(self) -> str:
        """C expression of the tensor's address (arena slot or const weight array)."""
        t = self.tensor
        if t.is_constant:
            self._layer.used_constants.add(t.index)
            return self._layer.weight_name(t.index)
        offset = self._layer.plan.offset(t.index)
        return f"(({self.ctype} *)(arena + {offset}))"

    @property
    def ctype(self) -> str:
        return C_TYPES[self.tensor.dtype]

    @property
    def shape(self) -> tuple[int, ...]:
        return self.tensor.shape

    def dim(self, i: int) -> int:
        return self.tensor.shape[i]

    @property
    def shape4(self) -> tuple[int, ...]:
        """The shape left-padded with 1s to four dimensions (NHWC)."""
        return (1,) * (4 - len(self.shape)) + tuple(self.shape)

    @property
    def elements(self) -> int:
        return self.tensor.num_elements

    @property
    def zero_point(self) -> int:
        return self.tensor.zero_point

    @property
    def scale(self) -> float:
        return self.tensor.scale

    @property
    def data(self) -> np.ndarray:
        return self.tensor.data


class Layer:
    """One operator being generated: its tensors, options and memory placement."""

    def __init__(self, op: Operator, model: Model, plan: MemoryPlan, weight_name):
        self.op = op
        self.model = model
        self.plan = plan
        self.weight_name = weight_name
        self.used_constants: set[int] = set()

    @property
    def index(self) -> int:
        return self.op.index

    @property
    def opcode(self) -> str:
        return self.op.opcode

    @property
    def options(self) -> dict:
        return self.op.options

    def option(self, key, default=None):
        return self.op.options.get(key, default)

    def input(self, i: int) -> TensorRef | None:
        if i >= len(self.op.inputs) or self.op.inputs[i] < 0:
            return None
        return TensorRef(self.model.tensors[self.op.inputs[i]], self)

    def inputs(self) -> list[TensorRef | None]:
        return [self.input(i) for i in range(len(self.op.inputs))]

    def output(self, i: int = 0) -> TensorRef:
        return TensorRef(self.model.tensors[self.op.outputs[i]], self)

    @property
    def summary(self) -> str:
        ins = " ".join(str(list(self.model.tensors[i].shape)) for i in self.op.inputs
                       if i >= 0 and not self.model.tensors[i].is_constant)
        outs = " ".join(str(list(self.model.tensors[i].shape)) for i in self.op.outputs)
        return f"{ins} -> {outs}"

    @property
    def output_offset(self) -> int:
        return self.plan.offset(self.op.outputs[0])

    @property
    def output_bytes(self) -> int:
        return self.model.tensors[self.op.outputs[0]].nbytes

    # --- checks used by prepare functions ---------------------------------
    def require(self, condition: bool, message: str) -> None:
        if not condition:
            raise Unsupported(message)

    def require_dtype(self, ref: TensorRef | None, what: str, *dtypes: str) -> None:
        self.require(ref is not None, f"{what} tensor is missing")
        self.require(ref.tensor.dtype in dtypes,
                     f"{what} '{ref.tensor.name}' is {ref.tensor.dtype}; "
                     f"supported: {', '.join(dtypes)}")
        if ref.tensor.dtype in ("int8", "int16", "uint8"):
            self.require(ref.tensor.quantization is not None,
                         f"{what} '{ref.tensor.name}' is {ref.tensor.dtype} but not quantized")

    def require_per_tensor(self, ref: TensorRef, what: str) -> None:
        self.require(not ref.tensor.quantization.per_channel,
                     f"{what} '{ref.tensor.name}' is quantized per channel; "
                     f"only per-tensor quantization is supported here")

    def require_constant(self, ref: TensorRef | None, what: str) -> None:
        self.require(ref is not None and ref.tensor.is_constant,
                     f"{what} must be a constant tensor")

    def require_not_constant(self, ref: TensorRef, what: str) -> None:
        self.require(not ref.tensor.is_constant,
                     f"{what} '{ref.tensor.name}' is a constant; constant activations are "
                     f"not supported")

    def activation(self) -> str:
        activation = self.option("fused_activation_function", "NONE")
        self.require(activation in ("NONE", "RELU", "RELU6", "RELU_N1_TO_1"),
                     f"fused activation {activation} is not supported")
        return activation
