"""Operators beside the built-ins for the length of a block: how one search's user operators join the table.

:mod:`symdescent.expr.ops` keeps the built-in operators in :class:`Table`
dicts.  Inside ``with extended(extension):`` every reader of those dicts
(``OPERATORS``, ``BINARY``, ``UNARY``, ``FUNCTION_ALIASES``) also finds the
extension's operators, after the built-ins; outside it, and in any other
thread or asyncio task, they are absent.  The active extension is a
:class:`contextvars.ContextVar`, so two searches (estimators, threads) with
different user operators never see each other's, and nothing global changes.
:mod:`symdescent.expr.custom` builds the extensions.
"""

from __future__ import annotations

import contextlib
from collections.abc import ItemsView, KeysView, ValuesView
from contextvars import ContextVar
from typing import Any, Mapping

_MISSING = object()
_EMPTY: dict = {}
_contains, _get = dict.__contains__, dict.get


class Extension:
    """Operators (:class:`~symdescent.expr.ops.Operator`, by name) that join the table inside :func:`extended`.

    ``binary``, ``unary`` and ``aliases`` (each name its own call name) are what the table's dicts of the same
    kind add."""

    def __init__(self, operators: Mapping[str, Any]):
        self.operators = dict(operators)
        self.binary = {n: o for n, o in self.operators.items() if o.arity == 2}
        self.unary = {n: o for n, o in self.operators.items() if o.arity == 1}
        self.aliases = {n: n for n in self.operators}


_ACTIVE: ContextVar[Extension | None] = ContextVar("symdescent_operators", default=None)

#: the active extension, None outside :func:`extended` (the context variable's own ``get``: the hot paths
#: call it once per lookup that misses the built-ins)
active = _ACTIVE.get


def extension() -> Extension | None:
    """The active extension (None outside :func:`extended`)."""
    return _ACTIVE.get()


@contextlib.contextmanager
def extended(ext: Extension | None):
    """Within the block, ``ext``'s operators are part of the table (None: no change); blocks nest, the inner
    one's extension replacing the outer's until it ends."""
    if ext is None:
        yield None
        return
    token = _ACTIVE.set(ext)
    try:
        yield ext
    finally:
        _ACTIVE.reset(token)


class Table(dict):
    """One of the table's dicts: the built-ins it holds, then the active extension's entries of its ``kind``
    (``"operators"``, ``"binary"``, ``"unary"``, ``"aliases"``: an attribute of :class:`Extension`).

    A lookup of a built-in is a plain dict lookup; the rest (a miss, ``in``, iteration) also asks the
    context variable.
    """

    def __init__(self, kind: str):
        super().__init__()
        self.kind = kind

    def extra(self) -> dict:
        ext = active()
        return _EMPTY if ext is None else getattr(ext, self.kind)

    def builtin(self, key) -> bool:
        """Whether ``key`` is one of the built-ins (whatever extension is active)."""
        return _contains(self, key)

    def __missing__(self, key):
        ext = active()
        if ext is not None:
            extra = getattr(ext, self.kind)
            if key in extra:
                return extra[key]
        raise KeyError(key)

    def __contains__(self, key) -> bool:
        if _contains(self, key):
            return True
        ext = active()
        return ext is not None and key in getattr(ext, self.kind)

    def get(self, key, default=None):
        value = _get(self, key, _MISSING)
        if value is not _MISSING:
            return value
        ext = active()
        return default if ext is None else getattr(ext, self.kind).get(key, default)

    def __iter__(self):
        yield from dict.__iter__(self)
        yield from self.extra()

    def __len__(self) -> int:
        return dict.__len__(self) + len(self.extra())

    def keys(self):
        return KeysView(self)

    def values(self):
        return ValuesView(self)

    def items(self):
        return ItemsView(self)

    def __repr__(self) -> str:
        return repr(dict(self.items()))
