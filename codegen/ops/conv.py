"""CONV_2D and DEPTHWISE_CONV_2D, int8 with per-channel (or per-tensor) weights."""

import numpy as np

from tinyflow.codegen.ops import sparse
from tinyflow.codegen.ops.base import Layer, Prepared, register
from tinyflow.codegen.ops.linear_int16 import conv_2d_int16, depthwise_conv_2d_int16, is_int16
from tinyflow.codegen.ops.packing import (CHANNEL_BLOCKS, ROW_PAIRS, depth_blocks,
                                          matrix_requantization, pack_channel_blocks,
                                          pack_row_pairs)
from tinyflow.codegen.ops.window import window_counts
from tinyflow.codegen.quantize import activation_range, quantize_multipliers, same_padding

# Features each kernel path's cost is linear in: the matrix kernel scales with its
# MACs, the im2col gathering (patch) and what it does once per pixel and per output;
# the plain loops (grouped, depthwise) with the taps inside the input and their
# border path.
MATRIX_COST_TERMS = ("calls", "macs", "patch", "pixels", "outputs")
GROUPED_COST_TERMS = ("calls", "valid_macs", "taps", "outputs")
DEPTHWISE_COST_TERMS = ("calls", "valid_macs", "border_outputs", "outputs")
MULTIPLIER_COST_TERMS = ("calls", "valid_macs", "outputs")
# Depthwise filters up to this many taps may have their interior taps written out.
MAX_UNROLLED_TAPS = 25


def _window(layer: Layer, x, filter_h, filter_w):
    """Output size and padding of a strided, dilated window over x (NHWC)."""
    padding = layer.option("padding")
    layer.require(padding in ("SAME", "VALID"), f"padding {padding} is not supported")
    stride_h, stride_w = layer.option("stride_h", 1), layer.option("stride_w", 1)
    dilation_h = layer.option("dilation_h_factor", 1)
    dilation_w = layer.option("dilation_w_factor", 1)
    out_h, pad_h = same_padding(x.dim(1), filter_h, stride_h, dilation_h, padding)
    out_w, pad_w = same_padding(x.dim(2), filter_w, stride_w, dilation_w, padding)
    return dict(stride_h=stride_h, stride_w=stride_w, dilation_h=dilation_h,
                dilation_w=dilation_w, pad_h=pad_h, pad_w=pad_w, out_h=out_h, out_w=out_w)


def _requantization(layer: Layer, x, w, y, channels: int) -> dict:
    """Per-output-channel multipliers and shifts, and the activation clamp."""
    filter_scales = w.tensor.quantization.scale
    layer.require(len(filter_scales) in (1, channels),
                  f"filter has {len(filter_scales)} scales for {channels} output channels")
    if len(filter_scales) == 1:
        filter_scales = filter_scales * channels
    real = [x.scale * s / y.scale for s in filter_scales]
    multipliers, shifts = quantize_multipliers(real)
    act_min, act_max = activation_range(layer.activation(), y.scale, y.zero_point)
    return dict(multipliers=multipliers, shifts=shifts, act_min=act_min, act_max=act_max,
                input_offset=-x.zero_point, output_offset=y.zero_point)


def _requantization_tables(layer: Layer, requantization: dict) -> list:
    return [layer.table("multiplier", "int32_t", requantization["multipliers"]),
            layer.table("shift", "int8_t", requantization["shifts"])]


def _window_features(layer: Layer, x, window: dict, filter_h: int, filter_w: int,
                     out_c: int, depth: int) -> tuple[int, dict]:
    """Textbook MACs and the window features of a convolution reading ``depth``
    input channels per output channel."""
    counts = window_counts(x.shape, filter_h, filter_w, stride_h=window["stride_h"],
                           stride_w=window["stride_w"], dilation_h=window["dilation_h"],
                           dilation_w=window["dilation_w"], padding=layer.option("padding"))
    macs = counts["pixels"] * out_c * filter_h * filter_w * depth
    return macs, dict(valid_macs=counts["taps"] * out_c * depth, taps=counts["taps"] * out_c,
                      window_rows=counts["window_rows"] * out_c, pixels=counts["pixels"],
                      border_outputs=counts["border_pixels"] * out_c,
                      patch=counts["pixels"] * filter_h * filter_w * depth)


def _check_common(layer: Layer):
    x, w, bias = layer.input(0), layer.input(1), layer.input(2)
    y = layer.output()
    layer.require_dtype(x, "input", "int8")
    layer.require_not_constant(x, "input")
    layer.require_dtype(w, "filter", "int8")
    layer.require_constant(w, "filter")
    layer.require_dtype(y, "output", "int8")
    if bias is not None:
        layer.require_dtype(bias, "bias", "int32")
        layer.require_constant(bias, "bias")
    layer.require(len(x.shape) == 4 and len(w.shape) == 4, "input and filter must be 4-D")
    return x, w, bias, y


def _check_bias(layer: Layer, bias, channels: int) -> None:
    """One bias per output channel, as a vector: the kernel reads bias[channel]."""
    if bias is not None:
        layer.require(bias.shape == (channels,),
                      f"bias has shape {list(bias.shape)} for {channels} output channels")


@register("CONV_2D")
def conv_2d(layer: Layer) -> Prepared:
    if is_int16(layer):                 # int16x8: its own module
        return conv_2d_int16(layer)
    x, w, bias, y = _check_common(layer)
    out_c, filter_h, filter_w, filter_c = w.shape
    in_c = x.dim(3)
    layer.require(in_c % filter_c == 0,
                  f"input has {in_c} channels, not a multiple of the filter's {filter_c}")
    groups = in_c // filter_c
    _check_bias(layer, bias, out_c)
    layer.require(out_c % groups == 0, f"{out_c} filters do not split into {groups} groups")
    window = _window(layer, x, filter_h, filter_w)
    layer.require((x.dim(0), window["out_h"], window["out_w"], out_c) == tuple(y.shape),
                  f"output shape {list(y.shape)} does not match the convolution")
    requantization = _requantization(layer, x, w, y, out_c)
    macs, features = _window_features(layer, x, window, filter_h, filter_w, out_c, filter_c)
    patch_size = filter_h * filter_w * filter_c
    blocks = depth_blocks(patch_size)
    table_offset = None        # where a sparse layer's tables start in its scratch
    if groups > 1:
        path, variant, cost_terms, scratch, gather = ("grouped_body", "conv_grouped",
                                                      GROUPED_COST_TERMS, 0, None)
        packed = None
    else:
        gather = _gather_mode(layer, window, filter_h, filter_w, filter_c)
        path, variant, cost_terms = "matrix_body", f"conv_{gather}", MATRIX_COST_TERMS
        # A column pair (two pixels' int16 input columns, offset added, 4 * blocks values
        # each), plus an int8 patch to gather taps whose channels do not come in fours.
        scratch = 2 * 2 * 4 * blocks + (patch_size if gather == "patch" else 0)
        rows = w.data.reshape(out_c, patch_size)
        if sparse.is_2_4_sparse(rows) and sparse.pays_off_for_columns(out_c, patch_size):
            # 2:4 sparse filters: each column pair becomes two tables after the columns
            variant = f"conv_{gather}_sparse24"
            table_offset = -(-scratch // 4) * 4        # word-aligned
            scratch = table_offset + sparse.tables_bytes(patch_size)
            packed = w.packed(sparse.SPARSE_2_4, sparse.pack_sparse_2_4(rows))
        else:
            packed = w.packed(ROW_PAIRS, pack_row_pairs(rows))
    # A 1x1 convolution that does not widen can write each pixel pair's outputs over
    # the input pixels it has just copied into its columns. A wider window with stride 1
    # and the input's shape holds back output rows (as depthwise does) until no later
    # window reads the input row under them.
    in_place = gather == "direct" and out_c <= in_c
    held_rows = 0
    if (gather in ("tap", "patch") and window["stride_h"] == window["stride_w"] == 1
            and tuple(y.shape) == tuple(x.shape)):
        in_place, held_rows = True, window["pad_h"] + 1
    if groups > 1:
        tables, matrix = _requantization_tables(layer, requantization), {}
    else:
        tables, matrix = matrix_requantization(layer, requantization["multipliers"],
                                               requantization["shifts"])
    return layer.prepared(
        "conv_2d.c.j2", variant=variant, macs=macs, features=features,
        cost_terms=cost_terms, tables=tables, scratch_bytes=scratch, path=path,
        in_place=in_place, in_place_scratch_bytes=held_rows * window["out_w"] * out_c,
        held_rows=held_rows, column_scratch_bytes=scratch,
        x=x, w=w, bias=bias, y=y, packed=packed, blocks=blocks, **matrix,
        sparse_tables=table_offset, steps=sparse.steps(patch_size),
        batches=x.dim(0), in_h=x.dim(1), in_w=x.dim(2), in_c=in_c,
        filter_h=filter_h, filter_w=filter_w, filter_c=filter_c, out_c=out_c,
        groups=groups, filters_per_group=out_c // groups,
        patch_size=patch_size, gather=gather, **window, **requantization)


def _gather_mode(layer: Layer, window: dict, filter_h: int, filter_w: int, filter_c: int) -> str:
    """How the template builds an output pixel's int16 input column (see runtime/tf_kernels.h).

    direct: a 1x1 unpadded window is one input pixel, converted in place;
    tap:    every tap holds a multiple of 4 channels, so each converts on its own;
    patch:  otherwise the taps are first gathered as int8 (padding = zero point), since
            the column's blocks of four would straddle taps.
    """
    if filter_h == filter_w == 1 and window["pad_h"] == window["pad_w"] == 0:
        return "direct"
    if filter_c % 4:
        return "patch"
    return layer.choose("gather", ("tap", "patch"), "tap")    # both exact: measured by tune


@register("DEPTHWISE_CONV_2D")
def depthwise_conv_2d(layer: Layer) -> Prepared:
    if is_int16(layer):                 # int16x8: its own module
        return depthwise_conv_2d_int16(layer)
    x, w, bias, y = _check_common(layer)
    _, filter_h, filter_w, out_c = w.shape
    in_c = x.dim(3)
    layer.require(out_c % in_c == 0,
                  f"filter has {out_c} channels, not a multiple of the input's {in_c}")
    multiplier = out_c // in_c
    _check_bias(layer, bias, out_c)
    window = _window(layer, x, filter_h, filter_w)
    layer.require((x.dim(0), window["out_h"], window["out_w"], out_c) == tuple(y.shape),
                  f"output shape {list(y.shape)} does not match the convolution")
    requantization = _requantization(layer, x, w, y, out_c)
    # A depthwise filter reads one input channel per output channel.
    macs, features = _window_features(layer, x, window, filter_h, filter_w, out_c, 1)
    packed, matrix, unrolled = None, {}, False
    if multiplier > 1:
        path, variant, cost_terms = "multiplier_body", "depthwise_multiplier", MULTIPLIER_COST_TERMS
        interior_bias = None
        tables = _requantization_tables(layer, requantization)
    else:
        path = "simd_body"
        variant = "depthwise_3x3" if (filter_h, filter_w) == (3, 3) else "depthwise_general"
        cost_terms = DEPTHWISE_COST_TERMS
        # Weights widened to int16 at build time, in the order SXTB16 gives the input's
        # channels: a tap of four channels is one LDRD of weights.
        packed = w.packed(CHANNEL_BLOCKS, pack_channel_blocks(w.data.reshape(-1, out_c)))
        # Interior windows with every tap written out (constant offsets) or looped.
        unrolled = (filter_h * filter_w <= MAX_UNROLLED_TAPS and layer.choose(
            "taps", ("unrolled", "looped"), "unrolled") == "unrolled")
        tables, matrix = matrix_requantization(layer, requantization["multipliers"],
                                               requantization["shifts"])
        # Channels in fours: interior windows start from the folded bias.
        interior_bias = (_interior_bias(w, bias, requantization["input_offset"])
                         if in_c >= 4 else None)
        if interior_bias is not None:
            tables.insert(0, layer.table("interior_bias", "int32_t", interior_bias))
    # Stride 1 with the output the input's shape: the output can overwrite the input,
    # each row held back (in scratch) until no later window reads the input row under it.
    in_place = (path == "simd_body" and window["stride_h"] == window["stride_w"] == 1
                and tuple(y.shape) == tuple(x.shape))
    held_rows = window["pad_h"] + 1
    return layer.prepared(
        "depthwise_conv_2d.c.j2", variant=variant, macs=macs, features=features,
        cost_terms=cost_terms, tables=tables, path=path, in_place=in_place,
        in_place_scratch_bytes=held_rows * window["out_w"] * out_c if in_place else 0,
        held_rows=held_rows, packed=packed, **matrix,
        x=x, w=w, bias=bias, y=y,
        batches=x.dim(0), in_h=x.dim(1), in_w=x.dim(2), in_c=in_c,
        filter_h=filter_h, filter_w=filter_w, out_c=out_c, depth_multiplier=multiplier,
        in_c4=4 * depth_blocks(in_c), interior_bias=interior_bias,
        unrolled=multiplier == 1 and unrolled, **window, **requantization)


def _interior_bias(w, bias, input_offset: int):
    """bias + input_offset * (sum of the channel's filter taps), per channel, or None.

    For a window wholly inside the image, sum((x + offset) * w) + bias equals
    sum(x * w) + this: the offset leaves the tap loop (exact in int32 arithmetic). Border
    windows skip padded taps, so they keep the offset per tap. None if a value does not
    fit in int32 (then every window adds the offset per tap).
    """
    weights = w.data.astype(np.int64).reshape(-1, w.shape[-1])
    folded = input_offset * weights.sum(axis=0)
    if bias is not None:
        folded = folded + bias.data.astype(np.int64)
    if np.abs(folded).max(initial=0) >= 2**31:
        return None
    return [int(v) for v in folded]
