"""Geometry of the report's SVG plots: numbers in, rectangles and labels out.

The templates only draw what these functions place, so the layout logic lives in
Python where it can be read and tested, and the templates stay plain markup.
"""

from __future__ import annotations

import math

from tinyflow.profiler.units import format_size

WIDTH = 860
PLOT_HEIGHT = 220
MARGIN_LEFT = 70
MARGIN_BOTTOM = 46
MARGIN_TOP = 16


def _nice_ticks(maximum: float, count: int = 4) -> list[float]:
    """Round tick values from 0 to at least ``maximum``."""
    if maximum <= 0:
        return [0.0, 1.0]
    raw = maximum / count
    magnitude = 10 ** math.floor(math.log10(raw))
    step = next(m * magnitude for m in (1, 2, 2.5, 5, 10) if m * magnitude >= raw)
    return [i * step for i in range(int(math.ceil(maximum / step)) + 1)]


def _frame(maximum: float, label, unit: float = 1.0) -> dict:
    """Axes from 0 to ``maximum``, ticks at round multiples of ``unit`` (1024: KiB)."""
    ticks = [t * unit for t in _nice_ticks(maximum / unit)]
    top = ticks[-1]
    inner_height = PLOT_HEIGHT - MARGIN_TOP - MARGIN_BOTTOM

    def y_of(value: float) -> float:
        return MARGIN_TOP + inner_height * (1 - value / top)

    return dict(width=WIDTH, height=PLOT_HEIGHT, left=MARGIN_LEFT, top=MARGIN_TOP,
                bottom=PLOT_HEIGHT - MARGIN_BOTTOM, right=WIDTH - 10,
                ticks=[dict(y=round(y_of(t), 1), label=label(t)) for t in ticks]), y_of


def latency_bars(profile) -> dict | None:
    """Per-layer milliseconds: estimated and (when present) measured, side by side."""
    layers = profile.layers
    series = [("estimated", [layer.estimated for layer in layers])]
    if profile.measurement:
        series.append(("measured", [layer.measured for layer in layers]))
    values = [v for _, vs in series for v in vs if v is not None]
    if not values:
        return None
    to_ms = profile.board.seconds(1) * 1e3   # ms per cycle
    frame, y_of = _frame(max(values) * to_ms, lambda t: f"{t:g} ms")
    slot = (frame["right"] - frame["left"]) / len(layers)
    bar = slot * 0.8 / len(series)
    bars, labels = [], []
    for i, layer in enumerate(layers):
        x0 = frame["left"] + i * slot + slot * 0.1
        for s, (name, vs) in enumerate(series):
            if vs[i] is None:
                continue
            ms = vs[i] * to_ms
            y = y_of(ms)
            bars.append(dict(x=round(x0 + s * bar, 1), y=round(y, 1), w=round(max(bar, 1), 1),
                             h=round(frame["bottom"] - y, 1), cls=name,
                             title=f"layer {layer.facts.index} {layer.facts.op}: "
                                   f"{name} {ms:.3f} ms"))
        labels.append(dict(x=round(x0 + slot * 0.4, 1), y=frame["bottom"] + 14,
                           text=str(layer.facts.index)))
    return dict(frame, bars=bars, labels=labels, series=[name for name, _ in series])


def memory_timeline(profile) -> dict:
    """Arena bytes live at each layer, the peak marked, the planned arena as a line."""
    layers = profile.layers
    kib = profile.arena_bytes >= 4096
    frame, y_of = _frame(profile.arena_bytes,
                         (lambda t: f"{t / 1024:g} KiB") if kib else (lambda t: f"{t:g} B"),
                         1024 if kib else 1)
    slot = (frame["right"] - frame["left"]) / len(layers)
    peak = profile.peak_layer
    bars, labels = [], []
    for i, layer in enumerate(layers):
        live = layer.facts.arena_live_bytes
        y = y_of(live)
        x = frame["left"] + i * slot + slot * 0.1
        is_peak = layer is peak
        bars.append(dict(x=round(x, 1), y=round(y, 1), w=round(max(slot * 0.8, 1), 1),
                         h=round(frame["bottom"] - y, 1), cls="peak" if is_peak else "live",
                         title=f"layer {layer.facts.index} {layer.facts.op}: "
                               f"{format_size(live)} live"))
        labels.append(dict(x=round(x + slot * 0.4, 1), y=frame["bottom"] + 14,
                           text=str(layer.facts.index)))
    peak_bar = next(b for b in bars if b["cls"] == "peak")
    return dict(frame, bars=bars, labels=labels, arena_y=round(y_of(profile.arena_bytes), 1),
                arena_label=f"arena {format_size(profile.arena_bytes)}",
                peak=dict(x=round(peak_bar["x"] + peak_bar["w"] / 2, 1), y=peak_bar["y"] - 4,
                          # Label to the right of a peak in the left half, else to its left.
                          anchor="start" if peak_bar["x"] < WIDTH / 2 else "end",
                          text=f"peak {format_size(peak.facts.arena_live_bytes)} "
                               f"(layer {peak.facts.index})"))


def budget_bars(results) -> dict:
    """One horizontal bar per constraint: value as a fraction of its limit."""
    row_height, label_width, bar_width = 34, 210, 520
    rows = []
    for i, result in enumerate(results):
        fraction = result.value / result.limit if result.value is not None and result.limit \
            else None
        # The bar spans 0..150% of the limit; longer ones are clipped and say so.
        shown = min(fraction, 1.5) if fraction is not None else 0
        rows.append(dict(
            y=10 + i * row_height, label=f"{result.name} ({result.source})",
            w=round(bar_width * shown / 1.5, 1),
            cls="pass" if result.passed else "fail",
            text=(f"{result.format(result.value)} / {result.format(result.limit)}"
                  + (f" ({fraction:.0%})" if fraction is not None else "")),
        ))
    return dict(width=label_width + bar_width + 190, height=20 + len(rows) * row_height,
                label_width=label_width, bar_width=bar_width,
                limit_x=label_width + round(bar_width / 1.5, 1), rows=rows)
