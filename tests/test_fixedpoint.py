"""codegen/fixedpoint.py (TFLM's integer arithmetic in Python, for tables computed at
generation time) against the C runtime's functions of the same arithmetic
(codegen/runtime/tf_runtime.h, itself checked against TFLM by tests/c/test_runtime.c
and every op test), on edge values and random ones. The tables' ops (RSQRT,
HARD_SWISH) are compared with TFLM end to end in tests/ops/test_lookup.py."""

import subprocess
from pathlib import Path

import numpy as np
import pytest

from tinyflow.codegen import fixedpoint as fp

REPO = Path(__file__).resolve().parent.parent
INT32_EDGES = [fp.INT32_MIN, fp.INT32_MIN + 1, -(1 << 30), -65536, -3, -2, -1, 0, 1, 2, 3,
               65535, 1 << 30, fp.INT32_MAX - 1, fp.INT32_MAX]


@pytest.fixture(scope="module")
def oracle(tmp_path_factory):
    program = tmp_path_factory.mktemp("fixedpoint") / "oracle"
    result = subprocess.run(
        ["gcc", "-std=c99", "-Wall", "-Wextra", "-Werror", "-O2",
         "-I", str(REPO / "codegen" / "runtime"), str(REPO / "tests" / "c" / "fixedpoint_oracle.c"),
         "-o", str(program)], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr

    def run(calls):
        text = "".join(f"{name} {a} {b} {c}\n" for name, a, b, c in calls)
        done = subprocess.run([str(program)], input=text, capture_output=True, text=True,
                              timeout=60, check=True)
        return [int(line) for line in done.stdout.split()]
    return run


def _int32s(rng, count):
    return INT32_EDGES + [int(v) for v in rng.integers(fp.INT32_MIN, fp.INT32_MAX, count,
                                                      endpoint=True)]


def test_high_mul_and_shifts_match_the_c_runtime(oracle):
    rng = np.random.default_rng(9)
    values = _int32s(rng, 300)
    calls = [("srdhm", a, b, 0) for a in values for b in values[::7]]
    calls += [("rdbp", x, e, 0) for x in values for e in (0, 1, 2, 5, 17, 30, 31)]
    calls += [("srmbp", x, e, 0) for x in values for e in (-31, -6, -1, 0, 1, 3, 6, 30)]
    expected = oracle(calls)
    model = {"srdhm": fp.saturating_rounding_doubling_high_mul,
             "rdbp": fp.rounding_divide_by_pot,
             "srmbp": fp.saturating_rounding_multiply_by_pot}
    ours = [model[name](a, b) for name, a, b, _ in calls]
    wrong = [(call, o, e) for call, o, e in zip(calls, ours, expected) if o != e]
    assert not wrong, wrong[:5]


def test_multiply_by_quantized_multiplier_matches_the_c_runtime(oracle):
    rng = np.random.default_rng(10)
    values = INT32_EDGES + [int(v) for v in rng.integers(-(1 << 20), 1 << 20, 200)]
    multipliers = [0, 1 << 30, (1 << 31) - 1] + [int(v) for v in rng.integers(1 << 30, 1 << 31, 20)]
    calls = [("mbqm", x, m, s) for x in values for m in multipliers for s in (-31, -20, -1, 0)]
    calls += [("mbqm", x, m, s) for x in range(-300, 300, 7) for m in multipliers
              for s in (1, 5, 20)]       # left shifts that stay in range
    ours = [fp.multiply_by_quantized_multiplier(x, m, s) for _, x, m, s in calls]
    expected = oracle(calls)
    wrong = [(call, o, e) for call, o, e in zip(calls, ours, expected) if o != e]
    assert not wrong, wrong[:5]


def test_inverse_square_root_is_close_to_the_real_one():
    """A sanity bound (the exact bits are TFLM's, checked through RSQRT's op tests):
    multiplier * 2^(shift - 31) ~ 1 / sqrt(value) for every value RSQRT can see."""
    for value in list(range(2, 600)) + [1 << 20, (1 << 29) + 5, (1 << 31) - 1]:
        multiplier, shift = fp.inv_sqrt_quantized_multiplier_exp(value, -1)
        assert abs(multiplier * 2.0 ** (shift - 31) * value ** 0.5 - 1) < 1e-5, value
    assert fp.inv_sqrt_quantized_multiplier_exp(1, -1) == (fp.INT32_MAX, 0)
