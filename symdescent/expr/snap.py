"""Snap fitted constants to nearby simple values when the fit does not suffer.

A constant fitted as ``0.49999999998`` or ``6.283185307`` reads better, and
compares exactly, as ``0.5`` or ``2*pi``.  Each constant is tried against the
nearest fractions with a small denominator, alone and times or over ``pi`` or ``pi**2``
(within 1 %).  A snap removes a free parameter, so it is kept when the mean
squared error rises by less than that parameter is worth
(:func:`symdescent.expr.fit.parameter_allowance`, the BIC rule) over the
unsnapped fit.  On noiseless data an exact fit has an MSE near zero and only
snaps that cost nothing pass; on noisy data, a constant that the noise has
pulled off ``1/(4*pi)`` by 0.1 % snaps back.
"""

from __future__ import annotations

import math
from fractions import Fraction
from typing import Collection

import numpy as np

from symdescent.expr import ops
from symdescent.expr.evaluate import evaluate
from symdescent.expr.expression import Expression

MAX_DENOMINATOR = 12
PI_POWERS = (0, 1, -1, 2, -2)  # snap values are p/q * pi**k for these k
SCALES = tuple(math.pi**k for k in PI_POWERS)


def nice_values(c: float, rel: float = 1e-2) -> list[float]:
    """Simple numbers within ``rel`` of ``c``, simplest first.

    Candidates are p/q, p/q * pi, p/(q pi), p/q * pi**2 and p/(q pi**2) with
    q <= 12, ordered by their length in bits (``log2 |p| + log2 q``, plus 2
    for a factor pi and 3 for pi**2), then by distance to ``c``.

    >>> round(nice_values(9.8696)[0], 6)  # pi**2 before 31/pi or 49/5
    9.869604
    """
    out = {}
    if not math.isfinite(c) or c == 0:
        return []
    for k, scale in zip(PI_POWERS, SCALES):
        extra = (0, 2, 3)[abs(k)]
        for q in range(1, MAX_DENOMINATOR + 1):
            p = round(c / scale * q)
            if p == 0 or math.gcd(p, q) != 1:
                continue
            v = float(Fraction(p, q)) * scale
            if abs(v - c) <= rel * abs(c) and v != c:
                key = (math.log2(abs(p)) + math.log2(q) + extra, abs(v - c))
                out[v] = min(key, out.get(v, key))
    return sorted(out, key=out.__getitem__)


def _judge(expr: Expression, X: np.ndarray, y: np.ndarray, tolerance: float | None):
    """``mse(e)`` on ``(X, y)`` and ``accepts(m, k)``: is an MSE of ``m`` with ``k``
    fewer free constants than ``expr`` still as good a fit (the BIC rule)?"""
    from symdescent.expr.fit import parameter_allowance

    def mse(e: Expression) -> float:
        with np.errstate(all="ignore"):
            r = evaluate(e, X) - y
            v = float(r @ r) / len(y)
        return v if math.isfinite(v) else math.inf

    tol = parameter_allowance(len(y)) if tolerance is None else tolerance
    base = mse(expr)
    floor = 1e-12 * float(np.var(y)) + 1e-300

    def accepts(m: float, k: int) -> bool:
        return m <= base * (1 + tol) ** k + floor

    return mse, accepts


def snap_constants(expr: Expression, X: np.ndarray, y: np.ndarray, tolerance: float | None = None,
                   operators: Collection[str] | None = None) -> Expression:
    """Return ``expr`` with constants snapped where the fit stays as good.

    ``tolerance`` is the relative rise in MSE allowed per snapped constant;
    by default :func:`~symdescent.expr.fit.parameter_allowance` of the number
    of rows.  ``operators`` are those the outer scale and offset may use when
    they are refitted (see :func:`~symdescent.expr.fit.fit_expression`).

    Examples
    --------
    >>> import numpy as np
    >>> from symdescent.expr import parse
    >>> X = np.linspace(1, 2, 20)[:, None]
    >>> snap_constants(parse("0.50000000001 * x0**2"), X, X[:, 0] ** 2 / 2).to_infix()
    '0.5 * x0**2'
    >>> snap_constants(parse("1.01 * x0**2"), X, X[:, 0] ** 2 * 1.01).to_infix()
    '1.01 * x0**2'
    """
    from symdescent.expr.fit import fit_expression, strip_scaling

    if not expr.n_constants:
        return expr
    mse, accepts = _judge(expr, X, y, tolerance)

    def free(e):
        return sum(not is_nice(c) for c in e.constants)

    n_free = free(expr)
    for _ in range(3 * expr.n_constants + 3):  # each accepted snap fixes one more constant
        accepted = None
        inner = strip_scaling(expr)  # the constants below the outer scale and offset
        start = _inner_offset(expr, inner)
        inner_range = range(start, start + inner.n_constants) if start is not None else range(0)
        for i, c in enumerate(expr.constants):
            if is_nice(c):
                continue
            for v in nice_values(c):
                consts = list(expr.constants)
                consts[i] = v
                trial = expr.with_constants(consts)
                options = [trial]
                if i in inner_range:
                    # an inner constant moved: let the outer scale and offset follow
                    moved = inner.with_constants(consts[start:start + inner.n_constants])
                    refit = fit_expression(moved, X, y, optimize=False, operators=operators)
                    if refit.valid:
                        options.append(refit.expression)
                scored = [(mse(o), o) for o in options]
                ok = [(m, o) for m, o in scored if accepts(m, max(n_free - free(o), 1))]
                if ok:
                    accepted = min(ok, key=lambda t: t[0])[1]
                    break
            if accepted is not None:
                break
        if accepted is None:
            break
        expr = accepted
    return expr


def as_fraction(c: float, max_denominator: int = MAX_DENOMINATOR) -> tuple[Fraction, int] | None:
    """``(p/q, k)`` when ``c`` is exactly (as a float) ``p/q * pi**k`` with
    ``k`` in :data:`PI_POWERS` and ``q <= max_denominator``, as snapped constants are."""
    if not math.isfinite(c):
        return None
    for k, scale in zip(PI_POWERS, SCALES):
        f = Fraction(c / scale).limit_denominator(max_denominator)
        if float(f) * scale == c:
            return f, k
    return None


def is_nice(c: float) -> bool:
    """True when ``c`` is exactly a snap value (see :func:`as_fraction`)."""
    return as_fraction(c) is not None


def _inner_offset(expr: Expression, inner: Expression) -> int | None:
    """Index of ``inner``'s first constant within ``expr``'s (outer ones are stripped)."""
    m = inner.n_constants
    outer = expr.constants
    for s in range(len(outer) - m + 1):
        if outer[s:s + m] == inner.constants:
            return s
    return None


def drop_negligible_terms(expr: Expression, X: np.ndarray, y: np.ndarray, tolerance: float | None = None,
                          operators: Collection[str] | None = None) -> Expression:
    """Remove added constants (``f + c``, ``f - c``, ``c - f``) below the root that
    are not worth their parameter (same rule as :func:`snap_constants`).

    ``c - f`` becomes ``-f`` only where ``operators`` (default: all) allow ``neg``.

    On noisy data a fitted ``h + 0.007`` inside a product only fits the noise;
    the outer offset is handled by the linear scaling of the fit.

    Examples
    --------
    >>> import numpy as np
    >>> from symdescent.expr import parse
    >>> X = np.linspace(1, 2, 20)[:, None]
    >>> drop_negligible_terms(parse("2.0 * (x0 + 1e-12)"), X, 2 * X[:, 0]).to_infix()
    '2.0 * x0'
    >>> drop_negligible_terms(parse("2.0 * (x0 + 0.1)"), X, 2 * X[:, 0] + 0.2).to_infix()
    '2.0 * (x0 + 0.1)'
    """
    from symdescent.expr.expression import apply
    from symdescent.expr.fit import fit_expression

    mse, accepts = _judge(expr, X, y, tolerance)
    dropped = 0
    i = 1
    while i < len(expr.tokens):
        toks = expr.tokens
        new = None
        if toks[i] in ("add", "sub"):
            left_end = expr.subtree_end(i + 1)
            if toks[left_end] == ops.CONST and left_end + 1 == expr.subtree_end(i):
                new = expr.subtree(i + 1)  # f + c, f - c -> f
            elif toks[i + 1] == ops.CONST and (toks[i] == "add" or operators is None or "neg" in operators):
                right = expr.subtree(left_end)  # c + f -> f, c - f -> -f
                new = right if toks[i] == "add" else apply("neg", right)
        if new is not None:
            trial = expr.replace(i, new)
            if trial.n_constants:  # the other constants absorb what the term did
                refit = fit_expression(trial, X, y, scaling=False, max_nfev=100)
                if refit.valid:
                    trial = refit.expression
            if accepts(mse(trial), dropped + 1):
                expr, dropped = trial, dropped + 1
                continue  # the tree shifted: look at position i again
        i += 1
    return expr
