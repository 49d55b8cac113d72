"""The runnable examples in the benchmark modules' docstrings stay true."""

import doctest
import importlib

import pytest

MODULES = ["symdescent.bench", "symdescent.bench.problems", "symdescent.bench.data", "symdescent.bench.metrics",
           "symdescent.bench.methods", "symdescent.bench.runner", "symdescent.bench.report",
           "symdescent.bench.tables"]


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name):
    result = doctest.testmod(importlib.import_module(name), optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    assert result.failed == 0
    assert result.attempted > 0, f"{name} has no runnable example"
