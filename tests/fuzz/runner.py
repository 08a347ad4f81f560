"""What a mutant must satisfy, checked one mutant at a time and counted.

Every mutant is loaded and generated in this process under a time limit: it must be
generated or refused with a TinyflowError (one clear message), never raise anything
else or hang. An accepted mutant whose generated code is new (not seen before in this
run) is, while the compile budget lasts, also run by TFLM (oracle.py): if TFLM
accepts it too, the generated C is compiled for the host and its output bytes must
equal TFLM's.
"""

from __future__ import annotations

import hashlib
import signal
import traceback
from contextlib import contextmanager
from dataclasses import dataclass, field

import numpy as np

from tinyflow.codegen.generator import generate
from tinyflow.codegen.ir import load_model
from tinyflow.errors import TinyflowError
from tinyflow.firmware.host import compile_host

from fuzz.oracle import tflm_outputs

GENERATE_SECONDS = 20       # far above the slowest real model (VWW: ~1 s)
BUILD_AND_RUN_SECONDS = 120  # a host build takes ~1-3 s, a batch run milliseconds
BATCH = 4


class Hang(Exception):
    pass


@contextmanager
def time_limit(seconds: float):
    def expired(signum, frame):
        raise Hang(f"no answer after {seconds} s")
    previous = signal.signal(signal.SIGALRM, expired)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


@dataclass
class Tally:
    mutants: int = 0
    rejected: int = 0               # refused by tinyflow with a TinyflowError
    accepted: int = 0
    same_code: int = 0              # accepted, code already compared (or not compared: budget)
    rejected_by_tflm: int = 0       # accepted by tinyflow, refused (or crashed) by TFLM
    bit_exact: int = 0              # accepted by both, every output byte equal
    failures: list[str] = field(default_factory=list)
    seen_code: set[str] = field(default_factory=set)
    messages: set[str] = field(default_factory=set)  # first lines of tinyflow's refusals

    def __str__(self) -> str:
        return (f"{self.mutants} mutants: {self.rejected} rejected by tinyflow, "
                f"{self.accepted} accepted ({self.rejected_by_tflm} of them rejected by TFLM, "
                f"{self.bit_exact} compiled and bit-exact with TFLM, {self.same_code} "
                f"not compiled: code seen before or over budget); "
                f"{len(self.failures)} failures")


def check_mutant(data: bytes, what: str, tally: Tally, *, compile_budget: int,
                 seed: int = 0) -> None:
    """Check one mutant (``what`` says how it was made); failures go to the tally."""
    tally.mutants += 1
    try:
        with time_limit(GENERATE_SECONDS):
            model = load_model(data, name="mutant")
            str(model)            # what `tinyflow inspect` prints first, valid or not
            generated = generate(model)
    except TinyflowError as exc:
        tally.rejected += 1
        lines = str(exc).splitlines()
        tally.messages.add(lines[1 if len(lines) > 1 else 0].strip()[:160])
        return
    except Exception as exc:      # noqa: BLE001 - any other exception is the finding
        where = traceback.extract_tb(exc.__traceback__)[-1]
        tally.failures.append(f"{what}: {type(exc).__name__}: {exc} "
                              f"(at {where.filename}:{where.lineno})")
        return
    tally.accepted += 1
    code = hashlib.sha256("".join(text for name, text in sorted(generated.files.items())
                                  if name != "manifest.json").encode()).hexdigest()
    if code in tally.seen_code or tally.bit_exact + tally.rejected_by_tflm >= compile_budget:
        tally.same_code += 1
        return
    tally.seen_code.add(code)
    inputs = random_inputs(model, BATCH, seed)
    expected = tflm_outputs(data, inputs, len(model.outputs))
    if isinstance(expected, str):
        tally.rejected_by_tflm += 1
        return
    try:
        with time_limit(BUILD_AND_RUN_SECONDS):   # subprocess.run kills its child on Hang
            ours = compile_host(generated).run(inputs)
    except (TinyflowError, Hang) as exc:
        tally.failures.append(f"{what}: accepted, but the host build or run failed: {exc}")
        return
    for position, (a, b) in enumerate(zip(ours, expected)):
        if a.shape != b.shape or a.dtype != b.dtype or a.tobytes() != b.tobytes():
            differing = (np.count_nonzero(a.view(np.uint8) != b.view(np.uint8))
                         if a.shape == b.shape and a.dtype == b.dtype else "all")
            tally.failures.append(f"{what}: output {position} differs from TFLM "
                                  f"({differing} bytes)")
            return
    tally.bit_exact += 1


def random_inputs(model, batch: int, seed: int) -> list[np.ndarray]:
    """Random inputs over each input's full range (floats in [-1, 1))."""
    rng = np.random.default_rng(seed)
    arrays = []
    for tensor in model.input_tensors:
        shape = (batch,) + tuple(tensor.shape)
        if np.dtype(tensor.dtype).kind == "f":
            arrays.append(rng.uniform(-1, 1, size=shape).astype(tensor.dtype))
        else:
            info = np.iinfo(tensor.dtype)
            arrays.append(rng.integers(info.min, info.max, size=shape, endpoint=True,
                                       dtype=tensor.dtype))
    return arrays
