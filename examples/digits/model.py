"""The digits example's model: a small CNN for scikit-learn's 8x8 handwritten digits.

``filters`` and ``width`` are the search's knobs (``width`` scales every layer, as
MobileNet's width multiplier does). Built the default Keras way: dynamic batch.
"""

import keras


def build(input_shape, num_classes, filters=16, width=1.0, dense=32):
    channels = max(2, round(filters * width))
    inputs = keras.Input(input_shape)
    x = keras.layers.Conv2D(channels, 3, padding="same", use_bias=False)(inputs)
    x = keras.layers.BatchNormalization()(x)
    x = keras.layers.ReLU()(x)
    x = keras.layers.Conv2D(2 * channels, 3, padding="same", use_bias=False)(x)
    x = keras.layers.BatchNormalization()(x)
    x = keras.layers.ReLU()(x)
    x = keras.layers.MaxPooling2D(2)(x)
    x = keras.layers.Conv2D(2 * channels, 3, padding="same", use_bias=False)(x)
    x = keras.layers.BatchNormalization()(x)
    x = keras.layers.ReLU()(x)
    x = keras.layers.Flatten()(x)
    x = keras.layers.Dense(max(4, round(dense * width)), activation="relu")(x)
    outputs = keras.layers.Dense(num_classes, activation="softmax")(x)
    return keras.Model(inputs, outputs, name="digits_cnn")
