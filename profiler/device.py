"""The one place the profiler runs models on a device: the firmware stage's ``measure``.

``measure_model`` builds the model's firmware for the board, runs it, checks its
outputs against TFLM, and returns what the profiler needs: per-layer counts, the
whole-inference count, and the built image's flash and RAM. Each measurement is
also stored (``<cache>/measurements``), keyed by the model, the board and the
code generator's and firmware's sources, so a later profile of the same model
shows it beside the estimates without running the device again.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path


from tinyflow.errors import TinyflowError
from tinyflow.codegen.ir import Model, load_model
from tinyflow.common import cache_dir, publish_file
from tinyflow.profiler.costs import timed_code_fingerprint
from tinyflow.firmware.measurement import Measurement

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
    try:
        return Measurement.from_dict(json.loads(path.read_text()))
    except (ValueError, TypeError):     # written by another tinyflow version: measure again
        return None


def _stored_path(model, board: str) -> Path:
    if not isinstance(model, Model):
        model = load_model(model)
    key = "\n".join([model.sha256, board, timed_code_fingerprint()])
    return (cache_dir("measurements")
            / f"{model.name}-{hashlib.sha256(key.encode()).hexdigest()[:20]}.json")


def _store(model, board: str, measurement: Measurement) -> None:
    publish_file(_stored_path(model, board), measurement.to_json())


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
    manifest = json.loads((Path(result.elf).parent / "manifest.json").read_text())
    return DeviceRun(result, layer_code_bytes(manifest, read_symbol_sizes(result.elf)),
                     input_bytes=result.breakdown.get("input_buffer", 0))


def layer_code_bytes(manifest: dict, symbols: dict[str, int]) -> dict[int, int]:
    """Bytes per layer in a built image: its function and its constant tables, by the
    symbol names the code generator recorded for it (``symbols``: name -> size)."""
    return {layer["index"]: symbols.get(layer["function"], 0)
            + sum(symbols.get(table["symbol"], 0) for table in layer["tables"])
            for layer in manifest["layers"]}
