"""One module per op family; importing this package registers every kernel."""

from tinyflow.codegen.ops import (  # noqa: F401  (imported for their @register)
    conv,
    elementwise,
    fully_connected,
    pooling,
    reshape,
    softmax,
)
from tinyflow.codegen.ops.base import REGISTRY, Layer, Unsupported

__all__ = ["REGISTRY", "Layer", "Unsupported"]
