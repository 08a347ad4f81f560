"""Op coverage: which ops tinyflow generates, and how each is tested.

Built from the op registry (codegen/ops) and the op-test cases (tests/ops), so it
cannot drift from the code: for every registered opcode, the int8 cases compared byte
for byte with TFLM (or, where TFLM cannot run the model, TFLite's reference kernels)
on this computer, and the cases run on an emulated Cortex-M4 (QEMU: the DSP path of
the kernels that have one) or cross-compiled for it; and the int16x8 cases (int16
activations, int8 weights: `Case(activations="int16")`, tests/ops/test_int16x8.py): an op
has int16x8 support when at least one such case targets it.

Prints the table (Markdown), writes JSON; --readme replaces the table in README.md
between its op-coverage markers (tests/test_op_coverage.py checks they agree).
Usage: .venv/bin/python benchmarks/op_coverage.py [--json PATH] [--readme]
"""

from __future__ import annotations

import argparse
import importlib
import json
import pkgutil
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
README = REPO / "README.md"
START, END = "<!-- op-coverage:start -->", "<!-- op-coverage:end -->"


def _test_modules():
    """The op-test modules (tests/ops/test_*.py), imported as the test run does."""
    sys.path.insert(0, str(REPO / "tests"))
    import ops  # tests/ops

    return [importlib.import_module(f"ops.{info.name}") for info in pkgutil.iter_modules(ops.__path__)
            if info.name.startswith("test_")]


def coverage() -> list[dict]:
    """One row per registered opcode: its host cases and its Cortex-M4 coverage."""
    from tinyflow.codegen.ops import REGISTRY

    modules = _test_modules()
    from ops.harness import Case
    cases: dict[str, Case] = {}
    on_qemu: set[str] = set()
    cross_built: set[str] = set()
    for module in modules:
        for name, value in vars(module).items():
            if isinstance(value, list) and value and all(isinstance(c, Case) for c in value):
                cases.update({c.name: c for c in value})
            elif name in ("DSP_CASES", "CORTEX_M4_CASES") and isinstance(value, list):
                on_qemu.update(value)
            elif name == "CROSS_BUILD_CASES" and isinstance(value, list):
                cross_built.update(value)

    def targets(case) -> set[str]:
        primary = {case.op} if isinstance(case.op, str) else set(case.op)
        return primary | set(case.extra_ops)

    rows = []
    for opcode in sorted(REGISTRY):
        mine = [c for c in cases.values() if opcode in targets(c)]
        int8 = [c for c in mine if c.activations == "int8"]
        int16 = [c for c in mine if c.activations == "int16"]
        qemu = [c.name for c in int8 if c.name in on_qemu]
        cross = [c.name for c in int8 if c.name in cross_built]
        rows.append(dict(op=opcode, int8_cases=len(int8), cortex_m4_qemu=len(qemu),
                         cortex_m4_cross_built=len(cross), int16x8=len(int16)))
    return rows


def markdown(rows: list[dict]) -> str:
    lines = ["| op | int8: cases bit-exact on this computer | Cortex-M4 | int16x8: cases |",
             "| --- | ---: | --- | --- |"]
    for row in rows:
        if row["cortex_m4_qemu"]:
            arm = f"run on QEMU ({row['cortex_m4_qemu']})"
        elif row["cortex_m4_cross_built"]:
            arm = "cross-compiled"
        else:
            arm = "MLPerf models only" if row["op"] in _MLPERF_OPS else "-"
        int16x8 = f"yes ({row['int16x8']})" if row["int16x8"] else "not yet"
        lines.append(f"| {row['op']} | {row['int8_cases']} | {arm} | {int16x8} |")
    return "\n".join(lines)


# Ops of the four MLPerf Tiny models, which run bit-exact on qemu-cortex-m4 whole
# (tests/test_firmware_qemu.py) even without a case of their own on QEMU.
_MLPERF_OPS = {"CONV_2D", "DEPTHWISE_CONV_2D", "FULLY_CONNECTED", "AVERAGE_POOL_2D", "ADD",
               "RESHAPE", "SOFTMAX"}


def readme_with(table: str, text: str) -> str:
    head, _, rest = text.partition(START)
    _, _, tail = rest.partition(END)
    return f"{head}{START}\n{table}\n{END}{tail}"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", default=str(REPO / "benchmarks/results/op_coverage.json"))
    parser.add_argument("--readme", action="store_true",
                        help="write the table into README.md between its markers")
    args = parser.parse_args(argv)
    rows = coverage()
    table = markdown(rows)
    print(table)
    Path(args.json).parent.mkdir(parents=True, exist_ok=True)
    Path(args.json).write_text(json.dumps(rows, indent=2) + "\n")
    if args.readme:
        text = README.read_text()
        if START not in text or END not in text:
            sys.exit(f"README.md has no {START} ... {END} markers")
        README.write_text(readme_with(table, text))
        print(f"README.md: table of {len(rows)} ops written", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
