"""Check a profile against its budget and its board, and say what would help.

Each constraint gives pass/fail, the margin, the layers that dominate it and a
suggestion: the biggest lever (a layer to slim, the activations that set the
arena peak), sized by how much has to go.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from tinyflow.profiler.units import format_duration, format_size


@dataclass
class Contributor:
    label: str          # "layer 5 CONV_2D [1,48,48,16]"
    value: float        # in the constraint's unit
    share: float        # of the constraint's value


@dataclass
class ConstraintResult:
    name: str           # "latency", "ram", "flash", "accuracy"
    source: str         # "budget" (the user's) or "board" (its memory size)
    limit: float
    value: float | None  # None: could not be determined (no cost model, no accuracy)
    unit: str           # "s", "B" or "" (a fraction)
    basis: str          # "measured" or "estimated" (or "given" for accuracy)
    contributors: list[Contributor] = field(default_factory=list)
    suggestion: str = ""

    @property
    def passed(self) -> bool:
        """Unknown values fail: a budget is a proof obligation, not a hope."""
        if self.value is None:
            return False
        if self.name == "accuracy":
            return self.value >= self.limit
        return self.value <= self.limit

    @property
    def margin(self) -> float | None:
        """Headroom left (positive) or the overrun (negative), in the unit."""
        if self.value is None:
            return None
        return self.value - self.limit if self.name == "accuracy" else self.limit - self.value

    @property
    def margin_fraction(self) -> float | None:
        if self.margin is None or not self.limit:
            return None
        return self.margin / self.limit

    def format(self, value: float | None) -> str:
        if value is None:
            return "unknown"
        if self.unit == "s":
            return format_duration(value)
        if self.unit == "B":
            return format_size(value)
        return f"{value:.1%}"

    def to_dict(self) -> dict:
        return {
            "name": self.name, "source": self.source, "limit": self.limit, "value": self.value,
            "unit": self.unit, "basis": self.basis, "passed": self.passed,
            "margin": self.margin, "margin_fraction": self.margin_fraction,
            "contributors": [vars(c) for c in self.contributors],
            "suggestion": self.suggestion,
        }


def _layer_label(layer) -> str:
    facts = layer.facts
    shape = list(facts.output_shapes[0]) if facts.output_shapes else []
    return f"layer {facts.index} {facts.op} -> {shape}"


def _top(items: list[tuple[str, float]], total: float, count: int = 3) -> list[Contributor]:
    ranked = sorted(items, key=lambda item: -item[1])[:count]
    return [Contributor(label, value, value / total if total else 0.0)
            for label, value in ranked if value > 0]


def _latency(profile, limit: float) -> ConstraintResult:
    basis = "measured" if profile.measured_count is not None else "estimated"
    result = ConstraintResult("latency", "budget", limit, profile.latency_s, "s", basis)
    if profile.latency_s is None:
        result.suggestion = (f"no cost model for core '{profile.board.core}' covers every layer: "
                             f"run `tinyflow calibrate --board {profile.board.name}`")
        return result
    seconds = profile.board.seconds
    items = [(_layer_label(layer), seconds(layer.count)) for layer in profile.layers
             if layer.count is not None]
    result.contributors = _top(items, profile.latency_s)
    if result.contributors:
        top = max(profile.layers, key=lambda layer: layer.count or 0)
        share = result.contributors[0].share
        over = profile.latency_s - limit
        kernel, kernel_count, kernel_share = _largest_kernel(profile)
        if over <= 0:
            result.suggestion = (f"slowest: {_layer_label(top)} ({share:.0%} of the time); "
                                 f"{kernel_count} {kernel} layer(s) take {kernel_share:.0%}")
        elif over < seconds(top.count):
            result.suggestion = (
                f"{_layer_label(top)} ({top.facts.kernel}) takes {share:.0%} of the time; "
                f"cutting its work (channels, resolution) by {over / seconds(top.count):.0%} "
                f"would save {format_duration(over)}")
        else:
            result.suggestion = (
                f"{format_duration(over)} over, more than the slowest layer takes; "
                f"{kernel_count} {kernel} layer(s) take {kernel_share:.0%} of the time: "
                f"slim those (fewer channels, a lower resolution) by about "
                f"{min(over / profile.latency_s / kernel_share, 1):.0%}, or use a faster board")
    return result


def _largest_kernel(profile) -> tuple[str, int, float]:
    """The kernel variant whose layers take the most time: (name, layers, share)."""
    totals: dict[str, list[float]] = {}
    for layer in profile.layers:
        if layer.count is not None:
            totals.setdefault(layer.facts.kernel, []).append(layer.count)
    name, counts = max(totals.items(), key=lambda item: sum(item[1]))
    whole = sum(sum(c) for c in totals.values())
    return name, len(counts), sum(counts) / whole if whole else 0.0


def _arena_peak_contributors(profile) -> tuple[list[Contributor], str]:
    """The buffers live when the arena peaks: they set the RAM the model needs."""
    peak = profile.peak_layer
    plan_buffers = peak.facts.arena_live_bytes
    live = peak.facts.live_buffers
    contributors = [Contributor(name, size, size / profile.ram_bytes)
                    for name, size in live]
    suggestion = (f"the arena peaks at {_layer_label(peak)}, where {format_size(plan_buffers)} "
                  f"of activations are live ({', '.join(name for name, _ in live)}); "
                  "fewer channels or a lower resolution there, or an earlier stride, "
                  "shrinks the arena")
    return contributors, suggestion


def _ram(profile, limit: float, source: str) -> ConstraintResult:
    basis = "measured" if profile.measurement and profile.measurement.ram_bytes is not None \
        else "estimated"
    result = ConstraintResult("ram", source, limit, profile.ram_bytes, "B", basis)
    contributors, suggestion = _arena_peak_contributors(profile)
    for label, size in (("stack", profile.board.stack_bytes),
                        ("firmware input buffer", profile.input_buffer_bytes),
                        ("firmware runtime", profile.runtime_ram_bytes)):
        contributors.append(Contributor(label, size, size / profile.ram_bytes))
    result.contributors = sorted(contributors, key=lambda c: -c.value)[:4]
    result.suggestion = suggestion
    used = profile.measurement.stack_used_bytes if profile.measurement else None
    if result.contributors[0].label == "firmware input buffer":
        result.suggestion = (f"the firmware keeps a copy of the input "
                             f"({format_size(profile.input_buffer_bytes)}) as it arrives over "
                             "serial; a deployed firmware that reads its sensor straight into "
                             "the arena does not need it; " + suggestion)
    if used and result.contributors[0].label == "stack":
        result.suggestion = (f"the board reserves {format_size(profile.board.stack_bytes)} of "
                             f"stack and the device used {format_size(used)} of it: a smaller "
                             f"stack_bytes in the board file frees the rest; " + suggestion)
    return result


def _flash(profile, limit: float, source: str) -> ConstraintResult:
    basis = "measured" if profile.measurement and profile.measurement.flash_bytes is not None \
        else "estimated"
    result = ConstraintResult("flash", source, limit, profile.flash_bytes, "B", basis)
    items = [(f"weights of {_layer_label(layer)}", layer.facts.weight_bytes)
             for layer in profile.layers]
    items.append(("firmware runtime", profile.runtime_flash_bytes))
    items.append(("generated code", profile.code_bytes))
    result.contributors = _top(items, profile.flash_bytes)
    heaviest = max(profile.layers, key=lambda layer: layer.facts.weight_bytes)
    share = heaviest.facts.weight_bytes / max(profile.flash_bytes, 1)
    over = profile.flash_bytes - limit
    if over > 0 and over < heaviest.facts.weight_bytes:
        result.suggestion = (f"{_layer_label(heaviest)} holds {share:.0%} of flash in weights; "
                             f"removing {over / heaviest.facts.weight_bytes:.0%} of them "
                             "(fewer units or channels, pruning) would fit")
    elif over > 0:
        ranked = sorted(profile.layers, key=lambda layer: -layer.facts.weight_bytes)[:3]
        held = sum(layer.facts.weight_bytes for layer in ranked)
        result.suggestion = (
            f"{format_size(over)} over, more than the largest layer's weights; layers "
            f"{', '.join(str(layer.facts.index) for layer in ranked)} hold "
            f"{format_size(held)} of weights: shrink those (fewer units or channels) "
            "or use a board with more flash")
    else:
        result.suggestion = (f"the largest weights are {_layer_label(heaviest)} "
                             f"({format_size(heaviest.facts.weight_bytes)}, {share:.0%} of flash)")
    return result


def _accuracy(profile, minimum: float) -> ConstraintResult:
    result = ConstraintResult("accuracy", "budget", minimum, profile.accuracy, "", "given")
    if profile.accuracy is None:
        result.suggestion = ("no accuracy was given: evaluate the int8 model "
                             "(e.g. `tinyflow infer` on a test set) and pass --accuracy")
    return result


def check_profile(profile) -> list[ConstraintResult]:
    """Every constraint of the profile's budget, then the board's memory sizes."""
    budget, board = profile.budget, profile.board
    results = []
    if budget.latency_s is not None:
        results.append(_latency(profile, budget.latency_s))
    if budget.ram_bytes is not None:
        results.append(_ram(profile, budget.ram_bytes, "budget"))
    if budget.flash_bytes is not None:
        results.append(_flash(profile, budget.flash_bytes, "budget"))
    if budget.accuracy is not None:
        results.append(_accuracy(profile, budget.accuracy))
    results.append(_ram(profile, board.ram_bytes, "board"))
    results.append(_flash(profile, board.flash_bytes, "board"))
    return results
