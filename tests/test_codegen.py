"""Generated C: deterministic, compiles cleanly for host and Cortex-M4, described by a manifest."""

import json
import shutil
import subprocess

import pytest

from conftest import MLPERF_MODELS, mlperf_model
from tinyflow.cli import main
from tinyflow.codegen import generate
from tinyflow.codegen.ir import load_model
from tinyflow.codegen import plan_memory

from tinyflow.firmware.build import library_cflags

PEDANTIC = ["-pedantic-errors"]


def test_codegen_is_deterministic(tmp_path):
    model = mlperf_model("kws_ref_model")
    assert main(["codegen", str(model), "-o", str(tmp_path / "a")]) == 0
    assert main(["codegen", str(model), "-o", str(tmp_path / "b")]) == 0
    a = {p.name: p.read_bytes() for p in (tmp_path / "a").iterdir()}
    b = {p.name: p.read_bytes() for p in (tmp_path / "b").iterdir()}
    assert a == b
    assert sorted(a) == ["manifest.json", "tf_kernels.h", "tf_runtime.h", "tinyflow.mk",
                         "tinyflow_model.c", "tinyflow_model.h", "tinyflow_weights.c"]
    for name, text in a.items():
        if name.endswith((".c", ".h")):
            assert b"Do not edit" in text[:400], name


def test_manifest_describes_the_library():
    model = load_model(mlperf_model("vww_96_int8"))
    generated = generate(model)
    manifest = json.loads(generated.files["manifest.json"])
    assert manifest["model"]["sha256"] == model.sha256
    assert manifest["arena_bytes"] == plan_memory(model).arena_bytes
    assert len(manifest["layers"]) == len(model.operators)
    assert manifest["inputs"][0]["shape"] == [1, 96, 96, 3]
    assert set(manifest["files"]) == set(generated.files) - {"manifest.json"}
    assert "timestamp" not in generated.files["manifest.json"]


def _compile(compiler, flags, directory, sources):
    result = subprocess.run([compiler, *flags, "-c", *sources], cwd=directory,
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stderr[-3000:]


@pytest.mark.parametrize("name", MLPERF_MODELS)
def test_generated_code_compiles_strictly_for_host_and_cortex_m4(name, tmp_path):
    generated = generate(mlperf_model(name))
    out = generated.write(tmp_path / "lib")
    sources = ["tinyflow_model.c", "tinyflow_weights.c"]
    _compile("gcc", library_cflags("host") + PEDANTIC, out, sources)
    arm = shutil.which("arm-none-eabi-gcc")
    assert arm, "arm-none-eabi-gcc is not installed: run scripts/setup"
    _compile(arm, library_cflags("qemu-cortex-m4") + PEDANTIC, out, sources)


def test_build_fragment_builds_a_program(tmp_path):
    """The .mk fragment is enough to build a program against the library."""
    out = generate(mlperf_model("ad01_int8")).write(tmp_path / "lib")
    (tmp_path / "main.c").write_text(
        '#include "tinyflow_model.h"\n'
        "int main(void) { tinyflow_init(); return tinyflow_invoke(); }\n")
    (tmp_path / "Makefile").write_text(
        "include lib/tinyflow.mk\n"
        "app: main.c $(TINYFLOW_SRCS)\n"
        "\t$(CC) $(TINYFLOW_CFLAGS) -O2 -o $@ $^ $(TINYFLOW_LDLIBS)\n")
    subprocess.run(["make", "-s", "app"], cwd=tmp_path, check=True)
    assert subprocess.run([str(tmp_path / "app")]).returncode == 0
    assert out.exists()


def test_ir_reads_options_and_quantization():
    model = load_model(mlperf_model("kws_ref_model"))
    conv = model.operators[0]
    assert conv.opcode == "CONV_2D"
    assert conv.options["padding"] == "SAME" and conv.options["stride_h"] == 2
    assert conv.options["fused_activation_function"] == "RELU"
    weights = model.tensors[conv.inputs[1]]
    assert weights.is_constant and weights.dtype == "int8"
    assert weights.quantization.per_channel and len(weights.quantization.scale) == weights.shape[0]
    assert model.input_tensors[0].shape == (1, 49, 10, 1)
