"""Children die with tinyflow: a `tinyflow measure` stopped by a signal leaves no QEMU
running (SIGTERM and SIGHUP unwind like Ctrl-C; even SIGKILL takes QEMU along)."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from conftest import mlperf_model


def children(parent: int) -> dict[int, str]:
    """pid -> command line of the running processes whose parent is ``parent``."""
    found = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            # "pid (comm) state ppid ...": comm may hold spaces, so split after its ')'.
            state, ppid = stat.read_text().rsplit(")", 1)[1].split()[:2]
            cmdline = (stat.parent / "cmdline").read_bytes().replace(b"\0", b" ").decode()
        except (OSError, ValueError):
            continue                # the process ended while we looked
        if int(ppid) == parent and state != "Z":
            found[int(stat.parent.name)] = cmdline
    return found


def running(pid: int) -> bool:
    """Whether ``pid`` still runs (a zombie waiting for its reaper does not)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def wait_for(condition, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = condition()
        if result:
            return result
        time.sleep(0.1)
    pytest.fail(f"{what} within {timeout} s")


@pytest.mark.slow
@pytest.mark.skipif(sys.platform != "linux", reason="reads /proc")
@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGHUP, signal.SIGKILL])
def test_a_stopped_measure_leaves_no_qemu(signum):
    tinyflow = subprocess.Popen(
        [sys.executable, "-m", "tinyflow", "measure", str(mlperf_model("ad01_int8")),
         "--board", "qemu-cortex-m4", "-n", "200"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        qemu = wait_for(lambda: [pid for pid, cmd in children(tinyflow.pid).items()
                                 if "qemu-system-arm" in cmd],
                        120, "no QEMU started")[0]
        time.sleep(1.0)             # let the measurement start talking to the device
        tinyflow.send_signal(signum)
        _, err = tinyflow.communicate(timeout=10)
    finally:
        if tinyflow.poll() is None:
            tinyflow.kill()
            tinyflow.wait()
    if signum == signal.SIGKILL:
        assert tinyflow.returncode == -signal.SIGKILL
    else:
        assert tinyflow.returncode == 128 + signum, err
        assert "Traceback" not in err, err
        assert f"tinyflow measure: stopped by {signal.Signals(signum).name}" in err
    wait_for(lambda: not running(qemu), 5, f"QEMU (pid {qemu}) still runs")
