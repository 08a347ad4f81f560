"""Static facts of every layer, as the code generator recorded them in its manifest.

The op's prepare step decided everything op-specific (kernel variant, MACs, cost
features, constant tables, scratch); this module only joins that with the model's
shapes and the memory plan's live sets, for reports. Two MAC counts exist on
purpose: ``macs``, the textbook count (every tap of every window, padding
included) that people compare across tools, and ``features["valid_macs"]``, the
taps inside the input: kernels that skip padding do only those.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from tinyflow.codegen.generator import GeneratedCode
from tinyflow.codegen.ir import Model
from tinyflow.codegen.memory import MemoryPlan


@dataclass
class LayerFacts:
    index: int
    op: str                         # TFLite opcode, e.g. "CONV_2D"
    kernel: str                     # the op's kernel variant (cost-model key), e.g. "conv_direct"
    input_shapes: list[tuple]       # activation inputs only (weights are not listed)
    output_shapes: list[tuple]
    macs: int                       # textbook multiply-accumulates (see module docstring)
    weight_bytes: int               # constant arrays its code reads: weights, biases
    input_bytes: int                # activations read
    output_bytes: int               # activations written
    arena_live_bytes: int           # bytes of arena buffers live during this layer
    live_buffers: list[tuple[str, int]] = field(default_factory=list)  # (whose, bytes) live
    features: dict[str, int] = field(default_factory=dict)   # cost-model inputs
    cost_terms: tuple[str, ...] = ()    # the features its kernel's cost is linear in
    table_bytes: int = 0            # its constant tables (multipliers, shifts, ...)
    scratch_bytes: int = 0          # its scratch in the arena


def _buffer_owners(model: Model, plan: MemoryPlan) -> dict[int, str]:
    """id(buffer) -> who writes it ("output of layer 3 CONV_2D", "model input 0"):
    shorter and more useful in a report than TFLite's long tensor names."""
    owners = {id(buffer): buffer.name for buffer in plan.scratch.values()}
    for position, t in enumerate(model.inputs):
        owners.setdefault(id(plan.tensor_buffer[t]), f"model input {position}")
    for op in model.operators:
        for t in op.outputs:
            if t in plan.tensor_buffer:
                owners.setdefault(id(plan.tensor_buffer[t]),
                                  f"output of layer {op.index} {op.opcode}")
    return owners


def layer_facts(generated: GeneratedCode) -> list[LayerFacts]:
    """Facts for every layer of the generated code, in execution order."""
    model, plan, manifest = generated.model, generated.plan, generated.manifest
    owners = _buffer_owners(model, plan)
    weight_bytes = {w["name"]: w["nbytes"] for w in manifest["weights"]}
    facts = []
    for op, entry in zip(model.operators, manifest["layers"]):
        activations_in = [model.tensors[i] for i in op.inputs
                          if i >= 0 and not model.tensors[i].is_constant]
        outputs = [model.tensors[i] for i in op.outputs]
        facts.append(LayerFacts(
            index=op.index,
            op=op.opcode,
            kernel=entry["variant"],
            input_shapes=[tuple(t.shape) for t in activations_in],
            output_shapes=[tuple(t.shape) for t in outputs],
            macs=entry["macs"],
            weight_bytes=sum(weight_bytes[name] for name in entry["weights"]),
            input_bytes=sum(t.nbytes for t in activations_in),
            output_bytes=sum(t.nbytes for t in outputs),
            arena_live_bytes=plan.live_bytes_at(op.index),
            live_buffers=sorted(((owners.get(id(b), b.name), b.size)
                                 for b in plan.live_at(op.index)),
                                key=lambda item: -item[1]),
            features=dict(entry["features"]),
            cost_terms=tuple(entry["cost_terms"]),
            table_bytes=entry["table_bytes"],
            scratch_bytes=entry["scratch_bytes"],
        ))
    return facts
