"""NEG on float32, as TFLM has it (neg.cc: float32 only, output = -input).

Keras' LayerNormalization converts with its mean negated in float between a
DEQUANTIZE and a QUANTIZE; negating a float is exact, so the C is the same.
"""

from tinyflow.codegen.ops.base import Layer, Prepared, register


@register("NEG")
def neg(layer: Layer) -> Prepared:
    x, y = layer.input(0), layer.output()
    layer.require_dtype(x, "input", "float32")
    layer.require_dtype(y, "output", "float32")
    layer.require_not_constant(x, "input")
    layer.require(x.shape == y.shape, f"output shape {list(y.shape)} is not the input's")
    return layer.prepared("neg.c.j2", x=x, y=y)
