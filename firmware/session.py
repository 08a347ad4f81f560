"""The host side of the DUT serial protocol (see templates/tf_main.c for the device).

A ``DeviceSession`` opens a port (a device path, a QEMU pty, or ``socket://host:port``),
resynchronises, and turns commands into Python values. Every failure on the line --
silence past the timeout, the port vanishing, an ``e-[...]`` reply -- is a DeviceError.
After a reply that never came (or a Ctrl-C) the next command resynchronises first; a
Ctrl-C (or SIGTERM, as workflow/cli.py raises it) during a command also tells the device
to stop (``stop``), so the board is left at its prompt.
"""

from __future__ import annotations

import logging
import re
import time
from dataclasses import dataclass

import serial

from tinyflow.errors import DeviceError

log = logging.getLogger("tinyflow.firmware")

READY = "m-ready"


@dataclass
class InferTiming:
    count: int
    total: int
    minimum: int
    maximum: int
    unit: str          # "instructions" (QEMU) or "cycles" (real boards)


class DeviceSession:
    """A conversation with one tinyflow (or MLPerf Tiny) device."""

    def __init__(self, port: str, *, baudrate: int = 115200, timeout: float = 10.0):
        self.port_name = port
        self.timeout = timeout
        try:
            self.serial = serial.serial_for_url(port, baudrate=baudrate, timeout=0.05)
        except (serial.SerialException, OSError, ValueError) as exc:
            raise DeviceError(f"cannot open serial port {port}: {exc}") from exc
        self._pending = b""
        self._out_of_step = False     # a reply may still be on its way: resync first
        self.info: dict[str, str] = {}

    # --- lines and commands ---

    def _read_line(self, deadline: float, command: str) -> str:
        while b"\n" not in self._pending:
            if time.monotonic() > deadline:
                self._out_of_step = True
                raise DeviceError(f"the device on {self.port_name} stopped answering "
                                  f"('{command}': no reply within {self.timeout:g} s)")
            try:
                # read(1) returns as soon as a byte is there (or after the short port
                # timeout); then take whatever else has arrived.
                chunk = self.serial.read(1)
                if chunk:
                    chunk += self.serial.read(self.serial.in_waiting)
            except (serial.SerialException, OSError) as exc:
                raise DeviceError(f"the serial port {self.port_name} failed during "
                                  f"'{command}': {exc} (device reset, unplugged, or "
                                  f"emulator stopped?)") from exc
            self._pending += chunk
        line, self._pending = self._pending.split(b"\n", 1)
        return line.decode("ascii", errors="replace").strip("\r\0 ")

    def command(self, text: str, timeout: float | None = None, payload: bytes = b""
                ) -> list[str]:
        """Send ``text%`` (and ``payload``, raw bytes that follow it); return the reply lines
        before ``m-ready``. Lines that are not protocol lines (noise) are skipped; an
        ``e-[...]`` line raises DeviceError."""
        if self._out_of_step:
            self.resync()
        try:
            self.serial.write(text.encode("ascii") + b"%" + payload)
            self.serial.flush()
        except (serial.SerialException, OSError) as exc:
            raise DeviceError(f"cannot write to {self.port_name}: {exc}") from exc
        except KeyboardInterrupt:
            self.stop()
            raise
        wait = timeout if timeout is not None else self.timeout
        deadline = time.monotonic() + wait
        lines, errors = [], []
        try:
            while True:
                line = self._read_line(deadline, text)
                if line == READY:
                    break
                if line.startswith("e-["):
                    errors.append(line[3:-1] if line.endswith("]") else line[3:])
                elif line.startswith("m-"):
                    lines.append(line)
                elif line:
                    log.debug("ignoring noise on %s: %r", self.port_name, line)
        except KeyboardInterrupt:
            self.stop()         # e.g. a long `infer`: leave the board at its prompt
            raise
        if errors:
            raise DeviceError(f"device error for '{text[:40]}': {'; '.join(errors)}")
        return lines

    def _discard_input(self) -> None:
        self._pending = b""
        try:
            self.serial.reset_input_buffer()
        except (serial.SerialException, OSError):
            pass

    def resync(self, attempts: int = 3) -> None:
        """Get back in step: end any partial command with '%', drop everything up to the
        device's m-ready (garbage, a boot banner), then check it is a tinyflow device."""
        last_error = None
        for _ in range(attempts):
            self._out_of_step = False     # (else command() would resync again)
            self._discard_input()
            try:
                self.command("", timeout=min(self.timeout, 5.0))
                time.sleep(0.05)          # let a late banner arrive, then drop it
                self._discard_input()
                if self.command("name") == ["m-name-dut-[tinyflow]"]:
                    return
                last_error = "it does not answer 'name' as a tinyflow device"
            except DeviceError as exc:
                last_error = str(exc)
        raise DeviceError(f"no tinyflow device answers on {self.port_name}: {last_error}")

    def handshake(self) -> dict[str, str]:
        """Resynchronise and read the device's description (tf-info)."""
        self.resync()
        info = {}
        for line in self.command("tf-info"):
            match = re.match(r"^m-tf-([a-z0-9-]+?)-\[(.*)\]$", line) or \
                re.match(r"^m-tf-([a-z-]+)-(\d+)$", line)
            if match:
                info[match.group(1)] = match.group(2)
        self.info = info
        return info

    def stop(self, wait: float = 3.0) -> bool:
        """Ask the device to drop what it is doing and get back to its prompt: a '%'
        stops a running ``infer`` between inferences (a ``tf-load`` waiting for bytes
        gives up by itself after 1 s); at the prompt it is an empty command, answered
        by m-ready. Waits up
        to ``wait`` s for the device's m-ready; True if it came. Never raises: it runs
        while the host is being interrupted."""
        self._out_of_step = True
        try:
            self.serial.write(b"%")
            self.serial.flush()
            deadline = time.monotonic() + wait
            while self._read_line(deadline, "stop") != READY:
                pass
        except (DeviceError, serial.SerialException, OSError, KeyboardInterrupt):
            return False          # (a second Ctrl-C: stop waiting)
        self._out_of_step = False
        return True

    # --- the benchmark commands ---

    def load(self, data: bytes) -> None:
        """Load the input bytes (all inputs concatenated) into the device's buffer: raw
        bytes with a checksum (tf-load) on tinyflow devices, MLPerf's hex ``db`` else."""
        if self.info.get("input-bytes") == str(len(data)):
            reply = self.command(f"tf-load {len(data)}", payload=data)
            if reply != [f"m-tf-load-done-{sum(data) & 0xFFFFFFFF}"]:
                raise DeviceError(f"input corrupted on the way to the device: {reply}")
            return
        self.load_hex(data)

    def load_hex(self, data: bytes) -> None:
        """The MLPerf Tiny way: ``db load N``, then hex ``db`` commands."""
        reply = self.command(f"db load {len(data)}")
        if not any(line.startswith("m-[Expecting") for line in reply):
            raise DeviceError(f"unexpected reply to 'db load': {reply}")
        command_bytes = int(self.info.get("command-bytes", 80))
        chunk = max(1, (command_bytes - 4) // 2)
        done = False
        for start in range(0, len(data), chunk):
            reply = self.command("db " + data[start:start + chunk].hex())
            done = "m-load-done" in reply
        if not done:
            raise DeviceError("the device did not confirm the input (no m-load-done)")

    def infer(self, count: int = 1, warmups: int = 0, timeout: float | None = None
              ) -> InferTiming:
        reply = self.command(f"infer {count} {warmups}",
                             timeout=timeout or self.timeout + 30.0 * (count + warmups))
        for line in reply:
            match = re.match(r"^m-tf-infer-(\d+)-total-(\d+)-min-(\d+)-max-(\d+)-(\w+)$", line)
            if match:
                n, total, least, most = (int(g) for g in match.groups()[:4])
                return InferTiming(n, total, least, most, match.group(5))
        raise DeviceError(f"no timing in the reply to 'infer': {reply[:5]}")

    def _hex_bytes(self, lines: list[str]) -> bytes:
        return bytes.fromhex("".join(l[len("m-tf-bytes-"):] for l in lines
                                     if l.startswith("m-tf-bytes-")))

    def output_bytes(self) -> bytes:
        """The raw bytes of every output of the last inference, concatenated."""
        return self._hex_bytes(self.command("tf-results"))

    def layers(self) -> tuple[list[tuple[str, int]], int, str]:
        """Per-layer counts of one inference: ([(op name, count)], whole, unit)."""
        per_layer, total, unit = [], None, None
        for line in self.command("tf-layers", timeout=self.timeout + 60.0):
            match = re.match(r"^m-tf-layer-(\d+)-([A-Z0-9_]+)-(\d+)$", line)
            if match:
                per_layer.append((match.group(2), int(match.group(3))))
            match = re.match(r"^m-tf-layers-total-(\d+)-(\w+)$", line)
            if match:
                total, unit = int(match.group(1)), match.group(2)
        if total is None:
            raise DeviceError("no total in the reply to 'tf-layers'")
        return per_layer, total, unit

    def memory(self) -> dict[str, int]:
        figures = {}
        for line in self.command("tf-mem"):
            match = re.match(r"^m-tf-mem-([a-z-]+)-(\d+)$", line)
            if match:
                figures[match.group(1).replace("-", "_")] = int(match.group(2))
        return figures

    def tensor(self, layer: int) -> bytes:
        """Runs layers 0..layer on the loaded input; returns that layer's output bytes."""
        lines = self.command(f"tf-tensor {layer}", timeout=self.timeout + 60.0)
        return self._hex_bytes(lines)

    def close(self) -> None:
        try:
            self.serial.close()
        except (serial.SerialException, OSError):
            pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
