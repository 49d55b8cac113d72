"""The ``descent`` refiner: genetic programming seeded by every proposer.

Each call takes the candidates the proposers produced this iteration (and the
current front) into the population as newcomers (on the first call they join
a full random initial population, they do not replace it), then runs generations of
:class:`symdescent.gp.GeneticEngine` until the iteration's deadline, or for a
fixed number of generations when the search has no time budget (so that a
search bounded by iterations is exactly reproducible).
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from symdescent.expr.generate import GrammarSampler
from symdescent.gp import GeneticEngine
from symdescent.hookspecs import hookimpl
from symdescent.registry import PluginContext, PluginInfo


@dataclass(frozen=True)
class DescentConfig:
    """Settings of the ``descent`` refiner.

    Attributes
    ----------
    population_size : int
        Individuals kept after each generation.
    tournament_size : int
        Individuals compared in each parent tournament.
    p_crossover : float
        Share of offspring made by subtree crossover (the rest by mutation).
    newcomers : int
        Random expressions of age zero added every generation.
    generations_per_iteration : int
        Generations per iteration when the search has no time budget.
    max_seeds : int
        Proposer candidates taken in per iteration (the best by score).
    init_max_size : int
        Largest node count of the initial random population.
    """

    population_size: int = 200
    tournament_size: int = 5
    p_crossover: float = 0.4
    newcomers: int = 4
    generations_per_iteration: int = 5
    max_seeds: int = 64
    init_max_size: int = 12

    def validate(self) -> "DescentConfig":
        from symdescent.errors import ConfigError

        for key in ("population_size", "tournament_size", "generations_per_iteration", "init_max_size"):
            if getattr(self, key) < 1:
                raise ConfigError(f"plugins.descent.{key} must be >= 1, got {getattr(self, key)}")
        if not 0 <= self.p_crossover <= 1:
            raise ConfigError(f"plugins.descent.p_crossover must be in [0, 1], got {self.p_crossover}")
        if self.newcomers < 0 or self.max_seeds < 0:
            raise ConfigError("plugins.descent.newcomers and max_seeds must be >= 0")
        return self


class DescentRefiner:
    """Genetic programming over the problem's grammar; any proposer seeds it."""

    def __init__(self, ctx: PluginContext):
        self.cfg: DescentConfig = ctx.config or DescentConfig()
        self.rng = ctx.rng
        self.engine: GeneticEngine | None = None

    @hookimpl
    def symdescent_start(self, problem, state):
        sampler = GrammarSampler(n_variables=problem.n_features, operators=problem.operators,
                                 max_size=min(self.cfg.init_max_size, problem.max_complexity))
        self.engine = GeneticEngine(
            sampler, self.rng, population_size=self.cfg.population_size,
            tournament_size=self.cfg.tournament_size, p_crossover=self.cfg.p_crossover,
            newcomers=self.cfg.newcomers, max_complexity=problem.max_complexity,
        )

    @hookimpl
    def symdescent_refine(self, problem, candidates, state):
        engine = self.engine
        seeds = sorted((c for c in candidates if c.valid), key=lambda c: c.value)[: self.cfg.max_seeds]
        engine.seed(list(seeds))

        def evaluate(exprs):
            return problem.evaluate(exprs, origin="descent")

        if state.deadline == float("inf"):
            for _ in range(self.cfg.generations_per_iteration):
                engine.step(evaluate)
        else:
            while True:
                engine.step(evaluate, state.deadline)
                if time.monotonic() >= state.deadline:
                    break
        return engine.best()


DESCENT = PluginInfo(
    name="descent",
    description="Genetic programming (age-fitness Pareto, crossover, mutations, constant fitting); seeded by proposers",
    refiner=DescentRefiner, config=DescentConfig,
)
