"""AVERAGE_POOL_2D and MAX_POOL_2D: window sizes, strides, SAME padding overhangs."""

from __future__ import annotations

import pytest

from .harness import Case, assert_case_matches_tflm, seeds_from_name, value_range

OPCODES = {"avg": "AVERAGE_POOL_2D", "max": "MAX_POOL_2D"}


def pool2d(shape, kind, pool, strides, padding):
    """AveragePooling2D (kind "avg") or MaxPooling2D ("max")."""
    import keras

    layer = {"avg": keras.layers.AveragePooling2D, "max": keras.layers.MaxPooling2D}[kind]
    x = keras.Input(shape, batch_size=1)
    return keras.Model(x, layer(pool, strides=strides, padding=padding)(x))


def _pool(kind, name, shape, pool, strides, padding, calibration=1.0):
    name = f"{kind}pool_{name}"
    return Case(name, pool2d, dict(shape=shape, kind=kind, pool=pool, strides=strides,
                                   padding=padding),
                OPCODES[kind], calibration=value_range(calibration), **seeds_from_name(name))


CASES = [
    case
    for kind in ("avg", "max")
    for case in (
        _pool(kind, "2x2_s2_valid", (8, 8, 3), 2, 2, "valid"),
        _pool(kind, "2x2_s2_same_overhang", (7, 7, 3), 2, 2, "same"),     # last window overhangs
        _pool(kind, "3x3_s2_same", (7, 7, 5), 3, 2, "same"),              # pads both sides
        _pool(kind, "3x3_s1_same", (5, 6, 2), 3, 1, "same"),
        _pool(kind, "3x2_s_2x1_valid", (9, 7, 4), (3, 2), (2, 1), "valid"),
        _pool(kind, "3x3_s3_same_wide_range", (8, 10, 6), 3, 3, "same", calibration=8.0),
        _pool(kind, "global_5x5", (5, 5, 9), 5, 5, "valid"),
        _pool(kind, "2x2_s1_same_positive", (6, 5, 4), 2, 1, "same", calibration=(0.0, 6.0)),
    )
]


@pytest.mark.parametrize("case", CASES, ids=str)
def test_pooling_matches_tflm(case):
    assert_case_matches_tflm(case)
