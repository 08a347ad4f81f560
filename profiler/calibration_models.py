"""Small int8 models that exercise every kernel variant the cost model knows.

Calibration fits coefficients on these, never on the MLPerf Tiny models (those
are the held-out test of the fit). Shapes are chosen to span the ranges real
tiny models use: 1-3 channel first layers on 1-channel audio and 3-channel images,
8-128 channels, spatial sizes from 3x3 to 48x48, 1x1 and strided layers, and
dense layers from 8 to 640 wide.

Each builder takes the ``keras`` module and returns (keras.Model, input shape).
Weights and representative data are seeded, so the same tinyflow version makes the
same .tflite files; they are converted once and cached.
"""

from __future__ import annotations

import hashlib
import inspect
from pathlib import Path

import numpy as np

from tinyflow.common import publish_file
from tinyflow.errors import CalibrationError

REPRESENTATIVE_SAMPLES = 16


def _dw_separable(keras, x, filters: int, stride: int = 1, kernel: int = 3, multiplier: int = 1):
    x = keras.layers.DepthwiseConv2D(kernel, strides=stride, padding="same",
                                     depth_multiplier=multiplier, activation="relu")(x)
    return keras.layers.Conv2D(filters, 1, activation="relu")(x)


def mobilenet_rgb(keras):
    """MobileNet-like on a 40x40 RGB image: shallow first conv, depthwise 3x3, 1x1."""
    inputs = keras.Input((40, 40, 3), batch_size=1)
    x = keras.layers.Conv2D(8, 3, strides=2, padding="same", activation="relu")(inputs)
    x = _dw_separable(keras, x, 16)
    x = _dw_separable(keras, x, 32, stride=2)
    x = _dw_separable(keras, x, 32)
    x = _dw_separable(keras, x, 64, stride=2)
    x = _dw_separable(keras, x, 128, stride=2)
    x = keras.layers.AveragePooling2D(3)(x)
    x = keras.layers.Flatten()(x)
    x = keras.layers.Dense(10)(x)
    return keras.Model(inputs, keras.layers.Softmax()(x))


def mobilenet_wide(keras):
    """Wider, deeper channels at small resolution (VWW's tail: 3x3 maps, 128-256 channels)."""
    inputs = keras.Input((24, 24, 8), batch_size=1)
    x = keras.layers.Conv2D(24, 3, padding="same", activation="relu")(inputs)
    x = _dw_separable(keras, x, 48, stride=2)
    x = _dw_separable(keras, x, 96, stride=2)
    x = _dw_separable(keras, x, 192)
    x = _dw_separable(keras, x, 160, stride=2)
    x = keras.layers.AveragePooling2D(3)(x)
    x = keras.layers.Flatten()(x)
    x = keras.layers.Dense(2)(x)
    return keras.Model(inputs, keras.layers.Softmax()(x))


def keyword_audio(keras):
    """Audio features (1 channel), a tall 10x4 first filter, depthwise-separable blocks."""
    inputs = keras.Input((40, 12, 1), batch_size=1)
    x = keras.layers.Conv2D(48, (10, 4), strides=2, padding="same", activation="relu")(inputs)
    x = _dw_separable(keras, x, 48)
    x = _dw_separable(keras, x, 48)
    x = _dw_separable(keras, x, 80)
    x = keras.layers.AveragePooling2D((20, 6))(x)
    x = keras.layers.Flatten()(x)
    x = keras.layers.Dense(12)(x)
    return keras.Model(inputs, keras.layers.Softmax()(x))


def residual_rgb(keras):
    """ResNet-like: 3x3 convolutions with residual adds and a strided 1x1 shortcut."""
    inputs = keras.Input((24, 24, 3), batch_size=1)
    x = keras.layers.Conv2D(12, 3, padding="same", activation="relu")(inputs)
    y = keras.layers.Conv2D(12, 3, padding="same", activation="relu")(x)
    y = keras.layers.Conv2D(12, 3, padding="same")(y)
    x = keras.layers.ReLU()(keras.layers.Add()([x, y]))
    y = keras.layers.Conv2D(24, 3, strides=2, padding="same", activation="relu")(x)
    y = keras.layers.Conv2D(24, 3, padding="same")(y)
    s = keras.layers.Conv2D(24, 1, strides=2)(x)
    x = keras.layers.ReLU()(keras.layers.Add()([s, y]))
    y = keras.layers.Conv2D(48, 3, strides=2, padding="same", activation="relu")(x)
    y = keras.layers.Conv2D(48, 3, padding="same")(y)
    s = keras.layers.Conv2D(48, 1, strides=2)(x)
    x = keras.layers.ReLU()(keras.layers.Add()([s, y]))
    x = keras.layers.AveragePooling2D(6)(x)
    x = keras.layers.Flatten()(x)
    x = keras.layers.Dense(10)(x)
    return keras.Model(inputs, keras.layers.Softmax()(x))


def first_layers(keras):
    """Several first-layer (3-channel) convolutions side by side, summed, then pooled."""
    inputs = keras.Input((32, 32, 3), batch_size=1)
    a = keras.layers.Conv2D(16, 3, strides=2, padding="same", activation="relu")(inputs)
    b = keras.layers.Conv2D(16, 5, strides=2, padding="same", activation="relu")(inputs)
    c = keras.layers.Conv2D(16, 7, strides=2, padding="same")(inputs)
    x = keras.layers.Add()([keras.layers.Add()([a, b]), c])
    x = keras.layers.Multiply()([x, a])
    x = keras.layers.MaxPooling2D(2)(x)
    x = keras.layers.DepthwiseConv2D(5, padding="same", activation="relu")(x)
    x = keras.layers.MaxPooling2D(3, strides=1, padding="same")(x)
    x = keras.layers.Conv2D(32, 3, strides=2, padding="same", activation="relu")(x)
    x = keras.layers.MaxPooling2D(4)(x)
    x = keras.layers.Flatten()(x)
    return keras.Model(inputs, keras.layers.Dense(10)(x))


def spectrogram(keras):
    """1-channel inputs with several first-filter shapes, products, pools."""
    inputs = keras.Input((32, 16, 1), batch_size=1)
    a = keras.layers.Conv2D(8, 3, padding="same", activation="relu")(inputs)
    b = keras.layers.Conv2D(8, (5, 3), padding="same", activation="relu")(inputs)
    x = keras.layers.Multiply()([a, b])
    x = keras.layers.Add()([x, a])
    x = keras.layers.MaxPooling2D((2, 2))(x)
    x = keras.layers.DepthwiseConv2D((5, 3), depth_multiplier=2, padding="same",
                                     activation="relu")(x)
    x = keras.layers.Conv2D(32, 1, activation="relu")(x)
    x = keras.layers.AveragePooling2D((2, 2))(x)
    x = keras.layers.Conv2D(32, 3, padding="same", activation="relu")(x)
    x = keras.layers.MaxPooling2D((8, 4))(x)
    x = keras.layers.Flatten()(x)
    x = keras.layers.Dense(6)(x)
    return keras.Model(inputs, keras.layers.Softmax()(x))


def plain_convs(keras):
    """General convolutions of several sizes, VALID padding, max pooling, a product."""
    inputs = keras.Input((20, 20, 4), batch_size=1)
    x = keras.layers.Conv2D(16, 3, padding="valid", activation="relu")(inputs)
    x = keras.layers.Conv2D(32, 3, padding="same", activation="relu")(x)
    x = keras.layers.MaxPooling2D(2)(x)
    x = keras.layers.Conv2D(40, 5, padding="same", activation="relu")(x)
    a = keras.layers.Conv2D(24, 3, padding="same", activation="relu")(x)
    b = keras.layers.Conv2D(24, 1, activation="relu")(x)
    x = keras.layers.Multiply()([a, b])
    x = keras.layers.MaxPooling2D(3, strides=2)(x)
    x = keras.layers.Conv2D(64, 3, padding="same", activation="relu")(x)
    x = keras.layers.Flatten()(x)
    x = keras.layers.Dense(100)(x)
    return keras.Model(inputs, keras.layers.Softmax()(x))


def depthwise_variants(keras):
    """Depthwise 3x3 with a channel multiplier, 5x5 and 3x3 strided, average pools."""
    inputs = keras.Input((28, 28, 6), batch_size=1)
    x = keras.layers.DepthwiseConv2D(3, padding="same", depth_multiplier=2,
                                     activation="relu")(inputs)
    x = keras.layers.DepthwiseConv2D(5, padding="same", activation="relu")(x)
    x = keras.layers.Conv2D(24, 1, activation="relu")(x)
    x = keras.layers.AveragePooling2D(2)(x)
    x = keras.layers.DepthwiseConv2D(5, strides=2, padding="same", activation="relu")(x)
    x = keras.layers.DepthwiseConv2D(3, strides=2, padding="same", depth_multiplier=2,
                                     activation="relu")(x)
    x = keras.layers.Conv2D(64, 1, activation="relu")(x)
    x = keras.layers.DepthwiseConv2D(7, padding="same", activation="relu")(x)
    x = keras.layers.AveragePooling2D(4)(x)
    x = keras.layers.Flatten()(x)
    x = keras.layers.Dense(20)(x)
    return keras.Model(inputs, keras.layers.Softmax()(x))


def dense_autoencoder(keras):
    """Dense layers from 8 to 400 wide (an anomaly-detection autoencoder's shape)."""
    inputs = keras.Input((400,), batch_size=1)
    x = inputs
    for units in (160, 96, 48, 8, 48, 96, 160):
        x = keras.layers.Dense(units, activation="relu")(x)
    return keras.Model(inputs, keras.layers.Dense(400)(x))


def _pruned_2_4(model, keep_one=()):
    """``model`` with every Dense and Conv2D kernel pruned 2:4 by magnitude along its
    flattened depth (1:4 for the layers at positions ``keep_one``)."""
    from tinyflow.codegen.ops.sparse import prune_by_magnitude

    weighted = [layer for layer in model.layers if getattr(layer, "kernel", None) is not None]
    for position, layer in enumerate(weighted):
        kernel, bias = layer.get_weights()      # [..., depth, units]: groups along the depth
        rows = kernel.reshape(-1, kernel.shape[-1]).T
        pruned = prune_by_magnitude(rows, keep=1 if position in keep_one else 2)
        layer.set_weights([pruned.T.reshape(kernel.shape), bias])
    return model


def sparse_dense(keras):
    """Dense layers 64 to 512 deep pruned 2:4 by magnitude (one 1:4): the sparse kernel."""
    inputs = keras.Input((512,), batch_size=1)
    x = inputs
    for units in (192, 96, 64, 128, 256):
        x = keras.layers.Dense(units, activation="relu" if units != 256 else None)(x)
    return _pruned_2_4(keras.Model(inputs, x), keep_one=(2,))


def sparse_convs(keras):
    """Convolutions pruned 2:4 on the sparse column kernel: patch-gathered (6 and 30
    channels), tap-gathered and direct (1x1) columns; then dense layers on 9 rows."""
    inputs = keras.Input((10, 10, 6), batch_size=1)
    x = keras.layers.Conv2D(48, 3, padding="same", activation="relu")(inputs)    # patch
    x = keras.layers.Conv2D(64, 3, strides=2, padding="same", activation="relu")(x)  # tap
    x = keras.layers.Conv2D(64, 1, activation="relu")(x)                         # direct
    x = keras.layers.Conv2D(32, 1, activation="relu")(x)                         # direct
    x = keras.layers.Conv2D(40, 3, padding="same", activation="relu")(x)         # tap
    x = keras.layers.Conv2D(30, 1, activation="relu")(x)
    x = keras.layers.Conv2D(64, 3, activation="relu")(x)                         # patch, 30
    x = keras.layers.Reshape((9, 64))(x)
    x = keras.layers.Dense(128, activation="relu")(x)                            # 9 rows
    x = keras.layers.Dense(96)(keras.layers.Dense(64, activation="relu")(x))
    return _pruned_2_4(keras.Model(inputs, x))


def dense_classifier(keras):
    """Dense layers on a flattened map, adds of vectors, wide softmaxes."""
    inputs = keras.Input((6, 6, 16), batch_size=1)
    x = keras.layers.Flatten()(inputs)
    a = keras.layers.Dense(128, activation="relu")(x)
    b = keras.layers.Dense(128, activation="relu")(x)
    x = keras.layers.Add()([a, b])
    x = keras.layers.Multiply()([x, a])
    x = keras.layers.Dense(200, activation="relu")(x)
    x = keras.layers.Dense(400)(x)
    return keras.Model(inputs, keras.layers.Softmax()(x))


def misc_ops(keras):
    """The less common ops: padding, concatenation, mean, sigmoid, tanh, depthwise
    convolutions with a channel multiplier."""
    inputs = keras.Input((16, 16, 8), batch_size=1)
    x = keras.layers.ZeroPadding2D(1)(inputs)
    x = keras.layers.Conv2D(16, 3, activation="relu")(x)
    a = keras.layers.DepthwiseConv2D(3, padding="same", depth_multiplier=2)(x)
    b = keras.layers.Activation("sigmoid")(keras.layers.Conv2D(32, 1)(x))
    x = keras.layers.Concatenate()([a, b])
    x = keras.layers.DepthwiseConv2D(3, strides=2, padding="same", depth_multiplier=3,
                                     activation="relu")(x)
    x = keras.layers.ZeroPadding2D(((0, 1), (2, 0)))(x)
    x = keras.layers.Activation("tanh")(keras.layers.Conv2D(24, 1)(x))
    c = keras.layers.GlobalAveragePooling2D()(keras.layers.ZeroPadding2D(1)(x))
    x = keras.layers.Activation("sigmoid")(keras.layers.DepthwiseConv2D(
        5, padding="same", depth_multiplier=2)(x))
    d = keras.layers.GlobalAveragePooling2D()(x)
    e = keras.layers.Activation("tanh")(keras.layers.Dense(24)(d))
    x = keras.layers.Concatenate()([c, d, e])
    x = keras.layers.Reshape((1, 1, 96))(x)
    x = keras.layers.Conv2D(40, 1, activation="relu")(x)
    x = keras.layers.Flatten()(x)
    return keras.Model(inputs, keras.layers.Dense(10)(x))


def standalone_activations(keras):
    """RELU, RELU6 and LEAKY_RELU as ops of their own (not fused): on the input and
    after a concatenation, two sizes of each."""
    inputs = keras.Input((12, 12, 8), batch_size=1)
    x = keras.layers.ReLU()(inputs)
    x = keras.layers.ReLU()(keras.layers.Concatenate()([
        keras.layers.Conv2D(8, 3, padding="same")(x), keras.layers.Conv2D(8, 1)(x)]))
    x = keras.layers.LeakyReLU(0.2)(keras.layers.Conv2D(16, 3, strides=2, padding="same")(x))
    x = keras.layers.ReLU(max_value=6.0)(keras.layers.Concatenate()([
        keras.layers.Conv2D(8, 1)(x), keras.layers.Conv2D(8, 3, padding="same")(x)]))
    x = keras.layers.LeakyReLU(0.1)(keras.layers.Conv2D(24, 3, strides=2, padding="same")(x))
    x = keras.layers.ReLU(max_value=6.0)(keras.layers.Concatenate()([
        keras.layers.Conv2D(12, 1)(x), keras.layers.Conv2D(12, 1)(x)]))
    x = keras.layers.Flatten()(x)
    return keras.Model(inputs, keras.layers.Dense(10)(x))


def data_movement(keras):
    """Ops that only move values, two sizes of each kernel variant: copies of contiguous
    runs (cropping, channel splits, a transpose keeping channels last, depth to space),
    element-by-element copies (a strided slice, a channels-first transpose), nearest
    and bilinear resizes, gathers of rows and of columns."""
    import tensorflow as tf

    inputs = keras.Input((16, 16, 8), batch_size=1)
    x = keras.layers.Cropping2D(((1, 1), (2, 0)))(inputs)
    a, b = keras.ops.split(x, 2, axis=-1)
    x = keras.layers.Concatenate()([keras.layers.Permute((2, 1, 3))(a), b])
    x = keras.layers.Conv2D(16, 1)(x)
    x = keras.layers.Lambda(lambda t: tf.nn.depth_to_space(t, 2))(x)   # 28x28x4
    x = x[:, ::2, :, ::2]                                               # 14x28x2, element loop
    x = keras.layers.Resizing(20, 20, interpolation="bilinear")(x)
    x = keras.layers.Conv2D(24, 3, strides=2, padding="same")(x)       # 10x10x24
    x = keras.layers.Resizing(12, 14, interpolation="nearest")(x)
    x = keras.layers.Permute((3, 1, 2))(x)                              # 24x12x14, element loop
    x = keras.layers.Cropping2D(((2, 2), (1, 1)))(x)                    # 20x10x14
    x = keras.layers.Resizing(16, 24, interpolation="bilinear")(x)
    x = keras.layers.Resizing(5, 7, interpolation="nearest")(x)     # 5x7x14
    x = keras.ops.take(x, np.array([4, 0, 2], dtype="int32"), axis=1)             # 3x7x14
    x = keras.ops.take(x, np.array([6, 1, 1, 0, 3], dtype="int32"), axis=2)       # 3x5x14
    x = keras.layers.Flatten()(x)
    return keras.Model(inputs, keras.layers.Dense(10)(x))


def elementwise_binary(keras):
    """SUB, MAXIMUM, MINIMUM and SQUARED_DIFFERENCE, two sizes of each: same shapes on
    12x12x8, then broadcasts of a 1x1x16 average over 6x6x16."""
    import tensorflow as tf

    def squared_difference(pair):
        return keras.layers.Lambda(lambda p: tf.math.squared_difference(*p))(pair)

    inputs = keras.Input((12, 12, 8), batch_size=1)
    x = keras.layers.Subtract()([inputs, keras.layers.Conv2D(8, 1)(inputs)])
    x = keras.layers.Maximum()([x, keras.layers.Conv2D(8, 3, padding="same")(x)])
    x = keras.layers.Minimum()([x, keras.layers.Conv2D(8, 1)(x)])
    x = squared_difference([x, keras.layers.Conv2D(8, 1)(x)])
    x = keras.layers.Conv2D(16, 3, strides=2, padding="same")(x)         # 6x6x16
    x = keras.layers.Subtract()([x, keras.layers.AveragePooling2D(6)(x)])
    x = keras.layers.Maximum()([x, keras.layers.AveragePooling2D(6)(x)])
    x = keras.layers.Minimum()([x, keras.layers.AveragePooling2D(6)(x)])
    x = squared_difference([x, keras.layers.AveragePooling2D(6)(x)])
    x = keras.layers.Flatten()(x)
    return keras.Model(inputs, keras.layers.Dense(10)(x))


def layer_normalization(keras):
    """LayerNormalization (MEAN, a float NEG, SQUARED_DIFFERENCE, RSQRT as a table) over
    16 and over 48 channels, and two standalone RSQRTs of a square plus epsilon."""
    inputs = keras.Input((8, 8, 16), batch_size=1)
    x = keras.layers.LayerNormalization()(inputs)
    rsqrt = keras.layers.Lambda(lambda t: keras.ops.rsqrt(t * t + 0.01))
    x = keras.layers.Conv2D(48, 3, strides=2, padding="same")(rsqrt(x))   # 4x4x48
    x = keras.layers.LayerNormalization()(x)
    x = keras.layers.Lambda(lambda t: keras.ops.rsqrt(t * t + 0.1))(x)
    x = keras.layers.Flatten()(x)
    return keras.Model(inputs, keras.layers.Dense(10)(x))


def parametric_activations(keras):
    """PRELU (per channel, per element), HARD_SWISH (a table) and float ELU (between a
    DEQUANTIZE and a QUANTIZE), two sizes of each."""
    inputs = keras.Input((12, 12, 8), batch_size=1)
    x = keras.layers.PReLU(shared_axes=[1, 2])(keras.layers.Conv2D(8, 3, padding="same")(inputs))
    x = keras.layers.Activation("hard_swish")(keras.layers.Conv2D(16, 1)(x))
    x = keras.layers.ELU()(keras.layers.Conv2D(16, 3, padding="same")(x))
    x = keras.layers.Conv2D(24, 3, strides=2, padding="same")(x)          # 6x6x24
    x = keras.layers.PReLU()(x)
    x = keras.layers.Activation("hard_swish")(keras.layers.Conv2D(24, 1)(x))
    x = keras.layers.ELU()(keras.layers.Conv2D(24, 1)(x))
    x = keras.layers.Flatten()(x)
    return keras.Model(inputs, keras.layers.Dense(10)(x))


def int16x8_convolutions(keras):
    """int16x8 (int16 activations): convolutions, depthwise, pooling and dense layers of
    several sizes, with float32 edges (QUANTIZE to int16 in front, DEQUANTIZE behind)."""
    inputs = keras.Input((20, 20, 3), batch_size=1)
    x = keras.layers.Conv2D(8, 3, strides=2, padding="same", activation="relu")(inputs)
    x = keras.layers.DepthwiseConv2D(3, padding="same", activation="relu")(x)
    x = keras.layers.Conv2D(16, 1, activation="relu")(x)
    x = keras.layers.MaxPooling2D(2)(x)
    x = keras.layers.DepthwiseConv2D(3, padding="same", depth_multiplier=2)(x)
    x = keras.layers.Conv2D(24, 3, padding="same", activation="relu")(x)
    x = keras.layers.AveragePooling2D(2)(x)
    x = keras.layers.Flatten()(x)
    x = keras.layers.Dense(32, activation="relu")(x)
    return keras.Model(inputs, keras.layers.Dense(6)(x))


int16x8_convolutions.conversion = dict(activations="int16", int8_io=False)


def int16x8_elementwise(keras):
    """int16x8: ADD, SUB, MUL, PAD, CONCATENATION, MEAN, max/average pooling and dense
    layers, at two sizes each, with float32 edges."""
    inputs = keras.Input((12, 12, 4), batch_size=1)
    a = keras.layers.Conv2D(8, 3, padding="same")(inputs)
    b = keras.layers.Conv2D(8, 1)(inputs)
    x = keras.layers.Add()([a, b])
    x = keras.layers.Multiply()([x, b])
    x = keras.layers.Subtract()([x, a])
    x = keras.layers.ZeroPadding2D(1)(x)
    x = keras.layers.MaxPooling2D(2)(x)
    c = keras.layers.Conv2D(16, 3, padding="same")(x)
    d = keras.layers.Conv2D(16, 1)(x)
    y = keras.layers.Add()([c, d])
    y = keras.layers.Multiply()([y, d])
    y = keras.layers.Subtract()([y, c])
    y = keras.layers.Concatenate()([y, x])
    y = keras.layers.ZeroPadding2D(2)(y)
    y = keras.layers.Concatenate()([y, y])
    z = keras.layers.AveragePooling2D(3)(y)
    z = keras.layers.GlobalAveragePooling2D()(z)
    w = keras.layers.GlobalAveragePooling2D()(y)
    z = keras.layers.Dense(20)(keras.layers.Concatenate()([z, w]))
    return keras.Model(inputs, z)


int16x8_elementwise.conversion = dict(activations="int16", int8_io=False)


def int16x8_activations(keras):
    """int16x8 LOGISTIC and TANH (table interpolation) on 64 to 1,200 values, and SOFTMAX
    over 100 rows of 8 and one row of 10; float edges."""
    inputs = keras.Input((10, 10, 12), batch_size=1)
    x = keras.layers.Activation("sigmoid")(keras.layers.Conv2D(12, 1)(inputs))
    x = keras.layers.Activation("tanh")(keras.layers.Conv2D(8, 1)(x))
    x = keras.layers.Activation("softmax")(x)
    x = keras.layers.Flatten()(x)
    y = keras.layers.Activation("sigmoid")(keras.layers.Dense(64)(x))
    y = keras.layers.Activation("tanh")(keras.layers.Dense(100)(y))
    return keras.Model(inputs, keras.layers.Activation("softmax")(keras.layers.Dense(10)(y)))


int16x8_activations.conversion = dict(activations="int16", int8_io=False)


def int16x8_standalone_activations(keras):
    """int16x8 standalone RELU, RELU6 and LEAKY_RELU (after concatenations, which cannot
    fuse them), two of each at two sizes; float edges."""
    inputs = keras.Input((8, 8, 6), batch_size=1)
    x = inputs
    for filters in (6, 12):
        a = keras.layers.Conv2D(filters, 1)(x)
        b = keras.layers.Conv2D(filters, 3, padding="same")(x)
        x = keras.layers.ReLU()(keras.layers.Concatenate()([a, b]))
        x = keras.layers.ReLU(max_value=6.0)(keras.layers.Concatenate()([x, a]))
        x = keras.layers.LeakyReLU(negative_slope=0.1)(x)
    return keras.Model(inputs, x)


int16x8_standalone_activations.conversion = dict(activations="int16", int8_io=False)


def reductions_and_matmuls(keras):
    """SUM and REDUCE_MAX over channels and over space, transposed convolutions (strides
    2, 1 and (2, 1), 2x2 to 4x4 kernels) and attention-style BATCH_MATMULs (scores and
    values, two heads, a transposed left operand): at least as many layers of each as
    its cost terms, at different sizes."""
    inputs = keras.Input((8, 8, 8), batch_size=1)
    x = keras.layers.Conv2DTranspose(8, 3, strides=2, padding="same")(inputs)      # 16x16x8
    x = keras.layers.Conv2D(16, 3, strides=2, padding="same", activation="relu")(x)
    x = keras.layers.Conv2DTranspose(12, 4, padding="same")(x)                     # 8x8x12
    wide = keras.layers.Conv2DTranspose(6, 2, strides=2)(x)                         # 16x16x6
    tall = keras.layers.Conv2DTranspose(4, (3, 2), strides=(2, 1), padding="same")(
        keras.layers.MaxPooling2D(2)(wide))                                          # 16x8x4
    channel_sum = keras.ops.sum(x, axis=-1, keepdims=True)
    channel_max = keras.ops.max(x, axis=-1, keepdims=True)
    spatial_sum = keras.ops.sum(x, axis=(1, 2))
    spatial_max = keras.layers.GlobalMaxPooling2D()(x)
    wide_sum = keras.ops.sum(wide, axis=(1, 2, 3))
    tall_max = keras.ops.max(tall, axis=2)
    sequence = keras.layers.Reshape((16, 48))(x)
    q, k, v = (keras.layers.Dense(32)(sequence) for _ in range(3))
    scores = keras.layers.Softmax()(keras.ops.matmul(q, keras.ops.transpose(k, (0, 2, 1))))
    attended = keras.ops.matmul(scores, v)                                          # 16x32
    gram = keras.ops.matmul(keras.ops.transpose(k, (0, 2, 1)), v)                   # 32x32
    heads = [keras.ops.transpose(keras.layers.Reshape((16, 2, 16))(t), (0, 2, 1, 3))
             for t in (q, k)]
    head_scores = keras.ops.matmul(heads[0], keras.ops.transpose(heads[1], (0, 1, 3, 2)))
    parts = [channel_sum, channel_max, spatial_sum, spatial_max, wide_sum, tall_max, attended,
             gram, head_scores]
    x = keras.layers.Concatenate()([keras.layers.Flatten()(part) for part in parts])
    return keras.Model(inputs, keras.layers.Dense(10)(x))


def more_binary_and_data_movement(keras):
    """More sizes of the kernels a fit has few samples of: SUB, MAXIMUM, MINIMUM, PRELU,
    nearest and bilinear resizes and gathers, two more of each (each kernel's cost has
    three coefficients)."""
    inputs = keras.Input((14, 10, 12), batch_size=1)
    x = keras.layers.Conv2D(12, 1)(inputs)
    x = keras.layers.Subtract()([inputs, x])
    x = keras.layers.Maximum()([x, keras.layers.Conv2D(12, 1)(x)])
    x = keras.layers.Minimum()([x, keras.layers.Conv2D(12, 1)(x)])
    x = keras.layers.PReLU(shared_axes=[1, 2])(x)
    x = keras.layers.Resizing(18, 12, interpolation="nearest")(x)
    x = keras.layers.Resizing(9, 7, interpolation="bilinear")(x)
    x = keras.ops.take(x, np.array([8, 0, 3, 3], dtype="int32"), axis=1)          # 4x7x12
    y = keras.layers.Conv2D(20, 3, strides=2, padding="same")(x)                  # 2x4x20
    y = keras.layers.Subtract()([y, keras.layers.Conv2D(20, 1)(y)])
    y = keras.layers.Maximum()([y, keras.layers.Conv2D(20, 1)(y)])
    y = keras.layers.Minimum()([y, keras.layers.Conv2D(20, 1)(y)])
    y = keras.layers.PReLU()(y)
    y = keras.layers.Resizing(6, 10, interpolation="nearest")(y)
    y = keras.layers.Resizing(11, 5, interpolation="bilinear")(y)
    y = keras.ops.take(y, np.array([4, 1], dtype="int32"), axis=2)                # 11x2x20
    y = keras.layers.Flatten()(y)
    return keras.Model(inputs, keras.layers.Dense(10)(y))


def more_sparse_convs(keras):
    """More 2:4 sparse convolutions (patch-gathered on 30 channels, 1x1 direct ones 48 to
    96 deep, tap-gathered) and dense layers on several rows, at other sizes: a matrix
    kernel's cost has five coefficients."""
    inputs = keras.Input((10, 10, 5), batch_size=1)
    x = keras.layers.Conv2D(64, 3, padding="same", activation="relu")(inputs)
    x = keras.layers.Conv2D(96, 1, activation="relu")(x)                          # direct
    x = keras.layers.Conv2D(64, 1, activation="relu")(x)                          # direct
    x = keras.layers.Conv2D(80, 1, activation="relu")(x)                          # direct
    x = keras.layers.Conv2D(30, 1, activation="relu")(x)
    x = keras.layers.Conv2D(48, 3, padding="same", activation="relu")(x)          # patch, 30
    x = keras.layers.Conv2D(64, 1, activation="relu")(x)                          # direct
    x = keras.layers.Conv2D(30, 1, activation="relu")(x)
    x = keras.layers.Conv2D(40, (3, 2), padding="same", activation="relu")(x)     # patch, 30
    x = keras.layers.Conv2D(30, 1, activation="relu")(x)
    x = keras.layers.Conv2D(40, (2, 3), padding="same", activation="relu")(x)     # patch, 30
    x = keras.layers.Conv2D(40, 3, strides=2, padding="same", activation="relu")(x)  # tap
    x = keras.layers.Conv2D(48, 3, padding="same", activation="relu")(x)          # tap, 40
    x = keras.layers.Conv2D(40, (2, 3), padding="same", activation="relu")(x)     # tap, 48
    x = keras.layers.Reshape((5, 200))(x)
    x = keras.layers.Dense(160, activation="relu")(x)                             # 5 rows
    x = keras.layers.Reshape((4, 200))(x)
    x = keras.layers.Dense(144, activation="relu")(x)                             # 4 rows
    x = keras.layers.Reshape((3, 192))(x)
    x = keras.layers.Dense(128)(x)                                                # 3 rows
    return _pruned_2_4(keras.Model(inputs, x))


def int16x8_more_samples(keras):
    """int16x8: more pooling, depthwise and SOFTMAX layers (their costs have three or four
    coefficients), at other sizes; float edges."""
    inputs = keras.Input((24, 16, 6), batch_size=1)
    x = keras.layers.MaxPooling2D(2)(inputs)                                      # 12x8x6
    x = keras.layers.DepthwiseConv2D(3, padding="same")(x)
    x = keras.layers.AveragePooling2D((3, 2), strides=1)(x)                       # 10x7x6
    x = keras.layers.Conv2D(10, 1)(x)
    x = keras.layers.MaxPooling2D(3, strides=2, padding="same")(x)                # 5x4x10
    x = keras.layers.DepthwiseConv2D((3, 5), padding="same")(x)
    x = keras.layers.AveragePooling2D(2, padding="same")(x)                       # 3x2x10
    x = keras.layers.Activation("softmax")(x)
    x = keras.layers.MaxPooling2D((3, 1))(x)                                      # 1x2x10
    x = keras.layers.AveragePooling2D((1, 2))(x)                                  # 1x1x10
    x = keras.layers.Flatten()(x)
    y = keras.layers.Activation("softmax")(keras.layers.Dense(40)(x))
    return keras.Model(inputs, keras.layers.Dense(4)(y))


int16x8_more_samples.conversion = dict(activations="int16", int8_io=False)


# A builder's position is its seed: new builders go at the end.
BUILDERS = [mobilenet_rgb, mobilenet_wide, keyword_audio, residual_rgb, first_layers,
            spectrogram, plain_convs, depthwise_variants, dense_autoencoder, dense_classifier,
            misc_ops, standalone_activations, data_movement, elementwise_binary,
            layer_normalization, parametric_activations, sparse_dense,
            int16x8_convolutions, int16x8_elementwise, int16x8_activations, sparse_convs,
            int16x8_standalone_activations, reductions_and_matmuls,
            more_binary_and_data_movement, more_sparse_convs, int16x8_more_samples]


def _fingerprint(builder) -> str:
    """Changes when the builder's code (or its conversion) does, so stale cached
    conversions are not used."""
    source = inspect.getsource(builder) + repr(sorted(getattr(builder, "conversion", {}).items()))
    return hashlib.sha256(source.encode()).hexdigest()[:12]


def calibration_models(cache: Path) -> list[tuple[str, bytes]]:
    """(name, int8 .tflite bytes) of every calibration model, converting the missing ones."""
    cache.mkdir(parents=True, exist_ok=True)
    models = []
    for seed, builder in enumerate(BUILDERS):
        path = cache / f"{builder.__name__}-{_fingerprint(builder)}.tflite"
        if not path.exists():
            for stale in cache.glob(f"{builder.__name__}-*.tflite"):
                stale.unlink()      # from an older version of the builder
            publish_file(path, _convert(builder, seed))
        models.append((builder.__name__, path.read_bytes()))
    return models


def _convert(builder, seed: int) -> bytes:
    try:
        import keras
    except ImportError as exc:
        raise CalibrationError("calibration builds its models with TensorFlow/Keras, which is "
                               "not installed: pip install 'tinyflow[train]'") from exc

    from tinyflow.convert import quantize_keras

    keras.utils.set_random_seed(1000 + seed)
    model = builder(keras)
    shape = tuple(model.inputs[0].shape[1:])
    samples = np.random.default_rng(seed).normal(size=(REPRESENTATIVE_SAMPLES,) + shape)
    # A builder's `conversion` attribute: int16x8 and float edges (int8 by default).
    return quantize_keras(model, samples.astype(np.float32),
                          **getattr(builder, "conversion", {}))
