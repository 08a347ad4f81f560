"""ADD, SUB, MUL, MAXIMUM and MINIMUM: two branches of one input, broadcasts,
constants, a fused ReLU; SQUARED_DIFFERENCE."""

from __future__ import annotations

import numpy as np
import pytest

from .harness import (Case, assert_case_matches_tflm, initializers, name_seed, seeds_from_name,
                      value_range)


def merge_branches(shape, kind, seed, shortcut_pool=None, relu=False):
    """x op conv1x1(x), or x op avgpool(x) for an (H,W,C) x (1,1,C) broadcast; a
    following ReLU is fused into the op by the converter. ``kind``: "add", "mul",
    "sub", "max" or "min"."""
    import keras

    merge = {"add": keras.layers.Add, "mul": keras.layers.Multiply,
             "sub": keras.layers.Subtract, "max": keras.layers.Maximum,
             "min": keras.layers.Minimum}[kind]
    x = keras.Input(shape, batch_size=1)
    if shortcut_pool:
        other = keras.layers.AveragePooling2D(shortcut_pool)(x)
    else:
        other = keras.layers.Conv2D(x.shape[-1], 1, **initializers(seed))(x)
    y = merge()([x, other])
    if relu:
        y = keras.layers.ReLU()(y)
    return keras.Model(x, y)


def with_constant(shape, kind, constant):
    """x op a constant (float32), broadcast as NumPy would."""
    import keras
    import tensorflow as tf

    value = tf.constant(np.asarray(constant, dtype=np.float32))
    apply = {"add": lambda t: t + value, "mul": lambda t: t * value,
             "sub": lambda t: t - value, "max": lambda t: tf.maximum(t, value),
             "min": lambda t: tf.minimum(t, value)}[kind]
    x = keras.Input(shape, batch_size=1)
    return keras.Model(x, keras.layers.Lambda(apply)(x))


OPCODES = {"add": "ADD", "mul": "MUL", "sub": "SUB", "max": "MAXIMUM", "min": "MINIMUM"}


def _cases(kind):
    """The same cases for ADD (kind "add"), MUL ("mul"), SUB ("sub"), MAXIMUM ("max")
    and MINIMUM ("min"); the last three are seeded by their names."""
    opcode = OPCODES[kind]

    def case(name, build, params, calibration=1.0, **checks):
        name = f"{kind}_{name}"
        return Case(name, build, dict(kind=kind, **params), opcode,
                    calibration=value_range(calibration), **checks, **seeds_from_name(name))

    # The constants are drawn in this order from one generator per kind, and passed as
    # lists: plain data, which the conversion cache compares exactly.
    rng = np.random.default_rng({"add": 50, "mul": 60}.get(kind, name_seed(kind)))
    vector, channels, rows = (rng.uniform(-1, 1, 8), rng.uniform(-2, 2, (1, 1, 8)),
                              rng.uniform(0.5, 1.5, (4, 1, 1)))
    return [
        case("same_shape", merge_branches, dict(shape=(5, 5, 6), seed=51),
             extra_ops=("CONV_2D",)),
        case("broadcast_4x4x8_1x1x8", merge_branches, dict(shape=(4, 4, 8), seed=52,
                                                           shortcut_pool=4),
             extra_ops=("AVERAGE_POOL_2D",)),
        case("same_shape_relu", merge_branches, dict(shape=(6, 4, 5), seed=53, relu=True),
             activation="RELU", calibration=(-1.0, 3.0)),
        case("constant_vector", with_constant, dict(shape=(4, 4, 8), constant=vector.tolist())),
        case("constant_1x1x8", with_constant, dict(shape=(3, 5, 8), constant=channels.tolist()),
             calibration=3.0),
        case("constant_row_4x1x1", with_constant, dict(shape=(4, 3, 2), constant=rows.tolist())),
        case("constant_scalar", with_constant, dict(shape=(6, 7), constant=0.37),
             calibration=5.0),
    ]


def reversed_constant(shape, kind, constant):
    """A constant minus x: the constant is SUB's first input."""
    import keras
    import tensorflow as tf

    value = tf.constant(np.asarray(constant, dtype=np.float32))
    x = keras.Input(shape, batch_size=1)
    return keras.Model(x, keras.layers.Lambda(lambda t: value - t)(x))


def squared_difference(shape, seed, broadcast=False, batch_size=1):
    """tf.math.squared_difference(x, conv1x1(x)), or of x and its spatial average
    (an (H,W,C) x (1,1,C) broadcast)."""
    import keras
    import tensorflow as tf

    x = keras.Input(shape, batch_size=batch_size)
    if broadcast:
        other = keras.layers.AveragePooling2D(shape[:2])(x)
    else:
        other = keras.layers.Conv2D(shape[-1], 1, **initializers(seed))(x)
    y = keras.layers.Lambda(lambda pair: tf.math.squared_difference(*pair))([x, other])
    return keras.Model(x, y)


def _named(name, build, params, opcode, calibration=1.0, **checks):
    return Case(name, build, params, opcode, calibration=value_range(calibration), **checks,
                **seeds_from_name(name))


SUB_CASES = _cases("sub") + [
    _named("sub_constant_minus_x", reversed_constant,
           dict(shape=(5, 4, 3), kind="sub", constant=[0.5, -0.25, 1.0]), "SUB"),
]
MAXIMUM_MINIMUM_CASES = [case for case in _cases("max") + _cases("min")
                         if case.activation is None]
SQUARED_DIFFERENCE_CASES = [
    _named("squared_difference_same_shape", squared_difference, dict(shape=(5, 5, 4), seed=1),
           "SQUARED_DIFFERENCE", extra_ops=("CONV_2D",)),
    _named("squared_difference_broadcast_1x1x8", squared_difference,
           dict(shape=(4, 6, 8), seed=2, broadcast=True), "SQUARED_DIFFERENCE",
           extra_ops=("AVERAGE_POOL_2D",), calibration=2.0),
    _named("squared_difference_dynamic_batch", squared_difference,
           dict(shape=(3, 5, 6), seed=3, batch_size=None), "SQUARED_DIFFERENCE"),
]

CASES = (_cases("add") + _cases("mul") + SUB_CASES + MAXIMUM_MINIMUM_CASES
         + SQUARED_DIFFERENCE_CASES)


@pytest.mark.parametrize("case", CASES, ids=str)
def test_elementwise_matches_tflm(case):
    assert_case_matches_tflm(case)
