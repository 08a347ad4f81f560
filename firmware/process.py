"""Every external program tinyflow's firmware stage runs goes through ``Commands.run``:
it logs the quoted command line, records it, and in a dry run only records it.

>>> commands = Commands(dry_run=True)
>>> commands.run(["nrfjprog", "--program", "fw hex.hex"]).returncode
0
>>> print(commands.history[0])
nrfjprog --program 'fw hex.hex'
"""

from __future__ import annotations

import ctypes
import functools
import logging
import os
import shlex
import shutil
import signal
import subprocess
import sys
from dataclasses import dataclass, field

from tinyflow.errors import ToolNotFoundError

log = logging.getLogger("tinyflow.firmware")


@dataclass
class Commands:
    """Runs programs (or, with ``dry_run``, only records what would run)."""

    dry_run: bool = False
    history: list[str] = field(default_factory=list)

    def run(self, argv, *, check: bool = False, timeout: float | None = None,
            input: bytes | None = None) -> subprocess.CompletedProcess:
        argv = [str(a) for a in argv]
        line = shlex.join(argv)
        self.history.append(line)
        log.info("%s%s", "(dry run) " if self.dry_run else "", line)
        if self.dry_run:
            return subprocess.CompletedProcess(argv, 0, b"", b"")
        return subprocess.run(argv, capture_output=True, check=check, timeout=timeout,
                              input=input)

    def start(self, argv, **popen_options) -> subprocess.Popen | None:
        """Start a long-running program (an emulator); None in a dry run. On Linux it
        is killed when tinyflow ends, even when tinyflow is killed."""
        argv = [str(a) for a in argv]
        line = shlex.join(argv)
        self.history.append(line)
        log.info("%s%s", "(dry run) " if self.dry_run else "", line)
        if self.dry_run:
            return None
        if sys.platform == "linux":
            # prctl is looked up here: the child may only call it (no loading after fork).
            prctl = ctypes.CDLL(None).prctl
            popen_options.setdefault("preexec_fn", functools.partial(
                _die_with_parent, prctl, os.getpid()))
        return subprocess.Popen(argv, **popen_options)


_PR_SET_PDEATHSIG = 1       # from <linux/prctl.h>


def _die_with_parent(prctl, parent_pid: int) -> None:
    """Run in the child before it executes the program: Linux sends it SIGKILL when
    tinyflow ends, however it ends (even killed), so no emulator outlives tinyflow.
    Linux ties this to the thread that started the child: runners start from the
    main thread."""
    prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
    if os.getppid() != parent_pid:      # tinyflow ended before prctl took effect
        os.kill(os.getpid(), signal.SIGKILL)


def require_tool(program: str, how_to_install: str) -> str:
    """The path of ``program``, or ToolNotFoundError saying how to install it."""
    path = shutil.which(program)
    if path is None:
        raise ToolNotFoundError(f"'{program}' is not installed or not on PATH: {how_to_install}")
    return path
