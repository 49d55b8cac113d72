"""Formulas affine in the columns, ``c0 + c1 x_a + ... + cm x_m``: how to recognise one, however it is written,
and its least-squares form.

A real table's best model at its size and noise is often such a weighted sum. The ``mdl`` scorer describes one
by its columns and coefficients rather than by its tree of nodes (its linear code), and the finish rewrites
any affine member of the front as this one plain sum with its least-squares coefficients, so that a model the
search built as ``k * (a*x0 + x1/b) + c`` prints as ``c0 + c1*x0 + c2*x1``.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np

from symdescent.expr import ops
from symdescent.expr.expression import Expression, subtree_end

#: the operators an affine expression of the columns may use (with constant-only operands where it must)
_AFFINE_OPS = frozenset({"add", "sub", "mul", "div", "neg"})


@functools.lru_cache(maxsize=16384)
def affine_columns(tokens: tuple[str, ...]) -> frozenset[int] | None:
    """The columns of an expression that is affine in them (``c0 + c1 x_a + c2 x_b + ...``, written any way
    with ``+``, ``-``, ``*``, ``/`` and negation: a product needs a constant-only factor, a quotient a
    constant-only divisor), as their indices; None for any other expression. A constant's is empty.

    Cached by tokens (the scorer asks for every candidate; constants do not change the answer).

    >>> sorted(affine_columns(("add", "mul", "C", "x0", "div", "sub", "x2", "x0", "C")))
    [0, 2]
    >>> affine_columns(("mul", "x0", "x1")) is None, affine_columns(("sin", "x0")) is None
    (True, True)
    """
    arity = ops.arities().get
    stack: list = []  # per subtree: frozenset of its columns (empty: constant-only), or None: not affine
    for tok in reversed(tokens):
        k = arity(tok, 0)
        if k == 0:
            if ops.is_variable(tok):
                stack.append(frozenset({ops.variable_index(tok)}))
            elif tok == ops.CONST or tok in ops.LITERALS:
                stack.append(frozenset())
            else:
                return None  # an operator not in the table now: nothing to say about it
            continue
        if tok not in _AFFINE_OPS:
            return None
        args = [stack.pop() for _ in range(k)]
        if any(a is None for a in args):
            return None
        if tok == "mul" and args[0] and args[1]:
            return None  # a product of two terms that both hold a column
        if tok == "div" and args[1]:
            return None  # a column in the divisor
        stack.append(args[0] | args[1] if k == 2 else args[0])
    return stack[0] if len(stack) == 1 else None


@dataclass(frozen=True)
class Decomposition:
    """An expression read as a sum of terms (:func:`additive_terms`).

    Attributes
    ----------
    columns : frozenset of int
        The columns of its linear terms (``x_j`` or a constant times ``x_j``; each column's first one).
    intercept : bool
        Whether a constant term is among them (several add up to one).
    terms : tuple of (int, int)
        ``(nodes, fitted constants)`` of every other term, those a linear code cannot describe.
    scales : int
        Constant factors or divisors around parts of the sum that hold such terms (``C * (x0 + sin(x1))``).
    """

    columns: frozenset
    intercept: bool
    terms: tuple
    scales: int


@functools.lru_cache(maxsize=16384)
def additive_terms(tokens: tuple[str, ...]) -> Decomposition | None:
    """The expression as a sum of terms, through ``+``, ``-``, negation and constant factors or divisors
    (``C * (x0 + 2.0 * x1 + sin(x2)) + C``: linear terms in columns 0 and 1, an intercept, one other term,
    one constant factor around it); None when the expression is not a sum (a single non-linear term is
    not worth reading so) or uses an operator not in the table.

    >>> d = additive_terms(("add", "mul", "C", "add", "x0", "add", "mul", "C", "x1", "sin", "x2", "C"))
    >>> sorted(d.columns), d.intercept, d.terms, d.scales
    ([0, 1], True, ((2, 0),), 1)
    """
    arity = ops.arities().get

    def constant_leaf(tok):
        return tok == ops.CONST or tok in ops.LITERALS

    columns: set[int] = set()
    terms: list[tuple[int, int]] = []
    intercept = False
    scales = 0

    def walk(start: int) -> tuple[int, bool]:
        """Reads the subtree at ``start``; returns its end and whether it holds a non-linear term."""
        nonlocal intercept, scales
        tok = tokens[start]
        k = arity(tok, 0)
        if k == 0:
            if ops.is_variable(tok) and ops.variable_index(tok) not in columns:
                columns.add(ops.variable_index(tok))
                return start + 1, False
            if constant_leaf(tok):  # another constant term adds to the intercept (the fit's outer offset)
                intercept = True
                return start + 1, False
            if not (ops.is_variable(tok) or constant_leaf(tok)):
                raise KeyError(tok)
            terms.append((1, int(tok == ops.CONST)))
            return start + 1, True
        if tok in ("add", "sub"):
            mid, a = walk(start + 1)
            end, b = walk(mid)
            return end, a or b
        if tok == "neg":
            return walk(start + 1)
        if tok in ("mul", "div"):
            left_end = subtree_end(tokens, start + 1)
            end = subtree_end(tokens, left_end)
            left, right = tokens[start + 1:left_end], tokens[left_end:end]
            factor_left = tok == "mul" and len(left) == 1 and constant_leaf(left[0])
            factor_right = len(right) == 1 and constant_leaf(right[0])
            other = right if factor_left else left if factor_right else None
            if other is not None and len(other) == 1 and ops.is_variable(other[0]) \
                    and ops.variable_index(other[0]) not in columns:
                columns.add(ops.variable_index(other[0]))  # a constant times a column: a linear term
                return end, False
            if other is not None:  # a constant factor or divisor around a part of the sum
                _, nonlinear = walk(left_end if factor_left else start + 1)
                scales += nonlinear
                return end, nonlinear
        end = subtree_end(tokens, start)
        piece = tokens[start:end]
        terms.append((len(piece), piece.count(ops.CONST)))
        return end, True

    if not tokens or tokens[0] not in ("add", "sub", "neg", "mul", "div"):
        return None
    try:
        end, _ = walk(0)
    except KeyError:
        return None
    if end != len(tokens):
        return None
    return Decomposition(frozenset(columns), intercept, tuple(terms), scales)


def least_squares(X: np.ndarray, y: np.ndarray, w: np.ndarray | None, columns) -> tuple[np.ndarray, float, float]:
    """The (weighted) least-squares fit of ``y`` by an intercept and the ``columns`` of ``X``:
    ``(coefficients, intercept, loss)``, the loss as :func:`symdescent.expr.fit.weighted_mse` defines it;
    the coefficients are the minimum-norm solution where the columns are collinear.

    >>> X = np.array([[0.0, 1.0], [1.0, 3.0], [2.0, 2.0], [3.0, 0.0]])
    >>> coef, c0, loss = least_squares(X, 2 * X[:, 0] - 1, None, [0])
    >>> np.round(coef, 12).tolist(), round(c0, 12), loss < 1e-20
    ([2.0], -1.0, True)
    """
    from symdescent.expr.fit import weighted_mse

    cols = sorted(columns)
    A = np.column_stack([np.ones(len(y)), X[:, cols]]) if cols else np.ones((len(y), 1))
    if w is None:
        sol = np.linalg.lstsq(A, y, rcond=None)[0]
    else:
        s = np.sqrt(w)
        sol = np.linalg.lstsq(A * s[:, None], y * s, rcond=None)[0]
    return sol[1:], float(sol[0]), weighted_mse(A @ sol, y, w)


def affine_expression(columns, coefficients, intercept: float) -> Expression:
    """``C + C*x_a + C*x_b + ...`` over ``columns`` with the given values (a left-nested sum, columns in order).

    >>> affine_expression([2, 0], [3.0, 0.5], -1.0).to_infix()
    '(-1.0) + 0.5 * x0 + 3.0 * x2'
    """
    pairs = sorted(zip(columns, coefficients))
    tokens = ["add"] * len(pairs) + [ops.CONST]  # ((C + t1) + t2) + ...: a left-nested sum, in prefix
    consts = [float(intercept)]
    for col, c in pairs:
        tokens += ["mul", ops.CONST, f"x{int(col)}"]
        consts.append(float(c))
    return Expression(tuple(tokens), tuple(consts))
