"""The host side of MLPerf Tiny's runner (mlcommons/tiny, benchmark/runner), as far
as a test needs it, written again from how the runner behaves rather than imported:
the runner is a folder of scripts, not a package tinyflow could depend on, its
source is not vendored here, and its script module replaces sys.stdout and sys.stderr
and creates a sessions/ folder when imported. What it does:

- serial (``SerialDevice``): a command is its text then ``%``; the reply is every line
  (split at ``\\n``, with ``\\r`` and ``\\0`` dropped) up to and including the first line
  that contains ``m-ready``.
- the DUT (``DUT``): ``name`` and ``profile`` parsed with the runner's regular
  expressions and retried up to 3 times; ``load`` sends ``db load N`` then ``db`` with
  the hex of 31 bytes at a time; ``infer N W``.
- the test scripts (tests_performance.yaml, tests_accuracy.yaml), looked up by the model
  id ``profile`` reported; ``download`` sends a whole file, or for ad01 the file's
  windows (``bytes_to_send`` bytes every ``stride`` bytes; only the first in
  performance mode); ``infer`` gathers ``m-results-[...]`` and the two ``m-lap-us-N``
  and computes the throughput from them.
- the dataset: a folder with ``y_labels.csv`` (file, classes, class, bytes_to_send,
  stride) and the files it names.
"""

from __future__ import annotations

import csv
import re
import time
from dataclasses import dataclass, field
from pathlib import Path

import serial

# The runner's test scripts (pinned: mlcommons/tiny 1afd2c98): per model id, the
# `infer N W` of each mode. Performance loops over 5 files; accuracy over them all.
PERFORMANCE_INFER = {"kws01": (70, 10), "vww01": (20, 5), "ic01": (20, 5), "ad01": (1500, 10)}
ACCURACY_INFER = (1, 0)
# The runner sends this many data bytes per `db` command (26 with a power board).
DB_BYTES_PER_COMMAND = 31


class RunnerSerial:
    """The runner's serial framing, synchronous (the runner reads in a thread)."""

    def __init__(self, port: str, baud: int, timeout: float = 5.0):
        self.port = serial.Serial(port, baud, timeout=0.1)
        self.timeout = timeout
        self._pending = ""

    def settle(self, seconds: float = 0.5) -> None:
        """Wait, then drop what the device said so far (its boot lines, which may have
        been cut short before the port was open): the runner sleeps 2 s after opening
        and retries `name` for the same reason."""
        time.sleep(seconds)
        self.port.reset_input_buffer()
        self._pending = ""

    def read_line(self, timeout: float) -> str | None:
        deadline = time.monotonic() + timeout
        while "\n" not in self._pending:
            if time.monotonic() > deadline:
                return None
            chunk = self.port.read(1)
            if chunk:
                chunk += self.port.read(self.port.in_waiting)
            text = chunk.decode(errors="replace")
            self._pending += "".join(c for c in text if c not in "\r\0")
        line, self._pending = self._pending.split("\n", 1)
        return line

    def send_command(self, command: str, timeout: float | None = None) -> list[str]:
        self.port.write(command.encode() + b"%")
        lines = []
        while True:
            line = self.read_line(timeout or self.timeout)
            if line is None:
                raise RuntimeError(f"No response to command {command}")
            if line:
                lines.append(line)
            if "m-ready" in line:
                return lines

    def close(self) -> None:
        self.port.close()


class RunnerDUT:
    """The runner's device under test over direct serial."""

    def __init__(self, port: str, baud: int):
        self.serial = RunnerSerial(port, baud)
        self.serial.settle()
        self.name = self.model = self.profile = None

    def _retry(self, attempt) -> None:
        for _ in range(3):
            if attempt():
                return

    def get_name(self) -> str | None:
        def attempt():
            for line in self.serial.send_command("name"):
                match = re.match(r"^m-(name)-dut-\[([^]]+)]$", line)
                if match:
                    self.name = match.group(2)
                    return True
            return False
        if self.name is None:
            self._retry(attempt)
        return self.name

    def get_model(self) -> str | None:
        def attempt():
            found = False
            for line in self.serial.send_command("profile"):
                match = re.match(r"^m-(model|profile)-\[([^]]+)]$", line)
                if match:
                    setattr(self, match.group(1), match.group(2))
                    found = True
            return found
        if self.model is None:
            self._retry(attempt)
        return self.model

    def load(self, data: bytes) -> list[str]:
        self.serial.send_command(f"db load {len(data)}")
        result = []
        for start in range(0, len(data), DB_BYTES_PER_COMMAND):
            chunk = data[start:start + DB_BYTES_PER_COMMAND]
            result = self.serial.send_command("db " + "".join(f"{b:02x}" for b in chunk))
        return result

    def infer(self, number: int, warmups: int) -> list[str]:
        return self.serial.send_command(f"infer {number} {warmups}", timeout=30.0)

    def close(self) -> None:
        self.serial.close()


def gather_infer_results(lines: list[str]) -> dict:
    """The runner's reading of an `infer` reply: the results vector and the elapsed
    microseconds between the two timestamps."""
    result = {}
    for line in lines:
        match = re.match(r"^m-results-\[([^]]+)\]$", line)
        if match:
            result["results"] = [float(x) for x in match.group(1).split(",") if x.strip()]
            continue
        match = re.match(r"^m-lap-us-([0-9]+)$", line)
        if match:
            result["end_time" if "start_time" in result else "start_time"] = int(match.group(1))
    if "start_time" in result and "end_time" in result:
        result["elapsed_time"] = result["end_time"] - result["start_time"]
    return result


@dataclass
class DatasetFile:
    file: str
    classes: str
    label: str
    bytes_to_send: str | None = None
    stride: str | None = None
    data: bytes = field(default=b"", repr=False)


def read_dataset(folder: Path) -> list[DatasetFile]:
    """The files y_labels.csv names, with their bytes, in its order."""
    with open(folder / "y_labels.csv", newline="") as handle:
        rows = list(csv.DictReader(handle, fieldnames=["file", "classes", "class",
                                                       "bytes_to_send", "stride"]))
    return [DatasetFile(row["file"], row["classes"], row["class"], row["bytes_to_send"],
                        row["stride"], (folder / row["file"]).read_bytes()) for row in rows]


def windows(entry: DatasetFile, model_id: str, mode: str) -> list[bytes]:
    """What `download` sends for one file: the whole file, or ad01's windows."""
    if model_id != "ad01":
        return [entry.data]
    size, stride = int(entry.bytes_to_send), int(entry.stride)
    segments = [entry.data[start:start + size]
                for start in range(0, len(entry.data) - size + 1, stride)]
    return segments[:1] if mode == "p" else segments


def run_benchmark(dut: RunnerDUT, dataset: list[DatasetFile], mode: str,
                  files: int | None = None) -> list[dict]:
    """One benchmark as the runner's script runs it: mode 'p' (performance) or 'a'
    (accuracy), over the first ``files`` files. One result per `infer`: the file, the
    window, the parsed reply, and in performance mode the throughput."""
    dut.get_name()
    model_id = dut.get_model()
    if model_id not in PERFORMANCE_INFER:
        raise RuntimeError(f"no test script for model {model_id!r}")
    number, warmups = PERFORMANCE_INFER[model_id] if mode == "p" else ACCURACY_INFER
    results = []
    for entry in dataset[:files]:
        for index, window in enumerate(windows(entry, model_id, mode)):
            dut.load(window)
            reply = dut.infer(number, warmups)
            gathered = gather_infer_results(reply)
            if mode == "p" and gathered.get("elapsed_time", 0) > 0:
                gathered["throughput"] = number / (gathered["elapsed_time"] / 1e6)
            results.append(dict(file=entry.file, window=index, label=entry.label,
                                iterations=number, reply=reply, **gathered))
    return results
