"""Nordic's nrfjprog (J-Link): nRF51/nRF52/nRF53 development kits."""

from __future__ import annotations

from tinyflow.firmware.runners.base import Runner, RunnerCapabilities


class NrfjprogRunner(Runner):
    name = "nrfjprog"
    program = "nrfjprog"
    install_hint = "nRF Command Line Tools from nordicsemi.com, plus SEGGER J-Link"
    capabilities = RunnerCapabilities(flash=True, erase=True, dev_id=True, list_probes=True)
    options = ("family",)

    def probes(self) -> list[str]:
        result = self.commands.run([self.tool(), "--ids"])
        self._check(result, "listing probes (--ids)")
        return [line.strip() for line in result.stdout.decode().splitlines() if line.strip()]

    def do_run(self, firmware) -> None:
        base = [self.tool(), "-f", self.settings["family"]]
        serial = self.select_probe()
        if serial is not None:
            base += ["--snr", serial]
        erase = "--chiperase" if self.erase else "--sectorerase"
        self._check(self.commands.run(base + ["--program", firmware.hex, erase, "--verify"]),
                    "programming")
        self._check(self.commands.run(base + ["--reset"]), "reset")
