"""Errors that symdescent raises for bad input.

Every error a user can cause derives from :class:`SymdescentError`, itself a
``ValueError``, so callers can catch one type; the command line turns them into
a one-line message and exit code 2.
"""

from __future__ import annotations

import difflib
import threading
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


def __getattr__(name: str):
    """``NotFittedError`` is made on first use (see :func:`_not_fitted_error`)."""
    if name == "NotFittedError":
        return _not_fitted_error()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


_lock = threading.Lock()


def _not_fitted_error() -> type:
    """The one ``NotFittedError`` class, made at its first use.

    It derives from scikit-learn's ``NotFittedError``, and importing
    scikit-learn takes a second: made here rather than at import, it stays off
    the start-up of the command line, which imports this module for every
    command.
    """
    with _lock:  # one class, however many threads ask at once
        if "NotFittedError" not in globals():
            from sklearn.exceptions import NotFittedError as SklearnNotFittedError

            class NotFittedError(SymdescentError, SklearnNotFittedError):
                """A fitted attribute or ``predict`` was used before ``fit``.

                Both a :class:`SymdescentError` and scikit-learn's ``NotFittedError``
                (a ``ValueError`` and an ``AttributeError``): ``except`` for either catches it.
                """

            NotFittedError.__qualname__ = "NotFittedError"  # pickled and shown as symdescent.errors.NotFittedError
            globals()["NotFittedError"] = NotFittedError
        return globals()["NotFittedError"]


def did_you_mean(word: str, choices: Iterable[str]) -> str:
    """Return ``"; did you mean 'x'?"`` for the closest choice, or ``""``."""
    word = str(word)
    cutoff = 0.5 if len(word) <= 3 else 0.6  # "r3" -> "r2" scores 0.5
    matches = difflib.get_close_matches(word, [str(c) for c in choices], n=1, cutoff=cutoff)
    return f"; did you mean {matches[0]!r}?" if matches else ""
