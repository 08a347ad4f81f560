"""Subcommands of the model stage: inspect, codegen, infer."""

from __future__ import annotations

import sys
import time
from pathlib import Path

import numpy as np

from tinyflow.errors import InputError, TinyflowError
from tinyflow.codegen.batch import load_inputs, save_outputs
from tinyflow.codegen.ir import Model, load_model


def register_commands(subparsers) -> None:
    p = subparsers.add_parser("inspect", help="show a model's ops and its memory plan")
    p.add_argument("model", help="a .tflite file")
    p.set_defaults(handler=cmd_inspect)

    p = subparsers.add_parser("codegen", help="generate the C library for a model")
    p.add_argument("model", help="an int8 .tflite file")
    p.add_argument("-o", "--output", required=True, help="directory to write (replaced whole)")
    p.add_argument("--prefix", default="tinyflow", help="C symbol prefix (default: tinyflow)")
    p.set_defaults(handler=cmd_codegen)

    p = subparsers.add_parser("infer", help="run a batch of inputs through the generated code")
    p.add_argument("model", help="an int8 .tflite file")
    p.add_argument("--board", default="host",
                   help="where to run: host (native build) or a board name (see `tinyflow boards`)")
    p.add_argument("--inputs", required=True,
                   help=".npy (one input, batch first) or .npz (several inputs)")
    p.add_argument("--outputs", required=True, help=".npy or .npz file to write")
    p.add_argument("--port", help="serial port of a real board")
    p.set_defaults(handler=cmd_infer)


def cmd_inspect(args) -> int:
    from tinyflow.codegen.memory import plan_memory

    model = load_model(args.model)
    print(model)
    print()
    print(plan_memory(model))
    return 0


def cmd_codegen(args) -> int:
    from tinyflow.codegen import generate

    started = time.perf_counter()
    generated = generate(load_model(args.model), prefix=args.prefix)
    out = generated.write(args.output)
    manifest = generated.manifest
    print(f"wrote {len(generated.files)} files to {out} in {time.perf_counter() - started:.2f} s: "
          f"{len(manifest['layers'])} layers, arena {manifest['arena_bytes']} bytes, "
          f"weights {manifest['weight_bytes']} bytes")
    return 0


def cmd_infer(args) -> int:
    model = load_model(args.model)
    inputs = load_inputs(args.inputs, model)
    outputs = run_model(model, inputs, board=args.board, port=args.port)
    save_outputs(args.outputs, outputs)
    print(f"{inputs[0].shape[0]} sample(s) on {args.board}: wrote {args.outputs}")
    return 0


def run_model(model: Model, inputs, board: str = "host", port: str | None = None):
    """Run a batch through ``model``'s generated code on ``board``."""
    if board == "host":
        from tinyflow.codegen.batch import check_inputs
        from tinyflow.codegen.host import compile_host

        check_inputs(model, inputs)          # before compiling: fail fast on bad input
        return compile_host(model).run(inputs)
    try:
        from tinyflow.firmware.infer import run_on_board
    except ImportError as exc:
        raise TinyflowError(f"board '{board}': only the host board is available "
                            "in this installation") from exc
    return run_on_board(model, inputs, board=board, port=port,
                        progress=lambda message: print(message, file=sys.stderr, flush=True))
