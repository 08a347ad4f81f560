"""``profile(model, board)``: per-layer cost and the totals a board cares about.

Reads the same IR and the same memory plan as the code generator (it calls
``generate``, so an unsupported model fails here exactly as it would there),
estimates each layer's time with the board's cost model, and adds the flash and
RAM the firmware needs around the model. Measurements from a device, when given,
sit beside the estimates; budget checks use the measurement where there is one.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

from tinyflow.firmware.dut import dut_settings as reference_settings_of
from tinyflow.codegen.tuning import choices_for
from tinyflow.codegen import generate
from tinyflow.common import publish_file
from tinyflow.errors import TinyflowError
from tinyflow.firmware.measurement import Measurement
from tinyflow.codegen.ir import Model, load_model
from tinyflow.profiler.board import BoardLimits, board_limits
from tinyflow.profiler.budget import Budget
from tinyflow.profiler.costs import CostModel, find_cost_model, timed_code_fingerprint
from tinyflow.profiler.layers import LayerFacts, layer_facts

DEFAULT_BOARD = "qemu-cortex-m4"


@dataclass
class LayerProfile:
    facts: LayerFacts
    estimated: float | None              # cycles (or instructions); None: no cost data
    code_bytes: float                    # estimated flash of the layer's code and tables
    measured: float | None = None

    @property
    def count(self) -> float | None:
        """The figure budgets use: measured when there is one, else estimated."""
        return self.measured if self.measured is not None else self.estimated

    @property
    def error(self) -> float | None:
        """Relative error of the estimate against the measurement."""
        if self.measured is None or self.estimated is None or self.measured <= 0:
            return None
        return (self.estimated - self.measured) / self.measured


@dataclass
class Profile:
    model_name: str
    board: BoardLimits
    layers: list[LayerProfile]
    arena_bytes: int
    weight_bytes: int                    # constants compiled into flash (manifest)
    input_bytes: int                     # the model's inputs (the firmware buffers one)
    cost_model: CostModel | None
    measurement: Measurement | None = None
    budget: Budget = field(default_factory=Budget)
    accuracy: float | None = None        # a measured accuracy, when the user gives one

    # --- totals ------------------------------------------------------------
    @property
    def total_macs(self) -> int:
        return sum(layer.facts.macs for layer in self.layers)

    @property
    def estimate_complete(self) -> bool:
        return self.cost_model is not None and all(
            layer.estimated is not None for layer in self.layers)

    @property
    def estimated_count(self) -> float | None:
        if not self.estimate_complete:
            return None
        return sum(layer.estimated for layer in self.layers) + self.cost_model.invoke_cycles

    @property
    def measured_count(self) -> float | None:
        return self.measurement.total_count if self.measurement else None

    @property
    def latency_count(self) -> float | None:
        measured = self.measured_count
        return measured if measured is not None else self.estimated_count

    @property
    def latency_s(self) -> float | None:
        count = self.latency_count
        return None if count is None else self.board.seconds(count)

    @property
    def code_bytes(self) -> float:
        return sum(layer.code_bytes for layer in self.layers)

    @property
    def runtime_flash_bytes(self) -> float:
        return self.cost_model.runtime_flash_bytes if self.cost_model else 0.0

    @property
    def estimated_flash_bytes(self) -> int:
        return round(self.weight_bytes + self.code_bytes + self.runtime_flash_bytes)

    @property
    def runtime_ram_bytes(self) -> float:
        """Firmware globals besides arena, stack and input buffer."""
        return self.cost_model.runtime_ram_bytes if self.cost_model else 0.0

    @property
    def input_buffer_bytes(self) -> float:
        """The firmware's copy of one input, as it arrives over serial."""
        return self.cost_model.ram_per_input_byte * self.input_bytes if self.cost_model else 0.0

    @property
    def estimated_ram_bytes(self) -> int:
        return round(self.arena_bytes + self.board.stack_bytes + self.input_buffer_bytes
                     + self.runtime_ram_bytes)

    @property
    def flash_bytes(self) -> int:
        if self.measurement and self.measurement.flash_bytes is not None:
            return self.measurement.flash_bytes
        return self.estimated_flash_bytes

    @property
    def ram_bytes(self) -> int:
        if self.measurement and self.measurement.ram_bytes is not None:
            return self.measurement.ram_bytes
        return self.estimated_ram_bytes

    @property
    def warnings(self) -> list[str]:
        """Reasons to distrust the estimates."""
        cost = self.cost_model
        if cost is None:
            return [f"no cost model for core {self.board.core}: run "
                    f"`tinyflow calibrate --board {self.board.name}`"]
        notes = []
        missing = sorted({l.facts.kernel for l in self.layers if l.estimated is None})
        if missing:
            notes.append(f"no coefficients for {', '.join(missing)}: the latency total is "
                         f"unknown; run `tinyflow calibrate --board {self.board.name}`")
        calibrated_for = cost.provenance.get("sources")
        if calibrated_for and calibrated_for != timed_code_fingerprint():
            notes.append("the cost model was calibrated against other code generator or "
                         "firmware sources than these: run "
                         f"`tinyflow calibrate --board {self.board.name}`")
        if cost.unit != self.board.time_unit:
            notes.append(f"the cost model counts {cost.unit}, the board's timer "
                         f"{self.board.time_unit}")
        return notes

    @property
    def peak_layer(self) -> LayerProfile:
        """The layer during which the most arena bytes are live."""
        return max(self.layers, key=lambda layer: layer.facts.arena_live_bytes)

    # --- checks and output -------------------------------------------------
    def check(self):
        """The budget and board checks (see checks.py)."""
        from tinyflow.profiler.checks import check_profile
        return check_profile(self)

    @property
    def passed(self) -> bool:
        return all(result.passed for result in self.check())

    def to_dict(self) -> dict:
        from tinyflow.profiler.render import profile_dict
        return profile_dict(self)

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2, sort_keys=True) + "\n"

    def to_html(self) -> str:
        from tinyflow.profiler.render import profile_html
        return profile_html(self)

    def save_html(self, path: str | Path) -> Path:
        path = Path(path)
        try:
            publish_file(path, self.to_html())
        except OSError as exc:
            raise TinyflowError(f"{path}: cannot write the report: {exc.strerror}") from exc
        return path

    def __str__(self) -> str:
        from tinyflow.profiler.render import profile_text
        return profile_text(self)

    def __repr__(self) -> str:
        from tinyflow.profiler.units import format_duration, format_size
        latency = "unknown" if self.latency_s is None else format_duration(self.latency_s)
        return (f"<Profile {self.model_name} on {self.board.name}: {len(self.layers)} layers, "
                f"latency {latency}, flash {format_size(self.flash_bytes)}, "
                f"RAM {format_size(self.ram_bytes)}, {'fits' if self.passed else 'does not fit'}>")

    def _repr_html_(self) -> str:
        from tinyflow.profiler.render import profile_notebook_html
        return profile_notebook_html(self)


def profile(model: Model | str | Path, board: str = DEFAULT_BOARD,
            budget: Budget | str | None = None,
            *, costs: str | Path | CostModel | None = None,
            measurement: Measurement | None = None, accuracy: float | None = None) -> Profile:
    """Profile ``model`` for ``board``.

    budget: a Budget or budget text ("latency=50ms,ram=64KiB"); the board's memory
    sizes are checked in any case. costs: a cost-model file or object instead of the
    board's calibrated or shipped one. measurement: device figures to show beside
    the estimates (see ``tinyflow.profiler.measure``). accuracy: a measured accuracy
    to check against the budget's minimum.

    >>> p = profile(MLPERF / "kws_ref_model.tflite", budget="ram=64KiB,flash=256KiB")
    >>> p.total_macs, p.arena_bytes, p.layers[2].facts.kernel
    (2664768, 8704, 'conv_direct')
    >>> p.passed, [check.name for check in p.check() if check.source == "budget"]
    (True, ['ram', 'flash'])
    """
    if not isinstance(model, Model):
        model = load_model(model)
    if isinstance(budget, str):
        from tinyflow.profiler.budget import parse_budget
        budget = parse_budget(budget)
    limits = board_limits(board)
    cost_model = costs if isinstance(costs, CostModel) else find_cost_model(limits, costs)

    # the plan and kernels the firmware will really use (the board's tuning record too)
    generated = generate(model, tuning=choices_for(limits.name))
    facts = layer_facts(generated)
    if measurement is not None and len(measurement.layer_counts) != len(facts):
        raise TinyflowError(f"{model.name}: the measurement times {len(measurement.layer_counts)} "
                            f"layers, the model has {len(facts)}: was it made with another model?")
    layers = []
    for i, layer in enumerate(facts):
        layers.append(LayerProfile(
            facts=layer,
            estimated=cost_model.layer_cycles(layer) if cost_model else None,
            code_bytes=cost_model.layer_code_bytes(layer) if cost_model else 0.0,
            measured=measurement.layer_counts[i] if measurement else None,
        ))
    return Profile(model_name=model.name, board=limits, layers=layers,
                   arena_bytes=generated.plan.arena_bytes,
                   weight_bytes=generated.manifest["weight_bytes"],
                   # what the firmware buffers: the MLPerf AD model's float32 window too
                   input_bytes=reference_settings_of(model).received_input_bytes(model),
                   cost_model=cost_model, measurement=measurement,
                   budget=budget or Budget(), accuracy=accuracy)
