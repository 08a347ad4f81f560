"""Standalone RELU, RELU6 and LEAKY_RELU of int16x8 models, as TFLM computes them
(activations_common.cc, leaky_relu_common.cc): the int8 arithmetic of relu.py on int16
values, with TFLM's int16 requirement that the zero points be 0.

- RELU: requantize to the output's scale, clamp to [0, 32767].
- RELU6: no requantization; clamp between 0 and 6.0 quantized on the input's scale.
- LEAKY_RELU: identity or alpha multiplier by the input's sign.
relu.py dispatches here on an int16 input.
"""

import numpy as np

from tinyflow.codegen.ops.base import Layer, Prepared
from tinyflow.codegen.ops.linear_int16 import INT16_MAX, INT16_MIN, require_symmetric_int16
from tinyflow.codegen.quantize import quantize_float, quantize_multiplier


def _int16_tensors(layer: Layer):
    x, y = layer.input(0), layer.output()
    require_symmetric_int16(layer, x, "input")
    require_symmetric_int16(layer, y, "output")
    layer.require_per_tensor(x, "input")
    layer.require_per_tensor(y, "output")
    layer.require_not_constant(x, "input")
    layer.require(x.elements == y.elements,
                  f"{list(x.shape)} and {list(y.shape)} hold different element counts")
    return x, y


def relu_int16(layer: Layer) -> Prepared:
    x, y = _int16_tensors(layer)
    multiplier, shift = quantize_multiplier(x.scale / y.scale)
    return layer.prepared("relu_int16.c.j2", variant="relu_int16", x=x, y=y,
                          multiplier=multiplier, shift=shift)


def relu6_int16(layer: Layer) -> Prepared:
    x, y = _int16_tensors(layer)
    six = min(INT16_MAX, max(INT16_MIN, quantize_float(6.0, x.scale, 0)))
    return layer.prepared("relu6_int16.c.j2", variant="relu6_int16", x=x, y=y, upper=six)


def leaky_relu_int16(layer: Layer) -> Prepared:
    x, y = _int16_tensors(layer)
    # The multipliers in double from the float32 scales and alpha: what the tflite-micro
    # package computes (measured: every int16 input through LEAKY_RELUs whose float32
    # and double multipliers differ matches the double ones only).
    alpha = float(np.float32(layer.option("alpha", 0.2)))
    alpha_multiplier, alpha_shift = quantize_multiplier(x.scale * alpha / y.scale)
    identity_multiplier, identity_shift = quantize_multiplier(x.scale / y.scale)
    return layer.prepared("leaky_relu_int16.c.j2", variant="leaky_relu_int16", x=x, y=y,
                          identity_multiplier=identity_multiplier, identity_shift=identity_shift,
                          alpha_multiplier=alpha_multiplier, alpha_shift=alpha_shift)
