"""A profile as a terminal table, a JSON-ready dict, and HTML (notebook and standalone).

HTML comes from Jinja2 templates in profiler/templates; the plots are inline SVG
whose geometry ``plots.py`` computes, so the report needs no plotting library
and opens offline.
"""

from __future__ import annotations

import tinyflow
from tinyflow.common import template_environment
from tinyflow.profiler import plots
from tinyflow.profiler.units import format_count, format_duration, format_size

_ENV = template_environment("tinyflow.profiler", autoescape=True)
_ENV.filters.update(size=format_size, duration=format_duration, count=format_count)


def short_unit(time_unit: str) -> str:
    """A column-header name for what the board's timer counts."""
    return {"instructions": "instr", "nanoseconds": "ns"}.get(time_unit, time_unit)


def _shape(shapes) -> str:
    return " ".join("x".join(str(d) for d in shape) for shape in shapes)


def _ms(profile, count) -> float | None:
    return None if count is None else profile.board.seconds(count) * 1e3


# --- dict / JSON -------------------------------------------------------------

def profile_dict(profile) -> dict:
    board = profile.board
    cost = profile.cost_model
    layers = []
    for layer in profile.layers:
        f = layer.facts
        layers.append({
            "index": f.index, "op": f.op, "kernel": f.kernel,
            "input_shapes": [list(s) for s in f.input_shapes],
            "output_shapes": [list(s) for s in f.output_shapes],
            "macs": f.macs, "weight_bytes": f.weight_bytes,
            "input_bytes": f.input_bytes, "output_bytes": f.output_bytes,
            "arena_live_bytes": f.arena_live_bytes,
            "live_buffers": [{"name": n, "bytes": b} for n, b in f.live_buffers],
            "estimated": layer.estimated, "estimated_ms": _ms(profile, layer.estimated),
            "measured": layer.measured, "measured_ms": _ms(profile, layer.measured),
            "error": layer.error, "code_bytes": round(layer.code_bytes),
            # How well this kernel's coefficients fit the calibration layers (median).
            "kernel_fit_error": cost.kernels[f.kernel].fit_error
            if cost and f.kernel in cost.kernels else None,
        })
    results = profile.check()
    return {
        "tinyflow_version": tinyflow.__version__,
        "model": profile.model_name,
        "board": {"name": board.name, "core": board.core, "clock_hz": board.clock_hz,
                  "flash_bytes": board.flash_bytes, "ram_bytes": board.ram_bytes,
                  "stack_bytes": board.stack_bytes, "time_unit": board.time_unit},
        "cost_model": None if cost is None else {"path": cost.path, "core": cost.core,
                                                 "unit": cost.unit,
                                                 "provenance": cost.provenance},
        "layers": layers,
        "totals": {
            "macs": profile.total_macs,
            "latency": {"estimated": profile.estimated_count,
                        "estimated_ms": _ms(profile, profile.estimated_count),
                        "measured": profile.measured_count,
                        "measured_ms": _ms(profile, profile.measured_count),
                        "unit": board.time_unit},
            "flash": {"bytes": profile.flash_bytes,
                      "estimated_bytes": profile.estimated_flash_bytes,
                      "weights": profile.weight_bytes, "code": round(profile.code_bytes),
                      "runtime": round(profile.runtime_flash_bytes),
                      "measured_bytes": profile.measurement.flash_bytes
                      if profile.measurement else None},
            "ram": {"bytes": profile.ram_bytes,
                    "estimated_bytes": profile.estimated_ram_bytes,
                    "arena": profile.arena_bytes, "stack": board.stack_bytes,
                    "input_buffer": round(profile.input_buffer_bytes),
                    "runtime": round(profile.runtime_ram_bytes),
                    "measured_static_bytes": profile.measurement.ram_bytes
                    if profile.measurement else None},
        },
        "measurement": None if profile.measurement is None else {
            "source": profile.measurement.source},
        "warnings": profile.warnings,
        "budget": profile.budget.to_dict(),
        "checks": [r.to_dict() for r in results],
        "passed": all(r.passed for r in results),
    }


# --- terminal ----------------------------------------------------------------

def _table(header: list[str], rows: list[list[str]], right: set[int]) -> list[str]:
    widths = [max(len(str(row[i])) for row in [header] + rows) for i in range(len(header))]

    def line(cells):
        return "  ".join(str(c).rjust(w) if i in right else str(c).ljust(w)
                         for i, (c, w) in enumerate(zip(cells, widths))).rstrip()

    return [line(header), line(["-" * w for w in widths])] + [line(r) for r in rows]


def profile_text(profile) -> str:
    board = profile.board
    unit = short_unit(board.time_unit)
    measured = profile.measurement is not None
    header = ["#", "op", "kernel", "in -> out", "MACs", "weights", "act in", "act out",
              "arena live", f"est {unit}", "est ms"]
    if measured:
        header += [f"meas {unit}", "meas ms", "error"]
    rows = []
    for layer in profile.layers:
        f = layer.facts
        row = [f.index, f.op, f.kernel,
               f"{_shape(f.input_shapes)} -> {_shape(f.output_shapes)}",
               format_count(f.macs), format_size(f.weight_bytes), format_size(f.input_bytes),
               format_size(f.output_bytes),
               format_size(f.arena_live_bytes) + (" *" if layer is profile.peak_layer else ""),
               "?" if layer.estimated is None else format_count(layer.estimated),
               "?" if layer.estimated is None else f"{_ms(profile, layer.estimated):.3f}"]
        if measured:
            row += [format_count(layer.measured), f"{_ms(profile, layer.measured):.3f}",
                    "" if layer.error is None else f"{layer.error:+.0%}"]
        rows.append([str(c) for c in row])
    right = {0, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13}
    lines = [f"{profile.model_name} on {board.name} ({board.core}, "
             f"{board.clock_hz / 1e6:g} MHz): {len(profile.layers)} layers"]
    lines += _table(header, rows, right)
    lines.append("  * arena peak")
    lines.append("")
    lines += _totals_text(profile)
    lines.append("")
    lines += _checks_text(profile)
    return "\n".join(lines)


def _latency_text(profile) -> str:
    unit = profile.board.time_unit
    parts = []
    if profile.estimated_count is not None:
        parts.append(f"estimated {format_duration(profile.board.seconds(profile.estimated_count))}"
                     f" ({format_count(profile.estimated_count)} {unit})")
    else:
        parts.append(f"no estimate (no cost model for every kernel: "
                     f"run `tinyflow calibrate --board {profile.board.name}`)")
    if profile.measured_count is not None:
        error = ""
        if profile.estimated_count is not None:
            error = f", estimate {(profile.estimated_count / profile.measured_count - 1):+.1%}"
        parts.append(f"measured {format_duration(profile.board.seconds(profile.measured_count))}"
                     f" ({format_count(profile.measured_count)} {unit}{error})")
    return "; ".join(parts)


def _totals_text(profile) -> list[str]:
    board = profile.board
    cost = profile.cost_model
    flash_basis = "measured" if profile.measurement and profile.measurement.flash_bytes else \
        "estimated"
    ram_basis = "measured" if profile.measurement and profile.measurement.ram_bytes else \
        "estimated"
    lines = [
        f"MACs     {format_count(profile.total_macs)}",
        f"latency  {_latency_text(profile)} at {board.clock_hz / 1e6:g} MHz",
        f"flash    {format_size(profile.flash_bytes)} {flash_basis} of "
        f"{format_size(board.flash_bytes)}: weights {format_size(profile.weight_bytes)} + "
        f"code {format_size(profile.code_bytes)} + runtime "
        f"{format_size(profile.runtime_flash_bytes)} (estimate "
        f"{format_size(profile.estimated_flash_bytes)})",
        f"RAM      {format_size(profile.ram_bytes)} {ram_basis} of {format_size(board.ram_bytes)}:"
        f" arena {format_size(profile.arena_bytes)} + stack {format_size(board.stack_bytes)} + "
        f"input buffer {format_size(profile.input_buffer_bytes)} + runtime "
        f"{format_size(profile.runtime_ram_bytes)}",
        f"costs    {cost.path if cost else 'none'}"
        + (f" ({cost.provenance.get('summary', '')})" if cost and cost.provenance else ""),
    ]
    if profile.measurement:
        lines.append(f"measured {profile.measurement.source}")
    lines += [f"warning: {note}" for note in profile.warnings]
    return lines


def _checks_text(profile) -> list[str]:
    lines = []
    for result in profile.check():
        verdict = "PASS" if result.passed else "FAIL"
        relation = ">=" if result.name == "accuracy" else "<="
        margin = ""
        if result.margin is not None:
            margin = (f"  margin {'+' if result.margin >= 0 else '-'}"
                      f"{result.format(abs(result.margin))}")
            if result.margin_fraction is not None:
                margin += f" ({result.margin_fraction:+.0%})"
        lines.append(f"{verdict} {result.name} ({result.source}): {result.format(result.value)} "
                     f"{result.basis} {relation} {result.format(result.limit)}{margin}")
        if result.contributors and (not result.passed or result.source == "budget"):
            top = ", ".join(f"{c.label} {c.share:.0%}" for c in result.contributors)
            lines.append(f"     dominated by: {top}")
        if result.suggestion and (not result.passed or result.source == "budget"):
            lines.append(f"     hint: {result.suggestion}")
    return lines


# --- HTML ----------------------------------------------------------------------

def _context(profile) -> dict:
    data = profile_dict(profile)
    return dict(
        p=profile, data=data, checks=profile.check(),
        latency_text=_latency_text(profile),
        latency_plot=plots.latency_bars(profile),
        memory_plot=plots.memory_timeline(profile),
        budget_plot=plots.budget_bars(profile.check()),
        shape=_shape, ms=lambda count: _ms(profile, count),
        unit=short_unit(profile.board.time_unit),
    )


def profile_notebook_html(profile) -> str:
    return _ENV.get_template("profile_summary.html.j2").render(**_context(profile))


def profile_html(profile) -> str:
    return _ENV.get_template("profile_report.html.j2").render(**_context(profile))
