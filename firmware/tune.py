"""`tinyflow tune`: measure every kernel path a model's layers offer, keep the fastest.

Layers that can run more than one kernel path say so in the manifest (``choices``:
each knob with its options, see ``Layer.choose``). Tuning builds the model once per
option index (every tunable layer takes its i-th option in build i), runs it on the
device with per-layer timing, and per layer keeps the option that took the fewest
cycles (instructions on QEMU). Layers do not share code or state between them, so
the layers of one build are timed independently. The result is a tuning record
(codegen/tuning.py) keyed by layer shape: every later build of any model for the
board takes those choices. Every option is exact (the builds' outputs are checked
against TFLM), so tuning changes time, never results.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from tinyflow.boards import get_board
from tinyflow.codegen import generate
from tinyflow.codegen.ir import load_model
from tinyflow.codegen.tuning import layer_key, record_path, save_record
from tinyflow.errors import TinyflowError


@dataclass
class TunedLayer:
    index: int
    op: str
    knob: str
    key: str
    measured: dict[str, int]          # option -> cycles (instructions on QEMU)
    default: str
    choice: str = ""

    @property
    def saving(self) -> float:
        """The choice's saving over the default, as a fraction of the default."""
        return 1.0 - self.measured[self.choice] / self.measured[self.default]


@dataclass
class TuningResult:
    model: str
    board: str
    unit: str
    record: Path
    layers: list[TunedLayer] = field(default_factory=list)
    totals: dict[str, int] = field(default_factory=dict)   # build label -> inference total

    def __str__(self) -> str:
        if not self.layers:
            return f"{self.model}: no layer offers more than one kernel path on {self.board}"
        lines = [f"{self.model} on {self.board}: {len(self.layers)} tunable layers "
                 f"({self.unit} per inference)",
                 f"{'#':>3}  {'op':<18}{'knob':<8}{'measured':<44}{'chosen':<10}{'saving':>7}"]
        for layer in self.layers:
            measured = ", ".join(f"{option} {count:,}" for option, count in layer.measured.items())
            lines.append(f"{layer.index:>3}  {layer.op:<18}{layer.knob:<8}{measured:<44}"
                         f"{layer.choice:<10}{layer.saving:>6.1%}")
        lines.append("whole inference: " + ", ".join(f"{label} {total:,}"
                                                     for label, total in self.totals.items()))
        follows = (f"builds for {self.board} follow it" if self.record == record_path(self.board)
                   else "use it with `tinyflow codegen --tuning`")
        lines.append(f"record: {self.record} ({follows})")
        return "\n".join(lines)


def tune(model, board, *, record: str | Path | None = None, count: int = 2,
         progress=None) -> TuningResult:
    """Tune ``model``'s layers on ``board``; merge the choices into ``record`` (default:
    the board's record in the cache, which builds for the board read)."""
    from tinyflow.firmware.measure import measure

    progress = progress or (lambda message: None)
    target = get_board(board)
    ir = load_model(model)
    base = generate(ir, tuning={})
    tunable = [(entry, knob, spec) for entry in base.manifest["layers"]
               for knob, spec in entry.get("choices", {}).items() if len(spec["options"]) > 1]
    path = Path(record) if record else record_path(target.name)
    result = TuningResult(ir.name, target.name, "", path)
    if not tunable:
        return result
    layers = {entry["index"]: base.model.operators[entry["index"]] for entry, _, _ in tunable}
    width = max(len(spec["options"]) for _, _, spec in tunable)
    tuned = {}
    for entry, knob, spec in tunable:
        from tinyflow.codegen.ops.base import Layer
        key = layer_key(Layer(layers[entry["index"]], base.model), knob)
        tuned[entry["index"]] = TunedLayer(entry["index"], entry["op"], knob, key, {},
                                           default=spec["choice"])
    for position in range(width):
        choices = {}
        for entry, knob, spec in tunable:
            options = spec["options"]
            choices[tuned[entry["index"]].key] = options[min(position, len(options) - 1)]
        label = f"build {position + 1}/{width}"
        progress(f"{label}: every tunable layer on option {position + 1}")
        measured = measure(model, target, count=count, tuning=choices,
                           locate_divergence=False, progress=progress)
        if not measured.bit_exact:
            raise TinyflowError(f"{ir.name}: {label} differs from TFLM on {target.name}; "
                                "a kernel path is wrong (please report it)")
        result.unit = measured.unit
        result.totals[label] = int(measured.latencies[0])
        counts = {layer.index: layer.count for layer in measured.layers}
        for entry, knob, spec in tunable:
            options = spec["options"]
            if position < len(options):
                tuned[entry["index"]].measured[options[position]] = counts[entry["index"]]
    entries = {}
    for layer in tuned.values():
        layer.choice = min(layer.measured, key=lambda option: (layer.measured[option],
                                                              option != layer.default))
        entries[layer.key] = dict(choice=layer.choice, measured=layer.measured)
    result.layers = sorted(tuned.values(), key=lambda layer: layer.index)
    result.record = save_record(path, target.name, entries)
    return result
