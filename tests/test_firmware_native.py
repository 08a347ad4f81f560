"""The native runner: the same firmware (protocol + generated model) built for this
computer, its UART a pseudo-terminal; no emulator involved."""

import threading

import pytest

from conftest import mlperf_model
from tinyflow.errors import DeviceError
from tinyflow.firmware.device import open_device
from tinyflow.firmware.measure import measure, random_inputs


def test_native_firmware_is_bit_exact_and_reports_nanoseconds():
    result = measure(mlperf_model("kws_ref_model"), "native", count=4, seed=9)
    assert result.bit_exact and result.unit == "nanoseconds"
    assert result.runs_on == "native" and len(result.layers) == 13
    assert "not measured" in str(result)      # no painted stack on a host process


def test_native_protocol_and_dead_process():
    with open_device(mlperf_model("ad01_int8"), "native") as device:
        session = device.session
        assert session.command("name") == ["m-name-dut-[tinyflow]"]
        with pytest.raises(DeviceError, match="needs an Arm core"):
            session.command("tf-calibrate 10")
        with pytest.raises(DeviceError, match="Unknown command: nope"):
            session.command("nope")
        session.load(random_inputs(device.generated.model, 1, seed=0)[0][0].tobytes())
        killer = threading.Timer(0.3, device.runner.process.kill)
        killer.start()
        with pytest.raises(DeviceError):
            session.infer(1_000_000, 0, timeout=20)
        killer.join()
