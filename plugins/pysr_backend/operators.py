"""Translation of symdescent's operator names into PySR's.

Every operator of symdescent's vocabulary has a PySR counterpart with the
same meaning on the real line:

=========  =========  ==================================================
symdescent PySR       note
=========  =========  ==================================================
add        ``+``
sub        ``-``
mul        ``*``
div        ``/``
pow        ``^``      SymbolicRegression.jl uses ``safe_pow`` (NaN where
                      ``x^y`` is not real), as symdescent does
neg        ``neg``
sqrt       ``sqrt``   ``safe_sqrt``: NaN below 0
exp        ``exp``
log        ``log``    ``safe_log``: NaN at or below 0
sin, cos,  same
tan, tanh
asin       ``asin``   ``safe_asin``: NaN outside [-1, 1]
abs        ``abs``
square     ``square``
cube       ``cube``
=========  =========  ==================================================

What cannot be translated: symdescent's *literals* (the integers 1 to 5 and
``pi``) are not operators; PySR has only fitted constants, so guesses write
them as numbers and results come back with constants that the orchestrator
refits.  An operator name missing from :data:`PYSR_BINARY` /
:data:`PYSR_UNARY` (a vocabulary added to symdescent later) is reported by
:func:`translate_operators` and refused by the plugin, naming it.  The
reverse direction is narrower: most of PySR's other operators (``sinh``,
``log10``, ``erf``, ``max``, ...) have no symdescent counterpart, so setting
``binary_operators``/``unary_operators`` yourself in ``[plugins.pysr]`` lets
PySR find equations that cannot join the front; those are dropped.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable

from symdescent.expr import ops

PYSR_BINARY: dict[str, str] = {"add": "+", "sub": "-", "mul": "*", "div": "/", "pow": "^"}
PYSR_UNARY: dict[str, str] = {
    "neg": "neg", "sqrt": "sqrt", "exp": "exp", "log": "log", "sin": "sin", "cos": "cos", "tan": "tan",
    "tanh": "tanh", "asin": "asin", "abs": "abs", "square": "square", "cube": "cube",
}


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
    """

    binary_operators: tuple[str, ...]
    unary_operators: tuple[str, ...]
    untranslated: tuple[str, ...]
    mapping: dict[str, str]

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
    binary, unary, missing, mapping = [], [], [], {}
    for name in dict.fromkeys(names):
        if name in PYSR_BINARY:
            binary.append(PYSR_BINARY[name])
            mapping[name] = PYSR_BINARY[name]
        elif name in PYSR_UNARY:
            unary.append(PYSR_UNARY[name])
            mapping[name] = PYSR_UNARY[name]
        else:
            missing.append(name)
    return OperatorTranslation(tuple(binary), tuple(unary), tuple(missing), mapping)


def untranslatable_vocabulary() -> tuple[str, ...]:
    """Operators of symdescent's whole vocabulary that PySR cannot use (empty today)."""
    return tuple(n for n in ops.OPERATORS if n not in PYSR_BINARY and n not in PYSR_UNARY)
