"""The closed loop: train, compress, profile, measure on the device, feed back, search.

Each trial of the search (Optuna, multi-objective: accuracy up; latency, RAM and
flash down; the budget as constraints):

1. trains the project's model with the trial's parameters;
2. prunes it (structured, the model really shrinks) and fine-tunes, quantizes it
   to int8 (post-training or quantization-aware) and keeps the ``.tflite``;
3. measures its int8 accuracy on the host (TFLM) and profiles it statically with
   the board's cost model, corrected by what earlier trials measured;
4. when the estimates are within reach of the budget, builds and runs it on the
   board: the test samples go over serial, every output must equal the host's
   int8 output byte for byte, and latency, RAM, flash and accuracy come from the
   device;
5. records everything in the study (a SQLite file, or any Optuna RDB URL shared
   by several workers, each with its own board).

A failing trial (a builder error, a board that stops answering) is recorded as
failed with its error, and the search goes on; nothing measured is lost.
"""

from __future__ import annotations

import json
import os
import socket
import time
import traceback
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np

from tinyflow.common import publish_file
from tinyflow.errors import TinyflowError
from tinyflow.project import Project, load_project
from tinyflow.training import top1_accuracy

Progress = Callable[[str], None]


# Searched parameters the loop itself applies; every other one goes to the builder.
RESERVED_PARAMETERS = ("quantization", "prune", "resolution")


@dataclass
class TrialRecord:
    """What one trial made and measured."""

    number: int
    params: dict
    state: str = "running"                  # complete, failed
    accuracy_float: float | None = None     # the float model (after pruning, fine-tuned)
    accuracy_int8: float | None = None      # the int8 model on the host (TFLM), test set
    accuracy_device: float | None = None    # the int8 model on the device, device samples
    accuracy_int8_device_samples: float | None = None   # host int8 on the same samples
    latency: dict | None = None             # {"value", "unit", "source": measured|estimated}
    latency_estimated: float | None = None  # in the board's unit, from the cost model
    latency_measured: float | None = None
    ram_bytes: int | None = None
    flash_bytes: int | None = None
    ram_estimated: int | None = None
    flash_estimated: int | None = None
    macs: int | None = None
    budget_pass: bool | None = None
    on_device: bool = False
    model: str | None = None                # path of the trial's int8 .tflite
    worker: str = ""
    seconds: float = 0.0
    error: str | None = None
    same_as: int | None = None              # an earlier trial with the same parameters

    @property
    def accuracy(self) -> float | None:
        """The accuracy the search optimizes: the device's when measured."""
        return self.accuracy_device if self.accuracy_device is not None else self.accuracy_int8


# --- cost-model feedback ---------------------------------------------------------
@dataclass
class CostFeedback:
    """Per kernel variant, how the device's layer counts compare with the cost
    model's estimates so far: later trials' estimates are scaled by it. Kept in the
    study, so every worker learns from every device run."""

    measured: dict[str, float] = field(default_factory=dict)
    estimated: dict[str, float] = field(default_factory=dict)

    def add(self, profile, measurement) -> None:
        for layer, count in zip(profile.layers, measurement.layer_counts):
            if layer.estimated:
                kernel = layer.facts.kernel
                self.measured[kernel] = self.measured.get(kernel, 0.0) + count
                self.estimated[kernel] = self.estimated.get(kernel, 0.0) + layer.estimated

    def corrected(self, cost_model):
        """A copy of ``cost_model`` with every measured kernel's coefficients scaled."""
        if cost_model is None or not self.measured:
            return cost_model
        import copy

        model = copy.deepcopy(cost_model)
        for kernel, measured in self.measured.items():
            if kernel in model.kernels and self.estimated.get(kernel):
                scale = measured / self.estimated[kernel]
                model.kernels[kernel].coefficients = {
                    name: value * scale
                    for name, value in model.kernels[kernel].coefficients.items()}
        return model

    def merged(self, other: "CostFeedback") -> "CostFeedback":
        result = CostFeedback(dict(self.measured), dict(self.estimated))
        for kernel in other.measured:
            result.measured[kernel] = result.measured.get(kernel, 0.0) + other.measured[kernel]
            result.estimated[kernel] = (result.estimated.get(kernel, 0.0)
                                        + other.estimated[kernel])
        return result


# --- one trial ----------------------------------------------------------------------
@dataclass
class Device:
    """Where trials are measured: a board name, and for a real board its port."""

    board: str
    port: str | None = None
    emulate: bool = False


def evaluate(project: Project, params: dict, dataset, device: Device, record: TrialRecord,
             feedback: CostFeedback, progress: Progress) -> CostFeedback:
    """Run one trial's pipeline, filling ``record`` as it goes; returns what this
    trial's device run teaches the cost model (empty if it ran nowhere)."""
    from tinyflow.codegen.ir import load_model
    from tinyflow.profiler import profile
    from tinyflow.profiler.board import board_limits
    from tinyflow.profiler.costs import find_cost_model
    from tinyflow.training import accuracy

    started = time.perf_counter()

    def say(message: str) -> None:
        progress(f"trial {record.number}: {message}")

    if "resolution" in params:                     # the input resolution is searched
        dataset = dataset.resized(float(params["resolution"]))
    model = _float_model(project, params, dataset, say)
    record.accuracy_float = accuracy(model, dataset.x_test, dataset.y_test)
    tflite = _int8_model(project, params, model, dataset, say)
    path = Path(project.models_dir) / f"{project.study}-trial-{record.number}.tflite"
    publish_file(path, tflite)
    record.model = str(path)

    ir = load_model(tflite, name=f"{project.study}-trial-{record.number}")
    host_outputs, x_test = host_int8_outputs(tflite, ir, dataset.x_test)
    record.accuracy_int8 = top1_accuracy(host_outputs, dataset.y_test)

    limits = board_limits(device.board)
    costs = feedback.corrected(find_cost_model(limits))
    estimate = profile(ir, device.board, project.budget, costs=costs)
    record.macs = estimate.total_macs
    record.latency_estimated = estimate.estimated_count
    record.ram_estimated = estimate.estimated_ram_bytes
    record.flash_estimated = estimate.estimated_flash_bytes
    device_run = None
    if _within_reach(estimate, project.budget, project.reach):
        say(f"estimate within reach of the budget: measuring on {device.board}")
        device_run = measure_on_device(project, tflite, x_test, dataset.y_test, host_outputs,
                                       device, record, estimate, progress=say)
        final = profile(ir, device.board, project.budget, costs=costs,
                        measurement=device_run.measurement, accuracy=record.accuracy_device)
    else:
        say("estimate out of reach of the budget: not measured on the device")
        final = estimate
    # What the count is: the device's own unit when measured (an emulated real board
    # counts instructions, as 1 instruction per cycle of its clock), else the estimate's.
    unit = device_run.measurement.unit if device_run else limits.time_unit
    record.latency = dict(value=final.latency_count, unit=unit, seconds=final.latency_s,
                          source="measured" if record.on_device else "estimated")
    record.ram_bytes, record.flash_bytes = final.ram_bytes, final.flash_bytes
    record.budget_pass = final.passed and (
        project.budget.accuracy is None
        or (record.accuracy or 0.0) >= project.budget.accuracy)
    record.state = "complete"
    record.seconds = time.perf_counter() - started
    return device_run.feedback if device_run else CostFeedback()


def _float_model(project: Project, params: dict, dataset, say: Progress):
    """Train the builder's model with the trial's parameters; prune and fine-tune it."""
    from tinyflow import compress
    from tinyflow.training import load_builder, train

    builder_params = {k: v for k, v in params.items() if k not in RESERVED_PARAMETERS}
    settings = dict(project.train)
    seed = settings.pop("seed", 0)
    say(f"training {_describe(builder_params) or 'the model'}")
    model = train(load_builder(project.builder, project.directory), dataset, seed=seed,
                  **settings, **builder_params).model
    prune = float(params.get("prune", project.prune[0]))
    if prune > 0:
        say(f"pruning {prune:.0%} of the filters and units, fine-tuning")
        model = train(compress.prune_structured(model, prune), dataset, seed=seed,
                      epochs=max(project.fine_tune_epochs, 1),
                      batch_size=settings.get("batch_size", 32)).model
    return model


def _int8_model(project: Project, params: dict, model, dataset, say: Progress) -> bytes:
    """The trial's int8 .tflite: post-training or quantization-aware."""
    from tinyflow import compress

    quantization = params.get("quantization", project.quantization[0])
    representative = dataset.x_train[:project.representative_samples]
    say(f"quantizing ({quantization})")
    if quantization == "qat":
        return compress.quantization_aware(
            model, dataset.x_train, dataset.y_train, representative,
            epochs=max(project.fine_tune_epochs, 1),
            batch_size=project.train.get("batch_size", 32), seed=project.train.get("seed", 0))
    return compress.quantize(model, representative)


@dataclass
class _DeviceRun:
    feedback: CostFeedback
    measurement: object


def measure_on_device(project, tflite: bytes, x_test, y_test, host_outputs,
                      device: Device, record: TrialRecord, estimate, progress: Progress):
    """Build, flash (or start the emulator), send the device samples over serial,
    check every output byte against the host's int8 outputs, measure."""
    from tinyflow.firmware.measure import measure

    count = min(project.device_samples, x_test.shape[0])
    samples = x_test[:count]
    result = measure(tflite, device.board, port=device.port, emulate=device.emulate,
                     inputs=[samples], locate_divergence=False, progress=None,
                     name=f"{project.study}-trial-{record.number}")
    device_outputs = result.outputs[0]
    if not result.bit_exact or device_outputs.tobytes() != host_outputs[:count].tobytes():
        raise TinyflowError(f"trial {record.number}: the device's outputs differ from the "
                            f"host's int8 outputs on samples {result.mismatched_samples}")
    record.on_device = True
    record.accuracy_device = top1_accuracy(device_outputs, y_test[:count])
    record.accuracy_int8_device_samples = top1_accuracy(host_outputs[:count], y_test[:count])
    record.latency_measured = result.mean
    progress(f"device: {result.mean:,.0f} {result.unit}, accuracy "
             f"{record.accuracy_device:.1%} on {count} samples (= host int8)")
    feedback = CostFeedback()
    feedback.add(estimate, result)
    return _DeviceRun(feedback, result)


def host_int8_outputs(tflite: bytes, ir, x_float) -> tuple[np.ndarray, np.ndarray]:
    """The int8 model's outputs on the host (TFLM), and the quantized inputs."""
    from tinyflow.codegen.batch import quantize_input
    from tinyflow.reference import ReferenceInterpreter

    x = quantize_input(ir, x_float)
    return ReferenceInterpreter(tflite).run([x])[0], x


def _within_reach(estimate, budget, reach: float) -> bool:
    """Worth a device run: no budgeted figure is estimated above ``reach`` x its limit."""
    pairs = [(estimate.latency_s, budget.latency_s), (estimate.ram_bytes, budget.ram_bytes),
             (estimate.flash_bytes, budget.flash_bytes)]
    return all(limit is None or value is None or value <= reach * limit
               for value, limit in pairs)


def _describe(params: dict) -> str:
    """Parameters in a few characters: the quantization is named by its value."""
    return " ".join(str(v) if k == "quantization" else f"{k}={v}"
                    for k, v in sorted(params.items()))


# --- the search --------------------------------------------------------------------
OBJECTIVES = ("accuracy", "latency", "ram_bytes", "flash_bytes")
DIRECTIONS = ("maximize", "minimize", "minimize", "minimize")


def _open_study(project: Project, storage: str):
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    # The budget reaches the sampler through trial.set_constraint (Optuna 5).
    sampler = optuna.samplers.TPESampler(seed=project.train.get("seed", 0), n_startup_trials=4)
    # Workers starting together on an empty database race to create its tables and
    # the study: the loser's attempt fails once and then finds them there.
    for attempt in range(3):
        try:
            return optuna.create_study(study_name=project.study, storage=storage,
                                       directions=list(DIRECTIONS), sampler=sampler,
                                       load_if_exists=True)
        except Exception as exc:   # SQLAlchemy / driver errors: a bad URL, a race
            error = exc
            if "could not translate host name" in str(exc) or "Connection refused" in str(exc):
                break
            time.sleep(1 + attempt)
    raise TinyflowError(f"study storage {_redact(storage)}: cannot open it: "
                        f"{type(error).__name__}: {str(error).splitlines()[0]}") from error


def _redact(url: str) -> str:
    """A storage URL without its password, for messages."""
    if "@" in url and "://" in url:
        scheme, rest = url.split("://", 1)
        credentials, host = rest.rsplit("@", 1)
        return f"{scheme}://{credentials.split(':')[0]}:***@{host}"
    return url


def run_loop(project: Project | str | Path, *, trials: int | None = None,
             storage: str | None = None, board: str | None = None, port: str | None = None,
             emulate: bool = False, progress: Progress | None = None,
             on_trial: Callable[[TrialRecord], None] | None = None) -> "LoopResult":
    """Run the search until the study holds ``trials`` finished trials (the project's
    count by default): a second call on the same storage resumes where it stopped.
    ``progress`` gets a line per step, ``on_trial`` each finished trial's record."""
    import optuna

    project = project if isinstance(project, Project) else load_project(project)
    progress = progress or (lambda message: None)
    storage = storage or project.storage
    device = Device(board or project.board, port, emulate)
    target = trials or project.trials
    study = _open_study(project, storage)      # an unreachable storage fails first
    dataset = _load_dataset(project)
    worker = f"{socket.gethostname()}:{os.getpid()}:{device.board}"

    def finished() -> int:
        return sum(t.state in (optuna.trial.TrialState.COMPLETE, optuna.trial.TrialState.FAIL)
                   for t in study.get_trials(deepcopy=False))

    while finished() < target:
        _enqueue_untried_choice(study, project)
        trial = study.ask()
        params = {p.name: p.suggest(trial) for p in project.parameters()}
        earlier = _same_parameters(study, trial, params)
        if earlier is not None:
            # The sampler proposed a model already made and measured: training is
            # seeded, so it would be the same model. Tell the sampler its results again.
            for name, value in earlier.constraints.items():
                trial.set_constraint(name, value)
            record = TrialRecord(**dict(earlier.user_attrs["record"], number=trial.number,
                                        worker=worker, seconds=0.0, same_as=earlier.number))
            trial.set_user_attr("record", _jsonable(asdict(record)))
            study.tell(trial, earlier.values)
            progress(f"trial {trial.number}: same parameters as trial {earlier.number}")
            if on_trial:
                on_trial(record)
            continue
        record = TrialRecord(number=trial.number, params=params, worker=worker)
        feedback = CostFeedback(**study.user_attrs.get("cost_feedback",
                                                      {"measured": {}, "estimated": {}}))
        started = time.perf_counter()
        try:
            learned = evaluate(project, params, dataset, device, record, feedback, progress)
        except KeyboardInterrupt:
            study.tell(trial, state=optuna.trial.TrialState.FAIL)
            raise
        except Exception as exc:   # a failed trial is recorded and the search goes on
            record.state = "failed"
            record.error = (str(exc) if isinstance(exc, TinyflowError)
                            else f"{type(exc).__name__}: {exc}")
            record.seconds = time.perf_counter() - started
            trial.set_user_attr("record", _jsonable(asdict(record)))
            trial.set_user_attr("traceback", traceback.format_exc(limit=6))
            study.tell(trial, state=optuna.trial.TrialState.FAIL)
            progress(f"trial {record.number}: FAILED: {record.error}")
            if on_trial:
                on_trial(record)
            continue
        if learned.measured:
            merged = CostFeedback(**study.user_attrs.get(
                "cost_feedback", {"measured": {}, "estimated": {}})).merged(learned)
            study.set_user_attr("cost_feedback", asdict(merged))
        trial.set_user_attr("record", _jsonable(asdict(record)))
        for name, value in _constraints(record, project).items():
            trial.set_constraint(name, value)
        study.tell(trial, [_objective(record, name) for name in OBJECTIVES])
        if on_trial:
            on_trial(record)
    return LoopResult.from_study(project, study)


def _same_parameters(study, trial, params: dict):
    """An earlier complete trial with exactly these parameters, or None."""
    import optuna

    for earlier in study.get_trials(deepcopy=False,
                                    states=(optuna.trial.TrialState.COMPLETE,)):
        if earlier.number != trial.number and earlier.params == params \
                and "record" in earlier.user_attrs \
                and earlier.user_attrs["record"].get("same_as") is None:
            return earlier
    return None


def _enqueue_untried_choice(study, project: Project) -> None:
    """When every searched parameter is a list of choices, try each combination once
    (in order) before the sampler may repeat one: a small grid is covered exactly."""
    import itertools

    parameters = project.parameters()
    if not parameters or any(p.choices is None for p in parameters):
        return
    tried = {tuple(sorted(t.params.items())) for t in study.get_trials(deepcopy=False)}
    for values in itertools.product(*(p.choices for p in parameters)):
        combination = dict(zip((p.name for p in parameters), values))
        if tuple(sorted(combination.items())) not in tried:
            study.enqueue_trial(combination)
            return


def _objective(record: TrialRecord, name: str) -> float:
    if name == "accuracy":
        return float(record.accuracy or 0.0)
    if name == "latency":
        return float(record.latency["value"] or 0.0)
    return float(getattr(record, name) or 0.0)


def _constraints(record: TrialRecord, project: Project) -> dict[str, float]:
    """Relative excess over each budgeted limit: <= 0 where the trial fits."""
    budget, result = project.budget, {}
    if budget.latency_s is not None and record.latency.get("seconds") is not None:
        result["latency"] = record.latency["seconds"] / budget.latency_s - 1
    if budget.ram_bytes is not None:
        result["ram"] = record.ram_bytes / budget.ram_bytes - 1
    if budget.flash_bytes is not None:
        result["flash"] = record.flash_bytes / budget.flash_bytes - 1
    if budget.accuracy is not None:
        result["accuracy"] = budget.accuracy - (record.accuracy or 0.0)
    return result


def _jsonable(value):
    return json.loads(json.dumps(value, default=float))


def _load_dataset(project: Project):
    from tinyflow import datasets

    return datasets.load(project.dataset, **project.dataset_options)


# --- results ------------------------------------------------------------------------
@dataclass
class LoopResult:
    project: Project
    trials: list[TrialRecord]

    @classmethod
    def from_study(cls, project: Project, study) -> "LoopResult":
        records = []
        for trial in study.get_trials(deepcopy=False):
            data = trial.user_attrs.get("record")
            if data is not None:
                records.append(TrialRecord(**data))
        return cls(project, sorted(records, key=lambda r: r.number))

    @property
    def complete(self) -> list[TrialRecord]:
        """Complete trials, each model once (not the repeats of earlier parameters)."""
        return [r for r in self.trials if r.state == "complete" and r.same_as is None]

    @property
    def pareto(self) -> list[TrialRecord]:
        """Trials no other complete trial beats on accuracy, latency, RAM and flash."""
        def beats(a: TrialRecord, b: TrialRecord) -> bool:
            ours = [-_objective(a, "accuracy")] + [_objective(a, n) for n in OBJECTIVES[1:]]
            theirs = [-_objective(b, "accuracy")] + [_objective(b, n) for n in OBJECTIVES[1:]]
            return all(x <= y for x, y in zip(ours, theirs)) and ours != theirs

        done = self.complete
        return [r for r in done if not any(beats(o, r) for o in done if o is not r)]

    @property
    def best(self) -> TrialRecord | None:
        """The most accurate trial that meets the budget (then the fastest)."""
        passing = [r for r in self.complete if r.budget_pass]
        if not passing:
            return None
        return max(passing, key=lambda r: (r.accuracy or 0.0, -_objective(r, "latency")))

    def to_dict(self) -> dict:
        def entry(r: TrialRecord) -> dict:
            return {"number": r.number, "params": r.params, "state": r.state,
                    "accuracy_float": r.accuracy_float, "accuracy_int8": r.accuracy_int8,
                    "accuracy_device": r.accuracy_device, "latency": r.latency,
                    "latency_estimated": r.latency_estimated,
                    "latency_measured": r.latency_measured, "ram_bytes": r.ram_bytes,
                    "flash_bytes": r.flash_bytes, "ram_estimated": r.ram_estimated,
                    "flash_estimated": r.flash_estimated, "macs": r.macs,
                    "budget_pass": r.budget_pass, "on_device": r.on_device, "model": r.model,
                    "worker": r.worker, "seconds": round(r.seconds, 2), "error": r.error,
                    "same_as": r.same_as}

        best = self.best
        return {"project": self.project.name, "board": self.project.board,
                "budget": self.project.budget.to_dict(),
                "trials": [entry(r) for r in self.trials],
                "pareto": [r.number for r in self.pareto],
                "best": entry(best) if best else None}

    def to_json(self, path: str | Path | None = None) -> str:
        text = json.dumps(self.to_dict(), indent=2, sort_keys=True) + "\n"
        if path is not None:
            publish_file(path, text)
        return text

    def summary(self) -> str:
        """Who meets the budget, the Pareto front and the best trial, in a few lines."""
        best = self.best
        pareto = ", ".join(str(r.number) for r in self.pareto) or "-"
        return "\n".join([
            f"{self.project.name} on {self.project.board}: {len(self.trials)} trials, "
            f"{sum(1 for r in self.complete if r.budget_pass)} meet the budget "
            f"({_budget_text(self.project.budget)}); Pareto front: trials {pareto}",
            f"best: trial {best.number}, {_describe(best.params)}: accuracy "
            f"{best.accuracy:.1%}, {best.model}" if best else "no trial meets the budget"])

    def __repr__(self) -> str:
        best = self.best
        return (f"LoopResult({self.project.name} on {self.project.board}: "
                f"{len(self.trials)} trials, best "
                f"{'trial ' + str(best.number) if best else 'none'})")

    def __str__(self) -> str:
        rows = [f"{r.number:>4}  {format_row(r)}" for r in self.trials]
        return "\n".join([TABLE_HEADER, *rows, self.summary()])

    def _repr_html_(self) -> str:
        from tinyflow.loop_report import loop_html

        return loop_html(self)


PARAMS_WIDTH = 42
TABLE_HEADER = (f"{'#':>4}  {'params':<{PARAMS_WIDTH}} {'float':>6} {'int8':>6} {'device':>6} "
                f"{'latency':>18} {'RAM':>8} {'flash':>8}  budget")


def format_row(r: TrialRecord) -> str:
    """One trial as a table row (also the live progress line)."""
    params = _describe(r.params)[:PARAMS_WIDTH]
    if r.state != "complete":
        return f"{params:<{PARAMS_WIDTH}} FAILED: {r.error}"
    if r.same_as is not None:
        return f"{params:<{PARAMS_WIDTH}} the same model as trial {r.same_as}"

    def pct(value):
        return f"{value:.1%}" if value is not None else "-"

    latency = r.latency or {}
    latency_text = f"{latency['value']:,.0f}" if latency.get("value") is not None else "-"
    if r.latency_measured and r.latency_estimated:
        # Measured, with how far the (feedback-corrected) estimate was off.
        latency_text += f" ({r.latency_estimated / r.latency_measured - 1:+.0%})"
    else:
        latency_text += " est"
    return (f"{params:<{PARAMS_WIDTH}} {pct(r.accuracy_float):>6} {pct(r.accuracy_int8):>6} "
            f"{pct(r.accuracy_device):>6} {latency_text:>18} {r.ram_bytes or 0:>8,} "
            f"{r.flash_bytes or 0:>8,}  {'PASS' if r.budget_pass else 'fail'}")


def _budget_text(budget) -> str:
    parts = []
    if budget.latency_s is not None:
        parts.append(f"latency {budget.latency_s * 1e3:g} ms")
    if budget.ram_bytes is not None:
        parts.append(f"RAM {budget.ram_bytes:,} B")
    if budget.flash_bytes is not None:
        parts.append(f"flash {budget.flash_bytes:,} B")
    if budget.accuracy is not None:
        parts.append(f"accuracy >= {budget.accuracy:.1%}")
    return ", ".join(parts) or "no budget"


__all__ = ["LoopResult", "TrialRecord", "run_loop", "load_project"]
