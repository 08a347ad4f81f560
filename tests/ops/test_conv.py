"""CONV_2D: kernel sizes, strides, padding, dilation, groups, fused activations.

Notes on what the converter can produce:
- Grouped convolution: Keras `Conv2D(groups=g)` converts to one CONV_2D whose filter
  has in_channels / g channels; covered.
- RELU_N1_TO_1: Keras' `ReLU` rejects a negative threshold, but a clip to [-1, 1]
  after a conv is fused into the conv as RELU_N1_TO_1; covered that way.
- Dilation: with batch 1 the converter writes a dilated CONV_2D; with the default
  dynamic batch it writes SPACE_TO_BATCH_ND -> CONV_2D -> BATCH_TO_SPACE_ND, which
  tinyflow folds back into one dilated CONV_2D (codegen/simplify.py). Both covered
  (`dilated_cases`, shared with test_depthwise.py).
  TFLM cannot run the chain: the file stores its inner tensors with batch 1 (the
  dynamic batch lives in shape_signature) and TFLM's SPACE_TO_BATCH_ND and
  BATCH_TO_SPACE_ND trust the stored shapes, so only one of the block_h x block_w
  images is computed; and its SPACE_TO_BATCH_ND pads with a `params.output_offset`
  it never sets (arena garbage, not the zero point). TFLite's kernels resize the
  outputs in Prepare and pad with the zero point, and its reference kernels do
  TFLM's arithmetic (the same reference_ops), so they are these cases' oracle
  (`tflite_reference_kernels`).
"""

from __future__ import annotations

import pytest

from .harness import (Case, assert_case_matches_tflm, dims, initializers, run_tflite_interpreter,
                      seeds_from_name, value_range)


def conv2d(shape, filters, kernel, strides=1, padding="same", dilation=1, groups=1,
           activation=None, use_bias=True, seed=1, clip=False, batch_size=1):
    """One Conv2D with seeded weights; ``clip``: then a clip to [-1, 1] (RELU_N1_TO_1);
    ``batch_size=None``: built the default Keras way, on a dynamic batch."""
    import keras
    import tensorflow as tf

    x = keras.Input(shape, batch_size=batch_size)
    y = keras.layers.Conv2D(filters, kernel, strides=strides, padding=padding,
                            dilation_rate=dilation, groups=groups, activation=activation,
                            use_bias=use_bias, **initializers(seed))(x)
    if clip:
        y = keras.layers.Lambda(lambda t: tf.clip_by_value(t, -1.0, 1.0))(y)
    return keras.Model(x, y)


def _conv(name, shape, filters, kernel, fused=None, calibration=1.0, **options):
    """A CONV_2D case; ``fused``: the activation the converter must fuse into the conv;
    ``calibration``: representative data ~ U(-c, c), or U(low, high) for a pair."""
    name = f"conv_{name}"
    return Case(name, conv2d, dict(shape=shape, filters=filters, kernel=kernel, **options),
                "CONV_2D", activation=fused, calibration=value_range(calibration),
                **seeds_from_name(name))


# The converter's two ways of writing a dilated convolution.
DILATION_CHAIN = ("SPACE_TO_BATCH_ND", "BATCH_TO_SPACE_ND")


def folds_into_dilated(opcode: str, dilation):
    """A case check: the model simplifies to one ``opcode`` with ``dilation``, the
    SPACE_TO_BATCH_ND / BATCH_TO_SPACE_ND chain gone. (On a dynamic batch the
    converter moves the bias out of the chain: a broadcast ADD follows, kept.)"""
    def check(model):
        from tinyflow.codegen.simplify import simplify

        simplified = simplify(model)
        ops = [op.opcode for op in simplified.operators]
        assert ops[0] == opcode and not set(DILATION_CHAIN) & set(ops), ops
        options = simplified.operators[0].options
        assert (options["dilation_h_factor"], options["dilation_w_factor"]) == dilation
    return check


def tflite_reference_kernels(model_bytes: bytes, inputs) -> list:
    """The outputs of TFLite's interpreter (ai-edge-litert) with its reference kernels,
    batch first like ReferenceInterpreter.run."""
    return run_tflite_interpreter(model_bytes, inputs, reference_kernels=True)


def dilated_cases(make_case, opcode: str) -> list[Case]:
    """Dilation 2 and 3 (and 2x3), SAME and VALID, odd and even sizes (each shape has
    one of each), on a dynamic batch (the chain, folded) and on batch 1 (a dilated op
    from the converter). ``make_case(name, shape, kernel, **options)`` -> Case."""
    layouts = [  # dilation, padding, shape, kernel
        (2, "same", (9, 10, 3), 3), (2, "valid", (10, 9, 4), 3),
        (3, "same", (10, 11, 2), 3), (3, "valid", (11, 12, 3), 3),
        (3, "same", (8, 7, 4), (2, 3)), ((2, 3), "same", (9, 12, 3), 3),
    ]
    cases = []
    for dilation, padding, shape, kernel in layouts:
        pair = dilation if isinstance(dilation, tuple) else (dilation, dilation)
        kernel_name = dims(kernel if isinstance(kernel, tuple) else (kernel, kernel))
        name = f"{kernel_name}_dilation{dims(pair)}_{padding}_{dims(shape)}"
        cases.append(make_case(f"{name}_dynamic_batch", shape, kernel, padding=padding,
                               dilation=dilation, batch_size=None,
                               extra_ops=DILATION_CHAIN, reference=tflite_reference_kernels,
                               check=folds_into_dilated(opcode, pair)))
        cases.append(make_case(f"{name}_batch1", shape, kernel, padding=padding,
                               dilation=dilation, check=folds_into_dilated(opcode, pair)))
    return cases


def _dilated_conv(name, shape, kernel, extra_ops=(), check=None, reference=None, **options):
    name = f"conv_{name}"
    return Case(name, conv2d, dict(shape=shape, filters=5, kernel=kernel, **options),
                "CONV_2D", extra_ops=extra_ops, check=check, reference=reference,
                **seeds_from_name(name))


CASES = [
    _conv("1x1_c1_f1", (5, 5, 1), 1, 1),
    _conv("1x1_c3_f8", (6, 6, 3), 8, 1, seed=2),
    _conv("1x1_c16_f17_relu", (4, 4, 16), 17, 1, activation="relu", fused="RELU", seed=3),
    _conv("1x1_stride2_valid", (7, 7, 5), 6, 1, strides=2, padding="valid", seed=4),
    _conv("3x3_same_c3_f4", (8, 8, 3), 4, 3, seed=5),
    _conv("3x3_valid_c7_f5", (9, 7, 7), 5, 3, padding="valid", seed=6),
    _conv("3x3_stride2_same_even", (8, 8, 4), 6, 3, strides=2, seed=7),
    _conv("3x3_stride2_same_odd_relu6", (9, 9, 2), 3, 3, strides=2, activation="relu6",
          fused="RELU6", seed=8),
    _conv("3x3_stride2_valid_c17", (9, 8, 17), 9, 3, strides=2, padding="valid", seed=9),
    _conv("5x3_same_c1", (10, 7, 1), 5, (5, 3), seed=10),
    _conv("5x3_stride_2x1_valid", (11, 6, 6), 4, (5, 3), strides=(2, 1), padding="valid",
          seed=11),
    _conv("5x3_stride2_same_c13", (9, 9, 13), 11, (5, 3), strides=2, seed=12),
    _conv("3x3_dilation2_same", (9, 9, 3), 4, 3, dilation=2, seed=13),
    _conv("3x3_dilation2_valid", (10, 9, 5), 3, 3, padding="valid", dilation=2, seed=14),
    _conv("3x3_groups2", (8, 8, 4), 6, 3, groups=2, seed=15),
    _conv("1x1_groups3_relu", (5, 5, 9), 12, 1, groups=3, activation="relu", fused="RELU",
          seed=16),
    _conv("3x3_no_bias", (6, 6, 5), 7, 3, use_bias=False, seed=17),
    _conv("1x1_relu_n1_to_1", (6, 6, 4), 4, 1, clip=True, fused="RELU_N1_TO_1", seed=18),
    _conv("3x3_relu_n1_to_1", (7, 7, 3), 5, 3, clip=True, fused="RELU_N1_TO_1", seed=19),
    _conv("3x3_c32_f16", (6, 6, 32), 16, 3, activation="relu", fused="RELU", seed=20),
    # Inputs in [0, 6] (as after a ReLU6): input zero point -128, input offset +128.
    _conv("3x3_positive_inputs", (7, 7, 6), 5, 3, seed=81, calibration=(0.0, 6.0)),
    _conv("1x1_positive_inputs", (5, 5, 8), 8, 1, seed=82, calibration=(0.0, 6.0)),
    _conv("3x3_c64_f8_stride2", (7, 7, 64), 8, 3, strides=2, seed=83),   # long accumulations
    *dilated_cases(_dilated_conv, "CONV_2D"),
]


@pytest.mark.parametrize("case", CASES, ids=str)
def test_conv_matches_tflm(case):
    assert_case_matches_tflm(case)


# --- in place: outputs written over their inputs ---------------------------------------------

def residual_block(shape, channels, kernel, dilation=1, seed=1):
    """IC's residual block: conv (its input is the graph's: a copy) -> conv (its input is
    read again by the ADD: a copy) -> conv SAME stride 1 (in place, output rows held
    back) -> ADD with the first conv's output (in place) -> 1x1 conv (in place)."""
    import keras

    x = keras.Input(shape, batch_size=1)
    a = keras.layers.Conv2D(channels, kernel, padding="same", activation="relu",
                            **initializers(seed))(x)
    b = keras.layers.Conv2D(channels, kernel, padding="same", activation="relu",
                            **initializers(seed + 2))(a)
    b = keras.layers.Conv2D(channels, kernel, padding="same", dilation_rate=dilation,
                            **initializers(seed + 4))(b)
    y = keras.layers.ReLU()(keras.layers.Add()([a, b]))
    y = keras.layers.Conv2D(channels, 1, **initializers(seed + 6))(y)
    return keras.Model(x, y)


def in_place_layers(expected: dict[str, int]):
    """A check: how many layers of each op the planner computed in place."""
    def check(model):
        from collections import Counter

        from tinyflow.codegen import generate

        layers = generate(model).manifest["layers"]
        counts = Counter(layer["op"] for layer in layers if layer["in_place"])
        assert dict(counts) == expected, dict(counts)
    return check


def _residual(name, shape, channels, kernel, **options):
    name = f"conv_in_place_{name}"
    return Case(name, residual_block, dict(shape=shape, channels=channels, kernel=kernel,
                                           **options),
                "CONV_2D", extra_ops=("ADD",),
                check=in_place_layers({"CONV_2D": 2, "ADD": 1}), **seeds_from_name(name))


IN_PLACE_CASES = [
    _residual("3x3_c8_tap", (6, 7, 3), 8, 3),                   # odd width: a lone pixel a row
    _residual("3x3_c6_patch", (5, 8, 2), 6, 3),                 # channels not in fours
    _residual("3x3_c8_dilation2", (9, 7, 1), 8, 3, dilation=2),  # three rows held back
    _residual("5x3_c4", (8, 5, 1), 4, (5, 3)),
]


@pytest.mark.parametrize("case", IN_PLACE_CASES, ids=str)
def test_conv_in_place_matches_tflm(case):
    assert_case_matches_tflm(case)
