"""One module per op family; importing this package registers every kernel."""

from tinyflow.codegen.ops import (  # noqa: F401  (imported for their @register)
    activations,
    batch_matmul,
    concatenation,
    conv,
    elementwise,
    float_unary,
    fully_connected,
    gather,
    lookup,
    mean,
    pad,
    pooling,
    quantization,
    rearrange,
    relu,
    reshape,
    resize,
    slicing,
    softmax,
    transpose_conv,
)
from tinyflow.codegen.ops.base import REGISTRY, Layer, Unsupported

__all__ = ["REGISTRY", "Layer", "Unsupported"]
