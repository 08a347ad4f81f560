"""Keras model -> full-integer int8 TFLite flatbuffer (TensorFlow's converter).

TensorFlow is imported only when a conversion runs: code generation, profiling
and measurement do not need it.
"""

from __future__ import annotations

import numpy as np


def quantize_keras(model, representative_data, *, int8_io: bool = True) -> bytes:
    """Convert ``model`` to int8 with post-training quantization.

    representative_data: an array of samples (batch first) that covers the range of
    real inputs; the converter calibrates activation ranges on it.
    int8_io: int8 model inputs and outputs (as on a microcontroller); with False the
    model keeps float32 at its edges (QUANTIZE / DEQUANTIZE ops).
    """
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
