"""Models made here with Keras: a small CNN end to end on the micro:bit (16 KB RAM,
Cortex-M0, TIMER0 counter), and a Dense model with > 1 MB of weights that must fail to
build for the nRF52840 DK (1 MB flash) with a clear error."""

import numpy as np
import pytest

from tinyflow.errors import FirmwareSizeError


@pytest.fixture(scope="module")
def keras_models(tmp_path_factory):
    keras = pytest.importorskip("keras")
    from tinyflow.convert import quantize_keras

    rng = np.random.default_rng(0)
    keras.utils.set_random_seed(0)
    inputs = keras.Input((16, 16, 1), batch_size=1)
    x = keras.layers.Conv2D(8, 3, padding="same", activation="relu")(inputs)
    x = keras.layers.MaxPooling2D(2)(x)
    x = keras.layers.DepthwiseConv2D(3, padding="same", activation="relu")(x)
    x = keras.layers.Conv2D(16, 1, activation="relu")(x)
    x = keras.layers.AveragePooling2D(2)(x)
    x = keras.layers.Flatten()(x)
    outputs = keras.layers.Dense(4, activation="softmax")(x)
    small = quantize_keras(keras.Model(inputs, outputs), rng.uniform(-1, 1, (32, 16, 16, 1)))

    inputs = keras.Input((1024,), batch_size=1)
    outputs = keras.layers.Dense(1100)(inputs)          # 1,126,400 int8 weights
    big = quantize_keras(keras.Model(inputs, outputs), rng.uniform(-1, 1, (8, 1024)))

    folder = tmp_path_factory.mktemp("keras")
    (folder / "small_cnn.tflite").write_bytes(small)
    (folder / "dense_1m.tflite").write_bytes(big)
    return folder / "small_cnn.tflite", folder / "dense_1m.tflite"


@pytest.mark.slow
def test_small_model_on_microbit_end_to_end(keras_models):
    from tinyflow.firmware.measure import measure

    result = measure(keras_models[0], "microbit", count=10, seed=2)
    assert result.bit_exact, str(result)
    assert result.unit == "instructions" and result.clock_hz == 16_000_000
    assert result.ram_bytes <= 16384 and result.flash_bytes <= 262144
    last = result.latencies[-1]
    assert abs(result.layers_sum - last) <= 0.05 * last
    assert 0 < result.stack_used_bytes < result.stack_size_bytes


@pytest.mark.slow
def test_model_too_large_for_nrf52_fails_at_build(keras_models, capsys):
    from tinyflow.cli import main
    from tinyflow.firmware.build import build_firmware

    with pytest.raises(FirmwareSizeError) as error:
        build_firmware(keras_models[1], "nrf52")
    message = str(error.value)
    assert "dense_1m does not fit nrf52840dk: flash overflows by" in message
    assert "(needs " in message and " of 1,048,576)" in message
    assert "weights dominates: weights 1,126,400" in message

    # the same limits hold when the board is emulated
    assert main(["build", str(keras_models[1]), "--board", "nrf52", "--emulate"]) == 1
    assert "flash overflows by" in capsys.readouterr().err
