"""symdescent candidates written as PySR ``guesses``.

PySR hands each guess string to SymbolicRegression.jl, which reads it with
Julia's parser and matches every function against the search's operators
(``sqrt`` matches ``safe_sqrt``, ``^`` matches ``safe_pow``; ``neg``,
``square`` and ``cube`` by name).  So a guess is written fully parenthesised
in Julia syntax over PySR's variable names, with operators in PySR's
spelling (:mod:`symdescent_pysr.operators`) and every number as a float
literal (symdescent's literals ``1`` ... ``5`` and ``pi`` become ``1.0`` ...
``5.0`` and ``3.141592653589793``; PySR refits them as constants).
"""

from __future__ import annotations

import math
from typing import Iterable, Mapping, Sequence

from symdescent.expr import Expression, ops
from symdescent.expr.custom import expand
from symdescent.types import Candidate


def pysr_variable_names(n_features: int) -> list[str]:
    """The names PySR sees for the columns: ``x0``, ``x1``, ...

    The problem's own names are not used: PySR rejects names that clash with
    sympy (``beta``, ``gamma``, ``E``, ``N``, ... common in physics data), and
    symdescent expressions refer to columns by index anyway.
    """
    return [f"x{i}" for i in range(n_features)]


def _number(value: float) -> str | None:
    if not math.isfinite(value):
        return None
    text = repr(float(value))
    return f"({text})" if text.startswith("-") else text


def to_guess(expr: Expression, mapping: Mapping[str, str], names: Sequence[str]) -> str | None:
    """Write ``expr`` as a PySR guess string; None when PySR cannot express it.

    Parameters
    ----------
    expr : Expression
    mapping : mapping
        symdescent operator -> PySR operator, for the operators PySR searches with.
    names : sequence of str
        PySR's variable names, by column index.

    Examples
    --------
    >>> from symdescent.expr import parse
    >>> to_guess(parse("2.5 * x0 ** 2 - sqrt(x1)"), {"sub": "-", "mul": "*", "pow": "^", "sqrt": "sqrt"},
    ...          ["x0", "x1"])
    '((2.5 * (x0 ^ 2.0)) - sqrt(x1))'
    """
    stack: list[str] = []
    consts = iter(expr.constants)
    pieces = []
    for tok in expr.tokens:  # constants in order of appearance
        pieces.append(next(consts) if tok == ops.CONST else None)
    for tok, value in zip(reversed(expr.tokens), reversed(pieces)):
        if tok == ops.CONST:
            text = _number(value)
        elif tok in ops.LITERALS:
            text = _number(ops.LITERALS[tok])
        elif ops.is_variable(tok):
            i = ops.variable_index(tok)
            text = names[i] if i < len(names) else None
        elif tok in mapping:
            if ops.arity(tok) == 1:
                text = f"{mapping[tok]}({stack.pop()})"
            else:
                left = stack.pop()
                text = f"({left} {mapping[tok]} {stack.pop()})"
        else:
            return None
        if text is None:
            return None
        stack.append(text)
    (out,) = stack
    return out


def build_guesses(candidates: Iterable[Candidate], mapping: Mapping[str, str], names: Sequence[str], *,
                  limit: int, max_size: int, exclude_origin: str = "pysr") -> list[str]:
    """Guess strings from scored candidates: valid ones, best first, distinct, at most ``limit``.

    Candidates larger than ``max_size`` (PySR's maxsize) and those that came
    from ``exclude_origin`` (PySR's own results are in its hall of fame
    already) are left out.
    """
    chosen: list[str] = []
    seen: set[str] = set()
    ranked = sorted((c for c in candidates if c.valid and c.origin != exclude_origin), key=lambda c: c.value)
    for cand in ranked:
        if len(chosen) >= limit:
            break
        if cand.complexity > max_size:
            continue
        text = to_guess(expand(cand.expression), mapping, names)  # a user operator's formula written out
        if text is not None and text not in seen:
            seen.add(text)
            chosen.append(text)
    return chosen
