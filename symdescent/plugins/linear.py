"""The ``linear`` proposer: the nested linear models of the columns, in the order least-angle regression takes them.

Real tables are often explained best, at their size and noise, by a weighted sum of a few columns; a search
that grows formulas from small random trees reaches ``c1 x1 + c2 x2 + c3 x3 + c4 x4`` late or never (each term
is a structure to find, and each must pay for itself before the next is added). This proposer hands the
search those sums at once: on its first iteration, least-angle regression (scikit-learn's ``lars_path`` on
standardised columns, Efron et al. 2004) orders the columns by when they enter the linear model, and the
proposals are the sums of the first 1, 2, ... of them, each term a fitted constant times a column. The
scorer then judges each sum against everything else on the front, and the GP takes them in as seeds to
build on (a non-linear term added to a linear backbone, a column swapped).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from sklearn.linear_model import lars_path  # at import (an island's start-up), not inside its first round

from symdescent.expr import Expression
from symdescent.expr import ops
from symdescent.registry import PluginContext, PluginInfo
from symdescent.roles import Proposer


@dataclass(frozen=True)
class LinearConfig:
    """Settings of the ``linear`` proposer.

    Attributes
    ----------
    max_terms : int
        Most columns in one proposal (also capped by ``search.max_complexity``:
        a sum of m terms has 4 m - 1 nodes, 4 m + 1 with the fit's offset).
    max_rows : int
        Rows (a seeded subsample) the ordering is computed on.
    """

    max_terms: int = 8
    max_rows: int = 10_000

    def validate(self) -> "LinearConfig":
        from symdescent.errors import ConfigError

        if self.max_terms < 1:
            raise ConfigError(f"plugins.linear.max_terms must be >= 1, got {self.max_terms}")
        if self.max_rows < 2:
            raise ConfigError(f"plugins.linear.max_rows must be >= 2, got {self.max_rows}")
        return self


def entry_order(X: np.ndarray, y: np.ndarray, sample_weight: np.ndarray | None = None) -> list[int]:
    """The columns of ``X`` in the order they enter the least-angle regression path of ``y`` (standardised
    columns, weighted rows by their square roots); constant columns never enter.

    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(200, 4))
    >>> entry_order(X, 3 * X[:, 2] - X[:, 0] + 0.1 * rng.normal(size=200))[:2]
    [2, 0]
    """
    X = np.asarray(X, dtype=float)
    y = np.asarray(y, dtype=float)
    sd = X.std(axis=0)
    varying = np.flatnonzero(sd > 0)
    if not varying.size or not np.ptp(y) > 0:
        return []
    Z = (X[:, varying] - X[:, varying].mean(axis=0)) / sd[varying]
    t = y - y.mean()
    if sample_weight is not None:
        s = np.sqrt(np.asarray(sample_weight, dtype=float))[:, None]
        Z, t = Z * s, t * s[:, 0]
    _, active, _ = lars_path(Z, t, method="lar")
    return [int(varying[i]) for i in active]


def linear_sum(columns: list[int]) -> Expression:
    """``C * x_a + C * x_b + ...`` over ``columns`` (the fit adds the offset)."""
    tokens: list[str] = []
    for i, col in enumerate(columns):
        if i < len(columns) - 1:
            tokens.append("add")
        tokens += ["mul", ops.CONST, f"x{col}"]
    # prefix of a right-nested sum: add t1 (add t2 (... tm))
    return Expression(tuple(tokens), (1.0,) * len(columns))


class OnceProposer(Proposer):
    """A proposer that proposes once, on the first iteration, from the data (on a seeded subsample of at most
    ``config.max_rows`` rows): :meth:`propose_once`."""

    default_config: type = LinearConfig

    def __init__(self, ctx: PluginContext):
        self.cfg = ctx.config or self.default_config()
        self.rng = ctx.rng
        self.done = False

    def start(self, problem, state):
        self.done = False

    def propose(self, problem, state):
        if self.done:
            return []
        self.done = True
        n = problem.n_samples
        rows = np.sort(self.rng.choice(n, size=self.cfg.max_rows, replace=False)) if n > self.cfg.max_rows \
            else slice(None)
        w = None if problem.sample_weight is None else problem.sample_weight[rows]
        return self.propose_once(problem, problem.X[rows], problem.y[rows], w)

    def propose_once(self, problem, X: np.ndarray, y: np.ndarray, w: np.ndarray | None) -> list[Expression]:
        raise NotImplementedError


class LinearProposer(OnceProposer):
    """Proposes the nested linear sums of the columns once, on the first iteration."""

    def propose_once(self, problem, X, y, w):
        if not {"add", "mul"} <= set(problem.operators):
            return []
        order = entry_order(X, y, w)
        most = min(self.cfg.max_terms, len(order), (problem.max_complexity - 1) // 4)
        return [linear_sum(order[:m]) for m in range(1, most + 1)]


LINEAR = PluginInfo(name="linear", description="The nested linear sums of the columns, in least-angle regression's "
                                               "order (once, at the start)",
                    proposer=LinearProposer, config=LinearConfig)
