"""MLPerf Tiny's own host protocol against tinyflow firmware on qemu-cortex-m4.

tests/mlperf_runner.py does what the runner's DUT, serial and script classes do; here
it runs kws01, vww01, ic01 and ad01 in performance and accuracy modes on dataset-like
files (int8 MFCCs, uint8 RGB images, float32 spectrogram windows), and every result it
reads is compared with the host: the same dataset bytes turned into the model's input
the way the reference submissions do it, run by TFLM, then formatted as the device
formats them. The DUT settings that make this work are set from the models alone
(firmware/dut.py recognises the reference models).
"""

from __future__ import annotations

import re

import numpy as np
import pytest

from conftest import mlperf_model
from mlperf_runner import RunnerDUT, read_dataset, run_benchmark
from tinyflow.boards import get_board
from tinyflow.codegen.generator import generate
from tinyflow.codegen.ir import load_model
from tinyflow.errors import UsageError
from tinyflow.firmware.build import FirmwareBuilder
from tinyflow.firmware.dut import DutSettings, check_baud, dut_settings
from tinyflow.firmware.runners import get_runner
from tinyflow.reference import ReferenceInterpreter

BOARD = "qemu-cortex-m4"
BENCHMARKS = {            # model id -> (model file, its reference submission's settings)
    "kws01": ("kws_ref_model", ("none", "scores")),
    "vww01": ("vww_96_int8", ("uint8-minus-128", "scores")),
    "ic01": ("pretrainedResnet_quant", ("uint8-minus-128", "scores")),
    "ad01": ("ad01_int8", ("float32-quantize", "mse")),
}
AD_FRAME_FLOATS = 128           # one spectrogram frame; a window is 5 frames
AD_WINDOW_BYTES, AD_STRIDE_BYTES = 2560, 512


# --- the host's side of the comparison ---

def fixed3(value: np.float32) -> float:
    """A float32 printed as the firmware prints results (put_fixed3: thousandths
    rounded in float32), read back as the runner reads it."""
    value = np.float32(value)
    sign = "-" if value < 0 else ""
    thousandths = int(np.float32(np.float32(abs(value)) * np.float32(1000.0))
                      + np.float32(0.5))
    return float(f"{sign}{thousandths // 1000}.{thousandths % 1000:03d}")


def quantize_like_the_reference(values: np.ndarray, scale: float, zero_point: int):
    """float32 -> int8 as MLPerf Tiny's reference submission: round half away from zero
    of value / scale (a float32 division), plus the zero point, clamped."""
    quotient = (values.astype(np.float32) / np.float32(scale)).astype(np.float64)
    rounded = np.where(quotient >= 0, np.floor(quotient + 0.5), np.ceil(quotient - 0.5))
    return np.clip(rounded + zero_point, -128, 127).astype(np.int8)


def expected_results(model_path, settings: DutSettings, window: bytes) -> list[float]:
    """What the device should answer for one window of dataset bytes."""
    model = load_model(model_path)
    tensor = model.input_tensors[0]
    if settings.input_transform == "uint8-minus-128":
        x = (np.frombuffer(window, np.uint8).astype(np.int16) - 128).astype(np.int8)
    elif settings.input_transform == "float32-quantize":
        floats = np.frombuffer(window, "<f4")
        x = quantize_like_the_reference(floats, tensor.scale, tensor.zero_point)
    else:
        x = np.frombuffer(window, np.int8)
    output = ReferenceInterpreter(model_path).run([x.reshape((1, *tensor.shape))])[0][0]
    out = model.output_tensors[0]
    dequantized = [np.float32(int(q) - out.zero_point) * np.float32(out.scale)
                   for q in output.ravel()]
    if settings.result == "mse":
        total = np.float32(0.0)
        for value, target in zip(dequantized, floats):
            difference = np.float32(value - target)
            total = np.float32(total + difference * difference)
        return [fixed3(total / np.float32(len(dequantized)))]
    return [fixed3(value) for value in dequantized]


# --- dataset-like files, as the runner's datasets folders hold them ---

def make_dataset(folder, model_id: str, model, files: int, seed: int):
    """``files`` files and their y_labels.csv (ad01: windows and stride too)."""
    rng = np.random.default_rng(seed)
    tensor = model.input_tensors[0]
    folder.mkdir()
    rows = []
    for index in range(files):
        name = f"{model_id}_{index:03d}.bin"
        if model_id == "ad01":
            # 8 frames of 128 bins, float32 little-endian: 4 windows of 5 frames. Some
            # values lie outside the input's range (clamped), some on .5 steps.
            frames = rng.normal(-20.0, 25.0, size=(8, AD_FRAME_FLOATS)).astype("<f4")
            frames[0, :4] = [-500.0, 500.0, 2.5 * tensor.scale, -3.5 * tensor.scale]
            data = frames.tobytes()
            rows.append(f"{name},2,{index % 2},{AD_WINDOW_BYTES},{AD_STRIDE_BYTES}")
        elif model_id == "kws01":
            data = rng.integers(-128, 128, size=tensor.num_elements, dtype=np.int8).tobytes()
            rows.append(f"{name},12,{index % 12}")
        else:
            # An RGB image, uint8, row by row: a smooth gradient with noise.
            height, width, _ = tensor.shape[1:]
            ramp = np.add.outer(np.arange(height), np.arange(width))[..., None] * 255.0 / (
                height + width)
            noise = rng.normal(0.0, 40.0, size=(height, width, 3))
            data = np.clip(ramp + noise + rng.uniform(-60, 60), 0, 255).astype(np.uint8).tobytes()
            rows.append(f"{name},{model.output_tensors[0].num_elements},{index % 2}")
        (folder / name).write_bytes(data)
    (folder / "y_labels.csv").write_text("\n".join(rows) + "\n")
    return read_dataset(folder)


@pytest.fixture(scope="module", params=list(BENCHMARKS))
def qemu_dut(request):
    """One benchmark's firmware, built with the settings its model implies, running in
    QEMU; the runner's DUT on its serial port."""
    model_id = request.param
    path = mlperf_model(BENCHMARKS[model_id][0])
    board = get_board(BOARD)
    generated = generate(load_model(path))
    firmware = FirmwareBuilder(board).build(generated)
    runner = get_runner(board)
    port = runner.run(firmware)
    dut = RunnerDUT(port, firmware.dut["baud"])
    try:
        yield model_id, path, firmware, dut
    finally:
        dut.close()
        runner.close()


@pytest.mark.slow
def test_accuracy_mode_matches_the_host(qemu_dut, tmp_path):
    model_id, path, firmware, dut = qemu_dut
    transform, result = BENCHMARKS[model_id][1]
    settings = dut_settings(load_model(path))
    assert (settings.model_id, settings.input_transform, settings.result) == (
        model_id, transform, result)
    assert firmware.dut["model_id"] == model_id
    dataset = make_dataset(tmp_path / model_id, model_id, load_model(path), files=2, seed=11)
    results = run_benchmark(dut, dataset, "a")
    assert dut.name == "tinyflow" and dut.model == model_id
    per_file = 4 if model_id == "ad01" else 1              # ad01: 4 windows a file
    assert len(results) == 2 * per_file
    for entry, outcome in zip([e for e in dataset for _ in range(per_file)], results):
        window = entry.data[outcome["window"] * AD_STRIDE_BYTES:][:AD_WINDOW_BYTES] \
            if model_id == "ad01" else entry.data
        expected = expected_results(path, settings, window)
        assert outcome["results"] == expected, (entry.file, outcome["window"])
    if model_id == "ad01":
        assert all(len(r["results"]) == 1 and r["results"][0] > 0 for r in results)
    if transform == "uint8-minus-128":
        # The same bytes taken as int8 (no transform on the device) give other answers:
        # the comparison would see a missing transform.
        as_int8 = DutSettings()
        assert any(outcome["results"] != expected_results(path, as_int8, entry.data)
                   for entry, outcome in zip(dataset, results))


@pytest.mark.slow
def test_performance_mode_times_with_the_boards_clock(qemu_dut, tmp_path):
    model_id, path, firmware, dut = qemu_dut
    board = get_board(BOARD)
    settings = dut_settings(load_model(path))
    dataset = make_dataset(tmp_path / model_id, model_id, load_model(path), files=2, seed=5)
    results = run_benchmark(dut, dataset, "p")
    assert len(results) == 2                # ad01 too: only a file's first window
    for entry, outcome in zip(dataset, results):
        window = entry.data[:AD_WINDOW_BYTES] if model_id == "ad01" else entry.data
        assert outcome["results"] == expected_results(path, settings, window)
        # The N timed inferences (tinyflow's own line in the reply, which the runner
        # skips) at the board's declared clock are what the timestamps span: m-lap-us
        # uses the same clock model as measure and profile.
        timed = next(re.match(r"^m-tf-infer-(\d+)-total-(\d+)-", line)
                     for line in outcome["reply"] if line.startswith("m-tf-infer-"))
        count, units = int(timed.group(1)), int(timed.group(2))
        assert count == outcome["iterations"]
        modeled_us = units * 1e6 / board.clock_hz
        assert modeled_us - 2 <= outcome["elapsed_time"] <= modeled_us * 1.01 + 100, (
            outcome["elapsed_time"], modeled_us)
        assert outcome["throughput"] == pytest.approx(board.clock_hz * count / units,
                                                      rel=0.01)


# --- the protocol around the transforms, on the native board (this computer) ---

@pytest.mark.slow
def test_float_input_db_print_and_tf_load_on_native():
    """ad01 on the native firmware: `db` floats are quantized on the device and `db
    print` shows them as sent; after `tf-load` (raw int8, tinyflow's own path) the
    reconstruction error is against that input dequantized."""
    from tinyflow.firmware.device import open_device

    path = mlperf_model("ad01_int8")
    model = load_model(path)
    settings = dut_settings(model)
    tensor = model.input_tensors[0]
    floats = np.linspace(-60.0, 20.0, tensor.num_elements, dtype="<f4")
    with open_device(model, "native") as device:
        session = device.session
        session.load_hex(floats.tobytes())
        assert session.command("db print")[0] == "m-buffer-" + "-".join(
            f"{b:02x}" for b in floats.tobytes()[:8])
        reply = session.command("infer 1 0")
        assert reply[-1] == "m-results-[%.3f]" % expected_results(path, settings,
                                                                   floats.tobytes())[0]
        quantized = quantize_like_the_reference(floats, tensor.scale, tensor.zero_point)
        session.load(quantized.tobytes())                # tf-load: 640 raw bytes
        assert session.output_bytes() != b""             # (the last inference's)
        session.infer(1, 0)
        output = ReferenceInterpreter(path).run([quantized.reshape(1, *tensor.shape)])[0][0]
        assert session.output_bytes() == output.tobytes()
        dequantized = ((quantized.astype(np.int32) - tensor.zero_point).astype(np.float32)
                       * np.float32(tensor.scale))
        expected = expected_results(path, settings, dequantized.astype("<f4").tobytes())
        assert session.command("results") == ["m-results-[%.3f]" % expected[0]]


# --- the settings themselves (no device) ---

@pytest.mark.parametrize("model_id", list(BENCHMARKS))
def test_reference_models_are_recognised_and_can_be_overridden(model_id):
    model = load_model(mlperf_model(BENCHMARKS[model_id][0]))
    settings = dut_settings(model)
    assert (settings.model_id, (settings.input_transform, settings.result)) == (
        model_id, BENCHMARKS[model_id][1])
    assert dut_settings(model, model_id="mine", baud=921600).model_id == "mine"
    assert dut_settings(model, baud=921600).baud_for(get_board(BOARD)) == 921600


def test_other_models_keep_tinyflows_plain_settings():
    model = load_model(mlperf_model("kws_ref_model"))
    model.sha256 = "0" * 64                     # the same graph, not the reference file
    settings = dut_settings(model)
    assert settings == DutSettings()
    assert settings.baud_for(get_board("nrf52")) == 115200


@pytest.mark.parametrize("model_name, overrides, message", [
    ("kws_ref_model", dict(result="mse"), "result mse compares the output with the float "
                                           "input: it needs input transform float32-quantize"),
    ("kws_ref_model", dict(input_transform="float32-quantize", result="mse"),
     r"result mse needs one int8 output the size of the input; the model has int8 \[1, 12\]"),
    ("kws_ref_model", dict(model_id="kws]01"), "model id 'kws]01': 1 to 40 letters"),
    ("kws_ref_model", dict(input_transform="int16"), "input transform 'int16': use one of"),
])
def test_impossible_settings_are_one_clear_error(model_name, overrides, message):
    with pytest.raises(UsageError, match=r"^kws_ref_model: DUT settings: .*" + message):
        dut_settings(load_model(mlperf_model(model_name)), **overrides)


@pytest.mark.parametrize("board_name, baud, fits", [
    ("qemu-cortex-m4", 921600, True), ("qemu-cortex-m4", 2_000_000, False),
    ("nrf52840dk", 921600, True), ("nrf52840dk", 600, False),
    ("nucleo-l4r5zi", 921600, True), ("nucleo-l4r5zi", 9600, False),
])
def test_baud_must_suit_the_boards_uart(board_name, baud, fits):
    board = get_board(board_name)
    if fits:
        check_baud(DutSettings(baud=baud), board)
    else:
        with pytest.raises(UsageError, match=f"baud {baud:,} is out of range for {board_name}"):
            check_baud(DutSettings(baud=baud), board)


def test_cli_build_takes_the_settings(tmp_path, capsys):
    import json

    from tinyflow.cli import main

    out = tmp_path / "fw"
    assert main(["build", str(mlperf_model("ad01_int8")), "--board", "nrf52", "-o", str(out),
                 "--model-id", "ad02", "--baud", "921600"]) == 0
    record = json.loads((out / "build.json").read_text())
    assert record["dut"] == dict(model_id="ad02", input_transform="float32-quantize",
                                 result="mse", baud=921600)
    assert main(["build", str(mlperf_model("kws_ref_model")), "--result", "mse"]) == 2
    assert main(["build", str(mlperf_model("kws_ref_model")), "--board", "nucleo-l4r5zi",
                 "--baud", "9600"]) == 2
    assert "baud 9,600 is out of range for nucleo-l4r5zi" in capsys.readouterr().err
