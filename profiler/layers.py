"""Static facts of every layer: shapes, MACs, bytes, and the features the cost model reads.

Everything here comes from the model IR, its memory plan and the code
generator's choice of kernel path, nothing from a device. Two MAC counts exist
on purpose: ``macs``, the textbook count (every tap of every window, padding
included) that people compare across tools, and ``features["valid_macs"]``, the
taps inside the input: kernels that skip padding do only those (KWS's first
10x4 convolution on a 49x10 input skips a fifth of its taps). The cost model
picks, per kernel variant, the features its code really scales with.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from tinyflow.codegen.generator import GeneratedCode
from tinyflow.codegen.ops import REGISTRY, Layer, Unsupported
from tinyflow.codegen.quantize import same_padding
from tinyflow.codegen.ir import Model, Operator
from tinyflow.codegen.memory import ALIASING_OPS, MemoryPlan


# Every cost feature a layer has (see _macs_and_features for their meaning).
FEATURES = ("calls", "macs", "valid_macs", "taps", "window_rows", "pixels", "border_outputs",
            "patch", "inputs", "outputs", "signed_operands", "rows", "table_bytes")


@dataclass
class LayerFacts:
    index: int
    op: str                         # TFLite opcode, e.g. "CONV_2D"
    kernel: str                     # cost-model kernel variant, e.g. "conv_direct"
    input_shapes: list[tuple]       # activation inputs only (weights are not listed)
    output_shapes: list[tuple]
    macs: int                       # textbook multiply-accumulates (see module docstring)
    weight_bytes: int               # constant inputs: weights, biases
    input_bytes: int                # activations read
    output_bytes: int               # activations written
    arena_live_bytes: int           # bytes of arena buffers live during this layer
    live_buffers: list[tuple[str, int]] = field(default_factory=list)  # (whose, bytes) live
    features: dict[str, int] = field(default_factory=dict)   # cost-model inputs


@dataclass(frozen=True)
class _Axis:
    """One spatial axis of a sliding window, counted over all output positions."""

    outputs: int        # output positions
    valid_taps: int     # window taps that land inside the input
    full: int           # output positions whose window lies wholly inside the input


def _axis(in_size: int, filter_size: int, stride: int, dilation: int, padding: str) -> _Axis:
    out_size, pad = same_padding(in_size, filter_size, stride, dilation, padding)
    valid = full = 0
    for position in range(out_size):
        start = position * stride - pad
        inside = sum(1 for k in range(filter_size) if 0 <= start + k * dilation < in_size)
        valid += inside
        full += inside == filter_size
    return _Axis(out_size, valid, full)


def _window(op: Operator, x_shape, filter_h: int, filter_w: int) -> dict[str, int]:
    """Window features per channel: taps inside the input, window rows inside the
    input (each starts an inner loop), output pixels, and pixels whose window is
    clipped by padding (kernels take a slower border path for those)."""
    options = op.options
    padding = options.get("padding", "VALID")
    batches, in_h, in_w = x_shape[0], x_shape[1], x_shape[2]
    h = _axis(in_h, filter_h, options.get("stride_h", 1), options.get("dilation_h_factor", 1),
              padding)
    w = _axis(in_w, filter_w, options.get("stride_w", 1), options.get("dilation_w_factor", 1),
              padding)
    pixels = batches * h.outputs * w.outputs
    return dict(taps=batches * h.valid_taps * w.valid_taps,
                window_rows=batches * h.valid_taps * w.outputs,
                pixels=pixels, border_pixels=pixels - batches * h.full * w.full)


def _codegen_params(op: Operator, model: Model, plan: MemoryPlan) -> dict:
    """The parameters the code generator chose for this layer (its kernel path)."""
    kernel = REGISTRY.get(op.opcode)
    if kernel is None:
        return {}
    try:
        return kernel.prepare(Layer(op, model, plan, lambda index: f"w{index}"))
    except Unsupported:
        return {}


def kernel_variant(op: Operator, model: Model, params: dict) -> str:
    """The kernel variant whose cost coefficients apply to ``op``.

    Variants follow the code generator's own choice of code path (``params``, from
    its prepare step), so the cost model splits an op exactly where the generated
    C does: a convolution gathers its input column directly (1x1, unpadded), per
    tap (channels a multiple of 4) or per patch; a depthwise convolution with
    multiplier 1 runs four channels at a time, with one its reference loops.
    """
    if op.opcode == "CONV_2D":
        if params.get("groups", 1) > 1:
            return "conv_grouped"
        return f"conv_{params.get('gather', 'patch')}"
    if op.opcode == "DEPTHWISE_CONV_2D":
        if params.get("depth_multiplier", 1) > 1:
            return "depthwise_multiplier"
        _, filter_h, filter_w, _ = model.tensors[op.inputs[1]].shape
        return "depthwise_3x3" if (filter_h, filter_w) == (3, 3) else "depthwise_general"
    if op.opcode in ALIASING_OPS:
        return "reshape"
    if op.opcode == "QUANTIZE" and model.tensors[op.inputs[0]].dtype != "float32":
        return "requantize"          # int8 -> int8 with another scale: its own template
    return {
        "FULLY_CONNECTED": "fully_connected",
        "AVERAGE_POOL_2D": "avg_pool",
        "MAX_POOL_2D": "max_pool",
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
    """Textbook MACs and the cost features of one layer.

    Features (all counts over the whole layer): calls (1), macs (textbook),
    valid_macs (padding taps skipped), taps / window_rows (window taps and rows
    inside the input), pixels, border_outputs (outputs whose window is clipped by
    padding), signed_operands (element-wise outputs times operands that may be
    negative after their offset), patch (input values an
    im2col gathers: pixels x window x input channels), outputs and inputs
    (elements), rows (of a fully connected or softmax layer).
    """
    tensors = model.tensors
    x = tensors[op.inputs[0]] if op.inputs and op.inputs[0] >= 0 else None
    y = tensors[op.outputs[0]]
    outputs = y.num_elements
    features = dict.fromkeys(FEATURES, 0)
    features.update(calls=1, outputs=outputs, inputs=x.num_elements if x is not None else 0,
                    table_bytes=_requantization_table_bytes(op, model))

    if op.opcode in ("CONV_2D", "DEPTHWISE_CONV_2D"):
        _, _, _, out_c = y.shape
        w = tensors[op.inputs[1]].shape
        filter_h, filter_w = w[1], w[2]
        # A convolution filter is [out_c, h, w, in_c / groups]; a depthwise one is
        # [1, h, w, out_c] and reads one input channel per output channel.
        depth = w[3] if op.opcode == "CONV_2D" else 1
        window = _window(op, x.shape, filter_h, filter_w)
        macs = window["pixels"] * out_c * filter_h * filter_w * depth
        features.update(
            macs=macs, valid_macs=window["taps"] * out_c * depth,
            taps=window["taps"] * out_c, window_rows=window["window_rows"] * out_c,
            pixels=window["pixels"], border_outputs=window["border_pixels"] * out_c,
            patch=window["pixels"] * filter_h * filter_w * depth)
        return macs, features

    if op.opcode == "FULLY_CONNECTED":
        units, depth = tensors[op.inputs[1]].shape
        rows = x.num_elements // depth
        macs = rows * units * depth
        features.update(macs=macs, valid_macs=macs, rows=rows)
        return macs, features

    if op.opcode in ("AVERAGE_POOL_2D", "MAX_POOL_2D"):
        # One accumulate (or compare) per window tap and channel.
        channels = x.shape[3]
        filter_h, filter_w = op.options["filter_height"], op.options["filter_width"]
        window = _window(op, x.shape, filter_h, filter_w)
        macs = outputs * filter_h * filter_w
        features.update(macs=macs, valid_macs=window["taps"] * channels,
                        taps=window["taps"] * channels,
                        window_rows=window["window_rows"] * channels,
                        pixels=window["pixels"],
                        border_outputs=window["border_pixels"] * channels)
        return macs, features

    if op.opcode in ("ADD", "MUL"):
        # One arithmetic op per output element (with broadcasting, per output). An
        # operand with zero point -128 is non-negative once offset, which lets the
        # compiler drop the sign handling of its rescaling: the others cost more.
        signed = sum(1 for i in op.inputs[:2]
                     if tensors[i].quantization and tensors[i].zero_point != -128)
        features.update(macs=outputs, valid_macs=outputs, signed_operands=outputs * signed)
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


def _compiled_constants(generated: GeneratedCode) -> set[int]:
    """Indices of the constant tensors the generated code keeps in flash. Operands the
    generator folds into code (a reshape's new shape, PAD's paddings, MEAN's axes)
    are not among them."""
    weights_c = generated.files[f"{generated.prefix}_weights.c"]
    return {int(i) for i in re.findall(rf"\b{generated.prefix}_w(\d+)\[", weights_c)}


def layer_facts(generated: GeneratedCode) -> list[LayerFacts]:
    """Facts for every layer of the generated code, in execution order."""
    model, plan = generated.model, generated.plan
    compiled = _compiled_constants(generated)
    owners = _buffer_owners(model, plan)
    facts = []
    for op in model.operators:
        activations_in = [model.tensors[i] for i in op.inputs
                          if i >= 0 and not model.tensors[i].is_constant]
        constants = [model.tensors[i] for i in op.inputs if i in compiled]
        outputs = [model.tensors[i] for i in op.outputs]
        macs, features = _macs_and_features(op, model)
        params = _codegen_params(op, model, plan)
        facts.append(LayerFacts(
            index=op.index,
            op=op.opcode,
            kernel=kernel_variant(op, model, params),
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
