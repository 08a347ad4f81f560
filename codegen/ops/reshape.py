"""RESHAPE, SQUEEZE, EXPAND_DIMS: zero-copy, the output aliases the input's arena slot."""

from tinyflow.codegen.ops.base import Layer, Prepared, register


@register("RESHAPE", "SQUEEZE", "EXPAND_DIMS")
def reshape(layer: Layer) -> Prepared:
    x, y = layer.input(0), layer.output()
    layer.require(x.tensor.dtype == y.tensor.dtype, "input and output dtypes differ")
    layer.require(x.elements == y.elements,
                  f"{list(x.shape)} and {list(y.shape)} hold different element counts")
    layer.require_not_constant(x, "input")
    return layer.prepared("reshape.c.j2", variant="reshape", cost_terms=("calls",),
                          aliases_input=True, x=x, y=y)
