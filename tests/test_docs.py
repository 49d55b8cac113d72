"""The runnable examples in the public docstrings stay true."""

import doctest
import importlib

import pytest

MODULES = [
    "symdescent",
    "symdescent.expr.expression",
    "symdescent.expr.export_torch",
    "symdescent.expr.parse",
    "symdescent.expr.fit",
    "symdescent.expr.generate",
    "symdescent.front",
    "symdescent.search",
    "symdescent.estimator",
    "symdescent.views",
]


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name):
    module = importlib.import_module(name)
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    assert result.failed == 0
    assert result.attempted > 0, f"{name} has no runnable example"


def test_every_hook_is_documented():
    from symdescent import hookspecs

    hooks = [n for n in dir(hookspecs) if n.startswith("symdescent_")]
    assert len(hooks) >= 7
    for n in hooks:
        doc = getattr(hookspecs, n).__doc__ or ""
        assert "Who" in doc or "Called" in doc or "Asked" in doc, f"{n} does not say who calls it"
        assert len(doc.split()) > 15, f"{n} is undocumented"
