"""Budgets: strict units, project files, pass/fail with margins, CLI exit codes."""

from __future__ import annotations

import json
import re

import pytest

from conftest import mlperf_model
from tinyflow.cli import main
from tinyflow.errors import BudgetError
from tinyflow.profiler.budget import Budget, load_project_budget, parse_budget
from tinyflow.profiler.costs import CostModel, KernelCost
from tinyflow.profiler.units import parse_duration, parse_size

KWS = str(mlperf_model("kws_ref_model"))


@pytest.fixture(autouse=True)
def empty_cache(tmp_path, monkeypatch):
    """No calibrated cost model or stored measurement from earlier runs: these tests
    check estimates from the cost files they write themselves."""
    monkeypatch.setenv("TINYFLOW_CACHE", str(tmp_path / "cache"))


@pytest.mark.parametrize("text,seconds", [("50ms", 0.05), ("1.5s", 1.5), ("250us", 250e-6),
                                          ("250 µs", 250e-6), (" 2 ms ", 0.002), (".5s", 0.5)])
def test_durations(text, seconds):
    assert parse_duration(text) == pytest.approx(seconds)


@pytest.mark.parametrize("text,nbytes", [("64KiB", 65536), ("64KB", 64000), ("1MiB", 1048576),
                                         ("2MB", 2_000_000), ("512B", 512), ("1.5KiB", 1536)])
def test_sizes(text, nbytes):
    assert parse_size(text) == nbytes


@pytest.mark.parametrize("text,message", [
    ("64", "expected a number followed by a unit"),
    ("64kib", "unknown unit 'kib' (did you mean KiB?)"),
    ("64 GB", "unknown unit 'GB'"),
    ("KiB", "expected a number"),
    ("-5KiB", "expected a number"),
    ("0.3B", "not a whole number of bytes"),
])
def test_bad_sizes_say_what_is_wrong(text, message):
    with pytest.raises(BudgetError, match=re.escape(message)):
        parse_size(text)


@pytest.mark.parametrize("text,message", [("50", "expected a number followed by a unit"),
                                          ("50 msec", "unknown unit 'msec'"),
                                          ("50MS", r"did you mean ms\?")])
def test_bad_durations_say_what_is_wrong(text, message):
    with pytest.raises(BudgetError, match=message):
        parse_duration(text)


def test_budget_text():
    budget = parse_budget("latency=50ms, ram=64KiB,flash=256KiB,accuracy=91%")
    assert budget == Budget(latency_s=0.05, ram_bytes=65536, flash_bytes=262144, accuracy=0.91)


@pytest.mark.parametrize("text,message", [
    ("speed=5ms", "unknown budget 'speed'; budgets are latency, ram, flash, accuracy"),
    ("ram=64KiB,ram=32KiB", "'ram' is given twice"),
    ("ram", "'ram' is not KEY=VALUE"),
    ("ram=64", "ram: size '64'"),
    ("accuracy=1.5", "outside 0..1"),
])
def test_bad_budget_text(text, message):
    with pytest.raises(BudgetError, match=message):
        parse_budget(text)


def test_project_files(tmp_path):
    toml = tmp_path / "tinyflow.toml"
    toml.write_text('[budget]\nlatency = "20ms"\nram = "48KiB"\n')
    assert load_project_budget(toml) == Budget(latency_s=0.02, ram_bytes=49152)
    yaml_file = tmp_path / "tinyflow.yaml"
    yaml_file.write_text("budget:\n  flash: 1MiB\n  accuracy: 0.8\n")
    assert load_project_budget(yaml_file) == Budget(flash_bytes=1048576, accuracy=0.8)
    # The command line overrides the file, constraint by constraint.
    merged = load_project_budget(toml).merged(parse_budget("ram=64KiB"))
    assert merged == Budget(latency_s=0.02, ram_bytes=65536)
    bad = tmp_path / "bad.toml"
    bad.write_text('[budget]\nram = "lots"\n')
    with pytest.raises(BudgetError, match=r"bad.toml \[budget\]: ram: size 'lots'"):
        load_project_budget(bad)


def _costs_file(tmp_path, per_mac: float) -> str:
    """A cost model in which every layer costs per_mac instructions per MAC."""
    kinds = ["conv_direct", "conv_tap", "conv_patch", "depthwise_3x3", "fully_connected",
             "avg_pool", "softmax", "reshape"]
    cost = CostModel(core="cortex-m4", unit="instructions",
                     kernels={k: KernelCost({"calls": 10.0, "macs": per_mac}) for k in kinds},
                     runtime_flash_bytes=3000, runtime_ram_bytes=100)
    return str(cost.save(tmp_path / f"costs-{per_mac}.json"))


def test_cli_budget_pass_exits_0(tmp_path, capsys):
    costs = _costs_file(tmp_path, per_mac=3.0)
    # KWS: 2.66 M MACs (a little fewer executed) x 3 = < 8 M instructions = < 320 ms at 25 MHz.
    code = main(["profile", KWS, "--costs", costs, "--budget", "latency=400ms,ram=64KiB"])
    out = capsys.readouterr().out
    assert code == 0, out
    assert "PASS latency (budget)" in out and "PASS ram (budget)" in out


def test_cli_budget_fail_exits_1_with_margin_and_dominant_layers(tmp_path, capsys):
    costs = _costs_file(tmp_path, per_mac=3.0)
    code = main(["profile", KWS, "--costs", costs, "--budget", "latency=100ms,ram=16KiB"])
    out = capsys.readouterr().out
    assert code == 1
    latency = next(line for line in out.splitlines() if line.startswith("FAIL latency"))
    assert "margin -" in latency
    # The 1x1 convolutions hold most MACs, so they dominate and get the hint.
    assert "dominated by: layer 2 CONV_2D" in out
    assert "FAIL ram (budget)" in out and "the arena peaks at layer" in out


def test_cli_json_has_everything(tmp_path, capsys):
    costs = _costs_file(tmp_path, per_mac=3.0)
    code = main(["profile", KWS, "--costs", costs, "--budget", "flash=20KiB", "--json"])
    data = json.loads(capsys.readouterr().out)
    assert code == 1 and data["passed"] is False
    flash = next(c for c in data["checks"] if c["name"] == "flash" and c["source"] == "budget")
    assert flash["passed"] is False and flash["margin"] < 0
    assert flash["value"] == data["totals"]["flash"]["bytes"]
    assert data["totals"]["flash"]["bytes"] == (data["totals"]["flash"]["weights"]
                                               + data["totals"]["flash"]["code"] + 3000)
    assert data["layers"][0]["estimated"] > 0


def test_cli_bad_budget_exits_2(capsys):
    code = main(["profile", KWS, "--budget", "ram=64kb"])
    err = capsys.readouterr().err
    assert code == 2
    assert "unknown unit 'kb' (did you mean KB?)" in err


def test_cli_unknown_latency_fails(tmp_path, capsys, monkeypatch):
    """With no cost model a latency budget cannot be proven, so it fails."""
    missing = tmp_path / "nothing.json"
    missing.write_text(json.dumps(CostModel("cortex-m4", "instructions", {}).to_dict()))
    code = main(["profile", KWS, "--costs", str(missing), "--budget", "latency=1s"])
    out = capsys.readouterr().out
    assert code == 1 and "FAIL latency (budget): unknown" in out


def test_cli_project_file_and_html(tmp_path, capsys, monkeypatch):
    costs = _costs_file(tmp_path, per_mac=3.0)
    (tmp_path / "tinyflow.toml").write_text('[budget]\nram = "64KiB"\naccuracy = "90%"\n')
    monkeypatch.chdir(tmp_path)
    html = tmp_path / "report.html"
    code = main(["profile", KWS, "--costs", costs, "--accuracy", "0.93", "--html", str(html)])
    out = capsys.readouterr().out
    assert code == 0, out
    assert "PASS accuracy (budget): 93.0%" in out
    page = html.read_text()
    assert "kws_ref_model" in page and page.count("<svg") == 3


def test_stale_calibration_loses_to_the_shipped_cost_model(tmp_path, monkeypatch):
    """A user calibration of older generated code must not override a shipped model
    calibrated on the code tinyflow generates now."""
    from tinyflow.profiler.costs import costs_dir, find_cost_model, shipped_cost_file
    from tinyflow.profiler.profile import profile

    monkeypatch.setenv("TINYFLOW_CACHE", str(tmp_path / "cache"))
    shipped = json.loads(shipped_cost_file("cortex-m4").read_text())
    stale = dict(shipped, provenance=dict(shipped["provenance"], sources="0000-0000"))
    costs_dir().mkdir(parents=True, exist_ok=True)
    (costs_dir() / "qemu-cortex-m4.json").write_text(json.dumps(stale))
    board = profile(mlperf_model("ad01_int8"), board="qemu-cortex-m4").board
    chosen = find_cost_model(board)
    assert chosen.provenance["sources"] == shipped["provenance"]["sources"]
    # A calibration of the current code is the user's own and wins.
    (costs_dir() / "qemu-cortex-m4.json").write_text(json.dumps(shipped))
    assert find_cost_model(board).path.endswith("qemu-cortex-m4.json")
    assert str(costs_dir()) in find_cost_model(board).path
