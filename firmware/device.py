"""Get a session with a device running a model's firmware: build it, start QEMU for
emulated boards (or --emulate), or open the given port of a flashed real board."""

from __future__ import annotations

import contextlib
from dataclasses import dataclass

from tinyflow.codegen.tuning import choices_for
from tinyflow.boards import Board, emulation_of, get_board
from tinyflow.codegen.generator import GeneratedCode, generate
from tinyflow.errors import DeviceError
from tinyflow.firmware.build import BuildResult, FirmwareBuilder
from tinyflow.firmware.runners import Runner, get_runner
from tinyflow.firmware.session import DeviceSession


@dataclass
class Device:
    board: Board            # the board asked for (its clock, its name)
    runs_on: Board          # where the firmware runs: the board or its QEMU emulation
    firmware: BuildResult
    session: DeviceSession
    generated: GeneratedCode
    runner: Runner | None = None   # the emulator's runner (None for a real board's port)

    @property
    def unit(self) -> str:
        return self.runs_on.counter_unit


def _quiet(message: str) -> None:
    pass


@contextlib.contextmanager
def open_device(model, board: Board | str, *, port: str | None = None, emulate: bool = False,
                progress=None, timeout: float = 10.0, dut=None):
    """Yield a Device whose session talks to ``model``'s firmware on ``board``, built
    with the DUT settings ``dut`` (firmware/dut.py; default: the model's own)."""
    progress = progress or _quiet
    board = get_board(board) if isinstance(board, str) else board
    generated = (model if isinstance(model, GeneratedCode)
                 else generate(model, tuning=choices_for(board.name)))
    if port is None and not board.runs_here and not emulate:
        raise DeviceError(
            f"{board.name} is a real board: flash it (`tinyflow flash --board {board.name} "
            f"MODEL`) and pass its serial port (--port /dev/ttyACM0), or run its firmware "
            f"here with --emulate")
    # With --emulate the firmware is the emulation's, also when its port is given.
    runs_on = emulation_of(board) if (emulate or port is None) else board
    firmware = FirmwareBuilder(runs_on, progress=progress).build(generated, dut=dut)
    runner = None
    try:
        if port is None:
            runner = get_runner(runs_on)
            port = runner.run(firmware)
            progress(f"{runner.name} running {firmware.model} for {runs_on.name} on {port}")
        baud = firmware.dut.get("baud") or runs_on.uart["baud"]
        session = DeviceSession(port, baudrate=baud, timeout=timeout)
        try:
            info = session.handshake()
            expected = (generated.model.name, generated.model.sha256[:16])
            found = (info.get("model"), info.get("model-sha256"))
            if found != expected:
                raise DeviceError(f"the device on {port} runs model '{found[0]}' (sha256 "
                                  f"{found[1]}), not '{expected[0]}' ({expected[1]}): flash "
                                  f"it first (`tinyflow flash`)")
            yield Device(board, runs_on, firmware, session, generated, runner)
        finally:
            session.close()
    finally:
        if runner is not None:
            runner.close()
