"""What every op kernel shares: the registry, the per-layer context and the typed result.

An op kernel is a Python "prepare" function registered for a TFLite opcode. It
checks that the layer is supported (raising Unsupported with the reason), computes
every constant the C code needs (multipliers, shifts, padding, clamp bounds) and
returns a ``Prepared``: the template and its parameters, and what every later stage
needs to know of the layer (kernel variant, MACs, cost features, constant tables,
scratch bytes, whether the output aliases the input). The C template is the "eval".
Nothing outside an op's module knows anything op-specific.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

import numpy as np

from tinyflow.codegen.ir import Model, Operator, Tensor
from tinyflow.codegen.memory import MemoryPlan

C_TYPES = {"int8": "int8_t", "uint8": "uint8_t", "int16": "int16_t", "int32": "int32_t",
           "int64": "int64_t", "float32": "float", "bool": "uint8_t"}

# Every cost feature a layer can report (counts over the whole layer):
#   calls (1); macs (textbook: every tap of every window, padding included);
#   valid_macs (taps inside the input only: kernels that skip padding do these);
#   taps / window_rows (window taps and window rows inside the input, per channel);
#   pixels (output pixels); border_outputs (outputs whose window padding clips);
#   patch (input values an im2col gathers); inputs / outputs (elements);
#   signed_operands (element-wise outputs x operands that may be negative after
#   their offset); rows (of a fully connected or softmax layer);
#   table_bytes (the layer's constant tables in flash); runs (the innermost loops of a
#   data-movement op: each a memcpy of a contiguous run, or an element-by-element loop).
FEATURES = ("calls", "macs", "valid_macs", "taps", "window_rows", "pixels", "border_outputs",
            "patch", "inputs", "outputs", "signed_operands", "rows", "table_bytes", "runs")

# A kernel whose op declares nothing else costs a call plus a constant per output.
DEFAULT_COST_TERMS = ("calls", "outputs")


class Unsupported(Exception):
    """This layer cannot be generated; the message says why."""


@dataclass(frozen=True)
class ConstTable:
    """A constant array the layer's code keeps in flash (multipliers, shifts, folded
    biases). The generator emits it as ``static const <ctype> layer<N>_<name>[]``, so
    the bytes counted here are exactly the bytes compiled."""

    name: str
    ctype: str          # int8_t, int32_t, ...
    values: tuple[int, ...]

    @property
    def nbytes(self) -> int:
        return len(self.values) * np.dtype(self.ctype.removesuffix("_t")).itemsize


@dataclass
class Prepared:
    """One layer as its op's prepare step decided it."""

    template: str                     # ops/<template>, the layer's C "eval"
    variant: str                      # kernel variant: the cost model's key for this code path
    params: dict                      # the template's parameters
    macs: int = 0                     # textbook multiply-accumulates
    features: dict[str, int] = field(default_factory=dict)   # cost features (FEATURES)
    cost_terms: tuple[str, ...] = DEFAULT_COST_TERMS         # features the cost is linear in
    tables: tuple[ConstTable, ...] = ()
    scratch_bytes: int = 0            # arena scratch the layer needs while it runs
    aliases_input: bool = False       # the output is the input reinterpreted: no copy
    # The kernel can write its output over its input (the planner decides whether it
    # does: Layer.in_place), holding back in_place_scratch_bytes of it meanwhile.
    in_place: bool = False
    in_place_scratch_bytes: int = 0

    @property
    def table_bytes(self) -> int:
        return sum(t.nbytes for t in self.tables)


@dataclass(frozen=True)
class OpKernel:
    opcode: str
    prepare: Callable[["Layer"], Prepared]


REGISTRY: dict[str, OpKernel] = {}


def register(*opcodes: str):
    def decorate(prepare):
        for opcode in opcodes:
            REGISTRY[opcode] = OpKernel(opcode, prepare)
        return prepare
    return decorate


@dataclass(frozen=True, eq=False)
class PackedWeights:
    """A constant tensor in a kernel's layout: the C array ``name`` holds ``data``."""

    name: str
    tensor: Tensor
    layout: str
    data: np.ndarray

    @property
    def ptr(self) -> str:
        return self.name


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

    def packed(self, layout: str, data: np.ndarray) -> "PackedWeights":
        """This constant rearranged at build time into the layout a kernel reads (see
        codegen/ops/packing.py): emitted with the weights as <weights>_<layout> and counted
        as the layer's weights, instead of the tensor as the model stores it."""
        name = f"{self._layer.weight_name(self.tensor.index)}_{layout}"
        self._layer.packed_constants[name] = PackedWeights(name, self.tensor, layout, data)
        return self._layer.packed_constants[name]

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

    def __init__(self, op: Operator, model: Model, weight_name=lambda index: f"w{index}",
                 tuning: dict[str, str] | None = None):
        self.op = op
        self.model = model
        self.weight_name = weight_name
        self.tuning = tuning or {}               # a tuning record's choices (codegen/tuning.py)
        self.choices: dict[str, tuple[str, tuple[str, ...]]] = {}   # knob -> (chosen, options)
        self.plan: MemoryPlan | None = None      # set once the arena is planned
        self.used_constants: set[int] = set()    # constants the rendered code references
        self.packed_constants: dict[str, PackedWeights] = {}   # ... and those it packed

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
    def scratch(self) -> str:
        """C expression of the layer's scratch buffer in the arena (see Prepared)."""
        return f"(arena + {self.plan.scratch[self.index].offset})"

    @property
    def in_place(self) -> bool:
        """Whether the planner gave this layer's output its input's storage."""
        return self.index in self.plan.in_place

    @property
    def output_offset(self) -> int:
        return self.plan.offset(self.op.outputs[0])

    @property
    def output_bytes(self) -> int:
        return self.model.tensors[self.op.outputs[0]].nbytes

    # --- the result of a prepare function -----------------------------------
    def prepared(self, template: str, *, variant: str | None = None, macs: int = 0,
                 features: dict | None = None, cost_terms=DEFAULT_COST_TERMS,
                 tables=(), scratch_bytes: int = 0, aliases_input: bool = False,
                 in_place: bool = False, in_place_scratch_bytes: int = 0,
                 **params) -> Prepared:
        """Package a prepare step's decisions. The features every layer has (calls,
        inputs, outputs, table_bytes) are filled in here; ``features`` adds the op's."""
        x = self.input(0)
        tables = tuple(tables)
        all_features = dict.fromkeys(FEATURES, 0)
        all_features.update(calls=1, outputs=self.output().elements,
                            inputs=x.elements if x is not None else 0,
                            table_bytes=sum(t.nbytes for t in tables), macs=macs)
        all_features.update(features or {})
        unknown = set(all_features) - set(FEATURES)
        assert not unknown, f"{self.opcode}: unknown cost features {sorted(unknown)}"
        return Prepared(template=template, variant=variant or self.opcode.lower(),
                        params=params, macs=int(macs),
                        features={k: int(v) for k, v in all_features.items()},
                        cost_terms=tuple(cost_terms), tables=tables,
                        scratch_bytes=int(scratch_bytes), aliases_input=aliases_input,
                        in_place=in_place, in_place_scratch_bytes=int(in_place_scratch_bytes))

    def choose(self, knob: str, options, default: str) -> str:
        """One of several kernel paths this layer can take (``tinyflow tune`` measures
        them all): the tuning record's choice for a layer of this shape, else
        ``default``. The manifest lists the options and the choice."""
        from tinyflow.codegen.tuning import layer_key

        options = tuple(options)
        chosen = self.tuning.get(layer_key(self, knob), default)
        chosen = chosen if chosen in options else default
        self.choices[knob] = (chosen, options)
        return chosen

    def table(self, name: str, ctype: str, values) -> ConstTable:
        return ConstTable(name, ctype, tuple(int(v) for v in values))

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
