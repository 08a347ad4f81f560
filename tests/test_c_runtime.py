"""The hand-written C runtime (codegen/runtime/) on its own: tests/c/test_runtime.c checks
the fixed-point arithmetic and the int8 kernels, built with the generated code's warnings,
on this computer (the kernels' portable C path) and for a Cortex-M4 on QEMU (their SIMD
path, compared there with the portable path)."""

import shutil
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
RUNTIME = REPO / "codegen" / "runtime"
TESTS_C = REPO / "tests" / "c"
SOURCES = [TESTS_C / "test_runtime.c", TESTS_C / "portable_kernels.c"]
CFLAGS = ["-std=c99", "-Wall", "-Wextra", "-Werror", "-O2", "-I", str(RUNTIME), "-I", str(TESTS_C)]
CORTEX_M4 = ["-mcpu=cortex-m4", "-mthumb", "-mfpu=fpv4-sp-d16", "-mfloat-abi=hard"]
# newlib's semihosting C library, and a vector table at address 0 to boot from.
SEMIHOSTING = ["--specs=rdimon.specs", "-Wl,--section-start=.vectors=0",
               str(TESTS_C / "qemu_boot.c")]


def _build(compiler: str, flags: list[str], out: Path) -> Path:
    result = subprocess.run([compiler, *CFLAGS, *flags, *map(str, SOURCES), "-o", str(out)],
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stderr[-3000:]
    return out


def _check(result: subprocess.CompletedProcess, path: str) -> None:
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert f"(kernels: {path}):" in result.stdout and " 0 failures" in result.stdout, result.stdout


def test_runtime_on_this_computer(tmp_path):
    program = _build("gcc", [], tmp_path / "test_runtime")
    _check(subprocess.run([str(program)], capture_output=True, text=True, timeout=60),
           "portable C path")


def _build_cortex_m4(tmp_path) -> Path:
    arm = shutil.which("arm-none-eabi-gcc")
    assert arm, "arm-none-eabi-gcc is not installed: run scripts/setup"
    return _build(arm, CORTEX_M4 + SEMIHOSTING, tmp_path / "test_runtime.elf")


def test_runtime_builds_for_cortex_m4(tmp_path):
    """The SIMD path compiles without warnings (run by the slow test below)."""
    _build_cortex_m4(tmp_path)


@pytest.mark.slow
def test_runtime_on_qemu_cortex_m4(tmp_path):
    elf = _build_cortex_m4(tmp_path)
    qemu = shutil.which("qemu-system-arm")
    assert qemu, "qemu-system-arm is not installed: run scripts/setup"
    result = subprocess.run([qemu, "-M", "mps2-an386", "-nographic", "-semihosting",
                             "-kernel", str(elf)], stdin=subprocess.DEVNULL,
                            capture_output=True, text=True, timeout=120)
    _check(result, "SIMD path")


def test_host_flags_avoid_gcc_12s_vectorizer_miscompile(tmp_path):
    """With the host board's flags, the layer gcc 12.2 miscompiled (its call dropped,
    outputs 0) computes its values; see tests/c/vectorizer_regression.c."""
    from tinyflow.firmware.build import library_cflags

    program = tmp_path / "vectorizer_regression"
    built = subprocess.run(["gcc", *library_cflags("host"), "-I", str(RUNTIME),
                            str(TESTS_C / "vectorizer_regression.c"), "-o", str(program)],
                           capture_output=True, text=True)
    assert built.returncode == 0, built.stderr[-3000:]
    result = subprocess.run([str(program)], capture_output=True, text=True, timeout=60)
    assert result.stdout.split() == ["16", "29", "42", "54"]
