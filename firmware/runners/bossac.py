"""bossac: Arduino boards with a SAM-BA compatible USB bootloader (Nano 33 BLE).

The bootloader keeps the first 64 KB of flash; the board file links the application
above it. Double-tap the reset button to enter the bootloader (its port appears).
"""

from __future__ import annotations

from tinyflow.errors import FlashError
from tinyflow.firmware.runners.base import Runner, RunnerCapabilities

ARDUINO_USB_VENDOR = 0x2341


class BossacRunner(Runner):
    name = "bossac"
    program = "bossac"
    install_hint = "the Arduino IDE's bossac, or apt-get install bossa-cli"
    # --dev-id is the bootloader's serial port (e.g. /dev/ttyACM0).
    # bossac always erases before writing (-e), as the Arduino IDE does.
    capabilities = RunnerCapabilities(flash=True, dev_id=True, list_probes=True)
    options = ()

    def probes(self) -> list[str]:
        from serial.tools import list_ports

        return sorted(p.device for p in list_ports.comports() if p.vid == ARDUINO_USB_VENDOR)

    def do_run(self, firmware) -> None:
        port = self.select_probe()
        if port is None:
            raise FlashError("bossac needs the bootloader's serial port: --dev-id /dev/ttyACM0")
        argv = [self.tool(), "-d", f"--port={port}", "-U", "-i", "-e", "-w", firmware.bin, "-R"]
        self._check(self.commands.run(argv), "flashing")
