"""Benchmark: the closed loop on the digits example, measured on qemu-cortex-m4.

1. The baseline: the example's default model (filters=16, width=1.0), trained,
   quantized (PTQ) and measured on the device against the example's budget.
2. 50% structured pruning of the baseline (fine-tuned, PTQ): MACs, flash and
   measured instructions against the baseline's.
3. The most aggressive setting (width 0.5 and 50% pruning): int8 accuracy with
   post-training quantization and with quantization-aware training.
4. An 8-trial loop (fresh study): its time, the best trial, and whether its int8
   accuracy on the device is within 1.5 points of the float baseline.
Every device run checks that the device's outputs equal the host's int8 outputs
byte for byte, so device accuracy equals host accuracy on the same samples.

Writes JSON (default benchmarks/results/loop.json) and prints a table.
Usage: .venv/bin/python benchmarks/loop_bench.py [--json PATH] [--trials 8]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

REPO = Path(__file__).resolve().parents[1]
EXAMPLE = REPO / "examples" / "digits"


def device_figures(name: str, tflite: bytes, dataset, project) -> dict:
    """Measure an int8 model on the project's board over the whole test set."""
    from tinyflow.codegen.ir import load_model
    from tinyflow.firmware.measure import measure
    from tinyflow.loop import host_int8_outputs
    from tinyflow.training import top1_accuracy
    from tinyflow.profiler import profile

    ir = load_model(tflite, name=name)
    host, x = host_int8_outputs(tflite, ir, dataset.x_test)
    result = measure(tflite, project.board, inputs=[x], locate_divergence=False)
    device = result.outputs[0]
    report = profile(ir, project.board, project.budget, measurement=result)
    return dict(
        macs=report.total_macs, instructions=result.mean, flash_bytes=result.flash_bytes,
        ram_bytes=result.ram_bytes, weight_bytes=report.weight_bytes,
        accuracy_host_int8=top1_accuracy(host, dataset.y_test), accuracy_device=top1_accuracy(device, dataset.y_test),
        device_equals_host=result.bit_exact and device.tobytes() == host.tobytes(),
        budget_pass=report.passed, samples=int(x.shape[0]))


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", default=str(REPO / "benchmarks/results/loop.json"))
    parser.add_argument("--trials", type=int, default=8)
    args = parser.parse_args(argv)

    from tinyflow import compress, datasets
    from tinyflow.loop import load_project, run_loop
    from tinyflow.training import accuracy, load_builder, train

    project = load_project(EXAMPLE)
    builder = load_builder(project.builder, project.directory)
    data = datasets.digits()
    epochs = project.train.get("epochs", 30)

    def say(message):
        print(message, file=sys.stderr, flush=True)

    say("baseline: training the default model")
    baseline = train(builder, data, epochs=epochs)
    base_float = accuracy(baseline.model, data.x_test, data.y_test)
    rep = data.x_train[:project.representative_samples]
    base = device_figures("baseline", compress.quantize(baseline.model, rep), data, project)

    say("50% structured pruning of the baseline, fine-tuned")
    pruned_model = train(compress.prune_structured(baseline.model, 0.5), data,
                         epochs=project.fine_tune_epochs).model
    pruned = device_figures("pruned50", compress.quantize(pruned_model, rep), data, project)

    say("most aggressive setting: width 0.5, 50% pruning; PTQ vs QAT")
    narrow = train(builder, data, epochs=epochs, width=0.5).model
    aggressive = train(compress.prune_structured(narrow, 0.5), data,
                       epochs=project.fine_tune_epochs).model
    aggressive_float = accuracy(aggressive, data.x_test, data.y_test)
    ptq = device_figures("aggressive-ptq", compress.quantize(aggressive, rep), data, project)
    qat = device_figures("aggressive-qat", compress.quantization_aware(
        aggressive, data.x_train, data.y_train, rep, epochs=project.fine_tune_epochs),
        data, project)

    say(f"the loop: {args.trials} trials on a fresh study")
    with tempfile.TemporaryDirectory(prefix="tinyflow-loop-bench-") as folder:
        shutil.copy(EXAMPLE / "model.py", folder)
        shutil.copy(EXAMPLE / "tinyflow.toml", folder)
        started = time.perf_counter()
        result = run_loop(Path(folder) / "tinyflow.toml", trials=args.trials,
                          progress=say)
        loop_seconds = time.perf_counter() - started
        loop = result.to_dict()
        best = result.best
        best_figures = None
        if best is not None:
            best_figures = device_figures("best", Path(best.model).read_bytes(), data, project)

    report = dict(
        board=project.board, budget=project.budget.to_dict(),
        baseline=dict(params=dict(filters=16, width=1.0), accuracy_float=base_float, **base),
        pruned_50=dict(pruned, macs_cut=1 - pruned["macs"] / base["macs"],
                       flash_cut=1 - pruned["flash_bytes"] / base["flash_bytes"],
                       instructions_cut=1 - pruned["instructions"] / base["instructions"]),
        aggressive=dict(params=dict(width=0.5, prune=0.5), accuracy_float=aggressive_float,
                        ptq=ptq, qat=qat),
        loop=dict(trials=args.trials, seconds=loop_seconds, best=loop["best"],
                  best_on_full_test_set=best_figures,
                  best_within_1_5_points=(best_figures is not None and base_float
                                          - best_figures["accuracy_device"] <= 0.015),
                  table=loop["trials"]),
    )
    Path(args.json).parent.mkdir(parents=True, exist_ok=True)
    Path(args.json).write_text(json.dumps(report, indent=2, sort_keys=True, default=float) + "\n")

    def row(name, figures, accuracy_float=None):
        return (f"{name:<28}{figures['macs']:>10,}{figures['flash_bytes']:>10,}"
                f"{figures['ram_bytes']:>9,}{figures['instructions']:>13,.0f}"
                f"{'' if accuracy_float is None else f'{accuracy_float:.1%}':>8}"
                f"{figures['accuracy_host_int8']:>8.1%}{figures['accuracy_device']:>8.1%}"
                f"{'yes' if figures['device_equals_host'] else 'NO':>7}"
                f"{'PASS' if figures['budget_pass'] else 'fail':>7}")

    print(f"digits on {project.board}, budget {project.budget.to_dict()}, "
          f"{base['samples']} test samples on the device")
    header = (f"{'model':<28}{'MACs':>10}{'flash':>10}{'RAM':>9}{'instructions':>13}"
              f"{'float':>8}{'int8':>8}{'device':>8}{'=host':>7}{'budget':>7}")
    print(header)
    print("-" * len(header))
    print(row("baseline (16, width 1.0)", base, base_float))
    print(row("baseline pruned 50%", pruned))
    print(row("width 0.5 + 50%, PTQ", ptq, aggressive_float))
    print(row("width 0.5 + 50%, QAT", qat, aggressive_float))
    if best_figures:
        print(row(f"loop best (trial {best.number})", best_figures))
    print(f"\npruning 50%: MACs -{report['pruned_50']['macs_cut']:.0%}, flash "
          f"-{report['pruned_50']['flash_cut']:.0%}, measured instructions "
          f"-{report['pruned_50']['instructions_cut']:.0%}")
    print(f"QAT vs PTQ at the most aggressive setting: {qat['accuracy_device']:.1%} vs "
          f"{ptq['accuracy_device']:.1%}")
    print(f"{args.trials}-trial loop: {loop_seconds / 60:.1f} min; best: "
          + (f"trial {best.number} {best.params}, device accuracy "
             f"{best_figures['accuracy_device']:.1%} (float baseline {base_float:.1%})"
             if best else "none meets the budget"))
    say(f"wrote {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
