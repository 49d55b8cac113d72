"""PySR's ``equations_`` table read back into symdescent expressions.

PySR 2.x gives one row per complexity of its hall of fame, with the columns
``complexity``, ``loss``, ``equation`` (SymbolicRegression.jl's string),
``score``, ``sympy_format`` (a sympy expression) and ``lambda_format`` (a
numpy callable), plus ``jax_format``/``torch_format`` when asked for.

Each row is read through symdescent's expression core, never with
``eval``/``sympify`` on raw text:

1. ``equation`` goes through :func:`symdescent.expr.parse` after rewriting
   Julia's spelling (``neg(a)`` -> ``-(a)``, ``safe_f`` -> ``f``, ``1.5f3``
   -> ``1.5e3``); ``^`` is accepted by the parser as it is.
2. When that fails, or uses an operator outside the search's set, the
   ``sympy_format`` object (already built by PySR) goes through
   :func:`symdescent.expr.sympy_bridge.from_sympy`.

Rows that neither route can express (PySR operators symdescent does not
have, ``Inf`` constants) are reported, not guessed at.  Constants are only
starting values: the orchestrator refits every returned expression.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Collection, Sequence

from symdescent.errors import ExpressionError
from symdescent.expr import Expression, ops, parse

#: The columns PySR 2.x's ``equations_`` has for a single-output fit.
EQUATION_COLUMNS = ("complexity", "loss", "equation", "score", "sympy_format", "lambda_format")

_JULIA_FLOAT = re.compile(r"\b(\d+\.\d+)[fF]([+-]?\d+)\b")
_NEG_CALL = re.compile(r"\bneg\(")
_SAFE_PREFIX = re.compile(r"\bsafe_(\w+)\(")


@dataclass(frozen=True)
class ParsedTable:
    """What :func:`parse_equations` read.

    Attributes
    ----------
    expressions : tuple of Expression
        One per readable row, in the table's order (by complexity).
    equations : tuple of str
        The ``equation`` text of each of those rows.
    skipped : tuple of (str, str)
        ``(equation, reason)`` for each row that could not be read.
    """

    expressions: tuple[Expression, ...]
    equations: tuple[str, ...]
    skipped: tuple[tuple[str, str], ...]


def julia_to_infix(text: str) -> str:
    """Rewrite SymbolicRegression.jl's equation string into symdescent's infix syntax.

    Examples
    --------
    >>> julia_to_infix("(neg(x0) * 1.5f3) + safe_pow(x1, 2.0)")
    '(-(x0) * 1.5e3) + pow(x1, 2.0)'
    """
    text = _JULIA_FLOAT.sub(r"\1e\2", text)
    text = _NEG_CALL.sub("-(", text)
    return _SAFE_PREFIX.sub(r"\1(", text)


def _admissible(expr: Expression, allowed: Collection[str] | None, n_features: int) -> bool:
    for tok in expr.tokens:
        if allowed is not None and ops.arity(tok) and tok not in allowed:
            return False
        if ops.is_variable(tok) and ops.variable_index(tok) >= n_features:
            return False
    return True


def parse_row(equation: Any, sympy_expr: Any, names: Sequence[str],
              allowed: Collection[str] | None = None) -> Expression:
    """Read one row (its ``equation`` text and ``sympy_format`` object).

    Parameters
    ----------
    equation : str
        The ``equation`` column.
    sympy_expr : sympy.Basic or None
        The ``sympy_format`` column (ignored unless it is a sympy object).
    names : sequence of str
        The variable names PySR was given, by column index.
    allowed : collection of str, optional
        symdescent operators the result may use.

    Raises
    ------
    ExpressionError
        When neither route gives an admissible expression.
    """
    reasons = []
    if isinstance(equation, str):
        try:
            expr = parse(julia_to_infix(equation), names)
            if _admissible(expr, allowed, len(names)):
                return expr
            reasons.append("uses an operator outside the search's set")
        except ExpressionError as exc:
            reasons.append(str(exc))
    else:
        reasons.append(f"equation is not a string: {equation!r}")
    expr = _from_sympy(sympy_expr, names, reasons)
    if expr is not None and _admissible(expr, allowed, len(names)):
        return expr
    if expr is not None:
        reasons.append("its sympy form uses an operator outside the search's set")
    raise ExpressionError("; ".join(reasons))


def _from_sympy(sympy_expr: Any, names: Sequence[str], reasons: list[str]) -> Expression | None:
    if sympy_expr is None:
        return None
    import sympy

    from symdescent.expr.sympy_bridge import from_sympy

    if not isinstance(sympy_expr, sympy.Basic):  # from_sympy would sympify anything else
        reasons.append(f"sympy_format is not a sympy expression ({type(sympy_expr).__name__})")
        return None
    try:
        return from_sympy(sympy_expr, list(names))
    except (ExpressionError, TypeError, ValueError, AttributeError) as exc:
        reasons.append(f"sympy_format: {exc}")
        return None


def parse_equations(table: Any, names: Sequence[str], allowed: Collection[str] | None = None) -> ParsedTable:
    """Read PySR's ``equations_`` DataFrame into expressions.

    Parameters
    ----------
    table : pandas.DataFrame
        ``PySRRegressor.equations_`` of a single-output fit.
    names : sequence of str
        The variable names PySR was given, by column index.
    allowed : collection of str, optional
        symdescent operators the results may use.

    Examples
    --------
    >>> import pandas as pd
    >>> t = pd.DataFrame({"complexity": [1, 5], "loss": [2.0, 0.01],
    ...                   "equation": ["x0", "(x0 * x1) + 0.5"]})
    >>> [e.to_infix(["m", "v"]) for e in parse_equations(t, ["x0", "x1"]).expressions]
    ['m', 'm * v + 0.5']
    """
    if "equation" not in getattr(table, "columns", ()):
        raise ExpressionError("PySR's equation table has no 'equation' column")
    has_sympy = "sympy_format" in table.columns
    exprs, texts, skipped = [], [], []
    for _, row in table.iterrows():
        equation = row["equation"]
        try:
            expr = parse_row(equation, row["sympy_format"] if has_sympy else None, names, allowed)
        except ExpressionError as exc:
            skipped.append((str(equation), str(exc)))
            continue
        exprs.append(expr)
        texts.append(str(equation))
    return ParsedTable(tuple(exprs), tuple(texts), tuple(skipped))
