"""The docstring examples of the firmware stage run, so they cannot drift."""

import doctest
import importlib

import pytest


@pytest.mark.parametrize("module", ["tinyflow.boards", "tinyflow.firmware.process",
                                    "tinyflow.firmware.build", "tinyflow.firmware.measure"])
def test_docstring_examples(module):
    failures, _ = doctest.testmod(importlib.import_module(module), optionflags=doctest.ELLIPSIS)
    assert failures == 0
