"""QEMU: runs an emulated board's firmware here. ``run`` starts qemu-system-arm with
the firmware's UART on a pseudo-terminal and returns that terminal's path (the serial
port); ``close`` stops QEMU.

Timing needs ``-icount shift=N``: every guest instruction then takes 2^N ns of virtual
time, which is what the firmware's counters measure (instructions, not cycles).
"""

from __future__ import annotations

from tinyflow.errors import FlashError
from tinyflow.firmware.runners.base import RunnerCapabilities
from tinyflow.firmware.runners.pty_process import PtyProcessRunner


class QemuRunner(PtyProcessRunner):
    name = "qemu"
    program = "qemu-system-arm"
    install_hint = "apt-get install qemu-system-arm"
    capabilities = RunnerCapabilities(emulate=True)
    options = ()

    def __init__(self, board, **kwargs):
        if board.emulator is None:
            raise FlashError(f"board {board.name} is not emulated; use its emulation "
                             f"(--emulate) to run it in QEMU")
        super().__init__(board, **kwargs)

    def missing_tool_message(self) -> str:
        return (f"cannot run {self.board.name}: '{self.program}' is not installed "
                f"({self.install_hint}, or run scripts/setup)")

    def command_line(self, elf) -> list[str]:
        emulator = self.board.emulator
        return [self.tool(), "-M", emulator["machine"], "-nographic",
                "-icount", f"shift={emulator['icount_shift']}", "-kernel", str(elf),
                "-serial", "pty", "-monitor", "none"]
