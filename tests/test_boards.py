"""Boards as data: every board file passes the schema; the schema rejects bad data."""

import copy

import pytest
import yaml
from importlib import resources

from tinyflow.boards import (DEFAULT_BOARD, all_boards, board_files, boards_table, emulation_of,
                             get_board, validate)
from tinyflow.errors import BoardError


def _raw(filename):
    return yaml.safe_load(resources.files("tinyflow.boards").joinpath(filename).read_text())


@pytest.mark.parametrize("filename", board_files())
def test_every_board_file_is_valid(filename):
    board = validate(_raw(filename), filename)
    assert filename == f"{board.name}.yaml"
    assert board.flash.size_bytes > 0 and board.ram.size_bytes > board.stack_bytes
    assert board.default_flash_tool in board.flash_tools["allowed"]
    # a QEMU counter measures instructions, a real core's DWT measures cycles
    assert board.counter_unit == ("instructions" if board.emulated else
                                  "nanoseconds" if board.native else "cycles")
    if not board.runs_here:
        emulated = emulation_of(board)
        assert emulated.core == board.core and emulated.emulated
        assert emulated.ram.size_bytes == board.ram.size_bytes
        assert emulated.flash.size_bytes == board.flash.size_bytes


def test_the_required_boards_are_there():
    names = {b.name for b in all_boards()}
    assert {"qemu-cortex-m4", "qemu-cortex-m3", "qemu-cortex-m7", "microbit", "nrf52840dk",
            "nucleo-l4r5zi", "arduino-nano-33-ble"} <= names
    assert DEFAULT_BOARD == "qemu-cortex-m4"
    assert get_board("nrf52").name == "nrf52840dk"          # alias
    nrf52 = get_board("nrf52")
    assert (nrf52.core, nrf52.clock_hz, nrf52.flash.origin, nrf52.flash.size_bytes,
            nrf52.ram.origin, nrf52.ram.size_bytes) == (
        "cortex-m4", 64_000_000, 0, 1 << 20, 0x20000000, 256 << 10)
    assert get_board("nano33ble").flash.origin == 0x10000    # after the Arduino bootloader


def test_unknown_board_lists_the_known_ones():
    with pytest.raises(BoardError, match="unknown board 'nrf99'.*qemu-cortex-m4"):
        get_board("nrf99")


@pytest.mark.parametrize("mutate, message", [
    (lambda d: d.pop("core"), "missing field 'core'"),
    (lambda d: d.update(core="cortex-a53"), "core 'cortex-a53'"),
    (lambda d: d.update(features=["fpu", "neon"]), "unknown feature"),
    (lambda d: d["memory"]["ram"].update(size=4096), "exactly 'origin' and 'size_bytes'"),
    (lambda d: d["memory"]["flash"].update(size_bytes=0), "must be > 0"),
    (lambda d: d["counter"].update(unit="cycles"), "counts instructions, not 'cycles'"),
    (lambda d: d["uart"].update(kind="usb-cdc"), "uart.kind"),
    (lambda d: d["flash_tools"].update(default="jlink"), "flash_tools.default"),
    (lambda d: d["flash_tools"]["allowed"].update(stlink={}), "unknown flash tool"),
    (lambda d: d.update(clock_mhz=25), "unknown field"),
    (lambda d: d.pop("emulator"), "needs an 'emulator'"),
])
def test_schema_rejects(mutate, message):
    data = copy.deepcopy(_raw("qemu-cortex-m4.yaml"))
    mutate(data)
    with pytest.raises(BoardError, match=message):
        validate(data, "broken.yaml")


def test_flash_tool_options_are_checked():
    board = get_board("nrf52840dk")
    assert board.flash_tool_options("nrfjprog") == {"family": "NRF52"}
    with pytest.raises(BoardError, match="flash tool 'bossac' is not supported"):
        board.flash_tool_options("bossac")


def test_boards_table_lists_every_board():
    table = boards_table()
    for board in all_boards():
        assert board.name in table
    assert "instructions" in table and "cycles" in table


def test_cli_boards(capsys):
    from tinyflow.cli import main

    assert main(["boards"]) == 0
    out = capsys.readouterr().out
    assert "nucleo-l4r5zi" in out and "mps2-an386" in out
