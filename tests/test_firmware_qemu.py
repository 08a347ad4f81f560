"""End to end on emulated boards: real cross-compiler, real QEMU, real serial.

Every MLPerf Tiny model that fits runs on qemu-cortex-m4/m3/m7 for 10 inputs with
every output byte compared to TFLM; the protocol's error paths; a device that dies
mid-run; resynchronisation after garbage on the line.
"""

import re
import threading
import time

import numpy as np
import pytest

from conftest import MLPERF_MODELS, mlperf_model
from tinyflow.errors import DeviceError
from tinyflow.firmware.device import open_device
from tinyflow.firmware.divergence import first_divergent_layer
from tinyflow.firmware.measure import measure, random_inputs
from tinyflow.firmware.session import DeviceSession
from tinyflow.codegen.ir import load_model

QEMU_BOARDS = ["qemu-cortex-m4", "qemu-cortex-m3", "qemu-cortex-m7"]


@pytest.mark.slow
@pytest.mark.parametrize("board", QEMU_BOARDS)
@pytest.mark.parametrize("name", MLPERF_MODELS)
def test_mlperf_model_on_qemu_is_bit_exact_and_timed(name, board):
    result = measure(mlperf_model(name), board, count=10, seed=7)
    assert result.bit_exact, str(result)
    assert result.inferences == 10 and result.unit == "instructions"
    assert result.runs_on == board
    # per-layer counts add up to the whole inference (same input) within 5%
    last = result.latencies[-1]
    assert abs(result.layers_sum - last) <= 0.05 * last, (result.layers_sum, last)
    assert abs(result.layers_total - last) <= 0.05 * last
    assert all(layer.count > 0 for layer in result.layers if layer.op != "RESHAPE")
    # memory: the stack was used but stayed inside its region; the arena is the plan's
    assert 0 < result.stack_used_bytes < result.stack_size_bytes
    assert result.arena_bytes == result.breakdown["arena"]
    assert result.flash_bytes >= result.breakdown["weights"] > 0
    text = str(result)
    assert "bit-exact with TFLM (10 inputs)" in text and "instructions" in text
    assert "cycles" not in text          # QEMU counts instructions, never cycles
    assert '"unit": "instructions"' in result.to_json()
    assert "<table>" in result._repr_html_()


@pytest.mark.slow
@pytest.mark.parametrize("name", ["kws_ref_model", "ad01_int8"])
def test_cortex_m55_on_mps3_an547(name):
    """The M55 (MVE) board: SysTick at 32 MHz there, checked by tf-calibrate below."""
    result = measure(mlperf_model(name), "qemu-cortex-m55", count=10, seed=4)
    assert result.bit_exact and result.unit == "instructions"
    last = result.latencies[-1]
    assert abs(result.layers_sum - last) <= 0.05 * last
    with open_device(mlperf_model(name), "qemu-cortex-m55") as device:
        reply = device.session.command("tf-calibrate 1000000")[0]
        assert 2_000_000 <= int(reply.split("-")[3]) <= 2_000_100, reply


@pytest.fixture(scope="module")
def kws_device():
    """One QEMU running KWS for the protocol tests; stopped when the module ends."""
    with open_device(mlperf_model("kws_ref_model"), "qemu-cortex-m4") as device:
        yield device


def test_mlperf_runner_reply_formats(kws_device):
    session = kws_device.session
    # The regular expressions MLPerf Tiny's runner (benchmark/runner) applies.
    assert re.match(r"^m-(name)-dut-\[([^]]+)]$", session.command("name")[0])
    profile = session.command("profile")
    assert all(re.match(r"^m-(model|profile)-\[([^]]+)]$", line) for line in profile)
    model = load_model(mlperf_model("kws_ref_model"))
    sample = random_inputs(model, 1, seed=3)[0][0]
    reply = session.command(f"db load {sample.nbytes}")
    assert reply == [f"m-[Expecting {sample.nbytes} bytes]"]
    hex_text = sample.tobytes().hex()
    for start in range(0, len(hex_text), 62):            # 31 bytes per command, as the runner
        reply = session.command("db " + hex_text[start:start + 62])
    assert reply == ["m-load-done"]
    buffer = session.command("db print")
    assert buffer[0] == "m-buffer-" + "-".join(f"{b:02x}" for b in sample.tobytes()[:8])
    lines = session.command("infer 2 1", timeout=60)
    assert lines[:4] == ["m-warmup-start-1", "m-warmup-done", "m-infer-start-2",
                         lines[3]] and re.match(r"^m-lap-us-\d+$", lines[3])
    laps = [int(line[len("m-lap-us-"):]) for line in lines if line.startswith("m-lap-us-")]
    assert len(laps) == 2 and laps[1] > laps[0]
    assert "m-infer-done" in lines
    results = [re.match(r"^m-results-\[([^]]+)\]$", line) for line in lines]
    values = [float(v) for v in next(m for m in results if m).group(1).split(",")]
    raw = np.frombuffer(session.output_bytes(), dtype=np.int8)
    out = model.output_tensors[0]
    expected = out.scale * (raw.astype(np.float64) - out.zero_point)
    assert np.allclose(values, expected, atol=0.0015)


@pytest.mark.parametrize("command, error", [
    ("bogus", "Unknown command: bogus"),
    ("db", "requires a subcommand"),
    ("db load 0", "must be >0|>0"),
    ("db load 491", "db load 491 exceeds the input buffer of 490 bytes"),
    ("infer 0", "usage: infer N"),
    ("tf-tensor 13", "0 <= L < 13"),
    ("tf-load 5", "usage: tf-load N with N = 490"),
    ("x" * 600, "command longer than 512 characters"),
])
def test_protocol_errors(kws_device, command, error):
    with pytest.raises(DeviceError, match=error):
        kws_device.session.command(command)
    assert kws_device.session.command("name") == ["m-name-dut-[tinyflow]"]   # still in step


def test_infer_before_load_and_db_overflow(kws_device):
    session = kws_device.session
    session.command("db load 4")          # a partial buffer is not an input
    with pytest.raises(DeviceError, match="no input loaded: send 'db load 490'"):
        session.command("infer 1 0")
    with pytest.raises(DeviceError, match="no input loaded"):
        session.command("tf-layers")
    with pytest.raises(DeviceError, match="db overflow: more than the 4 bytes"):
        session.command("db 0102030405")
    with pytest.raises(DeviceError, match="Invalid hex digit"):
        session.command("db zz")
    with pytest.raises(DeviceError, match="Insufficent number of hex digits"):
        session.command("db 012")


def test_raw_load_is_checksummed(kws_device):
    data = bytes(range(245)) * 2
    reply = kws_device.session.command("tf-load 490", payload=data)
    assert reply == [f"m-tf-load-done-{sum(data)}"]
    assert kws_device.session.command("db print")[1] == "m-buffer-08-09-0a-0b-0c-0d-0e-0f"


def test_resync_after_garbage_on_the_line(kws_device):
    session = kws_device.session
    session.serial.write(b"\x00\xffgarbage without terminator")
    with pytest.raises(DeviceError, match="Unknown command"):
        session.command("name")           # the device saw "...garbage...name"
    session.serial.write(b"more noise")
    session.resync()
    assert session.command("name") == ["m-name-dut-[tinyflow]"]


def test_counter_scale_self_check(kws_device):
    """A loop of 2 N instructions reads as 2 N instructions (within the overhead)."""
    reply = kws_device.session.command("tf-calibrate 1000000")
    count = int(re.match(r"^m-tf-calibrate-(\d+)-instructions$", reply[0]).group(1))
    assert 2_000_000 <= count <= 2_000_100


def test_divergence_names_the_first_differing_layer(kws_device, tmp_path):
    """Against a reference whose 5th layer (CONV_2D #4) has one weight changed, the device
    agrees up to layer 3 and the locator names layer 4."""
    path = mlperf_model("kws_ref_model")
    model = load_model(path)
    op = model.operators[4]
    assert op.opcode == "CONV_2D"
    weights = model.tensors[op.inputs[1]].data.tobytes()
    data = bytearray(path.read_bytes())
    at = bytes(data).find(weights)
    assert at > 0 and bytes(data).find(weights, at + 1) < 0
    data[at] = (data[at] + 64) % 256
    inputs = random_inputs(model, 1, seed=11)
    found = first_divergent_layer(kws_device, bytes(data), inputs, 0)
    assert found is not None and found["layer"] == 4 and found["op"] == "CONV_2D", found
    assert first_divergent_layer(kws_device, path.read_bytes(), inputs, 0) is None


def test_device_killed_mid_run_is_a_device_error():
    with open_device(mlperf_model("kws_ref_model"), "qemu-cortex-m4") as device:
        model = device.generated.model
        device.session.load(random_inputs(model, 1, seed=1)[0][0].tobytes())
        killer = threading.Timer(0.5, device.runner.process.kill)
        killer.start()
        started = time.monotonic()
        with pytest.raises(DeviceError, match="stopped answering|failed"):
            device.session.infer(200, 0)       # ~10 s of work: QEMU dies in the middle
        assert time.monotonic() - started < 15
        killer.join()


def test_missing_port_is_a_device_error():
    with pytest.raises(DeviceError, match="cannot open serial port /dev/does-not-exist"):
        DeviceSession("/dev/does-not-exist")


def test_silent_port_times_out_with_a_device_error():
    import os
    import pty

    master, slave = pty.openpty()          # a port with nobody behind it
    try:
        session = DeviceSession(os.ttyname(slave), timeout=0.5)
        started = time.monotonic()
        with pytest.raises(DeviceError, match="stopped answering"):
            session.command("name")
        assert time.monotonic() - started < 2
        session.close()
    finally:
        os.close(master)
        os.close(slave)


@pytest.mark.slow
def test_cli_infer_round_trip(tmp_path):
    from tinyflow.cli import main
    from tinyflow.reference import ReferenceInterpreter

    path = mlperf_model("ad01_int8")
    model = load_model(path)
    inputs = random_inputs(model, 3, seed=5)[0]
    np.save(tmp_path / "x.npy", inputs)
    assert main(["infer", str(path), "--board", "qemu-cortex-m4", "--inputs",
                 str(tmp_path / "x.npy"), "--outputs", str(tmp_path / "y.npy")]) == 0
    ours = np.load(tmp_path / "y.npy")
    reference = ReferenceInterpreter(path).run([inputs])[0]
    assert ours.dtype == reference.dtype and ours.tobytes() == reference.tobytes()


@pytest.mark.slow
def test_cli_measure_json(tmp_path, capsys):
    import json

    from tinyflow.cli import main

    out = tmp_path / "m.json"
    assert main(["measure", str(mlperf_model("kws_ref_model")), "-n", "2", "--json",
                 str(out)]) == 0
    captured = capsys.readouterr()
    assert "bit-exact with TFLM (2 inputs)" in captured.out
    assert "inference 2/2" in captured.err           # progress on stderr
    data = json.loads(out.read_text())
    assert data["board"] == "qemu-cortex-m4" and data["unit"] == "instructions"
    assert data["bit_exact"] and len(data["layers"]) == 13


def test_real_board_runs_emulated_with_its_limits():
    """--emulate: the nrf52840dk's firmware (its 1 MB / 256 KB limits) on QEMU's M4."""
    result = measure(mlperf_model("kws_ref_model"), "nrf52", count=2, emulate=True)
    assert result.bit_exact
    assert result.board == "nrf52840dk" and result.runs_on == "nrf52840dk@qemu-cortex-m4"
    assert (result.flash_limit, result.ram_limit) == (1 << 20, 256 << 10)
    assert result.unit == "instructions" and result.clock_hz == 64_000_000
    assert "emulated on nrf52840dk@qemu-cortex-m4" in str(result)


def test_real_board_without_port_says_what_to_do():
    with pytest.raises(DeviceError, match=r"real board: flash it \(`tinyflow flash.*--port.*--emulate"):
        measure(mlperf_model("kws_ref_model"), "nucleo-l4r5zi", count=1)


def test_socket_port(tmp_path):
    """A device behind a TCP socket (QEMU's -serial tcp, as with a network serial
    bridge): `measure --port socket://host:port`."""
    import socket
    import subprocess

    from tinyflow.firmware.build import build_firmware

    firmware = build_firmware(mlperf_model("ad01_int8"), "qemu-cortex-m4")
    with socket.socket() as probe:            # a free local port
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    qemu = subprocess.Popen(
        ["qemu-system-arm", "-M", "mps2-an386", "-nographic", "-icount", "shift=3",
         "-kernel", str(firmware.elf), "-serial", f"tcp:127.0.0.1:{port},server=on,wait=off",
         "-monitor", "none"], stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:    # until QEMU listens
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                time.sleep(0.05)
        result = measure(mlperf_model("ad01_int8"), "qemu-cortex-m4", count=2,
                         port=f"socket://127.0.0.1:{port}")
        assert result.bit_exact and result.unit == "instructions"
    finally:
        qemu.kill()
        qemu.wait()


@pytest.mark.slow
def test_cli_measure_with_given_inputs(tmp_path, capsys):
    from tinyflow.cli import main

    path = mlperf_model("ad01_int8")
    np.save(tmp_path / "x.npy", random_inputs(load_model(path), 3, seed=8)[0])
    assert main(["measure", str(path), "--board", "qemu-m3", "--inputs",
                 str(tmp_path / "x.npy")]) == 0
    out = capsys.readouterr().out
    assert "board                   qemu-cortex-m3" in out
    assert "bit-exact with TFLM (3 inputs)" in out


def test_cli_build_reports_sizes(tmp_path, capsys):
    from tinyflow.cli import main

    assert main(["build", str(mlperf_model("ad01_int8")), "--board", "nrf52", "-o",
                 str(tmp_path / "fw")]) == 0
    out = capsys.readouterr().out
    assert "ad01_int8 for nrf52840dk: flash " in out and "of 1,048,576 bytes" in out
    from tinyflow.codegen import generate
    # the weights as compiled: packed into the kernels' layout (biases folded into tables)
    assert f"weights {generate(mlperf_model('ad01_int8')).weight_bytes:,}" in out
    assert (tmp_path / "fw" / "firmware.hex").exists()


def test_device_running_another_model_is_refused():
    from tinyflow.boards import get_board
    from tinyflow.firmware.build import build_firmware
    from tinyflow.firmware.runners import get_runner

    board = get_board("qemu-cortex-m4")
    runner = get_runner(board)
    try:
        port = runner.run(build_firmware(mlperf_model("ad01_int8"), board))
        with pytest.raises(DeviceError, match="runs model 'ad01_int8' .*not 'kws_ref_model'"):
            measure(mlperf_model("kws_ref_model"), board.name, port=port, count=1)
    finally:
        runner.close()
    assert not runner.alive


def test_cli_measure_with_a_sized_stack(capsys):
    """`measure --stack`: the firmware runs with the smaller reserve, bit-exact, and the
    report counts it in RAM."""
    from tinyflow.cli import main

    assert main(["measure", str(mlperf_model("kws_ref_model")), "-n", "2",
                 "--stack", "1024"]) == 0
    out = capsys.readouterr().out
    assert "bit-exact with TFLM (2 inputs)" in out
    assert "of 1,024 bytes" in out and "stack 1,024" in out
