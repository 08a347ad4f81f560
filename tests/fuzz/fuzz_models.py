"""The long fuzz run, for a local machine: mutate models for as long as you like.

    .venv/bin/python tests/fuzz/fuzz_models.py --minutes 30 --seed 7 --compile 200
    .venv/bin/python tests/fuzz/fuzz_models.py --atheris -max_total_time=600

Mutants come from the four MLPerf Tiny models and the small generated model
(models.py), half structure-aware, half byte mutations (mutate.py), each checked as
tests/test_fuzz.py checks its bounded share (runner.py): a TinyflowError or code,
never another exception or a hang, and accepted models bit-exact with TFLM (at most
``--compile`` of them compiled). Failures are printed with how to rebuild them and
the mutant is saved under ``--save`` (default ./fuzz-failures). Exit 1 if any failed.

``--atheris`` feeds atheris' coverage-guided byte mutations of the same seed models
(written to ./fuzz-corpus) to the same checks; other arguments go to libFuzzer
(``-max_total_time=S``, ``-runs=N``). atheris is not a dependency of tinyflow:
``pip install atheris`` (or ``pip install --target DIR atheris`` and PYTHONPATH=DIR).
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from fuzz.models import seed_models  # noqa: E402
from fuzz.mutate import byte_mutant, structure_mutant  # noqa: E402
from fuzz.runner import Tally, check_mutant  # noqa: E402


def run(minutes: float, seed: int, compile_budget: int, save: Path) -> Tally:
    models = seed_models()
    rng = random.Random(seed)
    tally = Tally()
    stop = time.monotonic() + minutes * 60
    while time.monotonic() < stop:
        name = rng.choice(sorted(models))
        mutant_seed = rng.randrange(2**32)
        mutant_rng = random.Random(mutant_seed)
        if mutant_rng.random() < 0.5:
            data, what = structure_mutant(models[name], mutant_rng, count=mutant_rng.randint(1, 3))
        else:
            data, what = byte_mutant(models[name], mutant_rng)
        failures = len(tally.failures)
        check_mutant(data, f"{name} seed {mutant_seed} ({what})", tally,
                     compile_budget=compile_budget, seed=mutant_seed)
        if len(tally.failures) > failures:
            save.mkdir(parents=True, exist_ok=True)
            (save / f"{name}-{mutant_seed}.tflite").write_bytes(data)
            print("FAIL", tally.failures[-1], flush=True)
        if tally.mutants % 200 == 0:
            print(tally, flush=True)
    return tally


def run_atheris(compile_budget: int, libfuzzer_args: list[str]) -> None:
    import atheris

    models = seed_models()
    tally = Tally()

    def one_input(data: bytes) -> None:
        failures = len(tally.failures)
        check_mutant(data, f"atheris input of {len(data)} bytes", tally,
                     compile_budget=compile_budget)
        if len(tally.failures) > failures:
            raise AssertionError(tally.failures[-1])

    corpus = Path("fuzz-corpus")
    corpus.mkdir(exist_ok=True)
    for name, data in models.items():
        (corpus / f"{name}.tflite").write_bytes(data)
    # Coverage of every loaded Python function (tinyflow's loader, validation, ops).
    atheris.instrument_all()
    atheris.Setup([sys.argv[0], *libfuzzer_args, str(corpus)], one_input)
    atheris.Fuzz()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=10)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--compile", type=int, default=100, dest="compile_budget",
                        help="accepted mutants compiled and compared with TFLM (~1 s each)")
    parser.add_argument("--save", type=Path, default=Path("fuzz-failures"))
    parser.add_argument("--atheris", action="store_true")
    args, libfuzzer_args = parser.parse_known_args()
    if args.atheris:
        run_atheris(args.compile_budget, libfuzzer_args)
        return 0
    if libfuzzer_args:
        parser.error(f"unrecognized arguments: {' '.join(libfuzzer_args)}")
    tally = run(args.minutes, args.seed, args.compile_budget, args.save)
    print(tally)
    for message in sorted(tally.messages):
        print("  refused:", message)
    return 1 if tally.failures else 0


if __name__ == "__main__":
    sys.exit(main())
