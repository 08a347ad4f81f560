"""The generated C under AddressSanitizer and UndefinedBehaviorSanitizer.

Each model's generated code, with the host's batch program, is compiled once with
``-fsanitize=address,undefined -fno-sanitize-recover=all`` and run on random inputs:
any out-of-bounds access outside the arena, any signed overflow, misaligned access
or over-wide shift stops the program with an error. Its output bytes must equal
TFLM's (so, also the unsanitized build's). Models: the fuzz seed model (PAD, CONV_2D,
MAX_POOL_2D, DEPTHWISE_CONV_2D, ADD, LOGISTIC, MUL, MEAN, FULLY_CONNECTED, SOFTMAX),
two MLPerf Tiny models, and op-test models for the kernels those lack.
"""

from __future__ import annotations

import shutil
import subprocess

import numpy as np
import pytest

from conftest import mlperf_model, random_inputs
from fuzz.models import small_model
from ops import test_activations, test_conv, test_pooling, test_shape_ops, test_sparse
from ops.harness import by_name, case_inputs, converted
from tinyflow.boards import get_board
from tinyflow.codegen.generator import generate
from tinyflow.codegen.ir import load_model
from tinyflow.firmware.build import library_cflags
from tinyflow.firmware.host import HostModel
from tinyflow.firmware.render import render_batch_program
from tinyflow.reference import ReferenceInterpreter

SANITIZE = ["-fsanitize=address,undefined", "-fno-sanitize-recover=all",
            "-fno-omit-frame-pointer"]

OP_CASES = (by_name(test_conv.CASES, "conv_3x3_stride2_same_odd_relu6", "conv_3x3_groups2",
                    "conv_3x3_dilation2_valid")
            + by_name(test_pooling.CASES, "avgpool_2x2_s2_same_overhang")
            + by_name(test_shape_ops.CASES, "concat_requantized_3x4x2",
                      "padv2_6x5x3_pads00-11-20-01_value0.5", "flatten_then_softmax")
            + by_name(test_activations.CASES, "tanh_6x5x3_gain1_range-1to1",
                      "leaky0.3_input_5x7_range-10to2")
            # 2:4 sparse weights: the tables' padding groups and partial last group
            + by_name(test_sparse.CASES, "sparse_dense_126_to_40_1of4",
                      "sparse_dense_rows_5x128_to_48", "sparse_conv_3x3_c6_f48_same_patch"))


@pytest.fixture(autouse=True)
def sanitizer_settings(monkeypatch):
    if shutil.which("gcc") is None:
        pytest.fail("gcc is needed for the sanitizer builds")
    monkeypatch.setenv("ASAN_OPTIONS", "detect_leaks=1:abort_on_error=0")
    monkeypatch.setenv("UBSAN_OPTIONS", "halt_on_error=1:print_stacktrace=1")


def sanitized_host(model_bytes: bytes, tmp_path) -> HostModel:
    generated = generate(load_model(model_bytes))
    files = render_batch_program(generated, get_board("host"))
    for name, text in files.items():
        (tmp_path / name).write_text(text)
    sources = sorted(str(tmp_path / name) for name in files if name.endswith(".c"))
    executable = tmp_path / "sanitized"
    subprocess.run(["gcc", *library_cflags("host"), *SANITIZE, "-I", str(tmp_path), *sources,
                    "-lm", "-o", str(executable)], check=True, capture_output=True)
    return HostModel(generated, executable)


def assert_clean_and_bit_exact(model_bytes: bytes, tmp_path, inputs=None) -> None:
    host = sanitized_host(model_bytes, tmp_path)
    inputs = inputs if inputs is not None else random_inputs(host.model, 8, seed=5)
    ours = host.run(inputs)          # a sanitizer report exits non-zero: BuildError
    expected = ReferenceInterpreter(model_bytes).run(inputs)
    assert [o.tobytes() for o in ours] == [e.tobytes() for e in expected]


def test_a_sanitizer_stops_the_program(tmp_path):
    """The flags work here: a signed overflow under -fsanitize=undefined stops a program."""
    program = tmp_path / "overflow.c"
    program.write_text("#include <limits.h>\n#include <stdio.h>\n"
                       "int main(int argc, char **argv) { (void)argv; int x = INT_MAX - 1 + argc;"
                       " x += 1; printf(\"%d\\n\", x); return 0; }\n")
    subprocess.run(["gcc", *SANITIZE, str(program), "-o", str(tmp_path / "overflow")], check=True)
    run = subprocess.run([str(tmp_path / "overflow")], capture_output=True)
    assert run.returncode != 0 and b"signed integer overflow" in run.stderr


@pytest.mark.parametrize("name", ["small", "ad01_int8", "kws_ref_model"])
def test_models_run_clean_under_sanitizers(name, tmp_path):
    data = small_model() if name == "small" else mlperf_model(name).read_bytes()
    assert_clean_and_bit_exact(data, tmp_path)


@pytest.mark.slow
@pytest.mark.parametrize("case", OP_CASES, ids=lambda case: case.name)
def test_op_models_run_clean_under_sanitizers(case, tmp_path):
    data = converted(case)
    inputs = case_inputs(load_model(data), case)
    if inputs is not None:
        inputs = [np.asarray(a) for a in inputs]
    assert_clean_and_bit_exact(data, tmp_path, inputs)
