"""The reference: TFLM's interpreter on the host (the `tflite-micro` pip package).

tinyflow's generated code must match it byte for byte; `measure` and the tests
compare against it.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import numpy as np

from tinyflow.errors import ToolNotFoundError
from tinyflow.codegen.batch import check_inputs
from tinyflow.codegen.ir import load_model


def _runtime():
    try:
        from tflite_micro.python.tflite_micro import runtime
    except ImportError as exc:
        raise ToolNotFoundError(
            "the reference interpreter is missing: pip install tflite-micro") from exc
    return runtime


def _model_bytes(model: str | Path | bytes) -> bytes:
    return bytes(model) if isinstance(model, (bytes, bytearray)) else Path(model).read_bytes()


class ReferenceInterpreter:
    """TFLM's interpreter for one model; ``run`` takes and returns batches."""

    def __init__(self, model: str | Path | bytes):
        data = _model_bytes(model)
        self.model = load_model(data)
        self.num_outputs = len(self.model.outputs)
        self._interpreter = _runtime().Interpreter.from_bytes(data)

    def run(self, inputs) -> list[np.ndarray]:
        """``inputs``: one array per model input, batch first. Returns outputs batch first."""
        inputs = check_inputs(self.model, inputs)
        per_sample = []
        for i in range(inputs[0].shape[0]):
            for position, array in enumerate(inputs):
                self._interpreter.set_input(np.ascontiguousarray(array[i]), position)
            self._interpreter.invoke()
            per_sample.append([np.array(self._interpreter.get_output(k), copy=True)
                               for k in range(self.num_outputs)])
        return [np.stack([sample[k] for sample in per_sample]) for k in range(self.num_outputs)]


def reference_outputs(model, inputs) -> list[np.ndarray]:
    return ReferenceInterpreter(model).run(inputs)


_ARENA_PROBE = """
import sys
from tflite_micro.python.tflite_micro import runtime
interpreter = runtime.Interpreter.from_file(sys.argv[1])
interpreter.print_allocations()
"""


def tflm_arena_bytes(model_path: str | Path) -> dict[str, int]:
    """TFLM's arena use for a model on this host: total, head (activations) and tail.

    print_allocations() writes from C++ to the process's stdout or stderr, so it runs in a
    child process whose output is parsed.
    """
    result = subprocess.run([sys.executable, "-c", _ARENA_PROBE, str(model_path)],
                            capture_output=True, text=True, check=True)
    figures = {}
    for key in ("total", "head", "tail"):
        match = re.search(rf"Arena allocation {key} (\d+) bytes", result.stdout + result.stderr)
        if match:
            figures[key] = int(match.group(1))
    return figures
