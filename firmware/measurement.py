"""What a device measured: the one measurement type every stage reads.

``tinyflow measure`` returns it, the profiler shows it beside its estimates and
stores it, calibration fits cost models to it.
"""

from __future__ import annotations

import html
import json
from dataclasses import asdict, dataclass, field, fields

import numpy as np

from tinyflow.common import publish_file


@dataclass
class LayerTime:
    index: int
    op: str
    count: int


@dataclass
class Measurement:
    """What `measure` found on the device. Counts are in ``unit``: "instructions" on QEMU
    (guest instructions, -icount), "cycles" on real boards (DWT)."""

    model: str
    board: str
    runs_on: str
    unit: str
    clock_hz: int
    inferences: int
    latencies: list[int]
    layers: list[LayerTime]
    layers_total: int
    stack_used_bytes: int
    stack_size_bytes: int
    arena_bytes: int
    flash_bytes: int
    ram_bytes: int
    flash_limit: int
    ram_limit: int
    breakdown: dict[str, int]
    sections: dict[str, int]
    bit_exact: bool
    mismatched_samples: list[int] = field(default_factory=list)
    first_divergent_layer: dict | None = None
    elf: str = ""
    # Device outputs, batch first: not stored, not compared (figures describe a run).
    outputs: list = field(default_factory=list, repr=False, compare=False)

    @property
    def mean(self) -> float:
        return float(np.mean(self.latencies))

    @property
    def minimum(self) -> int:
        return int(min(self.latencies))

    @property
    def maximum(self) -> int:
        return int(max(self.latencies))

    def ms(self, count: float) -> float:
        """``count`` at the board's clock in ms (for instructions: at one per cycle)."""
        return 1000.0 * count / self.clock_hz

    @property
    def layers_sum(self) -> int:
        return sum(layer.count for layer in self.layers)

    # --- what the profiler reads -------------------------------------------
    @property
    def layer_counts(self) -> list[float]:
        """Counts per layer, in layer order (cycles or instructions)."""
        return [float(layer.count) for layer in self.layers]

    @property
    def total_count(self) -> float:
        """Per inference, as timed around the whole invoke (the mean)."""
        return self.mean

    @property
    def source(self) -> str:
        check = "outputs bit-exact with TFLM" if self.bit_exact else "outputs DIFFER from TFLM"
        return f"{self.runs_on}, {self.unit}, mean of {self.inferences} inferences, {check}"

    # --- storage --------------------------------------------------------------
    def to_dict(self) -> dict:
        data = asdict(self)
        data.pop("outputs")
        data.update(mean=self.mean, min=self.minimum, max=self.maximum,
                    mean_ms=self.ms(self.mean), layers_sum=self.layers_sum)
        return data

    @classmethod
    def from_dict(cls, data: dict) -> "Measurement":
        """Read back what ``to_dict`` wrote (the derived figures are recomputed)."""
        known = {f.name for f in fields(cls)}
        values = {k: v for k, v in data.items() if k in known}
        values["layers"] = [LayerTime(**layer) for layer in values.get("layers", [])]
        return cls(**values)

    def to_json(self, path=None) -> str:
        text = json.dumps(self.to_dict(), indent=2, sort_keys=True) + "\n"
        if path is not None:
            publish_file(path, text)
        return text

    def _rows(self) -> list[tuple[str, str]]:
        at = f"ms at {self.clock_hz / 1e6:g} MHz"
        if self.unit == "instructions":
            at += ", 1 instr/cycle"
        check = (f"bit-exact with TFLM ({self.inferences} inputs)" if self.bit_exact else
                 f"DIFFERS from TFLM on {len(self.mismatched_samples)} of {self.inferences} inputs")
        if self.first_divergent_layer:
            d = self.first_divergent_layer
            check += (f"; first divergent layer {d['layer']} {d['op']} "
                      f"({d['mismatched_bytes']} of {d['bytes']} bytes differ)")
        return [
            ("model", self.model),
            ("board", self.board + ("" if self.runs_on == self.board else
                                    f" (emulated on {self.runs_on})")),
            ("outputs", check),
            (f"latency ({self.unit})", f"mean {self.mean:,.0f}  min {self.minimum:,}  "
                                       f"max {self.maximum:,}"),
            ("latency (time)", f"{self.ms(self.mean):,.2f} {at}"),
            ("stack high-water", f"{self.stack_used_bytes:,} of {self.stack_size_bytes:,} bytes"
                                 f"{self._stack_hint}"
                                 if self.stack_size_bytes else "not measured (no painted stack)"),
            ("arena", f"{self.arena_bytes:,} bytes"),
            ("flash", f"{self.flash_bytes:,} of {self.flash_limit:,} bytes "
                      f"(weights {self.breakdown.get('weights', 0):,}, code "
                      f"{self.breakdown.get('code', 0):,})"),
            ("RAM (static)", f"{self.ram_bytes:,} of {self.ram_limit:,} bytes "
                             f"(arena {self.breakdown.get('arena', 0):,}, stack "
                             f"{self.breakdown.get('stack', 0):,}, input buffer "
                             f"{self.breakdown.get('input_buffer', 0):,})"),
        ]

    def __repr__(self) -> str:
        check = "bit-exact" if self.bit_exact else "DIFFERS from TFLM"
        return (f"Measurement({self.model} on {self.board}: mean {self.mean:,.0f} "
                f"{self.unit}, {check}, {self.inferences} inferences)")

    @property
    def suggested_stack_bytes(self) -> int:
        """A stack reserve from the measured high-water: half again as much, plus 256
        bytes, rounded up to 256 (what `--stack` could be)."""
        need = self.stack_used_bytes * 3 // 2 + 256
        return -(-need // 256) * 256

    @property
    def _stack_hint(self) -> str:
        suggested = self.suggested_stack_bytes
        if self.stack_used_bytes and suggested <= self.stack_size_bytes // 2:
            return f" (--stack {suggested} would leave half again as much)"
        return ""

    def __str__(self) -> str:
        rows = self._rows()
        width = max(len(k) for k, _ in rows)
        lines = [f"{k.ljust(width)}  {v}" for k, v in rows]
        lines += ["", f"per layer ({self.unit}; sum {self.layers_sum:,} = "
                      f"{100 * self.layers_sum / max(1, self.layers_total):.1f}% of the "
                      f"{self.layers_total:,} of the same run)",
                  f"{'#':>3}  {'op':<20} {self.unit:>14} {'share':>6}"]
        for layer in self.layers:
            lines.append(f"{layer.index:>3}  {layer.op:<20} {layer.count:>14,} "
                         f"{100 * layer.count / max(1, self.layers_total):>5.1f}%")
        return "\n".join(lines)

    def _repr_html_(self) -> str:
        rows = "".join(f"<tr><th style='text-align:left'>{html.escape(k)}</th>"
                       f"<td>{html.escape(v)}</td></tr>" for k, v in self._rows())
        layer_rows = "".join(
            f"<tr><td>{l.index}</td><td>{html.escape(l.op)}</td><td>{l.count:,}</td>"
            f"<td>{100 * l.count / max(1, self.layers_total):.1f}%</td></tr>"
            for l in self.layers)
        return (f"<table>{rows}</table><table><tr><th>#</th><th>op</th>"
                f"<th>{html.escape(self.unit)}</th><th>share</th></tr>{layer_rows}</table>")
