"""QEMU: runs an emulated board's firmware here. ``run`` starts qemu-system-arm with
the firmware's UART on a pseudo-terminal and returns that terminal's path (the serial
port); ``close`` stops QEMU.

Timing needs ``-icount shift=N``: every guest instruction then takes 2^N ns of virtual
time, which is what the firmware's counters measure (instructions, not cycles).
"""

from __future__ import annotations

import re
import subprocess
import tempfile
import time
from pathlib import Path

from tinyflow.errors import FlashError
from tinyflow.firmware.runners.base import Runner, RunnerCapabilities

PTY_LINE = re.compile(r"char device redirected to (\S+) \(label serial0\)")


class QemuRunner(Runner):
    name = "qemu"
    program = "qemu-system-arm"
    install_hint = "apt-get install qemu-system-arm"
    capabilities = RunnerCapabilities(emulate=True)
    options = ()
    start_timeout = 10.0

    def __init__(self, board, **kwargs):
        super().__init__(board, **kwargs)
        if board.emulator is None:
            raise FlashError(f"board {board.name} is not emulated; use its emulation "
                             f"(--emulate) to run it in QEMU")
        self.process: subprocess.Popen | None = None
        self._log_dir: tempfile.TemporaryDirectory | None = None
        self.port: str | None = None

    def command_line(self, elf) -> list[str]:
        emulator = self.board.emulator
        return [self.tool(), "-M", emulator["machine"], "-nographic",
                "-icount", f"shift={emulator['icount_shift']}", "-kernel", str(elf),
                "-serial", "pty", "-monitor", "none"]

    def missing_tool_message(self) -> str:
        return (f"cannot run {self.board.name}: '{self.program}' is not installed "
                f"({self.install_hint}, or run scripts/setup)")

    def do_run(self, firmware) -> str | None:
        argv = self.command_line(firmware.elf)
        if self.dry_run:
            self.commands.start(argv)
            return None
        # QEMU's messages go to a file, not a pipe: nobody reads a pipe after start-up,
        # and a full pipe would stall the emulator.
        self._log_dir = tempfile.TemporaryDirectory(prefix="tinyflow-qemu-")
        log_path = Path(self._log_dir.name) / "qemu.log"
        with open(log_path, "wb") as log_file:
            self.process = self.commands.start(argv, stdin=subprocess.DEVNULL, stdout=log_file,
                                               stderr=subprocess.STDOUT)
        deadline = time.monotonic() + self.start_timeout
        while time.monotonic() < deadline:
            text = log_path.read_text(errors="replace")
            match = PTY_LINE.search(text)
            if match:
                self.port = match.group(1)
                return self.port
            if self.process.poll() is not None:
                self.close()
                raise FlashError(f"QEMU exited (code {self.process.returncode}) before "
                                 f"opening the serial port: {text.strip()[-2000:]}")
            time.sleep(0.02)
        self.close()
        raise FlashError(f"QEMU did not report its serial pty within {self.start_timeout} s")

    @property
    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def close(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        if self._log_dir is not None:
            self._log_dir.cleanup()
            self._log_dir = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
