"""Profiler accuracy: the cost model's estimates against the device, per MLPerf Tiny model.

For each MLPerf Tiny model (held out: calibration never sees them) the firmware is
built and run on the board; the static profile's estimates are compared with what
the device measured: total latency, each layer's latency (median / 90th percentile
/ max relative error), flash and RAM.

    .venv/bin/python benchmarks/profile_accuracy.py [--board qemu-cortex-m4]
        [--costs FILE] [--json benchmarks/results/profile_accuracy.json]

The models are read from $TINYFLOW_MLPERF_DIR (default ../shared/models/mlperf-tiny).

Without --costs the board's cost model is used (calibrated cache, else shipped);
run `tinyflow calibrate --board B` first for a fresh one.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
MODELS_DIR = Path(os.environ.get("TINYFLOW_MLPERF_DIR",
                                 REPO.parent / "shared" / "models" / "mlperf-tiny"))
MODELS = ["kws_ref_model", "vww_96_int8", "pretrainedResnet_quant", "ad01_int8"]


def evaluate(path: Path, board: str, costs) -> dict:
    from tinyflow.profiler import profile
    from tinyflow.profiler.device import measure_model

    measurement = measure_model(path, board)
    result = profile(path, board=board, costs=costs, measurement=measurement)
    errors = [abs(layer.error) for layer in result.layers if layer.error is not None]
    return {
        "model": result.model_name,
        "layers": len(result.layers),
        "estimated": result.estimated_count,
        "measured": result.measured_count,
        "unit": result.board.time_unit,
        "total_error": result.estimated_count / result.measured_count - 1,
        "layer_error_median": statistics.median(errors),
        "layer_error_p90": float(np.percentile(errors, 90)),
        "layer_error_max": max(errors),
        "flash_estimated": result.estimated_flash_bytes,
        "flash_measured": measurement.flash_bytes,
        "flash_error": result.estimated_flash_bytes / measurement.flash_bytes - 1,
        "ram_estimated": result.estimated_ram_bytes,
        "ram_measured": measurement.ram_bytes,
        "ram_error": result.estimated_ram_bytes / measurement.ram_bytes - 1,
        "per_layer": [{"index": layer.facts.index, "op": layer.facts.op,
                       "kernel": layer.facts.kernel, "estimated": layer.estimated,
                       "measured": layer.measured, "error": layer.error}
                      for layer in result.layers],
        "cost_model": result.cost_model.path,
        "warnings": result.warnings,
    }


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--board", default="qemu-cortex-m4")
    parser.add_argument("--costs", help="cost-model JSON (default: the board's)")
    parser.add_argument("--json", default=str(REPO / "benchmarks/results/profile_accuracy.json"))
    args = parser.parse_args(argv)

    rows = [evaluate(MODELS_DIR / f"{name}.tflite", args.board, args.costs) for name in MODELS]
    header = (f"{'model':<24} {'estimated':>12} {'measured':>12} {'total':>7} "
              f"{'layer med':>9} {'p90':>6} {'max':>6} {'flash est/meas':>17} {'flash':>6} "
              f"{'RAM est/meas':>15} {'RAM':>6}")
    print(f"{args.board}, {rows[0]['unit']}; cost model {rows[0]['cost_model']}")
    print(header)
    for r in rows:
        print(f"{r['model']:<24} {r['estimated']:>12,.0f} {r['measured']:>12,.0f} "
              f"{r['total_error']:>+7.1%} {r['layer_error_median']:>9.1%} "
              f"{r['layer_error_p90']:>6.1%} {r['layer_error_max']:>6.1%} "
              f"{r['flash_estimated']:>8,}/{r['flash_measured']:<8,} {r['flash_error']:>+6.1%} "
              f"{r['ram_estimated']:>7,}/{r['ram_measured']:<7,} {r['ram_error']:>+6.1%}")
    for warning in sorted({w for r in rows for w in r["warnings"]}):
        print(f"warning: {warning}")
    out = Path(args.json)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({"board": args.board, "models": rows}, indent=2,
                              sort_keys=True) + "\n")
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
