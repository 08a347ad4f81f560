"""`tinyflow measure`: run inputs on the device, check every output byte against TFLM,
and report latency, per-layer times and memory, as measured on the device.

>>> from tinyflow.firmware.measure import measure                    # doctest: +SKIP
>>> result = measure("kws_ref_model.tflite", board="qemu-cortex-m4")  # doctest: +SKIP
>>> print(result)                                                      # doctest: +SKIP
"""

from __future__ import annotations

import html
import json
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from tinyflow.boards import get_board
from tinyflow.codegen.generator import generate
from tinyflow.codegen.batch import check_inputs, sample_bytes
from tinyflow.firmware.device import open_device
from tinyflow.firmware.divergence import first_divergent_layer
from tinyflow.firmware.infer import run_batch
from tinyflow.errors import InputError
from tinyflow.codegen.ir import Model, load_model


def random_inputs(model: Model, count: int, seed: int = 0) -> list[np.ndarray]:
    """The default measurement inputs: uniform over each input's int range, fixed seed."""
    rng = np.random.default_rng(seed)
    arrays = []
    for tensor in model.input_tensors:
        info = np.iinfo(tensor.dtype)
        arrays.append(rng.integers(info.min, info.max + 1, size=(count, *tensor.shape),
                                   dtype=tensor.dtype))
    return arrays


def baseline_inputs(model: Model) -> list[np.ndarray]:
    """The input of the TFLM baseline (docs/baseline-tflm.md): bytes from the LCG
    s = s * 1664525 + 1013904223 (mod 2^32) from s = 0x12345678, each (int8)(s >> 24)."""
    total = sum(t.nbytes for t in model.input_tensors)
    state, data = 0x12345678, bytearray()
    for _ in range(total):
        state = (state * 1664525 + 1013904223) & 0xFFFFFFFF
        data.append(state >> 24)
    arrays, offset = [], 0
    for tensor in model.input_tensors:
        chunk = np.frombuffer(bytes(data[offset:offset + tensor.nbytes]), dtype=tensor.dtype)
        arrays.append(chunk.reshape((1, *tensor.shape)).copy())
        offset += tensor.nbytes
    return arrays


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
    outputs: list = field(default_factory=list, repr=False)   # device outputs, batch first

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

    def to_dict(self) -> dict:
        data = asdict(self)
        data.pop("outputs")
        data.update(mean=self.mean, min=self.minimum, max=self.maximum,
                    mean_ms=self.ms(self.mean), layers_sum=self.layers_sum)
        return data

    def to_json(self, path=None) -> str:
        text = json.dumps(self.to_dict(), indent=2, sort_keys=True) + "\n"
        if path is not None:
            with open(path, "w") as f:
                f.write(text)
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


def measure(model, board: str = "qemu-cortex-m4", *, port: str | None = None,
            inputs=None, count: int = 10, seed: int = 0, emulate: bool = False,
            locate_divergence: bool = True, progress=None) -> Measurement:
    """Build ``model`` for ``board``, run ``count`` inputs (or ``inputs``) on the device,
    compare every output byte with TFLM and measure latency, layers and memory.

    Also the profiler's entry point for per-layer times: ``measure(...).layers``.
    """
    from tinyflow.reference import ReferenceInterpreter

    model_bytes, name = _model_source(model)
    generated = generate(load_model(model_bytes, name=name))
    ir = generated.model
    arrays = check_inputs(ir, inputs if inputs is not None else random_inputs(ir, count, seed))
    target = get_board(board)
    with open_device(generated, target, port=port, emulate=emulate, progress=progress) as device:
        outputs, timings = run_batch(device, arrays, progress)
        per_layer, layers_total, unit = device.session.layers()
        memory = device.session.memory()
        reference = ReferenceInterpreter(model_bytes).run(arrays)
        mismatched = sorted({i for ours, ref in zip(outputs, reference)
                             for i in range(ours.shape[0])
                             if ours[i].tobytes() != ref[i].tobytes()})
        divergence = None
        if mismatched and locate_divergence:
            divergence = first_divergent_layer(device, model_bytes, arrays,
                                               mismatched[0])
        firmware = device.firmware
        return Measurement(
            model=ir.name, board=target.name, runs_on=device.runs_on.name, unit=unit,
            clock_hz=target.clock_hz, inferences=len(timings),
            latencies=[t.total for t in timings],
            layers=[LayerTime(i, op, c) for i, (op, c) in enumerate(per_layer)],
            layers_total=layers_total, stack_used_bytes=memory.get("stack_used", 0),
            stack_size_bytes=memory.get("stack_size", 0), arena_bytes=memory.get("arena", 0),
            flash_bytes=firmware.flash_bytes, ram_bytes=firmware.ram_bytes,
            flash_limit=firmware.flash_limit, ram_limit=firmware.ram_limit,
            breakdown=firmware.breakdown, sections=firmware.sections,
            bit_exact=not mismatched, mismatched_samples=mismatched,
            first_divergent_layer=divergence, elf=str(firmware.elf), outputs=outputs)


def _model_source(model) -> tuple[bytes, str | None]:
    """The .tflite bytes (the TFLM reference needs them) and the model's name."""
    if isinstance(model, (bytes, bytearray)):
        return bytes(model), None
    if isinstance(model, (str, Path)):
        path = Path(model)
        try:
            return path.read_bytes(), path.stem
        except OSError as exc:
            raise InputError(f"{path}: cannot read model: {exc.strerror}") from exc
    raise InputError("measure() takes a .tflite path or its bytes (TFLM needs the flatbuffer)")


__all__ = ["Measurement", "LayerTime", "measure", "random_inputs", "baseline_inputs",
           "sample_bytes"]
