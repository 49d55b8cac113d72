"""Errors that symdescent raises for bad input.

Every error a user can cause derives from :class:`SymdescentError`, itself a
``ValueError``, so callers can catch one type; the command line turns them into
a one-line message and exit code 2.
"""

from __future__ import annotations

import difflib
from typing import Iterable


class SymdescentError(ValueError):
    """Base class of the errors a user's input can cause."""


class DataError(SymdescentError):
    """The data (X, y, a CSV file) cannot be used: shape, NaN, types."""


class DataTypeError(DataError, TypeError):
    """The data holds values that are not numbers."""


class ConfigError(SymdescentError):
    """A configuration file, section, key or value is wrong."""


class PluginError(SymdescentError):
    """A plugin is unknown, unavailable, or broke its contract."""


class ExpressionError(SymdescentError):
    """An expression string or token sequence is malformed."""


class OutputError(SymdescentError):
    """An output file (``--json``, a saved model) cannot be written there."""


class DependencyError(SymdescentError):
    """An optional dependency is not installed; the message names the extra to install."""


class NotFittedError(SymdescentError, AttributeError):
    """A fitted attribute was asked for before ``fit``."""


def did_you_mean(word: str, choices: Iterable[str]) -> str:
    """Return ``"; did you mean 'x'?"`` for the closest choice, or ``""``."""
    word = str(word)
    cutoff = 0.5 if len(word) <= 3 else 0.6  # "r3" -> "r2" scores 0.5
    matches = difflib.get_close_matches(word, [str(c) for c in choices], n=1, cutoff=cutoff)
    return f"; did you mean {matches[0]!r}?" if matches else ""
