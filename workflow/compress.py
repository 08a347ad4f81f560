"""Make a Keras model smaller for a microcontroller; every path ends in an int8 .tflite
that tinyflow's code generator accepts.

- ``quantize``            post-training full-integer int8 (per-channel weights)
- ``prune_structured``    drop the weakest Conv2D filters and Dense units: a thinner model
- ``fine_tune``           a short ``fit`` to recover accuracy after pruning
- ``quantization_aware``  int8 with quantization-aware training (tfmot, in a child process)

>>> thin = prune_structured(model, 0.5)                         # doctest: +SKIP
>>> fine_tune(thin, x_train, y_train, epochs=2)                 # doctest: +SKIP
>>> tflite = quantize(thin, x_train[:200])                      # doctest: +SKIP

TensorFlow and Keras are imported only when a function runs: code generation,
profiling and measurement do not need them.
"""

from __future__ import annotations

import numpy as np

from tinyflow.errors import InputError

# Ops that a dynamic batch size leaves in a converted model: Keras 3's Flatten computes
# the batch size at run time. tinyflow generates code for static shapes only.
_DYNAMIC_SHAPE_OPS = {"SHAPE", "STRIDED_SLICE", "PACK"}


# --- post-training quantization ----------------------------------------------------------

def quantize(model, representative_data, *, int8_io: bool = True) -> bytes:
    """Convert ``model`` to int8 with post-training quantization.

    representative_data: an array of samples (batch first) that covers the range of
    real inputs; the converter calibrates activation ranges on it.
    int8_io: int8 model inputs and outputs (as on a microcontroller); with False the
    model keeps float32 at its edges (QUANTIZE / DEQUANTIZE ops).

    A model built on ``keras.Input(shape)`` (dynamic batch) whose conversion needs
    run-time shape ops is converted again from a batch-1 copy, which has static shapes.
    """
    tflite = int8_tflite(model, representative_data, int8_io=int8_io)
    if _has_dynamic_shape_ops(tflite) and _has_dynamic_batch(model):
        tflite = int8_tflite(_batch_one_copy(model), representative_data, int8_io=int8_io)
    return tflite


def int8_tflite(model, representative_data, *, int8_io: bool = True) -> bytes:
    """TensorFlow's full-integer int8 conversion of a Keras model as it is (Keras 3, or
    tf_keras in the quantization-aware training worker)."""
    import tensorflow as tf

    samples = np.asarray(representative_data, dtype=np.float32)

    def dataset():
        for sample in samples:
            yield [sample[np.newaxis]]

    converter = tf.lite.TFLiteConverter.from_keras_model(model)
    converter.optimizations = [tf.lite.Optimize.DEFAULT]
    converter.representative_dataset = dataset
    converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
    if int8_io:
        converter.inference_input_type = tf.int8
        converter.inference_output_type = tf.int8
    return converter.convert()


def _has_dynamic_shape_ops(tflite: bytes) -> bool:
    from tinyflow.codegen.ir import load_model
    return any(op.opcode in _DYNAMIC_SHAPE_OPS for op in load_model(tflite).operators)


def _has_dynamic_batch(model) -> bool:
    inputs = getattr(model, "inputs", None) or []
    return any(tensor.shape[0] is None for tensor in inputs)


def _batch_one_copy(model):
    """The same layers rebuilt on batch-1 inputs, with the same weights."""
    import keras

    inputs = [keras.Input(batch_shape=(1, *tensor.shape[1:]), dtype=tensor.dtype)
              for tensor in model.inputs]
    try:
        copy = keras.models.clone_model(model, input_tensors=inputs[0] if len(inputs) == 1
                                        else inputs)
    except ValueError as exc:   # a subclassed model: Keras cannot rebuild it
        raise InputError(f"{model.name}: its conversion needs a static batch size; build it "
                         f"on keras.Input(shape, batch_size=1) ({exc})") from exc
    copy.set_weights(model.get_weights())
    return copy
