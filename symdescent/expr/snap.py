"""Snap fitted constants to nearby simple values where the data determine them.

A constant fitted as ``0.49999999998`` or ``6.283185307`` reads better, and
compares exactly, as ``0.5`` or ``2*pi``.  Each constant is tried against the
nearest fractions with a small denominator, alone and times or over ``pi`` or
``pi**2`` (:func:`simple_forms`: bounded numerators, ``|p| <= 16`` beside a
power of pi), simplest first.  Three tests guard a snap:

* the snapped value lies within two standard errors of the fitted one
  (:func:`symdescent.expr.fit.standard_errors`, from the Jacobian and the
  residuals);
* it is clearly shorter to write than the digits the data determine: its length
  in bits plus :data:`MARGIN_BITS` is at most ``log2(|c| / se)``, so a slope that
  the data fix to +-45 stays ``671.13`` and never reads ``68*pi**2``;
* the mean squared error rises by less than the freed parameter is worth
  (:func:`symdescent.expr.fit.parameter_allowance`, the BIC rule).

On noiseless data the standard errors are tiny and exact values snap; on noisy
data a constant that the noise has pulled off ``1/(4*pi)`` by 0.1 % snaps back,
and on real data a fitted constant keeps its decimals.
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
MAX_NUMERATOR = 1000  # |p| of a plain fraction p/q
#: |p| beside a power of pi: ``68*pi**2`` or ``744/(7*pi**2)`` reads worse than the decimal it replaces
MAX_PI_NUMERATOR = 16
PI_POWERS = (0, 1, -1, 2, -2)  # snap values are p/q * pi**k for these k
SCALES = tuple(math.pi**k for k in PI_POWERS)
PI_BITS = (0, 2, 2, 3, 3)  # the length in bits of the factor pi**k, for each k of PI_POWERS
#: bits a snapped value must save against the digits the data determine (a decimal digit is 3.3 bits); with
#: fewer, about one fitted constant in ten would meet some simple value by chance
MARGIN_BITS = 4
#: the relative standard error assumed at least: an exact fit's constants carry the fit's own rounding
MIN_RELATIVE_ERROR = 1e-6


def simple_forms(c: float, rel: float = 1e-2, max_bits: float = math.inf) -> list[tuple[float, Fraction, int]]:
    """``(bits, p/q, k)`` for the simple numbers ``p/q * pi**k`` within ``rel`` of ``c``, simplest first.

    ``k`` is one of :data:`PI_POWERS`, ``q <= 12``, ``|p| <= 1000`` (``<= 16``
    for ``k != 0``).  ``bits`` is the length ``log2 |p| + log2 q`` plus 2 for
    a factor pi and 3 for pi**2; only forms of at most ``max_bits`` are given.
    Ties are broken by the distance to ``c``.  The one definition of a simple
    number: snapping, printing (:func:`as_fraction`) and the benchmark's
    symbolic check all use it.

    >>> [(round(b, 2), str(f), k) for b, f, k in simple_forms(0.0795775, 1e-5)]
    [(4.0, '1/4', -1)]
    """
    if not math.isfinite(c) or c == 0:
        return []
    out = {}
    for k, scale, extra in zip(PI_POWERS, SCALES, PI_BITS):
        limit = MAX_NUMERATOR if k == 0 else MAX_PI_NUMERATOR
        for q in range(1, MAX_DENOMINATOR + 1):
            t = c / scale * q
            if not abs(t) <= limit + 1:  # also a huge c, whose t overflows to inf (round(inf) raises)
                continue
            p = round(t)
            if p == 0 or abs(p) > limit or math.gcd(p, q) != 1:
                continue
            v = p / q * scale  # int / int is correctly rounded: float(Fraction(p, q))
            bits = math.log2(abs(p)) + math.log2(q) + extra
            if abs(v - c) <= rel * abs(c) and bits <= max_bits:
                key = (bits, abs(v - c), Fraction(p, q), k)
                out[v] = min(key, out.get(v, key))
    return [(b, f, k) for b, _, f, k in sorted(out.values())]


def nice_values(c: float, rel: float = 1e-2, max_bits: float = math.inf) -> list[float]:
    """The values of :func:`simple_forms` other than ``c`` itself, simplest first.

    >>> round(nice_values(9.8696)[0], 6)  # pi**2 before 31/pi or 49/5
    9.869604
    """
    values = (float(f) * math.pi**k for _, f, k in simple_forms(c, rel, max_bits))
    return [v for v in values if v != c]


def _judge(expr: Expression, X: np.ndarray, y: np.ndarray, tolerance: float | None, w: np.ndarray | None = None):
    """``mse(e)`` on ``(X, y)`` (weighted by ``w``) and ``accepts(m, k)``: is an MSE of ``m``
    with ``k`` fewer free constants than ``expr`` still as good a fit (the BIC rule)?"""
    from symdescent.expr.fit import parameter_allowance, weighted_mse, weighted_var

    def mse(e: Expression) -> float:
        if w is not None:
            return weighted_mse(evaluate(e, X), y, w)
        with np.errstate(all="ignore"):
            r = evaluate(e, X) - y
            v = float(r @ r) / len(y)
        return v if math.isfinite(v) else math.inf

    tol = parameter_allowance(len(y)) if tolerance is None else tolerance
    base = mse(expr)
    floor = 1e-12 * weighted_var(y, w) + 1e-300

    def accepts(m: float, k: int) -> bool:
        return m <= base * (1 + tol) ** k + floor

    return mse, accepts


def snap_constants(expr: Expression, X: np.ndarray, y: np.ndarray, tolerance: float | None = None,
                   operators: Collection[str] | None = None, sample_weight: np.ndarray | None = None) -> Expression:
    """Return ``expr`` with constants snapped where the fit stays as good.

    ``tolerance`` is the relative rise in MSE allowed per snapped constant;
    by default :func:`~symdescent.expr.fit.parameter_allowance` of the number
    of rows.  ``operators`` are those the outer scale and offset may use when
    they are refitted (see :func:`~symdescent.expr.fit.fit_expression`).
    With ``sample_weight`` the errors, standard errors and refits are weighted.

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
    from symdescent.expr.fit import fit_expression, standard_errors, strip_scaling

    if not expr.n_constants:
        return expr
    mse, accepts = _judge(expr, X, y, tolerance, sample_weight)

    def free(e):
        return sum(not is_nice(c) for c in e.constants)

    n_free = free(expr)
    for _ in range(3 * expr.n_constants + 3):  # each accepted snap fixes one more constant
        accepted = None
        inner = strip_scaling(expr)  # the constants below the outer scale and offset
        start = _inner_offset(expr, inner)
        inner_range = range(start, start + inner.n_constants) if start is not None else range(0)
        errors = standard_errors(expr, X, y, sample_weight=sample_weight)
        for i, c in enumerate(expr.constants):
            if is_nice(c) or not errors[i] < math.inf:
                continue
            se = max(errors[i], MIN_RELATIVE_ERROR * abs(c))
            # within two standard errors, and clearly shorter than the log2(|c| / se) bits the data determine
            window = min(1e-2, 2 * se / abs(c))
            for v in nice_values(c, window, math.log2(abs(c) / se) - MARGIN_BITS):
                consts = list(expr.constants)
                consts[i] = v
                trial = expr.with_constants(consts)
                options = [trial]
                if i in inner_range:
                    # an inner constant moved: let the outer scale and offset follow
                    moved = inner.with_constants(consts[start:start + inner.n_constants])
                    refit = fit_expression(moved, X, y, optimize=False, operators=operators,
                                           sample_weight=sample_weight)
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
    """``(p/q, k)`` when ``c`` is (to the last few bits of a float) one of the
    :func:`simple_forms` ``p/q * pi**k`` with ``q <= max_denominator``, as snapped
    constants are; ``7 / (6 * math.pi**2)`` and ``7 / 6 * math.pi**-2`` differ in the last bit."""
    for _, f, k in simple_forms(c, 1e-15):
        if f.denominator <= max_denominator:
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
                          operators: Collection[str] | None = None,
                          sample_weight: np.ndarray | None = None) -> Expression:
    """Remove added constants (``f + c``, ``f - c``, ``c - f``) below the root that
    are not worth their parameter (same rule as :func:`snap_constants`).

    ``c - f`` becomes ``-f`` only where ``operators`` (default: all) allow ``neg``.
    With ``sample_weight`` the errors and refits are weighted.

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

    mse, accepts = _judge(expr, X, y, tolerance, sample_weight)
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
                refit = fit_expression(trial, X, y, scaling=False, max_nfev=100, sample_weight=sample_weight)
                if refit.valid:
                    trial = refit.expression
            if accepts(mse(trial), dropped + 1):
                expr, dropped = trial, dropped + 1
                continue  # the tree shifted: look at position i again
        i += 1
    return expr
