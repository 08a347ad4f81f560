"""The one place the profiler reads board facts.

Boards are data files owned by the firmware stage (``boards/*.yaml``, package
``tinyflow.boards``). The profiler needs only a few of their facts, so it reads
them through ``board_limits`` and nowhere else.
"""

from __future__ import annotations

from dataclasses import dataclass
from importlib import resources

import yaml

from tinyflow.errors import TinyflowError


@dataclass(frozen=True)
class BoardLimits:
    """What a profile needs to know about a board."""

    name: str
    core: str               # "cortex-m4": selects the default cost model
    clock_hz: int           # converts cycles (or emulated instructions) to seconds
    flash_bytes: int
    ram_bytes: int
    stack_bytes: int        # stack the firmware reserves in RAM
    time_unit: str          # what the board's counter counts: "instructions" (QEMU) or "cycles"

    def seconds(self, count: float) -> float:
        return count / self.clock_hz


def _board_files() -> dict[str, dict]:
    """Every board file, by name and alias."""
    boards = {}
    for entry in resources.files("tinyflow.boards").iterdir():
        if entry.name.endswith(".yaml"):
            data = yaml.safe_load(entry.read_text())
            for key in [data["name"], *data.get("aliases", [])]:
                boards[key] = data
    return boards


def board_limits(name: str) -> BoardLimits:
    """Read board ``name`` (or one of its aliases) from its board file."""
    boards = _board_files()
    if name not in boards:
        names = sorted({b["name"] for b in boards.values()})
        raise TinyflowError(f"unknown board '{name}'; known boards: {', '.join(names)}")
    data = boards[name]
    try:
        return BoardLimits(
            name=data["name"],
            core=data["core"],
            clock_hz=int(data["clock_hz"]),
            flash_bytes=int(data["memory"]["flash"]["size_bytes"]),
            ram_bytes=int(data["memory"]["ram"]["size_bytes"]),
            stack_bytes=int(data.get("stack_bytes", 0)),
            time_unit=data.get("counter", {}).get("unit", "cycles"),
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise TinyflowError(f"board '{name}': board file lacks or garbles {exc}") from exc
