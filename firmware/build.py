"""Cross-compile a model's firmware for a board: ELF, HEX and BIN, with the flash and
RAM use read from the ELF. Builds are cached by a hash of everything that goes in.

>>> from tinyflow.firmware.build import build_firmware          # doctest: +SKIP
>>> result = build_firmware("kws_ref_model.tflite", "qemu-cortex-m4")  # doctest: +SKIP
>>> result.flash_bytes, result.ram_bytes                          # doctest: +SKIP
"""

from __future__ import annotations

import hashlib
import json
import re
import sys
import tempfile
from dataclasses import asdict, dataclass, field
from pathlib import Path

from tinyflow.codegen.tuning import choices_for
from tinyflow.boards import Board, MemoryRegion, get_board
from tinyflow.codegen.generator import GeneratedCode, generate
from tinyflow.common import cache_dir, check_output_dir, publish_dir, publish_output_dir
from tinyflow.errors import BuildError, FirmwareSizeError
from tinyflow.firmware.dut import DutSettings, dut_settings
from tinyflow.firmware.process import Commands, require_tool
from tinyflow.firmware.render import linker_script, render_batch_program, render_firmware
from tinyflow.codegen.ir import Model

TOOLCHAIN = "arm-none-eabi-"
INSTALL_HINT = "apt-get install gcc-arm-none-eabi libnewlib-arm-none-eabi (or run scripts/setup)"

# -O2, not -Os: tinyflow is judged on measured latency, and the weights dominate flash
# anyway (code is a few KB); TFLM's kernels in the baseline are -O2 too.
# No -ffreestanding: it implies -fno-builtin, which turns the kernels' fixed-size
# memcpy loads (unaligned 32-bit reads for SMLAD) into library calls: 4.4x slower.
OPTIMIZATION = "-O2"
# Every build, on every board: C99 with the same optimization and warnings.
COMMON_CFLAGS = ["-std=c99", OPTIMIZATION, "-g", "-Wall", "-Wextra", "-Werror"]
# This computer's gcc: gcc 12.2 on x86-64 miscompiles a generated MEAN layer with its loop
# vectorizer on (tests/c/vectorizer_regression.c); the host runner is for checking.
NATIVE_CFLAGS = ["-fno-tree-loop-vectorize"]
# Bare-metal images: let the linker drop what is not called.
BARE_METAL_CFLAGS = ["-ffunction-sections", "-fdata-sections", "-fno-common"]
# The protocol firmware times every layer through the model's hooks.
HOOKS_CFLAGS = ["-DTINYFLOW_HOOKS_HEADER=\"tf_hooks.h\""]
LDFLAGS = ["-nostartfiles", "--specs=nano.specs", "--specs=nosys.specs", "-Wl,--gc-sections"]
LDLIBS = ["-lm", "-lc", "-lgcc"]

# A region big enough for anything: used to link once more when a model does not fit,
# to measure by how much.
_UNLIMITED = 0x10000000

# How an earlier build's output folder is recognised: its build record.
OUTPUT_MARKER = dict(marker="build.json", marker_keys={"board", "model", "elf"})

# Sections counted in flash (stored) and in RAM (at run time). .data is in both.
FLASH_SECTIONS = (".isr_vector", ".text", ".rodata", ".ARM.exidx", ".data")
RAM_SECTIONS = (".stack", ".data", ".bss")


def cpu_flags(board: Board) -> list[str]:
    """-mcpu/-mfpu/-mfloat-abi of an Arm board, as its file states them (core, fpu,
    float_abi). fpu 'auto' (GCC's default: -mcpu decides) and 'none' give no -mfpu."""
    flags = [f"-mcpu={board.core}", "-mthumb"]
    if board.fpu not in ("auto", "none"):
        flags.append(f"-mfpu={board.fpu}")
    return flags + [f"-mfloat-abi={board.float_abi}"]


def library_cflags(board: Board | str) -> list[str]:
    """The flags every build compiles the generated library with for ``board``: the
    one set tests, benchmarks and firmware share."""
    board = get_board(board) if isinstance(board, str) else board
    if board.native:
        return COMMON_CFLAGS + NATIVE_CFLAGS
    return cpu_flags(board) + COMMON_CFLAGS + BARE_METAL_CFLAGS


@dataclass
class BuildResult:
    """A built firmware: its files and how much of the board it uses."""

    board: str
    model: str
    directory: Path
    elf: Path
    hex: Path
    bin: Path
    sections: dict[str, int]            # section name -> bytes
    flash_bytes: int                    # stored in flash: code + constants + .data image
    ram_bytes: int                      # static RAM: stack + .data + .bss
    flash_limit: int
    ram_limit: int
    breakdown: dict[str, int]           # weights, arena, code, stack, input_buffer, ...
    cflags: list[str] = field(default_factory=list)
    dut: dict = field(default_factory=dict)   # DutSettings as a dict: model id, baud, ...
    cached: bool = False

    def to_dict(self) -> dict:
        data = asdict(self)
        for key in ("directory", "elf", "hex", "bin"):
            data[key] = str(data[key])
        return data

    def __str__(self) -> str:
        return (f"{self.model} for {self.board}: flash {self.flash_bytes:,} of "
                f"{self.flash_limit:,} bytes ({100 * self.flash_bytes / self.flash_limit:.1f}%), "
                f"RAM {self.ram_bytes:,} of {self.ram_limit:,} bytes "
                f"({100 * self.ram_bytes / self.ram_limit:.1f}%): {self.elf}")


def read_sections(elf: Path, commands: Commands | None = None,
                  prefix: str = TOOLCHAIN) -> dict[str, int]:
    """Allocated section sizes of an ELF, from ``arm-none-eabi-size -A``."""
    commands = commands or Commands()
    size = require_tool(prefix + "size", INSTALL_HINT)
    result = commands.run([size, "-A", str(elf)])
    if result.returncode != 0:
        raise BuildError(f"{size} failed on {elf}: {result.stderr.decode().strip()}")
    sections = {}
    for line in result.stdout.decode().splitlines():
        match = re.match(r"^(\.\S+)\s+(\d+)\s+(\d+)", line)
        if match and (match.group(1) in FLASH_SECTIONS or match.group(1) in RAM_SECTIONS):
            sections[match.group(1)] = int(match.group(2))
    return sections


def read_symbol_sizes(elf: Path, commands: Commands | None = None,
                      prefix: str = TOOLCHAIN) -> dict[str, int]:
    """Symbol name -> size in bytes, from ``arm-none-eabi-nm -S``."""
    commands = commands or Commands()
    nm = require_tool(prefix + "nm", INSTALL_HINT)
    result = commands.run([nm, "-S", str(elf)])
    sizes = {}
    for line in result.stdout.decode().splitlines():
        parts = line.split()
        if len(parts) == 4:
            sizes[parts[3]] = sizes.get(parts[3], 0) + int(parts[1], 16)
    return sizes


def _breakdown(sections: dict[str, int], symbols: dict[str, int], prefix: str,
               board: Board) -> dict[str, int]:
    weights = sum(size for name, size in symbols.items() if name.startswith(f"{prefix}_w"))
    arena = symbols.get("arena", 0)
    input_buffer = symbols.get("db_buffer", 0)
    return dict(
        weights=weights,
        code=sections.get(".text", 0) + sections.get(".isr_vector", 0),
        other_constants=max(0, sections.get(".rodata", 0) - weights),
        data=sections.get(".data", 0),
        arena=arena,
        input_buffer=input_buffer,
        other_bss=max(0, sections.get(".bss", 0) - arena - input_buffer),
        stack=board.stack_bytes,
    )


def _usage(sections: dict[str, int]) -> tuple[int, int]:
    flash = sum(sections.get(s, 0) for s in FLASH_SECTIONS)
    ram = sum(sections.get(s, 0) for s in RAM_SECTIONS)
    return flash, ram


def _size_error(model: str, board: Board, breakdown: dict, flash: int, ram: int) -> str:
    problems = []
    for region, used, limit, parts in (
            ("flash", flash, board.flash.size_bytes,
             ("weights", "code", "other_constants", "data")),
            ("RAM", ram, board.ram.size_bytes,
             ("arena", "input_buffer", "stack", "data", "other_bss"))):
        if used <= limit:
            continue
        items = sorted(((breakdown[p], p) for p in parts), reverse=True)
        detail = ", ".join(f"{name.replace('_', ' ')} {size:,} ({100 * size / used:.0f}%)"
                           for size, name in items if size)
        problems.append(f"{region} overflows by {used - limit:,} bytes (needs {used:,} of "
                        f"{limit:,}); {items[0][1].replace('_', ' ')} dominates: {detail}")
    hint = ("Use a smaller or pruned model, or a board with more memory "
            "(`tinyflow boards`).")
    return f"{model} does not fit {board.name}: " + "; ".join(problems) + ". " + hint


class FirmwareBuilder:
    """Builds one model for one board in a directory (a cache entry by default)."""

    def __init__(self, board: Board, commands: Commands | None = None, progress=None):
        self.board = board
        self.commands = commands or Commands()
        self.progress = progress or (lambda message: None)

    @property
    def prefix(self) -> str:
        """Toolchain prefix: the Arm cross compiler, or this computer's for native."""
        return "" if self.board.native else TOOLCHAIN

    def cflags(self) -> list[str]:
        hooks = HOOKS_CFLAGS if self.board.program == "protocol" else []
        return library_cflags(self.board) + hooks

    def _link(self, gcc: str, build: Path, sources: list[Path], script: Path, elf: Path):
        return self.commands.run(
            [gcc, *self.cflags(), *LDFLAGS, f"-Wl,-Map={elf.with_suffix('.map')}",
             "-T", script, "-I", build, *sources, *LDLIBS, "-o", elf])

    def build(self, generated: GeneratedCode, out_dir: Path | None = None,
              use_cache: bool = True, force: bool = False,
              dut: DutSettings | None = None) -> BuildResult:
        """``dut``: the protocol firmware's DUT settings (default: the model's own, see
        firmware/dut.py)."""
        board = self.board
        if out_dir is not None:      # refuse a user's folder before compiling, not after
            check_output_dir(out_dir, **OUTPUT_MARKER, force=force)
        dut = dut or dut_settings(generated.model)
        files = (render_batch_program(generated, board) if board.program == "batch"
                 else render_firmware(generated, board, dut))
        gcc = require_tool(self.prefix + "gcc", INSTALL_HINT)
        version = self.commands.run([gcc, "--version"]).stdout.decode().splitlines()[0]
        key_material = json.dumps(dict(files=files, cflags=self.cflags(), ldflags=LDFLAGS,
                                       libs=LDLIBS, toolchain=version), sort_keys=True)
        digest = hashlib.sha256(key_material.encode()).hexdigest()[:20]
        name = generated.model.name
        # The model's name is the caller's text: only its plain characters name a folder.
        folder_name = re.sub(r"[^A-Za-z0-9_.-]", "_", name)
        entry = (cache_dir("firmware") / board.name.replace("@", "-on-")
                 / f"{folder_name}-{digest}")
        record = entry / "build.json"
        if use_cache and record.exists():
            result = self._load(record)
            self.progress(f"{name} for {board.name}: cached build {entry}")
            return self._export(result, out_dir, force)

        with tempfile.TemporaryDirectory(prefix="tinyflow-fw-") as tmp:
            build = Path(tmp)
            for file_name, text in files.items():
                (build / file_name).write_text(text)
            sources = sorted(build / n for n in files if n.endswith(".c"))
            elf = build / "firmware.elf"
            self.progress(f"{name} for {board.name}: compiling {len(sources)} files "
                          f"({' '.join(self.cflags()[:4])} ...)")
            if board.native:
                self._compile_native(gcc, build, sources, elf, name)
            else:
                self._compile_arm(gcc, build, sources, elf, generated)
            sections = read_sections(elf, self.commands, self.prefix)
            symbols = read_symbol_sizes(elf, self.commands, self.prefix)
            flash, ram = _usage(sections)
            images = ("firmware.elf", "firmware.elf") if board.native else (
                "firmware.hex", "firmware.bin")
            result = BuildResult(
                board=board.name, model=name, directory=entry, elf=entry / elf.name,
                hex=entry / images[0], bin=entry / images[1],
                sections=sections, flash_bytes=flash, ram_bytes=ram,
                flash_limit=board.flash.size_bytes, ram_limit=board.ram.size_bytes,
                breakdown=_breakdown(sections, symbols, generated.prefix, board),
                cflags=self.cflags(),
                dut=dict(dut.to_dict(), baud=dut.baud_for(board)) if board.program == "protocol"
                else {})
            (build / "build.json").write_text(json.dumps(result.to_dict(), indent=2,
                                                         sort_keys=True) + "\n")
            (build / "manifest.json").write_text(generated.files["manifest.json"])
            # Publish the whole directory at once: a cache entry is complete or absent.
            publish_dir({p.name: p for p in build.iterdir() if p.is_file()},
                        entry)
        self.progress(f"{name} for {board.name}: flash {flash:,} B, RAM {ram:,} B")
        return self._export(result, out_dir, force)

    def _compile_arm(self, gcc: str, build: Path, sources, elf: Path,
                     generated: GeneratedCode) -> None:
        linked = self._link(gcc, build, sources, build / "link.ld", elf)
        if linked.returncode != 0:
            errors = linked.stderr.decode()
            if "overflowed by" in errors or "will not fit in region" in errors:
                raise FirmwareSizeError(self._measure_overflow(gcc, build, sources, generated))
            raise BuildError(f"building {generated.model.name} for {self.board.name} failed:\n"
                             f"{errors[-4000:]}")
        objcopy = require_tool(TOOLCHAIN + "objcopy", INSTALL_HINT)
        self.commands.run([objcopy, "-O", "ihex", elf, elf.with_suffix(".hex")], check=True)
        self.commands.run([objcopy, "-O", "binary", elf, elf.with_suffix(".bin")], check=True)

    def _compile_native(self, gcc: str, build: Path, sources, executable: Path,
                        name: str) -> None:
        compiled = self.commands.run([gcc, *self.cflags(), "-I", build, *sources, "-lm",
                                      "-o", executable])
        if compiled.returncode != 0:
            raise BuildError(f"building {name} for {self.board.name} failed:\n"
                             f"{compiled.stderr.decode()[-4000:]}")

    def _measure_overflow(self, gcc, build: Path, sources, generated: GeneratedCode) -> str:
        """Link again without limits to say by how much and why the firmware overflows."""
        board = self.board
        script = build / "unlimited.ld"
        script.write_text(linker_script(
            board, flash=MemoryRegion("flash", board.flash.origin, _UNLIMITED),
            ram=MemoryRegion("ram", board.ram.origin, _UNLIMITED)))
        elf = build / "unlimited.elf"
        linked = self._link(gcc, build, sources, script, elf)
        if linked.returncode != 0:
            raise BuildError(f"building {generated.model.name} for {board.name} failed:\n"
                             f"{linked.stderr.decode()[-4000:]}")
        sections = read_sections(elf, self.commands)
        flash, ram = _usage(sections)
        breakdown = _breakdown(sections, read_symbol_sizes(elf, self.commands),
                               generated.prefix, board)
        return _size_error(generated.model.name, board, breakdown, flash, ram)

    @staticmethod
    def _load(record: Path) -> BuildResult:
        data = json.loads(record.read_text())
        for key in ("directory", "elf", "hex", "bin"):
            data[key] = Path(data[key])
        data["cached"] = True
        return BuildResult(**data)

    @staticmethod
    def _export(result: BuildResult, out_dir: Path | None, force: bool = False) -> BuildResult:
        """Copy the build into ``out_dir`` (when given) and point the result there. Only
        an empty or absent folder, or an earlier build's (it has build.json), is
        replaced; another folder is refused unless ``force``, and then keeps its files."""
        if out_dir is None:
            return result
        out_dir = Path(out_dir)
        files = {p.name: p for p in result.directory.iterdir() if p.is_file()}
        result.directory = out_dir
        result.elf, result.hex, result.bin = (out_dir / result.elf.name, out_dir / result.hex.name,
                                              out_dir / result.bin.name)
        files["build.json"] = json.dumps(result.to_dict(), indent=2, sort_keys=True) + "\n"
        publish_output_dir(files, out_dir, **OUTPUT_MARKER, force=force)
        return result


def build_firmware(model: Model | GeneratedCode | str | Path, board: Board | str,
                   out_dir: str | Path | None = None, *, use_cache: bool = True,
                   force: bool = False, verbose: bool = False,
                   dut: DutSettings | None = None) -> BuildResult:
    """Build ``model`` for ``board`` (a Board or a board name): the profiler's entry point
    for "flash and RAM section sizes of this model on board B".

    Raises FirmwareSizeError (which region, by how much, what dominates) when the
    model does not fit, and OutputError when ``out_dir`` holds files that are not a
    tinyflow build's (unless ``force``: then they are kept and the build added).
    ``dut``: the DUT settings (model id, input transform, result, baud; default: the
    model's own, the MLPerf Tiny reference models recognised).
    """
    board = get_board(board) if isinstance(board, str) else board
    generated = (model if isinstance(model, GeneratedCode)
                 else generate(model, tuning=choices_for(board.name)))
    progress = (lambda m: print(m, file=sys.stderr)) if verbose else None
    return FirmwareBuilder(board, progress=progress).build(
        generated, Path(out_dir) if out_dir else None, use_cache=use_cache, force=force,
        dut=dut)
