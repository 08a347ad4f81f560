"""tinyflow.compress: post-training quantization, structured pruning and
quantization-aware training, each ending in an int8 model the generator accepts and
that is bit-exact with TFLM.

Models are small and Keras is imported inside the helpers, so that collecting this
module stays fast.
"""

from __future__ import annotations

import numpy as np
import pytest

from conftest import assert_bit_exact

pytest.importorskip("tensorflow")


def residual_model():
    """A default Keras 3 model (dynamic batch): Conv2D+BN+ReLU, a depthwise branch
    added back, Flatten, Dense."""
    import keras
    keras.utils.set_random_seed(0)
    inputs = keras.Input((8, 8, 1))
    x = keras.layers.Conv2D(8, 3, padding="same")(inputs)
    x = keras.layers.BatchNormalization()(x)
    x = keras.layers.ReLU()(x)
    branch = keras.layers.DepthwiseConv2D(3, padding="same")(x)
    x = keras.layers.Add()([x, branch])
    x = keras.layers.Flatten()(x)
    outputs = keras.layers.Dense(10)(x)
    model = keras.Model(inputs, outputs)
    randomize_batch_norm(model)
    return model


def randomize_batch_norm(model, seed=1):
    """Non-trivial BatchNormalization statistics, so that slicing them wrongly shows."""
    import keras
    rng = np.random.default_rng(seed)
    for layer in model.layers:
        if isinstance(layer, keras.layers.BatchNormalization):
            gamma, beta, mean, variance = layer.get_weights()
            layer.set_weights([rng.uniform(0.5, 1.5, gamma.shape), rng.normal(0, 0.2, beta.shape),
                               rng.normal(0, 0.2, mean.shape), rng.uniform(0.5, 1.5, variance.shape)])


def uniform(shape, count, seed=0):
    return np.random.default_rng(seed).uniform(0, 1, (count, *shape)).astype(np.float32)


def test_quantize_dynamic_batch_model_generates_bit_exact():
    from tinyflow.codegen.ir import load_model
    from tinyflow.compress import quantize

    model = residual_model()
    assert model.inputs[0].shape[0] is None
    tflite = quantize(model, uniform((8, 8, 1), 32))
    opcodes = {op.opcode for op in load_model(tflite).operators}
    assert {"CONV_2D", "DEPTHWISE_CONV_2D", "ADD", "RESHAPE", "FULLY_CONNECTED"} <= opcodes
    assert not opcodes & {"SHAPE", "STRIDED_SLICE", "PACK"}
    assert_bit_exact(tflite, batch=20)


def test_quantize_keras_names_still_work():
    import tinyflow
    from tinyflow.compress import quantize
    from tinyflow.convert import quantize_keras

    assert tinyflow.quantize_keras is quantize_keras is quantize
