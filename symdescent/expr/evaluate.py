"""Vectorised evaluation of prefix expressions on numpy arrays.

Domain errors never warn and never raise: ``log(-1)``, ``x / 0`` and overflow
produce NaN or inf in the output, and the caller treats any non-finite value
as marking the candidate invalid (see :func:`is_valid`).
"""

from __future__ import annotations

import numpy as np

from symdescent.expr import ops


def evaluate_tokens(tokens, constants, X: np.ndarray) -> np.ndarray:
    """Evaluate a prefix sequence on ``X`` of shape ``(n, d)``; returns ``(n,)``."""
    n = X.shape[0]
    stack: list = []
    ci = len(constants)
    with np.errstate(all="ignore"):
        for tok in reversed(tokens):
            op = ops.OPERATORS.get(tok)
            if op is None:
                if tok == ops.CONST:
                    ci -= 1
                    stack.append(constants[ci])
                elif tok in ops.LITERALS:
                    stack.append(ops.LITERALS[tok])
                else:
                    stack.append(X[:, int(tok[1:])])
            elif op.arity == 1:
                stack.append(op.func(stack.pop()))
            else:
                a = stack.pop()
                stack.append(op.func(a, stack.pop()))
        out = stack.pop()
    out = np.asarray(out, dtype=float)
    if out.ndim == 0:
        out = np.full(n, float(out))
    return out


def evaluate(expr, X: np.ndarray) -> np.ndarray:
    """Evaluate an :class:`~symdescent.expr.Expression` on the rows of ``X``."""
    return evaluate_tokens(expr.tokens, expr.constants, X)


def is_valid(values: np.ndarray) -> bool:
    """True when every value is finite (no domain error, no overflow)."""
    return bool(np.isfinite(values).all())
