"""Runners: one module per tool that puts firmware on a board (or in an emulator).

``get_runner(board, tool)`` picks the class by the tool's name from the board file.
"""

from __future__ import annotations

from tinyflow.boards import Board
from tinyflow.firmware.runners.base import Runner, RunnerCapabilities
from tinyflow.firmware.runners.bossac import BossacRunner
from tinyflow.firmware.runners.native import NativeRunner
from tinyflow.firmware.runners.nrfjprog import NrfjprogRunner
from tinyflow.firmware.runners.openocd import OpenocdRunner
from tinyflow.firmware.runners.pyocd import PyocdRunner
from tinyflow.firmware.runners.qemu import QemuRunner

RUNNERS: dict[str, type[Runner]] = {
    cls.name: cls for cls in (QemuRunner, NativeRunner, NrfjprogRunner, PyocdRunner, OpenocdRunner, BossacRunner)
}


def get_runner(board: Board, tool: str | None = None, **kwargs) -> Runner:
    """The runner for ``tool`` (default: the board's default flash tool)."""
    tool = tool or board.default_flash_tool
    board.flash_tool_options(tool)          # raises BoardError if the board does not allow it
    return RUNNERS[tool](board, **kwargs)


__all__ = ["RUNNERS", "Runner", "RunnerCapabilities", "get_runner"]
