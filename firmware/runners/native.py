"""Native: the firmware compiled for this computer runs as a process; its UART is a
pseudo-terminal it opens and announces like QEMU does. Fast protocol tests, no
emulator; its counter is the monotonic clock (nanoseconds), not a device's."""

from __future__ import annotations

from tinyflow.errors import FlashError
from tinyflow.firmware.runners.base import RunnerCapabilities
from tinyflow.firmware.runners.pty_process import PtyProcessRunner


class NativeRunner(PtyProcessRunner):
    name = "native"
    program = "firmware.elf"
    install_hint = "build it with `tinyflow build --board native`"
    capabilities = RunnerCapabilities(emulate=True)
    options = ()

    def __init__(self, board, **kwargs):
        if not board.native:
            raise FlashError(f"board {board.name} is not this computer (native)")
        super().__init__(board, **kwargs)

    def tool(self) -> str:
        return self.program

    def command_line(self, elf) -> list[str]:
        return [str(elf)]
