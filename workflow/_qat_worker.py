"""Quantization-aware training in a process of its own, for
``tinyflow.compress.quantization_aware``.

tfmot (tensorflow-model-optimization) trains only tf_keras (Keras 2) models, and
importing it sets TF_USE_LEGACY_KERAS, which breaks Keras 3 in the same process. So
the caller runs this module as a child, with TF_USE_LEGACY_KERAS=1:

    python -m tinyflow._qat_worker FOLDER

FOLDER holds spec.json (the architecture and training settings, see
``compress._qat_spec``), weights.npz (per layer, "name/index") and data.npz (x, y,
representative). The worker writes model.tflite and history.json (per epoch, the loss
and metrics) there; or, if anything fails, error.txt: one line saying what.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np


def main(folder: Path) -> None:
    spec = json.loads((folder / "spec.json").read_text())
    weights = dict(np.load(folder / "weights.npz"))
    data = np.load(folder / "data.npz")

    import tensorflow_model_optimization as tfmot
    import tf_keras

    from tinyflow.compress import int8_tflite

    tf_keras.utils.set_random_seed(spec["seed"])
    training = tfmot.quantization.keras.quantize_model(build(tf_keras, spec, weights))
    training.compile(optimizer=tf_keras.optimizers.Adam(spec["learning_rate"]),
                     loss=tf_keras.losses.get(spec["loss"]), metrics=spec["metrics"])
    history = training.fit(data["x"], data["y"], epochs=spec["epochs"],
                           batch_size=spec["batch_size"], verbose=0)

    # The converter needs static shapes: the same quantized model on a batch-1 input,
    # given the trained weights (and the ranges the fake-quant layers learned).
    deployed = tfmot.quantization.keras.quantize_model(
        build(tf_keras, spec, weights, batch_size=1))
    deployed.set_weights(training.get_weights())
    tflite = int8_tflite(deployed, data["representative"], int8_io=spec["int8_io"])

    epochs = [{key: float(values[epoch]) for key, values in history.history.items()}
              for epoch in range(spec["epochs"])]
    (folder / "history.json").write_text(json.dumps(epochs))
    (folder / "model.tflite").write_bytes(tflite)


def build(tf_keras, spec: dict, weights: dict, batch_size: int | None = None):
    """The float tf_keras model ``spec`` describes, with ``weights``."""
    tensors = {item["name"]: tf_keras.Input(shape=item["shape"], batch_size=batch_size)
               for item in spec["inputs"]}
    layers = []
    for item in spec["layers"]:
        layer = getattr(tf_keras.layers, item["class_name"])(name=item["name"], **item["config"])
        inputs = [tensors[name] for name in item["inputs"]]
        tensors[item["output"]] = layer(inputs[0] if len(inputs) == 1 else inputs)
        layers.append(layer)
    model = tf_keras.Model([tensors[item["name"]] for item in spec["inputs"]],
                           [tensors[name] for name in spec["outputs"]])
    for layer in layers:
        layer.set_weights([weights[f"{layer.name}/{index}"]
                           for index in range(len(layer.weights))])
    return model


if __name__ == "__main__":
    folder = Path(sys.argv[1])
    try:
        main(folder)
    except Exception as exc:
        message = (str(exc).strip().splitlines() or [""])[0]
        (folder / "error.txt").write_text(f"{type(exc).__name__}: {message}")
        raise
