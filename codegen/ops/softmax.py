"""SOFTMAX, int8 in, int8 out (scale 1/256, zero point -128), as TFLM computes it."""

from tinyflow.codegen.ops.base import Layer, Prepared, register
from tinyflow.codegen.ops.linear_int16 import is_int16
from tinyflow.codegen.quantize import softmax_scaling


@register("SOFTMAX")
def softmax(layer: Layer) -> Prepared:
    if is_int16(layer):                 # int16x8: its own module
        from tinyflow.codegen.ops.softmax_int16 import softmax_int16
        return softmax_int16(layer)
    x, y = layer.input(0), layer.output()
    layer.require_dtype(x, "input", "int8")
    layer.require_dtype(y, "output", "int8")
    layer.require(y.zero_point == -128 and y.scale == 1.0 / 256,
                  f"output quantization must be scale 1/256, zero point -128 "
                  f"(got {y.scale}, {y.zero_point})")
    multiplier, left_shift, diff_min = softmax_scaling(layer.option("beta", 1.0), x.scale)
    depth = x.shape[-1]
    rows = x.elements // depth
    return layer.prepared("softmax.c.j2", features=dict(rows=rows),
                          cost_terms=("calls", "outputs", "rows"), x=x, y=y, rows=rows,
                          depth=depth, multiplier=multiplier, left_shift=left_shift,
                          diff_min=diff_min)
