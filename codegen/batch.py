"""Batches of model inputs and outputs: read, check, turn into bytes and back, save.

One module for what the CLI, the host runner and the firmware all do with a batch:
inputs are one array per model input with a leading batch axis; a device (or the
host program) takes a sample as the bytes of all its inputs in order and answers
the bytes of all its outputs in order.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from tinyflow.codegen.ir import Model
from tinyflow.common import publish_file
from tinyflow.errors import InputError


def load_inputs(path: str | Path, model: Model) -> list[np.ndarray]:
    """Read inputs for ``model``: .npy for one input, .npz with one array per input
    (named after the input tensors, or input_0, input_1, ... in order)."""
    path = Path(path)
    try:
        loaded = np.load(path, allow_pickle=False)
    except (OSError, ValueError) as exc:
        raise InputError(f"{path}: cannot read inputs: {exc}") from exc
    if isinstance(loaded, np.ndarray):
        return [loaded]
    with loaded:
        names = [t.name for t in model.input_tensors]
        keys = list(loaded.keys())
        for candidates in (names, [f"input_{i}" for i in range(len(names))],
                           [f"arr_{i}" for i in range(len(names))]):
            if all(c in keys for c in candidates):
                return [loaded[c] for c in candidates]
        raise InputError(f"{path}: arrays {keys} do not name the model's inputs {names} "
                         f"(or input_0 .. input_{len(names) - 1})")


def save_outputs(path: str | Path, outputs: list[np.ndarray]) -> None:
    """Write .npy for one output, .npz (output_0, output_1, ...) for several; atomically."""
    path = Path(path)
    if path.suffix == ".npz":
        publish_file(path, write=lambda staged: np.savez(
            staged, **{f"output_{i}": o for i, o in enumerate(outputs)}))
        return
    if len(outputs) != 1:
        raise InputError(f"{path}: the model has {len(outputs)} outputs; write a .npz")
    publish_file(path, write=lambda staged: np.save(staged, outputs[0]))


def check_inputs(model: Model, inputs) -> list[np.ndarray]:
    """Validate a batch against the model's inputs: count, dtype and shape. Returns
    contiguous arrays, batch first (a single sample of a batch-1 model gets its axis)."""
    if isinstance(inputs, np.ndarray):
        inputs = [inputs]
    inputs = list(inputs)
    expected = model.input_tensors
    if len(inputs) != len(expected):
        raise InputError(f"{model.name} has {len(expected)} input(s), got {len(inputs)}")
    arrays, batch = [], None
    for position, (array, tensor) in enumerate(zip(inputs, expected)):
        array = np.asarray(array)
        where = f"{model.name} input {position} '{tensor.name}'"
        if array.dtype != np.dtype(tensor.dtype):
            raise InputError(f"{where} takes {tensor.dtype}, got {array.dtype}")
        sample_shape = tuple(tensor.shape)
        if array.shape == sample_shape and sample_shape[:1] == (1,):
            array = array.reshape((1,) + sample_shape)   # a single sample without a batch axis
        elif sample_shape[:1] == (1,) and array.shape[1:] == sample_shape[1:]:
            # A batch-1 model given (N, *shape[1:]), as a Keras user holds a dataset.
            array = array.reshape((array.shape[0],) + sample_shape)
        if tuple(array.shape[1:]) != sample_shape:
            raise InputError(f"{where} takes batches of shape (N, "
                             f"{', '.join(map(str, sample_shape))}), got {array.shape}")
        if batch is not None and array.shape[0] != batch:
            raise InputError(f"{where}: batch of {array.shape[0]}, other inputs have {batch}")
        if array.shape[0] == 0:
            raise InputError(f"{where}: the batch is empty (shape {array.shape})")
        batch = array.shape[0]
        arrays.append(np.ascontiguousarray(array))
    return arrays


def sample_bytes(arrays: list[np.ndarray], index: int) -> bytes:
    """One sample's input bytes, all inputs concatenated (what a device receives)."""
    return b"".join(np.ascontiguousarray(a[index]).tobytes() for a in arrays)


def split_outputs(model: Model, raw: bytes, batch: int) -> list[np.ndarray]:
    """The output arrays (batch first) from the bytes of ``batch`` samples' outputs."""
    tensors = model.output_tensors
    per_sample = sum(t.nbytes for t in tensors)
    if len(raw) != per_sample * batch:
        raise InputError(f"{model.name}: expected {per_sample * batch} output bytes, "
                         f"got {len(raw)}")
    outputs = [np.empty((batch,) + tuple(t.shape), dtype=t.dtype) for t in tensors]
    offset = 0
    for i in range(batch):
        for out, tensor in zip(outputs, tensors):
            out[i] = np.frombuffer(raw, dtype=tensor.dtype, count=tensor.num_elements,
                                   offset=offset).reshape(tensor.shape)
            offset += tensor.nbytes
    return outputs


def quantize_input(model: Model, samples, position: int = 0) -> np.ndarray:
    """Float samples (batch first) as the model's quantized input ``position``:
    round(x / scale) + zero point, clamped to the dtype, as TFLite quantizes."""
    tensor = model.input_tensors[position]
    samples = np.asarray(samples, dtype=np.float32)
    if tensor.dtype == "float32":
        return samples
    if tensor.quantization is None:
        raise InputError(f"{model.name} input {position} '{tensor.name}' is {tensor.dtype} "
                         "without quantization: give it integer samples")
    info = np.iinfo(tensor.dtype)
    # Round half away from zero, as TFLite's converter and kernels do.
    scaled = samples / np.float32(tensor.scale)
    rounded = np.sign(scaled) * np.floor(np.abs(scaled) + 0.5)
    return np.clip(rounded + tensor.zero_point, info.min, info.max).astype(tensor.dtype)

