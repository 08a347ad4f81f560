"""Benchmark: `tinyflow measure` on the default emulated board (qemu-cortex-m4).

1. Times the whole of `tinyflow measure kws_ref_model --board qemu-cortex-m4 -n 10`
   (build, start QEMU, 10 inferences over serial, TFLM check): target under 15 s.
   It runs twice: cold (build cache emptied) and warm (cached firmware).
2. For each MLPerf Tiny model, guest instructions per inference on the baseline's
   input (docs/baseline-tflm.md: LCG bytes from s = 0x12345678), next to TFLM's
   figures from that document, and the output bytes next to the ones listed there.
   Memory beside TFLM + CMSIS-NN's: tinyflow's arena includes every layer's scratch
   (TFLM's arena does too); total static RAM is arena + I/O buffer + stack high-water
   for tinyflow, arena + stack high-water for TFLM (its input is copied into the arena).

Writes JSON (default benchmarks/results/measure_qemu.json) and prints a table.
Usage: .venv/bin/python benchmarks/measure_qemu.py [--json PATH] [--skip-models]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
MODELS_DIR = Path(os.environ.get("TINYFLOW_MLPERF_DIR",
                                 REPO.parent / "shared" / "models" / "mlperf-tiny"))
BOARD = "qemu-cortex-m4"
# Issue 12's goals: instructions <= 0.7x TFLM + CMSIS-NN's, arena + scratch <= 0.6x its arena.
INSTRUCTION_GOAL, ARENA_GOAL = 0.7, 0.6

# docs/baseline-tflm.md: TFLM on QEMU mps2-an386, instructions per inference (second
# inference timed), arena used and stack high-water (with CMSIS-NN), and the output
# bytes for the LCG input.
# flash: TFLM + CMSIS-NN's .text + model in flash + other .rodata from the same table.
TFLM_BASELINE = {
    "kws_ref_model": dict(reference=43_040_800, cmsis_nn=7_696_980, arena=22_820, stack=1_412,
                          macs=2_656_768, flash=93_472 + 53_936 + 12_893,
                          outputs=[-128, -128, -128, -128, -128, -128, -128, -128, -128, 127,
                                   -128, -128]),
    "vww_96_int8": dict(reference=100_253_045, cmsis_nn=24_103_295, arena=100_708,
                        stack=1_412, macs=7_489_664, flash=93_472 + 333_288 + 12_893,
                        outputs=[120, -120]),
    "pretrainedResnet_quant": dict(reference=107_402_625, cmsis_nn=29_866_360, arena=54_996,
                                   stack=1_412, macs=12_501_632,
                                   flash=88_288 + 98_496 + 12_653,
                                   outputs=[-128, -127, -90, -38, -128, -128, -1, -128, -127,
                                            -128]),
    "ad01_int8": dict(reference=1_952_825, cmsis_nn=583_450, arena=2_580, stack=916,
                      macs=264_192, flash=38_336 + 276_976 + 9_825,
                      outputs=[-73, -23, 0, 24, 23, 26, 29, 39, 23, 30, 32, 33, 27, 33, 30,
                               31]),
}


def time_cli_measure(cold: bool) -> float:
    """Wall time of `tinyflow measure` for KWS, 10 inferences, as a user runs it."""
    env = dict(os.environ)
    cache = None
    if cold:
        cache = tempfile.mkdtemp(prefix="tinyflow-bench-cache-")
        env["TINYFLOW_CACHE"] = cache
    started = time.perf_counter()
    result = subprocess.run([str(REPO / ".venv/bin/tinyflow"), "measure",
                             str(MODELS_DIR / "kws_ref_model.tflite"), "--board", BOARD,
                             "-n", "10"], env=env, capture_output=True, text=True)
    elapsed = time.perf_counter() - started
    if cache:
        shutil.rmtree(cache, ignore_errors=True)
    if result.returncode != 0:
        sys.exit(f"tinyflow measure failed:\n{result.stderr}")
    return elapsed


def measure_model(name: str) -> dict:
    from tinyflow.codegen import generate
    from tinyflow.codegen.ir import load_model
    from tinyflow.firmware.measure import baseline_inputs, measure

    path = MODELS_DIR / f"{name}.tflite"
    inputs = baseline_inputs(load_model(path))
    manifest = generate(load_model(path)).manifest
    from tinyflow.boards import get_board, with_stack
    from tinyflow.firmware.build import build_firmware
    started = time.perf_counter()
    result = measure(path, BOARD, inputs=inputs)
    baseline = TFLM_BASELINE[name]
    # measure() compared every byte with TFLM; also set the device's output bytes
    # next to the ones the baseline document lists.
    ours = result.outputs[0][0].ravel().tolist()
    return dict(
        model=name, instructions=result.latencies[0], bit_exact=result.bit_exact,
        tflm_reference=baseline["reference"], tflm_cmsis_nn=baseline["cmsis_nn"],
        speedup_vs_reference=baseline["reference"] / result.latencies[0],
        ratio_vs_cmsis_nn=result.latencies[0] / baseline["cmsis_nn"],
        instructions_per_mac=result.latencies[0] / baseline["macs"],
        arena=result.arena_bytes, tflm_arena=baseline["arena"],
        arena_vs_tflm=result.arena_bytes / baseline["arena"],
        ram_total=(result.arena_bytes + result.breakdown.get("input_buffer", 0)
                   + result.stack_used_bytes),
        tflm_ram_total=baseline["arena"] + baseline["stack"],
        flash=result.flash_bytes, tflm_flash=baseline["flash"],
        # the whole static RAM of a build whose stack is sized from this high-water
        stack_reserved=result.suggested_stack_bytes,
        static_ram_sized_stack=build_firmware(
            path, with_stack(get_board(BOARD), result.suggested_stack_bytes)).ram_bytes,
        weights=result.breakdown.get("weights", 0), ram=result.ram_bytes,
        stack=result.stack_used_bytes,
        instruction_goal=INSTRUCTION_GOAL * baseline["cmsis_nn"],
        arena_goal=ARENA_GOAL * baseline["arena"],
        outputs_match_baseline_doc=ours[:len(baseline["outputs"])] == baseline["outputs"],
        seconds=time.perf_counter() - started,
        layers=[dict(index=entry["index"], op=entry["op"], kernel=entry["variant"],
                     in_place=entry["in_place"], macs=entry["macs"], instructions=layer.count,
                     instructions_per_mac=layer.count / entry["macs"] if entry["macs"] else None)
                for layer, entry in zip(result.layers, manifest["layers"])],
    )


def print_layers(row: dict) -> None:
    """Per layer: kernel, MACs, instructions and instructions per MAC."""
    print(f"\n{row['model']}: per layer")
    print(f"{'#':>3}  {'op':<18}{'kernel':<20}{'MACs':>11}{'instructions':>14}{'instr/MAC':>11}")
    for layer in row["layers"]:
        per_mac = (f"{layer['instructions_per_mac']:>11.2f}"
                   if layer["instructions_per_mac"] is not None else f"{'':>11}")
        place = "  in place" if layer["in_place"] else ""
        print(f"{layer['index']:>3}  {layer['op']:<18}{layer['kernel']:<20}{layer['macs']:>11,}"
              f"{layer['instructions']:>14,}{per_mac}{place}")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", default=str(REPO / "benchmarks/results/measure_qemu.json"))
    parser.add_argument("--skip-models", action="store_true",
                        help="only time `tinyflow measure` on KWS")
    args = parser.parse_args(argv)

    report = dict(board=BOARD, unit="instructions (QEMU -icount shift=3)")
    print(f"timing `tinyflow measure kws_ref_model --board {BOARD} -n 10` ...", file=sys.stderr)
    report["kws_measure_cold_s"] = time_cli_measure(cold=True)
    report["kws_measure_warm_s"] = time_cli_measure(cold=False)
    report["target_s"] = 15.0

    rows = []
    if not args.skip_models:
        for name in TFLM_BASELINE:
            print(f"measuring {name} on the baseline input ...", file=sys.stderr)
            rows.append(measure_model(name))
    report["models"] = rows

    Path(args.json).parent.mkdir(parents=True, exist_ok=True)
    Path(args.json).write_text(json.dumps(report, indent=2, sort_keys=True) + "\n")

    print(f"tinyflow measure, KWS, 10 inferences on {BOARD}: "
          f"{report['kws_measure_cold_s']:.1f} s cold (build included), "
          f"{report['kws_measure_warm_s']:.1f} s warm (target < 15 s)")
    if rows:
        header = (f"{'model':<24}{'tinyflow instr':>15}{'goal':>12}{'TFLM ref':>13}"
                  f"{'CMSIS-NN':>12}{'vs CMSIS':>9}{'instr/MAC':>10}{'arena+scr':>10}{'goal':>8}"
                  f"{'TFLM arena':>11}{'RAM total':>10}{'TFLM RAM':>9}{'static RAM':>11}"
                  f"{'flash':>9}"
                  f"{'TFLM flash':>11}  outputs")
        print(header)
        print("-" * len(header))
        for r in rows:
            check = ("bit-exact, = doc" if r["bit_exact"] and r["outputs_match_baseline_doc"]
                     else f"bit_exact={r['bit_exact']} doc={r['outputs_match_baseline_doc']}")
            met = lambda ok: "+" if ok else "!"      # noqa: E731  (goal met / missed)
            print(f"{r['model']:<24}{r['instructions']:>15,}"
                  f"{met(r['instructions'] <= r['instruction_goal'])}"
                  f"{r['instruction_goal']:>11,.0f}{r['tflm_reference']:>13,}"
                  f"{r['tflm_cmsis_nn']:>12,}{r['ratio_vs_cmsis_nn']:>8.2f}x"
                  f"{r['instructions_per_mac']:>10.2f}{r['arena']:>10,}"
                  f"{met(r['arena'] <= r['arena_goal'])}{r['arena_goal']:>7,.0f}"
                  f"{r['tflm_arena']:>11,}{r['ram_total']:>10,}{r['tflm_ram_total']:>9,}"
                  f"{r['static_ram_sized_stack']:>11,}"
                  f"{r['flash']:>9,}{r['tflm_flash']:>11,}  {check}")
        print("goal: issue 12's (instructions <= 0.7x TFLM+CMSIS-NN, arena+scratch <= 0.6x its "
              "arena; + met, ! missed); vs CMSIS: tinyflow / TFLM+CMSIS-NN (lower is faster); "
              "arena+scr: tinyflow's arena with every layer's scratch; RAM total: arena + input "
              "buffer + stack high-water (TFLM: arena + stack high-water); static RAM: every "
              "byte reserved (arena, I/O buffers, stack sized with --stack from the "
              "high-water, other .bss) in a real build; flash: the whole "
              "image (TFLM: .text + model + other .rodata, with CMSIS-NN)")
        for r in rows:
            print_layers(r)
    print(f"wrote {args.json}", file=sys.stderr)
    ok = report["kws_measure_warm_s"] < 15.0 and all(
        r["bit_exact"] and r["outputs_match_baseline_doc"] for r in rows)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
