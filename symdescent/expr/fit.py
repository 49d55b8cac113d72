"""Constant fitting: the one home of fitting, snapping and polishing an expression's constants.

Two entry points, both returning a :class:`FitResult`:

* :func:`fit_expression` fits a candidate's constants on some rows (the
  search's inner step, on the fitting rows).  Every candidate ``f`` is fitted
  as ``a * f(x; c) + b``.  The outer ``a`` and ``b`` are solved in closed form
  for each value of the inner constants ``c`` (variable projection, Golub &
  Pereyra), and ``c`` is fitted by Levenberg-Marquardt on Kaufman's projected
  Jacobian, compiled with numba (:func:`symdescent.expr.compiled.fit_constants`,
  the kernel in :mod:`symdescent.expr.compiled.lm`).  The outer terms stay in
  the returned expression only where they earn their parameter
  (:func:`parameter_allowance`, the BIC rule: on noiseless data, where they
  are 1 or 0 to within the fit's precision; on noisy data, also where they
  only fit the noise), and neither is added when ``f`` already has a constant
  factor or term at its root, nor when the operator it needs (``mul`` for
  ``a``, ``add`` for ``b``) is outside the allowed set.
* :func:`polish` polishes a fitted expression on all rows once the search is
  over: it refits with a larger budget, divides out constants the data cannot
  tell apart (:func:`symdescent.expr.sympy_bridge.normalise_constants`), drops
  added constants that only fit noise (:func:`drop_negligible_terms`) and
  snaps constants to simple values (:func:`snap_constants`).

Snapping: a constant fitted as ``0.49999999998`` or ``6.283185307`` reads
better, and compares exactly, as ``0.5`` or ``2*pi``.  Each constant is tried
against the nearest fractions with a small denominator, alone and times or
over ``pi`` or ``pi**2`` (:func:`simple_forms`: bounded numerators,
``|p| <= 16`` beside a power of pi), simplest first.  Three tests guard a snap:

* the snapped value lies within two standard errors of the fitted one
  (:func:`standard_errors`, from the Jacobian and the residuals);
* it is clearly shorter to write than the digits the data determine: its length
  in bits plus :data:`MARGIN_BITS` is at most ``log2(|c| / se)``, so a slope that
  the data fix to +-45 stays ``671.13`` and never reads ``68*pi**2``;
* the mean squared error rises by less than the freed parameter is worth
  (:func:`parameter_allowance`, the BIC rule).

On noiseless data the standard errors are tiny and exact values snap; on noisy
data a constant that the noise has pulled off ``1/(4*pi)`` by 0.1 % snaps back,
and on real data a fitted constant keeps its decimals.

:func:`simple_forms` is the one definition of a simple number: snapping, the
printing of constants (:func:`as_fraction`, through
:func:`symdescent.expr.sympy_bridge.exact_number`) and the benchmark's symbolic
check (:func:`symdescent.bench.metrics.nice_number`) all use it, and
:func:`weighted_mse` is the one definition of the loss.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from fractions import Fraction
from typing import Callable, Collection

import numpy as np

from symdescent.expr import ops
from symdescent.expr.evaluate import evaluate
from symdescent.expr.expression import Expression, apply, const


@dataclass(frozen=True)
class FitResult:
    """The fitted expression and its mean squared error on the fitting data (weighted, with weights)."""

    expression: Expression
    mse: float
    valid: bool
    n_evaluations: int = 0
    #: the loss on the scoring rows :func:`fit_expression` was given (``score=``); None without them
    score_mse: float | None = None
    #: the fit stopped after its probe with the loss above the caller's ``give_up`` level
    abandoned: bool = False


# ---------------------------------------------------------------------------
# the loss
# ---------------------------------------------------------------------------
def _mean(v: np.ndarray, w: np.ndarray | None) -> float:
    return float(v.mean()) if w is None else float(w @ v) / float(w.sum())


def _dot(u: np.ndarray, v: np.ndarray, w: np.ndarray | None) -> float:
    """``sum(w u v)``; ``u @ v`` without weights."""
    return float(u @ v) if w is None else float(w @ (u * v))


def weighted_var(y: np.ndarray, w: np.ndarray | None = None) -> float:
    """The variance of ``y``, weighted by ``w`` (None: ``np.var(y)``, bit for bit).

    >>> weighted_var(np.array([1.0, 2.0, 9.0]), np.array([1.0, 1.0, 0.0]))
    0.25
    """
    if w is None:
        return float(np.var(y))
    m = _mean(y, w)
    return float(w @ (y - m) ** 2) / float(w.sum())


def weighted_mse(pred: np.ndarray, y: np.ndarray, w: np.ndarray | None = None) -> float:
    """``sum(w r**2) / sum(w)`` of the residuals ``r = pred - y`` (None: the plain mean); ``inf`` when not finite.

    The one definition of the loss: the search, constant fitting, snapping and
    the scorers all use it.

    >>> weighted_mse(np.array([1.0, 2.0]), np.array([0.0, 0.0]), np.array([3.0, 1.0]))
    1.75
    """
    with np.errstate(all="ignore"):
        r = pred - y
        v = float(r @ r) / len(y) if w is None else float(w @ (r * r)) / float(w.sum())
    return v if np.isfinite(v) else np.inf


def expression_mse(expr: Expression, X: np.ndarray, y: np.ndarray, sample_weight: np.ndarray | None = None) -> float:
    """:func:`weighted_mse` of ``expr`` exactly as it is (no fitting) on ``(X, y)``; ``inf`` when not finite.

    Compiled (:func:`symdescent.expr.compiled.scaled_mse`) where the
    expression has a compiled form, else on the numpy reference path.

    >>> from symdescent.expr import parse
    >>> expression_mse(parse("2.0 * x0"), np.array([[1.0], [2.0]]), np.array([2.0, 5.0]))
    0.5
    """
    from symdescent.expr import compiled

    prog = _program(expr)
    if prog is None:
        return weighted_mse(evaluate(expr, X), y, sample_weight)
    return compiled.scaled_mse(prog, expr.constants, X, y, 1.0, 0.0, sample_weight)


# ---------------------------------------------------------------------------
# the outer scale and offset
# ---------------------------------------------------------------------------
def strip_scaling(expr: Expression) -> Expression:
    """Remove a constant factor, constant term or sign at the root.

    Fitting restores whichever of them the data needs, so stripping first
    keeps genomes from piling scale on scale (``a * (c * f + d) + b``).
    """
    changed = True
    while changed and expr.complexity > 1:
        changed = False
        t = expr.tokens
        if t[0] == "neg":
            expr, changed = expr.subtree(1), True
            continue
        if t[0] in ("add", "sub", "mul", "div"):
            right = expr.subtree_end(1)
            if t[1] == ops.CONST and t[0] in ("add", "mul"):
                expr, changed = expr.subtree(right), True
            elif t[right] == ops.CONST and right + 1 == len(t):
                expr, changed = expr.subtree(1), True
    return expr


def root_has_constant(expr: Expression, ops_: tuple[str, ...]) -> bool:
    """True when the root is one of ``ops_`` and one of its children is ``C`` (or the root is ``C``).

    :func:`fit_expression` adds no outer scale to a root ``("mul", "div")``
    with a constant child, and no offset to such an ``("add", "sub")``.

    >>> from symdescent.expr import parse
    >>> root_has_constant(parse("C * x0"), ("mul", "div")), root_has_constant(parse("C * x0"), ("add", "sub"))
    (True, False)
    """
    toks = expr.tokens
    if toks[0] == ops.CONST:
        return True
    if toks[0] not in ops_:
        return False
    left_end = expr.subtree_end(1)
    return toks[1] == ops.CONST or (toks[left_end] == ops.CONST and left_end + 1 == len(toks))


def _scale(f: np.ndarray, y: np.ndarray, use_a: bool, use_b: bool, w: np.ndarray | None = None) -> tuple[float, float]:
    """Least-squares ``a`` and ``b`` for ``a f + b ~ y`` (fixed to 1 / 0 when unused), weighted by ``w``.

    Weighted least squares is plain least squares on rows scaled by ``sqrt(w)``;
    without weights the sums are the plain ones, bit for bit.
    """
    with np.errstate(all="ignore"):
        a, b = _closed_form_scale(f, y, use_a, use_b, w)
    return (a, b) if np.isfinite(a) and np.isfinite(b) else (0.0, _mean(y, w))


def _closed_form_scale(f, y, use_a, use_b, w):
    if use_a and use_b:
        fm, ym = _mean(f, w), _mean(y, w)
        fc = f - fm
        denom = _dot(fc, fc, w)
        if denom <= 1e-300:
            return 0.0, ym
        a = _dot(fc, y - ym, w) / denom
        return a, ym - a * fm
    if use_a:
        denom = _dot(f, f, w)
        return (_dot(f, y, w) / denom if denom > 1e-300 else 0.0), 0.0
    if use_b:
        return 1.0, _mean(y - f, w)
    return 1.0, 0.0


def parameter_allowance(n: int) -> float:
    """Relative rise in mean squared error that one free constant must beat.

    The Bayesian information criterion charges ``log(n)`` per parameter
    against ``n log(mse)``: a constant is worth keeping only when it lowers
    the MSE by more than a factor ``exp(log(n) / n)``.  On noiseless data an
    exact model's MSE is ~0 and nothing is dropped that matters; on noisy
    data an offset or scale that only fits the noise is dropped (or a
    constant snapped to a simple value), which is what lets ``a f + b``
    models with a spurious ``b`` be read, and compared, as ``f``.
    """
    return math.expm1(math.log(max(n, 2)) / max(n, 2))


def _choose_scaling(inner: Expression, f, a, b, y, nfev, w=None) -> FitResult:
    """Keep ``a`` and ``b`` only where they are worth their parameter."""
    with np.errstate(all="ignore"):
        return _choose_scaling_quiet(inner, f, a, b, y, nfev, w)


def _choose_scaling_quiet(inner: Expression, f, a, b, y, nfev, w) -> FitResult:
    if np.ptp(f) == 0 and a == 0.0:
        ym = _mean(y, w)
        return FitResult(const(ym), weighted_mse(np.full_like(y, ym), y, w), True, nfev)
    full = weighted_mse(a * f + b, y, w)
    floor = 1e-14 * (weighted_var(y, w) + _mean(y, w) ** 2 * 1e-6)
    beta = parameter_allowance(len(y))
    best, best_mse = (a, b), full
    options = []  # (parameters dropped, (a, b)); only the fitted ones can be dropped
    if a != 1.0 and b != 0.0:
        options.append((2, (1.0, 0.0)))
    if a != 1.0:
        options.append((1, (1.0, _mean(y - f, w) if b != 0.0 else 0.0)))
    if b != 0.0:
        fw = f if w is None else w * f
        denom = float(fw @ f)
        options.append((1, (float(fw @ y) / denom if a != 1.0 and denom > 1e-300 else a, 0.0)))
    tried = []
    for k, (a_try, b_try) in options:
        m = weighted_mse(a_try * f + b_try, y, w)
        if m <= full * (1 + beta) ** k + floor:
            tried.append((-k, m, (a_try, b_try)))
    if tried:
        _, best_mse, best = min(tried)
    return FitResult(scaled(inner, *best), best_mse, bool(np.isfinite(best_mse)), nfev)


# ---------------------------------------------------------------------------
# entry point 1: fit an expression's constants on some rows
# ---------------------------------------------------------------------------
def fit_expression(
    expr: Expression,
    X: np.ndarray,
    y: np.ndarray,
    *,
    scaling: bool = True,
    max_nfev: int | None = None,
    optimize: bool = True,
    operators: Collection[str] | None = None,
    sample_weight: np.ndarray | None = None,
    score: tuple[np.ndarray, np.ndarray, np.ndarray | None] | None = None,
    give_up: float = math.inf,
) -> FitResult:
    """Fit ``expr``'s constants (and a linear scale/offset) to ``(X, y)``.

    Parameters
    ----------
    expr : Expression
        Candidate; its current constant values are the starting point.
    X, y : ndarray
        Data, ``(n, d)`` and ``(n,)``.
    scaling : bool
        Allow the outer ``a * f + b``.
    max_nfev : int, optional
        Budget of trial steps (one evaluation each) for the inner least
        squares (default ``3 k + 10`` for ``k`` constants).
    optimize : bool
        Skip the inner least squares (closed-form scaling only) when False.
    operators : collection of str, optional
        Operators the result may use (default: all): the outer ``a *`` needs
        ``mul`` and the ``+ b`` needs ``add``, so neither is added without them.
    sample_weight : ndarray (n,), optional
        Non-negative weights of the rows: everything minimises and reports
        the weighted mean squared error ``sum(w r**2) / sum(w)``
        (:func:`weighted_mse`).  None: unweighted.
    score : (X, y, sample_weight or None), optional
        Other rows to measure the fitted model on (the search fits on a
        sample of its scoring rows): ``score_mse`` of the result is the
        :func:`expression_mse` of the returned expression there, computed in
        the same compiled call as the fit.
    give_up : float
        A mean squared error on ``(X, y)`` above which the caller has no use
        for the candidate: once ``k + 2`` of the trial steps are spent (``k``
        constants) with the error still above it, the fit stops there
        (``abandoned`` in the result).  inf (default): never.

    Returns
    -------
    FitResult
        ``valid`` is False when the expression is non-finite on the data.

    Examples
    --------
    >>> import numpy as np
    >>> from symdescent.expr import parse
    >>> X = np.linspace(1, 2, 50)[:, None]
    >>> r = fit_expression(parse("sin(x0)"), X, 3 * np.sin(X[:, 0]) + 1)
    >>> r.expression.to_infix(precision=6), r.mse < 1e-20
    ('3.0 * sin(x0) + 1.0', True)
    """
    from symdescent.expr import compiled

    y = np.asarray(y, dtype=float)
    X = np.asarray(X, dtype=float)
    w = None if sample_weight is None else np.asarray(sample_weight, dtype=float)
    use_a = scaling and (operators is None or "mul" in operators) and not root_has_constant(expr, ("mul", "div"))
    use_b = scaling and (operators is None or "add" in operators) and not root_has_constant(expr, ("add", "sub"))
    prog = _program(expr)
    c = np.asarray(expr.constants, dtype=float)
    budget = (max_nfev if max_nfev is not None else 3 * len(c) + 10) if optimize and len(c) else 0
    if prog is not None:  # the search's path: fit and choose the outer terms in one compiled call
        c, a, b, mse, ok, constant, mse2, abandoned = compiled.fit_scaled(
            prog, c, X, y, use_a, use_b, budget, parameter_allowance(len(y)), sample_weight=w, score=score,
            give_up=give_up, probe=len(c) + 2)
        if not ok:
            return FitResult(expr, np.inf, False, max(budget, 1), None if score is None else np.inf)
        out = const(b) if constant else scaled(expr.with_constants(c), a, b)
        return FitResult(out, mse, bool(np.isfinite(mse)), 1, None if score is None else mse2, abandoned)
    if budget:
        c, a, b, ok = _fit_reference(expr, c, X, y, use_a, use_b, budget, w)
        if not ok:
            return FitResult(expr, np.inf, False, budget, None if score is None else np.inf)
        f = evaluate(expr.with_constants(c), X)
    else:
        f = evaluate(expr, X)
        if not np.isfinite(f).all():
            return FitResult(expr, np.inf, False, 1, None if score is None else np.inf)
        a, b = _scale(f, y, use_a, use_b, w)
    res = _choose_scaling(expr.with_constants(c), f, a, b, y, 1, w)
    if score is None or not res.valid:
        return res if score is None else FitResult(res.expression, res.mse, False, res.n_evaluations, np.inf)
    return FitResult(res.expression, res.mse, True, res.n_evaluations, expression_mse(res.expression, *score))


def scaled(inner: Expression, a: float, b: float) -> Expression:
    """``a * inner + b``, without the factor where ``a`` is 1 and without the term where ``b`` is 0."""
    out = inner
    if a != 1.0:
        out = apply("mul", const(a), out)
    if b != 0.0:
        out = apply("add", out, const(b))
    return out


def _program(expr: Expression):
    """``expr``'s compiled program, or None where an operator has no compiled form (a user operator defined by a
    Python function, :mod:`symdescent.expr.custom`): then the numpy reference path fits it."""
    from symdescent.errors import ExpressionError
    from symdescent.expr import compiled

    try:
        return compiled.compile_program(expr.tokens)
    except ExpressionError:
        return None


def _fit_reference(expr: Expression, c0: np.ndarray, X: np.ndarray, y: np.ndarray, use_a: bool, use_b: bool,
                   budget: int, w: np.ndarray | None) -> tuple[np.ndarray, float, float, bool]:
    """The constants of ``a * expr(x; c) + b`` fitted on the numpy reference path: scipy's Levenberg-Marquardt
    (trust-region reflective when there are fewer rows than parameters) on the forward-mode Jacobian of
    :func:`~symdescent.expr.evaluate.evaluate_with_jacobian`, at most ``budget`` evaluations; ``(c, a, b, ok)``.

    The slow path the compiled kernels replace: the search takes it only for the expressions whose operators
    have no compiled form."""
    from scipy.optimize import least_squares

    from symdescent.expr.evaluate import evaluate_with_jacobian

    k = len(c0)
    sw = None if w is None else np.sqrt(w)

    def split(p):
        return p[:k], (p[k] if use_a else 1.0), (p[k + use_a] if use_b else 0.0)

    def model(p):
        c, a, b = split(p)
        f, J = evaluate_with_jacobian(expr.tokens, tuple(c), X)
        cols = [a * J] + ([f[:, None]] if use_a else []) + ([np.ones((len(y), 1))] if use_b else [])
        return a * f + b - y, np.hstack(cols)

    def residuals(p):
        r, _ = model(p)
        r = r if sw is None else r * sw
        return np.where(np.isfinite(r), r, 1e100)

    def jacobian(p):
        _, J = model(p)
        J = J if sw is None else J * sw[:, None]
        return np.where(np.isfinite(J), J, 0.0)

    with np.errstate(all="ignore"):
        f0 = evaluate(expr, X)
        if not np.isfinite(f0).all():
            return c0, 1.0, 0.0, False
        a0, b0 = _scale(f0, y, use_a, use_b, w)
        p0 = np.concatenate([c0, [a0] if use_a else [], [b0] if use_b else []])
        method = "lm" if len(y) >= len(p0) else "trf"
        try:
            res = least_squares(residuals, p0, jac=jacobian, method=method, max_nfev=max(budget, len(p0) + 1))
            p = res.x
        except (ValueError, np.linalg.LinAlgError):
            p = p0
        c, a, b = split(p)
        f = evaluate(expr.with_constants(c), X)
    ok = bool(np.isfinite(f).all() and np.isfinite(a) and np.isfinite(b))
    return np.asarray(c, dtype=float), float(a), float(b), ok


def standard_errors(expr: Expression, X: np.ndarray, y: np.ndarray, max_rows: int = 2000,
                    sample_weight: np.ndarray | None = None) -> np.ndarray:
    """Standard error of each of ``expr``'s constants as a least-squares estimate from ``(X, y)``.

    The usual asymptotic ones: ``s**2 (J^T J)^-1`` with ``J`` the Jacobian of
    the predictions with respect to all constants (outer scale and offset
    included) and ``s**2`` the residual variance, so they grow with the noise
    and with a model's misfit alike.  They are computed on at most
    ``max_rows`` evenly spaced rows and scaled to all rows.  Constants the data
    cannot tell apart (a singular ``J^T J``) get the error of the
    pseudo-inverse; where the Jacobian is not finite, ``inf``.  With
    ``sample_weight``, those of weighted least squares (rows of ``J`` and the
    residuals scaled by ``sqrt(w)``).

    >>> import numpy as np
    >>> from symdescent.expr import parse
    >>> X = np.linspace(0, 1, 400)[:, None]
    >>> noise = np.random.default_rng(0).normal(0, 0.1, 400)
    >>> np.round(standard_errors(parse("2.0 * x0 + 1.0"), X, 2 * X[:, 0] + 1 + noise), 2).tolist()
    [0.02, 0.01]
    """
    from symdescent.expr import compiled

    n, k = len(y), expr.n_constants
    if k == 0:
        return np.zeros(0)
    rows = np.linspace(0, n - 1, max_rows).astype(int) if n > max_rows else slice(None)
    Xs, ys = np.asarray(X, dtype=float)[rows], np.asarray(y, dtype=float)[rows]
    m = len(ys)
    with np.errstate(all="ignore"):
        prog = _program(expr)
        if prog is None:
            from symdescent.expr.evaluate import evaluate_with_jacobian

            f, J = evaluate_with_jacobian(expr.tokens, expr.constants, Xs)
        else:
            f, J = compiled.evaluate_jacobian(prog, np.asarray(expr.constants), Xs)
        r = f - ys
        if sample_weight is not None:
            sw = np.sqrt(np.asarray(sample_weight, dtype=float)[rows])
            sw = sw / np.sqrt(np.mean(sw * sw))  # weights of mean 1: the errors' scale stays that of the rows
            r, J = r * sw, J * sw[:, None]
        if m <= k or not (np.isfinite(r).all() and np.isfinite(J).all()):
            return np.full(k, np.inf)
        s2 = float(r @ r) / (m - k)
        norms = np.sqrt((J * J).sum(axis=0))
        norms[norms == 0] = 1.0
        cov = np.linalg.pinv((J / norms).T @ (J / norms), rcond=1e-12, hermitian=True)
        var = s2 * np.diag(cov) / norms**2 * (m / n)  # errors shrink as 1/sqrt(rows)
    return np.where(np.isfinite(var), np.sqrt(np.abs(var)), np.inf)


# ---------------------------------------------------------------------------
# simple numbers: the one definition
# ---------------------------------------------------------------------------
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
#: the relative distance within which a float *is* a simple number (its last few bits, as a snapped constant's)
EXACT = 1e-15


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


def as_fraction(c: float, rel: float = EXACT) -> tuple[Fraction, int] | None:
    """``(p/q, k)`` of the simplest of the :func:`simple_forms` ``p/q * pi**k`` within ``rel`` of ``c``, or None.

    With the default ``rel``, ``c`` must be that number to the last few bits of
    a float, as snapped constants are (``7 / (6 * math.pi**2)`` and
    ``7 / 6 * math.pi**-2`` differ in the last bit); printing and
    :func:`is_nice` ask that.  The benchmark asks within a looser ``rel``.

    >>> as_fraction(0.5), as_fraction(0.5000001), as_fraction(0.5000001, 1e-5)
    ((Fraction(1, 2), 0), None, (Fraction(1, 2), 0))
    """
    forms = simple_forms(c, rel)
    return (forms[0][1], forms[0][2]) if forms else None


def is_nice(c: float) -> bool:
    """True when ``c`` is exactly a snap value (see :func:`as_fraction`)."""
    return as_fraction(c) is not None


def nice_values(c: float, rel: float = 1e-2, max_bits: float = math.inf) -> list[float]:
    """The values of :func:`simple_forms` other than ``c`` itself, simplest first.

    >>> round(nice_values(9.8696)[0], 6)  # pi**2 before 31/pi or 49/5
    9.869604
    """
    values = (float(f) * math.pi**k for _, f, k in simple_forms(c, rel, max_bits))
    return [v for v in values if v != c]


# ---------------------------------------------------------------------------
# snapping and dropping constants
# ---------------------------------------------------------------------------
def _judge(expr: Expression, X: np.ndarray, y: np.ndarray, tolerance: float | None, w: np.ndarray | None = None):
    """``mse(e)`` on ``(X, y)`` (weighted by ``w``) and ``accepts(m, k)``: is an MSE of ``m``
    with ``k`` fewer free constants than ``expr`` still as good a fit (the BIC rule)?"""

    def mse(e: Expression) -> float:
        return expression_mse(e, X, y, w)

    tol = parameter_allowance(len(y)) if tolerance is None else tolerance
    base = mse(expr)
    floor = 1e-12 * weighted_var(y, w) + 1e-300

    def accepts(m: float, k: int) -> bool:
        return m <= base * (1 + tol) ** k + floor

    return mse, accepts


def snap_constants(expr: Expression, X: np.ndarray, y: np.ndarray, tolerance: float | None = None,
                   operators: Collection[str] | None = None, sample_weight: np.ndarray | None = None) -> Expression:
    """Return ``expr`` with constants snapped where the fit stays as good (the module docstring's three tests).

    ``tolerance`` is the relative rise in MSE allowed per snapped constant;
    by default :func:`parameter_allowance` of the number of rows.
    ``operators`` are those the outer scale and offset may use when they are
    refitted (see :func:`fit_expression`).  With ``sample_weight`` the errors,
    standard errors and refits are weighted.

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


# ---------------------------------------------------------------------------
# entry point 2: polish a fitted expression on all rows
# ---------------------------------------------------------------------------
#: the most seconds polish gives sympy to divide out redundant constants (the one step whose cost
#: does not scale with the rows)
NORMALISE_TIMEOUT_S = 0.5


def polish(fitted: FitResult, X: np.ndarray, y: np.ndarray, *, sample_weight: np.ndarray | None = None,
           operators: Collection[str] | None = None, max_nfev: int = 200, until: float | None = None,
           admissible: Callable[[Expression], bool] | None = None,
           accept: Callable[[FitResult], bool] | None = None) -> FitResult:
    """Polish a fitted expression on ``(X, y)``, all the rows it is judged on.

    1. Refit its constants with the larger budget ``max_nfev``, the outer scale
       and offset stripped and re-solved (kept only where they are worth their
       parameter on all rows, see :func:`parameter_allowance`).  The refit
       replaces ``fitted`` where it is accepted and no worse, or simpler: a
       refit that dropped a scale or offset is simpler, not better, and the
       caller may keep both.
    2. Divide out constants the data cannot tell apart (``u*C/(C*w + C)``;
       :func:`~symdescent.expr.sympy_bridge.normalise_constants`), within
       :data:`NORMALISE_TIMEOUT_S` and before ``until`` (a ``time.monotonic()``
       deadline); the result is used only where ``admissible``.  The
       constants left are identifiable, so they can be snapped.
    3. Drop added constants that only fit noise (:func:`drop_negligible_terms`).
    4. Snap constants to simple values (:func:`snap_constants`).

    The snapped expression is scored as it is (no refit) and returned where
    ``accept`` takes it; otherwise the result of step 1.

    Parameters
    ----------
    fitted : FitResult
        The expression and its MSE on these rows (``valid`` True).
    operators : collection of str, optional
        Operators the outer terms and dropped terms may use (default: all).
    admissible : callable, optional
        ``admissible(expression)``: may the normalised expression (sympy's
        rewrite can bring other operators) replace the fitted one?  Default:
        always.
    accept : callable, optional
        ``accept(result)``: is a refitted or snapped result a candidate for the
        caller (the search asks its scorer)?  Default: ``result.valid``.

    Returns
    -------
    FitResult
        ``fitted`` itself (the same object) when nothing was better.

    Examples
    --------
    >>> from symdescent.expr import parse
    >>> X = np.random.default_rng(0).uniform(1, 2, size=(50, 1))
    >>> y = X[:, 0] ** 2 / 2
    >>> start = fit_expression(parse("x0 * x0"), X, y * (1 + 1e-10))
    >>> start.expression.to_infix(precision=12)
    '0.50000000005 * (x0 * x0)'
    >>> polish(FitResult(start.expression, expression_mse(start.expression, X, y), True), X, y).expression.to_infix()
    '0.5 * (x0 * x0)'
    """
    accept = accept or (lambda r: r.valid)
    w = sample_weight
    refit = fit_expression(strip_scaling(fitted.expression), X, y, max_nfev=max_nfev, operators=operators,
                           sample_weight=w)
    better = refit.mse <= fitted.mse or refit.expression.complexity < fitted.expression.complexity
    best = refit if refit.valid and better and accept(refit) else fitted
    expr = best.expression
    if expr.n_constants > 1:
        from symdescent.expr.sympy_bridge import normalise_constants

        timeout = NORMALISE_TIMEOUT_S if until is None else min(NORMALISE_TIMEOUT_S, until - time.monotonic())
        normalised = normalise_constants(expr, timeout=timeout) if timeout > 0.01 else expr
        if admissible is None or admissible(normalised):
            expr = normalised
    dropped = drop_negligible_terms(expr, X, y, operators=operators, sample_weight=w)
    snapped = snap_constants(dropped, X, y, operators=operators, sample_weight=w)
    if snapped is best.expression or snapped == best.expression:
        return best
    out = FitResult(snapped, *_score_as_is(snapped, X, y, w))
    return out if accept(out) else best


def _score_as_is(expr: Expression, X: np.ndarray, y: np.ndarray, w: np.ndarray | None) -> tuple[float, bool]:
    """The polished expression's MSE and whether it is finite.

    Without weights it is numpy's mean of the squares (pairwise summation),
    which can differ from :func:`expression_mse`'s dot product in the last
    bit: polished losses have always been computed so, and stay the same.
    """
    pred = evaluate(expr, X)
    if w is not None:
        mse = weighted_mse(pred, y, w)
    else:
        with np.errstate(all="ignore"):
            mse = float(((pred - y) ** 2).mean())
    ok = bool(np.isfinite(mse))
    return (mse if ok else float("inf")), ok
