"""TRANSPOSE_CONV (keras.layers.Conv2DTranspose) on int8 with per-channel weights:
strides 1 to 3 (also unequal), kernels smaller than, equal to and larger than the
stride, SAME and VALID padding, with and without a bias, on static and dynamic batch."""

from __future__ import annotations

import pytest

from .harness import Case, assert_case_matches_tflm, dims, first_op, initializers, seeds_from_name


def conv_transpose(shape, filters, kernel, strides, padding, use_bias, activation=None,
                   batch_size=1, seed=0):
    import keras

    x = keras.Input(shape, batch_size=batch_size)
    layer = keras.layers.Conv2DTranspose(filters, kernel, strides=strides, padding=padding,
                                         use_bias=use_bias, activation=activation,
                                         **initializers(seed))
    return keras.Model(x, layer(x))


def has_bias(expected):
    """The converter gives the bias as TRANSPOSE_CONV's fourth input (or none)."""
    def check(model):
        op = first_op(model, "TRANSPOSE_CONV")
        assert (len(op.inputs) == 4 and op.inputs[3] >= 0) == expected, op.inputs
    return check


def _case(shape, filters, kernel, strides, padding, use_bias=True, activation=None,
          batch_size=1):
    pair = lambda v: v if isinstance(v, tuple) else (v, v)   # noqa: E731
    name = (f"transpose_conv_{dims(shape)}_f{filters}_k{dims(pair(kernel))}"
            f"_s{dims(pair(strides))}_{padding}{'' if use_bias else '_nobias'}"
            f"{'_' + activation if activation else ''}"
            f"{'_dynamic_batch' if batch_size is None else ''}")
    seeds = seeds_from_name(name)
    return Case(name, conv_transpose,
                dict(shape=shape, filters=filters, kernel=kernel, strides=strides,
                     padding=padding, use_bias=use_bias, activation=activation,
                     batch_size=batch_size, seed=seeds["keras_seed"]),
                "TRANSPOSE_CONV", check=has_bias(use_bias), **seeds)


CASES = [
    _case((6, 5, 4), 3, 3, 2, "same"),
    _case((6, 5, 4), 3, 3, 2, "valid"),
    _case((5, 5, 8), 8, 4, 2, "same"),              # kernel a multiple of the stride
    _case((4, 6, 3), 5, 2, 2, "valid", use_bias=False),
    _case((7, 4, 2), 6, 3, 1, "same"),              # stride 1: a plain (flipped) convolution
    _case((4, 4, 6), 4, 5, 3, "same"),              # kernel larger than the stride, odd pad
    _case((3, 5, 4), 2, (3, 2), (2, 1), "valid"),   # unequal kernel and strides
    _case((5, 3, 3), 4, 2, 3, "same"),              # kernel smaller than the stride: gaps
    _case((6, 6, 4), 4, 3, 2, "same", activation="relu"),
    _case((5, 4, 3), 4, 3, 2, "same", batch_size=None),
    _case((4, 3, 16), 12, 3, 2, "valid", batch_size=None),
]


@pytest.mark.parametrize("case", CASES, ids=str)
def test_transpose_conv_matches_tflm(case):
    assert_case_matches_tflm(case)


# --- what TFLM refuses: one clear reason each (one-op models built as IR) ----------------------

def _refused(filter_shape=(3, 3, 3, 4), output_shape=(1, 12, 10, 3), shape_values=None,
             filter_axis=0, constant_filter=True):
    """The refusal of a one-op TRANSPOSE_CONV on a 1x6x5x4 input (tensor order as TFLite's:
    output shape, filter, input; then the output)."""
    import numpy as np

    from tinyflow.codegen.ir import Quantization, Tensor

    from .test_data_movement import _refusal

    shape_values = np.array(shape_values or output_shape, dtype=np.int32)
    filters = filter_shape[0]
    weights = np.ones(filter_shape, dtype=np.int8) if constant_filter else None
    tensors = [Tensor(0, "input", (1, 6, 5, 4), "int8", Quantization((0.5,), (0,))),
               Tensor(1, "output", output_shape, "int8", Quantization((0.5,), (0,))),
               Tensor(2, "output_shape", shape_values.shape, "int32", data=shape_values),
               Tensor(3, "filter", filter_shape, "int8",
                      Quantization((0.1,) * filters, (0,) * filters, axis=filter_axis),
                      data=weights)]
    message = _refusal("TRANSPOSE_CONV", tensors, (2, 3, 0), (1,),
                       {"padding": "SAME", "stride_h": 2, "stride_w": 2})
    assert "op #0 (TRANSPOSE_CONV)" in message
    return message


def test_transpose_conv_refusals_name_the_reason():
    assert "filter must be a constant tensor" in _refused(constant_filter=False)
    assert "filter has 5 input channels, the input 4" in _refused(filter_shape=(3, 3, 3, 5))
    assert ("output shape tensor [1, 12, 11, 3] differs from the output's [1, 12, 10, 3]"
            in _refused(shape_values=(1, 12, 11, 3)))
    assert "does not match 1 batches of 2 filters" in _refused(filter_shape=(2, 3, 3, 4))
    assert "quantized along axis 3; TFLM expects axis 0" in _refused(filter_axis=3)
