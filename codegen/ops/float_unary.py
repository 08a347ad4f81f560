"""float32 element-wise ops that int8 models still contain: the converter leaves some
Keras layers in float between a DEQUANTIZE and a QUANTIZE. As TFLM computes them:

- NEG (neg.cc, float32 only): -x, exact. Keras' LayerNormalization negates its mean.
- ELU (elu.cc, reference_ops::Elu): x < 0 ? expm1f(x) : x. Keras' ELU converts so.
  The C calls the C library's expm1f, as TFLM does: bit-exact where both use one
  library (the host); a board's library may round an expm1f differently in the last
  bit, which the following QUANTIZE hides unless it sits on a rounding boundary.
  (TFLM's int8 ELU is a table; the converter does not write one for Keras' ELU.)
"""

from tinyflow.codegen.ops.base import Layer, Prepared, register


def _float_tensors(layer: Layer):
    x, y = layer.input(0), layer.output()
    layer.require_dtype(x, "input", "float32")
    layer.require_dtype(y, "output", "float32")
    layer.require_not_constant(x, "input")
    layer.require(x.shape == y.shape, f"output shape {list(y.shape)} is not the input's")
    return x, y


@register("NEG")
def neg(layer: Layer) -> Prepared:
    x, y = _float_tensors(layer)
    return layer.prepared("float_unary.c.j2", x=x, y=y, path="neg")


@register("ELU")
def elu(layer: Layer) -> Prepared:
    x, y = _float_tensors(layer)
    return layer.prepared("float_unary.c.j2", x=x, y=y, path="elu")
