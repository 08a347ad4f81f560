"""LOGISTIC and TANH of int16x8 models (TFLM logistic_common.cc / tanh.cc and
reference_integer_ops Logistic / Tanh for int16).

TFLM rescales the int16 input to a fixed Q3.12-like domain (times 3: the table covers
[-10.7, 10.7] rather than [-8, 8]), then interpolates linearly in a 256-entry table of
sigmoid(i / 24) in 0.16 fixed point, indexed by the top bits of |input| (9 fraction
bits for LOGISTIC; 8 for TANH, which uses tanh(x) = 2 sigmoid(2x) - 1); the symmetry
gives negative inputs. Both need zero points 0 and an output scale of 2^-15.

The table is built here: sigmoid(i / 24) * 2^16 with each node raised by half the
midpoint sag of a chord, h^2 |sigmoid''| / 16 (h = 1/24: the minimax correction for
linear interpolation), rounded; the last node is the uint16 maximum. That is TFLM's
table value for value (the bit-exact tests run every int16 input through it).
"""

from __future__ import annotations

import math

import numpy as np

from tinyflow.codegen.ops.base import Layer, Prepared
from tinyflow.codegen.ops.linear_int16 import require_symmetric_int16
from tinyflow.codegen.quantize import round_half_away

TABLE_SIZE = 256
TABLE_STEP = 1 / 24                 # the table samples sigmoid every 1/24
INPUT_INTEGER_BITS = 3
OUTPUT_FRACTIONAL_BITS = 15


def sigmoid_table() -> list[int]:
    """sigmoid(i / 24) in 0.16 fixed point, nodes corrected for linear interpolation."""
    def sigmoid(x):
        return 1 / (1 + math.exp(-x))

    values = []
    for i in range(TABLE_SIZE):
        s = sigmoid(i * TABLE_STEP)
        curvature = abs(s * (1 - s) * (1 - 2 * s))          # |sigmoid''|
        node = s + TABLE_STEP ** 2 * curvature / 16
        values.append(min(65535, math.floor(65536 * node + 0.5)))
    values[-1] = 65535
    return values


def checked_log2(x: float) -> tuple[int, bool]:
    """TFLM's CheckedLog2 in float32: (round(log2 x), whether x is a power of two)."""
    log2 = np.float32(np.log(np.float32(x))) * (np.float32(1.0) / np.float32(np.log(np.float32(2.0))))
    rounded = np.float32(round_half_away(float(log2)))
    return int(rounded), abs(float(np.float32(log2 - rounded))) < 1e-3


def _input_scaling(layer: Layer, power_of_two_shifts: tuple[int, ...]) -> dict:
    """TFLM's Prepare: a power-of-two input scale (with its left shift in
    ``power_of_two_shifts``) takes multiplier 3 << shift, any other scale a multiplier
    below 2^15 (scale * 4096 * 3 doubled while at most 32767 / 2) and a right shift."""
    x, y = layer.input(0), layer.output()
    require_symmetric_int16(layer, x, "input")
    require_symmetric_int16(layer, y, "output")
    layer.require_per_tensor(x, "input")
    layer.require_not_constant(x, "input")
    layer.require(x.elements == y.elements,
                  f"{list(x.shape)} and {list(y.shape)} hold different element counts")
    output_log2, output_pot = checked_log2(y.scale)
    layer.require(output_pot and output_log2 == -OUTPUT_FRACTIONAL_BITS,
                  f"output scale {y.scale:g} is not 2^-{OUTPUT_FRACTIONAL_BITS}, as TFLM requires")
    scale_log2, power_of_two = checked_log2(x.scale)
    left_shift = (15 - INPUT_INTEGER_BITS) + scale_log2
    if power_of_two and left_shift in power_of_two_shifts:
        multiplier, right_shift = 3 << left_shift, 0
    else:
        real = float(x.scale) * 4096.0 * 3.0
        right_shift = 0
        while real <= 32767.0 / 2.0 and right_shift <= 30:
            right_shift += 1
            real *= 2.0
        multiplier = int(real)
        layer.require(multiplier <= 32767,
                      f"input scale {x.scale:g} is too large for TFLM's int16 kernel")
    return dict(x=x, y=y, multiplier=multiplier, right_shift=right_shift,
                rounding=(1 << (right_shift - 1)) if right_shift > 0 else 0)


def _prepared(layer: Layer, function: str, params: dict) -> Prepared:
    tables = [layer.table("sigmoid", "uint16_t", sigmoid_table())]
    return layer.prepared("logistic_tanh_int16.c.j2", variant=f"{function}_int16",
                          tables=tables, function=function, **params)


def logistic_int16(layer: Layer) -> Prepared:
    return _prepared(layer, "logistic", _input_scaling(layer, (0,)))


def tanh_int16(layer: Layer) -> Prepared:
    return _prepared(layer, "tanh", _input_scaling(layer, (0, 1)))
