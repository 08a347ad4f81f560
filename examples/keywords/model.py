"""The keywords example's model: a small DS-CNN, the architecture of MLPerf Tiny's
keyword-spotting reference, for the (49, 10, 1) MFCCs of ``tinyflow.datasets.keywords``.

A strided Conv2D looks at the whole spectrogram at a coarse step; each block after it
is a depthwise 3x3 convolution (one filter per channel: cheap) followed by a 1x1
convolution that mixes the channels; global average pooling and a softmax classify.

``filters`` and ``width`` are the search's knobs: ``filters`` is the number of
channels, ``width`` scales it (MobileNet's width multiplier); ``blocks`` is the
number of depthwise-separable blocks. Built the default Keras way: dynamic batch.
"""

import keras


def build(input_shape, num_classes, filters=32, width=1.0, blocks=3):
    channels = max(4, round(filters * width))
    inputs = keras.Input(input_shape)
    # A 10x4 window over (time, frequency), every 2 frames and 2 coefficients.
    x = keras.layers.Conv2D(channels, (10, 4), strides=2, padding="same", use_bias=False)(inputs)
    x = keras.layers.BatchNormalization(momentum=0.9)(x)
    x = keras.layers.ReLU()(x)
    for _ in range(blocks):
        x = keras.layers.DepthwiseConv2D(3, padding="same", use_bias=False)(x)
        x = keras.layers.BatchNormalization(momentum=0.9)(x)
        x = keras.layers.ReLU()(x)
        x = keras.layers.Conv2D(channels, 1, use_bias=False)(x)
        x = keras.layers.BatchNormalization(momentum=0.9)(x)
        x = keras.layers.ReLU()(x)
    x = keras.layers.GlobalAveragePooling2D()(x)
    outputs = keras.layers.Dense(num_classes, activation="softmax")(x)
    return keras.Model(inputs, outputs, name="ds_cnn")
