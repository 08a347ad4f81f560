"""Train a Keras model: a builder function and a dataset in, a trained float model out.

The builder is a user's function ``builder(input_shape, num_classes, **params)``
returning an (uncompiled) Keras 3 model, built the default way (dynamic batch) or
with batch 1. Training is repeatable (seeded), stops early on the validation
loss, and reports progress one line per epoch.

>>> from tinyflow.training import train                                  # doctest: +SKIP
>>> result = train(my_builder, tinyflow.datasets.digits(), epochs=20)  # doctest: +SKIP
>>> result.val_accuracy                                                # doctest: +SKIP
"""

from __future__ import annotations

import importlib
import importlib.util
from pathlib import Path
from dataclasses import dataclass, field
from typing import Callable

import numpy as np

from tinyflow.errors import InputError, TinyflowError


@dataclass
class TrainResult:
    """A trained float model and how it got there."""

    model: object                       # keras.Model
    val_accuracy: float
    test_accuracy: float
    epochs: int                         # epochs run (early stopping may end sooner)
    history: dict = field(default_factory=dict, repr=False)

    def __str__(self) -> str:
        return (f"trained {self.epochs} epochs: validation accuracy {self.val_accuracy:.1%}, "
                f"test accuracy {self.test_accuracy:.1%}")


def load_builder(spec: str, directory: str | Path | None = None) -> Callable:
    """``module:function`` (a project's model builder) -> the function. A module file
    in ``directory`` (the project's folder) comes first, then installed modules."""
    module_name, _, function = spec.partition(":")
    if not module_name or not function:
        raise InputError(f"model builder '{spec}': write it as module:function")
    local = Path(directory or ".") / (module_name.replace(".", "/") + ".py")
    try:
        if local.is_file():
            # Loaded from its file under a name of its own: two projects' model.py
            # must not shadow each other in one process (a notebook, the tests).
            unique = f"tinyflow_project_{abs(hash(str(local.resolve())))}_{local.stem}"
            loader_spec = importlib.util.spec_from_file_location(unique, local)
            module = importlib.util.module_from_spec(loader_spec)
            loader_spec.loader.exec_module(module)
        else:
            module = importlib.import_module(module_name)
    except Exception as exc:   # the user's module may fail in any way while importing
        raise TinyflowError(f"model builder '{spec}': cannot import {module_name}: "
                            f"{type(exc).__name__}: {exc}") from exc
    builder = getattr(module, function, None)
    if not callable(builder):
        raise InputError(f"model builder '{spec}': {module_name} has no function {function}")
    return builder


def build_model(builder: Callable, dataset, **params):
    """Call the user's builder and check the model fits the dataset."""
    name = getattr(builder, "__name__", str(builder))
    try:
        model = builder(tuple(dataset.input_shape), len(dataset.class_names), **params)
    except Exception as exc:   # a user's builder may fail in any way
        raise TinyflowError(f"model builder {name}({_describe(params)}) failed: "
                            f"{type(exc).__name__}: {exc}") from exc
    expected = tuple(dataset.input_shape)
    got = tuple(model.inputs[0].shape[1:]) if getattr(model, "inputs", None) else None
    if got != expected:
        raise InputError(f"model builder {name}: the model takes inputs of shape {got}, "
                         f"the dataset {dataset.name} has samples of shape {expected}")
    classes = model.outputs[0].shape[-1]
    if classes != len(dataset.class_names):
        raise InputError(f"model builder {name}: the model has {classes} outputs, the "
                         f"dataset {dataset.name} has {len(dataset.class_names)} classes")
    return model


def train(builder: Callable | object, dataset, *, epochs: int = 30, batch_size: int = 32,
          learning_rate: float = 2e-3, patience: int = 5, seed: int = 0,
          progress: Callable[[str], None] | None = None, **params) -> TrainResult:
    """Train ``builder``'s model (or a Keras model, fine-tuned as it is) on ``dataset``.

    Early stopping watches the validation loss and restores the best weights.
    """
    import keras

    keras.utils.set_random_seed(seed)
    model = builder if isinstance(builder, keras.Model) else build_model(builder, dataset,
                                                                         **params)
    model.compile(optimizer=keras.optimizers.Adam(learning_rate),
                  loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    callbacks = [keras.callbacks.EarlyStopping(monitor="val_loss", patience=patience,
                                               restore_best_weights=True)]
    if progress is not None:
        callbacks.append(_ProgressCallback(progress, epochs))
    history = model.fit(dataset.x_train, dataset.y_train, batch_size=batch_size, epochs=epochs,
                        validation_data=(dataset.x_val, dataset.y_val), shuffle=True,
                        callbacks=callbacks, verbose=0)
    return TrainResult(model=model, val_accuracy=accuracy(model, dataset.x_val, dataset.y_val),
                       test_accuracy=accuracy(model, dataset.x_test, dataset.y_test),
                       epochs=len(history.history["loss"]), history=dict(history.history))


def accuracy(model, x, y) -> float:
    """Top-1 accuracy of a float Keras model."""
    # A direct call, not predict(): predict traces a new tf.function per model, and
    # a loop evaluates many models.
    scores = np.concatenate([np.asarray(model(x[i:i + 512], training=False))
                             for i in range(0, len(x), 512)])
    return float(np.mean(np.argmax(scores, axis=-1) == np.asarray(y)))


def top1_accuracy(outputs, labels) -> float:
    """Top-1 accuracy of a batch of class scores, float or int8, whatever axes a
    batch-1 model adds ((N, 1, classes) counts like (N, classes))."""
    outputs = np.asarray(outputs)
    scores = outputs.reshape(outputs.shape[0], -1)
    return float(np.mean(np.argmax(scores, axis=-1) == np.asarray(labels).reshape(-1)))


def _describe(params: dict) -> str:
    return ", ".join(f"{k}={v!r}" for k, v in sorted(params.items()))


class _ProgressCallback:
    """One line per epoch through ``progress`` (a Keras callback, built lazily so that
    importing this module does not import Keras)."""

    def __new__(cls, progress, epochs):
        import keras

        class Progress(keras.callbacks.Callback):
            def on_epoch_end(self, epoch, logs=None):
                logs = logs or {}
                progress(f"epoch {epoch + 1}/{epochs}: loss {logs.get('loss', 0):.3f}, "
                         f"accuracy {logs.get('accuracy', 0):.1%}, "
                         f"validation {logs.get('val_accuracy', 0):.1%}")

        return Progress()
