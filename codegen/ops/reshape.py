"""RESHAPE, SQUEEZE, EXPAND_DIMS: zero-copy, the output aliases the input's arena slot."""

from tinyflow.codegen.ops.base import Layer, register


@register("RESHAPE", "SQUEEZE", "EXPAND_DIMS")
def reshape(layer: Layer) -> dict:
    x, y = layer.input(0), layer.output()
    layer.require(x.tensor.dtype == y.tensor.dtype, "input and output dtypes differ")
    layer.require(x.elements == y.elements,
                  f"{list(x.shape)} and {list(y.shape)} hold different element counts")
    layer.require_not_constant(x, "input")
    return dict(template="reshape.c.j2", x=x, y=y)
