"""Bad input gets a clear error that says what and where, and a non-zero exit."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from conftest import mlperf_model
from tinyflow.cli import main
from tinyflow.codegen import check_supported, generate
from tinyflow.errors import InputError, ModelFormatError, UnsupportedModelError
from tinyflow.codegen.ir import load_model

KWS = mlperf_model("kws_ref_model")


@pytest.fixture(scope="module")
def keras_models():
    """Small converted models: one float-only, one with ops tinyflow lacks."""
    keras = pytest.importorskip("keras")
    import tensorflow as tf

    from tinyflow.convert import quantize_keras

    inputs = keras.Input((8, 8, 2), batch_size=1)
    x = keras.layers.Conv2D(4, 3, padding="same")(inputs)
    x = keras.layers.Flatten()(x)
    outputs = keras.layers.Dense(3)(x)
    float_model = tf.lite.TFLiteConverter.from_keras_model(keras.Model(inputs, outputs)).convert()

    inputs = keras.Input((8, 8, 2), batch_size=1)
    x = keras.layers.Conv2D(4, 3, padding="same")(inputs)
    x = keras.layers.LeakyReLU(negative_slope=0.1)(x)
    y = keras.layers.Lambda(tf.math.abs)(keras.layers.Conv2D(4, 3, padding="same")(x))
    z = keras.layers.Lambda(tf.math.abs)(keras.layers.Conv2D(4, 1)(x))
    x = keras.layers.Lambda(tf.math.abs)(keras.layers.Subtract()([y, z]))
    x = keras.layers.Flatten()(x)
    outputs = keras.layers.Lambda(tf.nn.log_softmax)(keras.layers.Dense(3)(x))
    samples = np.random.default_rng(0).uniform(-1, 1, (16, 8, 8, 2))
    unsupported = quantize_keras(keras.Model(inputs, outputs), samples)
    return {"float": float_model, "unsupported": unsupported}


def run_cli(*args) -> int:
    return main([str(a) for a in args])


@pytest.mark.parametrize("keep", [0, 7, 8, 100, 5000, 40000, 53000])
def test_truncated_model_is_a_format_error(tmp_path, keep, capsys):
    truncated = tmp_path / "truncated.tflite"
    truncated.write_bytes(KWS.read_bytes()[:keep])
    with pytest.raises(ModelFormatError, match="truncated|not a TFLite model"):
        load_model(truncated)
    assert run_cli("codegen", truncated, "-o", tmp_path / "out") == 1
    err = capsys.readouterr().err
    assert "error:" in err
    assert "corrupt or truncated" in err or "not a TFLite model" in err
    assert not (tmp_path / "out").exists()


def test_non_tflite_file_is_rejected(tmp_path, capsys):
    not_a_model = tmp_path / "weights.npy"
    np.save(not_a_model, np.zeros(100))
    assert run_cli("codegen", not_a_model, "-o", tmp_path / "out") == 1
    err = capsys.readouterr().err
    assert "not a TFLite model" in err and "TFL3" in err
    assert not (tmp_path / "out").exists()


def test_missing_file_is_reported(tmp_path, capsys):
    assert run_cli("codegen", tmp_path / "nope.tflite", "-o", tmp_path / "out") == 1
    assert "nope.tflite" in capsys.readouterr().err


@pytest.mark.slow
def test_every_unsupported_op_is_listed_at_once(keras_models, tmp_path, capsys):
    model = load_model(keras_models["unsupported"], name="mixed")
    opcodes = [op.opcode for op in model.operators]
    # LEAKY_RELU and SUB in this model are supported now; ABS (three times) and
    # LOG_SOFTMAX are not.
    lacking = [op for op in model.operators if op.opcode in ("ABS", "LOG_SOFTMAX")]
    assert len({op.opcode for op in lacking}) == 2 and len(lacking) > 2, opcodes
    with pytest.raises(UnsupportedModelError) as caught:
        check_supported(model)
    problems = caught.value.problems
    for op in lacking:   # every one, each with its location
        assert any(f"op #{op.index} ({op.opcode})" in p for p in problems), problems
    path = tmp_path / "mixed.tflite"
    path.write_bytes(keras_models["unsupported"])
    assert run_cli("codegen", path, "-o", tmp_path / "out") == 1
    err = capsys.readouterr().err
    assert f"{len(problems)} unsupported" in err and "LOG_SOFTMAX" in err and "ABS" in err
    assert "LEAKY_RELU" not in err and "SUB" not in err
    assert not (tmp_path / "out").exists()


@pytest.mark.slow
def test_float_only_model_is_explained(keras_models, tmp_path, capsys):
    path = tmp_path / "float.tflite"
    path.write_bytes(keras_models["float"])
    assert run_cli("codegen", path, "-o", tmp_path / "out") == 1
    err = capsys.readouterr().err
    assert "float32" in err and "float-only" in err and "Quantize" in err


def test_wrong_input_shape_and_dtype_at_infer(tmp_path, capsys):
    good = np.zeros((2, 1, 49, 10, 1), np.int8)
    cases = {
        "shape": np.zeros((2, 1, 49, 11, 1), np.int8),
        "dtype": good.astype(np.float32),
        "rank": np.zeros((2, 490), np.int8),
    }
    for label, array in cases.items():
        path = tmp_path / f"{label}.npy"
        np.save(path, array)
        out = tmp_path / f"{label}-out.npy"
        assert run_cli("infer", KWS, "--inputs", path, "--outputs", out) == 1, label
        err = capsys.readouterr().err
        assert "input 0 'input_1'" in err, err
        if label == "dtype":
            assert "takes int8, got float32" in err
        else:
            assert "takes batches of shape (N, 1, 49, 10, 1)" in err
        assert not out.exists()


def test_wrong_number_of_inputs(tmp_path):
    from tinyflow.codegen.batch import check_inputs

    with pytest.raises(InputError, match="has 1 input"):
        check_inputs(load_model(KWS), [np.zeros((1, 1, 49, 10, 1), np.int8)] * 2)


def test_failed_codegen_keeps_the_previous_output(tmp_path, capsys):
    out = tmp_path / "lib"
    assert run_cli("codegen", KWS, "-o", out) == 0
    before = {p.name: p.read_bytes() for p in out.iterdir()}
    bad = tmp_path / "bad.tflite"
    bad.write_bytes(KWS.read_bytes()[:1000])
    assert run_cli("codegen", bad, "-o", out) == 1
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []


def test_write_failure_leaves_nothing(tmp_path, monkeypatch):
    """A failure midway through writing removes the staging directory."""
    generated = generate(KWS)
    files = dict(generated.files)
    files["zz_broken.c"] = None   # cannot be written: not text
    from tinyflow.common import publish_dir

    with pytest.raises(TypeError):
        publish_dir(files, tmp_path / "lib")
    assert list(tmp_path.iterdir()) == []


def test_cli_faults_are_one_line_never_a_traceback(tmp_path, capsys, monkeypatch):
    """A closed pipe, a bad count, an empty batch, a cache path that is a file."""
    import subprocess
    import sys

    model = mlperf_model("ad01_int8")
    tinyflow = str(Path(sys.executable).with_name("tinyflow"))
    piped = subprocess.run(f"'{tinyflow}' inspect '{model}' | head -1", shell=True,
                           capture_output=True, text=True, executable="/bin/bash")
    assert piped.stdout.startswith("ad01_int8:") and "Traceback" not in piped.stderr

    with pytest.raises(SystemExit) as usage:
        run_cli("measure", model, "--board", "native", "-n", "-1")
    assert usage.value.code == 2
    assert "is not a whole number >= 1" in capsys.readouterr().err

    empty = tmp_path / "empty.npy"
    np.save(empty, np.zeros((0, 1, 640), np.int8))
    assert run_cli("infer", model, "--inputs", empty, "--outputs", tmp_path / "o.npy") == 1
    assert "the batch is empty" in capsys.readouterr().err

    one = tmp_path / "one.npy"
    np.save(one, np.zeros((1, 1, 640), np.int8))
    blocker = tmp_path / "cache-is-a-file"
    blocker.write_text("")
    monkeypatch.setenv("TINYFLOW_CACHE", str(blocker))
    assert run_cli("infer", model, "--inputs", one, "--outputs", tmp_path / "o.npy") == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Not a directory" in err and "Traceback" not in err


def test_verbose_adds_the_traceback_to_the_one_line(tmp_path, capsys):
    """An error is one line; `tinyflow -v COMMAND` (or a command's own -v) adds where it
    arose, for a bug report."""
    from tinyflow.cli import main

    not_a_model = tmp_path / "notes.tflite"
    not_a_model.write_text("hello")
    assert main(["codegen", str(not_a_model), "-o", str(tmp_path / "out")]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "not a TFLite model" in err and "Traceback" not in err
    assert main(["-v", "codegen", str(not_a_model), "-o", str(tmp_path / "out")]) == 1
    err = capsys.readouterr().err
    assert err.startswith("tinyflow codegen: error:") and "Traceback" in err
    assert "ModelFormatError" in err
    assert main(["build", str(not_a_model), "-v"]) == 1
    assert "Traceback" in capsys.readouterr().err
