"""Runners: the exact command line each flash tool would execute (dry run, no
hardware), option checks, and the errors a user sees without a probe.

A runner only passes the firmware's file paths on to its tool, so most tests hand it
a stand-in BuildResult (`fake_firmware`) instead of cross-compiling a model; only the
`tinyflow flash` tests, which build as a user would, compile KWS."""

import os
import stat

import pytest

from conftest import mlperf_model
from tinyflow.boards import get_board
from tinyflow.errors import BoardError, FlashError
from tinyflow.firmware.build import BuildResult
from tinyflow.firmware.process import Commands
from tinyflow.firmware.runners import RUNNERS, get_runner


@pytest.fixture(scope="module")
def kws():
    return mlperf_model("kws_ref_model")


@pytest.fixture
def fake_firmware(tmp_path):
    """fake_firmware(board) -> a BuildResult for ``board`` whose ELF, HEX and BIN are
    empty placeholder files in a directory of their own."""
    def make(board) -> BuildResult:
        directory = tmp_path / f"firmware-{board.name}"
        directory.mkdir(exist_ok=True)
        images = {}
        for kind in ("elf", "hex", "bin"):
            images[kind] = directory / f"firmware.{kind}"
            images[kind].write_bytes(b"")
        return BuildResult(board=board.name, model="fake", directory=directory, **images,
                           sections={}, flash_bytes=0, ram_bytes=0,
                           flash_limit=board.flash.size_bytes, ram_limit=board.ram.size_bytes,
                           breakdown={})
    return make


@pytest.fixture
def dry_run(fake_firmware):
    """dry_run(board name, tool=None, **runner options) -> (the commands the runner
    would execute, the firmware it was given)."""
    def run(board_name, tool=None, **kwargs):
        board = get_board(board_name)
        firmware = fake_firmware(board)
        runner = get_runner(board, tool, commands=Commands(dry_run=True), **kwargs)
        runner.run(firmware)
        return runner.commands.history, firmware
    return run


def test_nrfjprog_command_lines(dry_run):
    history, fw = dry_run("nrf52", dev_id="683012345")
    assert history == [
        f"nrfjprog -f NRF52 --snr 683012345 --program {fw.hex} --sectorerase --verify",
        "nrfjprog -f NRF52 --snr 683012345 --reset",
    ]
    history, fw = dry_run("nrf52", erase=True)
    assert history[0] == f"nrfjprog -f NRF52 --program {fw.hex} --chiperase --verify"


def test_pyocd_command_line(dry_run):
    history, fw = dry_run("nucleo-l4r5zi")
    assert history == [f"pyocd flash --target stm32l4r5zitx --erase sector {fw.hex}"]
    history, fw = dry_run("nrf52840dk", tool="pyocd", dev_id="0240000034544e45")
    assert history == [f"pyocd flash --target nrf52840 --uid 0240000034544e45 "
                       f"--erase sector {fw.hex}"]


def test_openocd_command_line(dry_run):
    history, fw = dry_run("nucleo-l4r5zi", tool="openocd")
    assert history == [
        "openocd -f interface/stlink.cfg -c 'transport select hla_swd' "
        f"-f target/stm32l4x.cfg -c 'program {fw.elf} verify reset exit'"]


def test_bossac_command_line(dry_run):
    history, fw = dry_run("arduino-nano-33-ble", dev_id="/dev/ttyACM0")
    assert history == [f"bossac -d --port=/dev/ttyACM0 -U -i -e -w {fw.bin} -R"]
    # the application is linked after the 64 KB bootloader: the board's flash region
    # (which a real build takes as its flash limit) is what remains of the 1 MB
    assert get_board("arduino-nano-33-ble").flash.size_bytes == 1024 * 1024 - 0x10000


def test_qemu_command_line(dry_run):
    history, fw = dry_run("qemu-cortex-m4")
    assert history == [f"qemu-system-arm -M mps2-an386 -nographic -icount shift=3 "
                       f"-kernel {fw.elf} -serial pty -monitor none"]


def test_unsupported_requests_are_errors():
    board = get_board("nucleo-l4r5zi")
    with pytest.raises(BoardError, match="flash tool 'nrfjprog' is not supported"):
        get_runner(board, "nrfjprog")
    with pytest.raises(FlashError, match="cannot erase"):
        get_runner(board, "openocd", erase=True)
    with pytest.raises(FlashError, match="cannot select a probe"):
        get_runner(get_board("qemu-cortex-m4"), dev_id="123")


def test_every_runner_declares_its_capabilities():
    for name, cls in RUNNERS.items():
        assert cls.name == name
        assert cls.capabilities.flash != cls.capabilities.emulate


@pytest.fixture
def fake_path(tmp_path, monkeypatch):
    """A PATH holding only the tools a test puts there (plus the system's basics)."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    monkeypatch.setenv("PATH", f"{bin_dir}:/usr/bin:/bin")

    def add_tool(name, script):
        tool = bin_dir / name
        tool.write_text("#!/bin/sh\n" + script)
        tool.chmod(tool.stat().st_mode | stat.S_IEXEC)
    return add_tool


def test_missing_tool_names_it_and_suggests_emulate(kws, fake_path, capsys):
    from tinyflow.cli import main

    assert main(["flash", str(kws), "--board", "nrf52"]) != 0
    err = capsys.readouterr().err
    assert "'nrfjprog'" in err and "not installed" in err and "--emulate" in err


def test_several_probes_refuse_to_guess(fake_firmware, fake_path):
    # An executable that answers `nrfjprog --ids` as with two DKs plugged in.
    fake_path("nrfjprog", 'if [ "$1" = "--ids" ]; then echo 683012345; echo 683067890; '
                          'else echo "unexpected $*" >&2; exit 9; fi\n')
    board = get_board("nrf52")
    runner = get_runner(board)
    with pytest.raises(FlashError, match="2 probes attached .*683012345, 683067890.*--dev-id"):
        runner.run(fake_firmware(board))
    assert runner.commands.history[-1].endswith("nrfjprog --ids")


def test_no_probe_is_a_clear_error(fake_firmware, fake_path):
    fake_path("nrfjprog", 'exit 0\n')
    board = get_board("nrf52")
    with pytest.raises(FlashError, match="no probe found"):
        get_runner(board).run(fake_firmware(board))


def test_cli_flash_dry_run(kws, capsys):
    from tinyflow.cli import main

    assert main(["flash", str(kws), "--board", "nrf52", "--dry-run", "--dev-id", "1"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("nrfjprog -f NRF52 --snr 1 --program ")
    assert os.path.basename(out.split()[6]) == "firmware.hex"
