"""Built-in scorers: ``mdl`` (description length) and ``r2`` (R² with parsimony)."""

from __future__ import annotations

import math
from dataclasses import dataclass

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
    """

    precision: float = 1e-12

    def validate(self) -> "MdlConfig":
        from symdescent.errors import ConfigError

        if not 0 < self.precision < 1:
            raise ConfigError(f"plugins.mdl.precision must be in (0, 1), got {self.precision}")
        return self


class MdlScorer(Scorer):
    """Minimum description length, in nats: fit bits plus model bits.

    ``value = n/2 * ln(max(NMSE, precision)) + k * ln(S) + c/2 * ln(n)``, where
    NMSE is the (weighted) mean squared error over the (weighted) variance of y, ``k`` the node
    count, ``S`` the number of symbols (operators, variables, leaves) and
    ``c`` the number of fitted constants (each costs half a log of the data
    size, as in BIC).  Lower is better.
    """

    def __init__(self, ctx: PluginContext):
        self.precision = ctx.config.precision if ctx.config is not None else MdlConfig().precision

    def score(self, problem: Problem, candidate: Candidate) -> Score:
        s = candidate.score
        n = problem.n_samples
        var = problem.y_var  # weighted, with sample weights; as the loss is
        nmse = max(s.loss / var, self.precision)
        symbols = len(problem.operators) + problem.n_features + 7
        n_const = candidate.expression.n_constants
        value = 0.5 * n * math.log(nmse) + candidate.complexity * math.log(symbols) + 0.5 * n_const * math.log(n)
        return Score(s.loss, candidate.complexity, value, s.r2, True)


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
