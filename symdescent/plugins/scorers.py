"""Built-in scorers: ``mdl`` (description length) and ``r2`` (R² with parsimony)."""

from __future__ import annotations

import math
from dataclasses import dataclass

from symdescent.expr.affine import additive_terms, affine_columns
from symdescent.registry import PluginContext, PluginInfo
from symdescent.roles import Scorer
from symdescent.types import Candidate, Problem, Score


@dataclass(frozen=True)
class MdlConfig:
    """Settings of the ``mdl`` scorer.

    Attributes
    ----------
    precision : float
        Relative precision of the data: normalised squared errors below this
        count as exact (so that round-off does not outweigh simplicity).
    linear_code : bool
        Describe a model that is affine in the columns (``c0 + c1 x_a + ...``) by which columns it uses and
        its coefficients, and the linear terms of a sum so, when that is shorter than its tree of nodes (see
        :class:`MdlScorer`).
    partly_linear : bool
        Also describe the linear terms of a sum with other terms so (opt-in: measured, not yet the default).
    """

    precision: float = 1e-12
    linear_code: bool = True
    partly_linear: bool = False

    def validate(self) -> "MdlConfig":
        from symdescent.errors import ConfigError

        if not 0 < self.precision < 1:
            raise ConfigError(f"plugins.mdl.precision must be in (0, 1), got {self.precision}")
        return self


class MdlScorer(Scorer):
    """Minimum description length, in nats: fit bits plus model bits.

    ``value = n/2 * ln(max(NMSE, precision)) + model``, where NMSE is the (weighted) mean squared error over
    the (weighted) variance of y and ``model`` the shortest of these codes for the formula:

    * as a tree: ``k * ln(S) + c/2 * ln(n)``, ``k`` the node count, ``S`` the number of symbols (operators,
      variables, leaves), ``c`` the number of fitted constants (each costs half a log of the data size, as in
      BIC);
    * when it is affine in the columns (``c0 + c1 x_a + ... + cm x_m``, however written): as a linear model,
      ``ln(d + 1) + ln(d choose m) + (m + 1)`` for ``d`` columns: how many columns, which, and one nat per
      coefficient (``linear_code``, on by default; not for an exact fit, at the precision, nor where units are
      declared: a law is sought). Only for an expression whose loss is not below
      the least-squares loss of its columns (:meth:`Problem.least_squares_loss`): one that is below is using
      floating-point cancellation between huge constants to fit the noise (a GP finds such things), and is
      described by its tree;
    * with ``partly_linear`` (opt-in), when it is a sum of such linear terms and others (``c0 + c1 x_a +
      sin(x_b)``, through constant factors): the linear terms by the linear code, the others by their trees (:func:`partly_linear_code_length`), so
      that a non-linear term added to a linear backbone pays for itself alone.

    A tree code charges each ``+`` and ``*`` of a weighted sum as a free choice among ``S`` symbols, so that on a
    few dozen noisy rows a sum of three columns would have to cut the error many times over to beat a
    constant; the linear code describes such a sum as what it is. Its coefficients cost what Akaike's
    criterion charges (one nat each), not BIC's half log of the rows: a linear model of a real table is an
    approximation, never the truth, and for an approximation AIC is the choice that predicts best (Shibata
    1981, Yang 2005), where BIC's consistency is what a formula that may be the truth needs. The linear code
    never costs a non-linear formula anything; on thousands of rows the fit term dominates and both codes
    choose alike. Lower is better.

    The linear codes choose the final model and the front's best, not the search's way there: the search ranks
    by the tree code alone (:attr:`Score.search_value <symdescent.types.Score.search_value>`). The genetic
    engine writes trees, and a sum of columns ranked by its much shorter linear code wins its tournaments and
    fills its population, so that the partial formulas it grows into a law die out: on Feynman data at noise 0.1
    the search then stopped at linear approximations (R² > 0.999 on 75 of 100 with that ranking, 83 with this
    one: BENCHMARKS.md, "Feynman-100 at noise 0 and 0.1").
    """

    def __init__(self, ctx: PluginContext):
        cfg = ctx.config if ctx.config is not None else MdlConfig()
        self.precision = cfg.precision
        self.linear_code = cfg.linear_code
        self.partly_linear = cfg.partly_linear

    def score(self, problem: Problem, candidate: Candidate) -> Score:
        s = candidate.score
        n = problem.n_samples
        var = problem.y_var  # weighted, with sample weights; as the loss is
        symbols = len(problem.operators) + problem.n_features + 7
        n_const = candidate.expression.n_constants
        loss = s.loss
        model = tree = candidate.complexity * math.log(symbols) + 0.5 * n_const * math.log(n)
        # with units declared a law is sought, and an exact fit (at the precision) is one: trees only
        if self.linear_code and problem.dimensional == "off" and s.loss / var > self.precision:
            tokens = candidate.expression.tokens
            cols = affine_columns(tokens)
            parts = additive_terms(tokens) if cols is None and self.partly_linear else None
            if parts is not None:
                model = min(model, partly_linear_code_length(parts, problem.n_features, symbols, n))
            if cols is not None:
                floor = problem.least_squares_loss(cols)
                if loss >= (1 - 1e-6) * floor:
                    lin = linear_code_length(problem.n_features, len(cols))
                    if lin < model:
                        # the least-squares loss for one a rounding error below it: every way of writing a
                        # sum ties, and the simplest wins
                        model, loss = lin, max(loss, floor)
        def fit(mse):  # the fit's nats
            return 0.5 * n * math.log(max(mse / var, self.precision))

        # the search explores by the tree code alone (see the class's docstring)
        return Score(s.loss, candidate.complexity, fit(loss) + model, s.r2, True, search_value=fit(s.loss) + tree)



def partly_linear_code_length(parts, d: int, symbols: int, n: int) -> float:
    """Nats to describe a sum of linear terms and other terms (:func:`symdescent.expr.affine.additive_terms`):
    the linear terms by the linear code (their columns, one nat per coefficient and for an intercept), each
    other term by its tree (``ln S`` per node, half a log of ``n`` per fitted constant) and one ``+`` to join
    it, each constant factor around such terms as a node, its constant and its product; plus the
    small-sample correction of Akaike's criterion (Hurvich & Tsai 1989) for all ``p`` of its fitted
    numbers, ``p (p + 1) / (n - p - 1)`` nats (infinite when ``n <= p + 1``): a non-linear term beside a
    linear backbone on a dozen rows fits the noise, on hundreds the correction is a fraction of a nat."""
    m = len(parts.columns)
    linear = linear_code_length(d, m) - (not parts.intercept) if m or parts.intercept else 0.0
    per_node, per_const = math.log(symbols), 0.5 * math.log(n)
    other = sum(k * per_node + c * per_const for k, c in parts.terms) + len(parts.terms) * per_node
    p = m + parts.intercept + sum(c for _, c in parts.terms) + parts.scales
    correction = p * (p + 1) / (n - p - 1) if n > p + 1 else math.inf
    return linear + other + parts.scales * (2 * per_node + per_const) + correction


def linear_code_length(d: int, m: int) -> float:
    """Nats to describe a linear model of ``m`` of ``d`` columns: how many columns (``ln(d + 1)``), which
    (``ln(d choose m)``) and its ``m + 1`` coefficients, one nat each (AIC).

    >>> round(linear_code_length(3, 0), 3), round(linear_code_length(3, 1), 3)  # a constant, one column
    (2.386, 4.485)
    """
    choose = math.lgamma(d + 1) - math.lgamma(m + 1) - math.lgamma(d - m + 1)
    return math.log(d + 1) + choose + (m + 1)


@dataclass(frozen=True)
class R2Config:
    """Settings of the ``r2`` scorer: ``value = (1 - R²) + parsimony * complexity``."""

    parsimony: float = 1e-3

    def validate(self) -> "R2Config":
        from symdescent.errors import ConfigError

        if self.parsimony < 0:
            raise ConfigError(f"plugins.r2.parsimony must be >= 0, got {self.parsimony}")
        return self


class R2Scorer(Scorer):
    """One minus R² plus a linear penalty on the node count; lower is better."""

    def __init__(self, ctx: PluginContext):
        self.parsimony = ctx.config.parsimony if ctx.config is not None else R2Config().parsimony

    def score(self, problem: Problem, candidate: Candidate) -> Score:
        s = candidate.score
        value = (1.0 - s.r2) + self.parsimony * candidate.complexity
        return Score(s.loss, candidate.complexity, value, s.r2, True)


MDL = PluginInfo(name="mdl", description="Minimum description length: fit bits + model bits (default scorer)",
                 scorer=MdlScorer, config=MdlConfig)
R2 = PluginInfo(name="r2", description="1 - R² plus a parsimony penalty per node", scorer=R2Scorer, config=R2Config)
