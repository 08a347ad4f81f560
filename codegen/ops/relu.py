"""Standalone RELU, RELU6 and LEAKY_RELU on int8, as TFLM computes them.

A ReLU that the converter cannot fuse into the op before it (after ADD or
CONCATENATION, say) stays an op of its own; keras.layers.LeakyReLU is LEAKY_RELU.

- RELU (activations_common.cc): requantize to the output's scale, then clamp to
  [the output zero point (real 0), 127]. The multiplier is input scale / output
  scale in double.
- RELU6: TFLM does not requantize. It clamps the int8 input between its zero
  point and 6.0 quantized with the input's scale and zero point, and writes the
  result as it is (TFLM assumes the output is quantized like the input). So do we.
- LEAKY_RELU (leaky_relu_common.cc): two requantizations, identity for x >= 0 and
  alpha for x < 0 (of the input minus its zero point); TFLM computes both
  multipliers in double from the float32 scales and alpha.

TFLM has no RELU_N1_TO_1 kernel: a model with one cannot run on TFLM, so there is
nothing to be bit-exact with, and tinyflow does not generate it either.
"""

import numpy as np

from tinyflow.codegen.ops.base import Layer, Prepared, register
from tinyflow.codegen.ops.linear_int16 import is_int16
from tinyflow.codegen.quantize import INT8_MAX, INT8_MIN, quantize_float, quantize_multiplier


def _int8_tensors(layer: Layer):
    x, y = layer.input(0), layer.output()
    layer.require_dtype(x, "input", "int8")
    layer.require_dtype(y, "output", "int8")
    layer.require_per_tensor(x, "input")
    layer.require_per_tensor(y, "output")
    layer.require_not_constant(x, "input")
    return x, y


@register("RELU")
def relu(layer: Layer) -> Prepared:
    if is_int16(layer):                 # int16x8: its own module
        from tinyflow.codegen.ops.relu_int16 import relu_int16
        return relu_int16(layer)
    x, y = _int8_tensors(layer)
    multiplier, shift = quantize_multiplier(x.scale / y.scale)
    # act_min = 0.0 quantized on the output: round(0 / scale) + zero point.
    return layer.prepared("relu.c.j2", x=x, y=y, multiplier=multiplier, shift=shift,
                          input_zero_point=x.zero_point, output_zero_point=y.zero_point,
                          act_min=max(INT8_MIN, y.zero_point), act_max=INT8_MAX)


@register("RELU6")
def relu6(layer: Layer) -> Prepared:
    if is_int16(layer):                 # int16x8: its own module
        from tinyflow.codegen.ops.relu_int16 import relu6_int16
        return relu6_int16(layer)
    x, y = _int8_tensors(layer)
    # TFLM's FloatToQuantizedType: round(6.0f / scale) + zero point, clamped to int8.
    six = min(INT8_MAX, max(INT8_MIN, quantize_float(6.0, x.scale, x.zero_point)))
    return layer.prepared("relu6.c.j2", x=x, y=y, lower=x.zero_point, upper=six)


@register("LEAKY_RELU")
def leaky_relu(layer: Layer) -> Prepared:
    if is_int16(layer):                 # int16x8: its own module
        from tinyflow.codegen.ops.relu_int16 import leaky_relu_int16
        return leaky_relu_int16(layer)
    x, y = _int8_tensors(layer)
    alpha = float(np.float32(layer.option("alpha", 0.2)))
    # In double from the float32 scales and alpha, as TFLM's Prepare computes them (a
    # float32 product differs in the last bit for some scales: test_activations.py).
    alpha_multiplier, alpha_shift = quantize_multiplier(x.scale * alpha / y.scale)
    identity_multiplier, identity_shift = quantize_multiplier(x.scale / y.scale)
    return layer.prepared("leaky_relu.c.j2", x=x, y=y, input_zero_point=x.zero_point,
                          output_zero_point=y.zero_point,
                          identity_multiplier=identity_multiplier, identity_shift=identity_shift,
                          alpha_multiplier=alpha_multiplier, alpha_shift=alpha_shift)
