"""SOFTMAX of int16x8 models (TFLM softmax_common.cc, reference_ops::SoftmaxInt16).

Per row: the difference to the row's maximum, rescaled so that [-10, 0] spans the
int16 range, goes through a 513-entry table of exp; the Q0.15 exponentials are summed,
the sum normalized and its reciprocal read from a table of 1 / (1 + x); each
exponential times the reciprocal, rounded, is the output (scale 2^-15, zero point 0).

TFLM fills both tables at Prepare in float32 arithmetic (LUTPopulate<int16_t>: each node
the sampled function minus half of the linear-interpolation error at the segment's
midpoint). The same float32 steps run here with numpy float32 scalars and the C
library's own expf (through ctypes), so the tables are the ones TFLM computes on
this machine.
"""

from __future__ import annotations

import ctypes
import ctypes.util

import numpy as np

from tinyflow.codegen.ops.base import Layer, Prepared
from tinyflow.codegen.ops.linear_int16 import require_symmetric_int16
from tinyflow.codegen.quantize import quantize_multiplier, round_half_away

INT16_MIN, INT16_MAX = -32768, 32767
LUT_STEPS = 512             # 513 nodes
F32 = np.float32


def _libm_expf():
    libm = ctypes.CDLL(ctypes.util.find_library("m") or "libm.so.6")
    libm.expf.restype, libm.expf.argtypes = ctypes.c_float, [ctypes.c_float]
    return lambda value: F32(libm.expf(float(value)))


def _round(value) -> np.float32:
    """TfLiteRound on a float: halves away from zero, in float32."""
    return F32(round_half_away(float(value)))


def lut_int16(input_scale, input_zero_point: int, output_scale, transform) -> list[int]:
    """TFLM's LUTPopulateInt16<float> (output zero point 0), step by step in float32."""
    input_min = F32(input_scale) * F32(INT16_MIN - input_zero_point)
    input_max = F32(input_scale) * F32(INT16_MAX - input_zero_point)
    output_min = F32(output_scale) * F32(INT16_MIN)
    output_max = F32(output_scale) * F32(INT16_MAX)
    step = F32(input_max - input_min) / F32(LUT_STEPS)
    half_step = step / F32(2)
    scaling_inv = F32(65536) / F32(output_max - output_min)

    def clamped(value) -> int:
        return int(min(max(float(value), INT16_MIN), INT16_MAX))

    table = []
    for i in range(LUT_STEPS):
        start = F32(input_min + F32(i) * step)
        value = transform(start)
        midpoint = transform(F32(start + half_step))
        following = transform(F32(input_min + F32(i + 1) * step))
        sample = _round(value * scaling_inv)
        interpolated = _round(F32(following * scaling_inv + _round(value * scaling_inv)) / F32(2))
        error = F32(interpolated - _round(midpoint * scaling_inv))
        bias = _round(error / F32(2))
        table.append(clamped(F32(sample - bias)))
    table.append(clamped(_round(transform(input_max) * scaling_inv)))
    return table


def softmax_tables() -> tuple[list[int], list[int]]:
    """The exp table (on [-10, 0]) and the 1 / (1 + x) table (on [0, 1])."""
    expf = _libm_expf()
    span = INT16_MAX - INT16_MIN
    exp_table = lut_int16(F32(10.0) / F32(span), INT16_MAX, F32(2.0) / F32(span), expf)
    reciprocal_table = lut_int16(F32(1.0) / F32(span), INT16_MIN, F32(2.0) / F32(span),
                                 lambda value: F32(1.0) / F32(F32(1.0) + value))
    return exp_table, reciprocal_table


def softmax_int16(layer: Layer) -> Prepared:
    x, y = layer.input(0), layer.output()
    require_symmetric_int16(layer, x, "input")
    require_symmetric_int16(layer, y, "output")
    layer.require_per_tensor(x, "input")
    layer.require(x.shape == y.shape, f"shapes {list(x.shape)} and {list(y.shape)} differ")
    # TFLM: TF_LITE_ENSURE_NEAR(output scale, 1/32768, 0.001/32768), in float.
    layer.require(abs(float(F32(y.scale)) - 1.0 / 32768) <= 0.001 / 32768,
                  f"output scale {y.scale:g} is not 2^-15, as TFLM requires")
    layer.require(len(x.shape) >= 1 and x.shape[-1] > 0, "input has no channel axis")
    beta = float(F32(layer.option("beta", 1.0)))
    multiplier, shift = quantize_multiplier(float(F32(x.scale)) * beta / (10.0 / 65535.0))
    exp_table, reciprocal_table = softmax_tables()
    depth = x.shape[-1]
    rows = x.elements // depth
    return layer.prepared(
        "softmax_int16.c.j2", variant="softmax_int16", features=dict(rows=rows),
        cost_terms=("calls", "outputs", "rows"),
        tables=[layer.table("exp", "int16_t", exp_table),
                layer.table("reciprocal", "int16_t", reciprocal_table)],
        x=x, y=y, rows=rows, depth=depth, multiplier=multiplier, shift=shift)
