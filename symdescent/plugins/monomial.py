"""The ``monomial`` proposer: power laws ``c * x_a**p_a * x_b**p_b * ...`` fitted in log space.

Physical laws, and many measured relations between positive quantities, are products of powers of the
columns, or contain one as a factor (``m q**4 / (8 eps**2 h**2 n**2)``, ``G m1 m2 / r**2``). A search that grows
formulas from small random trees must find each factor and each exponent in turn; a product of five powers is
a 14-node tree it may never reach within seconds, and its MSE-driven fit is dominated by the few rows where the
product is largest. In log space the same law is linear: ``log|y| = log|c| + p_a log|x_a| + ...``. On its
first iteration this proposer orders the columns by least-angle regression on the logs (as the ``linear``
proposer does on the values, :func:`symdescent.plugins.linear.entry_order`), fits the exponents of the first
1, 2, ... of them by least squares and proposes each product twice: with its exponents rounded to the nearest
half (an exact law's, written with ``square``, ``cube``, ``sqrt``, ``/`` where the operators allow) and with
the fitted exponents as constants (``pow(x, c)``, which the fit refines). The scorer judges them against
everything else; the GP takes them in as seeds (a law that is a power law times a function of a group).

Nothing is proposed where the target changes sign or reaches zero (no power law then), and a column that
reaches zero never enters.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from symdescent.expr import Expression
from symdescent.expr.expression import apply, const, variable
from symdescent.plugins.linear import OnceProposer, entry_order
from symdescent.registry import PluginInfo


@dataclass(frozen=True)
class MonomialConfig:
    """Settings of the ``monomial`` proposer.

    Attributes
    ----------
    max_factors : int
        Most columns in one product.
    max_rows : int
        Rows (a seeded subsample) the exponents are fitted on.
    """

    max_factors: int = 8
    max_rows: int = 10_000

    def validate(self) -> "MonomialConfig":
        from symdescent.errors import ConfigError

        if self.max_factors < 1:
            raise ConfigError(f"plugins.monomial.max_factors must be >= 1, got {self.max_factors}")
        if self.max_rows < 2:
            raise ConfigError(f"plugins.monomial.max_rows must be >= 2, got {self.max_rows}")
        return self


#: exponents closer than this to a multiple of 1/2 are written as that multiple in the rounded proposal
ROUNDING = 0.1


def log_exponents(X: np.ndarray, y: np.ndarray, columns, sample_weight: np.ndarray | None = None) -> np.ndarray:
    """The least-squares exponents of ``log|y| = c + sum p_j log|x_j|`` over ``columns`` (in their order).

    >>> X = np.random.default_rng(0).uniform(1, 5, size=(50, 3))
    >>> np.round(log_exponents(X, 3 * X[:, 0] ** 2 / X[:, 2], [0, 2]), 9).tolist()
    [2.0, -1.0]
    """
    L = np.log(np.abs(X[:, list(columns)]))
    A = np.column_stack([np.ones(len(y)), L])
    t = np.log(np.abs(y))
    if sample_weight is not None:
        s = np.sqrt(np.asarray(sample_weight, dtype=float))
        A, t = A * s[:, None], t * s
    return np.linalg.lstsq(A, t, rcond=None)[0][1:]


def _power(col: int, p: float, allowed) -> Expression | None:
    """``x_col ** p`` for ``p > 0``, in the plainest writing the operators allow; None when they allow none."""
    x = variable(col)
    if p == 1:
        return x
    if p == 2 and "square" in allowed:
        return apply("square", x)
    if p == 2 and "mul" in allowed:
        return apply("mul", x, x)
    if p == 3 and "cube" in allowed:
        return apply("cube", x)
    if p == 0.5 and "sqrt" in allowed:
        return apply("sqrt", x)
    return apply("pow", x, const(p)) if "pow" in allowed else None


def _product(factors: list[Expression]) -> Expression:
    out = factors[0]
    for f in factors[1:]:
        out = apply("mul", out, f)
    return out


def monomial(columns, exponents, allowed) -> Expression | None:
    """``prod x_j ** p_j`` (the fit adds the outer scale): positive powers over negative ones where ``div`` is
    allowed, else negative exponents of ``pow``; None when the operators cannot write it.

    >>> monomial([0, 3, 1], [1, -2, 0.5], {"mul", "div", "square", "sqrt", "pow"}).to_infix()
    'x0 * sqrt(x1) / square(x3)'
    """
    allowed = set(allowed)
    if len(columns) > 1 and "mul" not in allowed:
        return None
    pairs = sorted(zip(columns, exponents))
    up = [(c, p) for c, p in pairs if p > 0]
    down = [(c, -p) for c, p in pairs if p < 0]
    if down and "div" not in allowed:
        if "pow" not in allowed:
            return None
        up, down = [(c, p) for c, p in pairs if p != 0], []
        factors = [apply("pow", variable(c), const(p)) if p < 0 else _power(c, p, allowed) for c, p in up]
    else:
        factors = [_power(c, p, allowed) for c, p in up]
    below = [_power(c, p, allowed) for c, p in down]
    if any(f is None for f in factors + below) or not factors + below:
        return None
    top = _product(factors) if factors else const(1.0)
    return apply("div", top, _product(below)) if below else top


class MonomialProposer(OnceProposer):
    """Proposes the nested power laws of the columns once, on the first iteration."""

    default_config = MonomialConfig

    def propose_once(self, problem, X, y, w):
        if not (np.all(y > 0) or np.all(y < 0)):
            return []
        usable = [j for j in range(X.shape[1]) if np.all(X[:, j] != 0)]
        if not usable:
            return []
        logs = np.log(np.abs(X[:, usable]))
        order = [usable[j] for j in entry_order(logs, np.log(np.abs(y)), w)]
        allowed = set(problem.operators)
        out: list[Expression] = []
        for m in range(1, min(self.cfg.max_factors, len(order)) + 1):
            cols = order[:m]
            p = log_exponents(X, y, cols, w)
            if not np.all(np.isfinite(p)):
                continue
            halves = np.round(2 * p) / 2
            rounded = np.where(np.abs(p - halves) < ROUNDING, halves, p)
            for exps in (rounded, p):
                e = monomial(cols, [float(v) for v in exps], allowed)
                if e is not None and e.complexity <= problem.max_complexity and e not in out:
                    out.append(e)
        return out


MONOMIAL = PluginInfo(name="monomial", description="Power laws of the columns fitted in log space, in least-angle "
                                                   "regression's order (once, at the start)",
                      proposer=MonomialProposer, config=MonomialConfig)
