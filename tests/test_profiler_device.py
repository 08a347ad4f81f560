"""The profiler against the device (QEMU): calibration, held-out accuracy, flash, --measure.

Calibration fits the cost model on the calibration models only; the MLPerf Tiny
models are the held-out test of the fit.
"""

from __future__ import annotations

import json
import shutil

import pytest

from conftest import MLPERF_MODELS, mlperf_model

BOARD = "qemu-cortex-m4"

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(shutil.which("qemu-system-arm") is None
                       or shutil.which("arm-none-eabi-gcc") is None,
                       reason="needs qemu-system-arm and arm-none-eabi-gcc (scripts/setup)"),
]


@pytest.fixture(scope="module")
def calibrated(tmp_path_factory):
    """A cost model calibrated on the device now, written outside the user's cache."""
    pytest.importorskip("tensorflow")
    from tinyflow.profiler.calibrate import calibrate

    path = tmp_path_factory.mktemp("costs") / f"{BOARD}.json"
    cost, written, report = calibrate(BOARD, output=path, progress=lambda message: None)
    assert written == path and "conv_direct" in report
    return cost


@pytest.fixture(scope="module")
def measured():
    from tinyflow.profiler.device import measure_model

    return {name: measure_model(mlperf_model(name), BOARD) for name in MLPERF_MODELS}


def test_calibration_fits_every_kernel_it_saw(calibrated):
    assert calibrated.provenance["board"] == BOARD
    assert "kws_ref_model" not in calibrated.provenance["models"]
    for name in ("conv_direct", "conv_tap", "conv_patch", "depthwise_3x3", "fully_connected",
                 "avg_pool", "add", "softmax"):
        kernel = calibrated.kernels[name]
        assert kernel.samples >= len(kernel.coefficients)
        assert all(value >= 0 for value in kernel.coefficients.values())


@pytest.mark.parametrize("name", MLPERF_MODELS)
def test_calibrated_latency_within_10_percent_on_held_out_models(name, calibrated, measured):
    from tinyflow.profiler import profile

    result = profile(mlperf_model(name), board=BOARD, costs=calibrated,
                     measurement=measured[name])
    error = result.estimated_count / result.measured_count - 1
    assert abs(error) < 0.10, f"{name}: estimate {error:+.1%} off the device"
    assert len(result.layers) == len(measured[name].layer_counts)


@pytest.mark.parametrize("name", MLPERF_MODELS)
def test_flash_estimate_within_10_percent_of_the_built_elf(name, calibrated):
    from tinyflow.firmware.build import build_firmware
    from tinyflow.profiler import profile

    elf = build_firmware(mlperf_model(name), BOARD)
    result = profile(mlperf_model(name), board=BOARD, costs=calibrated)
    error = result.estimated_flash_bytes / elf.flash_bytes - 1
    assert abs(error) < 0.10, f"{name}: flash estimate {error:+.1%} off the ELF"
    ram_error = result.estimated_ram_bytes / elf.ram_bytes - 1
    assert abs(ram_error) < 0.10, f"{name}: RAM estimate {ram_error:+.1%} off the ELF"


def test_profile_measure_shows_the_device_beside_the_estimate(calibrated, tmp_path, capsys):
    from tinyflow.cli import main

    costs = calibrated.save(tmp_path / "costs.json")
    code = main(["profile", str(mlperf_model("kws_ref_model")), "--board", BOARD,
                 "--costs", str(costs), "--measure", "--budget", "latency=2s", "--json"])
    data = json.loads(capsys.readouterr().out)
    assert code == 0 and data["passed"]
    latency = next(c for c in data["checks"] if c["name"] == "latency")
    assert latency["basis"] == "measured"
    assert latency["value"] == pytest.approx(data["totals"]["latency"]["measured_ms"] / 1e3)
    assert all(layer["measured"] > 0 for layer in data["layers"] if layer["op"] != "RESHAPE")
    assert data["totals"]["flash"]["measured_bytes"] == data["totals"]["flash"]["bytes"]


def test_a_stored_measurement_shows_without_running_the_device(measured, tmp_path, capsys):
    """measure_model stores what it measured; a later profile of the same model picks it up."""
    from tinyflow.cli import main
    from tinyflow.profiler.device import stored_measurement

    stored = stored_measurement(mlperf_model("ad01_int8"), BOARD)
    assert stored == measured["ad01_int8"]
    code = main(["profile", str(mlperf_model("ad01_int8")), "--board", BOARD, "--json"])
    data = json.loads(capsys.readouterr().out)
    assert code == 0
    assert data["totals"]["latency"]["measured"] == stored.total_count
    assert [layer["measured"] for layer in data["layers"]] == stored.layer_counts
