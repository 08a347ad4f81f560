"""ADD and MUL: two branches of one input, broadcasts, constants, a fused ReLU."""

from __future__ import annotations

import numpy as np
import pytest

from .harness import Case, assert_case_matches_tflm, initializers, seeds_from_name, value_range


def merge_branches(shape, kind, seed, shortcut_pool=None, relu=False):
    """x op conv1x1(x), or x op avgpool(x) for an (H,W,C) x (1,1,C) broadcast; a
    following ReLU is fused into the op by the converter. ``kind``: "add" or "mul"."""
    import keras

    merge = {"add": keras.layers.Add, "mul": keras.layers.Multiply}[kind]
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
    apply = {"add": lambda t: t + value, "mul": lambda t: t * value}[kind]
    x = keras.Input(shape, batch_size=1)
    return keras.Model(x, keras.layers.Lambda(apply)(x))


def _cases(kind):
    """The same cases for ADD (kind "add") and for MUL ("mul")."""
    opcode = kind.upper()

    def case(name, build, params, calibration=1.0, **checks):
        name = f"{kind}_{name}"
        return Case(name, build, dict(kind=kind, **params), opcode,
                    calibration=value_range(calibration), **checks, **seeds_from_name(name))

    # The constants are drawn in this order from one generator per kind, and passed as
    # lists: plain data, which the conversion cache compares exactly.
    rng = np.random.default_rng(50 if kind == "add" else 60)
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


CASES = _cases("add") + _cases("mul")


@pytest.mark.parametrize("case", CASES, ids=str)
def test_elementwise_matches_tflm(case):
    assert_case_matches_tflm(case)
