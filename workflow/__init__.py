"""tinyflow: int8 models onto microcontrollers, measured on the device.

The stages, each in its own package, all read the one model IR in ``tinyflow.ir``:

- ``tinyflow.ir``        load a .tflite file into a typed graph
- ``tinyflow.memory``    plan every activation into one static arena
- ``tinyflow.codegen``   render bit-exact, per-layer specialized C from Jinja2 templates
"""

__version__ = "0.1.0"

from tinyflow.errors import TinyflowError  # noqa: E402
from tinyflow.ir import Model, load_model  # noqa: E402

__all__ = ["Model", "TinyflowError", "load_model", "__version__"]
