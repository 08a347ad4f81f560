"""`tinyflow measure`: run inputs on the device, check every output byte against TFLM,
and report latency, per-layer times and memory, as measured on the device.

>>> from tinyflow.firmware.measure import measure                    # doctest: +SKIP
>>> result = measure("kws_ref_model.tflite", board="qemu-cortex-m4")  # doctest: +SKIP
>>> print(result)                                                      # doctest: +SKIP
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from tinyflow.codegen.tuning import choices_for
from tinyflow.boards import get_board
from tinyflow.codegen.generator import generate
from tinyflow.codegen.batch import check_inputs, sample_bytes
from tinyflow.firmware.device import open_device
from tinyflow.firmware.divergence import first_divergent_layer
from tinyflow.firmware.infer import run_batch
from tinyflow.firmware.measurement import LayerTime, Measurement
from tinyflow.errors import InputError
from tinyflow.codegen.ir import Model, load_model


def random_inputs(model: Model, count: int, seed: int = 0) -> list[np.ndarray]:
    """The default measurement inputs, fixed seed: uniform over each integer input's
    range; a float input (a model with float edges) uniform in [-1, 1)."""
    rng = np.random.default_rng(seed)
    arrays = []
    for tensor in model.input_tensors:
        shape = (count, *tensor.shape)
        if np.issubdtype(np.dtype(tensor.dtype), np.floating):
            arrays.append(rng.uniform(-1.0, 1.0, size=shape).astype(tensor.dtype))
            continue
        info = np.iinfo(tensor.dtype)
        arrays.append(rng.integers(info.min, info.max + 1, size=shape, dtype=tensor.dtype))
    return arrays


def baseline_inputs(model: Model) -> list[np.ndarray]:
    """The input of the TFLM baseline (docs/baseline-tflm.md): bytes from the LCG
    s = s * 1664525 + 1013904223 (mod 2^32) from s = 0x12345678, each (int8)(s >> 24)."""
    total = sum(t.nbytes for t in model.input_tensors)
    state, data = 0x12345678, bytearray()
    for _ in range(total):
        state = (state * 1664525 + 1013904223) & 0xFFFFFFFF
        data.append(state >> 24)
    arrays, offset = [], 0
    for tensor in model.input_tensors:
        chunk = np.frombuffer(bytes(data[offset:offset + tensor.nbytes]), dtype=tensor.dtype)
        arrays.append(chunk.reshape((1, *tensor.shape)).copy())
        offset += tensor.nbytes
    return arrays


def measure(model, board: str = "qemu-cortex-m4", *, port: str | None = None,
            inputs=None, count: int = 10, seed: int = 0, emulate: bool = False,
            locate_divergence: bool = True, progress=None,
            name: str | None = None, dut=None, tuning: dict | None = None) -> Measurement:
    """Build ``model`` for ``board``, run ``count`` inputs (or ``inputs``) on the device,
    compare every output byte with TFLM and measure latency, layers and memory.
    ``dut``: the firmware's DUT settings (firmware/dut.py; default: the model's).
    ``tuning``: kernel choices (codegen/tuning.py; default: the board's saved record).

    Also the profiler's entry point for per-layer times: ``measure(...).layers``.
    """
    from tinyflow.reference import ReferenceInterpreter

    model_bytes, file_name = _model_source(model)
    name = name or file_name      # a model given as bytes is named by ``name``
    target = get_board(board)
    generated = generate(load_model(model_bytes, name=name),
                         tuning=choices_for(target.name) if tuning is None else tuning)
    ir = generated.model
    arrays = check_inputs(ir, inputs if inputs is not None else random_inputs(ir, count, seed))
    with open_device(generated, target, port=port, emulate=emulate, progress=progress,
                     dut=dut) as device:
        outputs, timings = run_batch(device, arrays, progress)
        per_layer, layers_total, unit = device.session.layers()
        memory = device.session.memory()
        reference = ReferenceInterpreter(model_bytes).run(arrays)
        mismatched = sorted({i for ours, ref in zip(outputs, reference)
                             for i in range(ours.shape[0])
                             if ours[i].tobytes() != ref[i].tobytes()})
        divergence = None
        if mismatched and locate_divergence:
            divergence = first_divergent_layer(device, model_bytes, arrays,
                                               mismatched[0])
        firmware = device.firmware
        return Measurement(
            model=ir.name, board=target.name, runs_on=device.runs_on.name, unit=unit,
            clock_hz=target.clock_hz, inferences=len(timings),
            latencies=[t.total for t in timings],
            layers=[LayerTime(i, op, c) for i, (op, c) in enumerate(per_layer)],
            layers_total=layers_total, stack_used_bytes=memory.get("stack_used", 0),
            stack_size_bytes=memory.get("stack_size", 0), arena_bytes=memory.get("arena", 0),
            flash_bytes=firmware.flash_bytes, ram_bytes=firmware.ram_bytes,
            flash_limit=firmware.flash_limit, ram_limit=firmware.ram_limit,
            breakdown=firmware.breakdown, sections=firmware.sections,
            bit_exact=not mismatched, mismatched_samples=mismatched,
            first_divergent_layer=divergence, elf=str(firmware.elf), outputs=outputs)


def _model_source(model) -> tuple[bytes, str | None]:
    """The .tflite bytes (the TFLM reference needs them) and the model's name."""
    if isinstance(model, (bytes, bytearray)):
        return bytes(model), None
    if isinstance(model, (str, Path)):
        path = Path(model)
        try:
            return path.read_bytes(), path.stem
        except OSError as exc:
            raise InputError(f"{path}: cannot read model: {exc.strerror}") from exc
    raise InputError("measure() takes a .tflite path or its bytes (TFLM needs the flatbuffer)")


__all__ = ["Measurement", "LayerTime", "measure", "random_inputs", "baseline_inputs",
           "sample_bytes"]
