"""Unary int8 ops generated as a 256-entry table (codegen/ops/lookup.py): RSQRT.

RSQRT is defined for inputs at or above the zero point only (TFLM fails the invoke
on a negative real), so its inputs are calibrated on non-negative ranges: the zero
point is then -128 and every int8 input is valid; the compared inputs cover all of
them.
"""

from __future__ import annotations

import pytest

from .harness import Case, assert_case_matches_tflm, seeds_from_name, value_range


def rsqrt(shape, offset=None, batch_size=1):
    """keras.ops.rsqrt of the input, or of x * x + offset (as a LayerNormalization's
    variance plus epsilon reaches it)."""
    import keras

    x = keras.Input(shape, batch_size=batch_size)
    if offset is None:
        y = keras.layers.Lambda(keras.ops.rsqrt)(x)
    else:
        y = keras.layers.Lambda(lambda t: keras.ops.rsqrt(t * t + offset))(x)
    return keras.Model(x, y)


def _case(name, build, params, opcode, calibration, **checks):
    return Case(name, build, params, opcode, calibration=value_range(calibration), **checks,
                **seeds_from_name(name))


RSQRT_CASES = [
    _case("rsqrt_0to4", rsqrt, dict(shape=(6, 5, 4)), "RSQRT", (0.0, 4.0)),
    _case("rsqrt_0to0.05", rsqrt, dict(shape=(40,)), "RSQRT", (0.0, 0.05)),
    _case("rsqrt_0to300_dynamic_batch", rsqrt, dict(shape=(7, 9), batch_size=None), "RSQRT",
          (0.0, 300.0)),
    _case("rsqrt_of_square_plus_epsilon", rsqrt, dict(shape=(5, 8), offset=1e-3), "RSQRT",
          (-2.0, 2.0), extra_ops=("MUL", "ADD")),
]

CASES = RSQRT_CASES


@pytest.mark.parametrize("case", CASES, ids=str)
def test_lookup_matches_tflm(case):
    assert_case_matches_tflm(case)
