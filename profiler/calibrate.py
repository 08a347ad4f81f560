"""``tinyflow calibrate``: measure the calibration models on a board, fit the cost model.

For every calibration model (calibration_models.py, never the MLPerf models) the
firmware stage builds, runs and times each layer on the device. Then:

- each kernel variant's cycle coefficients: least squares over its layers
  (costs.fit_kernels);
- the per-inference overhead outside the layers: median of (whole - sum of layers);
- each variant's code bytes: mean size of its layers' functions in the ELF;
- runtime flash and RAM: what the image holds besides weights, layer code, arena
  and stack (least squares on a constant plus the buffered input's bytes).
"""

from __future__ import annotations

import statistics
from pathlib import Path

import numpy as np

import tinyflow
from tinyflow.errors import CalibrationError, FirmwareSizeError
from tinyflow.codegen.ir import load_model
from tinyflow.codegen import generate
from tinyflow.profiler.board import board_limits
from tinyflow.profiler.calibration_models import calibration_models
from tinyflow.common import cache_dir
from tinyflow.profiler.costs import CostModel, costs_dir, fit_kernels, timed_code_fingerprint
from tinyflow.profiler.device import run_on_device
from tinyflow.profiler.layers import layer_facts


def calibrate(board: str, output: str | Path | None = None, progress=print, *,
              port: str | None = None, emulate: bool = False):
    """Calibrate ``board``'s cost model; returns (CostModel, path written, report text)."""
    limits = board_limits(board)
    samples, overheads, flash_rows, ram_rows, code_sizes = [], [], [], [], {}
    used, notes = [], []
    for name, tflite in calibration_models(cache_dir("calibration-models")):
        generated = generate(load_model(tflite, name))    # as the firmware will build it
        facts = layer_facts(generated)
        try:
            run = run_on_device(tflite, limits.name, port=port, emulate=emulate)
        except FirmwareSizeError as exc:    # a small board: calibrate on what fits
            notes.append(f"skipped {name}: {exc}")
            progress(notes[-1])
            continue
        used.append(name)
        measured = run.measurement
        if len(measured.layer_counts) != len(facts):
            raise CalibrationError(f"{name}: the device timed {len(measured.layer_counts)} "
                                   f"layers, the model has {len(facts)}")
        progress(f"{name}: {len(facts)} layers, {measured.total_count:,.0f} {limits.time_unit}")
        samples += list(zip(facts, measured.layer_counts))
        overheads.append(measured.total_count - sum(measured.layer_counts))
        for layer in facts:
            code = run.layer_code_bytes.get(layer.index, 0) - layer.table_bytes
            code_sizes.setdefault(layer.kernel, []).append(max(code, 0))
        weights = sum(layer.weight_bytes for layer in facts)
        flash_rows.append(measured.flash_bytes - weights - sum(run.layer_code_bytes.values()))
        ram_rows.append((run.input_bytes,
                         measured.ram_bytes - generated.plan.arena_bytes - limits.stack_bytes))

    if not used:
        raise CalibrationError(f"no calibration model fits {limits.name}")
    kernels, skipped = fit_kernels(samples)
    notes += [f"not calibrated: {reason}" for reason in skipped]
    for name, kernel in kernels.items():
        kernel.code_bytes = float(np.mean(code_sizes[name]))
    input_bytes = np.array([[1.0, row[0]] for row in ram_rows])
    ram_fit, *_ = np.linalg.lstsq(input_bytes, np.array([row[1] for row in ram_rows]),
                                  rcond=None)
    layers = len(samples)
    cost = CostModel(
        core=limits.core, unit=limits.time_unit, kernels=kernels,
        invoke_cycles=max(0.0, statistics.median(overheads)),
        runtime_flash_bytes=statistics.median(flash_rows),
        runtime_ram_bytes=float(ram_fit[0]), ram_per_input_byte=float(ram_fit[1]),
        provenance={
            "board": limits.name,
            "models": used,
            "layers": layers,
            "tinyflow_version": tinyflow.__version__,
            "sources": timed_code_fingerprint(),
            "summary": f"calibrated on {limits.name} with {len(used)} models, {layers} layers",
        },
    )
    path = cost.save(output or costs_dir() / f"{limits.name}.json")
    cost.path = str(path)
    return cost, path, "\n".join([fit_report(cost, samples)] + notes)


def fit_report(cost: CostModel, samples) -> str:
    """Coefficients per kernel and how well they fit the calibration layers."""
    lines = [f"{'kernel':<18} {'layers':>6} {'median err':>10} {'max err':>8}  coefficients "
             f"({cost.unit} per unit)"]
    by_kernel: dict[str, list[float]] = {}
    for layer, measured in samples:
        estimate = cost.layer_cycles(layer)
        if estimate is None:
            continue
        by_kernel.setdefault(layer.kernel, []).append(abs(estimate - measured) / max(measured, 1))
    for name, kernel in sorted(cost.kernels.items()):
        errors = by_kernel[name]
        terms = ", ".join(f"{value:.4g}*{feature}" for feature, value in
                          kernel.coefficients.items() if value)
        lines.append(f"{name:<18} {len(errors):>6} {statistics.median(errors):>10.1%} "
                     f"{max(errors):>8.1%}  {terms}")
    lines.append(f"per inference: {cost.invoke_cycles:,.0f} {cost.unit} outside the layers; "
                 f"runtime flash {cost.runtime_flash_bytes:,.0f} B, runtime RAM "
                 f"{cost.runtime_ram_bytes:,.0f} B + {cost.ram_per_input_byte:.2f} B per input "
                 "byte")
    return "\n".join(lines)
