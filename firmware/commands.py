"""Subcommands of the firmware stage: boards, build, flash, measure, tune, infer."""

from __future__ import annotations

import argparse
import logging
import sys
import time

from tinyflow.boards import DEFAULT_BOARD, boards_table, emulation_of, get_board, with_stack
from tinyflow.common import add_json_argument, check_json_target, report_stream, write_json
from tinyflow.errors import InputError


def progress(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def positive_int(text: str) -> int:
    """An argparse type: a whole number >= 1 (a usage error, exit 2, otherwise)."""
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number >= 1")
    return value


def register_commands(subparsers) -> None:
    p = subparsers.add_parser("boards", help="list the boards tinyflow can build for")
    p.set_defaults(handler=cmd_boards)

    p = subparsers.add_parser("build", help="cross-compile a model's firmware for a board")
    p.add_argument("model", help="an int8 .tflite file")
    _board_arguments(p)
    p.add_argument("-o", "--output", help="copy the ELF/HEX/BIN and build record here "
                                          "(an empty folder or an earlier build's)")
    p.add_argument("--force", action="store_true",
                   help="write into an output folder of other files (they are kept)")
    p.add_argument("--no-cache", action="store_true", help="rebuild even if cached")
    _dut_arguments(p)
    p.set_defaults(handler=cmd_build)

    p = subparsers.add_parser("flash", help="build a model's firmware and flash it")
    p.add_argument("model", nargs="?", help="an int8 .tflite file")
    _board_arguments(p)
    p.add_argument("--tool", help="flash tool (default: the board's; see `tinyflow boards`)")
    p.add_argument("--dev-id", help="probe serial number (or bootloader port for bossac)")
    p.add_argument("--erase", action="store_true", help="erase the whole chip first")
    p.add_argument("--dry-run", action="store_true",
                   help="print the commands that would run, run nothing")
    _dut_arguments(p)
    p.set_defaults(handler=cmd_flash)

    p = subparsers.add_parser("measure", help="run a model on a device: outputs vs TFLM, "
                                              "latency, per-layer times, memory")
    p.add_argument("model", help="an int8 .tflite file")
    _board_arguments(p)
    p.add_argument("--port", help="serial port of a flashed real board "
                                  "(/dev/ttyACM0, socket://host:port)")
    p.add_argument("--inputs", help=".npy/.npz inputs (default: -n random inputs, fixed seed)")
    p.add_argument("-n", "--count", type=positive_int, default=10,
                   help="random inputs (default 10)")
    p.add_argument("--seed", type=int, default=0, help="seed of the random inputs")
    add_json_argument(p, "the measurement")
    _dut_arguments(p)
    p.set_defaults(handler=cmd_measure)

    p = subparsers.add_parser("tune", help="measure each kernel path a model's layers offer "
                                           "on a device; later builds take the fastest")
    p.add_argument("model", help="an int8 .tflite file")
    _board_arguments(p)
    p.add_argument("--record", help="the tuning record to write (default: the board's, in "
                                    "the cache, which builds for the board follow)")
    p.add_argument("-n", "--count", type=positive_int, default=2,
                   help="inferences per build (default 2)")
    p.set_defaults(handler=cmd_tune)

    p = subparsers.add_parser("infer", help="run a batch of inputs through the generated code")
    p.add_argument("model", help="an int8 .tflite file")
    p.add_argument("--board", "-b", default="host",
                   help="where to run: host (this computer, the default) or a board name "
                        "(see `tinyflow boards`)")
    p.add_argument("--inputs", required=True,
                   help=".npy (one input, batch first) or .npz (several inputs)")
    p.add_argument("--outputs", required=True, help=".npy or .npz file to write")
    p.add_argument("--port", help="serial port of a real board")
    p.set_defaults(handler=cmd_infer)


def _board_arguments(p) -> None:
    p.add_argument("--board", "-b", default=DEFAULT_BOARD,
                   help=f"board name or alias (default {DEFAULT_BOARD}; see `tinyflow boards`)")
    p.add_argument("--emulate", action="store_true",
                   help="run a real board's firmware in QEMU (same core, its memory limits)")
    p.add_argument("-v", "--verbose", action="store_true", help="log every command run")
    p.add_argument("--stack", type=positive_int, metavar="BYTES",
                   help="stack to reserve instead of the board file's (size it from the "
                        "high-water `measure` reports)")


def _dut_arguments(p) -> None:
    from tinyflow.firmware.dut import INPUT_TRANSFORMS, RESULTS

    group = p.add_argument_group(
        "DUT settings", "the firmware as a device under test of MLPerf Tiny's runner; "
        "MLPerf Tiny's four reference models get their reference submission's settings")
    group.add_argument("--model-id", help="what `profile` answers in m-model-[...] "
                                          "(default: the model's name; kws01, vww01, ic01, "
                                          "ad01 for the reference models)")
    group.add_argument("--input-transform", choices=INPUT_TRANSFORMS,
                       help="how the bytes of `db` become the input: as they are, uint8 "
                            "pixels minus 128, or float32 quantized on the device")
    group.add_argument("--result", choices=RESULTS,
                       help="what `results` prints: the dequantized outputs, or the mean "
                            "squared error between the dequantized output and the input")
    group.add_argument("--baud", type=positive_int,
                       help="serial baud rate (default: the board's)")


def _dut(args, model_path: str):
    """The DUT settings the command line asks for (None: the model's own)."""
    from tinyflow.codegen.ir import load_model
    from tinyflow.codegen.validate import check_valid
    from tinyflow.firmware.dut import dut_settings

    overrides = dict(model_id=args.model_id, input_transform=args.input_transform,
                     result=args.result, baud=args.baud)
    if all(value is None for value in overrides.values()):
        return None
    return dut_settings(check_valid(load_model(model_path)), **overrides)


def _setup(args):
    if getattr(args, "verbose", False):
        logging.basicConfig(level=logging.INFO, format="  $ %(message)s", stream=sys.stderr)
    board = _target(args)
    return emulation_of(board) if args.emulate else board


def _target(args):
    """The board named by --board, with --stack applied."""
    board = get_board(args.board)
    return with_stack(board, args.stack) if getattr(args, "stack", None) else board


def cmd_boards(args) -> int:
    print(boards_table())
    return 0


def cmd_build(args) -> int:
    from tinyflow.firmware.build import build_firmware

    board = _setup(args)
    started = time.perf_counter()
    result = build_firmware(args.model, board, args.output, use_cache=not args.no_cache,
                            force=args.force, verbose=True, dut=_dut(args, args.model))
    print(result)
    print("  " + ", ".join(f"{k.replace('_', ' ')} {v:,}" for k, v in result.breakdown.items()
                           if v))
    progress(f"done in {time.perf_counter() - started:.1f} s")
    return 0


def cmd_flash(args) -> int:
    from tinyflow.firmware.build import build_firmware
    from tinyflow.firmware.process import Commands
    from tinyflow.firmware.runners import get_runner

    if args.model is None:
        raise InputError("give the model to flash: tinyflow flash MODEL.tflite --board B")
    board = _setup(args)
    runner = get_runner(board, args.tool, commands=Commands(dry_run=args.dry_run),
                        dev_id=args.dev_id, erase=args.erase)
    if not args.dry_run:
        runner.tool()        # fail before building when the tool is missing
    firmware = build_firmware(args.model, board, verbose=True, dut=_dut(args, args.model))
    if runner.capabilities.emulate:
        port = runner.run(firmware)
        if args.dry_run:
            print("\n".join(runner.commands.history))
            return 0
        print(f"{board.name}: QEMU runs {firmware.model} with its serial port on {port}\n"
              f"measure it with: tinyflow measure {args.model} --board {args.board}"
              f"{' --emulate' if args.emulate else ''} --port {port}\n"
              "press Ctrl-C to stop QEMU", flush=True)
        try:
            runner.process.wait()
        except KeyboardInterrupt:
            pass
        finally:
            runner.close()
        return 0
    runner.run(firmware)
    if args.dry_run:
        print("\n".join(runner.commands.history))
    else:
        print(f"flashed {firmware.model} to {board.name} with {runner.name}")
    return 0


def cmd_measure(args) -> int:
    from tinyflow.codegen.batch import load_inputs
    from tinyflow.firmware.measure import measure
    from tinyflow.codegen.ir import load_model
    from tinyflow.codegen.validate import check_valid

    _setup(args)
    check_json_target(args.json)        # before minutes of building and running
    inputs = (load_inputs(args.inputs, check_valid(load_model(args.model))) if args.inputs
              else None)
    result = measure(args.model, _target(args), port=args.port, inputs=inputs, count=args.count,
                     seed=args.seed, emulate=args.emulate, progress=progress,
                     dut=_dut(args, args.model))
    print(result, file=report_stream(args.json))
    if args.json:
        write_json(args.json, result.to_json())
    return 0 if result.bit_exact else 3


def cmd_tune(args) -> int:
    from tinyflow.firmware.tune import tune

    _setup(args)
    print(tune(args.model, _target(args), record=args.record, count=args.count,
               progress=progress))
    return 0


def cmd_infer(args) -> int:
    from tinyflow.codegen.batch import load_inputs, save_outputs
    from tinyflow.codegen.ir import load_model
    from tinyflow.codegen.validate import check_valid
    from tinyflow.common import check_output_file
    from tinyflow.firmware.infer import run_on_board

    check_output_file(args.outputs)         # before building and running
    model = check_valid(load_model(args.model))   # its inputs are read before generating
    inputs = load_inputs(args.inputs, model)
    outputs = run_on_board(model, inputs, board=args.board, port=args.port, progress=progress)
    save_outputs(args.outputs, outputs)
    print(f"{inputs[0].shape[0]} sample(s) on {args.board}: wrote {args.outputs}")
    return 0
