"""Device faults from untrusted or broken hosts: a raw load that stops short times out
on the device (instead of hanging it until a reset), a huge `infer` stops when a byte
arrives, and a Ctrl-C on the host leaves the board at its prompt. The session keeps
working after each. Mostly on the native board (fast); once on QEMU."""

import _thread
import re
import threading
import time

import pytest

from conftest import mlperf_model
from tinyflow.errors import DeviceError
from tinyflow.firmware.device import open_device
from tinyflow.firmware.measure import random_inputs

FOREVER = 4294967295          # the largest count `infer` takes


@pytest.fixture(scope="module")
def native_device():
    with open_device(mlperf_model("ad01_int8"), "native") as device:
        yield device


def _input(device) -> bytes:
    return random_inputs(device.generated.model, 1, seed=1)[0][0].tobytes()


def _still_in_step(session) -> None:
    assert session.command("name") == ["m-name-dut-[tinyflow]"]
    assert any(line.startswith("m-tf-board-") for line in session.command("tf-info"))


def _short_load_times_out(device) -> None:
    session = device.session
    data = _input(device)
    session.load(data)
    half = len(data) // 2
    started = time.monotonic()
    with pytest.raises(DeviceError,
                       match=f"tf-load timeout after {half} of {len(data)} bytes"):
        session.command(f"tf-load {len(data)}", payload=data[:half], timeout=30)
    assert time.monotonic() - started < 10
    _still_in_step(session)
    # What arrived was discarded: the earlier input is gone too, not half-overwritten.
    with pytest.raises(DeviceError, match="no input loaded"):
        session.command("infer 1 0")
    session.load(data)                              # and a full load works again
    assert session.infer(1, 0).count == 1


def _a_byte_stops_infer(device, warmups: bool) -> None:
    session = device.session
    session.load(_input(device))
    # A line end (as a terminal or a runner may send after "%") does not stop it;
    # another byte does.
    stopper = threading.Timer(0.5, lambda: session.serial.write(b"\r\n\n%"))
    stopper.start()
    try:
        command = f"infer 1 {FOREVER}" if warmups else f"infer {FOREVER} 0"
        what = "warmups" if warmups else "inferences"
        with pytest.raises(DeviceError,
                           match=f"infer interrupted after \\d+ of {FOREVER} {what}"):
            session.command(command, timeout=30)
    finally:
        stopper.join()
    _still_in_step(session)
    assert session.infer(2, 1).count == 2


def test_short_raw_load_times_out_and_the_session_goes_on(native_device):
    _short_load_times_out(native_device)


def test_a_byte_stops_a_huge_infer(native_device):
    _a_byte_stops_infer(native_device, warmups=False)


def test_a_byte_stops_huge_warmups(native_device):
    _a_byte_stops_infer(native_device, warmups=True)


def test_ctrl_c_on_the_host_stops_the_device(native_device):
    """A KeyboardInterrupt (Ctrl-C; workflow/cli.py turns SIGTERM into one) during a
    long command sends the device a line end: it stops, and is at its prompt."""
    session = native_device.session
    session.load(_input(native_device))
    interrupter = threading.Timer(0.5, _thread.interrupt_main)
    interrupter.start()
    try:
        with pytest.raises(KeyboardInterrupt):
            session.infer(FOREVER, 0, timeout=30)
    finally:
        interrupter.join()
    started = time.monotonic()
    _still_in_step(session)             # would time out if the loop were still running
    assert time.monotonic() - started < 5


def test_a_reply_that_never_came_resyncs_the_next_command(native_device):
    """The host gave up waiting (its timeout, shorter than the device's 1 s); the late
    reply must not be taken for the next command's."""
    session = native_device.session
    data = _input(native_device)
    with pytest.raises(DeviceError, match="stopped answering"):
        session.command(f"tf-load {len(data)}", payload=data[:10], timeout=0.2)
    _still_in_step(session)


@pytest.mark.slow
def test_faults_on_qemu():
    with open_device(mlperf_model("kws_ref_model"), "qemu-cortex-m4") as device:
        _short_load_times_out(device)
        _a_byte_stops_infer(device, warmups=False)
        info = device.session.command("tf-info")
        assert any(re.match(r"^m-tf-unit-\[instructions\]$", line) for line in info)
