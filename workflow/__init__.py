"""tinyflow: int8 models onto microcontrollers, measured on the device.

The stages, each in its own package, all read the one model IR in ``tinyflow.codegen.ir``:

- ``tinyflow.codegen.ir``        load a .tflite file into a typed graph
- ``tinyflow.codegen.memory``    plan every activation into one static arena
- ``tinyflow.codegen``   render bit-exact, per-layer specialized C from Jinja2 templates
- ``tinyflow.firmware``  boards, firmware builds, flashing, measuring over serial
- ``tinyflow.profiler``  static profile, cost model, budgets, reports

The names below are the notebook-facing API; each is imported on first use so
``import tinyflow`` stays light.
"""

from __future__ import annotations

import importlib

__version__ = "0.1.0"

_API = {
    "load_model": "tinyflow.codegen.ir",
    "Model": "tinyflow.codegen.ir",
    "plan_memory": "tinyflow.codegen",
    "generate": "tinyflow.codegen",
    "compile_host": "tinyflow.firmware.host",
    "quantize_keras": "tinyflow.convert",
    "ReferenceInterpreter": "tinyflow.reference",
    "TinyflowError": "tinyflow.errors",
}

__all__ = sorted(_API) + ["__version__"]


def __getattr__(name: str):
    module = _API.get(name)
    if module is None:
        raise AttributeError(f"module 'tinyflow' has no attribute '{name}'")
    return getattr(importlib.import_module(module), name)
