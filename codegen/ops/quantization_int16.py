"""QUANTIZE and DEQUANTIZE where a side is int16: the float32 edges of an int16x8 model
and the requantizations between int8 and int16 regions of a mixed model.

TFLM (quantize_common.cc, dequantize_common.cc, reference quantize.h, requantize.h):
  float32 -> int16          AffineQuantize: round(value / float(scale)) + zero point,
                            rounded half away from zero, clamped to int16;
  int8/int16 -> int8/int16  Requantize: MultiplyByQuantizedMultiplier(q - zp_in,
                            QuantizeMultiplier(scale_in / scale_out)) + zp_out, clamped to
                            the output type (32-bit arithmetic, as for int8);
  int16 -> float32          Dequantize: scale * (q - zero point) in double, cast to float.
quantization.py dispatches here when either side is int16.
"""

from tinyflow.codegen.ops.base import Layer, Prepared
from tinyflow.codegen.quantize import float32_hex_literal, quantize_multiplier

# The output range of each integer type a requantization writes.
RANGES = {"int8": (-128, 127), "int16": (-32768, 32767)}


def has_int16(layer: Layer) -> bool:
    """Whether the layer reads or writes int16 (the dispatch test)."""
    x, y = layer.input(0), layer.output()
    return any(t is not None and t.tensor.dtype == "int16" for t in (x, y))


def quantize_int16(layer: Layer) -> Prepared:
    x, y = layer.input(0), layer.output()
    layer.require_dtype(y, "output", "int8", "int16")
    layer.require_per_tensor(y, "output")
    layer.require_dtype(x, "input", "float32", "int8", "int16")
    layer.require(x.elements == y.elements,
                  f"{list(x.shape)} and {list(y.shape)} hold different element counts")
    low, high = RANGES[y.tensor.dtype]
    if x.tensor.dtype == "float32":
        # TFLM divides by the scale as a float: static_cast<float>(double(scale)).
        return layer.prepared("quantize_int16.c.j2", variant="quantize_int16", x=x, y=y,
                              scale=float32_hex_literal(y.scale), zero_point=y.zero_point,
                              low=low, high=high)
    layer.require_per_tensor(x, "input")
    layer.require_not_constant(x, "input")
    # TFLM: QuantizeMultiplier(double(input scale) / double(output scale)).
    multiplier, shift = quantize_multiplier(x.scale / y.scale)
    return layer.prepared("requantize_int16.c.j2", variant="requantize_int16", x=x, y=y,
                          multiplier=multiplier, shift=shift, input_zero_point=x.zero_point,
                          output_zero_point=y.zero_point, low=low, high=high)


def dequantize_int16(layer: Layer) -> Prepared:
    x, y = layer.input(0), layer.output()
    layer.require_dtype(x, "input", "int16")
    layer.require_per_tensor(x, "input")
    layer.require_dtype(y, "output", "float32")
    layer.require_not_constant(x, "input")
    layer.require(x.elements == y.elements,
                  f"{list(x.shape)} and {list(y.shape)} hold different element counts")
    return layer.prepared("dequantize_int16.c.j2", variant="dequantize_int16", x=x, y=y,
                          scale=float32_hex_literal(x.scale), zero_point=x.zero_point)
