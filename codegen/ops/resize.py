"""RESIZE_NEAREST_NEIGHBOR and RESIZE_BILINEAR on int8, as TFLM's reference kernels
compute them (resize_nearest_neighbor.h, and resize_bilinear.h's integer path).

``keras.layers.Resizing`` and ``UpSampling2D(interpolation="bilinear")`` convert to
these (Keras 3's nearest ``UpSampling2D`` converts to TILE instead, which TFLM
cannot run). Which input rows and columns each output pixel reads, and the bilinear
weights, depend only on the shapes: they are computed here, with TFLM's arithmetic,
into per-axis tables, and the C only looks them up.

- Nearest: TFLM maps each output coordinate in float32 (scale = in / out, or
  (in - 1) / (out - 1) with align_corners; +0.5 with half_pixel_centers; floor, or
  round with align_corners; clamped), then copies the pixel's channels.
- Bilinear (int8): fixed point with 10 fractional bits. The scale is
  round(1024 * in / out); the source coordinate of output x is x * scale (half
  pixel: + scale / 2 - 512), its integer part (C division) and the one after, the
  weights 1024 - frac and frac. The four products sum to a value with 20 fractional
  bits, rounded half away from zero. Like TFLM, no requantization: the output is
  read on the input's scale.
"""

from __future__ import annotations

import numpy as np

from tinyflow.codegen.ops.base import Layer, Prepared, register
from tinyflow.codegen.ops.copying import index_ctype, require_int8

ONE = 1 << 10          # TFLM's bilinear fixed point: 10 fractional bits


def _prepare(layer: Layer):
    """Checks both ops share (TFLM's Prepare): 4-D int8, a constant int32 size of two
    values that the output shape agrees with, not both corner options."""
    x, size, y = layer.input(0), layer.input(1), layer.output()
    require_int8(layer, [x], "input")
    require_int8(layer, [y], "output")
    layer.require_not_constant(x, "input")
    layer.require(len(x.shape) == 4, f"input has rank {len(x.shape)}; TFLM takes 4 (NHWC)")
    layer.require_constant(size, "size")
    layer.require(size.tensor.dtype == "int32" and size.elements == 2,
                  "size must be two int32 values")
    height, width = (int(v) for v in size.data.ravel())
    batch, _, _, channels = x.shape
    # TFLM writes the size it reads, into an output it trusts to be that shape.
    layer.require(list(y.shape) == [batch, height, width, channels],
                  f"output shape {list(y.shape)} is not the size {[height, width]} of "
                  f"{channels} channels")
    align = bool(layer.option("align_corners", False))
    half = bool(layer.option("half_pixel_centers", False))
    layer.require(not (align and half),
                  "align_corners and half_pixel_centers are both set (TFLM refuses it)")
    return x, y, align, half


def _nearest(out_size: int, in_size: int, align: bool, half: bool) -> list[int]:
    """TFLM's GetNearestNeighbor for every output coordinate, in float32 as it does."""
    f32 = np.float32
    scale = (f32(in_size - 1) / f32(out_size - 1) if align and out_size > 1
             else f32(in_size) / f32(out_size))
    offset = f32(0.5 if half else 0.0)
    result = []
    for value in range(out_size):
        scaled = (f32(value) + offset) * scale
        # TfLiteRound rounds half away from zero; np.round would round half to even.
        mapped = (int(np.sign(scaled) * np.floor(np.abs(scaled) + f32(0.5))) if align
                  else int(np.floor(scaled)))
        mapped = min(mapped, in_size - 1)
        result.append(max(0, mapped) if half else mapped)
    return result


@register("RESIZE_NEAREST_NEIGHBOR")
def resize_nearest_neighbor(layer: Layer) -> Prepared:
    x, y, align, half = _prepare(layer)
    batch, in_height, in_width, channels = x.shape
    _, height, width, _ = y.shape
    rows = _nearest(height, in_height, align, half)
    cols = _nearest(width, in_width, align, half)
    layer.require(min(rows + cols) >= 0, "an output pixel maps outside the input")
    row_offsets = [r * in_width * channels for r in rows]
    col_offsets = [c * channels for c in cols]
    tables = [layer.table("rows", index_ctype(row_offsets), row_offsets),
              layer.table("cols", index_ctype(col_offsets), col_offsets)]
    return layer.prepared("resize_nearest.c.j2", variant="resize_nearest",
                          features=dict(pixels=batch * height * width),
                          cost_terms=("calls", "outputs", "pixels"), tables=tables,
                          x=x, y=y, batch=batch, height=height, width=width, channels=channels,
                          input_batch_stride=in_height * in_width * channels)


def _scale_10(in_size: int, out_size: int, align: bool) -> int:
    if align and out_size > 1:
        return (ONE * (in_size - 1) + (out_size - 1) // 2) // (out_size - 1)
    return (ONE * in_size + out_size // 2) // out_size


def _c_div(a: int, b: int) -> int:
    """C's integer division (truncates toward zero)."""
    quotient = abs(a) // abs(b)
    return quotient if (a >= 0) == (b > 0) else -quotient


def _bilinear_axis(out_size: int, in_size: int, align: bool, half: bool):
    """Per output coordinate: the lower and upper input index and the upper one's
    weight in 1/1024 (ComputeInterpolationValuesInteger)."""
    scale = _scale_10(in_size, out_size, align)
    lower, upper, weight = [], [], []
    for value in range(out_size):
        scaled = value * scale + (_c_div(scale, 2) - (1 << 9) if half else 0)
        low = max(_c_div(scaled, ONE), 0)
        lower.append(low)
        upper.append(min(_c_div(scaled + ONE - 1, ONE), in_size - 1))
        weight.append(scaled - ONE * low)
    return lower, upper, weight


@register("RESIZE_BILINEAR")
def resize_bilinear(layer: Layer) -> Prepared:
    x, y, align, half = _prepare(layer)
    batch, in_height, in_width, channels = x.shape
    _, height, width, _ = y.shape
    y0, y1, wy = _bilinear_axis(height, in_height, align, half)
    x0, x1, wx = _bilinear_axis(width, in_width, align, half)
    layer.require(0 <= min(y0 + x0) and max(y0) < in_height and max(x0) < in_width,
                  "an output pixel interpolates outside the input (TFLM would read past it)")
    # The sum is computed as a * (1024-wy)(1024-wx) + b * wy(1024-wx) + ... in int32: its
    # magnitude is at most 128 * max(|1024-w|+|w|) over each axis, squared.
    spread = max(abs(ONE - w) + abs(w) for w in wy) * max(abs(ONE - w) + abs(w) for w in wx)
    layer.require(128 * spread < 2**31, "bilinear weights would overflow 32 bits")
    row = in_width * channels
    tables = [
        layer.table("row0", index_ctype([r * row for r in y0]), [r * row for r in y0]),
        layer.table("row1", index_ctype([r * row for r in y1]), [r * row for r in y1]),
        layer.table("row_weight", "int16_t", wy),
        layer.table("col0", index_ctype([c * channels for c in x0]), [c * channels for c in x0]),
        layer.table("col1", index_ctype([c * channels for c in x1]), [c * channels for c in x1]),
        layer.table("col_weight", "int16_t", wx),
    ]
    return layer.prepared("resize_bilinear.c.j2", variant="resize_bilinear",
                          features=dict(pixels=batch * height * width),
                          cost_terms=("calls", "outputs", "pixels"), tables=tables,
                          x=x, y=y, batch=batch, height=height, width=width, channels=channels,
                          input_batch_stride=in_height * row, one=ONE)
