"""FULLY_CONNECTED, CONV_2D and DEPTHWISE_CONV_2D of int16x8 models: int16 activations
(symmetric, zero point 0), int8 weights, int64 (or int32) biases.

TFLM's reference kernels accumulate in the bias's type (int64 unless the bias, or a
missing bias's `quantized_bias_type`, is int32; depthwise always int64) and requantize
with the MultiplyByQuantizedMultiplier of that type: the 64-bit one rounds the
multiplier to Q15 first, so the two give different results and the template picks one.
The int8 prepare steps dispatch here when their input is int16; the kernels are plain
loops (correctness first), in conv_2d_int16.c.j2, depthwise_conv_2d_int16.c.j2 and
fully_connected_int16.c.j2.
"""

from __future__ import annotations

import numpy as np

from tinyflow.codegen.ops.base import Layer, Prepared
from tinyflow.codegen.ops.window import window_counts
from tinyflow.codegen.quantize import activation_range, quantize_multipliers, same_padding

INT16_MIN, INT16_MAX = -32768, 32767
# TFLite's TensorType code of int32 (`quantized_bias_type` of a layer without a bias).
TENSOR_TYPE_INT32 = 2
# TFLM's 64-bit MultiplyByQuantizedMultiplier takes shifts in [-31, 8) and accumulators
# in [-2^47, 2^47).
MAX_S64_SHIFT = 7
MAX_S64_ACCUMULATOR = 2**47


def is_int16(layer: Layer) -> bool:
    """Whether the layer's first input holds int16 activations (the dispatch test)."""
    x = layer.input(0)
    return x is not None and x.tensor.dtype == "int16"


def require_symmetric_int16(layer: Layer, ref, what: str) -> None:
    """An int16 activation tensor, as the int16x8 spec has it: zero point 0."""
    layer.require_dtype(ref, what, "int16")
    layer.require(ref.zero_point == 0,
                  f"{what} '{ref.tensor.name}' is int16 with zero point {ref.zero_point}; "
                  f"int16 activations must be symmetric (zero point 0)")


def _check_tensors(layer: Layer, weights_what: str, *, int32_bias: bool = True):
    """Input, weights, bias and output of an int16x8 layer; returns them and the
    accumulator's C type (int64_t, or int32_t as TFLM picks it for an int32 bias)."""
    x, w, bias, y = layer.input(0), layer.input(1), layer.input(2), layer.output()
    require_symmetric_int16(layer, x, "input")
    layer.require_not_constant(x, "input")
    require_symmetric_int16(layer, y, "output")
    layer.require_dtype(w, weights_what, "int8")
    layer.require_constant(w, weights_what)
    layer.require(not any(w.tensor.quantization.zero_point),
                  f"{weights_what} '{w.tensor.name}' has a zero point; int16x8 weights "
                  f"are symmetric")
    bias_types = ("int64", "int32") if int32_bias else ("int64",)
    if bias is not None:
        layer.require_dtype(bias, "bias", *bias_types)
        layer.require_constant(bias, "bias")
        accumulator = "int32_t" if bias.tensor.dtype == "int32" else "int64_t"
    else:
        wants_int32 = layer.option("quantized_bias_type", 0) == TENSOR_TYPE_INT32
        accumulator = "int32_t" if int32_bias and wants_int32 else "int64_t"
    return x, w, bias, y, accumulator


def _requantization(layer: Layer, x, w, y, channels: int, accumulator: str) -> dict:
    """Per-channel multipliers and shifts (as tables), and the activation clamp."""
    scales = w.tensor.quantization.scale
    layer.require(len(scales) in (1, channels),
                  f"weights have {len(scales)} scales for {channels} output channels")
    if len(scales) == 1:
        scales = scales * channels
    multipliers, shifts = quantize_multipliers(x.scale * s / y.scale for s in scales)
    if accumulator == "int64_t":
        layer.require(max(shifts) <= MAX_S64_SHIFT,
                      f"a requantization multiplier needs a left shift of {max(shifts)} "
                      f"bits; TFLM's 64-bit requantization takes at most {MAX_S64_SHIFT}")
    act_min, act_max = activation_range(layer.activation(), y.scale, 0, INT16_MIN, INT16_MAX)
    tables = [layer.table("multiplier", "int32_t", multipliers),
              layer.table("shift", "int8_t", shifts)]
    return dict(tables=tables, act_min=act_min, act_max=act_max, accumulator=accumulator)


def _require_accumulator_range(layer: Layer, bias, taps: int) -> None:
    """The largest accumulator (every tap at -128 * -32768, plus the bias) stays in the
    range TFLM's 64-bit requantization takes, so the C never overflows."""
    largest_bias = int(np.abs(bias.data.astype(np.int64)).max(initial=0)) if bias is not None else 0
    layer.require(taps * 128 * 32768 + largest_bias < MAX_S64_ACCUMULATOR,
                  f"{taps} taps and a bias of up to {largest_bias} can exceed the 2^47 "
                  f"accumulator range of TFLM's int16 kernels")


def _window(layer: Layer, x, filter_h: int, filter_w: int) -> dict:
    """Strides, dilations, output size and leading padding of a window over x (NHWC)."""
    padding = layer.option("padding")
    layer.require(padding in ("SAME", "VALID"), f"padding {padding} is not supported")
    window = dict(stride_h=layer.option("stride_h", 1), stride_w=layer.option("stride_w", 1),
                  dilation_h=layer.option("dilation_h_factor", 1),
                  dilation_w=layer.option("dilation_w_factor", 1))
    window["out_h"], window["pad_h"] = same_padding(x.dim(1), filter_h, window["stride_h"],
                                                    window["dilation_h"], padding)
    window["out_w"], window["pad_w"] = same_padding(x.dim(2), filter_w, window["stride_w"],
                                                    window["dilation_w"], padding)
    return window


def _window_taps(layer: Layer, x, window: dict, filter_h: int, filter_w: int) -> dict:
    return window_counts(x.shape, filter_h, filter_w, stride_h=window["stride_h"],
                         stride_w=window["stride_w"], dilation_h=window["dilation_h"],
                         dilation_w=window["dilation_w"], padding=layer.option("padding"))


def fully_connected_int16(layer: Layer) -> Prepared:
    x, w, bias, y, accumulator = _check_tensors(layer, "weights")
    layer.require(layer.option("weights_format", 0) == 0, "shuffled weights are not supported")
    layer.require(len(w.shape) == 2, f"weights must be 2-D, got {list(w.shape)}")
    units, depth = w.shape
    if bias is not None:
        layer.require(bias.shape == (units,), f"bias has shape {list(bias.shape)} for {units} units")
    layer.require(x.elements % depth == 0,
                  f"input of {x.elements} elements does not split into rows of {depth}")
    batches = x.elements // depth
    layer.require(len(y.shape) >= 1 and y.shape[-1] == units and y.elements == batches * units,
                  f"output shape {list(y.shape)} does not hold {batches} rows of {units} units")
    requantization = _requantization(layer, x, w, y, units, accumulator)
    _require_accumulator_range(layer, bias, depth)
    macs = batches * units * depth
    return layer.prepared(
        "fully_connected_int16.c.j2", variant="fully_connected_int16", macs=macs,
        features=dict(valid_macs=macs, rows=batches), cost_terms=("calls", "macs", "outputs"),
        x=x, w=w, bias=bias, y=y, batches=batches, units=units, depth=depth, **requantization)


def conv_2d_int16(layer: Layer) -> Prepared:
    x, w, bias, y, accumulator = _check_tensors(layer, "filter")
    layer.require(len(x.shape) == 4 and len(w.shape) == 4, "input and filter must be 4-D")
    out_c, filter_h, filter_w, filter_c = w.shape
    in_c = x.dim(3)
    layer.require(in_c % filter_c == 0,
                  f"input has {in_c} channels, not a multiple of the filter's {filter_c}")
    groups = in_c // filter_c
    layer.require(out_c % groups == 0, f"{out_c} filters do not split into {groups} groups")
    if bias is not None:
        layer.require(bias.shape == (out_c,),
                      f"bias has shape {list(bias.shape)} for {out_c} output channels")
    window = _window(layer, x, filter_h, filter_w)
    layer.require((x.dim(0), window["out_h"], window["out_w"], out_c) == tuple(y.shape),
                  f"output shape {list(y.shape)} does not match the convolution")
    requantization = _requantization(layer, x, w, y, out_c, accumulator)
    _require_accumulator_range(layer, bias, filter_h * filter_w * filter_c)
    counts = _window_taps(layer, x, window, filter_h, filter_w)
    macs = counts["pixels"] * out_c * filter_h * filter_w * filter_c
    return layer.prepared(
        "conv_2d_int16.c.j2", variant="conv_int16", macs=macs,
        features=dict(valid_macs=counts["taps"] * out_c * filter_c,
                      taps=counts["taps"] * out_c, pixels=counts["pixels"]),
        cost_terms=("calls", "valid_macs", "taps", "outputs"),
        x=x, w=w, bias=bias, y=y, batches=x.dim(0), in_h=x.dim(1), in_w=x.dim(2), in_c=in_c,
        out_c=out_c, filter_h=filter_h, filter_w=filter_w, filter_c=filter_c,
        filters_per_group=out_c // groups, **window, **requantization)


def depthwise_conv_2d_int16(layer: Layer) -> Prepared:
    # TFLM's int16 depthwise reads the bias as int64 and accumulates in int64 only.
    x, w, bias, y, accumulator = _check_tensors(layer, "filter", int32_bias=False)
    layer.require(len(x.shape) == 4 and len(w.shape) == 4, "input and filter must be 4-D")
    _, filter_h, filter_w, out_c = w.shape
    in_c = x.dim(3)
    layer.require(w.dim(0) == 1, f"depthwise filter shape {list(w.shape)} must start with 1")
    layer.require(out_c % in_c == 0,
                  f"{out_c} filter channels are not a multiple of {in_c} input channels")
    multiplier = out_c // in_c
    layer.require(layer.option("depth_multiplier", multiplier) in (multiplier, 0),
                  f"depth_multiplier {layer.option('depth_multiplier')} does not match "
                  f"{out_c} filters over {in_c} channels")
    if bias is not None:
        layer.require(bias.shape == (out_c,),
                      f"bias has shape {list(bias.shape)} for {out_c} output channels")
    window = _window(layer, x, filter_h, filter_w)
    layer.require((x.dim(0), window["out_h"], window["out_w"], out_c) == tuple(y.shape),
                  f"output shape {list(y.shape)} does not match the depthwise convolution")
    requantization = _requantization(layer, x, w, y, out_c, accumulator)
    _require_accumulator_range(layer, bias, filter_h * filter_w)
    counts = _window_taps(layer, x, window, filter_h, filter_w)
    macs = counts["pixels"] * out_c * filter_h * filter_w
    return layer.prepared(
        "depthwise_conv_2d_int16.c.j2", variant="depthwise_int16", macs=macs,
        features=dict(valid_macs=counts["taps"] * out_c, pixels=counts["pixels"]),
        cost_terms=("calls", "valid_macs", "outputs"),
        x=x, w=w, bias=bias, y=y, batches=x.dim(0), in_h=x.dim(1), in_w=x.dim(2), in_c=in_c,
        out_c=out_c, filter_h=filter_h, filter_w=filter_w, depth_multiplier=multiplier,
        **window, **requantization)
