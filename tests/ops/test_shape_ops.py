"""Ops that move or reduce data: RESHAPE, PAD, PADV2, CONCATENATION, MEAN."""

from __future__ import annotations

import numpy as np
import pytest

from .harness import (Case, assert_case_matches_tflm, dims, first_op, initializers,
                      seeds_from_name, span, value_range)


# --- RESHAPE -------------------------------------------------------------------------------------
def conv_reshape(shape, target):
    """A 1x1 Conv2D, then Reshape(target)."""
    import keras

    x = keras.Input(shape, batch_size=1)
    y = keras.layers.Conv2D(3, 1, **initializers(80))(x)
    return keras.Model(x, keras.layers.Reshape(target)(y))


def flatten_softmax(shape):
    import keras

    x = keras.Input(shape, batch_size=1)
    return keras.Model(x, keras.layers.Softmax()(keras.layers.Flatten()(x)))


RESHAPE_CASES = [
    Case("reshape_to_2d", conv_reshape, dict(shape=(4, 6, 2), target=(8, 9)), "RESHAPE",
         extra_ops=("CONV_2D",), **seeds_from_name("reshape_to_2d")),
    Case("flatten_then_softmax", flatten_softmax, dict(shape=(2, 3, 4)), "RESHAPE",
         extra_ops=("SOFTMAX",), calibration=value_range(4.0),
         **seeds_from_name("flatten_then_softmax")),
]


# --- PAD / PADV2 ---------------------------------------------------------------------------------
def zero_padding_2d(shape, padding):
    import keras

    x = keras.Input(shape, batch_size=1)
    return keras.Model(x, keras.layers.ZeroPadding2D(padding)(x))


def pad_with_constant(shape, paddings, value):
    """keras.ops.pad with a non-zero constant: PADV2."""
    import keras

    x = keras.Input(shape, batch_size=1)
    return keras.Model(x, keras.ops.pad(x, paddings, constant_values=value))


def _pads(paddings) -> str:
    return "-".join(f"{before}{after}" for before, after in paddings)


def pads_with_zero_point(model):
    """With calibration on (0.5, 3) the range still holds 0.0 (the padding), so the
    zero point is far from 0: PAD must fill with it, not with 0."""
    assert model.tensors[first_op(model, "PAD").outputs[0]].zero_point < -100


PAD_CASES = [
    Case(f"pad_{dims(shape)}_pads{_pads(padding)}_range{span(calibration)}", zero_padding_2d,
         dict(shape=shape, padding=padding), "PAD", calibration=calibration, input_seed=1,
         check=pads_with_zero_point if calibration[0] > 0 else None)
    for calibration in [(-1.0, 1.0), (0.5, 3.0)]
    for shape, padding in [
        ((6, 5, 3), ((1, 2), (0, 3))),
        ((4, 4, 1), ((0, 0), (2, 2))),
        ((3, 7, 8), ((3, 0), (0, 0))),
        ((1, 1, 2), ((1, 1), (1, 1))),
    ]
]

PADV2_CASES = [
    Case(f"padv2_{dims(shape)}_pads{_pads(paddings)}_value{value:g}", pad_with_constant,
         dict(shape=shape, paddings=paddings, value=value), "PADV2", input_seed=2)
    for shape, paddings, value in [
        ((6, 5, 3), [[0, 0], [1, 1], [2, 0], [0, 1]], 0.5),
        ((4, 6), [[0, 0], [0, 0], [3, 2]], -0.75),
        ((9,), [[0, 0], [4, 1]], 0.25),
        ((2, 3, 2, 2), [[0, 0], [1, 0], [0, 2], [1, 1], [0, 3]], 0.9),
    ]
]


def _random_pad_params(count, seed):
    """Random shapes (rank 1-4 after the batch axis), paddings and constants."""
    rng = np.random.default_rng(seed)
    cases = []
    for _ in range(count):
        rank = int(rng.integers(1, 5))
        shape = tuple(int(d) for d in rng.integers(1, 6, size=rank))
        paddings = [[0, 0]] + [[int(a), int(b)] for a, b in rng.integers(0, 4, size=(rank, 2))]
        value = round(float(rng.uniform(-1.0, 1.0)), 3)
        cases.append(dict(shape=shape, paddings=paddings, value=value))
    return cases


RANDOM_PADV2_CASES = [
    # A constant that quantizes to the zero point may convert to PAD: either op will do.
    Case(f"padv2_random{i}_{dims(params['shape'])}", pad_with_constant, params, ("PADV2", "PAD"),
         input_seed=10)
    for i, params in enumerate(_random_pad_params(8, seed=7))
]


# --- CONCATENATION -------------------------------------------------------------------------------
def concatenate(shape, axis, branches):
    """x concatenated with branches computed from x (so they share one input):
    "scaled" (x / 2), "conv" (1x1 Conv2D), "dense", "same" (x itself)."""
    import keras

    x = keras.Input(shape, batch_size=1)
    parts = [x]
    for branch in branches:
        if branch == "scaled":
            parts.append(keras.layers.Rescaling(0.5)(x))
        elif branch == "conv":
            parts.append(keras.layers.Conv2D(shape[-1], 1, use_bias=True)(x))
        elif branch == "dense":
            parts.append(keras.layers.Dense(shape[-1])(x))
        elif branch == "same":
            parts.append(x)
        else:
            raise ValueError(f"unknown branch {branch!r}")
    return keras.Model(x, keras.layers.Concatenate(axis=axis)(parts))


def requantized_concat(shape):
    """tanh's output scale is fixed at 1/128, so concatenating it with its input
    makes the converter requantize one side: an int8 -> int8 QUANTIZE."""
    import keras

    x = keras.Input(shape, batch_size=1)
    return keras.Model(x, keras.layers.Concatenate()([keras.layers.Rescaling(4.0)(x),
                                                      keras.layers.Activation("tanh")(x)]))


def concatenates_on(axis, input_rank):
    """The CONCATENATION's axis option is ``axis`` (either sign) of the batched shape."""
    def check(model):
        op = first_op(model, "CONCATENATION")
        rank = len(model.tensors[op.outputs[0]].shape)
        assert op.options["axis"] % rank == axis % (input_rank + 1)
    return check


def requantizes_int8(model):
    assert any(op.opcode == "QUANTIZE" and model.tensors[op.inputs[0]].dtype == "int8"
               for op in model.operators), "no int8 -> int8 QUANTIZE"


CONCATENATION_CASES = [
    Case(f"concat_{dims(shape)}_axis{axis}_{'_'.join(branches)}", concatenate,
         dict(shape=shape, axis=axis, branches=branches), "CONCATENATION",
         check=concatenates_on(axis, len(shape)), input_seed=3)
    for shape, axis, branches in [
        ((4, 5, 3), -1, ("conv",)),
        ((4, 5, 3), 1, ("conv", "same")),
        ((4, 5, 3), 2, ("scaled",)),
        ((4, 5, 3), 3, ("conv", "scaled")),
        ((7,), -1, ("dense", "same")),
    ]
] + [
    Case("concat_requantized_3x4x2", requantized_concat, dict(shape=(3, 4, 2)), "CONCATENATION",
         extra_ops=("QUANTIZE",), check=requantizes_int8, input_seed=4),
]


# --- MEAN ----------------------------------------------------------------------------------------
def global_average_pooling(shape, keepdims):
    import keras

    x = keras.Input(shape, batch_size=1)
    return keras.Model(x, keras.layers.GlobalAveragePooling2D(keepdims=keepdims)(x))


def mean_over(shape, axis, keepdims):
    """keras.ops.mean. The converter calibrates MEAN's output on its own (narrower)
    range, so its quantization differs from the input's: the rescaling path."""
    import keras

    x = keras.Input(shape, batch_size=1)
    return keras.Model(x, keras.ops.mean(x, axis=axis, keepdims=keepdims))


def keeps_dims(keepdims):
    def check(model):
        assert first_op(model, "MEAN").options.get("keep_dims", False) == keepdims
    return check


def _axes(axis) -> str:
    return "_".join(str(a) for a in axis) if isinstance(axis, tuple) else str(axis)


def _keepdims(keepdims) -> str:
    return "_keepdims" if keepdims else ""


MEAN_CASES = [
    Case(f"mean_global_pool_{dims(shape)}{_keepdims(keepdims)}", global_average_pooling,
         dict(shape=shape, keepdims=keepdims), "MEAN", check=keeps_dims(keepdims), input_seed=5)
    for shape, keepdims in [
        ((6, 5, 3), False),
        ((6, 5, 3), True),
        ((16, 16, 8), False),   # 256 values per mean: the 1/count folds into the shift
        ((3, 7, 2), False),     # 21: not a power of two
    ]
] + [
    Case(f"mean_{dims(shape)}_axes{_axes(axis)}{_keepdims(keepdims)}_range{span(calibration)}",
         mean_over, dict(shape=shape, axis=axis, keepdims=keepdims), "MEAN",
         check=keeps_dims(keepdims), calibration=calibration, input_seed=6)
    for shape, axis, keepdims, calibration in [
        ((6, 5, 3), -1, True, (-1.0, 1.0)),
        ((6, 5, 3), -1, False, (-1.0, 1.0)),
        ((6, 5, 3), (1, 2), False, (-0.5, 2.0)),
        ((6, 5, 3), (1, 3), True, (-1.0, 1.0)),
        ((6, 5, 3), (-3, -2), True, (-1.0, 1.0)),
        ((6, 5, 3), 1, False, (0.0, 1.0)),
        ((10,), -1, False, (-1.0, 1.0)),
        ((4, 9), (1, 2), False, (-2.0, 0.5)),
        ((2, 3, 4, 5), (2, 4), True, (-1.0, 1.0)),
        ((2, 3, 4, 5), (1, 2, 3, 4), False, (-1.0, 1.0)),
        ((32, 32, 2), (1, 2), False, (-1.0, 1.0)),    # 1024 values per mean
        ((25, 40, 1), (1, 2), True, (-1.0, 1.0)),     # 1000 values per mean
    ]
]


def _random_mean_params(count, seed):
    """Random shapes (rank 1-4 after the batch axis), axis sets, keep_dims, ranges."""
    rng = np.random.default_rng(seed)
    cases = []
    for _ in range(count):
        rank = int(rng.integers(1, 5))
        shape = [int(d) for d in rng.integers(1, 7, size=rank)]
        axis_count = int(rng.integers(1, rank + 1))
        axes = sorted(set(int(a) for a in rng.integers(1, rank + 1, size=axis_count)))
        # A mean over size-1 axes only would convert to a RESHAPE: make one axis wider.
        shape[axes[0] - 1] = max(shape[axes[0] - 1], 2)
        shape = tuple(shape)
        axes = tuple(a - (rank + 1) if rng.random() < 0.5 else a for a in axes)  # some negative
        keepdims = bool(rng.random() < 0.5)
        low = float(rng.uniform(-2.0, 0.0))
        cases.append((dict(shape=shape, axis=axes, keepdims=keepdims),
                      (low, low + float(rng.uniform(0.5, 3.0)))))
    return cases


RANDOM_MEAN_CASES = [
    Case(f"mean_random{i}_{dims(params['shape'])}", mean_over, params, "MEAN",
         calibration=calibration, input_seed=9)
    for i, (params, calibration) in enumerate(_random_mean_params(12, seed=2024))
]

CASES = (RESHAPE_CASES + PAD_CASES + PADV2_CASES + RANDOM_PADV2_CASES + CONCATENATION_CASES
         + MEAN_CASES + RANDOM_MEAN_CASES)


@pytest.mark.parametrize("case", CASES, ids=str)
def test_shape_op_matches_tflm(case):
    assert_case_matches_tflm(case)


@pytest.mark.parametrize("input_scales, activation, reason", [
    ((0.5, 0.25), "NONE", "does not rescale"),
    ((0.5, 0.5), "RELU", "supports only NONE"),
])
def test_concatenation_refuses_what_tflm_refuses(input_scales, activation, reason):
    """TFLM's int8 CONCATENATION Prepare rejects inputs quantized unlike the output
    and fused activations; so do we. The converter emits neither (it requantizes
    inputs and keeps activations separate), so build the IR directly."""
    from tinyflow.codegen.ir import Model, Operator, Quantization, Tensor
    from tinyflow.codegen.ops.base import Layer, Unsupported
    from tinyflow.codegen.ops.concatenation import concatenation

    def int8_tensor(index, shape, scale):
        return Tensor(index, f"t{index}", shape, "int8", Quantization((scale,), (0,)))

    tensors = [int8_tensor(0, (1, 2), input_scales[0]), int8_tensor(1, (1, 2), input_scales[1]),
               int8_tensor(2, (1, 4), 0.5)]
    op = Operator(0, "CONCATENATION", (0, 1), (2,),
                  {"axis": 1, "fused_activation_function": activation})
    model = Model("refused_concat", tensors, [op], (0, 1), (2,))
    layer = Layer(op, model, lambda i: f"w{i}")
    with pytest.raises(Unsupported, match=reason):
        concatenation(layer)
