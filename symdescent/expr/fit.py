"""Constant fitting: linear scaling in closed form plus least squares inside.

Every candidate ``f`` is fitted as ``a * f(x; c) + b``.  The outer ``a`` and
``b`` are solved in closed form for each value of the inner constants ``c``
(variable projection, Golub & Pereyra), and ``c`` is fitted by
Levenberg-Marquardt on Kaufman's projected Jacobian, compiled with numba
(:func:`symdescent.expr.compiled.fit_constants`).  The outer terms stay in the returned
expression only where they earn their parameter (:func:`parameter_allowance`,
the BIC rule: on noiseless data, where they are 1 or 0 to within the fit's
precision; on noisy data, also where they only fit the noise), and neither is
added when ``f`` already has a constant factor or term at its root, nor when the
operator it needs (``mul`` for ``a``, ``add`` for ``b``) is outside the allowed set.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Collection

import numpy as np

from symdescent.expr import ops
from symdescent.expr.expression import Expression, apply, const

@dataclass(frozen=True)
class FitResult:
    """The fitted expression and its mean squared error on the fitting data (weighted, with weights)."""

    expression: Expression
    mse: float
    valid: bool
    n_evaluations: int = 0


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


def _root_has_constant(expr: Expression, ops_: tuple[str, ...]) -> bool:
    """True when the root is one of ``ops_`` and one of its children is ``C``."""
    toks = expr.tokens
    if toks[0] == ops.CONST:
        return True
    if toks[0] not in ops_:
        return False
    left_end = expr.subtree_end(1)
    return toks[1] == ops.CONST or (toks[left_end] == ops.CONST and left_end + 1 == len(toks))


def _scale(f: np.ndarray, y: np.ndarray, use_a: bool, use_b: bool, w: np.ndarray | None = None) -> tuple[float, float]:
    """Least-squares ``a`` and ``b`` for ``a f + b ~ y`` (fixed to 1 / 0 when unused), weighted by ``w``."""
    with np.errstate(all="ignore"):
        if w is None:
            a, b = _scale_raw(f, y, use_a, use_b)
        else:  # weighted least squares is plain least squares on rows scaled by sqrt(w)
            a, b = _scale_weighted(f, y, use_a, use_b, w)
    return (a, b) if np.isfinite(a) and np.isfinite(b) else (0.0, _mean(y, w))


def _mean(v: np.ndarray, w: np.ndarray | None) -> float:
    return float(v.mean()) if w is None else float(w @ v) / float(w.sum())


def weighted_var(y: np.ndarray, w: np.ndarray | None = None) -> float:
    """The variance of ``y``, weighted by ``w`` (None: ``np.var(y)``, bit for bit).

    >>> weighted_var(np.array([1.0, 2.0, 9.0]), np.array([1.0, 1.0, 0.0]))
    0.25
    """
    if w is None:
        return float(np.var(y))
    m = _mean(y, w)
    return float(w @ (y - m) ** 2) / float(w.sum())


def _scale_weighted(f, y, use_a, use_b, w):
    if use_a and use_b:
        fm, ym = _mean(f, w), _mean(y, w)
        fc = f - fm
        denom = float(w @ (fc * fc))
        if denom <= 1e-300:
            return 0.0, ym
        a = float(w @ (fc * (y - ym))) / denom
        return a, ym - a * fm
    if use_a:
        denom = float(w @ (f * f))
        return (float(w @ (f * y)) / denom if denom > 1e-300 else 0.0), 0.0
    if use_b:
        return 1.0, _mean(y - f, w)
    return 1.0, 0.0


def _scale_raw(f, y, use_a, use_b):
    if use_a and use_b:
        fm = f.mean()
        fc = f - fm
        denom = float(fc @ fc)
        if denom <= 1e-300:
            return 0.0, float(y.mean())
        a = float(fc @ (y - y.mean())) / denom
        return a, float(y.mean() - a * fm)
    if use_a:
        denom = float(f @ f)
        return (float(f @ y) / denom if denom > 1e-300 else 0.0), 0.0
    if use_b:
        return 1.0, float((y - f).mean())
    return 1.0, 0.0


def _mse(pred: np.ndarray, y: np.ndarray, w: np.ndarray | None = None) -> float:
    with np.errstate(all="ignore"):
        r = pred - y
        v = float(r @ r) / len(y) if w is None else float(w @ (r * r)) / float(w.sum())
    return v if np.isfinite(v) else np.inf


def weighted_mse(pred: np.ndarray, y: np.ndarray, w: np.ndarray | None = None) -> float:
    """``sum(w r**2) / sum(w)`` of the residuals ``r = pred - y`` (None: the plain mean); ``inf`` when not finite.

    The one definition of the loss: the search, constant fitting, snapping and
    the scorers all use it.

    >>> weighted_mse(np.array([1.0, 2.0]), np.array([0.0, 0.0]), np.array([3.0, 1.0]))
    1.75
    """
    return _mse(pred, y, w)


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
    use_a = scaling and (operators is None or "mul" in operators) and not _root_has_constant(expr, ("mul", "div"))
    use_b = scaling and (operators is None or "add" in operators) and not _root_has_constant(expr, ("add", "sub"))
    prog = compiled.compile_program(expr.tokens)
    c = np.asarray(expr.constants, dtype=float)
    if optimize and len(c):
        budget = max_nfev if max_nfev is not None else 3 * len(c) + 10
        c, a, b, _, ok = compiled.fit_constants(prog, c, X, y, use_a, use_b, budget, sample_weight=w)
        if not ok:
            return FitResult(expr, np.inf, False, budget)
        f = compiled.evaluate(prog, c, X)
    else:
        f = compiled.evaluate(prog, c, X)
        if not np.isfinite(f).all():
            return FitResult(expr, np.inf, False, 1)
        a, b = _scale(f, y, use_a, use_b, w)
    return _choose_scaling(expr.with_constants(c), f, a, b, y, 1, w)


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
        f, J = compiled.evaluate_jacobian(compiled.compile_program(expr.tokens), np.asarray(expr.constants), Xs)
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
        return FitResult(const(ym), _mse(np.full_like(y, ym), y, w), True, nfev)
    full = _mse(a * f + b, y, w)
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
        m = _mse(a_try * f + b_try, y, w)
        if m <= full * (1 + beta) ** k + floor:
            tried.append((-k, m, (a_try, b_try)))
    if tried:
        _, best_mse, best = min(tried)
    a, b = best
    out = inner
    if a != 1.0:
        out = apply("mul", const(a), out)
    if b != 0.0:
        out = apply("add", out, const(b))
    return FitResult(out, best_mse, bool(np.isfinite(best_mse)), nfev)
