"""Collection checks for the op tests (the harness itself is in harness.py; the
bit-exact comparison and random inputs are in tests/conftest.py)."""

from __future__ import annotations

import pytest

from .harness import Case


def pytest_collection_modifyitems(config, items):
    """Refuse two different cases with one name: names are the test ids (pytest would
    quietly suffix a duplicate) and the cross-family tests look cases up by name."""
    seen: dict[str, Case] = {}
    for item in items:
        case = getattr(item, "callspec", None) and item.callspec.params.get("case")
        if not isinstance(case, Case):
            continue
        if seen.setdefault(case.name, case) is not case:
            raise pytest.UsageError(f"two op-test cases are named {case.name!r}: rename one")
