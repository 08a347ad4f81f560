"""keras.layers.LayerNormalization: MEAN, a float NEG of the mean between DEQUANTIZE
and QUANTIZE, SQUARED_DIFFERENCE, MEAN, ADD (epsilon), RSQRT, MUL and ADD (scale and
offset), all int8 but the NEG. Over the last axis, and over the last two."""

from __future__ import annotations

import pytest

from .harness import Case, assert_case_matches_tflm, dims, seeds_from_name, value_range

LAYER_NORM_OPS = ("MEAN", "NEG", "SQUARED_DIFFERENCE")


def layer_normalization(shape, axis=-1, batch_size=1):
    """A LayerNormalization with non-trivial (seeded random) scale and offset."""
    import keras

    x = keras.Input(shape, batch_size=batch_size)
    y = keras.layers.LayerNormalization(axis=axis, gamma_initializer="glorot_uniform",
                                        beta_initializer="glorot_uniform")(x)
    return keras.Model(x, y)


def _case(shape, axis=-1, batch_size=1, calibration=2.0):
    name = (f"layer_norm_{dims(shape)}_axis{dims(axis) if isinstance(axis, tuple) else axis}"
            f"{'_dynamic_batch' if batch_size is None else ''}")
    return Case(name, layer_normalization, dict(shape=shape, axis=axis, batch_size=batch_size),
                "RSQRT", extra_ops=LAYER_NORM_OPS, calibration=value_range(calibration),
                **seeds_from_name(name))


CASES = [
    _case((6, 8)),
    _case((5, 12), batch_size=None),
    _case((4, 6, 10), calibration=(-1.0, 3.0)),
    _case((3, 5, 7), axis=(-2, -1), batch_size=None),
]


@pytest.mark.parametrize("case", CASES, ids=str)
def test_normalization_matches_tflm(case):
    assert_case_matches_tflm(case)
