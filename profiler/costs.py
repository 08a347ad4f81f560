"""The cost model: how many cycles (or emulated instructions) a layer takes, and
how many bytes of flash and RAM the generated code and firmware add.

Coefficients are data, one JSON file per core (``profiler/costs/<core>.json``,
shipped) or per board (``<cache>/costs/<board>.json``, written by
``tinyflow calibrate``). Each kernel variant names the layer features it is
linear in, e.g. ``depthwise_3x3``: cycles = a*calls + b*valid_macs + c*outputs.

Which file applies, first match wins:
1. an explicit path (``--costs FILE``);
2. the calibration cache for the board: ``$TINYFLOW_CACHE/costs/<board>.json``
   (default ``~/.cache/tinyflow/costs/<board>.json``);
3. the file shipped for the board's core.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

import numpy as np

from tinyflow.common import cache_dir, publish_file
from tinyflow.errors import CalibrationError, TinyflowError
from tinyflow.codegen.ops.base import FEATURES
from tinyflow.profiler.layers import LayerFacts

FORMAT_VERSION = 1


def costs_dir() -> Path:
    """Where calibrated cost models are kept: <cache>/costs/<board>.json."""
    return cache_dir("costs")


@dataclass
class KernelCost:
    """Cycles of one kernel variant as a linear function of layer features."""

    coefficients: dict[str, float]      # feature name -> cycles per unit of it
    code_bytes: float = 0.0             # flash of one layer's function (without its tables)
    samples: int = 0                    # layers it was fitted on
    fit_error: float = 0.0              # median relative error on those layers

    def cycles(self, features: dict[str, int]) -> float:
        return sum(c * features[name] for name, c in self.coefficients.items())


@dataclass
class CostModel:
    core: str
    unit: str                            # "instructions" (QEMU) or "cycles"
    kernels: dict[str, KernelCost]
    invoke_cycles: float = 0.0           # per inference, outside the layers (the call loop)
    runtime_flash_bytes: float = 0.0     # firmware: startup, UART, timer, libc, model glue
    runtime_ram_bytes: float = 0.0       # firmware .data + .bss besides the arena
    ram_per_input_byte: float = 0.0      # the firmware buffers one input it receives
    provenance: dict = field(default_factory=dict)   # how and where it was calibrated
    path: str = ""                       # the file it was read from

    # --- estimates ---------------------------------------------------------
    def layer_cycles(self, layer: LayerFacts) -> float | None:
        """Estimated cycles of one layer; None when the kernel has no coefficients."""
        kernel = self.kernels.get(layer.kernel)
        return None if kernel is None else max(0.0, kernel.cycles(layer.features))

    def layer_code_bytes(self, layer: LayerFacts) -> float:
        kernel = self.kernels.get(layer.kernel)
        code = kernel.code_bytes if kernel else self.mean_code_bytes()
        return code + layer.table_bytes

    def mean_code_bytes(self) -> float:
        sizes = [k.code_bytes for k in self.kernels.values() if k.code_bytes]
        return float(np.mean(sizes)) if sizes else 0.0

    # --- storage -----------------------------------------------------------
    def to_dict(self) -> dict:
        return {
            "format": FORMAT_VERSION,
            "core": self.core,
            "unit": self.unit,
            "invoke_cycles": round(self.invoke_cycles, 3),
            "runtime_flash_bytes": round(self.runtime_flash_bytes),
            "runtime_ram_bytes": round(self.runtime_ram_bytes),
            "ram_per_input_byte": round(self.ram_per_input_byte, 4),
            "kernels": {
                name: {"coefficients": {f: round(c, 6) for f, c in k.coefficients.items()},
                       "code_bytes": round(k.code_bytes, 1), "samples": k.samples,
                       "fit_error": round(k.fit_error, 4)}
                for name, k in sorted(self.kernels.items())
            },
            "provenance": self.provenance,
        }

    def save(self, path: str | Path) -> Path:
        return publish_file(path, json.dumps(self.to_dict(), indent=2, sort_keys=True) + "\n")

    @classmethod
    def from_dict(cls, data: dict, path: str = "") -> "CostModel":
        again = "run `tinyflow calibrate` again"
        if data.get("format") != FORMAT_VERSION:
            raise TinyflowError(f"{path}: cost model format {data.get('format')!r}; "
                                f"this tinyflow reads format {FORMAT_VERSION}: {again}")
        try:
            kernels = {name: KernelCost(coefficients={f: float(c) for f, c in
                                                      k["coefficients"].items()},
                                        code_bytes=float(k.get("code_bytes", 0.0)),
                                        samples=int(k.get("samples", 0)),
                                        fit_error=float(k.get("fit_error", 0.0)))
                       for name, k in data["kernels"].items()}
            core, unit = data["core"], data["unit"]
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise TinyflowError(f"{path}: malformed cost model ({exc!r}): {again}") from exc
        for name, kernel in kernels.items():
            unknown = set(kernel.coefficients) - set(FEATURES)
            if unknown:
                raise TinyflowError(f"{path}: kernel {name} uses unknown features "
                                    f"{sorted(unknown)}: {again}")
        return cls(core=core, unit=unit, kernels=kernels,
                   invoke_cycles=float(data.get("invoke_cycles", 0.0)),
                   runtime_flash_bytes=float(data.get("runtime_flash_bytes", 0.0)),
                   runtime_ram_bytes=float(data.get("runtime_ram_bytes", 0.0)),
                   ram_per_input_byte=float(data.get("ram_per_input_byte", 0.0)),
                   provenance=dict(data.get("provenance", {})), path=str(path))

    @classmethod
    def load(cls, path: str | Path) -> "CostModel":
        path = Path(path)
        try:
            data = json.loads(path.read_text())
        except (OSError, ValueError) as exc:
            raise TinyflowError(f"{path}: cannot read cost model: {exc}") from exc
        return cls.from_dict(data, str(path))


# The sources that decide which C the device runs and how it is compiled: the op
# templates, prepare steps and runtime, the firmware templates, its compile flags and
# the board files (their FPU flags).
# Refactors elsewhere (how templates are loaded, the CLI) leave the timed code as is.
TIMED_SOURCES = {
    "tinyflow.codegen": ("templates/", "runtime/", "ops/", "quantize.py"),
    "tinyflow.firmware": ("templates/", "build.py"),
    "tinyflow.boards": ("",),          # a board's compiler flags are in its file
}


def source_fingerprint(package: str, prefixes: tuple[str, ...]) -> str:
    """A hash of the files of a tinyflow package whose paths start with ``prefixes``."""
    digest = hashlib.sha256()
    root = resources.files(package)
    stack, files = [(root, "")], []
    while stack:
        directory, relative = stack.pop()
        for entry in directory.iterdir():
            path = relative + entry.name
            if entry.is_dir():
                if entry.name != "__pycache__":
                    stack.append((entry, path + "/"))
            elif path.startswith(prefixes) and not path.endswith(".pyc"):
                files.append((path, entry))
    for path, entry in sorted(files, key=lambda item: item[0]):
        digest.update(path.encode())
        digest.update(entry.read_bytes())
    return digest.hexdigest()[:16]


def timed_code_fingerprint() -> str:
    """Coefficients describe the C that tinyflow generates, compiled with the firmware's
    flags: when either changes, a cost model calibrated before may be off, and the
    profile says so (and stored measurements no longer apply)."""
    return "-".join(source_fingerprint(package, prefixes)
                    for package, prefixes in TIMED_SOURCES.items())


def shipped_cost_file(core: str):
    """The cost model shipped with tinyflow for ``core`` (a Traversable), or None."""
    entry = resources.files("tinyflow.profiler").joinpath("costs", f"{core}.json")
    return entry if entry.is_file() else None


def find_cost_model(board, path: str | Path | None = None) -> CostModel | None:
    """The cost model for ``board`` (a BoardLimits), by the order in the module docstring."""
    if path is not None:
        return CostModel.load(path)
    cached_file = costs_dir() / f"{board.name}.json"
    cached = CostModel.load(cached_file) if cached_file.is_file() else None
    shipped_file = shipped_cost_file(board.core)
    shipped = (CostModel.from_dict(json.loads(shipped_file.read_text()),
                                   f"tinyflow/profiler/costs/{board.core}.json")
               if shipped_file is not None else None)
    # A calibration of code tinyflow no longer generates loses to a shipped model of
    # the current code; otherwise the user's own calibration wins.
    current = timed_code_fingerprint()
    if (cached is not None and shipped is not None
            and cached.provenance.get("sources") != current
            and shipped.provenance.get("sources") == current):
        return shipped
    return cached or shipped


# --- fitting ---------------------------------------------------------------

def fit_nonnegative(features: np.ndarray, targets: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """Weighted least squares with every coefficient >= 0.

    Negative coefficients can fit the calibration set but predict negative time
    for shapes outside it. With a handful of features per kernel, trying every
    subset of them and keeping the best all-non-negative solution is exact and
    easy to follow (it is what an NNLS solver finds, by brute force).
    """
    count = features.shape[1]
    a, b = features * weights[:, None], targets * weights
    best, best_residual = np.zeros(count), float(np.sum(b ** 2))
    for subset in range(1, 1 << count):
        columns = [i for i in range(count) if subset >> i & 1]
        solution, *_ = np.linalg.lstsq(a[:, columns], b, rcond=None)
        if (solution < 0).any():
            continue
        residual = float(np.sum((a[:, columns] @ solution - b) ** 2))
        if residual < best_residual - 1e-12 * max(best_residual, 1.0):
            best = np.zeros(count)
            best[columns] = solution
            best_residual = residual
    return best


def fit_kernel(name: str, samples: list[tuple[LayerFacts, float]]) -> KernelCost:
    """Fit one kernel variant's coefficients to its (layer, measured cycles) samples.

    Each sample is weighted by 1/measured, so the fit minimises relative error:
    small layers count as much as big ones, which keeps per-layer estimates honest.
    """
    names = list(samples[0][0].cost_terms)     # the op declares them, the same for each layer
    if len(samples) < len(names):
        raise CalibrationError(
            f"kernel {name}: {len(samples)} measured layer(s) cannot fit {len(names)} "
            f"coefficients ({', '.join(names)}); add calibration layers of this kind")
    x = np.array([[layer.features[f] for f in names] for layer, _ in samples], dtype=float)
    y = np.array([measured for _, measured in samples], dtype=float)
    coefficients = fit_nonnegative(x, y, 1.0 / np.maximum(y, 1.0))
    errors = np.abs(x @ coefficients - y) / np.maximum(y, 1.0)
    return KernelCost(coefficients=dict(zip(names, map(float, coefficients))),
                      samples=len(samples), fit_error=float(np.median(errors)))


def fit_kernels(samples: list[tuple[LayerFacts, float]]) -> tuple[dict[str, KernelCost],
                                                                   list[str]]:
    """Fit every kernel variant that has enough samples: (kernels, why others were not)."""
    by_kernel: dict[str, list[tuple[LayerFacts, float]]] = {}
    for layer, measured in samples:
        by_kernel.setdefault(layer.kernel, []).append((layer, measured))
    kernels, skipped = {}, []
    for name, rows in sorted(by_kernel.items()):
        try:
            kernels[name] = fit_kernel(name, rows)
        except CalibrationError as exc:
            skipped.append(str(exc))
    return kernels, skipped
