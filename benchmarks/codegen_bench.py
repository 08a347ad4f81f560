"""Code generator benchmark: arena, weights, code size and generation time per MLPerf model.

For each MLPerf Tiny model: tinyflow's planned arena (with every layer's scratch) vs
the arena TFLM actually uses (the `tflite-micro` interpreter on this host: its total,
and the "head" that holds activations), weight bytes, the generated code's .text and
.rodata (arm-none-eabi-gcc with the firmware's flags for qemu-cortex-m4), and the
time `generate` + write takes.

    .venv/bin/python benchmarks/codegen_bench.py [--json benchmarks/results/codegen.json]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
MODELS_DIR = REPO.parent / "shared" / "models" / "mlperf-tiny"
MODELS = ["kws_ref_model", "vww_96_int8", "pretrainedResnet_quant", "ad01_int8"]
BOARD = "qemu-cortex-m4"


def section_sizes(object_file: Path) -> dict[str, int]:
    """Sum of .text* and .rodata* sections of an object file (arm-none-eabi-size -A)."""
    out = subprocess.run(["arm-none-eabi-size", "-A", str(object_file)], capture_output=True,
                         text=True, check=True).stdout
    sizes = {"text": 0, "rodata": 0}
    for line in out.splitlines():
        parts = line.split()
        if len(parts) >= 2 and parts[1].isdigit():
            if parts[0].startswith(".text"):
                sizes["text"] += int(parts[1])
            elif parts[0].startswith(".rodata"):
                sizes["rodata"] += int(parts[1])
    return sizes


def measure(name: str) -> dict:
    from tinyflow.codegen import generate
    from tinyflow.codegen.ir import load_model
    from tinyflow.reference import tflm_arena_bytes
    from tinyflow.firmware.build import library_cflags

    path = MODELS_DIR / f"{name}.tflite"
    with tempfile.TemporaryDirectory() as tmp:
        started = time.perf_counter()
        generated = generate(load_model(path))
        out = generated.write(Path(tmp) / "lib")
        codegen_seconds = time.perf_counter() - started
        for source in ("tinyflow_model.c", "tinyflow_weights.c"):
            subprocess.run(["arm-none-eabi-gcc", *library_cflags(BOARD), "-c", source], cwd=out,
                           check=True)
        code = section_sizes(out / "tinyflow_model.o")
        weights = section_sizes(out / "tinyflow_weights.o")
    tflm = tflm_arena_bytes(path)
    return dict(
        model=name,
        arena_bytes=generated.plan.arena_bytes,
        tflm_arena_total_bytes=tflm.get("total"),
        tflm_arena_head_bytes=tflm.get("head"),
        weight_bytes=generated.weight_bytes,
        code_text_bytes=code["text"],
        code_rodata_bytes=code["rodata"],
        weights_rodata_bytes=weights["rodata"],
        codegen_seconds=round(codegen_seconds, 3),
    )


def print_table(rows: list[dict]) -> None:
    header = (f"{'model':<24} {'arena+scr':>9} {'TFLM arena':>11} {'TFLM head':>10} {'ratio':>6} "
              f"{'weights':>8} {'.text':>7} {'.rodata':>8} {'codegen':>8}")
    print(header)
    print("-" * len(header))
    for r in rows:
        ratio = r["arena_bytes"] / r["tflm_arena_total_bytes"]
        print(f"{r['model']:<24} {r['arena_bytes']:>9} {r['tflm_arena_total_bytes']:>11} "
              f"{r['tflm_arena_head_bytes']:>10} {ratio:>6.2f} {r['weight_bytes']:>8} "
              f"{r['code_text_bytes']:>7} {r['code_rodata_bytes'] + r['weights_rodata_bytes']:>8} "
              f"{r['codegen_seconds']:>7.2f}s")
    print("\narena and TFLM figures in bytes; TFLM's on this x86-64 host (tflite-micro package); "
          ".text/.rodata: arm-none-eabi-gcc, the firmware's flags for qemu-cortex-m4")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", default=str(REPO / "benchmarks" / "results" / "codegen.json"))
    args = parser.parse_args(argv)
    rows = []
    for name in MODELS:
        print(f"measuring {name} ...", file=sys.stderr)
        rows.append(measure(name))
    print_table(rows)
    Path(args.json).parent.mkdir(parents=True, exist_ok=True)
    Path(args.json).write_text(json.dumps(rows, indent=2) + "\n")
    print(f"\nwrote {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
