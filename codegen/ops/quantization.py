"""QUANTIZE and DEQUANTIZE: the float32 <-> int8 edges of a model, and int8 requantization.

TFLM (quantize_common.cc, dequantize_common.cc) supports, among others:
  float32 -> int8  AffineQuantize: zero_point + round(value / scale), in float32,
                   rounded half away from zero, clamped to int8;
  int8 -> int8     Requantize: (q - zp_in) * (scale_in / scale_out) as a Q31
                   multiplier and shift, plus zp_out, clamped;
  int8 -> float32  Dequantize: scale * (q - zero_point) in double, cast to float.
"""

from tinyflow.codegen.ops.base import Layer, Prepared, register
from tinyflow.codegen.ops.quantization_int16 import dequantize_int16, has_int16, quantize_int16
from tinyflow.codegen.quantize import float32_hex_literal, quantize_multiplier


@register("QUANTIZE")
def quantize(layer: Layer) -> Prepared:
    if has_int16(layer):                # int16x8: its own module
        return quantize_int16(layer)
    x, y = layer.input(0), layer.output()
    layer.require_dtype(y, "output", "int8")
    layer.require_per_tensor(y, "output")
    layer.require_dtype(x, "input", "float32", "int8")
    if x.tensor.dtype == "float32":
        # TFLM divides by the scale as a float: static_cast<float>(double(scale)).
        return layer.prepared("quantize.c.j2", x=x, y=y,
                              scale=float32_hex_literal(y.scale), zero_point=y.zero_point)
    layer.require_per_tensor(x, "input")
    # TFLM: QuantizeMultiplier(double(input scale) / double(output scale)).
    multiplier, shift = quantize_multiplier(x.scale / y.scale)
    # int8 -> int8 with another scale: its own template, so its own cost variant.
    return layer.prepared("requantize.c.j2", variant="requantize", x=x, y=y,
                          multiplier=multiplier, shift=shift, input_zero_point=x.zero_point,
                          output_zero_point=y.zero_point)


@register("DEQUANTIZE")
def dequantize(layer: Layer) -> Prepared:
    if has_int16(layer):                # int16x8: its own module
        return dequantize_int16(layer)
    x, y = layer.input(0), layer.output()
    layer.require_dtype(x, "input", "int8")
    layer.require_per_tensor(x, "input")
    layer.require_dtype(y, "output", "float32")
    layer.require_not_constant(x, "input")
    return layer.prepared("dequantize.c.j2", x=x, y=y,
                          scale=float32_hex_literal(x.scale), zero_point=x.zero_point)
