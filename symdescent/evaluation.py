"""Fitting and scoring of candidates, with a cache by canonical form."""

from __future__ import annotations

import threading
import time
from typing import Callable, Sequence

import numpy as np

from symdescent.config import SearchConfig
from symdescent.expr import Expression, ops
from symdescent.expr.fit import fit_expression, strip_scaling, weighted_mse, weighted_var
from symdescent.expr.variation import canonical_key, fold_constants
from symdescent.types import Candidate, Score

INVALID = Score(float("inf"), 0, float("inf"), float("-inf"), False)


def r2_from_mse(mse: float, var_y: float) -> float:
    return 1.0 - mse / var_y if var_y > 0 else float("-inf")


class Evaluator:
    """Fits constants and scores expressions for one search.

    Losses are computed on the scoring rows: every row, or a seeded subsample
    of ``config.score_rows`` rows when the data is larger.  Inner constants
    are fitted on a seeded subsample of those of at most ``config.fit_rows``
    rows.  Each canonical form is fitted once: asking again returns the cached
    candidate.

    With ``sample_weight`` (non-negative, as from
    :func:`~symdescent.data.check_sample_weight`) every loss is the weighted
    mean squared error and ``var_y`` the weighted variance; rows of weight 0
    take no part (they are dropped before the subsamples are drawn), and the
    subsamples carry their rows' weights (``w``, ``w_fit``; None unweighted).
    """

    def __init__(self, X: np.ndarray, y: np.ndarray, config: SearchConfig, rng: np.random.Generator,
                 sample_weight: np.ndarray | None = None):
        from symdescent.expr import compiled

        compiled.warm_up()  # JIT-compile (first run only) before any clock starts
        self.config = config
        w = sample_weight
        if w is not None:
            keep = w > 0
            X, y, w = X[keep], y[keep], w[keep]
        n = X.shape[0]
        if config.score_rows is not None and n > config.score_rows:
            # drawn only for large data, so smaller problems keep their random stream
            idx = np.sort(rng.choice(n, size=config.score_rows, replace=False))
            X, y, n = X[idx], y[idx], config.score_rows
            w = None if w is None else w[idx]
        self.X, self.y, self.w = X, y, w
        idx = np.sort(rng.choice(n, size=config.fit_rows, replace=False)) if n > config.fit_rows else np.arange(n)
        self.X_fit, self.y_fit = X[idx], y[idx]
        self.w_fit = None if w is None else w[idx]
        self.var_y = weighted_var(y, w)
        self.allowed = frozenset(config.operators)
        self.cache: dict[str, Candidate] = {}
        self.n_evaluations = 0
        #: set (by a signal handler, or any thread) to stop the search at its next evaluation
        self.stop = threading.Event()
        self.score_fn: Callable[[Candidate], Score] | None = None

    def _admissible(self, expr: Expression) -> bool:
        """Allowed operators, existing variables, and powers with constant exponents.

        ``x ** y`` and ``c ** x`` are left to ``exp``/``log``: a power's
        exponent must be a constant (after constant folding it is one leaf).
        """
        d = self.X.shape[1]
        toks = expr.tokens
        for i, t in enumerate(toks):
            if ops.arity(t) and t not in self.allowed:
                return False
            if ops.is_variable(t) and ops.variable_index(t) >= d:
                return False
            if t == "pow":
                exponent = toks[expr.subtree_end(i + 1)]
                if ops.arity(exponent) or ops.is_variable(exponent):
                    return False
        return True

    def fit(self, expr: Expression, max_nfev: int | None = None, rows: str = "fit",
            optimize: bool = True) -> tuple[Expression, float, bool]:
        X, y, w = (self.X_fit, self.y_fit, self.w_fit) if rows == "fit" else (self.X, self.y, self.w)
        if not optimize:  # score the expression exactly as it is
            from symdescent.expr.evaluate import evaluate

            pred = evaluate(expr, X)
            if w is not None:
                mse = weighted_mse(pred, y, w)
                ok = bool(np.isfinite(mse))
                return expr, mse if ok else float("inf"), ok
            with np.errstate(all="ignore"):
                mse = float(((pred - y) ** 2).mean())
            ok = bool(np.isfinite(mse))
            return expr, mse if ok else float("inf"), ok
        res = fit_expression(expr, X, y, max_nfev=max_nfev, operators=self.allowed, sample_weight=w)
        if not res.valid:
            return res.expression, float("inf"), False
        if rows == "fit" and X is not self.X:
            from symdescent.expr.evaluate import evaluate

            pred = evaluate(res.expression, self.X)
            if not np.isfinite(pred).all():
                return res.expression, float("inf"), False
            if self.w is not None:
                mse = weighted_mse(pred, self.y, self.w)
                return res.expression, mse, bool(np.isfinite(mse))
            with np.errstate(all="ignore"):
                r = pred - self.y
                mse = float(r @ r) / len(self.y)
            return res.expression, mse if np.isfinite(mse) else float("inf"), bool(np.isfinite(mse))
        return res.expression, res.mse, True

    def score(self, expr: Expression, mse: float, valid: bool, origin: str) -> Candidate:
        if not valid or expr.complexity > self.config.max_complexity:
            return Candidate(expr, origin, INVALID)
        prelim = Score(mse, expr.complexity, mse, r2_from_mse(mse, self.var_y), True)
        cand = Candidate(expr, origin, prelim)
        if self.score_fn is not None:
            cand = Candidate(expr, origin, self.score_fn(cand))
        return cand

    def __call__(self, items: Sequence[Expression | Candidate], origin: str = "") -> list[Candidate]:
        out = []
        for item in items:
            if self.stop.is_set():
                raise KeyboardInterrupt("stop requested")
            if isinstance(item, Candidate):
                expr, org = item.expression, item.origin or origin
            elif isinstance(item, Expression):
                expr, org = item, origin
            else:
                raise TypeError(f"plugin {origin!r} returned {type(item).__name__}, expected Expression or Candidate")
            expr = strip_scaling(fold_constants(expr))
            key = canonical_key(expr)
            hit = self.cache.get(key)
            if hit is not None:
                out.append(hit)
                continue
            if not self._admissible(expr):
                cand = Candidate(expr, org, INVALID)
            else:
                self.n_evaluations += 1
                fitted, mse, valid = self.fit(expr)
                cand = self.score(fitted, mse, valid, org)
            self.cache[key] = cand
            out.append(cand)
        return out

    def polish(self, cand: Candidate, max_nfev: int = 200, until: float | None = None) -> Candidate:
        """Refit a candidate's constants on every row with a larger budget,
        normalise constants the data cannot tell apart, drop added constants
        that only fit noise, then snap constants to simple values (0.5,
        2*pi, ...) where the data determine them.

        ``until`` (``time.monotonic()``) bounds the sympy normalisation, the
        one step whose cost does not scale with the rows."""
        from symdescent.expr.snap import drop_negligible_terms, snap_constants

        # outer scale and offset are re-solved in closed form, and kept only where
        # they are worth their parameter on all rows (see fit.parameter_allowance)
        fitted, mse, valid = self.fit(strip_scaling(cand.expression), max_nfev=max_nfev, rows="all")
        new = self.score(fitted, mse, valid, cand.origin)
        # a refit that dropped a scale or offset is simpler, not better: it stays a
        # candidate in its own right (the caller keeps both on the front)
        best = new if new.valid and (new.loss <= cand.loss or new.complexity < cand.complexity) else cand
        expr = best.expression
        if expr.n_constants > 1:
            from symdescent.expr.sympy_bridge import normalise_constants

            # constants the data cannot tell apart (u*C/(C*w + C)) are divided out first: the same
            # function, and the constants left are identifiable, so they can be snapped
            timeout = 0.5 if until is None else min(0.5, until - time.monotonic())
            normalised = normalise_constants(expr, timeout=timeout) if timeout > 0.01 else expr
            expr = normalised if self._admissible(normalised) else expr
        dropped = drop_negligible_terms(expr, self.X, self.y, operators=self.allowed, sample_weight=self.w)
        snapped = snap_constants(dropped, self.X, self.y, operators=self.allowed, sample_weight=self.w)
        if snapped is best.expression or snapped == best.expression:
            return best
        fitted, mse, valid = self.fit(snapped, optimize=False, rows="all")
        out = self.score(snapped, mse, valid, best.origin)
        return out if out.valid else best
