"""Constant fitting: linear scaling in closed form plus least squares inside.

Every candidate ``f`` is fitted as ``a * f(x; c) + b``.  The outer ``a`` and
``b`` are solved in closed form for each value of the inner constants ``c``
(variable projection, Golub & Pereyra), and ``c`` is fitted by
:func:`scipy.optimize.least_squares`.  The outer terms stay in the returned
expression only where they are needed: a scale ``a`` that is 1, or an offset
``b`` that is 0, to within the fit's precision, is dropped, and neither is
added when ``f`` already has a constant factor or term at its root.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from symdescent.expr import ops
from symdescent.expr.evaluate import evaluate_tokens, evaluate_with_jacobian
from symdescent.expr.expression import Expression, apply, const

_BIG = 1e150


@dataclass(frozen=True)
class FitResult:
    """The fitted expression and its mean squared error on the fitting data."""

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


def _scale(f: np.ndarray, y: np.ndarray, use_a: bool, use_b: bool) -> tuple[float, float]:
    """Least-squares ``a`` and ``b`` for ``a f + b ~ y`` (fixed to 1 / 0 when unused)."""
    with np.errstate(all="ignore"):
        a, b = _scale_raw(f, y, use_a, use_b)
    return (a, b) if np.isfinite(a) and np.isfinite(b) else (0.0, float(y.mean()))


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


def _mse(pred: np.ndarray, y: np.ndarray) -> float:
    with np.errstate(all="ignore"):
        r = pred - y
        v = float(r @ r) / len(y)
    return v if np.isfinite(v) else np.inf


def fit_expression(
    expr: Expression,
    X: np.ndarray,
    y: np.ndarray,
    *,
    scaling: bool = True,
    max_nfev: int | None = None,
    optimize: bool = True,
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
        Budget of function evaluations for the inner least squares
        (default ``2 k + 6`` for ``k`` constants).
    optimize : bool
        Skip the inner least squares (closed-form scaling only) when False.

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
    y = np.asarray(y, dtype=float)
    tokens = expr.tokens
    use_a = scaling and not _root_has_constant(expr, ("mul", "div"))
    use_b = scaling and not _root_has_constant(expr, ("add", "sub"))
    nfev = 0

    def predict(c):
        nonlocal nfev
        nfev += 1
        f = evaluate_tokens(tokens, c, X)
        if not np.isfinite(f).all():
            return None, 1.0, 0.0
        a, b = _scale(f, y, use_a, use_b)
        return f, a, b

    c0 = np.asarray(expr.constants, dtype=float)
    f, a, b = predict(c0)
    if optimize and len(c0):
        c_new = _least_squares(tokens, c0 if f is not None else np.ones_like(c0), X, y, use_a, use_b,
                               max_nfev if max_nfev is not None else 2 * len(c0) + 6)
        f_new, a_new, b_new = predict(c_new)
        if f_new is not None and (f is None or _mse(a_new * f_new + b_new, y) <= _mse(a * f + b, y)):
            c0, f, a, b = c_new, f_new, a_new, b_new
    if f is None:
        return FitResult(expr, np.inf, False, nfev)
    inner = expr.with_constants(c0)
    return _choose_scaling(inner, f, a, b, y, nfev)


def _least_squares(tokens, start, X, y, use_a, use_b, max_nfev):
    """Levenberg-Marquardt on the inner constants with ``a`` and ``b`` projected out.

    The Jacobian is exact (forward mode, one pass) and uses Kaufman's
    variable-projection form: the Jacobian of ``a * f`` with its components
    along the span of the outer terms ``{f, 1}`` removed.
    """
    from scipy.optimize import least_squares

    big = _BIG ** 0.5
    memo: dict = {}

    def parts(c):
        key = c.tobytes()
        if key not in memo:
            memo.clear()
            f, J = evaluate_with_jacobian(tokens, c, X)
            if not (np.isfinite(f).all() and np.isfinite(J).all()):
                memo[key] = None
            else:
                a, b = _scale(f, y, use_a, use_b)
                basis = [v for v, used in ((f, use_a), (np.ones_like(f), use_b)) if used]
                Jr = a * J
                if basis:
                    Q, _ = np.linalg.qr(np.stack(basis, axis=1))
                    Jr = Jr - Q @ (Q.T @ Jr)
                memo[key] = (a * f + b - y, Jr)
        return memo[key]

    def residual(c):
        p = parts(c)
        return np.full(len(y), big) if p is None else p[0]

    def jacobian(c):
        p = parts(c)
        return np.zeros((len(y), len(c))) if p is None else p[1]

    try:
        with np.errstate(all="ignore"):
            sol = least_squares(residual, start, jac=jacobian, method="lm" if len(y) >= len(start) else "trf",
                                max_nfev=max_nfev)
        return sol.x
    except (ValueError, np.linalg.LinAlgError, FloatingPointError):
        return start


def _choose_scaling(inner: Expression, f, a, b, y, nfev) -> FitResult:
    """Keep ``a`` and ``b`` only where dropping them would cost accuracy."""
    if np.ptp(f) == 0 and a == 0.0:
        return FitResult(const(float(y.mean())), _mse(np.full_like(y, y.mean()), y), True, nfev)
    full = _mse(a * f + b, y)
    tol = full * 1e-9 + 1e-14 * (float(np.var(y)) + float(np.mean(y) ** 2) * 1e-6)
    best = (a, b)
    for a_try, b_try in ((1.0, 0.0), (1.0, None), (a, 0.0)):
        if b_try is None:  # offset alone, refit in closed form
            b_try = float((y - f).mean())
        if _mse(a_try * f + b_try, y) <= full + tol:
            best = (a_try, b_try)
            break
    a, b = best
    out = inner
    if a != 1.0:
        out = apply("mul", const(a), out)
    if b != 0.0:
        out = apply("add", out, const(b))
    mse = _mse(a * f + b, y)
    return FitResult(out, mse, bool(np.isfinite(mse)), nfev)
