"""Strict parsing and friendly printing of durations and byte sizes.

Budgets come from people ("50ms", "64KiB"), so parsing is strict: a number and a
known unit, nothing else. A bare number is refused because "64" could mean bytes
or KiB; the error lists the units that are accepted.
"""

from __future__ import annotations

import math
import re

from tinyflow.errors import BudgetError

# Unit -> seconds. Case matters for none of them, but they are matched exactly.
DURATION_UNITS = {"s": 1.0, "ms": 1e-3, "us": 1e-6, "µs": 1e-6}

# Decimal (KB, MB: powers of 1000) and binary (KiB, MiB: powers of 1024) units, as IEC says.
SIZE_UNITS = {"B": 1, "KB": 1000, "MB": 1000 ** 2, "KiB": 1024, "MiB": 1024 ** 2}

_NUMBER_UNIT = re.compile(r"^\s*([0-9]+(?:\.[0-9]*)?|\.[0-9]+)\s*([^\s0-9.]+)\s*$")


def _split(text: str, what: str, units: dict) -> tuple[float, str]:
    match = _NUMBER_UNIT.match(str(text))
    accepted = ", ".join(units)
    if not match:
        raise BudgetError(f"{what} '{text}': expected a number followed by a unit "
                          f"({accepted}), e.g. {_example(what)}")
    number, unit = float(match.group(1)), match.group(2)
    if unit not in units:
        hint = ""
        lowered = {u.lower(): u for u in units}
        if unit.lower() in lowered:
            hint = f" (did you mean {lowered[unit.lower()]}?)"
        raise BudgetError(f"{what} '{text}': unknown unit '{unit}'{hint}; use one of {accepted}")
    if not math.isfinite(number):
        raise BudgetError(f"{what} '{text}' is not a finite number")
    return number, unit


def _example(what: str) -> str:
    return "50ms" if what == "duration" else "64KiB"


def parse_duration(text: str) -> float:
    """A duration in seconds. Accepts s, ms, us (or µs).

    >>> parse_duration("50ms"), parse_duration("1.5 s"), parse_duration("250us")
    (0.05, 1.5, 0.00025)
    """
    number, unit = _split(text, "duration", DURATION_UNITS)
    return number * DURATION_UNITS[unit]


def parse_size(text: str) -> int:
    """A size in bytes. Accepts B, KB, KiB, MB, MiB; the result must be whole bytes.

    >>> parse_size("64KiB"), parse_size("64KB"), parse_size("1.5MiB")
    (65536, 64000, 1572864)
    >>> parse_size("64")                     # doctest: +ELLIPSIS
    Traceback (most recent call last):
    tinyflow.errors.BudgetError: size '64': expected a number followed by a unit ...
    """
    number, unit = _split(text, "size", SIZE_UNITS)
    value = number * SIZE_UNITS[unit]
    if value != int(value):
        raise BudgetError(f"size '{text}' is {value} bytes, not a whole number of bytes")
    return int(value)


def format_duration(seconds: float) -> str:
    """0.0123 -> '12.3 ms'."""
    magnitude = abs(seconds)
    if magnitude >= 1:
        return f"{seconds:.3g} s"
    if magnitude >= 1e-3:
        return f"{seconds * 1e3:.3g} ms"
    return f"{seconds * 1e6:.3g} us"


def format_size(nbytes: float) -> str:
    """65536 -> '64.0 KiB'; sizes under 1 KiB stay in bytes."""
    magnitude = abs(nbytes)
    if magnitude >= 1024 ** 2:
        return f"{nbytes / 1024 ** 2:.2f} MiB"
    if magnitude >= 1024:
        return f"{nbytes / 1024:.1f} KiB"
    return f"{int(nbytes)} B"


def format_count(value: float) -> str:
    """12501632 -> '12.5 M' (MACs, instructions)."""
    magnitude = abs(value)
    for limit, suffix in ((1e9, "G"), (1e6, "M"), (1e3, "k")):
        if magnitude >= limit:
            return f"{value / limit:.3g} {suffix}"
    return f"{value:.0f}"
