"""An op is one unit: its prepare step decides everything, the manifest records it,
and every later stage (memory plan, profiler, device readback) reads that record."""

from __future__ import annotations

import pytest

from conftest import MLPERF_MODELS, mlperf_model
from tinyflow.cli import main
from tinyflow.codegen import generate, plan_memory, prepare_layers
from tinyflow.codegen.ir import load_model
from tinyflow.codegen.ops.base import FEATURES, Prepared
from tinyflow.profiler.layers import layer_facts


@pytest.mark.parametrize("name", MLPERF_MODELS)
def test_every_layer_is_described_by_its_prepared_result(name):
    model = load_model(mlperf_model(name))
    generated = generate(model)
    manifest = generated.manifest
    for (layer, result), entry in zip(prepare_layers(model), manifest["layers"]):
        assert isinstance(result, Prepared)
        assert entry["variant"] == result.variant and entry["macs"] == result.macs
        assert set(entry["features"]) == set(FEATURES)
        assert set(entry["cost_terms"]) <= set(FEATURES)
        assert entry["table_bytes"] == sum(t["nbytes"] for t in entry["tables"])
        assert entry["features"]["table_bytes"] == entry["table_bytes"]
        # Every symbol the manifest names for the layer is in the generated C.
        code = generated.files["tinyflow_model.c"]
        assert f"static void {entry['function']}(void)" in code
        for table in entry["tables"]:
            assert f"{table['symbol']}[{table['elements']}]" in code
    # Each weight array is listed once, with the layers that read it.
    weights = generated.files["tinyflow_weights.c"]
    assert sum(w["nbytes"] for w in manifest["weights"]) == manifest["weight_bytes"]
    for w in manifest["weights"]:
        assert f"{w['name']}[" in weights and w["layers"]


@pytest.mark.parametrize("name", MLPERF_MODELS)
def test_profiler_facts_are_the_manifest(name):
    generated = generate(mlperf_model(name))
    for facts, entry in zip(layer_facts(generated), generated.manifest["layers"]):
        assert (facts.kernel, facts.macs, facts.features, facts.table_bytes,
                facts.scratch_bytes) == (entry["variant"], entry["macs"], entry["features"],
                                         entry["table_bytes"], entry["scratch_bytes"])


def test_scratch_is_planned_in_the_arena():
    """KWS's first layer (a 10x4 filter on one channel) gathers each window as an int8
    patch of 40 values, then widens two pixels' patches into an int16 column pair of 10
    blocks of four: 40 + 2 * 2 * 40 = 200 bytes of scratch that live in the arena, for
    that layer only, counted in its size."""
    model = load_model(mlperf_model("kws_ref_model"))
    plan = plan_memory(model)
    plan.check()
    scratch = plan.scratch[0]
    assert scratch.size == 200 and scratch.first_use == scratch.last_use == 0
    tensors = sum(model.tensors[t].nbytes for t in (model.operators[0].inputs[0],
                                                    model.operators[0].outputs[0]))
    assert plan.arena_bytes >= tensors + 200
    manifest = generate(model).manifest
    assert manifest["arena_bytes"] == plan.arena_bytes
    assert manifest["layers"][0]["scratch_offset"] == scratch.offset
    assert manifest["scratch_bytes"] == max(b.size for b in plan.scratch.values())


def test_a_single_row_fully_connected_layer_needs_no_scratch():
    """ad01's layers are fully connected on one row: the int8 input is read as it is,
    against weights packed four rows at a time, with the input offset in the bias."""
    manifest = generate(load_model(mlperf_model("ad01_int8"))).manifest
    assert all(layer["scratch_bytes"] == 0 for layer in manifest["layers"])
    packed = [w for w in manifest["weights"] if w["layout"] == "quads"]
    assert packed and all(w["name"].endswith("_quads") for w in packed)


def test_inspect_shows_scratch(capsys):
    assert main(["inspect", str(mlperf_model("kws_ref_model"))]) == 0
    out = capsys.readouterr().out
    # the largest: a depthwise layer computed in place holds back two rows (2 x 5 x 64 B)
    assert "scratch of layer 0 CONV_2D" in out and "scratch up to 640 bytes" in out
    assert "8 layers write their output over their input (1, 2, 3, 4, 5, 6, 7, 8)" in out


def test_reshape_aliases_because_its_op_says_so():
    model = load_model(mlperf_model("kws_ref_model"))
    results = {layer.opcode: result for layer, result in prepare_layers(model)}
    assert results["RESHAPE"].aliases_input
    assert not results["CONV_2D"].aliases_input


@pytest.mark.slow
def test_table_bytes_in_the_profile_equal_the_elf(tmp_path):
    """What the profiler counts for each layer's constant tables is what the compiler
    put in the image (FULLY_CONNECTED included), read from the ELF's symbols."""
    from tinyflow.firmware.build import build_firmware, read_symbol_sizes
    from tinyflow.profiler import profile

    for name in ("kws_ref_model", "ad01_int8"):
        build = build_firmware(mlperf_model(name), "qemu-cortex-m4")
        symbols = read_symbol_sizes(build.elf)
        manifest = generate(mlperf_model(name)).manifest
        report = profile(mlperf_model(name), board="qemu-cortex-m4")
        for layer, entry in zip(report.layers, manifest["layers"]):
            in_elf = sum(symbols[t["symbol"]] for t in entry["tables"])
            assert layer.facts.table_bytes == in_elf, (name, entry["index"], entry["op"])
        assert any(e["op"] == "FULLY_CONNECTED" and e["table_bytes"] for e in manifest["layers"])
