"""Snap fitted constants to nearby simple values when the fit does not suffer.

A constant fitted as ``0.49999999998`` or ``6.283185307`` reads better, and
compares exactly, as ``0.5`` or ``2*pi``.  Each constant is tried against the
nearest fraction with a small denominator, alone and times ``pi``; a snap is
kept only when the mean squared error stays within a relative ``tolerance``
(and an absolute floor tied to the variance of ``y``).
"""

from __future__ import annotations

import math
from fractions import Fraction

import numpy as np

from symdescent.expr.evaluate import evaluate
from symdescent.expr.expression import Expression

MAX_DENOMINATOR = 12


def nice_values(c: float, rel: float = 1e-4) -> list[float]:
    """Simple numbers within ``rel`` of ``c``: p/q and p/q * pi (q <= 12)."""
    out = []
    if not math.isfinite(c) or c == 0:
        return out
    for scale in (1.0, math.pi, 1 / math.pi):
        f = Fraction(c / scale).limit_denominator(MAX_DENOMINATOR)
        v = float(f) * scale
        if v != 0 and abs(v - c) <= rel * abs(c) and v != c:
            out.append(v)
    return sorted(set(out), key=lambda v: abs(v - c))


def snap_constants(expr: Expression, X: np.ndarray, y: np.ndarray, tolerance: float = 1e-6) -> Expression:
    """Return ``expr`` with constants snapped where the fit stays as good.

    Examples
    --------
    >>> import numpy as np
    >>> from symdescent.expr import parse
    >>> X = np.linspace(1, 2, 20)[:, None]
    >>> snap_constants(parse("0.50000000001 * x0**2"), X, X[:, 0] ** 2 / 2).to_infix()
    '0.5 * x0**2'
    """
    if not expr.n_constants:
        return expr

    def mse(e):
        with np.errstate(all="ignore"):
            r = evaluate(e, X) - y
            v = float(r @ r) / len(y)
        return v if math.isfinite(v) else math.inf

    base = mse(expr)
    floor = 1e-12 * float(np.var(y)) + 1e-300
    consts = list(expr.constants)
    for i, c in enumerate(consts):
        for v in nice_values(c):
            trial = consts.copy()
            trial[i] = v
            cand = expr.with_constants(trial)
            if mse(cand) <= base * (1 + tolerance) + floor:
                consts = trial
                break
    return expr.with_constants(consts)
