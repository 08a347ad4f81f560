"""Find the first layer whose output on the device differs from TFLM's.

The reference intermediates come from TFLM itself (the `tflite-micro` package) with
``InterpreterConfig.kPreserveAllTensors``, which keeps every tensor instead of reusing
arena space, so each layer's output can be read after one invoke. Comparing against
TFLM (not tinyflow's own host build) means a code generation bug is located too, not
only a difference between the target and the host.
"""

from __future__ import annotations

import numpy as np

from tinyflow.codegen.batch import sample_bytes


def reference_layer_outputs(model_bytes: bytes, arrays: list[np.ndarray], sample: int,
                            tensor_indices: list[int]) -> list[bytes]:
    """TFLM's bytes for each tensor in ``tensor_indices`` after running one sample."""
    from tinyflow.reference import _runtime

    runtime = _runtime()
    interpreter = runtime.Interpreter.from_bytes(
        model_bytes, intrepreter_config=runtime.InterpreterConfig.kPreserveAllTensors)
    for position, array in enumerate(arrays):
        interpreter.set_input(np.ascontiguousarray(array[sample]), position)
    interpreter.invoke()
    return [np.ascontiguousarray(interpreter.GetTensor(t, 0)["tensor_data"]).tobytes()
            for t in tensor_indices]


def first_divergent_layer(device, model_bytes: bytes, arrays: list[np.ndarray],
                          sample: int) -> dict | None:
    """Load ``sample`` on the device and read back layer after layer (tf-tensor) until
    one differs from TFLM; None if every layer matches."""
    model = device.generated.model
    layers = device.generated.manifest["layers"]
    tensors = [model.operators[layer["index"]].outputs[0] for layer in layers]
    expected = reference_layer_outputs(model_bytes, arrays, sample, tensors)
    device.session.load(sample_bytes(arrays, sample))
    for position, (layer, want) in enumerate(zip(layers, expected)):
        got = device.session.tensor(position)
        if got != want:
            a = np.frombuffer(got, dtype=np.uint8)
            b = np.frombuffer(want, dtype=np.uint8)
            differing = int(np.count_nonzero(a != b)) if a.size == b.size else max(a.size, b.size)
            return dict(layer=position, op=layer["op"], tensor=model.tensors[tensors[position]].name,
                        sample=sample, bytes=len(want), mismatched_bytes=differing)
    return None
