"""Run a batch of inputs through a model on a board over the serial protocol."""

from __future__ import annotations

import numpy as np

from tinyflow.boards import get_board
from tinyflow.codegen.batch import check_inputs, sample_bytes, split_outputs
from tinyflow.firmware.device import open_device
from tinyflow.codegen.ir import Model


def run_batch(device, arrays: list[np.ndarray], progress=None) -> tuple[list[np.ndarray], list]:
    """Outputs (batch first) and the timing of every sample, on an open device."""
    batch = arrays[0].shape[0]
    raw, timings = b"", []
    for i in range(batch):
        device.session.load(sample_bytes(arrays, i))
        timings.append(device.session.infer(1, 0))
        raw += device.session.output_bytes()
        if progress:
            progress(f"inference {i + 1}/{batch}: {timings[-1].total:,} {timings[-1].unit}")
    return split_outputs(device.generated.model, raw, batch), timings


def run_on_board(model: Model, inputs, board: str, port: str | None = None,
                 emulate: bool = False, progress=None) -> list[np.ndarray]:
    """`tinyflow infer --board B`: outputs of ``model`` for ``inputs`` computed on the device
    (or, for the host board, by the model's program on this computer)."""
    arrays = check_inputs(model, inputs)        # before building: fail fast on bad input
    if get_board(board).program == "batch":
        from tinyflow.firmware.host import compile_host

        return compile_host(model, board).run(arrays)
    with open_device(model, board, port=port, emulate=emulate, progress=progress) as device:
        outputs, _ = run_batch(device, arrays, progress)
    return outputs
