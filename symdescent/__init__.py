"""symdescent: symbolic descent, searching closed-form programs that explain data.

Importing this package is cheap and has no side effects; the estimator, the
orchestrator and the expression core load on first use.

>>> from symdescent import parse
>>> parse("m * v**2 / 2", ["m", "v"]).complexity
7
"""

from __future__ import annotations

__version__ = "0.1.0"

_LAZY = {
    "SymbolicRegressor": "symdescent.estimator",
    "Search": "symdescent.search",
    "fit": "symdescent.search",
    "Expression": "symdescent.expr",
    "parse": "symdescent.expr",
    "Candidate": "symdescent.types",
    "Score": "symdescent.types",
    "Problem": "symdescent.types",
    "SearchState": "symdescent.types",
    "SearchResult": "symdescent.types",
    "Config": "symdescent.config",
    "load_config": "symdescent.config",
    "PluginInfo": "symdescent.registry",
    "PluginContext": "symdescent.registry",
    "Proposer": "symdescent.roles",
    "Refiner": "symdescent.roles",
    "Scorer": "symdescent.roles",
    "hookimpl": "symdescent.hookspecs",
    "SymdescentError": "symdescent.errors",
    "DataError": "symdescent.errors",
    "ConfigError": "symdescent.errors",
    "PluginError": "symdescent.errors",
    "ExpressionError": "symdescent.errors",
}

__all__ = sorted(_LAZY) + ["__version__"]


def __getattr__(name: str):
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'symdescent' has no attribute {name!r}")
    import importlib

    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__():
    return __all__
