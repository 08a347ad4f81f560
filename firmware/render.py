"""The firmware's C sources for one model on one board, rendered from templates/.

One Jinja environment; board facts come from the Board object, model facts from the
generated code's manifest. C lives in templates/ only.
"""

from __future__ import annotations

from fractions import Fraction


import tinyflow
from tinyflow.boards import Board, MemoryRegion
from tinyflow.codegen.generator import GeneratedCode
from tinyflow.common import template_environment
from tinyflow.firmware.dut import DutSettings, check_baud, dut_settings

# Command line buffer: long enough for ~250 input bytes per `db` command (fewer round
# trips than MLPerf's 31 bytes), small enough for a 16 KB RAM part.
COMMAND_BYTES = 512

# Files copied verbatim (hand-written C) next to the rendered ones: the protocol server
# tf_main.c sees the board and the model through the rendered tf_board.h and
# tf_model_info.h.
STATIC_FILES = ("platform.h", "tf_hooks.h", "tf_main.c")

_ENV = template_environment("tinyflow.firmware")


def counter_scale(board: Board) -> tuple[int, int, int]:
    """(NUM, DEN, ticks_per_second) such that reported units = ticks * NUM / DEN.

    Under QEMU ``-icount shift=N`` a guest instruction takes 2^N ns of virtual time,
    so a timer at F Hz ticks once every 1e9 / (2^N * F) instructions.
    """
    counter = board.counter
    if counter["kind"] == "dwt":
        return 1, 1, board.clock_hz
    if counter["kind"] == "monotonic-clock":
        return 1, 1, 10**9
    hz = counter["systick_hz"] if counter["kind"] == "systick-icount" else counter["timer_hz"]
    per_tick = Fraction(10**9, 2 ** board.emulator["icount_shift"] * hz)
    return per_tick.numerator, per_tick.denominator, hz


def _io_entries(entries: list[dict]) -> list[dict]:
    out = []
    for e in entries:
        scale = e.get("scale_value")
        out.append(dict(e, is_int8=1 if e["dtype"] == "int8" else 0,
                        scale_literal=f"{float(scale)!r}f" if scale is not None else "1.0f",
                        zero_point_value=int(e.get("zero_point") or 0)))
    return out


def linker_script(board: Board, flash: MemoryRegion | None = None,
                  ram: MemoryRegion | None = None) -> str:
    return _ENV.get_template("linker.ld.j2").render(
        version=tinyflow.__version__, board=board, flash=flash or board.flash,
        ram=ram or board.ram, stack_bytes=board.stack_bytes)


def render_batch_program(generated: GeneratedCode, board: Board) -> dict[str, str]:
    """The host board's program (``program: batch``): the generated model plus a main
    that reads samples on stdin and writes their outputs on stdout."""
    manifest = generated.manifest
    files = {name: text for name, text in generated.files.items()
             if name.endswith((".c", ".h"))}
    files["batch_main.c"] = _ENV.get_template("batch_main.c.j2").render(
        version=tinyflow.__version__, board=board, model_name=generated.model.name,
        model_sha256=generated.model.sha256, prefix=generated.prefix,
        inputs=manifest["inputs"], outputs=manifest["outputs"])
    return files


def render_firmware(generated: GeneratedCode, board: Board,
                    dut: DutSettings | None = None) -> dict[str, str]:
    """All sources of the firmware: the generated model plus main, startup, drivers and
    the linker script (file name -> text). ``dut``: the DUT settings (default: the
    model's, see firmware/dut.py)."""
    manifest = generated.manifest
    dut = dut or dut_settings(generated.model)
    check_baud(dut, board)
    num, den, hz = counter_scale(board)
    common = dict(version=tinyflow.__version__, board=board, model_name=generated.model.name,
                  model_sha256=generated.model.sha256,
                  prefix=generated.prefix, PREFIX=generated.prefix.upper())
    files = {name: text for name, text in generated.files.items()
             if name.endswith((".c", ".h"))}
    files["tf_board.h"] = _ENV.get_template("board.h.j2").render(
        counter_num=num, counter_den=den, counter_hz=hz, command_bytes=COMMAND_BYTES,
        uart_baud=dut.baud_for(board), **common)
    files["tf_model_info.h"] = _ENV.get_template("tf_model_info.h.j2").render(
        inputs=_io_entries(manifest["inputs"]), outputs=_io_entries(manifest["outputs"]),
        dut=dut, **common)
    files["platform.c"] = _ENV.get_template("platform.c.j2").render(**common)
    for name in STATIC_FILES:
        files[name] = _ENV.loader.get_source(_ENV, name)[0]
    if not board.native:        # the native build is an ordinary program
        files["startup.c"] = _ENV.get_template("startup.c.j2").render(**common)
        files["link.ld"] = linker_script(board)
    return files
