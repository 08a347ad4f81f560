"""Fuzzing in the suite: a bounded, seeded share of mutated models (tests/fuzz/).

Mutants of the four MLPerf Tiny models and of a small generated model, half made by
the structure-aware mutator (shapes, quantization, options, tensor indices, op order,
buffers, graph I/O, dtypes, opcodes), half by byte mutations (bit flips, overwritten
and inserted bytes, truncation). Each must be generated or refused with a
TinyflowError, never raise anything else or hang; accepted mutants with new code are
compiled (up to a budget) and, where TFLM accepts them too, must be bit-exact with it.
The longer run for a local machine is tests/fuzz/fuzz_models.py.
"""

from __future__ import annotations

import random

import pytest

from conftest import assert_bit_exact
from fuzz.models import seed_models, small_model
from fuzz.mutate import byte_mutant, structure_mutant
from fuzz.runner import Tally, check_mutant

MUTANTS_PER_MODEL = {"structure": 60, "bytes": 40}
COMPILE_BUDGET = 12          # accepted mutants compiled and compared with TFLM (~1 s each)


def test_the_small_seed_model_is_bit_exact(tmp_path, monkeypatch):
    monkeypatch.setenv("TINYFLOW_CACHE", str(tmp_path / "cache"))
    outputs = assert_bit_exact(small_model(), batch=20, seed=1)
    assert len(set(outputs[0].ravel().tolist())) > 10     # not a constant output


@pytest.mark.slow
def test_mutated_models_are_refused_cleanly_or_bit_exact(tmp_path, monkeypatch):
    monkeypatch.setenv("TINYFLOW_CACHE", str(tmp_path / "cache"))
    tally = Tally()
    for name, data in sorted(seed_models().items()):
        for kind, count in MUTANTS_PER_MODEL.items():
            for index in range(count):
                seed = f"{name}/{kind}/{index}"
                rng = random.Random(seed)
                mutant, what = (structure_mutant(data, rng, count=rng.randint(1, 3))
                                if kind == "structure" else byte_mutant(data, rng))
                check_mutant(mutant, f"{seed}: {what}", tally, compile_budget=COMPILE_BUDGET,
                             seed=index)
    print(tally)
    assert not tally.failures, "\n".join(tally.failures)
    # The run tests something: most mutants are refused, some accepted and compared.
    assert tally.mutants == len(seed_models()) * sum(MUTANTS_PER_MODEL.values())
    assert tally.rejected > tally.mutants // 3 and tally.accepted > 0
    assert tally.bit_exact >= COMPILE_BUDGET // 2
