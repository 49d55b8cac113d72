"""The search's evaluator: admissibility, a cache by canonical form, evaluation counts and scores.

Fitting itself is :mod:`symdescent.expr.fit`'s: the evaluator calls its two
entry points, :func:`~symdescent.expr.fit.fit_expression` for each new
candidate and :func:`~symdescent.expr.fit.polish` for the final front.

With units declared (:class:`~symdescent.units.Units`), the evaluator also
checks each candidate's dimensions (:func:`~symdescent.expr.units.check_dimensions`),
once for every scorer: ``search.dimensional = "strict"`` makes an
inconsistent candidate inadmissible (before its fit) or invalid (after it,
when a fitted exponent or the outer scale decides); ``"penalty"`` adds
``search.dimensional_penalty`` times the variance of ``y`` to its loss per
violation, before the scorer sees it, so that the scorer, the search's
rankings and the Pareto front all weigh it (its R² falls by the penalty).

The search's ``[complexity]`` weights (:func:`~symdescent.expr.custom.complexity`)
give every candidate's complexity (its :class:`~symdescent.types.Score`'s, which
the front, ``max_complexity`` and the scorer read); its ``[constraints]``
nesting limits (:func:`~symdescent.expr.custom.nesting_violations`) make a
candidate inadmissible, before its fit.
"""

from __future__ import annotations

import math
import threading
from typing import Callable, Mapping, Sequence

import numpy as np

from symdescent.config import SearchConfig
from symdescent.errors import ConfigError, ExpressionError
from symdescent.expr import Expression, ops
from symdescent.expr.affine import affine_columns, affine_expression, least_squares
from symdescent.expr.custom import complexity, nesting_violations
from symdescent.expr.fit import FitResult, expression_mse, fit_expression, polish, strip_scaling, weighted_var
from symdescent.expr.units import check_dimensions, check_rules
from symdescent.expr.variation import canonical_key, fold_constants
from symdescent.types import Candidate, Score
from symdescent.units import Units

INVALID = Score(float("inf"), 0, float("inf"), float("-inf"), False)


def invalid(complexity: int) -> Score:
    """The score of an invalid candidate of this complexity."""
    return Score(float("inf"), complexity, float("inf"), float("-inf"), False)


def r2_from_mse(mse: float, var_y: float) -> float:
    return 1.0 - mse / var_y if var_y > 0 else float("-inf")


class Evaluator:
    """Evaluates candidates for one search: checks that each is admissible, fits it once per
    canonical form (asking again returns the cached candidate), counts the fits and scores them.

    Losses are computed on the scoring rows: every row, or a seeded subsample
    of ``config.score_rows`` rows when the data is larger.  Inner constants
    are fitted on a seeded subsample of those of at most ``config.fit_rows``
    rows (see :meth:`fit`).

    With ``sample_weight`` (non-negative, as from
    :func:`~symdescent.data.check_sample_weight`) every loss is the weighted
    mean squared error and ``var_y`` the weighted variance; rows of weight 0
    take no part (they are dropped before the subsamples are drawn), and the
    subsamples carry their rows' weights (``w``, ``w_fit``; None unweighted).

    With ``units`` (and ``config.dimensional`` other than ``"off"``) every
    candidate's dimensions are checked (see the module's docstring); None:
    no check, the search is what it is without units, bit for bit.

    ``complexity`` weighs the nodes of a candidate (``{name: weight}``, see
    :func:`~symdescent.expr.custom.complexity`; None or empty: the node
    count, bit for bit); ``nested`` limits how often an operator may appear
    inside another (``{outer: {inner: max}}``; a candidate that breaks it is
    inadmissible).
    """

    def __init__(self, X: np.ndarray, y: np.ndarray, config: SearchConfig, rng: np.random.Generator,
                 scorer: Callable[[Candidate], Score] | None = None, sample_weight: np.ndarray | None = None,
                 units: Units | None = None, complexity: Mapping[str, int] | None = None,
                 nested: Mapping[str, Mapping[str, int]] | None = None):
        from symdescent.expr import compiled

        compiled.warm_up()  # JIT-compile (first run only); the search's first clock counts it
        self.config = config
        w = sample_weight
        if w is not None:
            keep = w > 0
            X, y, w = X[keep], y[keep], w[keep]
        n = X.shape[0]
        #: every row that takes part (weight above 0): the front is re-checked on them at the finish
        self.X_all, self.y_all, self.w_all = X, y, w
        self._var_all: float | None = None  # their (weighted) variance, computed on first use
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
        #: the complexity weights (empty: the node count) and the nesting limits of the search
        self.weights = dict(complexity or {})
        self.nested = {k: dict(v) for k, v in (nested or {}).items()}
        self.cache: dict[str, Candidate] = {}
        #: the least-squares sum of each set of columns met (:meth:`least_squares_sum`; None: not writable)
        self._sums: dict[tuple[int, ...], Candidate | None] = {}
        self.n_evaluations = 0
        #: set (by a signal handler, or any thread) to stop the search at its next evaluation
        self.stop = threading.Event()
        #: the search's scorer, ``scorer(candidate) -> Score``, called for valid candidates only
        #: (None: candidates keep the preliminary score, the loss)
        self.scorer = scorer
        #: the declared units the candidates are checked against (None: no check)
        self.units = units if config.dimensional != "off" else None
        if self.units is not None:
            if len(self.units.columns) != X.shape[1]:
                raise ConfigError(f"units: {len(self.units.columns)} column unit(s) for {X.shape[1]} column(s)")
            try:
                check_rules(config.operators)
            except ExpressionError as exc:
                raise ConfigError(f"search.operators with units: {exc}") from None

    def violations(self, expr: Expression, fitted: bool = True) -> int:
        """How many dimension rules ``expr`` breaks under the declared units (0 without units).

        ``fitted=False`` judges a candidate before its fit: a fitted exponent
        is not known yet, and with free constants the fit's outer scale may
        still give the formula the target's unit, so the target is checked
        only with dimensionless constants.
        """
        u = self.units
        if u is None:
            return 0
        free = not self.config.dimensionless_constants
        target = u.target if fitted or not free else None
        return check_dimensions(expr, u.columns, target, free_constants=free, constant_values=fitted).violations

    def complexity(self, expr: Expression) -> int:
        """The complexity of ``expr`` in this search (its node count unless weights are given)."""
        return complexity(expr.tokens, self.weights)

    def _admissible(self, expr: Expression) -> bool:
        """Allowed operators, existing variables, powers with constant exponents and the nesting limits.

        ``x ** y`` and ``c ** x`` are left to ``exp``/``log``: a power's
        exponent must be a constant (after constant folding it is one leaf).
        """
        d = self.X.shape[1]
        toks = expr.tokens
        arity = ops.arities().get
        for i, t in enumerate(toks):
            if arity(t, 0):
                if t not in self.allowed:
                    return False
            elif ops.is_variable(t) and ops.variable_index(t) >= d:
                return False
            if t == "pow":
                exponent = toks[expr.subtree_end(i + 1)]
                if arity(exponent, 0) or ops.is_variable(exponent):
                    return False
        if self.nested and nesting_violations(toks, self.nested):
            return False
        if self.units is not None and self.config.dimensional == "strict":
            return self.violations(expr, fitted=False) == 0
        return True

    def fit(self, expr: Expression, max_nfev: int | None = None) -> tuple[Expression, float, bool]:
        """``(fitted expression, loss, valid)``: the constants fitted on the fitting rows
        (:func:`~symdescent.expr.fit.fit_expression`), the loss measured on all the scoring rows."""
        res = self._fit(expr, max_nfev)
        return res.expression, res.mse, res.valid

    def _fit(self, expr: Expression, max_nfev: int | None = None, give_up: float = math.inf) -> FitResult:
        """:meth:`fit` as a :class:`FitResult` whose ``mse`` is the loss on the scoring rows."""
        # with no more scoring rows than fitting rows they are the same rows: the fit's loss is the loss
        same = self.X_fit.shape[0] == self.X.shape[0]
        res = fit_expression(expr, self.X_fit, self.y_fit, max_nfev=max_nfev, operators=self.allowed,
                             sample_weight=self.w_fit, score=None if same else (self.X, self.y, self.w),
                             give_up=give_up)
        if not res.valid:
            return FitResult(res.expression, math.inf, False, abandoned=res.abandoned)
        mse = res.mse if same else res.score_mse
        return FitResult(res.expression, mse, bool(np.isfinite(mse)), abandoned=res.abandoned)

    def score(self, expr: Expression, mse: float, valid: bool, origin: str, var_y: float | None = None) -> Candidate:
        """The candidate scored by the scorer: invalid when not ``valid`` or too complex; with units
        declared, invalid (strict) or with its loss raised (penalty) for its dimension violations."""
        var = self.var_y if var_y is None else var_y
        k = self.complexity(expr)
        if not valid or k > self.config.max_complexity:
            return Candidate(expr, origin, invalid(k))
        violations = self.violations(expr)
        if violations:
            if self.config.dimensional == "strict":
                return Candidate(expr, origin, invalid(k))
            mse = mse + violations * self.config.dimensional_penalty * var
        prelim = Score(mse, k, mse, r2_from_mse(mse, var), True)
        cand = Candidate(expr, origin, prelim)
        if self.scorer is not None:
            cand = Candidate(expr, origin, self.scorer(cand))
        return cand

    @property
    def subsampled(self) -> bool:
        """Whether the search ranks candidates on a subsample of the rows (large data: ``score_rows``)."""
        return self.X_all.shape[0] > self.X.shape[0]

    def on_all_rows(self, cand: Candidate) -> Candidate:
        """``cand`` re-scored on every row (its constants as they are): its loss, R² and the scorer's
        value on all the data, where the search ranked it on the scoring subsample."""
        if not cand.valid or not self.subsampled:
            return cand
        mse = expression_mse(cand.expression, self.X_all, self.y_all, self.w_all)
        if self._var_all is None:
            self._var_all = weighted_var(self.y_all, self.w_all)
        return self.score(cand.expression, mse, bool(np.isfinite(mse)), cand.origin, var_y=self._var_all)

    def __call__(self, items: Sequence[Expression | Candidate], origin: str = "",
                 give_up: Sequence[float] | None = None) -> list[Candidate]:
        """The items fitted and scored (cached by canonical form).

        ``give_up[k]``: a loss above which the caller has no use for a
        candidate of complexity ``k`` (before its fit; the last entry for any
        larger one): a fit still above it after a short probe stops there
        (:func:`~symdescent.expr.fit.fit_expression`), and such a result is
        returned but not cached, so the same form met again is fitted afresh
        from its own constants.
        """
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
            abandoned = False
            if not self._admissible(expr):
                cand = Candidate(expr, org, invalid(self.complexity(expr)))
            else:
                self.n_evaluations += 1
                bar = math.inf
                if give_up is not None and len(give_up):
                    bar = give_up[min(self.complexity(expr), len(give_up) - 1)]
                res = self._fit(expr, give_up=bar)
                cand = self.score(res.expression, res.mse, res.valid, org)
                abandoned = res.abandoned
            if not abandoned:  # an abandoned fit is not the form's result: met again, it is fitted afresh
                self.cache[key] = cand
            out.append(cand)
        return out

    def least_squares_sum(self, columns) -> Candidate | None:
        """``c0 + c1*x_a + c2*x_b + ...`` over ``columns`` with least-squares coefficients on the scoring rows,
        scored (computed once per set of columns); None when the operators cannot write it or it is invalid."""
        key = tuple(sorted(columns))
        if key not in self._sums:
            new = None
            if not key or {"add", "mul"} <= self.allowed:
                coef, c0, mse = least_squares(self.X, self.y, self.w, key)
                new = self.score(affine_expression(key, coef, c0), mse, bool(np.isfinite(mse)), "")
            self._sums[key] = new if new is not None and new.valid else None
        return self._sums[key]

    def _affine(self, cand: Candidate):
        """The columns of a valid, inexact candidate affine in them (:func:`~symdescent.expr.affine.affine_columns`);
        None otherwise (an exact fit is left to the polish, which snaps it)."""
        if not cand.valid or cand.loss <= 1e-20 * self.var_y:
            return None
        return affine_columns(cand.expression.tokens)

    def least_squares_sums(self, cands: Sequence[Candidate]) -> list[Candidate]:
        """The least-squares sums (:meth:`least_squares_sum`) of the column sets of the affine candidates among
        ``cands`` met for the first time, where they break no more dimension rules than the candidate.

        The fit of a candidate keeps its outer scale and offset only where they pay by the BIC rule
        (:func:`~symdescent.expr.fit.parameter_allowance`): on a few dozen noisy rows ``C*x0`` is fitted as
        ``x0 + c``, a sum of columns the linear code (which charges a coefficient AIC's one nat) would rather
        have with its slope. The search offers these sums to the front beside what it scores, so that the
        scorer's best among the sums of the columns the search met is on the front, found or not by a fit."""
        out = []
        for cand in cands:
            cols = self._affine(cand)
            if cols is None or tuple(sorted(cols)) in self._sums:
                continue
            new = self._sum_of(cand, cols)
            if new is not None:
                out.append(new)
        return out

    def _sum_of(self, cand: Candidate, cols) -> Candidate | None:
        """The least-squares sum of ``cols`` (``cand``'s columns) with ``cand``'s origin; None when there is none
        or it breaks more dimension rules than ``cand``."""
        new = self.least_squares_sum(cols)
        if new is None or self.violations(new.expression) > self.violations(cand.expression):
            return None
        return Candidate(new.expression, cand.origin, new.score)

    def least_squares_form(self, cand: Candidate) -> Candidate | None:
        """For a candidate affine in its columns, however written (``k * (a*x0 + x1/b) + c``), the plain sum
        ``c0 + c1*x0 + c2*x1`` with least-squares coefficients on the scoring rows
        (:meth:`least_squares_sum`), scored, with the candidate's origin; None when ``cand`` is not affine, or
        breaks more dimension rules, or the sum does not score better (a lower value) and is not a plainer
        writing of as good a fit (a loss at most a rounding error above; not plainer: no fewer nodes and more
        fitted constants than ``cand``, whose exact literals it would turn into floats)."""
        cols = self._affine(cand)
        new = self._sum_of(cand, cols) if cols is not None else None
        if new is None or new.expression == cand.expression:
            return None
        if new.value < cand.value - 1e-9:
            return new
        # as good up to rounding: the plain writing, unless it is no simpler and turns exact literals into floats
        tied = new.value <= cand.value + 1e-9 or new.loss <= cand.loss * (1 + 1e-6)
        plainer = new.complexity < cand.complexity or new.expression.n_constants <= cand.expression.n_constants
        return new if tied and plainer else None

    def polish(self, cand: Candidate, max_nfev: int = 200, until: float | None = None) -> Candidate:
        """The candidate polished on every scoring row (:func:`symdescent.expr.fit.polish`: refit with
        ``max_nfev``, redundant constants divided out, negligible terms dropped, constants snapped),
        scored; ``cand`` itself when polishing found nothing better. An affine candidate is first rewritten
        as its least-squares sum of columns (:meth:`least_squares_form`), and an affine candidate (rewritten or
        not) is polished only where that does not raise the scorer's value (dropping the intercept or a column or
        snapping a coefficient on noisy rows would: the sum then keeps its fitted numbers; on noiseless data
        ``1.0000000002*x0`` still snaps to ``x0``).

        The normalised form must be admissible, and a refit or snapped result is taken only where it
        scores as valid.  ``until`` (``time.monotonic()``) bounds the sympy normalisation, the one step
        whose cost does not scale with the rows.  With units declared, a result must not break more
        dimension rules than ``cand`` does (snapping the outer scale to 1 can take away a unit)."""
        def accept(res: FitResult) -> bool:
            if self.units is not None and self.violations(res.expression) > self.violations(cand.expression):
                return False
            return self.score(res.expression, res.mse, res.valid, cand.origin).valid

        affine = self.least_squares_form(cand)
        cand = affine or cand
        loss = cand.loss
        if self.violations(cand.expression):  # a penalised loss: polish compares the fit's own error
            loss = expression_mse(cand.expression, self.X, self.y, self.w)
        start = FitResult(cand.expression, loss, cand.valid)
        res = polish(start, self.X, self.y, sample_weight=self.w, operators=self.allowed, max_nfev=max_nfev,
                     until=until, admissible=self._admissible, accept=accept)
        if res is start:
            return cand
        out = self.score(res.expression, res.mse, res.valid, cand.origin)
        if self._affine(cand) is not None and not out.value <= cand.value + 1e-9:
            return cand  # a sum of columns keeps its fitted numbers unless snapping costs the scorer nothing
        return out
