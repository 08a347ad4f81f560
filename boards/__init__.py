"""Boards as data: one YAML file per board in this package, checked against the JSON
Schema ``schema.json`` (next to them) with the ``jsonschema`` package.

Every fact about a board (core, compiler FPU flags, clock, memory, UART, cycle counter,
flash tools, emulator, which program it runs) lives in its YAML file; Python code only
reads ``Board`` objects.

>>> board = get_board("qemu")
>>> board.name, board.core, board.ram.size_bytes
('qemu-cortex-m4', 'cortex-m4', 4194304)
>>> board.counter_unit
'instructions'
"""

from __future__ import annotations

import dataclasses
import functools
import json
from dataclasses import dataclass, field, replace
from importlib import resources
from typing import Any

import yaml
from jsonschema import Draft202012Validator, validators

from tinyflow.errors import BoardError

DEFAULT_BOARD = "qemu-cortex-m4"

# The board-file schema (JSON Schema, in this package): the fields, their types and the
# rules between them. Python checks only what a schema cannot say (see validate).
_SCHEMA = json.loads(resources.files(__name__).joinpath("schema.json").read_text())
# JSON Schema counts 1.0 as an integer; a board's sizes and addresses must be real ints.
_TYPES = Draft202012Validator.TYPE_CHECKER.redefine(
    "integer", lambda _checker, value: isinstance(value, int) and not isinstance(value, bool))
_VALIDATOR = validators.extend(Draft202012Validator, type_checker=_TYPES)(_SCHEMA)


@dataclass(frozen=True)
class MemoryRegion:
    name: str
    origin: int
    size_bytes: int

    @property
    def end(self) -> int:
        return self.origin + self.size_bytes


@dataclass(frozen=True)
class Board:
    """One board, as read from its YAML file (see boards/*.yaml for the fields)."""

    name: str
    description: str
    core: str
    features: tuple[str, ...]
    clock_hz: int
    flash: MemoryRegion
    ram: MemoryRegion
    stack_bytes: int
    uart: dict[str, Any]
    counter: dict[str, Any]
    flash_tools: dict[str, Any]
    aliases: tuple[str, ...] = ()
    fpu: str | None = None              # -mfpu and -mfloat-abi: None on the native core,
    float_abi: str | None = None        # which is compiled with this computer's gcc defaults
    program: str = "protocol"           # or "batch": a plain program, samples on stdin
    clock: dict[str, Any] = field(default_factory=dict)
    emulator: dict[str, Any] | None = None
    emulate_on: str | None = None
    timestamp_pin: dict[str, Any] | None = None   # EEMBC energy mode's timestamp output
    source: str = ""

    @property
    def emulated(self) -> bool:
        """True when the board itself is a QEMU machine (runs on this computer)."""
        return self.emulator is not None

    @property
    def native(self) -> bool:
        """True for the board that is this computer (the firmware built with gcc)."""
        return self.core == "native"

    @property
    def runs_here(self) -> bool:
        """True when the firmware runs on this computer: under QEMU or natively."""
        return self.emulated or self.native

    @property
    def counter_unit(self) -> str:
        """What the firmware's timer counts: 'cycles' (real cores) or 'instructions' (QEMU)."""
        return self.counter["unit"]

    @property
    def default_flash_tool(self) -> str:
        return self.flash_tools["default"]

    def flash_tool_options(self, tool: str) -> dict[str, Any]:
        allowed = self.flash_tools["allowed"]
        if tool not in allowed:
            raise BoardError(f"board {self.name}: flash tool '{tool}' is not supported; "
                             f"use one of {', '.join(allowed)}")
        return dict(allowed[tool] or {})

    def has(self, feature: str) -> bool:
        return feature in self.features

    def with_limits_on(self, host: "Board") -> "Board":
        """This board's memory sizes, stack and model, running on ``host`` (an emulated
        board with the same core): used by ``--emulate``. The memory origins are the
        emulator's (its RAM and flash sit elsewhere), the sizes are this board's."""
        return dataclasses.replace(
            host, name=f"{self.name}@{host.name}",
            description=f"{self.name} emulated on {host.name}",
            flash=MemoryRegion("flash", host.flash.origin, self.flash.size_bytes),
            ram=MemoryRegion("ram", host.ram.origin, self.ram.size_bytes),
            stack_bytes=self.stack_bytes, aliases=(), emulate_on=None, source=self.source)


def _fail(source: str, message: str):
    raise BoardError(f"board file {source}: {message}")


def _problems(data: Any) -> list[str]:
    """Every way ``data`` breaks the schema, one 'field.path: message' each."""
    problems = []
    for error in sorted(_VALIDATOR.iter_errors(data), key=lambda e: [str(p) for p in e.path]):
        path = ".".join(str(p) for p in error.path)
        message = error.message
        if error.validator == "not":    # jsonschema says "... should not be valid under {...}"
            message = f"{error.instance!r} is not allowed"
        why = error.schema.get("why") if isinstance(error.schema, dict) else None
        problems.append((f"{path}: " if path else "") + message + (f" ({why})" if why else ""))
    if problems:
        return problems
    # Two rules compare one field with another, which a schema cannot express; they
    # run on data the schema accepted.
    if data["stack_bytes"] >= data["memory"]["ram"]["size_bytes"]:
        problems.append("stack_bytes: must be less than memory.ram.size_bytes")
    if data["flash_tools"]["default"] not in data["flash_tools"]["allowed"]:
        problems.append(f"flash_tools.default: '{data['flash_tools']['default']}' "
                        "is not one of flash_tools.allowed")
    return problems


def validate(data: Any, source: str = "<board>") -> Board:
    """Check one board's data against the schema; returns the Board or raises BoardError
    listing every problem on one line."""
    problems = _problems(data)
    if problems:
        _fail(source, "; ".join(problems))
    memory, tools = data["memory"], data["flash_tools"]
    return Board(
        name=data["name"], description=data["description"], core=data["core"],
        features=tuple(data["features"]), clock_hz=data["clock_hz"],
        flash=MemoryRegion("flash", memory["flash"]["origin"], memory["flash"]["size_bytes"]),
        ram=MemoryRegion("ram", memory["ram"]["origin"], memory["ram"]["size_bytes"]),
        stack_bytes=data["stack_bytes"], uart=dict(data["uart"]), counter=dict(data["counter"]),
        flash_tools={"default": tools["default"], "allowed": dict(tools["allowed"])},
        aliases=tuple(data.get("aliases", ())), fpu=data.get("fpu"),
        float_abi=data.get("float_abi"), program=data.get("program", "protocol"),
        clock=dict(data.get("clock", {})),
        emulator=dict(data["emulator"]) if "emulator" in data else None,
        emulate_on=data.get("emulate_on"),
        timestamp_pin=dict(data["timestamp_pin"]) if "timestamp_pin" in data else None,
        source=source)


def board_files() -> list[str]:
    """Names of the board files shipped in this package."""
    return sorted(p.name for p in resources.files(__name__).iterdir()
                  if p.name.endswith(".yaml"))


@functools.lru_cache(maxsize=None)
def all_boards() -> tuple[Board, ...]:
    """Every board, validated; names and aliases are checked to be unique."""
    boards, seen = [], {}
    for filename in board_files():
        text = resources.files(__name__).joinpath(filename).read_text()
        try:
            data = yaml.safe_load(text)
        except yaml.YAMLError as exc:
            raise BoardError(f"board file {filename}: not valid YAML: {exc}") from exc
        board = validate(data, filename)
        if filename != f"{board.name}.yaml":
            _fail(filename, f"the file must be named after the board ({board.name}.yaml)")
        for key in (board.name, *board.aliases):
            if key in seen:
                _fail(filename, f"name or alias '{key}' is also used by {seen[key]}")
            seen[key] = filename
        boards.append(board)
    by_name = {b.name: b for b in boards}
    for board in boards:
        if board.emulate_on is not None:
            host = by_name.get(board.emulate_on)
            if host is None or not host.emulated or host.core != board.core:
                _fail(board.source, f"emulate_on '{board.emulate_on}' must name an emulated "
                                    f"board with the same core ({board.core})")
    return tuple(boards)


def get_board(name: str | Board) -> Board:
    """The board called ``name`` (or one of its aliases); BoardError lists the known ones.
    A Board is returned as it is (one with its stack resized, say)."""
    if isinstance(name, Board):
        return name
    for board in all_boards():
        if name == board.name or name in board.aliases:
            return board
    known = ", ".join(b.name for b in all_boards())
    raise BoardError(f"unknown board '{name}'; known boards: {known} (see `tinyflow boards`)")


def with_stack(board: Board, stack_bytes: int) -> Board:
    """``board`` with ``stack_bytes`` of stack reserved instead of its file's figure
    (`--stack`: sized from a measured high-water). BoardError if it cannot be."""
    if stack_bytes < 256 or stack_bytes % 8:
        raise BoardError(f"--stack {stack_bytes}: give at least 256 bytes, a multiple of 8")
    if stack_bytes >= board.ram.size_bytes:
        raise BoardError(f"--stack {stack_bytes}: {board.name} has {board.ram.size_bytes:,} "
                         f"bytes of RAM")
    return replace(board, stack_bytes=stack_bytes)


def emulation_of(board: Board) -> Board:
    """The board to run ``board``'s firmware on here: itself if emulated, else its
    ``emulate_on`` QEMU board with ``board``'s memory limits."""
    if board.runs_here:
        return board
    if board.emulate_on is None:
        raise BoardError(f"board {board.name} has no emulation (no 'emulate_on' in its file)")
    return board.with_limits_on(get_board(board.emulate_on))


def boards_table() -> str:
    """The boards as a plain-text table (``tinyflow boards``)."""
    rows = [("board", "aliases", "core", "clock", "flash", "ram", "counter", "flash tool", "runs")]
    for b in all_boards():
        runs = (f"QEMU {b.emulator['machine']}" if b.emulated else
                f"this computer (gcc, {b.program})" if b.native else
                f"real (--emulate: {b.emulate_on})")
        rows.append((b.name, ", ".join(b.aliases), b.core + ("F" if b.has("fpu") else ""),
                     f"{b.clock_hz / 1e6:g} MHz", f"{b.flash.size_bytes // 1024} KB",
                     f"{b.ram.size_bytes // 1024} KB", f"{b.counter['kind']} ({b.counter_unit})",
                     b.default_flash_tool, runs))
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    lines = ["  ".join(cell.ljust(w) for cell, w in zip(row, widths)).rstrip() for row in rows]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)
