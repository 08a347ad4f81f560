"""The host board: a model's generated code built as a plain program for this computer.

The fastest way to check generated C against the reference interpreter: one process
runs a whole batch, the samples' input bytes on stdin, their output bytes on stdout.
It is built like every other board, by the firmware builder (same flags, same cache)
from the board file ``boards/host.yaml`` (``program: batch``).

>>> from tinyflow.firmware.host import compile_host              # doctest: +SKIP
>>> outputs = compile_host("ad01_int8.tflite").run([inputs])     # doctest: +SKIP
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from tinyflow.codegen.tuning import choices_for
from tinyflow.codegen.batch import check_inputs, sample_bytes, split_outputs
from tinyflow.codegen.generator import GeneratedCode, generate
from tinyflow.errors import BuildError
from tinyflow.firmware.build import build_firmware
from tinyflow.firmware.process import Commands

HOST_BOARD = "host"


class HostModel:
    """A model built for this computer. ``run(inputs)`` returns its outputs."""

    def __init__(self, generated: GeneratedCode, executable: Path,
                 commands: Commands | None = None):
        self.generated = generated
        self.model = generated.model
        self.executable = Path(executable)
        self.commands = commands or Commands()

    def run(self, inputs) -> list[np.ndarray]:
        """Run a batch. ``inputs`` holds one array per model input, each with a leading
        batch axis; returns one array per model output, batch first."""
        arrays = check_inputs(self.model, inputs)
        batch = arrays[0].shape[0]
        stdin = b"".join(sample_bytes(arrays, i) for i in range(batch))
        result = self.commands.run([self.executable, batch], input=stdin)
        if result.returncode != 0:
            raise BuildError(f"host program for {self.model.name} failed "
                             f"(exit {result.returncode}): {result.stderr.decode().strip()}")
        return split_outputs(self.model, result.stdout, batch)


def compile_host(model, board: str = HOST_BOARD) -> HostModel:
    """Generate (unless given GeneratedCode) and build ``model`` for the host board
    (or another board whose program is the batch runner)."""
    generated = (model if isinstance(model, GeneratedCode)
                 else generate(model, tuning=choices_for(board)))
    build = build_firmware(generated, board)
    return HostModel(generated, build.elf)
