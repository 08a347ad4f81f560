"""AVERAGE_POOL_2D and MAX_POOL_2D, int8."""

from tinyflow.codegen.ops.base import Layer, Prepared, register
from tinyflow.codegen.ops.linear_int16 import is_int16
from tinyflow.codegen.ops.window import window_counts
from tinyflow.codegen.quantize import activation_range, same_padding


def pool_window(layer: Layer, x, y) -> tuple:
    """A pooling layer's window, checked against its input and output (int8 and int16):
    (padding, filter_h, filter_w, stride_h, stride_w, out_h, pad_h, out_w, pad_w)."""
    layer.require(len(x.shape) == 4, "input must be 4-D")
    padding = layer.option("padding")
    layer.require(padding in ("SAME", "VALID"), f"padding {padding} is not supported")
    filter_h, filter_w = layer.option("filter_height"), layer.option("filter_width")
    stride_h, stride_w = layer.option("stride_h"), layer.option("stride_w")
    out_h, pad_h = same_padding(x.dim(1), filter_h, stride_h, 1, padding)
    out_w, pad_w = same_padding(x.dim(2), filter_w, stride_w, 1, padding)
    layer.require((x.dim(0), out_h, out_w, x.dim(3)) == tuple(y.shape),
                  f"output shape {list(y.shape)} does not match the pooling window")
    return padding, filter_h, filter_w, stride_h, stride_w, out_h, pad_h, out_w, pad_w


@register("AVERAGE_POOL_2D", "MAX_POOL_2D")
def pool_2d(layer: Layer) -> Prepared:
    if is_int16(layer):                 # int16x8: its own module
        from tinyflow.codegen.ops.data_int16 import pool_2d_int16
        return pool_2d_int16(layer)
    x, y = layer.input(0), layer.output()
    layer.require_dtype(x, "input", "int8")
    layer.require_dtype(y, "output", "int8")
    padding, filter_h, filter_w, stride_h, stride_w, out_h, pad_h, out_w, pad_w = \
        pool_window(layer, x, y)
    act_min, act_max = activation_range(layer.activation(), y.scale, y.zero_point)
    # One accumulate (or compare) per window tap and channel.
    channels = x.dim(3)
    counts = window_counts(x.shape, filter_h, filter_w, stride_h=stride_h, stride_w=stride_w,
                           padding=padding)
    is_average = layer.opcode == "AVERAGE_POOL_2D"
    return layer.prepared(
        "pool_2d.c.j2", variant="avg_pool" if is_average else "max_pool",
        macs=y.elements * filter_h * filter_w,
        features=dict(valid_macs=counts["taps"] * channels, taps=counts["taps"] * channels,
                      window_rows=counts["window_rows"] * channels, pixels=counts["pixels"],
                      border_outputs=counts["border_pixels"] * channels),
        cost_terms=("calls", "valid_macs", "window_rows", "outputs"),
        x=x, y=y, is_average=is_average,
        batches=x.dim(0), in_h=x.dim(1), in_w=x.dim(2), channels=x.dim(3),
        filter_h=filter_h, filter_w=filter_w, stride_h=stride_h, stride_w=stride_w,
        pad_h=pad_h, pad_w=pad_w, out_h=out_h, out_w=out_w, act_min=act_min, act_max=act_max)
