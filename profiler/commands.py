"""Subcommands of the profiler stage: profile, calibrate."""

from __future__ import annotations


from tinyflow.common import add_json_argument, check_json_target, report_stream, write_json
from tinyflow.profiler.profile import DEFAULT_BOARD


def register_commands(subparsers) -> None:
    p = subparsers.add_parser(
        "profile", help="per-layer cost of a model on a board, checked against a budget",
        description="Profile MODEL for a board: per-layer MACs, bytes, arena and estimated "
                    "time; totals for flash, RAM and latency; pass/fail per budget constraint. "
                    "Exits 1 when a constraint fails, 2 when the budget is malformed.")
    p.add_argument("model", help="an int8 .tflite file")
    p.add_argument("--board", default=DEFAULT_BOARD, help=f"board name (default: {DEFAULT_BOARD})")
    p.add_argument("--budget", help="constraints, e.g. latency=50ms,ram=64KiB,flash=256KiB,"
                                    "accuracy=90%% (units: s ms us; B KB KiB MB MiB)")
    p.add_argument("--project", help="project file with a [budget] table (default: "
                                     "./tinyflow.toml or ./tinyflow.yaml if present)")
    p.add_argument("--accuracy", type=float,
                   help="the model's measured accuracy (0..1), checked against accuracy=")
    p.add_argument("--costs", help="cost-model JSON to use instead of the board's")
    p.add_argument("--measure", action="store_true",
                   help="also run the model on the board and show measured times beside the "
                        "estimates (budgets then use the measurement). Without it, the last "
                        "measurement of this model, board and tinyflow version is shown if "
                        "there is one")
    _device_options(p)
    add_json_argument(p, "the whole profile")
    p.add_argument("--html", metavar="FILE", help="write a standalone HTML report")
    p.set_defaults(handler=cmd_profile)

    p = subparsers.add_parser(
        "calibrate", help="fit the board's cost model by measuring calibration models on it",
        description="Generate small calibration models covering every kernel variant, "
                    "measure their per-layer times on the board, fit the cost coefficients "
                    "(least squares) and store them in the cache "
                    "($TINYFLOW_CACHE/costs/BOARD.json, default ~/.cache/tinyflow).")
    p.add_argument("--board", default=DEFAULT_BOARD, help=f"board name (default: {DEFAULT_BOARD})")
    p.add_argument("--output", help="write the cost model here instead of the cache")
    _device_options(p)
    p.set_defaults(handler=cmd_calibrate)


def _device_options(parser) -> None:
    parser.add_argument("--port", help="serial port of a real board (for --measure/calibrate)")
    parser.add_argument("--emulate", action="store_true",
                        help="run a real board's firmware on its QEMU twin (its memory limits)")


def _budget(args):
    from tinyflow.profiler.budget import (Budget, find_project_file, load_project_budget,
                                          parse_budget)

    project = args.project or find_project_file()
    budget = load_project_budget(project) if project else Budget()
    if args.budget:
        budget = budget.merged(parse_budget(args.budget))
    return budget


def cmd_profile(args) -> int:
    from tinyflow.profiler.device import measure_model, stored_measurement
    from tinyflow.profiler.profile import profile

    budget = _budget(args)         # parse the budget first: a typo fails fast
    check_json_target(args.json)
    if args.measure:
        measurement = measure_model(args.model, args.board, port=args.port,
                                    emulate=args.emulate)
    else:
        measurement = stored_measurement(args.model, args.board)
    result = profile(args.model, board=args.board, budget=budget, costs=args.costs,
                     measurement=measurement, accuracy=args.accuracy)
    if args.html:
        result.save_html(args.html)
    out = report_stream(args.json)
    if args.json != "-":
        print(result, file=out)
        if args.html:
            print(f"\nwrote {args.html}", file=out)
    if args.json:
        write_json(args.json, result.to_json())
    return 0 if result.passed else 1


def cmd_calibrate(args) -> int:
    from tinyflow.profiler.calibrate import calibrate

    cost_model, path, report = calibrate(args.board, output=args.output, port=args.port,
                                         emulate=args.emulate)
    print(report)
    print(f"wrote {path}")
    return 0
