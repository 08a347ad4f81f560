"""The `tinyflow` command: help, version, inspect, codegen, infer on the host."""

import subprocess
import sys

import numpy as np

from conftest import assert_bit_exact, mlperf_model
from tinyflow import __version__
from tinyflow.cli import main
from tinyflow.reference import ReferenceInterpreter


def test_help_and_version():
    result = subprocess.run([sys.executable, "-m", "tinyflow", "--help"], capture_output=True,
                            text=True, check=True)
    for command in ("codegen", "infer", "inspect"):
        assert command in result.stdout
    result = subprocess.run([sys.executable, "-m", "tinyflow", "--version"], capture_output=True,
                            text=True, check=True)
    assert result.stdout.strip() == f"tinyflow {__version__}"


def test_no_command_prints_help_and_fails(capsys):
    assert main([]) == 2
    assert "usage: tinyflow" in capsys.readouterr().out


def test_inspect_shows_ops_and_plan(capsys):
    assert main(["inspect", str(mlperf_model("kws_ref_model"))]) == 0
    out = capsys.readouterr().out
    assert "DEPTHWISE_CONV_2D" in out and "arena:" in out


def test_infer_on_host_matches_tflm(tmp_path):
    model = mlperf_model("pretrainedResnet_quant")
    inputs = np.random.default_rng(7).integers(-128, 128, (5, 1, 32, 32, 3), dtype=np.int8)
    np.save(tmp_path / "x.npy", inputs)
    assert main(["infer", str(model), "--board", "host", "--inputs", str(tmp_path / "x.npy"),
                 "--outputs", str(tmp_path / "y.npy")]) == 0
    ours = np.load(tmp_path / "y.npy")
    assert ours.shape == (5, 1, 10) and ours.dtype == np.int8
    assert np.array_equal(ours, ReferenceInterpreter(model).run([inputs])[0])


def test_infer_reads_npz_by_input_name_and_writes_npz(tmp_path):
    model = mlperf_model("ad01_int8")
    inputs = np.random.default_rng(3).integers(-128, 128, (4, 1, 640), dtype=np.int8)
    np.savez(tmp_path / "x.npz", input_1=inputs)
    assert main(["infer", str(model), "--inputs", str(tmp_path / "x.npz"),
                 "--outputs", str(tmp_path / "y.npz")]) == 0
    with np.load(tmp_path / "y.npz") as outputs:
        assert list(outputs.keys()) == ["output_0"]
        expected = assert_bit_exact(model, inputs=[inputs])[0]
        assert np.array_equal(outputs["output_0"], expected)


def test_infer_with_misnamed_npz_says_what_it_expected(tmp_path, capsys):
    np.savez(tmp_path / "x.npz", images=np.zeros((1, 1, 640), np.int8))
    assert main(["infer", str(mlperf_model("ad01_int8")), "--inputs", str(tmp_path / "x.npz"),
                 "--outputs", str(tmp_path / "y.npy")]) == 1
    assert "['images']" in capsys.readouterr().err


def test_json_goes_to_stdout_with_no_file_and_the_report_to_stderr(tmp_path, capsys):
    """One convention for every command: --json FILE, or --json / --json - for stdout."""
    import json

    from conftest import mlperf_model

    model = str(mlperf_model("ad01_int8"))
    assert main(["profile", model, "--json"]) == 0
    out = capsys.readouterr()
    assert json.loads(out.out)["model"] == "ad01_int8"
    assert main(["profile", model, "--json", str(tmp_path / "p.json")]) == 0
    out = capsys.readouterr()
    assert json.loads((tmp_path / "p.json").read_text())["model"] == "ad01_int8"
    assert "ad01_int8" in out.out and "wrote" in out.err
