"""The loop's results as HTML for a notebook: accuracy against latency and against
RAM (the Pareto front, the budget drawn in), the trials, and the best model's profile.
Plots are inline SVG laid out here; the templates only draw them."""

from __future__ import annotations

from markupsafe import Markup

from tinyflow.common import template_environment

WIDTH, HEIGHT = 420, 260
LEFT, RIGHT, TOP, BOTTOM = 56, 410, 12, 220

_ENV = template_environment("tinyflow", autoescape=True)


def _ticks(low: float, high: float, count: int = 4) -> list[float]:
    step = (high - low) / count if high > low else 1.0
    return [low + i * step for i in range(count + 1)]


def scatter(result, x_of, x_label: str, x_format, budget_x: float | None) -> Markup:
    """Accuracy (y) against one cost (x): every complete trial, the Pareto front of
    the two, and a dashed line at the budget's limit."""
    trials = [r for r in result.complete if x_of(r) is not None and r.accuracy is not None]
    if not trials:
        return Markup("")
    xs = [x_of(r) for r in trials] + ([budget_x] if budget_x is not None else [])
    x_high = max(xs) * 1.1 or 1.0
    ys = [r.accuracy for r in trials]
    y_low, y_high = max(0.0, min(ys) - 0.05), min(1.0, max(ys) + 0.02)
    if y_high <= y_low:
        y_low, y_high = y_low - 0.05, y_high + 0.05

    def px(x: float) -> float:
        return round(LEFT + (RIGHT - LEFT) * x / x_high, 1)

    def py(y: float) -> float:
        return round(BOTTOM - (BOTTOM - TOP) * (y - y_low) / (y_high - y_low), 1)

    best = result.best
    points = [dict(x=px(x_of(r)), y=py(r.accuracy),
                   cls="best" if best is r else "pass" if r.budget_pass else "fail",
                   title=f"trial {r.number}: {r.accuracy:.1%}, {x_format(x_of(r))}")
              for r in trials]
    # Front: cheaper and more accurate than everything to its right.
    front, best_accuracy = [], -1.0
    for r in sorted(trials, key=lambda r: (x_of(r), -r.accuracy)):
        if r.accuracy > best_accuracy:
            front.append(f"{px(x_of(r))},{py(r.accuracy)}")
            best_accuracy = r.accuracy
    plot = dict(width=WIDTH, height=HEIGHT, left=LEFT, right=RIGHT, top=TOP, bottom=BOTTOM,
                x_label=x_label, y_label="accuracy", points=points,
                front=" ".join(front) if len(front) > 1 else "",
                budget_x=px(budget_x) if budget_x is not None else None,
                x_ticks=[dict(x=px(t), label=x_format(t)) for t in _ticks(0, x_high)],
                y_ticks=[dict(y=py(t), label=f"{t:.0%}") for t in _ticks(y_low, y_high)])
    return Markup(_ENV.get_template("scatter.svg.j2").render(plot=plot))


def loop_html(result) -> str:
    from tinyflow.loop import _budget_text

    budget = result.project.budget
    unit = next((r.latency["unit"] for r in result.complete if r.latency), "")
    plots = [
        scatter(result, lambda r: r.latency.get("seconds") and r.latency["seconds"] * 1e3,
                "latency (ms)", lambda v: f"{v:.3g} ms",
                budget.latency_s * 1e3 if budget.latency_s else None),
        scatter(result, lambda r: r.ram_bytes, "RAM (bytes)", lambda v: f"{v / 1024:.3g} KiB",
                budget.ram_bytes),
    ]
    best_profile = None
    if result.best is not None and result.best.model:
        from tinyflow.profiler import profile

        best_profile = Markup(profile(result.best.model, result.project.board,
                                      budget)._repr_html_())
    return _ENV.get_template("loop_report.html.j2").render(
        result=result, plots=plots, budget=_budget_text(budget), unit=unit,
        passing=sum(1 for r in result.complete if r.budget_pass), best_profile=best_profile,
        pct=lambda v: f"{v:.1%}" if v is not None else "-")
