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


# --- structured pruning -------------------------------------------------------------------

def pruning_cnn():
    """The CNN pruned below: Conv2D+BN, a depthwise branch added back to its input
    (the Add's two inputs are ranked together), Flatten, Dense, Dropout, classifier."""
    import keras
    layers = keras.layers
    keras.utils.set_random_seed(0)
    inputs = keras.Input((8, 8, 1))
    x = layers.Conv2D(16, 3, padding="same", name="a")(inputs)
    x = layers.BatchNormalization(name="a_bn")(x)
    x = layers.ReLU()(x)
    x = layers.Conv2D(32, 3, padding="same", activation="relu", name="b")(x)
    x = layers.MaxPooling2D()(x)
    branch = layers.DepthwiseConv2D(3, padding="same", activation="relu", name="dw")(x)
    branch = layers.Conv2D(32, 1, name="d")(branch)
    x = layers.Add()([x, branch])
    x = layers.Flatten()(x)
    x = layers.Dense(64, activation="relu", name="fc")(x)
    x = layers.Dropout(0.2)(x)
    model = keras.Model(inputs, layers.Dense(10, name="classifier")(x))
    randomize_batch_norm(model)
    return model


def sequential_cnn():
    import keras
    layers = keras.layers
    keras.utils.set_random_seed(0)
    return keras.Sequential([
        keras.Input((8, 8, 1)),
        layers.Conv2D(8, 3, activation="relu", name="a"),
        layers.AveragePooling2D(2),
        layers.Conv2D(12, 3, padding="same", name="b"),
        layers.Flatten(),
        layers.Dense(16, activation="relu", name="fc"),
        layers.Dense(4, activation="softmax", name="classifier"),
    ])


def concatenating_cnn():
    """Two convolutions concatenated, then BatchNormalization over the joined channels."""
    import keras
    layers = keras.layers
    keras.utils.set_random_seed(0)
    inputs = keras.Input((6, 6, 2))
    joined = layers.Concatenate()([layers.Conv2D(8, 3, name="a")(inputs),
                                   layers.Conv2D(6, 3, name="b")(inputs)])
    x = layers.BatchNormalization(name="joined_bn")(joined)
    x = layers.Conv2D(10, 1, activation="relu", name="c")(x)
    x = layers.GlobalAveragePooling2D()(x)
    model = keras.Model(inputs, layers.Dense(3, name="classifier")(x))
    randomize_batch_norm(model)
    return model


# Per model: the BatchNormalization and DepthwiseConv2D layers, and the layers whose
# channels (concatenated) they carry.
CARRIERS = {
    pruning_cnn: {"a_bn": ["a"], "dw": ["b"]},
    sequential_cnn: {},
    concatenating_cnn: {"joined_bn": ["a", "b"]},
}


def dropped(model, plan, producers) -> np.ndarray:
    """Which channels of the producers' concatenated outputs pruning drops (a mask)."""
    masks = []
    for name in producers:
        width = model.get_layer(name).get_weights()[0].shape[-1]
        masks.append(~np.isin(np.arange(width), plan[name]))
    return np.concatenate(masks)


def with_dropped_channels_zeroed(model, plan, carriers):
    """A copy of ``model`` whose dropped channels are zero: the dropped filters and units
    have zero weights and bias; the BatchNormalization (gamma, beta) and depthwise
    (bias) that carry them add nothing. Outputs then equal the pruned model's."""
    import keras
    copy = keras.models.clone_model(model)
    copy.set_weights(model.get_weights())
    for name in plan:
        layer = copy.get_layer(name)
        kernel, bias = layer.get_weights()
        mask = dropped(model, plan, [name])
        kernel[..., mask], bias[mask] = 0, 0
        layer.set_weights([kernel, bias])
    for name, producers in carriers.items():
        layer = copy.get_layer(name)
        weights = layer.get_weights()
        mask = dropped(model, plan, producers)
        for position in ([0, 1] if isinstance(layer, keras.layers.BatchNormalization) else [1]):
            weights[position][mask] = 0
        layer.set_weights(weights)
    return copy


@pytest.mark.parametrize("build", list(CARRIERS), ids=lambda build: build.__name__)
def test_pruned_model_computes_the_kept_channels_exactly(build):
    from tinyflow.compress import prune_structured, pruning_plan

    model = build()
    plan = pruning_plan(model, 0.5)
    pruned = prune_structured(model, 0.5)
    for name, kept in plan.items():
        width = model.get_layer(name).get_weights()[0].shape[-1]
        expected = width if name == "classifier" else round(width / 2)
        assert len(kept) == expected, name
        assert pruned.get_layer(name).get_weights()[0].shape[-1] == expected
    x = uniform(model.inputs[0].shape[1:], 16, seed=3)
    reference = with_dropped_channels_zeroed(model, plan, CARRIERS[build])
    np.testing.assert_allclose(pruned.predict(x, verbose=0), reference.predict(x, verbose=0),
                               rtol=1e-5, atol=1e-5)


def test_add_inputs_keep_the_same_channels():
    from tinyflow.compress import pruning_plan

    plan = pruning_plan(pruning_cnn(), 0.5)
    np.testing.assert_array_equal(plan["b"], plan["d"])


def test_pruning_fraction_is_checked():
    from tinyflow.compress import prune_structured
    from tinyflow.errors import InputError

    with pytest.raises(InputError, match="fraction"):
        prune_structured(sequential_cnn(), 1.0)


@pytest.fixture(scope="module")
def pruned_pair():
    """The int8 CNN before and after pruning half its filters and units."""
    from tinyflow.compress import prune_structured, quantize

    model = pruning_cnn()
    samples = uniform((8, 8, 1), 32)
    return quantize(model, samples), quantize(prune_structured(model, 0.5), samples)


def test_pruning_half_cuts_macs_and_flash_and_stays_bit_exact(pruned_pair):
    from tinyflow.profiler import profile

    before, after = (profile(tflite, board="qemu-cortex-m4") for tflite in pruned_pair)
    assert after.total_macs <= 0.6 * before.total_macs
    assert after.flash_bytes <= 0.6 * before.flash_bytes
    assert_bit_exact(pruned_pair[1], batch=20)


@pytest.mark.slow
def test_pruning_half_cuts_measured_instructions(pruned_pair):
    from tinyflow.firmware.measure import measure

    before, after = (measure(tflite, board="qemu-cortex-m4", count=2) for tflite in pruned_pair)
    assert before.bit_exact and after.bit_exact
    assert after.mean <= 0.65 * before.mean


# --- on real data: scikit-learn's digits (8x8 images, 10 classes) ---------------------------

@pytest.fixture(scope="module")
def digits():
    """(x_train, y_train, x_test, y_test), images scaled to [0, 1]."""
    datasets = pytest.importorskip("sklearn.datasets")
    images, labels = datasets.load_digits(return_X_y=True)
    images = (images / 16.0).astype(np.float32).reshape(-1, 8, 8, 1)
    order = np.random.default_rng(0).permutation(len(images))
    images, labels = images[order], labels[order].astype(np.int32)
    return images[:1400], labels[:1400], images[1400:], labels[1400:]


@pytest.fixture(scope="module")
def digits_model(digits):
    """A small float CNN trained on digits (a default dynamic-batch Keras 3 model)."""
    import keras
    layers = keras.layers
    x_train, y_train, _, _ = digits
    keras.utils.set_random_seed(0)
    inputs = keras.Input((8, 8, 1))
    x = layers.Conv2D(16, 3, padding="same", use_bias=False)(inputs)
    x = layers.BatchNormalization()(x)
    x = layers.ReLU()(x)
    x = layers.DepthwiseConv2D(3, padding="same", activation="relu")(x)
    x = layers.MaxPooling2D()(x)
    x = layers.Flatten()(x)
    model = keras.Model(inputs, layers.Dense(10)(x))
    model.compile(optimizer="adam", metrics=["accuracy"],
                  loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    model.fit(x_train, y_train, epochs=8, batch_size=32, verbose=0)
    return model


def float_accuracy(model, x, y) -> float:
    return float(np.mean(np.argmax(model.predict(x, verbose=0), axis=-1) == y))


def test_fine_tuning_recovers_pruned_accuracy(digits, digits_model):
    from tinyflow.compress import fine_tune, prune_structured

    x_train, y_train, x_test, y_test = digits
    pruned = prune_structured(digits_model, 0.5)
    fine_tune(pruned, x_train, y_train, epochs=2)
    assert float_accuracy(pruned, x_test, y_test) >= float_accuracy(digits_model, x_test, y_test) - 0.05


# --- quantization-aware training ----------------------------------------------------------

def quantized_inputs(tflite, x) -> np.ndarray:
    """``x`` in the int8 model's input quantization."""
    from tinyflow.codegen.ir import load_model
    model = load_model(tflite)
    quantization = model.tensors[model.inputs[0]].quantization
    scaled = np.round(x / quantization.scale[0]) + quantization.zero_point[0]
    return np.clip(scaled, -128, 127).astype(np.int8)


@pytest.mark.slow
def test_quantization_aware_training_is_accurate_and_bit_exact(digits, digits_model):
    import os

    import keras

    from tinyflow.compress import quantization_aware

    x_train, y_train, x_test, y_test = digits
    tflite = quantization_aware(digits_model, x_train, y_train, x_train[:200], epochs=2)
    outputs = assert_bit_exact(tflite, inputs=[quantized_inputs(tflite, x_test)])[0]
    accuracy = float(np.mean(np.argmax(outputs.reshape(len(x_test), -1), axis=-1) == y_test))
    assert accuracy >= float_accuracy(digits_model, x_test, y_test) - 0.03

    # tfmot ran in a child process: this one still has Keras 3.
    assert "TF_USE_LEGACY_KERAS" not in os.environ
    assert keras.version().startswith("3.")
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(2)])
    model.compile(optimizer="sgd", loss="mse")
    model.fit(np.zeros((4, 4)), np.zeros((4, 2)), verbose=0)


def test_quantization_aware_training_names_an_unsupported_layer():
    import keras

    from tinyflow.compress import quantization_aware
    from tinyflow.errors import InputError

    inputs = keras.Input((4,))
    model = keras.Model(inputs, keras.layers.LayerNormalization(name="norm")(inputs))
    with pytest.raises(InputError, match="norm is a LayerNormalization"):
        quantization_aware(model, np.zeros((4, 4)), np.zeros(4), np.zeros((4, 4)))


@pytest.mark.slow
def test_quantization_aware_training_reports_a_failure_in_one_line():
    from tinyflow.compress import quantization_aware
    from tinyflow.errors import TinyflowError

    model = sequential_cnn()
    with pytest.raises(TinyflowError, match="quantization-aware training failed") as failure:
        quantization_aware(model, uniform((8, 8, 1), 8), np.zeros(8), uniform((8, 8, 1), 4),
                           loss="no_such_loss")
    assert "no_such_loss" in str(failure.value) and "\n" not in str(failure.value)
