"""A loop project: ``tinyflow.toml`` says what to train, how to compress it, which board
and budget it must fit, and what to search.

    [project]
    name = "digits"
    builder = "model:build"          # module:function, found beside the project file
    dataset = "digits"               # tinyflow.datasets name
    board = "qemu-cortex-m4"

    [dataset]                        # keyword arguments of the dataset (optional)
    seed = 0

    [budget]                         # as for `tinyflow profile`
    latency = "5ms"
    ram = "16KiB"
    flash = "64KiB"

    [train]
    epochs = 20
    batch_size = 32
    seed = 0

    [compress]
    quantization = ["ptq", "qat"]    # searched when several
    prune = [0.0, 0.5]               # structured pruning fractions
    fine_tune_epochs = 5

    [search]
    trials = 8
    storage = "sqlite:///loop.db"    # any Optuna RDB URL; default: loop.db beside the file
    models_dir = "loop-models"       # the trials' int8 models (default: beside the file)
    study = "digits"
    device_samples = 200             # test samples sent to the device for its accuracy

    [search.space]                   # the builder's keyword arguments
    width = [0.5, 1.0]               # a list: one of these
    filters = {low = 4, high = 16, step = 4}   # a range (int or float; log = true)
    resolution = [0.75, 1.0]         # reserved: the input's height and width scaled

Every problem in the file is reported at once, with where it is.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from pathlib import Path

from tinyflow.errors import InputError
from tinyflow.profiler.budget import Budget, budget_from_mapping

QUANTIZATIONS = ("ptq", "qat")
SECTIONS = {
    "project": {"name", "builder", "dataset", "board"},
    "dataset": None,                # free: the dataset's keyword arguments
    "budget": None,                 # checked by the budget parser
    "train": {"epochs", "batch_size", "learning_rate", "patience", "seed"},
    "compress": {"quantization", "prune", "fine_tune_epochs", "representative_samples"},
    "search": {"trials", "storage", "study", "device_samples", "space", "reach", "models_dir"},
}


@dataclass(frozen=True)
class Parameter:
    """One searched dimension: a list of choices, or a range."""

    name: str
    choices: tuple | None = None
    low: float | None = None
    high: float | None = None
    step: float | None = None
    log: bool = False

    def suggest(self, trial):
        if self.choices is not None:
            return trial.suggest_categorical(self.name, list(self.choices))
        if all(isinstance(v, int) for v in (self.low, self.high)) and \
                (self.step is None or isinstance(self.step, int)):
            return trial.suggest_int(self.name, self.low, self.high, step=self.step or 1,
                                     log=self.log)
        return trial.suggest_float(self.name, self.low, self.high, step=self.step, log=self.log)


@dataclass
class Project:
    path: Path
    name: str
    builder: str
    dataset: str
    board: str
    budget: Budget
    dataset_options: dict = field(default_factory=dict)
    train: dict = field(default_factory=dict)
    quantization: tuple[str, ...] = ("ptq",)
    prune: tuple[float, ...] = (0.0,)
    fine_tune_epochs: int = 5
    representative_samples: int = 200
    trials: int = 8
    storage: str = ""
    study: str = ""
    device_samples: int = 200
    reach: float = 1.3               # measure on the device when estimates are within this
    space: list[Parameter] = field(default_factory=list)
    models_dir: Path | None = None   # where each trial's int8 model is kept

    def __post_init__(self):
        if self.models_dir is None:
            self.models_dir = self.path.parent / "loop-models"

    @property
    def directory(self) -> Path:
        return self.path.parent

    def parameters(self) -> list[Parameter]:
        """The searched dimensions: the builder's, then compression's when it has a choice."""
        extra = []
        if len(self.quantization) > 1:
            extra.append(Parameter("quantization", choices=self.quantization))
        if len(self.prune) > 1:
            extra.append(Parameter("prune", choices=self.prune))
        return self.space + extra


def load_project(path: str | Path) -> Project:
    """Read and check a project file (a tinyflow.toml, or the folder holding one)."""
    path = Path(path)
    if path.is_dir():
        path = path / "tinyflow.toml"
    try:
        data = tomllib.loads(path.read_text())
    except OSError as exc:
        raise InputError(f"{path}: cannot read the project file: {exc.strerror}") from exc
    except tomllib.TOMLDecodeError as exc:
        raise InputError(f"{path}: not valid TOML: {exc}") from exc

    problems = []
    for section, value in data.items():
        if section not in SECTIONS:
            problems.append(f"unknown section [{section}]; sections are {', '.join(SECTIONS)}")
        elif not isinstance(value, dict):
            problems.append(f"[{section}] must be a table")
        elif SECTIONS[section] is not None:
            unknown = set(value) - SECTIONS[section]
            if unknown:
                problems.append(f"[{section}]: unknown key(s) {', '.join(sorted(unknown))}")
    if problems:
        raise InputError(f"{path}: " + "; ".join(problems))

    project_section = data.get("project", {})
    for key in ("builder", "dataset"):
        if not isinstance(project_section.get(key), str):
            problems.append(f"[project] {key} is required (a string)")
    compress = data.get("compress", {})
    search = data.get("search", {})
    quantization = tuple(_as_list(compress.get("quantization", "ptq")))
    bad = [q for q in quantization if q not in QUANTIZATIONS]
    if bad or not quantization:
        problems.append(f"[compress] quantization {bad or quantization}: use "
                        f"{' or '.join(QUANTIZATIONS)}")
    prune = tuple(_as_list(compress.get("prune", 0.0)))
    if not prune or not all(isinstance(p, (int, float)) and 0 <= p < 1 for p in prune):
        problems.append(f"[compress] prune {list(prune)}: fractions in [0, 1)")
    space = []
    for name, spec in search.get("space", {}).items():
        try:
            space.append(_parameter(name, spec))
        except ValueError as exc:
            problems.append(f"[search.space] {name}: {exc}")
    for section, key, minimum in (("search", "trials", 1), ("search", "device_samples", 1),
                                  ("train", "epochs", 1), ("compress", "fine_tune_epochs", 0)):
        value = data.get(section, {}).get(key)
        if value is not None and (not isinstance(value, int) or value < minimum):
            problems.append(f"[{section}] {key} must be an integer >= {minimum}")
    budget = Budget()
    try:
        budget = budget_from_mapping(data.get("budget", {}), f"{path} [budget]")
    except Exception as exc:   # BudgetError: collected with the rest
        problems.append(str(exc).removeprefix(f"{path} "))
    if problems:
        raise InputError(f"{path}: " + "; ".join(problems))

    from tinyflow.boards import DEFAULT_BOARD

    name = project_section.get("name", path.parent.name)
    return Project(
        path=path.resolve(), name=name, builder=project_section["builder"],
        dataset=project_section["dataset"], board=project_section.get("board", DEFAULT_BOARD),
        budget=budget, dataset_options=dict(data.get("dataset", {})),
        train=dict(data.get("train", {})), quantization=quantization,
        prune=tuple(float(p) for p in prune),
        fine_tune_epochs=compress.get("fine_tune_epochs", 5),
        representative_samples=compress.get("representative_samples", 200),
        trials=search.get("trials", 8),
        storage=search.get("storage", f"sqlite:///{path.resolve().parent / 'loop.db'}"),
        study=search.get("study", name), device_samples=search.get("device_samples", 200),
        reach=float(search.get("reach", 1.3)), space=space,
        models_dir=(path.resolve().parent / search["models_dir"]) if "models_dir" in search
        else None)


def _as_list(value) -> list:
    return list(value) if isinstance(value, (list, tuple)) else [value]


def _parameter(name: str, spec) -> Parameter:
    if isinstance(spec, list):
        if not spec:
            raise ValueError("an empty list of choices")
        return Parameter(name, choices=tuple(spec))
    if isinstance(spec, dict):
        unknown = set(spec) - {"low", "high", "step", "log"}
        if unknown or "low" not in spec or "high" not in spec:
            raise ValueError("a range needs low and high (and may have step, log)")
        if not spec["low"] <= spec["high"]:
            raise ValueError("low is above high")
        return Parameter(name, low=spec["low"], high=spec["high"], step=spec.get("step"),
                         log=bool(spec.get("log", False)))
    return Parameter(name, choices=(spec,))    # a fixed value
