"""Kernel choices by measurement: the tuning record, codegen following it, `tinyflow tune`."""

import json

import numpy as np
import pytest

from conftest import mlperf_model, random_inputs
from tinyflow.codegen import generate
from tinyflow.codegen.ir import load_model
from tinyflow.codegen.ops.base import Layer
from tinyflow.codegen.tuning import layer_key


def _alternatives(model) -> dict[str, str]:
    """A record choosing every tunable layer's last (non-default) option."""
    generated = generate(model, tuning={})
    record = {}
    for entry in generated.manifest["layers"]:
        for knob, spec in entry["choices"].items():
            if len(spec["options"]) > 1:
                op = generated.model.operators[entry["index"]]
                record[layer_key(Layer(op, generated.model), knob)] = spec["options"][-1]
    return record


def test_codegen_follows_the_record_and_ignores_what_it_cannot_apply():
    model = load_model(mlperf_model("pretrainedResnet_quant"))
    default = generate(model).manifest["layers"]
    assert default[1]["variant"] == "conv_tap"
    assert default[1]["choices"] == {"gather": {"choice": "tap", "options": ["tap", "patch"]}}
    record = _alternatives(model)
    assert len(record) == 7                     # six 3x3 convolutions and the classifier
    tuned = generate(model, tuning=record).manifest["layers"]
    assert tuned[1]["variant"] == "conv_patch"
    assert tuned[14]["choices"]["kernel"]["choice"] == "matrix"
    # a choice that is not one of the layer's options is ignored
    nonsense = {key: "nonsense" for key in record}
    assert generate(model, tuning=nonsense).manifest["layers"][1]["variant"] == "conv_tap"


@pytest.mark.parametrize("name", ["kws_ref_model", "pretrainedResnet_quant"])
def test_every_kernel_path_is_bit_exact(name):
    """The paths tune may choose (looped depthwise taps, patch gathering, the column
    kernel for a single row) give TFLM's bytes, as the defaults do."""
    from tinyflow.firmware.host import compile_host
    from tinyflow.reference import ReferenceInterpreter

    path = mlperf_model(name)
    model = load_model(path)
    generated = generate(model, tuning=_alternatives(model))
    chosen = {c["choice"] for e in generated.manifest["layers"] for c in e["choices"].values()}
    assert chosen & {"looped", "patch", "matrix"}
    inputs = random_inputs(model, 4, seed=7)
    ours = compile_host(generated).run(inputs)
    reference = ReferenceInterpreter(path.read_bytes()).run(inputs)
    for a, b in zip(ours, reference):
        assert np.array_equal(a.view(np.uint8), b.view(np.uint8))


@pytest.mark.slow
def test_tune_measures_every_path_and_builds_follow_the_record(tmp_path, monkeypatch, capsys):
    """`tinyflow tune` on qemu-cortex-m4: each tunable layer timed with each option, the
    fastest recorded in the board's record, which the next build takes."""
    from tinyflow.cli import main
    from tinyflow.codegen.tuning import choices_for, record_path

    monkeypatch.setenv("TINYFLOW_CACHE", str(tmp_path / "cache"))
    model = mlperf_model("pretrainedResnet_quant")
    assert main(["tune", str(model), "--board", "qemu-cortex-m4"]) == 0
    out = capsys.readouterr().out
    assert "7 tunable layers" in out and "builds for qemu-cortex-m4 follow it" in out
    record = json.loads(record_path("qemu-cortex-m4").read_text())
    assert record["board"] == "qemu-cortex-m4" and len(record["choices"]) == 7
    for entry in record["choices"].values():
        measured = entry["measured"]
        assert len(measured) == 2 and all(count > 0 for count in measured.values())
        assert measured[entry["choice"]] == min(measured.values())
    # the profile and the firmware take the record's choices
    from tinyflow.profiler import profile

    report = profile(model, board="qemu-cortex-m4")
    kernels = {layer.facts.index: layer.facts.kernel for layer in report.layers}
    for key, entry in record["choices"].items():
        if key.startswith("CONV_2D"):
            assert f"conv_{entry['choice']}" in kernels.values()
    assert choices_for("qemu-cortex-m4") == {k: e["choice"] for k, e in record["choices"].items()}
