"""The README's op coverage table is the one the registry and the op tests give."""

import importlib.util
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def _coverage_script():
    spec = importlib.util.spec_from_file_location("op_coverage",
                                                  REPO / "benchmarks" / "op_coverage.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_readme_op_table_matches_the_registry_and_the_tests():
    script = _coverage_script()
    rows = script.coverage()
    from tinyflow.codegen.ops import REGISTRY

    assert {row["op"] for row in rows} == set(REGISTRY)
    readme = (REPO / "README.md").read_text()
    expected = script.readme_with(script.markdown(rows), readme)
    assert readme == expected, ("README.md's op coverage table is stale: run "
                                ".venv/bin/python benchmarks/op_coverage.py --readme")
