"""Vectorised evaluation of prefix expressions on numpy arrays.

Domain errors never warn and never raise: ``log(-1)``, ``x / 0`` and overflow
produce NaN or inf in the output, and the caller treats any non-finite value
as marking the candidate invalid (see :func:`is_valid`).
"""

from __future__ import annotations

import numpy as np

from symdescent.expr import ops


def _postfix(tokens, constants, X: np.ndarray):
    """Walk prefix ``tokens`` right to left, the order a stack evaluates them in.

    Yields ``(tok, op, value, index)``: for an operator its :class:`~symdescent.expr.ops.Operator`, value None;
    for a leaf op None and its value (a column of ``X``, a literal, a constant), with ``index`` the
    position of the constant in ``constants`` (-1 for other leaves).
    """
    ci = len(constants)
    for tok in reversed(tokens):
        op = ops.OPERATORS.get(tok)
        if op is not None:
            yield tok, op, None, -1
        elif tok == ops.CONST:
            ci -= 1
            yield tok, None, constants[ci], ci
        else:
            yield tok, None, (ops.LITERALS[tok] if tok in ops.LITERALS else X[:, int(tok[1:])]), -1


def evaluate_tokens(tokens, constants, X: np.ndarray) -> np.ndarray:
    """Evaluate a prefix sequence on ``X`` of shape ``(n, d)``; returns ``(n,)``.

    >>> evaluate_tokens(("add", "x0", "mul", "C", "x1"), (2.0,), np.array([[1.0, 3.0], [0.0, -1.0]]))
    array([ 7., -2.])
    """
    n = X.shape[0]
    stack: list = []
    with np.errstate(all="ignore"):
        for _, op, value, _ in _postfix(tokens, constants, X):
            if op is None:
                stack.append(value)
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


def evaluate_with_jacobian(tokens, constants, X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Values ``(n,)`` and the Jacobian ``(n, k)`` with respect to the ``k`` constants.

    Forward-mode differentiation on the same stack walk as :func:`evaluate_tokens`:
    each stack entry carries its value and its gradient rows (None when the
    subtree holds no constant); each operator's partial derivatives are its
    :attr:`~symdescent.expr.ops.Operator.derivative`.
    """
    n = X.shape[0]
    k = len(constants)
    vals: list = []
    grads: list = []
    with np.errstate(all="ignore"):
        for tok, op, value, index in _postfix(tokens, constants, X):
            if op is None:
                vals.append(value)
                if index < 0:
                    grads.append(None)
                else:
                    g = np.zeros((k, 1))
                    g[index] = 1.0
                    grads.append(g)
            elif op.arity == 1:
                a, ga = vals.pop(), grads.pop()
                fa = op.func(a)
                vals.append(fa)
                grads.append(None if ga is None else op.derivative(a, fa)[0] * ga)
            else:
                a, ga = vals.pop(), grads.pop()
                b, gb = vals.pop(), grads.pop()
                fa = op.func(a, b)
                vals.append(fa)
                if ga is None and gb is None:
                    grads.append(None)
                    continue
                da, db = op.derivative(a, b, fa)
                g = 0.0
                if ga is not None:
                    g = g + da * ga
                if gb is not None:
                    g = g + db * gb
                grads.append(g)
        out, g = vals.pop(), grads.pop()
    out = np.broadcast_to(np.asarray(out, dtype=float), (n,))
    J = np.zeros((n, k)) if g is None else np.broadcast_to(np.asarray(g, dtype=float), (k, n)).T
    return np.array(out), np.array(J)
