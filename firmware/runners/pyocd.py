"""pyOCD (CMSIS-DAP, ST-LINK, J-Link probes): any Cortex-M target pyOCD knows."""

from __future__ import annotations

import json

from tinyflow.firmware.runners.base import Runner, RunnerCapabilities


class PyocdRunner(Runner):
    name = "pyocd"
    program = "pyocd"
    install_hint = "pip install pyocd"
    capabilities = RunnerCapabilities(flash=True, erase=True, dev_id=True, list_probes=True)
    options = ("target",)

    def probes(self) -> list[str]:
        result = self.commands.run([self.tool(), "json", "--probes"])
        self._check(result, "listing probes (json --probes)")
        listing = json.loads(result.stdout.decode() or "{}")
        return [probe["unique_id"] for probe in listing.get("boards", [])]

    def do_run(self, firmware) -> None:
        argv = [self.tool(), "flash", "--target", self.settings["target"]]
        uid = self.select_probe()
        if uid is not None:
            argv += ["--uid", uid]
        argv += ["--erase", "chip" if self.erase else "sector", firmware.hex]
        self._check(self.commands.run(argv), "flashing")
