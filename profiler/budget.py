"""Budgets: what a model must fit in, parsed from the CLI or a project file.

A budget is the user's limits (latency, RAM, flash, optionally a minimum
accuracy); the board's own memory sizes are always checked as well. Budget text
is ``latency=50ms,ram=64KiB,flash=256KiB,accuracy=0.9``; a project file
(``tinyflow.toml`` with a ``[budget]`` table, or YAML with a ``budget:`` mapping)
holds the same keys. Values on the command line override the project file.
"""

from __future__ import annotations

from dataclasses import dataclass, fields, replace
from pathlib import Path

import yaml

from tinyflow.errors import BudgetError
from tinyflow.profiler.units import parse_duration, parse_size

PROJECT_FILES = ("tinyflow.toml", "tinyflow.yaml", "tinyflow.yml")


@dataclass(frozen=True)
class Budget:
    latency_s: float | None = None
    ram_bytes: int | None = None
    flash_bytes: int | None = None
    accuracy: float | None = None       # minimum, as a fraction in [0, 1]

    def merged(self, override: "Budget") -> "Budget":
        """This budget with every constraint ``override`` sets replaced."""
        changes = {f.name: getattr(override, f.name) for f in fields(self)
                   if getattr(override, f.name) is not None}
        return replace(self, **changes)

    def to_dict(self) -> dict:
        return {f.name: getattr(self, f.name) for f in fields(self)
                if getattr(self, f.name) is not None}


def _parse_accuracy(text) -> float:
    raw = str(text).strip()
    try:
        value = float(raw[:-1]) / 100 if raw.endswith("%") else float(raw)
    except ValueError:
        raise BudgetError(f"accuracy '{text}': expected a fraction (0.9) or a percentage (90%)")
    if not 0 <= value <= 1:
        raise BudgetError(f"accuracy '{text}' is outside 0..1 (or 0%..100%)")
    return value


# Budget key -> (Budget field, parser).
_KEYS = {
    "latency": ("latency_s", parse_duration),
    "ram": ("ram_bytes", parse_size),
    "flash": ("flash_bytes", parse_size),
    "accuracy": ("accuracy", _parse_accuracy),
}


def budget_from_mapping(values: dict, where: str) -> Budget:
    """A Budget from {"latency": "50ms", ...}; unknown keys are errors, not ignored."""
    settings = {}
    for key, value in values.items():
        if key not in _KEYS:
            raise BudgetError(f"{where}: unknown budget '{key}'; "
                              f"budgets are {', '.join(_KEYS)}")
        field_name, parse = _KEYS[key]
        if field_name in settings:
            raise BudgetError(f"{where}: budget '{key}' is given twice")
        try:
            settings[field_name] = parse(value)
        except BudgetError as exc:
            raise BudgetError(f"{where}: {key}: {exc}") from None
    return Budget(**settings)


def parse_budget(text: str) -> Budget:
    """Budget text from the command line.

    >>> parse_budget("latency=50ms,ram=64KiB,accuracy=90%")
    Budget(latency_s=0.05, ram_bytes=65536, flash_bytes=None, accuracy=0.9)
    """
    pairs = {}
    for item in filter(None, (part.strip() for part in text.split(","))):
        key, sep, value = item.partition("=")
        if not sep or not key.strip() or not value.strip():
            raise BudgetError(f"--budget: '{item}' is not KEY=VALUE "
                              "(e.g. latency=50ms,ram=64KiB,flash=256KiB)")
        key = key.strip()
        if key in pairs:
            raise BudgetError(f"--budget: '{key}' is given twice")
        pairs[key] = value.strip()
    if not pairs:
        raise BudgetError("--budget is empty (e.g. latency=50ms,ram=64KiB,flash=256KiB)")
    return budget_from_mapping(pairs, "--budget")


def load_project_budget(path: str | Path) -> Budget:
    """The budget in a project file: tinyflow.toml ([budget]) or YAML (budget:)."""
    path = Path(path)
    try:
        text = path.read_text()
    except OSError as exc:
        raise BudgetError(f"{path}: cannot read project file: {exc.strerror}") from exc
    try:
        if path.suffix == ".toml":
            import tomllib
            data = tomllib.loads(text)
        else:
            data = yaml.safe_load(text) or {}
    except Exception as exc:   # tomllib and yaml raise their own error types
        raise BudgetError(f"{path}: not valid {path.suffix[1:].upper()}: {exc}") from exc
    section = data.get("budget") if isinstance(data, dict) else None
    if section is None:
        return Budget()
    if not isinstance(section, dict):
        raise BudgetError(f"{path}: 'budget' must be a table of key = value")
    return budget_from_mapping(section, f"{path} [budget]")


def find_project_file(directory: str | Path = ".") -> Path | None:
    for name in PROJECT_FILES:
        candidate = Path(directory) / name
        if candidate.is_file():
            return candidate
    return None
