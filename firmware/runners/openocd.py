"""OpenOCD with the board's interface and target scripts (ST-LINK, J-Link, CMSIS-DAP)."""

from __future__ import annotations

from tinyflow.firmware.runners.base import Runner, RunnerCapabilities


class OpenocdRunner(Runner):
    name = "openocd"
    program = "openocd"
    install_hint = "apt-get install openocd"
    # OpenOCD cannot list probes; with --dev-id it selects one by serial number.
    capabilities = RunnerCapabilities(flash=True, dev_id=True)
    options = ("interface", "transport", "target")

    def do_run(self, firmware) -> None:
        argv = [self.tool(), "-f", f"interface/{self.settings['interface']}.cfg"]
        if self.dev_id is not None:
            argv += ["-c", f"adapter serial {self.dev_id}"]
        argv += ["-c", f"transport select {self.settings['transport']}",
                 "-f", f"target/{self.settings['target']}.cfg",
                 "-c", f"program {firmware.elf} verify reset exit"]
        self._check(self.commands.run(argv), "programming")
