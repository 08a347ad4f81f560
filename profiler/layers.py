"""Static facts of every layer: shapes, MACs, bytes, and the features the cost model reads.

Everything here comes from the model IR and its memory plan, nothing from a
device. Two MAC counts exist on purpose:

- ``macs``: the textbook count (every tap of every window, padding included), the
  figure people compare across tools and papers;
- ``features["macs"]``: the taps the generated kernels really execute. They skip
  taps that fall into the padding, which matters on small inputs (KWS's first
  10x4 convolution on a 49x10 input skips a fifth of its taps), so the cost model
  is fitted on this one.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from tinyflow.codegen.quantize import same_padding
from tinyflow.ir import Model, Operator
from tinyflow.memory import ALIASING_OPS, MemoryPlan


@dataclass
class LayerFacts:
    index: int
    op: str                         # TFLite opcode, e.g. "CONV_2D"
    kernel: str                     # cost-model kernel variant, e.g. "conv_1x1"
    input_shapes: list[tuple]       # activation inputs only (weights are not listed)
    output_shapes: list[tuple]
    macs: int                       # textbook multiply-accumulates (see module docstring)
    weight_bytes: int               # constant inputs: weights, biases
    input_bytes: int                # activations read
    output_bytes: int               # activations written
    arena_live_bytes: int           # bytes of arena buffers live during this layer
    live_buffers: list[tuple[str, int]] = field(default_factory=list)  # (whose, bytes) live
    features: dict[str, int] = field(default_factory=dict)   # cost-model inputs


def _count_valid_taps(in_size: int, filter_size: int, stride: int, dilation: int,
                      padding: str) -> tuple[int, int]:
    """(output size, sum over output positions of window taps inside the input)."""
    out_size, pad = same_padding(in_size, filter_size, stride, dilation, padding)
    valid = 0
    for position in range(out_size):
        start = position * stride - pad
        valid += sum(1 for k in range(filter_size) if 0 <= start + k * dilation < in_size)
    return out_size, valid


def _window_taps(op: Operator, in_h: int, in_w: int, filter_h: int, filter_w: int) -> int:
    """Window positions inside the input, summed over all output pixels (one channel)."""
    padding = op.options.get("padding", "VALID")
    _, valid_h = _count_valid_taps(in_h, filter_h, op.options.get("stride_h", 1),
                                   op.options.get("dilation_h_factor", 1), padding)
    _, valid_w = _count_valid_taps(in_w, filter_w, op.options.get("stride_w", 1),
                                   op.options.get("dilation_w_factor", 1), padding)
    return valid_h * valid_w


def kernel_variant(op: Operator, model: Model) -> str:
    """The kernel variant whose cost coefficients apply to ``op``.

    Variants split an op where the generated C runs at a visibly different speed
    per MAC: a 1x1 convolution has no window loop, a convolution over 1-4 input
    channels (a first layer) spends its time in window overhead, not in MACs.
    """
    tensors = model.tensors
    if op.opcode == "CONV_2D":
        out_c, filter_h, filter_w, filter_c = tensors[op.inputs[1]].shape
        if filter_h == filter_w == 1:
            return "conv_1x1"
        return "conv_shallow" if filter_c <= 4 else "conv_general"
    if op.opcode == "DEPTHWISE_CONV_2D":
        _, filter_h, filter_w, _ = tensors[op.inputs[1]].shape
        return "depthwise_3x3" if (filter_h, filter_w) == (3, 3) else "depthwise_general"
    if op.opcode in ALIASING_OPS:
        return "reshape"
    return {
        "FULLY_CONNECTED": "fully_connected",
        "AVERAGE_POOL_2D": "avg_pool",
        "MAX_POOL_2D": "max_pool",
        "ADD": "add",
        "MUL": "mul",
        "SOFTMAX": "softmax",
    }.get(op.opcode, op.opcode.lower())


def _requantization_table_bytes(op: Operator, model: Model) -> int:
    """Flash of the per-channel multiplier (int32) and shift (int8) tables the
    generated code keeps for a layer: 5 bytes per output channel."""
    if op.opcode in ("CONV_2D", "DEPTHWISE_CONV_2D"):
        return 5 * model.tensors[op.outputs[0]].shape[-1]
    if op.opcode == "FULLY_CONNECTED":
        weights = model.tensors[op.inputs[1]]
        per_channel = weights.quantization is not None and weights.quantization.per_channel
        return 5 * weights.shape[0] if per_channel else 0
    return 0


def _macs_and_features(op: Operator, model: Model) -> tuple[int, dict]:
    """Textbook MACs and the cost features of one layer."""
    tensors = model.tensors
    x = tensors[op.inputs[0]] if op.inputs and op.inputs[0] >= 0 else None
    y = tensors[op.outputs[0]]
    outputs = y.num_elements
    features = {"calls": 1, "outputs": outputs, "macs": 0, "taps": 0, "rows": 0,
                "table_bytes": _requantization_table_bytes(op, model)}

    if op.opcode in ("CONV_2D", "DEPTHWISE_CONV_2D"):
        batches, in_h, in_w, _ = x.shape
        _, out_h, out_w, out_c = y.shape
        w = tensors[op.inputs[1]].shape
        filter_h, filter_w = w[1], w[2]
        # A convolution filter is [out_c, h, w, in_c / groups]; a depthwise one is
        # [1, h, w, out_c] and reads one input channel per output channel.
        depth = w[3] if op.opcode == "CONV_2D" else 1
        macs = batches * out_h * out_w * out_c * filter_h * filter_w * depth
        taps = batches * _window_taps(op, in_h, in_w, filter_h, filter_w) * out_c
        features.update(macs=taps * depth, taps=taps)
        return macs, features

    if op.opcode == "FULLY_CONNECTED":
        units, depth = tensors[op.inputs[1]].shape
        rows = x.num_elements // depth
        macs = rows * units * depth
        features.update(macs=macs, rows=rows)
        return macs, features

    if op.opcode in ("AVERAGE_POOL_2D", "MAX_POOL_2D"):
        # One accumulate (or compare) per window tap and channel.
        batches, in_h, in_w, channels = x.shape
        filter_h, filter_w = op.options["filter_height"], op.options["filter_width"]
        macs = outputs * filter_h * filter_w
        taps = batches * _window_taps(op, in_h, in_w, filter_h, filter_w) * channels
        features.update(macs=taps, taps=taps)
        return macs, features

    if op.opcode in ("ADD", "MUL"):
        # One arithmetic op per output element (with broadcasting, per output).
        features.update(macs=outputs)
        return outputs, features

    if op.opcode == "SOFTMAX":
        features.update(rows=x.num_elements // x.shape[-1])
        return 0, features

    return 0, features


def _buffer_owners(model: Model, plan: MemoryPlan) -> dict[int, str]:
    """id(buffer) -> who writes it ("output of layer 3 CONV_2D", "model input 0"):
    shorter and more useful in a report than TFLite's long tensor names."""
    owners = {}
    for position, t in enumerate(model.inputs):
        owners.setdefault(id(plan.tensor_buffer[t]), f"model input {position}")
    for op in model.operators:
        for t in op.outputs:
            if t in plan.tensor_buffer:
                owners.setdefault(id(plan.tensor_buffer[t]),
                                  f"output of layer {op.index} {op.opcode}")
    return owners


def layer_facts(model: Model, plan: MemoryPlan) -> list[LayerFacts]:
    """Facts for every operator of ``model``, in execution order."""
    owners = _buffer_owners(model, plan)
    facts = []
    for op in model.operators:
        activations_in = [model.tensors[i] for i in op.inputs
                          if i >= 0 and not model.tensors[i].is_constant]
        # A reshape's constant operand (the new shape) is not compiled into the code.
        constants = [] if op.opcode in ALIASING_OPS else [
            model.tensors[i] for i in op.inputs if i >= 0 and model.tensors[i].is_constant]
        outputs = [model.tensors[i] for i in op.outputs]
        macs, features = _macs_and_features(op, model)
        facts.append(LayerFacts(
            index=op.index,
            op=op.opcode,
            kernel=kernel_variant(op, model),
            input_shapes=[tuple(t.shape) for t in activations_in],
            output_shapes=[tuple(t.shape) for t in outputs],
            macs=int(macs),
            weight_bytes=sum(t.nbytes for t in constants),
            input_bytes=sum(t.nbytes for t in activations_in),
            output_bytes=sum(t.nbytes for t in outputs),
            arena_live_bytes=plan.live_bytes_at(op.index),
            live_buffers=sorted(((owners.get(id(b), b.name), b.size)
                                 for b in plan.live_at(op.index)),
                                key=lambda item: -item[1]),
            features={k: int(v) for k, v in features.items()},
        ))
    return facts
