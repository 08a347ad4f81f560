"""DEPTHWISE_CONV_2D: depth multipliers, strides, padding, dilation, activations.

Dilated depthwise convolutions on a dynamic batch convert to SPACE_TO_BATCH_ND ->
DEPTHWISE_CONV_2D -> BATCH_TO_SPACE_ND, folded back into one (see test_conv.py)."""

from __future__ import annotations

import pytest

from .harness import Case, assert_case_matches_tflm, initializers, seeds_from_name, value_range
from .test_conv import DILATION_CHAIN, dilated_cases, folds_into_dilated, tflite_reference_kernels


def depthwise_conv2d(shape, kernel, multiplier=1, strides=1, padding="same", dilation=1,
                     activation=None, use_bias=True, seed=1, batch_size=1):
    """One DepthwiseConv2D with seeded weights; ``batch_size=None``: built the default
    Keras way, on a dynamic batch."""
    import keras

    x = keras.Input(shape, batch_size=batch_size)
    y = keras.layers.DepthwiseConv2D(kernel, strides=strides, padding=padding,
                                     depth_multiplier=multiplier, dilation_rate=dilation,
                                     activation=activation, use_bias=use_bias,
                                     **initializers(seed, kernel="depthwise"))(x)
    return keras.Model(x, y)


def _depthwise(name, shape, kernel, fused=None, calibration=1.0, **options):
    """A DEPTHWISE_CONV_2D case; ``fused``: the activation the converter must fuse."""
    name = f"depthwise_{name}"
    return Case(name, depthwise_conv2d, dict(shape=shape, kernel=kernel, **options),
                "DEPTHWISE_CONV_2D", activation=fused, calibration=value_range(calibration),
                **seeds_from_name(name))


def _dilated_depthwise(name, shape, kernel, extra_ops=(), check=None, reference=None,
                       **options):
    name = f"depthwise_{name}"
    return Case(name, depthwise_conv2d, dict(shape=shape, kernel=kernel, **options),
                "DEPTHWISE_CONV_2D", extra_ops=extra_ops, check=check, reference=reference,
                **seeds_from_name(name))


CASES = [
    _depthwise("3x3_m1_same", (8, 8, 4), 3, seed=21),
    _depthwise("3x3_m1_c1", (7, 7, 1), 3, seed=22),
    _depthwise("3x3_m2_valid", (7, 9, 3), 3, multiplier=2, padding="valid", seed=23),
    _depthwise("3x3_m3_stride2_same", (9, 9, 3), 3, multiplier=3, strides=2, seed=24),
    _depthwise("3x3_m1_stride2_same_even_relu", (8, 8, 5), 3, strides=2, activation="relu",
               fused="RELU", seed=25),
    _depthwise("5x3_m1_stride2_valid", (11, 9, 7), (5, 3), strides=2, padding="valid", seed=26),
    _depthwise("3x3_m2_dilation2_same", (9, 9, 3), 3, multiplier=2, dilation=2, seed=27),
    _depthwise("3x3_m1_dilation2_valid_relu6", (10, 10, 6), 3, padding="valid", dilation=2,
               activation="relu6", fused="RELU6", seed=28),
    _depthwise("1x1_m2", (5, 5, 4), 1, multiplier=2, seed=29),
    _depthwise("3x3_m1_c17", (6, 6, 17), 3, seed=30),
    _depthwise("3x3_m1_c32_relu6", (6, 6, 32), 3, activation="relu6", fused="RELU6", seed=31),
    _depthwise("3x3_m1_positive_inputs", (6, 6, 8), 3, seed=84, calibration=(0.0, 6.0)),
    _depthwise("3x3_m1_no_bias", (7, 6, 12), 3, seed=87, use_bias=False),
    _depthwise("5x3_m1_stride2_same_c8", (10, 9, 8), (5, 3), strides=2, seed=88),
    _depthwise("3x3_m2_stride2_positive_inputs", (7, 7, 3), 3, multiplier=2, strides=2,
               seed=85, calibration=(0.0, 6.0)),
    *dilated_cases(_dilated_depthwise, "DEPTHWISE_CONV_2D"),
    # A depth multiplier and a fused RELU6 inside the chain.
    _dilated_depthwise("3x3_m2_dilation2_same_relu6_dynamic_batch", (9, 8, 3), 3,
                       multiplier=2, dilation=2, activation="relu6", batch_size=None,
                       extra_ops=DILATION_CHAIN, reference=tflite_reference_kernels,
                       check=folds_into_dilated("DEPTHWISE_CONV_2D", (2, 2))),
]


@pytest.mark.parametrize("case", CASES, ids=str)
def test_depthwise_matches_tflm(case):
    assert_case_matches_tflm(case)


# --- in place: the output written over the input ---------------------------------------------

def pointwise_depthwise_chain(shape, channels, kernel, dilation=1, activation=None, seed=1):
    """1x1 conv (widening: not in place, and its input is the graph's) -> depthwise
    (in place, rows held back) -> 1x1 conv keeping the width (in place) -> 1x1 conv
    narrowing (in place) -> depthwise again on the narrower tensor (in place)."""
    import keras

    x = keras.Input(shape, batch_size=1)
    y = keras.layers.Conv2D(channels, 1, activation="relu", **initializers(seed))(x)
    y = keras.layers.DepthwiseConv2D(kernel, padding="same", dilation_rate=dilation,
                                     activation=activation,
                                     **initializers(seed + 2, kernel="depthwise"))(y)
    y = keras.layers.Conv2D(channels, 1, activation="relu", **initializers(seed + 4))(y)
    y = keras.layers.Conv2D(channels - 3, 1, **initializers(seed + 6))(y)
    y = keras.layers.DepthwiseConv2D(3, padding="same",
                                     **initializers(seed + 8, kernel="depthwise"))(y)
    return keras.Model(x, y)


def computed_in_place(count: int):
    """A check: the planner put exactly ``count`` layers' outputs over their inputs
    (both depthwise convolutions and the two 1x1 convolutions that do not widen)."""
    def check(model):
        from tinyflow.codegen import generate

        layers = generate(model).manifest["layers"]
        in_place = [(layer["index"], layer["op"]) for layer in layers if layer["in_place"]]
        assert len(in_place) == count, in_place
        assert not layers[0]["in_place"], "the graph's input must not be overwritten"
    return check


def _in_place(name, shape, channels, kernel, **options):
    name = f"depthwise_in_place_{name}"
    return Case(name, pointwise_depthwise_chain,
                dict(shape=shape, channels=channels, kernel=kernel, **options),
                "DEPTHWISE_CONV_2D", extra_ops=("CONV_2D",), check=computed_in_place(4),
                **seeds_from_name(name))


IN_PLACE_CASES = [
    _in_place("3x3_c8", (9, 7, 2), 8, 3),
    _in_place("3x3_c7_relu6", (6, 8, 3), 7, 3, activation="relu6"),   # channel remainder
    _in_place("5x3_dilation2_c12", (12, 9, 1), 12, (5, 3), dilation=2),  # 5 rows held back
    _in_place("1x3_c9", (4, 11, 2), 9, (1, 3)),                      # no row held back
]


@pytest.mark.parametrize("case", IN_PLACE_CASES, ids=str)
def test_depthwise_in_place_matches_tflm(case):
    assert_case_matches_tflm(case)
