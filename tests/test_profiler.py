"""The static profile: MACs and bytes on known shapes, one memory plan, the cost model."""

from __future__ import annotations

import json

import numpy as np
import pytest

from conftest import MLPERF_MODELS, mlperf_model
from tinyflow.codegen.ir import Model, Operator, Quantization, Tensor
from tinyflow.codegen import generate
from tinyflow.profiler.costs import CostModel, KernelCost, fit_kernels, fit_nonnegative
from tinyflow.profiler.layers import layer_facts

Q = Quantization(scale=(0.05,), zero_point=(0,))


def _activation(index, shape):
    return Tensor(index, f"t{index}", tuple(shape), "int8", Q)


def _constant(index, shape, dtype="int8"):
    # ones, not zeros: all-zero weights would qualify for the 2:4 sparse kernels
    return Tensor(index, f"c{index}", tuple(shape), dtype, Q, np.ones(shape, dtype=dtype))


def one_op_model(opcode, inputs, output_shape, options=None) -> Model:
    """A model of one operator: inputs are ("act", shape) or ("const", shape[, dtype])."""
    tensors = []
    for kind, *spec in inputs:
        make = _activation if kind == "act" else _constant
        tensors.append(make(len(tensors), *spec))
    out = _activation(len(tensors), output_shape)
    tensors.append(out)
    op = Operator(0, opcode, tuple(range(len(inputs))), (out.index,), options or {})
    graph_inputs = tuple(t.index for t in tensors[:-1] if not t.is_constant)
    return Model("one_op", tensors, [op], graph_inputs, (out.index,))


def facts_of(model):
    return layer_facts(generate(model))[0]


def conv_options(stride=1, padding="VALID"):
    return dict(stride_h=stride, stride_w=stride, padding=padding, dilation_h_factor=1,
                dilation_w_factor=1, fused_activation_function="NONE")


def test_conv_macs_are_outputs_times_window_times_input_channels():
    # 12x10x8 input, 16 filters of 3x3x8, stride 2, VALID: 5x4 outputs.
    model = one_op_model("CONV_2D", [("act", (1, 12, 10, 8)), ("const", (16, 3, 3, 8)),
                                     ("const", (16,), "int32")], (1, 5, 4, 16),
                         conv_options(stride=2))
    facts = facts_of(model)
    assert facts.kernel == "conv_tap"                   # 8 channels: gathered per tap
    assert facts.macs == 5 * 4 * 16 * 3 * 3 * 8
    assert facts.features["valid_macs"] == facts.macs    # VALID: no tap falls in padding
    assert facts.features["patch"] == 5 * 4 * 3 * 3 * 8
    assert facts.weight_bytes == 16 * 3 * 3 * 8 + 16 * 4
    assert facts.input_bytes == 12 * 10 * 8 and facts.output_bytes == 5 * 4 * 16


def test_same_padding_taps_are_not_executed():
    # 5x5 input, 3x3 SAME, stride 1: per axis 2+3+3+3+2 = 13 valid taps of 15.
    model = one_op_model("CONV_2D", [("act", (1, 5, 5, 4)), ("const", (2, 3, 3, 4))],
                         (1, 5, 5, 2), conv_options(padding="SAME"))
    facts = facts_of(model)
    assert facts.macs == 5 * 5 * 2 * 9 * 4
    assert facts.features["taps"] == 13 * 13 * 2
    assert facts.features["valid_macs"] == 13 * 13 * 2 * 4
    # Only the centre 3x3 pixels have their whole window inside the input.
    assert facts.features["border_outputs"] == (25 - 9) * 2


def test_conv_1x1_variant():
    model = one_op_model("CONV_2D", [("act", (1, 6, 6, 32)), ("const", (64, 1, 1, 32))],
                         (1, 6, 6, 64), conv_options())
    facts = facts_of(model)
    assert facts.kernel == "conv_direct"
    assert facts.macs == 6 * 6 * 64 * 32


def test_depthwise_macs_with_multiplier():
    # 8 input channels, multiplier 3: 24 output channels, one input channel each.
    model = one_op_model("DEPTHWISE_CONV_2D", [("act", (1, 9, 9, 8)), ("const", (1, 3, 3, 24))],
                         (1, 7, 7, 24), dict(conv_options(), depth_multiplier=3))
    facts = facts_of(model)
    assert facts.kernel == "depthwise_multiplier"
    assert facts.macs == 7 * 7 * 24 * 3 * 3
    assert facts.features["table_bytes"] == 5 * 24


def test_fully_connected_macs():
    model = one_op_model("FULLY_CONNECTED", [("act", (2, 40)), ("const", (10, 40)),
                                             ("const", (10,), "int32")], (2, 10))
    facts = facts_of(model)
    assert facts.macs == 2 * 10 * 40
    assert facts.features["rows"] == 2


@pytest.mark.parametrize("opcode,kernel", [("AVERAGE_POOL_2D", "avg_pool"),
                                           ("MAX_POOL_2D", "max_pool")])
def test_pool_macs_one_per_window_tap(opcode, kernel):
    options = dict(padding="VALID", stride_h=2, stride_w=2, filter_height=3, filter_width=2,
                   fused_activation_function="NONE")
    model = one_op_model(opcode, [("act", (1, 9, 8, 5))], (1, 4, 4, 5), options)
    facts = facts_of(model)
    assert facts.kernel == kernel
    assert facts.macs == 4 * 4 * 5 * 3 * 2
    assert facts.weight_bytes == 0


def test_add_macs_one_per_output_element():
    model = one_op_model("ADD", [("act", (1, 4, 4, 6)), ("act", (1, 4, 4, 6))], (1, 4, 4, 6),
                         dict(fused_activation_function="NONE"))
    facts = facts_of(model)
    assert facts.macs == 4 * 4 * 6
    assert facts.input_bytes == 2 * 96 and facts.output_bytes == 96
    # Zero point 0 (not -128): both operands may be negative after their offset.
    assert facts.features["signed_operands"] == 2 * 96
    # Both inputs and the output are live while ADD runs.
    assert facts.arena_live_bytes == 3 * 96


@pytest.mark.parametrize("name", MLPERF_MODELS)
def test_profile_reads_the_generated_codes_plan(name):
    from tinyflow.codegen import generate
    from tinyflow.profiler import profile

    path = mlperf_model(name)
    result = profile(path)
    generated = generate(path)
    assert result.arena_bytes == generated.manifest["arena_bytes"]
    assert result.weight_bytes == generated.manifest["weight_bytes"]
    # Per-layer weights add up to what the generated code compiles in.
    assert sum(layer.facts.weight_bytes for layer in result.layers) == result.weight_bytes
    assert max(layer.facts.arena_live_bytes for layer in result.layers) <= result.arena_bytes


def test_mlperf_mac_totals():
    from tinyflow.profiler import profile

    # The MLPerf Tiny models' published MAC counts (see the TFLM baseline).
    expected = {"kws_ref_model": 2_656_768, "vww_96_int8": 7_489_664,
                "pretrainedResnet_quant": 12_501_632, "ad01_int8": 264_192}
    conv_like = ("CONV_2D", "DEPTHWISE_CONV_2D", "FULLY_CONNECTED")
    for name, macs in expected.items():
        result = profile(mlperf_model(name))
        assert sum(l.facts.macs for l in result.layers if l.facts.op in conv_like) == macs


def test_static_profile_of_vww_is_fast():
    import time

    from tinyflow.profiler import profile

    started = time.perf_counter()
    result = profile(mlperf_model("vww_96_int8"))
    str(result), result.to_json(), result.to_html()
    assert time.perf_counter() - started < 1.0


def test_fit_recovers_known_coefficients():
    rng = np.random.default_rng(1)
    x = np.column_stack([np.ones(30), rng.integers(1000, 100000, 30), rng.integers(10, 900, 30)])
    truth = np.array([150.0, 2.5, 40.0])
    coefficients = fit_nonnegative(x, x @ truth, 1 / (x @ truth))
    assert np.allclose(coefficients, truth, rtol=1e-6)


def test_fit_never_returns_negative_coefficients():
    x = np.array([[1, 10.0], [1, 20.0], [1, 30.0]])
    y = np.array([100.0, 90.0, 80.0])          # falls with the feature: slope would be < 0
    coefficients = fit_nonnegative(x, y, np.ones(3))
    assert (coefficients >= 0).all()
    assert coefficients[1] == 0 and coefficients[0] == pytest.approx(90.0)


def test_fit_kernels_skips_kernels_with_too_few_samples():
    model = one_op_model("MAX_POOL_2D", [("act", (1, 4, 4, 2))], (1, 2, 2, 2),
                         dict(padding="VALID", stride_h=2, stride_w=2, filter_height=2,
                              filter_width=2, fused_activation_function="NONE"))
    kernels, skipped = fit_kernels([(facts_of(model), 500.0)])
    assert kernels == {}
    assert skipped == ["kernel max_pool: 1 measured layer(s) cannot fit 4 coefficients "
                       "(calls, valid_macs, window_rows, outputs); add calibration layers "
                       "of this kind"]


def test_cost_model_round_trips_through_json(tmp_path):
    cost = CostModel(core="cortex-m4", unit="instructions",
                     kernels={"conv_direct": KernelCost({"calls": 100.0, "macs": 2.0}, 300.0, 5)},
                     invoke_cycles=12.0, runtime_flash_bytes=4000, runtime_ram_bytes=200,
                     provenance={"summary": "test"})
    path = cost.save(tmp_path / "c.json")
    again = CostModel.load(path)
    assert again.to_dict() == cost.to_dict()
    assert json.loads(path.read_text())["kernels"]["conv_direct"]["coefficients"]["macs"] == 2.0


def test_estimate_comes_from_the_cost_file(tmp_path):
    """Estimated time = the stored coefficients applied to the layer features."""
    from tinyflow.profiler import profile

    model = one_op_model("CONV_2D", [("act", (1, 6, 6, 32)), ("const", (64, 1, 1, 32))],
                         (1, 6, 6, 64), conv_options())
    cost = CostModel(core="cortex-m4", unit="instructions",
                     kernels={"conv_direct": KernelCost({"calls": 100.0, "macs": 2.0,
                                                         "outputs": 10.0})},
                     invoke_cycles=50.0)
    result = profile(model, costs=cost.save(tmp_path / "costs.json"))
    layer_estimate = 100 + 2 * 6 * 6 * 64 * 32 + 10 * 6 * 6 * 64
    assert result.layers[0].estimated == layer_estimate
    assert result.estimated_count == layer_estimate + 50
    assert result.latency_s == pytest.approx((layer_estimate + 50) / 25e6)


def test_profile_renders_everywhere():
    from tinyflow.profiler import profile

    result = profile(mlperf_model("kws_ref_model"), budget="ram=64KiB")
    text = str(result)
    assert "DEPTHWISE_CONV_2D" in text and "arena peak" in text
    html = result._repr_html_()
    assert html.count("<tr") >= len(result.layers)
    data = json.loads(result.to_json())
    assert len(data["layers"]) == 13
    assert data["totals"]["ram"]["arena"] == result.arena_bytes
    assert [c["name"] for c in data["checks"]] == ["ram", "ram", "flash"]
    page = result.to_html()
    assert page.startswith("<!DOCTYPE html>") and page.count("<svg") >= 2


@pytest.mark.parametrize("module", ["units", "budget", "profile"])
def test_docstring_examples(module):
    import doctest
    import importlib

    from conftest import MLPERF_DIR

    tested = importlib.import_module(f"tinyflow.profiler.{module}")
    failures, attempted = doctest.testmod(tested, extraglobs={"MLPERF": MLPERF_DIR})
    assert attempted > 0 and failures == 0


def test_board_time_units():
    from tinyflow.profiler.board import board_limits

    qemu = board_limits("qemu-cortex-m4")
    assert qemu.time_unit == "instructions" and qemu.seconds(25_000_000) == 1.0
    assert board_limits("nrf52840dk").seconds(64_000_000) == 1.0       # cycles at 64 MHz
    assert board_limits("native").seconds(2_000_000) == pytest.approx(2e-3)  # nanoseconds


def test_a_cost_file_with_unknown_features_is_refused(tmp_path):
    from tinyflow.errors import TinyflowError

    cost = CostModel("cortex-m4", "instructions", {"add": KernelCost({"flops": 3.0})})
    path = cost.save(tmp_path / "old.json")
    with pytest.raises(TinyflowError, match=r"kernel add uses unknown features \['flops'\]"):
        CostModel.load(path)
    path.write_text('{"format": 1, "core": "cortex-m4"}')
    with pytest.raises(TinyflowError, match="malformed cost model"):
        CostModel.load(path)


def test_plots_mark_the_arena_peak_and_draw_one_bar_per_estimate(tmp_path):
    from tinyflow.profiler import plots, profile

    result = profile(mlperf_model("vww_96_int8"))
    timeline = plots.memory_timeline(result)
    peaks = [i for i, bar in enumerate(timeline["bars"]) if bar["cls"] == "peak"]
    live = [layer.facts.arena_live_bytes for layer in result.layers]
    assert peaks == [live.index(max(live))]
    assert f"layer {peaks[0]}" in timeline["peak"]["text"]
    # Taller bars for more live bytes: bar heights are proportional to them.
    heights = [bar["h"] for bar in timeline["bars"]]
    assert heights.index(max(heights)) == peaks[0]
    bars = plots.latency_bars(result)
    assert len(bars["bars"]) == len(result.layers) and bars["series"] == ["estimated"]
    assert 'class="peak"' in result.to_html()
