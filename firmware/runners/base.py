"""One interface for every way to get firmware onto a board (or an emulator).

A runner is one small module; what it can do is data (``RunnerCapabilities``). An
option a runner does not support is an error, never silently ignored. Every external
program runs through ``Commands`` (logged, recorded, dry-run aware), so tests can
assert the exact command line without hardware.
"""

from __future__ import annotations

import shutil
from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Any, ClassVar

from tinyflow.boards import Board
from tinyflow.errors import BoardError, FlashError
from tinyflow.firmware.process import Commands


@dataclass(frozen=True)
class RunnerCapabilities:
    flash: bool = False      # writes the firmware into a real board's flash
    emulate: bool = False    # runs the firmware on this computer and hands back a port
    erase: bool = False      # can erase the whole chip first (--erase)
    dev_id: bool = False     # can pick one probe/port among several (--dev-id)
    list_probes: bool = False  # can enumerate attached probes (to refuse to guess)


class Runner(ABC):
    """Base class: ``run(build)`` checks the request, then ``do_run`` does the work."""

    name: ClassVar[str]
    program: ClassVar[str]                 # the external tool
    install_hint: ClassVar[str]
    capabilities: ClassVar[RunnerCapabilities]
    options: ClassVar[tuple[str, ...]] = ()  # per-board options from the board file

    def __init__(self, board: Board, *, commands: Commands | None = None,
                 dev_id: str | None = None, erase: bool = False):
        self.board = board
        self.commands = commands or Commands()
        self.settings: dict[str, Any] = board.flash_tool_options(self.name)
        unknown = set(self.settings) - set(self.options)
        if unknown:
            raise BoardError(f"board {board.name}: {self.name} does not take option(s) "
                             f"{sorted(unknown)} (it takes {list(self.options) or 'none'})")
        if dev_id is not None and not self.capabilities.dev_id:
            raise FlashError(f"{self.name} cannot select a probe (--dev-id)")
        if erase and not self.capabilities.erase:
            raise FlashError(f"{self.name} cannot erase the chip (--erase)")
        self.dev_id = dev_id
        self.erase = erase

    @property
    def dry_run(self) -> bool:
        return self.commands.dry_run

    def tool(self) -> str:
        """The tool's path; in a dry run its bare name (nothing is executed)."""
        if self.dry_run:
            return self.program
        path = shutil.which(self.program)
        if path is None:
            raise FlashError(self.missing_tool_message())
        return path

    def missing_tool_message(self) -> str:
        return (f"cannot flash {self.board.name}: '{self.program}' ({self.name}) is not "
                f"installed ({self.install_hint}). To run this board's firmware here "
                f"instead, add --emulate (QEMU, same core, this board's memory limits).")

    def probes(self) -> list[str]:
        """Serial numbers of the attached probes (runners with list_probes)."""
        return []

    def select_probe(self) -> str | None:
        """The probe to use: --dev-id if given; the only one attached; else an error.
        With several probes attached it refuses to guess."""
        if self.dev_id is not None or self.dry_run or not self.capabilities.list_probes:
            return self.dev_id
        found = self.probes()
        if not found:
            raise FlashError(f"{self.name}: no probe found for {self.board.name}; connect the "
                             "board's USB (debug) port, or run here with --emulate")
        if len(found) > 1:
            raise FlashError(f"{self.name}: {len(found)} probes attached ({', '.join(found)}); "
                             "tinyflow will not guess: choose one with --dev-id")
        return found[0]

    def run(self, firmware) -> Any:
        """Flash (or start) ``firmware`` (a BuildResult)."""
        if not self.dry_run and not firmware.elf.exists():
            raise FlashError(f"{firmware.elf} is missing: build the firmware first")
        return self.do_run(firmware)

    @abstractmethod
    def do_run(self, firmware) -> Any:
        ...

    def close(self) -> None:
        """Release what ``run`` started (emulators); nothing for flash tools."""

    def _check(self, result, what: str) -> None:
        if result.returncode != 0:
            output = (result.stderr or b"").decode(errors="replace").strip()
            output = output or (result.stdout or b"").decode(errors="replace").strip()
            raise FlashError(f"{self.name}: {what} failed (exit {result.returncode}): "
                             f"{output[-2000:]}")
