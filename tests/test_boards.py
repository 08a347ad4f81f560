"""Boards as data: every board file passes the schema; the schema rejects bad data."""

import copy
import json

import pytest
import yaml
from importlib import resources
from jsonschema import Draft202012Validator

from tinyflow.boards import (DEFAULT_BOARD, all_boards, board_files, boards_table, emulation_of,
                             get_board, validate)
from tinyflow.errors import BoardError
from tinyflow.firmware.build import cpu_flags


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
    # only the host board is a batch program; every other one runs the protocol firmware
    assert board.program == ("batch" if board.name == "host" else "protocol")
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


def test_the_schema_is_valid_json_schema():
    schema = json.loads(resources.files("tinyflow.boards").joinpath("schema.json").read_text())
    Draft202012Validator.check_schema(schema)


def test_the_host_board_is_a_batch_program_on_this_computer():
    host = get_board("host")
    assert (host.core, host.program, host.uart["kind"], host.counter_unit) == (
        "native", "batch", "stdio", "nanoseconds")
    assert host.native and host.runs_here and not host.emulated
    assert emulation_of(host) is host
    assert get_board("native").program == "protocol"


@pytest.mark.parametrize("mutate, message", [
    (lambda d: d.pop("core"), "'core' is a required property"),
    (lambda d: d.update(core="cortex-a53"), "core: 'cortex-a53' is not one of"),
    (lambda d: d.update(features=["fpu", "neon"]), r"features\.1: 'neon' is not one of"),
    (lambda d: d.update(clock_hz="fast"), "clock_hz: 'fast' is not of type 'integer'"),
    (lambda d: d.update(clock_hz=25e6), "clock_hz: 25000000.0 is not of type 'integer'"),
    (lambda d: d.update(aliases="qemu"), "aliases: 'qemu' is not of type 'array'"),
    (lambda d: d["memory"]["ram"].update(size=4096), r"memory\.ram: Additional properties.*'size'"),
    (lambda d: d["memory"]["flash"].update(size_bytes=0),
     r"memory\.flash\.size_bytes: 0 is less than the minimum of 1"),
    (lambda d: d.update(stack_bytes=8 << 20), "stack_bytes: must be less than memory.ram.size"),
    (lambda d: d["counter"].update(unit="cycles"),
     r"counter\.unit: 'cycles' is not one of \['instructions'\] \(a QEMU counter"),
    (lambda d: d["counter"].pop("systick_hz"), "counter: 'systick_hz' is a required property"),
    (lambda d: d["uart"].update(kind="usb-cdc"), r"uart\.kind: 'usb-cdc' is not one of"),
    (lambda d: d["uart"].update(kind="pty"), "uart.kind: 'pty' is not allowed .*native core"),
    (lambda d: d["flash_tools"].update(default="jlink"), "flash_tools.default: 'jlink'"),
    (lambda d: d["flash_tools"].update(default="pyocd"),
     "flash_tools.default: 'pyocd' is not one of flash_tools.allowed"),
    (lambda d: d["flash_tools"]["allowed"].update(stlink={}),
     r"flash_tools\.allowed: 'stlink' is not one of"),
    (lambda d: d.update(clock_mhz=25), r"Additional properties .*'clock_mhz' was unexpected"),
    (lambda d: d.pop("emulator"), "'emulator' is a required property .*QEMU -icount"),
    (lambda d: d.pop("float_abi"), "'float_abi' is a required property"),
    (lambda d: d.update(features=["dsp"]), r"fpu: 'fpv4-sp-d16' is not one of \['none'\]"),
    (lambda d: d.update(fpu="none"), "fpu: 'none' is not allowed .*fpu feature"),
    (lambda d: d.update(program="batch"), r"core: 'cortex-m4' is not one of \['native'\]"),
])
def test_schema_rejects(mutate, message):
    data = copy.deepcopy(_raw("qemu-cortex-m4.yaml"))
    mutate(data)
    with pytest.raises(BoardError, match=r"^board file broken\.yaml: .*" + message):
        validate(data, "broken.yaml")


@pytest.mark.parametrize("filename, mutate, message", [
    ("native.yaml", lambda d: d["uart"].update(kind="stdio"), "'program' is a required property"),
    ("native.yaml", lambda d: d["counter"].update(kind="dwt", unit="cycles"),
     r"counter\.kind: 'dwt' is not one of \['monotonic-clock'\]"),
    ("native.yaml", lambda d: d.update(float_abi="hard"), "float_abi: 'hard' is not allowed"),
    ("host.yaml", lambda d: d["uart"].update(kind="pty"),
     r"uart\.kind: 'pty' is not one of \['stdio'\]"),
    ("host.yaml", lambda d: d.update(program="serial"), "program: 'serial' is not one of"),
])
def test_schema_ties_the_native_core_and_batch_program_to_their_uart(filename, mutate, message):
    data = copy.deepcopy(_raw(filename))
    mutate(data)
    with pytest.raises(BoardError, match=message):
        validate(data, filename)


@pytest.mark.parametrize("filename, pin, message", [
    ("nucleo-l4r5zi.yaml", {"kind": "stm32l4-gpio", "pin": 13}, "'port' is a required property"),
    ("nucleo-l4r5zi.yaml", {"kind": "stm32l4-gpio", "port": "F", "pin": 16},
     r"timestamp_pin\.pin: 16 is greater than the maximum of 15 \(an STM32 port"),
    ("nrf52840dk.yaml", {"kind": "nrf-gpio", "port": "P1", "pin": 8},
     r"timestamp_pin\.port: 'P1' is not allowed \(nRF pins are numbered across ports"),
    ("nrf52840dk.yaml", {"kind": "gpio", "pin": 8}, r"timestamp_pin\.kind: 'gpio' is not one of"),
])
def test_schema_checks_the_timestamp_pin(filename, pin, message):
    data = copy.deepcopy(_raw(filename))
    data["timestamp_pin"] = pin
    with pytest.raises(BoardError, match=message):
        validate(data, filename)


def test_real_boards_have_a_timestamp_pin_and_emulation_drops_it():
    for name in ("nrf52840dk", "nucleo-l4r5zi", "arduino-nano-33-ble"):
        board = get_board(name)
        assert board.timestamp_pin["kind"] in ("nrf-gpio", "stm32l4-gpio")
        assert emulation_of(board).timestamp_pin is None     # QEMU has no such pin



def test_several_problems_are_reported_together_on_one_line():
    data = copy.deepcopy(_raw("qemu-cortex-m4.yaml"))
    data.pop("core")
    data["counter"]["unit"] = "cycles"
    data["clock_hz"] = "fast"
    with pytest.raises(BoardError) as error:
        validate(data, "broken.yaml")
    message = str(error.value)
    assert "\n" not in message and message.startswith("board file broken.yaml: ")
    for problem in ("'core' is a required property", "clock_hz: 'fast' is not of type",
                    "counter.unit: 'cycles' is not one of"):
        assert problem in message


def test_a_board_file_that_is_not_a_mapping_is_rejected():
    with pytest.raises(BoardError, match="board file empty.yaml: None is not of type 'object'"):
        validate(None, "empty.yaml")


# The -mcpu/-mfpu/-mfloat-abi of every Arm board as firmware/build.py derived them from the
# core and features before they moved into the board files: the move changed no flag.
# (The native boards are compiled with this computer's gcc defaults, without cpu_flags.)
PINNED_CPU_FLAGS = {
    "arduino-nano-33-ble": ["-mcpu=cortex-m4", "-mthumb", "-mfpu=fpv4-sp-d16", "-mfloat-abi=hard"],
    "microbit": ["-mcpu=cortex-m0", "-mthumb", "-mfloat-abi=soft"],
    "nrf52840dk": ["-mcpu=cortex-m4", "-mthumb", "-mfpu=fpv4-sp-d16", "-mfloat-abi=hard"],
    "nucleo-l4r5zi": ["-mcpu=cortex-m4", "-mthumb", "-mfpu=fpv4-sp-d16", "-mfloat-abi=hard"],
    "qemu-cortex-m3": ["-mcpu=cortex-m3", "-mthumb", "-mfloat-abi=soft"],
    "qemu-cortex-m4": ["-mcpu=cortex-m4", "-mthumb", "-mfpu=fpv4-sp-d16", "-mfloat-abi=hard"],
    "qemu-cortex-m55": ["-mcpu=cortex-m55", "-mthumb", "-mfloat-abi=hard"],
    "qemu-cortex-m7": ["-mcpu=cortex-m7", "-mthumb", "-mfpu=fpv5-d16", "-mfloat-abi=hard"],
}


@pytest.mark.parametrize("name", PINNED_CPU_FLAGS)
def test_cpu_flags_come_from_the_board_file_unchanged(name):
    assert cpu_flags(get_board(name)) == PINNED_CPU_FLAGS[name]


def test_every_arm_board_has_pinned_cpu_flags():
    """A new Arm board adds its expected flags above."""
    assert {b.name for b in all_boards() if not b.native} == set(PINNED_CPU_FLAGS)


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
