"""The `tinyflow` command line.

Each stage package contributes its subcommands through a ``register_commands``
function, so this module only builds the parser and turns errors into exit codes.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import os
import signal
import sys
import threading
import traceback

import tinyflow
from tinyflow.errors import TinyflowError

# Modules that add subcommands, in the order they appear in --help.
COMMAND_MODULES = [
    "tinyflow.codegen.commands",
    "tinyflow.firmware.commands",
    "tinyflow.profiler.commands",
    "tinyflow.commands",
]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="tinyflow",
        description="Take an int8 model onto a microcontroller and prove, on the device, "
                    "that it fits.")
    parser.add_argument("--version", action="version",
                        version=f"tinyflow {tinyflow.__version__}")
    parser.add_argument("-v", "--verbose", dest="detail", action="store_true",
                        help="on an error, also print where it arose (before the command: "
                             "tinyflow -v COMMAND ...)")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for module_name in COMMAND_MODULES:
        importlib.import_module(module_name).register_commands(subparsers)
    return parser


def main(argv=None) -> int:
    # TensorFlow's C++ logging (imported by the loop's stages) is noise for a CLI user.
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "handler", None):
        parser.print_help()
        return 2
    try:
        with _stop_on_signals():
            return int(args.handler(args) or 0)
    except TinyflowError as exc:
        print(f"tinyflow {args.command}: error: {exc}", file=sys.stderr)
        _detail(args, exc)
        return exc.exit_code
    except BrokenPipeError:
        # The reader went away (`tinyflow inspect | head`): stop quietly, as the
        # shell's own tools do (128 + SIGPIPE), and let no flush at exit complain.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 128 + signal.SIGPIPE
    except OSError as exc:
        # The machine said no: a full disk, a folder that is a file ($TINYFLOW_CACHE),
        # a permission. One line naming the file, not a traceback.
        where = f": {exc.filename}" if exc.filename else ""
        print(f"tinyflow {args.command}: error: {exc.strerror or exc}{where}", file=sys.stderr)
        _detail(args, exc)
        return 1
    except KeyboardInterrupt as exc:
        signum = exc.signum if isinstance(exc, Stopped) else signal.SIGINT
        reason = ("interrupted" if signum == signal.SIGINT
                  else f"stopped by {signal.Signals(signum).name}")
        print(f"tinyflow {args.command}: {reason}", file=sys.stderr)
        return 128 + signum


def _detail(args, exc: BaseException) -> None:
    """With -v (tinyflow -v COMMAND, or a command's own -v): the error's traceback and
    its causes, after the one line, for a bug report."""
    if getattr(args, "detail", False) or getattr(args, "verbose", False):
        print("".join(traceback.format_exception(exc)).rstrip(), file=sys.stderr)


class Stopped(KeyboardInterrupt):
    """SIGTERM or SIGHUP arrived: raised where the program is, it unwinds like Ctrl-C,
    so every ``with`` block closes its device and stops its emulator."""

    def __init__(self, signum: int):
        super().__init__(signal.Signals(signum).name)
        self.signum = signum


@contextlib.contextmanager
def _stop_on_signals():
    """Turn SIGTERM and SIGHUP into Stopped while a command runs; a second signal
    ends tinyflow at once (its emulators die with it: see firmware.process)."""
    if threading.current_thread() is not threading.main_thread():
        yield               # only the main thread may set signal handlers
        return
    stopping = (signal.SIGTERM, signal.SIGHUP)

    def stop(signum, frame):
        for each in stopping:
            signal.signal(each, signal.SIG_DFL)
        raise Stopped(signum)

    previous = {each: signal.signal(each, stop) for each in stopping}
    try:
        yield
    finally:
        for each, handler in previous.items():
            # None: a handler set outside Python, which cannot be put back.
            signal.signal(each, signal.SIG_DFL if handler is None else handler)


if __name__ == "__main__":
    sys.exit(main())
