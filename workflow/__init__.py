"""tinyflow: models onto microcontrollers, trained, compressed and measured on the device.

The stages, each in its own package, all read one model IR and one manifest:

- ``tinyflow.codegen``   the compiler front end: model IR (``codegen.ir``), memory plan
                         (``codegen.memory``), op kernels and the C generator
- ``tinyflow.firmware``  boards' firmware builds, flashing, measuring over serial
- ``tinyflow.profiler``  static profile, cost model, budgets, reports
- ``tinyflow`` itself    the closed loop (``datasets``, ``training``, ``compress``,
                         ``loop``) and the CLI that chains the stages

The names below are the notebook-facing API; each is imported on first use so
``import tinyflow`` stays light.
"""

from __future__ import annotations

import importlib

__version__ = "0.1.0"

# name -> module that defines it
_API = {
    "load_model": "tinyflow.codegen.ir",
    "Model": "tinyflow.codegen.ir",
    "plan_memory": "tinyflow.codegen",
    "generate": "tinyflow.codegen",
    "compile_host": "tinyflow.firmware.host",
    "build_firmware": "tinyflow.firmware.build",
    "measure": "tinyflow.firmware.measure",
    "profile": "tinyflow.profiler",
    "quantize_keras": "tinyflow.convert",
    "ReferenceInterpreter": "tinyflow.reference",
    "TinyflowError": "tinyflow.errors",
    "train": "tinyflow.training",
    "top1_accuracy": "tinyflow.training",
    "quantize_input": "tinyflow.codegen.batch",
    "load_project": "tinyflow.project",
    "run_loop": "tinyflow.loop",
}
# Submodules reachable as attributes: tinyflow.datasets.digits(), tinyflow.compress.quantize()
_SUBMODULES = ("datasets", "compress")

__all__ = sorted(_API) + list(_SUBMODULES) + ["__version__"]


def __getattr__(name: str):
    if name in _SUBMODULES:
        return importlib.import_module(f"tinyflow.{name}")
    module = _API.get(name)
    if module is None:
        raise AttributeError(f"module 'tinyflow' has no attribute '{name}'")
    return getattr(importlib.import_module(module), name)
