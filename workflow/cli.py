"""The `tinyflow` command line.

Each stage package contributes its subcommands through a ``register_commands``
function, so this module only builds the parser and turns errors into exit codes.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys

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
        return int(args.handler(args) or 0)
    except TinyflowError as exc:
        print(f"tinyflow {args.command}: error: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print(f"tinyflow {args.command}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
