"""Infix printing that :func:`symdescent.expr.parse.parse` reads back exactly.

Each operator prints as its table entry says (:attr:`symdescent.expr.ops.Operator.infix`): a unary one
as ``name(a)`` (``neg`` as a prefix minus), a binary one with its infix symbol or, when that is a name, as
``name(a, b)``.  Precedence follows Python: ``+ -`` < ``* /`` < unary minus < ``**``.  Operands
are parenthesised exactly where the parser would otherwise build a different
tree (``a - (b - c)``, ``(a ** b) ** c``, ``(-x) ** 2``), and constant values
are printed so that they re-read as constants, never as integer literals.
Variable names that are not plain identifiers are written between backticks
(:func:`symdescent.expr.parse.format_name`).
"""

from __future__ import annotations

from typing import Sequence

from symdescent.expr import ops
from symdescent.expr.parse import format_name

PREC_ADD, PREC_MUL, PREC_NEG, PREC_POW, PREC_ATOM = 1, 2, 3, 4, 5


def format_constant(value: float, precision: int | None = None) -> str:
    text = repr(float(value)) if precision is None else f"{value:.{precision}g}"
    if not any(ch in text for ch in ".eEn"):  # keep it a float literal: "2" would be an integer token
        text += ".0"
    return text


def to_infix(expr, variable_names: Sequence[str] | None = None, precision: int | None = None) -> str:
    tokens, consts = expr.tokens, expr.constants
    names = list(variable_names) if variable_names is not None else None
    const_iter = iter(consts)
    # Walk the prefix sequence backwards with a stack of (text, precedence, is_const).
    pieces: list[tuple[str, int, bool]] = []
    const_positions = [i for i, t in enumerate(tokens) if t == ops.CONST]
    const_value = dict(zip(const_positions, const_iter))
    for i in range(len(tokens) - 1, -1, -1):
        tok = tokens[i]
        if tok == ops.CONST:
            v = const_value[i]
            text = format_constant(v, precision)
            if text.startswith("-"):
                pieces.append((f"({text})", PREC_ATOM, True))
            else:
                pieces.append((text, PREC_ATOM, True))
        elif tok in ops.LITERALS:
            pieces.append((tok, PREC_ATOM, False))
        elif ops.is_variable(tok):
            idx = ops.variable_index(tok)
            name = format_name(names[idx]) if names is not None and idx < len(names) else tok
            pieces.append((name, PREC_ATOM, False))
        elif tok == "neg":
            text, prec, is_const = pieces.pop()
            if prec <= PREC_NEG or is_const:
                text = f"({text})"
            pieces.append((f"-{text}", PREC_NEG, False))
        elif tok in ops.UNARY:
            text, _, _ = pieces.pop()
            pieces.append((f"{ops.UNARY[tok].infix}({text})", PREC_ATOM, False))
        else:
            op = ops.BINARY[tok]
            left, lprec, _ = pieces.pop()
            right, rprec, _ = pieces.pop()
            p = op.precedence
            if op.infix.isidentifier():  # a binary operator named like a function: name(a, b)
                pieces.append((f"{op.infix}({left}, {right})", PREC_ATOM, False))
            elif tok == "pow":
                if lprec <= p:
                    left = f"({left})"
                if rprec < p:
                    right = f"({right})"
                pieces.append((f"{left}**{right}", p, False))
            else:
                if lprec < p:
                    left = f"({left})"
                if rprec <= p:
                    right = f"({right})"
                pieces.append((f"{left} {op.infix} {right}", p, False))
    (text, _, _), = pieces
    return text
