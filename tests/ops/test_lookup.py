"""Unary int8 ops generated as a 256-entry table (codegen/ops/lookup.py): RSQRT and
HARD_SWISH. The compared inputs are random over the whole int8 range, so each case
checks every entry of its table.

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

def hard_swish(shape, after_conv=False, batch_size=1, seed=0):
    """keras.layers.Activation("hard_swish") on the input, or after a 1x1 Conv2D."""
    import keras

    from .harness import initializers

    x = keras.Input(shape, batch_size=batch_size)
    y = keras.layers.Conv2D(shape[-1], 1, **initializers(seed))(x) if after_conv else x
    return keras.Model(x, keras.layers.Activation("hard_swish")(y))


HARD_SWISH_CASES = [
    _case("hard_swish_-4to4", hard_swish, dict(shape=(6, 5, 4)), "HARD_SWISH", 4.0),
    # The "relu-ish" multiplier's exponent: 0 here, negative below, positive in the rest.
    _case("hard_swish_-1to1", hard_swish, dict(shape=(30,)), "HARD_SWISH", 1.0),
    _case("hard_swish_-0.3to0.3", hard_swish, dict(shape=(30,)), "HARD_SWISH", 0.3),
    _case("hard_swish_-8to2", hard_swish, dict(shape=(4, 9)), "HARD_SWISH", (-8.0, 2.0)),
    _case("hard_swish_-20to40", hard_swish, dict(shape=(5, 7)), "HARD_SWISH", (-20.0, 40.0)),
    _case("hard_swish_after_conv_dynamic_batch", hard_swish,
          dict(shape=(5, 5, 6), after_conv=True, batch_size=None, seed=3), "HARD_SWISH", 3.0,
          extra_ops=("CONV_2D",)),
]

CASES = RSQRT_CASES + HARD_SWISH_CASES


@pytest.mark.parametrize("case", CASES, ids=str)
def test_lookup_matches_tflm(case):
    assert_case_matches_tflm(case)
