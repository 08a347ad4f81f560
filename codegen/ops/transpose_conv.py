"""TRANSPOSE_CONV on int8 with per-channel (or per-tensor) weights
(TFLM transpose_conv.cc -> reference_integer_ops::TransposeConv).

TFLM scatters: every input pixel adds (input + input_offset) * filter into an int32
scratch the size of the output, then each output gets its bias, the per-channel
requantization and the activation clamp. The generated C gathers instead: each
output sums the input pixels whose window covers it, so it needs no scratch. The
int32 sum is the same (integer addition in any order), and the filter's zero point
is ignored, as TFLM ignores it.

Inputs, in TFLite's order: the output shape (int32, constant), the filter
(OHWI), the input activations, and an optional int32 bias. The padding comes from
the output's size (TFLM's ComputePaddingHeightWidth on the output dims, dilation 1).
"""

import numpy as np

from tinyflow.codegen.ops.base import Layer, Prepared, register
from tinyflow.codegen.ops.conv import _check_bias, _requantization, _requantization_tables
from tinyflow.codegen.quantize import same_padding

# The sum of a window's products stays in int32 (at most 255 * 128 per tap).
MAX_TAPS = 65535
INT16_MAX = 2**15 - 1         # TFLM's PaddingValues are int16_t
COST_TERMS = ("calls", "valid_macs", "outputs")


def _valid_taps(out_size: int, in_size: int, filter_size: int, stride: int, pad: int) -> int:
    """Filter taps, summed over the outputs along one axis, that land on an input."""
    taps = 0
    for out in range(out_size):
        for k in range(filter_size):
            t = out + pad - k
            taps += t >= 0 and t % stride == 0 and t // stride < in_size
    return taps


@register("TRANSPOSE_CONV")
def transpose_conv(layer: Layer) -> Prepared:
    output_shape, w, x, bias = layer.input(0), layer.input(1), layer.input(2), layer.input(3)
    y = layer.output()
    layer.require_dtype(x, "input", "int8")
    layer.require_not_constant(x, "input")
    layer.require_dtype(w, "filter", "int8")
    layer.require_constant(w, "filter")
    layer.require_dtype(y, "output", "int8")
    layer.require_per_tensor(x, "input")
    layer.require_per_tensor(y, "output")
    if bias is not None:
        layer.require_dtype(bias, "bias", "int32")
        layer.require_constant(bias, "bias")
    layer.require(len(x.shape) == 4 and len(w.shape) == 4 and len(y.shape) == 4,
                  "input, filter and output must be 4-D")
    layer.require_constant(output_shape, "output shape")
    layer.require(output_shape.data.ravel().astype(np.int64).tolist() == list(y.shape),
                  f"output shape tensor {output_shape.data.ravel().tolist()} differs from "
                  f"the output's {list(y.shape)}")
    quantization = w.tensor.quantization
    layer.require(not quantization.per_channel or quantization.axis == 0,
                  f"filter is quantized along axis {quantization.axis}; TFLM expects axis 0")

    batches, in_h, in_w, in_c = x.shape
    out_c, filter_h, filter_w, filter_c = w.shape
    _, out_h, out_w, _ = y.shape
    layer.require(filter_c == in_c, f"filter has {filter_c} input channels, the input {in_c}")
    layer.require(y.dim(0) == batches and y.dim(3) == out_c,
                  f"output shape {list(y.shape)} does not match {batches} batches of "
                  f"{out_c} filters")
    layer.require(filter_h * filter_w * in_c <= MAX_TAPS,
                  f"{filter_h * filter_w * in_c} taps per output; at most {MAX_TAPS} fit int32")
    _check_bias(layer, bias, out_c)
    padding = layer.option("padding")
    layer.require(padding in ("SAME", "VALID"), f"padding {padding} is not supported")
    stride_h, stride_w = layer.option("stride_h", 1), layer.option("stride_w", 1)
    _, pad_h = same_padding(out_h, filter_h, stride_h, 1, padding)
    _, pad_w = same_padding(out_w, filter_w, stride_w, 1, padding)
    layer.require(max(pad_h, pad_w) <= INT16_MAX,
                  f"padding {pad_h}x{pad_w}; TFLM holds it as int16 (at most {INT16_MAX})")

    requantization = _requantization(layer, x, w, y, out_c)
    valid_macs = (batches * in_c * out_c * _valid_taps(out_h, in_h, filter_h, stride_h, pad_h)
                  * _valid_taps(out_w, in_w, filter_w, stride_w, pad_w))
    return layer.prepared(
        "transpose_conv.c.j2", macs=batches * in_h * in_w * in_c * filter_h * filter_w * out_c,
        features=dict(valid_macs=valid_macs), cost_terms=COST_TERMS,
        tables=_requantization_tables(layer, requantization),
        x=x, w=w, bias=bias, y=y, batches=batches, in_h=in_h, in_w=in_w, in_c=in_c,
        out_h=out_h, out_w=out_w, out_c=out_c, filter_h=filter_h, filter_w=filter_w,
        stride_h=stride_h, stride_w=stride_w, pad_h=pad_h, pad_w=pad_w, **requantization)
