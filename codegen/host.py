"""Compile generated code natively and run batches of inputs through it.

The host build is the fastest way to check generated C against the reference
interpreter: one process runs a whole batch, inputs on stdin, outputs on stdout.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

import numpy as np

from tinyflow.codegen.batch import check_inputs, split_outputs
from tinyflow.codegen.generator import GeneratedCode, generate, render_host_main
from tinyflow.errors import BuildError, InputError, ToolNotFoundError
from tinyflow.codegen.ir import Model

HOST_CFLAGS = ["-std=c99", "-O2", "-Wall", "-Wextra", "-Werror"]


def _cache_dir() -> Path:
    root = os.environ.get("TINYFLOW_CACHE") or os.path.join(
        os.environ.get("XDG_CACHE_HOME", os.path.expanduser("~/.cache")), "tinyflow")
    return Path(root) / "host"


class HostModel:
    """A model compiled for this machine. ``run(inputs)`` returns its outputs."""

    def __init__(self, generated: GeneratedCode, executable: Path):
        self.generated = generated
        self.model = generated.model
        self.executable = executable

    def run(self, inputs) -> list[np.ndarray]:
        """Run a batch. ``inputs`` holds one array per model input, each with a leading
        batch axis; returns one array per model output, batch first."""
        arrays = check_inputs(self.model, inputs)
        batch = arrays[0].shape[0]
        stdin = b"".join(a[i].tobytes() for i in range(batch) for a in arrays)
        result = subprocess.run([str(self.executable), str(batch)], input=stdin,
                                capture_output=True, check=False)
        if result.returncode != 0:
            raise BuildError(f"host runner for {self.model.name} failed "
                             f"(exit {result.returncode}): {result.stderr.decode().strip()}")
        return split_outputs(self.model, result.stdout, batch)


def compile_host(model, *, cc: str = "gcc", extra_cflags=(), cache: bool = True) -> HostModel:
    """Generate and compile ``model`` for this machine (cached by generated-code hash)."""
    generated = model if isinstance(model, GeneratedCode) else generate(model)
    compiler = shutil.which(cc)
    if compiler is None:
        raise ToolNotFoundError(f"C compiler '{cc}' not found; install gcc (apt-get install gcc)")
    files = dict(generated.files)
    files["host_main.c"] = render_host_main(generated)
    flags = HOST_CFLAGS + list(extra_cflags)
    digest = hashlib.sha256(repr((sorted(files.items()), flags, cc)).encode()).hexdigest()[:20]
    executable = _cache_dir() / f"{generated.model.name}-{digest}"
    if cache and executable.exists():
        return HostModel(generated, executable)

    with tempfile.TemporaryDirectory(prefix="tinyflow-host-") as build:
        build = Path(build)
        for name, text in files.items():
            (build / name).write_text(text)
        sources = [str(build / n) for n in files if n.endswith(".c")]
        output = build / "model"
        result = subprocess.run([compiler, *flags, "-I", str(build), *sources, "-o", str(output),
                                 "-lm"], capture_output=True, text=True, check=False)
        if result.returncode != 0:
            raise BuildError(f"compiling {generated.model.name} for the host failed:\n"
                             f"{result.stderr[-4000:]}")
        executable.parent.mkdir(parents=True, exist_ok=True)
        staged = executable.with_suffix(".tmp")
        shutil.copy2(output, staged)
        os.replace(staged, executable)
    return HostModel(generated, executable)
