"""The one place the profiler reads board facts.

Boards are data files owned by the firmware stage (``boards/*.yaml``, loaded by
``tinyflow.boards.get_board``). The profiler needs only a few of their facts, so
it reads them through ``board_limits`` and nowhere else.
"""

from __future__ import annotations

from dataclasses import dataclass

from tinyflow.boards import get_board


@dataclass(frozen=True)
class BoardLimits:
    """What a profile needs to know about a board."""

    name: str
    core: str               # "cortex-m4": selects the default cost model
    clock_hz: int           # converts cycles (or emulated instructions) to seconds
    flash_bytes: int
    ram_bytes: int
    stack_bytes: int        # stack the firmware reserves in RAM
    time_unit: str          # what the board's counter counts: "instructions" (QEMU),
                            # "cycles" (a real core) or "nanoseconds" (the native board)

    def seconds(self, count: float) -> float:
        """A count of the board's timer in seconds (instructions: at one per cycle)."""
        if self.time_unit == "nanoseconds":
            return count * 1e-9
        return count / self.clock_hz


def board_limits(name: str) -> BoardLimits:
    """Board ``name`` (or one of its aliases); BoardError names the known boards."""
    board = get_board(name)
    return BoardLimits(name=board.name, core=board.core, clock_hz=board.clock_hz,
                       flash_bytes=board.flash.size_bytes, ram_bytes=board.ram.size_bytes,
                       stack_bytes=board.stack_bytes, time_unit=board.counter_unit)
