"""Shared by the runners that run firmware on this computer (QEMU, native): start a
process that opens a pseudo-terminal for the firmware's UART, find the terminal's path
in the process's output, hand it back as the serial port; stop the process on close."""

from __future__ import annotations

import re
import subprocess
import tempfile
import time
from abc import abstractmethod
from pathlib import Path

from tinyflow.errors import FlashError
from tinyflow.firmware.runners.base import Runner

# QEMU's announcement of -serial pty; the native firmware prints the same line.
PTY_LINE = re.compile(r"char device redirected to (\S+) \(label serial0\)")


class PtyProcessRunner(Runner):
    start_timeout = 10.0

    def __init__(self, board, **kwargs):
        super().__init__(board, **kwargs)
        self.process: subprocess.Popen | None = None
        self.port: str | None = None
        self._log_dir: tempfile.TemporaryDirectory | None = None

    @abstractmethod
    def command_line(self, elf) -> list[str]:
        ...

    def do_run(self, firmware) -> str | None:
        argv = self.command_line(firmware.elf)
        if self.dry_run:
            self.commands.start(argv)
            return None
        # The process's messages go to a file, not a pipe: nobody reads a pipe after
        # start-up, and a full pipe would stall the process.
        self._log_dir = tempfile.TemporaryDirectory(prefix=f"tinyflow-{self.name}-")
        log_path = Path(self._log_dir.name) / "output.log"
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
                raise FlashError(f"{self.program} exited (code {self.process.returncode}) "
                                 f"before opening the serial port: {text.strip()[-2000:]}")
            time.sleep(0.02)
        self.close()
        raise FlashError(f"{self.program} did not report its serial pty within "
                         f"{self.start_timeout} s")

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
