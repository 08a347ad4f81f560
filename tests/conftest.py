"""Shared fixtures: the MLPerf Tiny models, a bit-exact comparison against TFLM."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

REPO = Path(__file__).resolve().parent.parent
MLPERF_DIR = Path(os.environ.get("TINYFLOW_MLPERF_DIR", REPO.parent / "shared" / "models" / "mlperf-tiny"))
MLPERF_MODELS = ["kws_ref_model", "vww_96_int8", "pretrainedResnet_quant", "ad01_int8"]


def mlperf_model(name: str) -> Path:
    path = MLPERF_DIR / f"{name}.tflite"
    if not path.exists():
        pytest.fail(f"MLPerf Tiny model missing: {path} (set TINYFLOW_MLPERF_DIR)")
    return path


def random_inputs(model, batch: int, seed: int) -> list[np.ndarray]:
    """Uniform random inputs over each input's full dtype range (floats: [-1, 1))."""
    rng = np.random.default_rng(seed)
    arrays = []
    for tensor in model.input_tensors:
        shape = (batch,) + tuple(tensor.shape)
        if tensor.dtype == "float32":
            arrays.append(rng.uniform(-1, 1, size=shape).astype(np.float32))
        else:
            info = np.iinfo(tensor.dtype)
            arrays.append(rng.integers(info.min, info.max + 1, size=shape, dtype=tensor.dtype))
    return arrays


def assert_bit_exact(model_source, batch: int = 20, seed: int = 0, inputs=None,
                     reference=None):
    """Generate + compile for the host, run, and compare every output byte with TFLM
    (or with ``reference(model_source, inputs) -> outputs``, for a model TFLM cannot
    run; the caller says why)."""
    from tinyflow.firmware.host import compile_host
    from tinyflow.codegen.ir import load_model
    from tinyflow.reference import ReferenceInterpreter

    model = load_model(model_source)
    host = compile_host(model)
    inputs = inputs if inputs is not None else random_inputs(model, batch, seed)
    ours = host.run(inputs)
    if reference is None:
        reference = ReferenceInterpreter(model_source).run(inputs)
    else:
        reference = reference(model_source, inputs)
    assert len(ours) == len(reference)
    for position, (a, b) in enumerate(zip(ours, reference)):
        assert a.dtype == b.dtype and a.shape == b.shape, (position, a.shape, b.shape)
        mismatched = np.flatnonzero(a.view(np.uint8) != b.view(np.uint8))
        assert mismatched.size == 0, (
            f"{model.name} output {position}: {mismatched.size} of {a.nbytes} bytes differ; "
            f"first at byte {mismatched[0]}: ours {a.view(np.uint8).ravel()[mismatched[0]]}, "
            f"TFLM {b.view(np.uint8).ravel()[mismatched[0]]}")
    return ours


@pytest.fixture(scope="session")
def tmp_cache(tmp_path_factory):
    return tmp_path_factory.mktemp("cache")
