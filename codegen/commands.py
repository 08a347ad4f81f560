"""Subcommands of the compiler front end: inspect, codegen."""

from __future__ import annotations

import time

from tinyflow.codegen.exports import FORMATS
from tinyflow.codegen.ir import load_model


def register_commands(subparsers) -> None:
    p = subparsers.add_parser("inspect", help="show a model's ops and its memory plan")
    p.add_argument("model", help="a .tflite file")
    p.set_defaults(handler=cmd_inspect)

    p = subparsers.add_parser("codegen", help="generate the C library for a model")
    p.add_argument("model", help="an int8 .tflite file")
    p.add_argument("-o", "--output", required=True,
                   help="directory to write (a previous output is replaced whole)")
    p.add_argument("--prefix", default="tinyflow",
                   help="C symbol prefix, a C identifier (default: tinyflow)")
    p.add_argument("--format", default="make", choices=FORMATS,
                   help="how the library is laid out for your build: make (a make "
                        "fragment, the default), cmake (a library target), zephyr (a "
                        "module), arduino (a library with an example sketch), "
                        "platformio (a library)")
    p.add_argument("--force", action="store_true",
                   help="write into an output directory tinyflow did not create "
                        "(its other files are kept)")
    p.add_argument("--tuning", metavar="RECORD",
                   help="kernel choices measured by `tinyflow tune` (a tuning record)")
    p.set_defaults(handler=cmd_codegen)


def cmd_inspect(args) -> int:
    from tinyflow.codegen import plan_memory
    from tinyflow.codegen.generator import checked_model
    from tinyflow.codegen.simplify import describe, simplification

    model = load_model(args.model)
    print(model)
    checked_model(model)              # a malformed model: its op list, then every problem
    simplified = simplification(model)
    print(simplified)
    if simplified.changed:            # the graph the generated code runs
        print(describe(simplified))
    print()
    print(plan_memory(simplified.model))
    return 0


def cmd_codegen(args) -> int:
    from tinyflow.codegen import generate
    from tinyflow.codegen.exports import export_files
    from tinyflow.codegen.generator import check_prefix

    check_prefix(args.prefix)           # a usage error before the model is read
    started = time.perf_counter()
    from tinyflow.codegen.tuning import load_choices

    tuning = load_choices(args.tuning) if args.tuning else None
    generated = generate(load_model(args.model), prefix=args.prefix, tuning=tuning)
    files = export_files(generated, args.format)
    out = generated.write(args.output, format=args.format, force=args.force)
    manifest = generated.manifest
    print(f"wrote {len(files)} files ({args.format}) to {out} in {time.perf_counter() - started:.2f} s: "
          f"{len(manifest['layers'])} layers, arena {manifest['arena_bytes']} bytes, "
          f"weights {manifest['weight_bytes']} bytes")
    return 0
