"""Benchmark: 2:4 structured sparsity on the anomaly-detection autoencoder (ad01).

1. Prunes every FULLY_CONNECTED weight matrix of ad01_int8.tflite to 2:4 by magnitude
   (in each aligned group of four int8 weights along the depth, the two largest kept),
   rewriting the weight buffers in the .tflite (TFLite's flatbuffer object API, as
   tflite-micro's package ships it).
2. Measures the pruned model on qemu-cortex-m4 twice (tinyflow.firmware.measure): every
   FC layer on the dense row quads ("dense"), then as prepare chooses (the sparse layout
   where it qualifies and pays: "sparse"); both runs checked byte for byte against TFLM
   running the pruned model.
3. Prints flash, weight bytes, arena, instructions per inference and bit-exactness, and the
   per-layer instructions and kernel of both runs; writes JSON.

Usage: .venv/bin/python benchmarks/sparsity.py [--model PATH] [--json PATH] [-n COUNT]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
MODELS_DIR = Path(os.environ.get("TINYFLOW_MLPERF_DIR",
                                 REPO.parent / "shared" / "models" / "mlperf-tiny"))
BOARD = "qemu-cortex-m4"


def prune_fully_connected(model_bytes: bytes) -> tuple[bytes, int]:
    """The model with every FULLY_CONNECTED int8 weight matrix pruned 2:4 by magnitude;
    and how many matrices were pruned."""
    import flatbuffers
    from tflite_micro.tensorflow.lite.micro.python.schema_py_generated import (BuiltinOperator,
                                                                               ModelT)

    from tinyflow.codegen.ops.sparse import prune_by_magnitude

    model = ModelT.InitFromPackedBuf(model_bytes)
    pruned = 0
    for subgraph in model.subgraphs:
        for op in subgraph.operators:
            code = model.operatorCodes[op.opcodeIndex]
            if max(code.builtinCode, code.deprecatedBuiltinCode) != BuiltinOperator.FULLY_CONNECTED:
                continue
            weights = subgraph.tensors[op.inputs[1]]
            buffer = model.buffers[weights.buffer]
            if buffer.data is None or len(weights.shape) != 2:
                continue            # weights computed at run time, or not a matrix
            rows = np.frombuffer(bytes(bytearray(buffer.data)), dtype=np.int8)
            rows = rows.reshape(tuple(weights.shape))
            buffer.data = prune_by_magnitude(rows, keep=2).astype(np.int8).view(np.uint8).ravel()
            pruned += 1
    builder = flatbuffers.Builder(1 << 20)
    builder.Finish(model.Pack(builder), file_identifier=b"TFL3")
    return bytes(builder.Output()), pruned


def dense_tuning(model_bytes: bytes) -> dict[str, str]:
    """Tuning choices that put every single-row FC layer on the dense row quads."""
    from tinyflow.codegen import generate
    from tinyflow.codegen.ir import load_model
    from tinyflow.codegen.ops.base import Layer
    from tinyflow.codegen.tuning import layer_key

    generated = generate(load_model(model_bytes), tuning={})
    ir = generated.model
    return {layer_key(Layer(ir.operators[entry["index"]], ir), "kernel"): "row"
            for entry in generated.manifest["layers"]
            if "sparse" in entry.get("choices", {}).get("kernel", {}).get("options", [])}


def run(model_bytes: bytes, tuning: dict, count: int, label: str) -> dict:
    from tinyflow.codegen import generate
    from tinyflow.codegen.ir import load_model
    from tinyflow.firmware.measure import measure

    manifest = generate(load_model(model_bytes), tuning=tuning).manifest
    result = measure(model_bytes, BOARD, count=count, tuning=tuning, name=f"ad01_{label}")
    return dict(
        kernel=label, instructions=int(np.median(result.latencies)), bit_exact=result.bit_exact,
        flash=result.flash_bytes, weights=result.breakdown.get("weights", 0),
        arena=result.arena_bytes,
        layers=[dict(index=entry["index"], op=entry["op"], variant=entry["variant"],
                     instructions=layer.count)
                for layer, entry in zip(result.layers, manifest["layers"])])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default=str(MODELS_DIR / "ad01_int8.tflite"))
    parser.add_argument("--json", default=str(REPO / "benchmarks/results/sparsity.json"))
    parser.add_argument("-n", "--count", type=int, default=3, help="inferences per run")
    args = parser.parse_args()

    pruned, matrices = prune_fully_connected(Path(args.model).read_bytes())
    print(f"pruned {matrices} FULLY_CONNECTED weight matrices 2:4 by magnitude", file=sys.stderr)
    runs = [run(pruned, dense_tuning(pruned), args.count, "dense"),
            run(pruned, {}, args.count, "sparse")]

    print(f"\n{'kernel':8} {'flash':>9} {'weights':>9} {'arena':>7} {'instructions':>13} bit-exact")
    for r in runs:
        print(f"{r['kernel']:8} {r['flash']:>9,} {r['weights']:>9,} {r['arena']:>7,} "
              f"{r['instructions']:>13,} {'yes' if r['bit_exact'] else 'NO'}")
    dense, sparse = runs
    print(f"sparse/dense: flash {sparse['flash'] / dense['flash']:.3f}, weights "
          f"{sparse['weights'] / dense['weights']:.3f}, instructions "
          f"{sparse['instructions'] / dense['instructions']:.3f}")
    print(f"\n{'#':>3} {'dense':>9} {'sparse':>9}  sparse variant")
    for a, b in zip(dense["layers"], sparse["layers"]):
        print(f"{a['index']:>3} {a['instructions']:>9,} {b['instructions']:>9,}  {b['variant']}")

    report = dict(board=BOARD, model=Path(args.model).name, pruned_matrices=matrices,
                  pattern="2:4 by magnitude", runs=runs)
    Path(args.json).parent.mkdir(parents=True, exist_ok=True)
    Path(args.json).write_text(json.dumps(report, indent=2, sort_keys=True) + "\n")
    print(f"\nwrote {args.json}", file=sys.stderr)


if __name__ == "__main__":
    main()
