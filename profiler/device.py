"""The one place the profiler runs models on a device: the firmware stage's ``measure``.

``measure_model`` builds the model's firmware for the board, runs it, checks its
outputs against TFLM, and returns what the profiler needs: per-layer counts, the
whole-inference count, and the built image's flash and RAM. Each measurement is
also stored (``<cache>/measurements``), keyed by the model, the board and the
code generator's and firmware's sources, so a later profile of the same model
shows it beside the estimates without running the device again.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from tinyflow.errors import TinyflowError
from tinyflow.codegen.ir import Model, load_model
from tinyflow.common import cache_dir, publish_file
from tinyflow.profiler.costs import timed_code_fingerprint
from tinyflow.profiler.profile import Measurement

# Inferences timed per measurement: guest instruction counts on QEMU are nearly
# deterministic (they vary by a few instructions with the input), so few suffice.
INFERENCES = 3


@dataclass
class DeviceRun:
    """A measurement plus the built image's per-layer code sizes (for calibrating flash)."""

    measurement: Measurement
    layer_code_bytes: dict[int, int]     # layer index -> bytes of its function and tables
    input_bytes: int                     # model input bytes (the firmware buffers one input)


def measure_model(model, board: str, *, port: str | None = None, emulate: bool = False,
                  inferences: int = INFERENCES) -> Measurement:
    """Measure ``model`` (a .tflite path or its bytes) on ``board``: an emulated board,
    a real one on ``port``, or a real one's limits on its emulator (``emulate``)."""
    measurement = run_on_device(model, board, port=port, emulate=emulate,
                                inferences=inferences).measurement
    _store(model, board, measurement)
    return measurement


def stored_measurement(model, board: str) -> Measurement | None:
    """The last measurement of ``model`` on ``board`` by this code generator and firmware."""
    path = _stored_path(model, board)
    if not path.is_file():
        return None
    return Measurement(**json.loads(path.read_text()))


def _stored_path(model, board: str) -> Path:
    if not isinstance(model, Model):
        model = load_model(model)
    key = "\n".join([model.sha256, board, timed_code_fingerprint()])
    return (cache_dir("measurements")
            / f"{model.name}-{hashlib.sha256(key.encode()).hexdigest()[:20]}.json")


def _store(model, board: str, measurement: Measurement) -> None:
    publish_file(_stored_path(model, board),
                 json.dumps(dataclasses.asdict(measurement), indent=2, sort_keys=True))


def run_on_device(model, board: str, *, port: str | None = None, emulate: bool = False,
                  inferences: int = INFERENCES) -> DeviceRun:
    from tinyflow.firmware.build import read_symbol_sizes
    from tinyflow.firmware.measure import measure

    result = measure(model, board=board, port=port, emulate=emulate, count=inferences,
                     locate_divergence=False)
    if not result.bit_exact:
        # Timing code that computes something else would calibrate the wrong thing.
        raise TinyflowError(f"{result.model} on {board}: outputs differ from TFLM on inputs "
                            f"{result.mismatched_samples}; refusing to use its timings")
    measurement = Measurement(
        layer_counts=[float(layer.count) for layer in result.layers],
        total_count=float(np.mean(result.latencies)),
        flash_bytes=result.flash_bytes,
        ram_bytes=result.ram_bytes,
        stack_used_bytes=result.stack_used_bytes,
        source=(f"{result.runs_on}, {result.unit}, mean of {result.inferences} inferences, "
                "outputs bit-exact with TFLM"),
    )
    return DeviceRun(measurement, _layer_code_bytes(read_symbol_sizes(result.elf)),
                     input_bytes=result.breakdown.get("input_buffer", 0))


def _layer_code_bytes(symbols: dict[str, int]) -> dict[int, int]:
    """Bytes per layer in the generated code: its function ``layer_N`` and its
    requantization tables ``layerN_multiplier`` / ``layerN_shift``."""
    sizes: dict[int, int] = {}
    for name, size in symbols.items():
        match = re.fullmatch(r"layer_?(\d+)(?:_multiplier|_shift)?", name)
        if match:
            index = int(match.group(1))
            sizes[index] = sizes.get(index, 0) + size
    return sizes
