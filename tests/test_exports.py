"""The library exported for other build systems (`tinyflow codegen --format`).

CMake runs here, so the CMake target is configured and built for real: natively (a
program linked against it runs the model and matches TFLM byte for byte) and with an
arm-none-eabi toolchain file for the Cortex-M4F. Zephyr, the Arduino IDE and
PlatformIO do not run here: each manifest is checked against the published format
(transcribed below, with where it comes from) and the sources are compiled with the
flags that tool uses for a Cortex-M4 board, plus -Wextra -Werror.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import jsonschema
import kconfiglib
import numpy as np
import pytest
import yaml

from conftest import mlperf_model
from tinyflow.boards import get_board
from tinyflow.cli import main
from tinyflow.codegen import generate
from tinyflow.codegen.exports import FORMATS, SOURCE_DIR, text_line
from tinyflow.codegen.ir import load_model
from tinyflow.errors import UsageError
from tinyflow.firmware.build import cpu_flags

HERE = Path(__file__).parent / "exports"
MODEL = mlperf_model("ad01_int8")
STRICT = ["-Wall", "-Wextra", "-Werror"]
# CMake, YAML and Kconfig comments, a CMake string, Kconfig macros, properties lines,
# JSON, C: a model name that tries to break out of each of them.
HOSTILE = ('x"; message(FATAL_ERROR "injected") #[[ ${CMAKE_COMMAND} $(shell) \\" \n'
           'y=1\r\n#define tinyflow_invoke abort */ ]] \u00e9')


def run(command, cwd=None, **kwargs) -> subprocess.CompletedProcess:
    result = subprocess.run([str(c) for c in command], cwd=cwd, capture_output=True,
                            text=True, **kwargs)
    assert result.returncode == 0, (command, result.stdout[-3000:], result.stderr[-3000:])
    return result


def with_cflags(flags: list[str]) -> dict[str, str]:
    """The environment with CFLAGS set: CMake starts its C flags from it."""
    return {**os.environ, "CFLAGS": " ".join(flags)}


def tool(name: str) -> str:
    path = shutil.which(name)
    assert path, f"{name} is not installed: run scripts/setup"
    return path


@pytest.fixture(scope="module")
def generated():
    return generate(MODEL)


@pytest.fixture(scope="module")
def hostile_generated():
    return generate(load_model(MODEL.read_bytes(), name=HOSTILE))


def tflm_output(model_path: Path, sample: np.ndarray) -> np.ndarray:
    from tinyflow.reference import ReferenceInterpreter

    return ReferenceInterpreter(model_path).run([sample[None]])[0][0]


# --- every format --------------------------------------------------------------------
@pytest.mark.parametrize("fmt", FORMATS)
def test_every_format_carries_the_same_library_and_a_manifest_of_its_files(
        fmt, generated, tmp_path):
    out = generated.write(tmp_path / fmt, format=fmt)
    on_disk = {p.relative_to(out).as_posix(): p.read_bytes()
               for p in out.rglob("*") if p.is_file()}
    for name, text in generated.files.items():
        if name.endswith((".c", ".h")):
            assert on_disk[SOURCE_DIR[fmt] + name] == text.encode(), name
    manifest = json.loads(on_disk.pop("manifest.json"))
    assert manifest["manifest_version"] >= 1 and manifest["arena_bytes"] > 0
    assert manifest["files"] == {path: hashlib.sha256(data).hexdigest()
                                 for path, data in on_disk.items()}
    if fmt != "make":
        assert manifest["format"] == fmt
        assert not any(path.endswith(".mk") for path in on_disk)


def test_cli_format_writes_what_the_api_writes(generated, tmp_path, capsys):
    assert main(["codegen", str(MODEL), "-o", str(tmp_path / "cli"), "--format", "arduino"]) == 0
    assert "(arduino)" in capsys.readouterr().out
    api = generated.write(tmp_path / "api", format="arduino")
    files = sorted(p.relative_to(api) for p in api.rglob("*") if p.is_file())
    assert files == sorted(p.relative_to(tmp_path / "cli")
                           for p in (tmp_path / "cli").rglob("*") if p.is_file())
    for path in files:
        assert (api / path).read_bytes() == (tmp_path / "cli" / path).read_bytes(), path


def test_an_unknown_format_is_a_usage_error(generated, tmp_path, capsys):
    with pytest.raises(UsageError, match="'scons' is not one of make, cmake"):
        generated.write(tmp_path / "out", format="scons")
    with pytest.raises(SystemExit) as exit_info:
        main(["codegen", str(MODEL), "-o", str(tmp_path / "out"), "--format", "scons"])
    assert exit_info.value.code == 2 and "invalid choice: 'scons'" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


def test_an_export_replaces_an_earlier_one_and_never_a_users_folder(generated, tmp_path):
    out = generated.write(tmp_path / "lib", format="zephyr")
    generated.write(out, format="cmake")       # tinyflow's own folder: replaced whole
    assert not (out / "zephyr").exists() and (out / "CMakeLists.txt").exists()
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "notes.txt").write_text("mine\n")
    with pytest.raises(Exception, match="--force"):
        generated.write(mine, format="platformio")
    assert sorted(p.name for p in mine.iterdir()) == ["notes.txt"]


# --- CMake ---------------------------------------------------------------------------
RUN_ONCE_C = """\
/* Runs the exported model once: the input's bytes on stdin, the output's on stdout. */
#include <stdio.h>
#include "{prefix}_model.h"

int main(void) {{
    {prefix}_init();
    if (fread({prefix}_input(0), 1, {PREFIX}_INPUT0_BYTES, stdin) != {PREFIX}_INPUT0_BYTES)
        return 2;
    {prefix}_invoke();
    fwrite({prefix}_output(0), 1, {PREFIX}_OUTPUT0_BYTES, stdout);
    return 0;
}}
"""

APP_CMAKELISTS = """\
cmake_minimum_required(VERSION 3.13)
project(app LANGUAGES C)
add_subdirectory({library} {prefix}_model)
add_executable(run_once run_once.c)
target_link_libraries(run_once PRIVATE {prefix}::model)
get_directory_property(description DIRECTORY {library} DEFINITION PROJECT_DESCRIPTION)
message(STATUS "library description: [${{description}}]")
"""


def cmake_app(tmp_path: Path, library: Path, prefix: str) -> Path:
    """A program that uses the exported library through add_subdirectory."""
    app = tmp_path / "app"
    app.mkdir()
    (app / "run_once.c").write_text(RUN_ONCE_C.format(prefix=prefix, PREFIX=prefix.upper()))
    (app / "CMakeLists.txt").write_text(APP_CMAKELISTS.format(library=library.as_posix(),
                                                              prefix=prefix))
    return app


def cmake_run_once(model_path: Path, prefix: str, sample: np.ndarray, tmp_path: Path) -> bytes:
    """Export ``model_path`` for CMake, build a program with it natively through
    add_subdirectory, run it on ``sample``: the output's bytes."""
    library = generate(model_path, prefix=prefix).write(tmp_path / prefix, format="cmake")
    app = cmake_app(tmp_path, library, prefix)
    build = tmp_path / "build"
    configured = run([tool("cmake"), "-S", app, "-B", build, "-DCMAKE_BUILD_TYPE=Release"],
                     env=with_cflags(STRICT))
    description = load_model(model_path).name
    assert f"library description: [tinyflow: {description}]" in configured.stdout
    run([tool("cmake"), "--build", build])
    assert (build / f"{prefix}_model" / f"lib{prefix}_model.a").exists()
    return subprocess.run([build / "run_once"], input=sample.tobytes(), capture_output=True,
                          check=True).stdout


def test_cmake_target_builds_natively_and_runs_the_model_as_tflm_does(tmp_path):
    sample = np.random.default_rng(7).integers(-128, 128, size=(1, 640), dtype=np.int8)
    ours = cmake_run_once(MODEL, "ad01", sample, tmp_path)
    expected = tflm_output(MODEL, sample)
    assert len(ours) == expected.nbytes == 640
    assert ours == expected.tobytes()


def arm_toolchain_file(path: Path, board_name: str) -> Path:
    """A CMake toolchain file for arm-none-eabi-gcc with the board's CPU flags (for
    qemu-cortex-m4: -mcpu=cortex-m4 -mthumb -mfpu=fpv4-sp-d16 -mfloat-abi=hard)."""
    flags = " ".join(cpu_flags(get_board(board_name)))
    path.write_text(
        "set(CMAKE_SYSTEM_NAME Generic)\n"
        "set(CMAKE_SYSTEM_PROCESSOR arm)\n"
        f"set(CMAKE_C_COMPILER {tool('arm-none-eabi-gcc')})\n"
        "set(CMAKE_TRY_COMPILE_TARGET_TYPE STATIC_LIBRARY)\n"
        f'set(CMAKE_C_FLAGS_INIT "{flags}")\n')
    return path


def test_cmake_target_cross_compiles_for_cortex_m4_with_a_toolchain_file(generated, tmp_path):
    library = generated.write(tmp_path / "lib", format="cmake")
    toolchain = arm_toolchain_file(tmp_path / "cortex-m4.cmake", "qemu-cortex-m4")
    build = tmp_path / "build"
    # CFLAGS adds to the toolchain file's flags (-DCMAKE_C_FLAGS would replace them).
    run([tool("cmake"), "-S", library, "-B", build, f"-DCMAKE_TOOLCHAIN_FILE={toolchain}",
         "-DCMAKE_BUILD_TYPE=MinSizeRel"], env=with_cflags(STRICT))
    built = run([tool("cmake"), "--build", build, "--verbose"])
    for flag in ["-std=c99", "-mcpu=cortex-m4", "-mfloat-abi=hard", "-Werror"]:
        assert flag in built.stdout, flag
    archive = build / "libtinyflow_model.a"
    attributes = run([tool("arm-none-eabi-readelf"), "-A", archive]).stdout
    assert "Tag_CPU_name: \"7E-M\"" in attributes or "Tag_CPU_name: \"Cortex-M4\"" in attributes
    assert "Tag_ABI_VFP_args: VFP registers" in attributes      # hard float
    symbols = run([tool("arm-none-eabi-nm"), archive]).stdout
    assert re.search(r" T tinyflow_invoke$", symbols, re.M)


def test_cmake_takes_model_text_as_text(hostile_generated, tmp_path):
    library = hostile_generated.write(tmp_path / "lib", format="cmake")
    app = cmake_app(tmp_path, library, "tinyflow")
    configured = run([tool("cmake"), "-S", app, "-B", tmp_path / "build"])
    assert "injected" not in configured.stderr
    shown = re.search(r"library description: \[(.*)\]", configured.stdout).group(1)
    assert shown == "tinyflow: " + text_line(HOSTILE)


# --- Zephyr --------------------------------------------------------------------------
# zephyr/module.yml as Zephyr's scripts/zephyr_module.py validates it (its pykwalify
# METADATA_SCHEMA), in JSON Schema: a map of optional keys, 'build' a map of strings
# and booleans; unknown keys are errors.
_STR, _BOOL = {"type": "string"}, {"type": "boolean"}
_STRINGS = {"type": "array", "items": _STR}
ZEPHYR_MODULE_SCHEMA = {
    "type": "object",
    "additionalProperties": False,
    "properties": {
        "name": _STR,
        "build": {
            "type": "object",
            "additionalProperties": False,
            "properties": {
                "cmake": _STR, "kconfig": _STR, "cmake-ext": _BOOL, "kconfig-ext": _BOOL,
                "sysbuild-cmake": _STR, "sysbuild-kconfig": _STR,
                "sysbuild-cmake-ext": _BOOL, "sysbuild-kconfig-ext": _BOOL,
                "depends": _STRINGS,
                "settings": {"type": "object", "additionalProperties": False,
                             "properties": {key: _STR for key in (
                                 "board_root", "dts_root", "soc_root", "arch_root",
                                 "module_ext_root", "sca_root")}},
            },
        },
        "tests": _STRINGS, "samples": _STRINGS, "boards": _STRINGS,
        "blobs": {"type": "array", "items": {
            "type": "object", "additionalProperties": False,
            "required": ["path", "sha256", "type", "version", "license-path", "url",
                         "description"],
            "properties": {"path": _STR, "sha256": _STR, "type": {"enum": ["img", "lib"]},
                           "version": _STR, "license-path": _STR, "url": _STR,
                           "description": _STR, "doc-url": _STR}}},
    },
}

# What a Zephyr build passes the compiler for a Cortex-M4F (CONFIG_FPU with the hard
# float ABI), from Zephyr's CMakeLists.txt, cmake/compiler/gcc/compiler_flags.cmake and
# target_arm.cmake: C99, -Os, freestanding, its warnings, its defines, and the
# -imacros of its generated configuration and of zephyr_stdint.h.
ZEPHYR_CORTEX_M4_CFLAGS = [
    "-mthumb", "-mcpu=cortex-m4", "-mfpu=fpv4-sp-d16", "-mfloat-abi=hard",
    "-std=c99", "-Os", "-g", "-ffreestanding", "-fno-common", "-ffunction-sections",
    "-fdata-sections", "-fno-asynchronous-unwind-tables", "-fno-pie", "-fno-pic",
    "-fno-strict-overflow", "-fno-reorder-functions", "-fno-defer-pop",
    "-fno-stack-protector", "-Wall", "-Wformat", "-Wformat-security",
    "-Wno-format-zero-length", "-Wno-main", "-Wno-pointer-sign", "-Wpointer-arith",
    "-Wexpansion-to-defined", "-Wno-unused-but-set-variable", "-Werror=implicit-int",
    "-DKERNEL", "-D__ZEPHYR__=1",
]

ZEPHYR_CHECK_CMAKELISTS = """\
cmake_minimum_required(VERSION 3.13)
project(zephyr_module_check LANGUAGES C)
include({functions})
add_subdirectory({module_cmake} module)
"""


def zephyr_build(tmp_path: Path, module: Path, config: dict[str, str]) -> tuple[Path, list]:
    """Configure and build the module's CMakeLists as a Zephyr application would, for
    the Cortex-M4F with Zephyr's flags; ``config`` are the CONFIG_ symbols set.
    Returns the build folder and the compiler command lines."""
    meta = yaml.safe_load((module / "zephyr" / "module.yml").read_text())
    check = tmp_path / "check"
    check.mkdir(parents=True)
    (check / "CMakeLists.txt").write_text(ZEPHYR_CHECK_CMAKELISTS.format(
        functions=(HERE / "zephyr_functions.cmake").as_posix(),
        module_cmake=(module / meta["build"]["cmake"]).as_posix()))
    autoconf = check / "autoconf.h"
    autoconf.write_text("".join(f"#define {key} {1 if value == 'y' else value}\n"
                                for key, value in config.items()))
    flags = ZEPHYR_CORTEX_M4_CFLAGS + STRICT + [
        "-imacros", autoconf.as_posix(), "-imacros", (HERE / "zephyr_stdint.h").as_posix()]
    toolchain = arm_toolchain_file(tmp_path / "cortex-m4.cmake", "qemu-cortex-m4")
    build = tmp_path / "zephyr-build"
    run([tool("cmake"), "-S", check, "-B", build, f"-DCMAKE_TOOLCHAIN_FILE={toolchain}",
         *(f"-D{key}={value}" for key, value in config.items())], env=with_cflags(flags))
    built = run([tool("cmake"), "--build", build, "--verbose"]).stdout
    compiled = [line for line in built.splitlines() if " -c " in line]
    assert all("-ffreestanding" in line and "zephyr_stdint.h" in line for line in compiled)
    return build, compiled


def test_zephyr_module_yml_follows_zephyrs_schema(generated, tmp_path):
    module = generated.write(tmp_path / "module", format="zephyr")
    meta = yaml.safe_load((module / "zephyr" / "module.yml").read_text())
    jsonschema.validate(meta, ZEPHYR_MODULE_SCHEMA)
    # Zephyr's further checks: 'cmake' is a folder (relative to the module's root) with
    # a CMakeLists.txt, 'kconfig' a file; the name becomes ZEPHYR_<NAME>_MODULE.
    assert (module / meta["build"]["cmake"] / "CMakeLists.txt").is_file()
    assert (module / meta["build"]["kconfig"]).is_file()
    assert re.fullmatch(r"[A-Za-z0-9_]+", meta["name"]) and meta["name"] == "tinyflow_model"


# How Zephyr reads a module's Kconfig (scripts/zephyr_module.py, kconfig_snippet): a
# menu named after the module that sources the file, beside Zephyr's own symbols
# (REQUIRES_FULL_LIBC is lib/libc/Kconfig's).
ZEPHYR_KCONFIG = """\
mainmenu "Zephyr module check"

config REQUIRES_FULL_LIBC
\tbool "Require complete C library"

menu "{name} ({module})"
osource "{kconfig}"
config ZEPHYR_{NAME}_MODULE
\tbool
\tdefault y
endmenu
"""


def zephyr_kconfig(module: Path, tmp_path: Path):
    """The module's Kconfig parsed by kconfiglib (the parser Zephyr's build uses) as
    Zephyr includes it; any warning fails."""
    meta = yaml.safe_load((module / "zephyr" / "module.yml").read_text())
    top = tmp_path / "Kconfig.check"
    top.write_text(ZEPHYR_KCONFIG.format(name=meta["name"], NAME=meta["name"].upper(),
                                         module=module.as_posix(),
                                         kconfig=(module / meta["build"]["kconfig"]).as_posix()))
    kconfig = kconfiglib.Kconfig(str(top), warn_to_stderr=False)
    assert not kconfig.warnings, kconfig.warnings
    return kconfig


def test_zephyr_kconfig_parses_as_zephyr_reads_it(generated, tmp_path):
    module = generated.write(tmp_path / "module", format="zephyr")
    kconfig = zephyr_kconfig(module, tmp_path)
    option = kconfig.syms["TINYFLOW_MODEL"]
    assert option.nodes[0].prompt[0] == "tinyflow model ad01_int8"
    assert "tinyflow_init()" in option.nodes[0].help
    assert option.tri_value == 0 and kconfig.syms["REQUIRES_FULL_LIBC"].tri_value == 0
    option.set_value(2)                                  # CONFIG_TINYFLOW_MODEL=y
    assert kconfig.syms["REQUIRES_FULL_LIBC"].tri_value == 2     # roundf(): a full libc


def test_zephyr_module_builds_when_its_kconfig_option_is_set(generated, tmp_path):
    module = generated.write(tmp_path / "module", format="zephyr")
    kconfig = (module / "Kconfig").read_text()
    symbol = re.search(r"^config (\w+)$", kconfig, re.M).group(1)
    assert symbol == "TINYFLOW_MODEL"
    assert f"if(CONFIG_{symbol})" in (module / "CMakeLists.txt").read_text()

    enabled, compiled = zephyr_build(tmp_path / "on", module, {f"CONFIG_{symbol}": "y"})
    assert len(compiled) == 2                                   # the model and its weights
    archive = enabled / "module" / "libtinyflow_model.a"       # both sources, Zephyr's flags
    symbols = run([tool("arm-none-eabi-nm"), archive]).stdout
    assert re.search(r" T tinyflow_invoke$", symbols, re.M)

    disabled, compiled = zephyr_build(tmp_path / "off", module, {})
    assert not compiled and not list(disabled.rglob("*.a"))


# --- Arduino -------------------------------------------------------------------------
# library.properties as the Arduino library specification (1.5 format, rev. 2.2)
# defines it, in the form arduino-lint checks it ("specification" level): the
# required fields, the name's characters, a (relaxed) semantic version, a category.
ARDUINO_PROPERTIES_SCHEMA = {
    "type": "object",
    "required": ["name", "version", "author", "maintainer", "sentence", "paragraph",
                 "category", "url", "architectures"],
    "properties": {
        "name": {"type": "string", "minLength": 1, "maxLength": 63,
                 "pattern": r"^[A-Za-z0-9][A-Za-z0-9 _.\-]*$",
                 "not": {"pattern": "^[Aa][Rr][Dd][Uu][Ii][Nn][Oo]"}},
        "version": {"pattern": r"^(0|[1-9]\d*)(\.(0|[1-9]\d*)){0,2}$"},
        "author": {"minLength": 1}, "maintainer": {"minLength": 1},
        "sentence": {"minLength": 1}, "paragraph": {"minLength": 1},
        "category": {"enum": ["Display", "Communication", "Signal Input/Output", "Sensors",
                              "Device Control", "Timing", "Data Storage", "Data Processing",
                              "Other"]},
        "url": {"pattern": r"^https?://\S+$"},
        "architectures": {"minLength": 1},
    },
}


def read_properties(path: Path) -> dict[str, str]:
    """A properties file as the Arduino tools read it: a key=value per line (split at
    the first '='), lines starting with '#' and blank lines skipped; a key twice is
    an error here (the later would win silently)."""
    properties = {}
    for line in path.read_text(encoding="utf-8").split("\n"):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        key, equals, value = line.partition("=")
        assert equals, f"not a key=value line: {line!r}"
        assert key.strip() not in properties, f"{key} twice"
        properties[key.strip()] = value.strip()
    return properties


# The Arduino Nano 33 BLE (arduino:mbed_nano:nano33ble): the flags its core compiles a
# library's C and a sketch's C++ with (variants/ARDUINO_NANO33BLE/cflags.txt and
# cxxflags.txt of ArduinoCore-mbed); note -mfloat-abi=softfp and -funsigned-char.
NANO33BLE_COMMON = [
    "-DAPPLICATION_ADDR=0x10000", "-DAPPLICATION_SIZE=0xf0000", "-DMBED_RAM_SIZE=0x40000",
    "-DMBED_RAM_START=0x20000000", "-DMBED_ROM_SIZE=0x100000", "-DMBED_ROM_START=0x0",
    "-DMBED_TRAP_ERRORS_ENABLED=1", "-Os", "-Wall", "-Wextra",
    "-Wno-missing-field-initializers", "-Wno-unused-parameter", "-fdata-sections",
    "-ffunction-sections", "-fmessage-length=0", "-fno-delete-null-pointer-checks",
    "-fno-exceptions", "-fomit-frame-pointer", "-funsigned-char", "-g1",
    "-mcpu=cortex-m4", "-mfloat-abi=softfp", "-mfpu=fpv4-sp-d16", "-mthumb",
    "-DARDUINO=10819", "-DARDUINO_ARDUINO_NANO33BLE", "-DARDUINO_ARCH_MBED",
]
NANO33BLE_CFLAGS = ["-std=gnu11"] + NANO33BLE_COMMON
NANO33BLE_CXXFLAGS = ["-Wvla", "-fno-rtti", "-std=gnu++14"] + NANO33BLE_COMMON


def sketch_as_cpp(sketch: Path, out: Path) -> Path:
    """The sketch as the Arduino tools hand it to the C++ compiler: Arduino.h first."""
    out.write_text(f'#include <Arduino.h>\n#line 1 "{sketch.name}"\n' + sketch.read_text())
    return out


def test_arduino_library_properties_follow_the_specification(generated, tmp_path):
    library = generated.write(tmp_path / "tinyflow_model", format="arduino")
    properties = read_properties(library / "library.properties")
    jsonschema.validate(properties, ARDUINO_PROPERTIES_SCHEMA)
    assert properties["name"] == "tinyflow_model"
    assert properties["includes"] == "tinyflow_model.h" and (library / "src" /
                                                               "tinyflow_model.h").is_file()
    # Layout: sources flat in src/ (each '#include "x.h"' found beside its file), one
    # example whose folder and .ino share a name.
    sources = {p.name for p in (library / "src").iterdir()}
    assert all(p.is_file() for p in (library / "src").iterdir())
    for path in (library / "src").iterdir():
        for included in re.findall(r'^#include "([^"]+)"', path.read_text(), re.M):
            assert included in sources, (path.name, included)
    examples = list((library / "examples").iterdir())
    assert [p.name for p in examples] == ["run_model"]
    assert (examples[0] / "run_model.ino").is_file()


def test_arduino_sources_and_sketch_compile_for_the_nano_33_ble(generated, tmp_path):
    library = generated.write(tmp_path / "lib", format="arduino")
    src = library / "src"
    for source in sorted(src.glob("*.c")):
        run([tool("arm-none-eabi-gcc"), *NANO33BLE_CFLAGS, "-Werror", f"-I{src}", "-c", source,
             "-o", tmp_path / (source.name + ".o")])
    sketch = sketch_as_cpp(library / "examples" / "run_model" / "run_model.ino",
                           tmp_path / "run_model.ino.cpp")
    sketch_object = tmp_path / "run_model.ino.o"
    run([tool("arm-none-eabi-g++"), *NANO33BLE_CXXFLAGS, "-Werror", f"-I{HERE}", f"-I{src}",
         "-c", sketch, "-o", sketch_object])
    # The header declared the model's functions extern "C": the sketch calls them by
    # their C names, which the library's objects define.
    undefined = run([tool("arm-none-eabi-nm"), "-u", sketch_object]).stdout.split()
    assert {"tinyflow_init", "tinyflow_input", "tinyflow_invoke",
            "tinyflow_output"} <= set(undefined)
    assert not [name for name in undefined if name.startswith("_Z") and "tinyflow" in name]


def run_sketch_here(generated, tmp_path: Path) -> list[str]:
    """The Arduino export's example sketch compiled for this computer with the Arduino
    core's C flags (unsigned char included) around the stand-in Arduino.h, and run:
    the lines it prints."""
    library = generated.write(tmp_path / "lib", format="arduino")
    src = library / "src"
    objects = []
    for source in sorted(src.glob("*.c")):
        objects.append(tmp_path / (source.name + ".o"))
        run([tool("gcc"), "-std=gnu11", "-Os", "-funsigned-char", *STRICT, f"-I{src}", "-c",
             source, "-o", objects[-1]])
    sketch = sketch_as_cpp(library / "examples" / "run_model" / "run_model.ino",
                           tmp_path / "run_model.ino.cpp")
    program = tmp_path / "sketch"
    run([tool("g++"), "-std=gnu++14", "-Os", "-funsigned-char", *STRICT, f"-I{HERE}",
         f"-I{src}", sketch, HERE / "arduino_main.cpp", *objects, "-lm", "-o", program])
    return run([program]).stdout.splitlines()


def test_arduino_sketch_runs_the_model_as_tflm_does(generated, tmp_path):
    """Run here, the sketch prints the outputs TFLM computes for its all-zero input."""
    printed = run_sketch_here(generated, tmp_path)
    assert printed[0] == "model: ad01_int8"
    values = [int(v) for v in printed[2].removeprefix("output 0: ").split()]
    expected = tflm_output(MODEL, np.zeros((1, 640), dtype=np.int8))
    assert values == expected.ravel().tolist()


# --- a model with float32 input and output ---------------------------------------------
@pytest.fixture(scope="module")
def float_io_model(tmp_path_factory) -> Path:
    """A small Dense model converted with float32 at its edges (QUANTIZE, which calls
    roundf() from the math library, and DEQUANTIZE)."""
    import keras

    from tinyflow.convert import quantize_keras

    keras.utils.set_random_seed(3)
    model = keras.Sequential([keras.Input((16,)), keras.layers.Dense(8, activation="relu"),
                              keras.layers.Dense(4)])
    samples = np.random.default_rng(0).uniform(-1, 1, size=(64, 16)).astype(np.float32)
    path = tmp_path_factory.mktemp("float_io") / "float_io.tflite"
    path.write_bytes(quantize_keras(model, samples, int8_io=False))
    return path


@pytest.mark.slow
def test_float_io_model_through_cmake_and_the_sketch_as_tflm_computes_it(float_io_model,
                                                                        tmp_path):
    sample = np.random.default_rng(5).uniform(-1, 1, size=(1, 16)).astype(np.float32)
    ours = cmake_run_once(float_io_model, "float_io", sample, tmp_path / "cmake")
    assert ours == tflm_output(float_io_model, sample).tobytes()

    printed = run_sketch_here(generate(float_io_model), tmp_path / "arduino")
    expected = tflm_output(float_io_model, np.zeros((1, 16), dtype=np.float32))
    assert expected.dtype == np.float32
    assert printed[2] == "output 0: " + " ".join(f"{float(v):.6f}" for v in expected.ravel())


# --- PlatformIO ----------------------------------------------------------------------
# library.json as PlatformIO's manifest schema (platformio/package/manifest/schema.py)
# and its documentation of the "build" fields define it.
_PIO_LIST = {"type": "array", "items": {"type": "string", "maxLength": 50,
                                        "pattern": r"^([a-z\d\-_]+|\*)$"}}
_PIO_FILTER = {"oneOf": [{"type": "string"}, {"type": "array", "items": {"type": "string"}}]}
PLATFORMIO_LIBRARY_SCHEMA = {
    "type": "object",
    "required": ["name", "version"],
    "properties": {
        "name": {"type": "string", "minLength": 1, "maxLength": 50,
                 "pattern": r"^[a-z0-9]+(-[a-z0-9]+)*$"},   # the documented slug style
        "version": {"type": "string", "maxLength": 50,
                    "pattern": r"^\d+\.\d+(\.\d+)?([-+][0-9A-Za-z.\-+]*)?$"},
        "description": {"type": "string", "minLength": 1, "maxLength": 1000},
        "keywords": {"type": "array", "items": {"type": "string", "maxLength": 50,
                                                "pattern": r"^[a-z\d\-\+\. ]+$"}},
        "frameworks": {"oneOf": [{"type": "string", "pattern": r"^([a-z\d\-_]+|\*)$"},
                                 _PIO_LIST]},
        "platforms": {"oneOf": [{"type": "string", "pattern": r"^([a-z\d\-_]+|\*)$"},
                                _PIO_LIST]},
        "headers": _PIO_FILTER,
        "build": {
            "type": "object",
            "additionalProperties": False,
            "properties": {
                "flags": _PIO_FILTER, "unflags": _PIO_FILTER, "includeDir": {"type": "string"},
                "srcDir": {"type": "string"}, "srcFilter": _PIO_FILTER,
                "extraScript": {"type": "string"}, "libArchive": {"type": "boolean"},
                "libLDFMode": {"enum": ["off", "chain", "deep", "chain+", "deep+"]},
                "libCompatMode": {"enum": ["off", "soft", "strict"]},
                "builder": {"enum": ["PlatformIOLibBuilder", "ArduinoLibBuilder",
                                     "MbedLibBuilder"]},
            },
        },
    },
}

# PlatformIO's bare-metal build (no framework) for the nRF52840 DK (platform
# nordicnrf52, board nrf52840_dk: build.cpu cortex-m4, F_CPU 64 MHz), from the
# platform's builder/frameworks/_bare.py; no -std, so arm-none-eabi-gcc's default.
PLATFORMIO_NRF52840_CFLAGS = ["-Os", "-ffunction-sections", "-fdata-sections", "-Wall",
                              "-mthumb", "-nostdlib", "-mcpu=cortex-m4", "-DF_CPU=64000000L"]


def selected_sources(src: Path, src_filter: list[str]) -> list[str]:
    """The files a PlatformIO srcFilter of '+<glob>' entries selects in ``src``."""
    chosen = set()
    for entry in src_filter:
        sign, pattern = entry[0], entry[2:-1]
        assert sign == "+" and entry[1] == "<" and entry[-1] == ">", entry
        chosen |= {p.name for p in src.glob(pattern)}
    return sorted(chosen)


def test_platformio_library_json_follows_the_manifest_format(generated, tmp_path):
    library = generated.write(tmp_path / "lib", format="platformio")
    manifest = json.loads((library / "library.json").read_text())
    jsonschema.validate(manifest, PLATFORMIO_LIBRARY_SCHEMA)
    build = manifest["build"]
    assert (library / build["srcDir"] / manifest["headers"]).is_file()
    assert (library / build["includeDir"] / manifest["headers"]).is_file()
    assert selected_sources(library / build["srcDir"], build["srcFilter"]) == \
        ["tinyflow_model.c", "tinyflow_weights.c"]


def test_platformio_sources_compile_with_platformios_flags(generated, tmp_path):
    library = generated.write(tmp_path / "lib", format="platformio")
    manifest = json.loads((library / "library.json").read_text())
    build = manifest["build"]
    src = library / build["srcDir"]
    for name in selected_sources(src, build["srcFilter"]):
        run([tool("arm-none-eabi-gcc"), *PLATFORMIO_NRF52840_CFLAGS, *build.get("flags", []),
             *STRICT, f"-I{library / build['includeDir']}", "-c", src / name,
             "-o", tmp_path / (name + ".o")])


# --- model text in every build file ----------------------------------------------------
def test_model_text_stays_text_in_every_build_file(hostile_generated, generated, tmp_path):
    """A model name written to break out of a CMake string, a comment, a properties
    line, a Kconfig string or JSON changes only that text (compared with the same
    export of the plainly named model)."""
    name = text_line(HOSTILE)
    plain_name = text_line("ad01_int8")
    for fmt in FORMATS[1:]:
        attacked = hostile_generated.write(tmp_path / "hostile" / fmt, format=fmt)
        plain = generated.write(tmp_path / "plain" / fmt, format=fmt)
        for path in sorted(p for p in attacked.rglob("*") if p.is_file()):
            relative = path.relative_to(attacked)
            text = path.read_text()
            assert HOSTILE not in text and "\r" not in text, relative
            if relative.name == "manifest.json" or relative.suffix in (".c", ".h", ".ino"):
                continue                      # JSON by json.dumps; C by the C filters
            # Same lines as the plain model's, but for the name in each of them.
            ours, theirs = text.splitlines(), (plain / relative).read_text().splitlines()
            assert len(ours) == len(theirs), relative
            for line, plain_line in zip(ours, theirs):
                if line != plain_line:
                    assert plain_name in plain_line, (relative, plain_line)

    library = hostile_generated.write(tmp_path / "arduino", format="arduino")
    properties = read_properties(library / "library.properties")
    jsonschema.validate(properties, ARDUINO_PROPERTIES_SCHEMA)
    assert name in properties["sentence"]
    manifest = json.loads((hostile_generated.write(tmp_path / "pio", format="platformio")
                           / "library.json").read_text())
    jsonschema.validate(manifest, PLATFORMIO_LIBRARY_SCHEMA)
    assert name in manifest["description"]
    module = hostile_generated.write(tmp_path / "zephyr", format="zephyr")
    assert yaml.safe_load((module / "zephyr" / "module.yml").read_text()) == {
        "name": "tinyflow_model", "build": {"cmake": ".", "kconfig": "Kconfig"}}
    prompt = zephyr_kconfig(module, tmp_path).syms["TINYFLOW_MODEL"].nodes[0].prompt[0]
    assert prompt == "tinyflow model " + name.replace("$", "?")   # no macro expanded

    # The sketch prints the name as a C string: it compiles and prints it back.
    sketch = sketch_as_cpp(library / "examples" / "run_model" / "run_model.ino",
                           tmp_path / "run_model.ino.cpp")
    run([tool("g++"), "-std=gnu++14", *STRICT, f"-I{HERE}", f"-I{library / 'src'}", "-c",
         sketch, "-o", tmp_path / "sketch.o"])
