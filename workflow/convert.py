"""The name callers already use for post-training int8 quantization; the conversion
itself lives in ``tinyflow.compress`` beside pruning and quantization-aware training."""

from tinyflow.compress import quantize as quantize_keras

__all__ = ["quantize_keras"]
