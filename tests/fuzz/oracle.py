"""TFLM's interpreter on a mutated model, in a child process.

A malformed model can crash or hang TFLM itself (it trusts the flatbuffer more than
tinyflow does), so it never runs in the test's own process: a crash, a timeout or
an error from its Prepare or Invoke all mean "TFLM rejects this model".
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

_WORKER = """
import sys
import numpy as np
from tflite_micro.python.tflite_micro import runtime
model, inputs, outputs = sys.argv[1:4]
arrays = np.load(inputs)
interpreter = runtime.Interpreter.from_file(model)
count = len(arrays.files)
results = {}
batch = arrays["input_0"].shape[0]
per_sample = []
for i in range(batch):
    for k in range(count):
        interpreter.set_input(np.ascontiguousarray(arrays[f"input_{k}"][i]), k)
    interpreter.invoke()
    per_sample.append([np.array(interpreter.get_output(k), copy=True)
                       for k in range(int(sys.argv[4]))])
np.savez(outputs, *[np.stack([s[k] for s in per_sample]) for k in range(int(sys.argv[4]))])
"""


def tflm_outputs(model_bytes: bytes, inputs: list[np.ndarray], num_outputs: int,
                 timeout: float = 20.0) -> list[np.ndarray] | str:
    """TFLM's outputs for a batch of ``inputs``, or why TFLM rejected the model."""
    with tempfile.TemporaryDirectory(prefix="tinyflow-oracle-") as tmp:
        folder = Path(tmp)
        (folder / "model.tflite").write_bytes(model_bytes)
        np.savez(folder / "inputs.npz", **{f"input_{k}": a for k, a in enumerate(inputs)})
        try:
            done = subprocess.run(
                [sys.executable, "-c", _WORKER, str(folder / "model.tflite"),
                 str(folder / "inputs.npz"), str(folder / "outputs.npz"), str(num_outputs)],
                capture_output=True, timeout=timeout)
        except subprocess.TimeoutExpired:
            return f"TFLM timed out after {timeout} s"
        if done.returncode != 0:
            lines = done.stderr.decode(errors="replace").strip().splitlines()
            return f"TFLM failed (exit {done.returncode}): {lines[-1] if lines else ''}"
        with np.load(folder / "outputs.npz") as saved:
            return [saved[f"arr_{k}"] for k in range(num_outputs)]
