"""Translation of symdescent's operator names into PySR's.

Each operator's PySR name is a field of symdescent's operator table
(:attr:`symdescent.expr.ops.Operator.pysr`: ``add`` is ``+``, ``pow`` is
``^``, ``sin`` is ``sin``, ...), with the same meaning on the real line:
SymbolicRegression.jl's ``safe_pow``, ``safe_sqrt``, ``safe_log`` and
``safe_asin`` give NaN where the result is not real, as symdescent does.

What cannot be translated: symdescent's *literals* (the integers 1 to 5 and
``pi``) are not operators; PySR has only fitted constants, so guesses write
them as numbers and results come back with constants that the orchestrator
refits.  An operator without a PySR name is reported by
:func:`translate_operators` and refused by the plugin, naming it.  The
reverse direction is narrower: PySR operators with no symdescent counterpart
(``log10``, ``erf``, ``max``, ...) set yourself in ``[plugins.pysr]``
(``binary_operators``/``unary_operators``) let PySR find equations that
cannot join the front; those are dropped.

User operators (:mod:`symdescent.expr.custom`): PySR's own custom operators
are Julia source, so a user operator is translated by *expansion*: one
defined by a formula gives PySR the operators of its body (``softsign``:
``/``, ``+``, ``abs``), and the guesses write its body out
(:func:`~symdescent.expr.custom.expand`); PySR's results come back in
built-in operators (those outside ``search.operators`` are dropped, as
above).  One defined by a Python function cannot be translated.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable

from symdescent.expr import ops


def translatable_operators() -> tuple[str, ...]:
    """The symdescent operators that have a PySR counterpart, in table order."""
    return tuple(name for name, op in ops.OPERATORS.items() if op.pysr is not None)


@dataclass(frozen=True)
class OperatorTranslation:
    """symdescent operators as PySR keywords.

    Attributes
    ----------
    binary_operators, unary_operators : tuple of str
        PySR's names, in the order of the symdescent operators.
    untranslated : tuple of str
        symdescent operators PySR has no counterpart for.
    mapping : dict
        symdescent name -> PySR name, for every translated operator.
    expanded : tuple of str
        User operators translated by expansion: the operators of their formulas are among PySR's.
    """

    binary_operators: tuple[str, ...]
    unary_operators: tuple[str, ...]
    untranslated: tuple[str, ...]
    mapping: dict[str, str]
    expanded: tuple[str, ...] = ()

    def keywords(self) -> dict[str, list[str]]:
        """``binary_operators``/``unary_operators`` keywords for PySRRegressor."""
        return {"binary_operators": list(self.binary_operators), "unary_operators": list(self.unary_operators)}


def translate_operators(names: Iterable[str]) -> OperatorTranslation:
    """Translate symdescent operator names (``problem.operators``) into PySR's.

    Examples
    --------
    >>> t = translate_operators(["add", "div", "pow", "square", "neg"])
    >>> t.binary_operators, t.unary_operators, t.untranslated
    (('+', '/', '^'), ('square', 'neg'), ())
    """
    binary, unary, missing, mapping, expanded = [], [], [], {}, []
    names = list(dict.fromkeys(names))
    for name in list(names):
        body = getattr(ops.OPERATORS.get(name), "body", None)  # a user operator's formula (symdescent.expr.custom)
        if body is not None:
            expanded.append(name)
            names += [t for t in body.tokens if ops.arity(t) and t not in names]
    for name in names:
        op = ops.OPERATORS.get(name)
        if name in expanded:
            continue
        if op is None or op.pysr is None:
            missing.append(name)
            continue
        (binary if op.arity == 2 else unary).append(op.pysr)
        mapping[name] = op.pysr
    return OperatorTranslation(tuple(binary), tuple(unary), tuple(missing), mapping, tuple(expanded))


def untranslatable_vocabulary() -> tuple[str, ...]:
    """Operators of symdescent's whole vocabulary that PySR cannot use (none of the built-ins)."""
    return tuple(name for name, op in ops.OPERATORS.items() if op.pysr is None)
