"""Subcommands of the closed loop: `tinyflow loop`."""

from __future__ import annotations

import sys

from tinyflow.common import add_json_argument, check_json_target, report_stream, write_json
from tinyflow.errors import InputError


def register_commands(subparsers) -> None:
    p = subparsers.add_parser(
        "loop", help="train, compress and search a project's model until it fits its board's "
                     "budget, measured on the device")
    p.add_argument("project", help="the project file (tinyflow.toml) or its folder")
    p.add_argument("--trials", type=int, help="finished trials the study should hold "
                                              "(default: the project's; resumes a study)")
    p.add_argument("--storage", help="Optuna storage URL (default: sqlite loop.db beside the "
                                     "project); e.g. postgresql://user@host/db for several "
                                     "workers")
    p.add_argument("--board", "-b", help="the board to measure on (default: the project's)")
    p.add_argument("--emulate", action="store_true",
                   help="run a real board's firmware in QEMU (same core, its memory limits)")
    p.add_argument("--port", help="serial port of a flashed real board")
    add_json_argument(p, "the trials, the Pareto front and the best")
    p.set_defaults(handler=cmd_loop)


def _progress(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def cmd_loop(args) -> int:
    from tinyflow.loop import TABLE_HEADER, format_row, load_project, run_loop

    project = load_project(args.project)
    if args.trials is not None and args.trials < 1:
        raise InputError(f"--trials {args.trials}: give at least 1")
    check_json_target(args.json)        # before hours of work, not after
    out = report_stream(args.json)
    print(TABLE_HEADER, file=out, flush=True)
    result = run_loop(project, trials=args.trials, storage=args.storage, board=args.board,
                      port=args.port, emulate=args.emulate, progress=_progress,
                      on_trial=lambda r: print(f"{r.number:>4}  {format_row(r)}", file=out,
                                               flush=True))
    print(result.summary(), file=out)
    if args.json:
        write_json(args.json, result.to_json())
    return 0 if result.best is not None else 1

