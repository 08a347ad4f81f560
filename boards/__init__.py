"""Boards as data: one YAML file per board in this package, checked against a schema.

Every fact about a board (core, clock, memory, UART, cycle counter, flash tools,
emulator) lives in its YAML file; Python code only reads ``Board`` objects.

>>> board = get_board("qemu")
>>> board.name, board.core, board.ram.size_bytes
('qemu-cortex-m4', 'cortex-m4', 4194304)
>>> board.counter_unit
'instructions'
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from importlib import resources
from typing import Any

import yaml

from tinyflow.errors import BoardError

DEFAULT_BOARD = "qemu-cortex-m4"

CORES = ("cortex-m0", "cortex-m0plus", "cortex-m3", "cortex-m4", "cortex-m7", "cortex-m33",
         "cortex-m55", "native")   # native: this computer (gcc), for protocol tests
FEATURES = ("fpu", "fpu-double", "dsp", "mve")
UART_KINDS = ("cmsdk", "nrf-uart", "stm32-lpuart", "pty")
COUNTER_KINDS = {"dwt": "cycles", "systick-icount": "instructions", "nrf-timer": "instructions",
                 "monotonic-clock": "nanoseconds"}
CLOCK_KINDS = ("nrf-hfxo", "stm32l4-pll-hsi16")
FLASH_TOOLS = ("qemu", "native", "nrfjprog", "pyocd", "openocd", "bossac")

# field -> (type, required). Nested mappings are checked by the helpers below.
_TOP_LEVEL = {
    "name": (str, True), "description": (str, True), "aliases": (list, False),
    "core": (str, True), "features": (list, True), "clock_hz": (int, True),
    "memory": (dict, True), "stack_bytes": (int, True), "uart": (dict, True),
    "clock": (dict, False), "counter": (dict, True), "emulator": (dict, False),
    "emulate_on": (str, False), "flash_tools": (dict, True),
}


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
    clock: dict[str, Any] = field(default_factory=dict)
    emulator: dict[str, Any] | None = None
    emulate_on: str | None = None
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
        return Board(
            name=f"{self.name}@{host.name}", description=f"{self.name} emulated on {host.name}",
            core=host.core, features=host.features, clock_hz=host.clock_hz,
            flash=MemoryRegion("flash", host.flash.origin, self.flash.size_bytes),
            ram=MemoryRegion("ram", host.ram.origin, self.ram.size_bytes),
            stack_bytes=self.stack_bytes, uart=host.uart, counter=host.counter,
            flash_tools=host.flash_tools, aliases=(), clock=host.clock,
            emulator=host.emulator, emulate_on=None, source=self.source)


def _fail(source: str, message: str):
    raise BoardError(f"board file {source}: {message}")


def _check_region(source: str, name: str, region: Any) -> MemoryRegion:
    if not isinstance(region, dict) or set(region) != {"origin", "size_bytes"}:
        _fail(source, f"memory.{name} needs exactly 'origin' and 'size_bytes'")
    for key in ("origin", "size_bytes"):
        if not isinstance(region[key], int) or region[key] < 0:
            _fail(source, f"memory.{name}.{key} must be a non-negative integer")
    if region["size_bytes"] == 0:
        _fail(source, f"memory.{name}.size_bytes must be > 0")
    return MemoryRegion(name, region["origin"], region["size_bytes"])


def validate(data: Any, source: str = "<board>") -> Board:
    """Check one board's data against the schema; returns the Board or raises BoardError."""
    if not isinstance(data, dict):
        _fail(source, "must be a mapping")
    for key, (kind, required) in _TOP_LEVEL.items():
        if key not in data:
            if required:
                _fail(source, f"missing field '{key}'")
            continue
        if not isinstance(data[key], kind) or (kind is int and isinstance(data[key], bool)):
            _fail(source, f"field '{key}' must be a {kind.__name__}")
    unknown = set(data) - set(_TOP_LEVEL)
    if unknown:
        _fail(source, f"unknown field(s) {sorted(unknown)}")
    if data["core"] not in CORES:
        _fail(source, f"core '{data['core']}' is not one of {CORES}")
    bad = [f for f in data["features"] if f not in FEATURES]
    if bad:
        _fail(source, f"unknown feature(s) {bad}; known: {FEATURES}")
    if data["clock_hz"] <= 0:
        _fail(source, "clock_hz must be > 0")
    memory = data["memory"]
    if set(memory) != {"flash", "ram"}:
        _fail(source, "memory needs exactly 'flash' and 'ram'")
    flash = _check_region(source, "flash", memory["flash"])
    ram = _check_region(source, "ram", memory["ram"])
    if not 256 <= data["stack_bytes"] < ram.size_bytes:
        _fail(source, "stack_bytes must be at least 256 and less than the RAM size")

    uart = data["uart"]
    if uart.get("kind") not in UART_KINDS:
        _fail(source, f"uart.kind must be one of {UART_KINDS}")
    if (data["core"] == "native") != (uart["kind"] == "pty") or \
            (data["core"] == "native") != (data["counter"].get("kind") == "monotonic-clock"):
        _fail(source, "the native core goes with uart kind 'pty' and counter 'monotonic-clock'")
    if not isinstance(uart.get("base"), int) or not isinstance(uart.get("baud"), int):
        _fail(source, "uart needs integer 'base' (address) and 'baud'")
    if "clock" in data and data["clock"].get("kind") not in CLOCK_KINDS:
        _fail(source, f"clock.kind must be one of {CLOCK_KINDS}")

    counter = data["counter"]
    kind = counter.get("kind")
    if kind not in COUNTER_KINDS:
        _fail(source, f"counter.kind must be one of {tuple(COUNTER_KINDS)}")
    if counter.get("unit") != COUNTER_KINDS[kind]:
        # A QEMU counter measures guest instructions, never cycles: the unit is fixed by kind.
        _fail(source, f"counter kind '{kind}' counts {COUNTER_KINDS[kind]}, "
                      f"not '{counter.get('unit')}'")
    if kind in ("systick-icount", "nrf-timer") and "emulator" not in data:
        _fail(source, f"counter kind '{kind}' counts instructions only under QEMU -icount; "
                      "the board needs an 'emulator'")
    if kind == "systick-icount" and not isinstance(counter.get("systick_hz"), int):
        _fail(source, "counter.systick_hz (integer) is required for systick-icount")
    if kind == "nrf-timer" and not (isinstance(counter.get("base"), int)
                                    and isinstance(counter.get("timer_hz"), int)):
        _fail(source, "counter.base and counter.timer_hz (integers) are required for nrf-timer")

    if "emulator" in data:
        emulator = data["emulator"]
        if emulator.get("kind") != "qemu" or not isinstance(emulator.get("machine"), str) \
                or not isinstance(emulator.get("icount_shift"), int):
            _fail(source, "emulator needs kind: qemu, a machine name and an integer icount_shift")
    tools = data["flash_tools"]
    allowed = tools.get("allowed")
    if not isinstance(allowed, dict) or not allowed:
        _fail(source, "flash_tools.allowed must map tool names to their options")
    bad = [t for t in allowed if t not in FLASH_TOOLS]
    if bad:
        _fail(source, f"unknown flash tool(s) {bad}; known: {FLASH_TOOLS}")
    for tool, options in allowed.items():
        if options is not None and not isinstance(options, dict):
            _fail(source, f"flash_tools.allowed.{tool} must be a mapping of options")
    if tools.get("default") not in allowed:
        _fail(source, "flash_tools.default must be one of flash_tools.allowed")

    return Board(
        name=data["name"], description=data["description"], core=data["core"],
        features=tuple(data["features"]), clock_hz=data["clock_hz"], flash=flash, ram=ram,
        stack_bytes=data["stack_bytes"], uart=dict(uart), counter=dict(counter),
        flash_tools={"default": tools["default"], "allowed": dict(allowed)},
        aliases=tuple(data.get("aliases", ())), clock=dict(data.get("clock", {})),
        emulator=dict(data["emulator"]) if "emulator" in data else None,
        emulate_on=data.get("emulate_on"), source=source)


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


def get_board(name: str) -> Board:
    """The board called ``name`` (or one of its aliases); BoardError lists the known ones."""
    for board in all_boards():
        if name == board.name or name in board.aliases:
            return board
    known = ", ".join(b.name for b in all_boards())
    raise BoardError(f"unknown board '{name}'; known boards: {known} (see `tinyflow boards`)")


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
        runs = (f"QEMU {b.emulator['machine']}" if b.emulated else "this computer (gcc)"
                if b.native else f"real (--emulate: {b.emulate_on})")
        rows.append((b.name, ", ".join(b.aliases), b.core + ("F" if b.has("fpu") else ""),
                     f"{b.clock_hz / 1e6:g} MHz", f"{b.flash.size_bytes // 1024} KB",
                     f"{b.ram.size_bytes // 1024} KB", f"{b.counter['kind']} ({b.counter_unit})",
                     b.default_flash_tool, runs))
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    lines = ["  ".join(cell.ljust(w) for cell, w in zip(row, widths)).rstrip() for row in rows]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)
