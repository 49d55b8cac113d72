"""The ``descent`` refiner: genetic programming seeded by every proposer.

Each call takes the candidates the proposers produced this iteration (and the
current front) into the population as newcomers (on the first call they join
a full random initial population, they do not replace it), then runs generations of
:class:`symdescent.gp.GeneticEngine` until the iteration's deadline, or for a
fixed number of generations when the search has no time budget (so that a
search bounded by iterations is exactly reproducible).

With ``guide_from`` naming proposers (e.g. ``["lee"]``), their best
candidates also guide the GP: mutations and fresh subtrees favour the
operators they use and graft in their subtrees as building blocks
(:class:`symdescent.gp.GuidedSampler`); LEE's formulas are often wrong as a
whole but right in pieces.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from symdescent.errors import ConfigError, did_you_mean
from symdescent.gp import GeneticEngine, GuidedSampler
from symdescent.registry import PluginContext, PluginInfo
from symdescent.roles import Refiner


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
    guide_from : list of str
        Proposers whose candidates also *guide* the GP (e.g. ``["lee"]``):
        their operators are favoured in mutations and fresh subtrees, and
        their subtrees are grafted in as building blocks (see
        :class:`symdescent.gp.GuidedSampler`).  Empty: an unguided GP.
    guide_candidates : int
        Best candidates of those proposers that make the guide.
    guide_weight : float
        Share of the guide's operator frequencies in the operator weights.
    p_building_block : float
        Chance that a fresh subtree (mutation or newcomer) is a guide's building block.
    give_up : float
        An offspring whose loss, after a short probe of its constant fit
        (``k + 2`` trial steps for ``k`` constants), is still more than this
        many times the best loss of any individual no more complex stops its
        fit there: the population would not keep it for its accuracy.  Such a
        result is not cached, so the same form met again (from other
        constants) is fitted afresh.  0: every fit runs to its end.
    """

    population_size: int = 200
    tournament_size: int = 5
    p_crossover: float = 0.4
    newcomers: int = 4
    generations_per_iteration: int = 5
    max_seeds: int = 64
    init_max_size: int = 12
    give_up: float = 10.0
    guide_from: tuple[str, ...] = ()
    guide_candidates: int = 32
    guide_weight: float = 0.5
    p_building_block: float = 0.3

    def validate(self) -> "DescentConfig":
        for key in ("population_size", "tournament_size", "generations_per_iteration", "init_max_size"):
            if getattr(self, key) < 1:
                raise ConfigError(f"plugins.descent.{key} must be >= 1, got {getattr(self, key)}")
        for key in ("p_crossover", "guide_weight", "p_building_block"):
            if not 0 <= getattr(self, key) <= 1:
                raise ConfigError(f"plugins.descent.{key} must be in [0, 1], got {getattr(self, key)}")
        if self.guide_candidates < 1:
            raise ConfigError(f"plugins.descent.guide_candidates must be >= 1, got {self.guide_candidates}")
        if self.newcomers < 0 or self.max_seeds < 0:
            raise ConfigError("plugins.descent.newcomers and max_seeds must be >= 0")
        if not (self.give_up == 0 or self.give_up >= 1):  # below 1 it would stop fits better than the best
            raise ConfigError(f"plugins.descent.give_up must be 0 (off) or >= 1, got {self.give_up}")
        return self


class DescentRefiner(Refiner):
    """Genetic programming over the problem's grammar; any proposer seeds it."""

    def __init__(self, ctx: PluginContext):
        self.cfg: DescentConfig = ctx.config or DescentConfig()
        self.rng = ctx.rng
        proposers = ctx.search.strategy.proposers
        for name in self.cfg.guide_from:
            if name not in proposers:
                raise ConfigError(f"plugins.descent.guide_from names {name!r}, which is not a selected proposer"
                                  f"{did_you_mean(name, proposers)}; proposers: {', '.join(proposers) or '(none)'}")
        self.engine: GeneticEngine | None = None

    def start(self, problem, state):
        sampler = GuidedSampler(n_variables=problem.n_features, operators=problem.operators,
                                max_size=min(self.cfg.init_max_size, problem.max_complexity),
                                p_block=self.cfg.p_building_block, weight=self.cfg.guide_weight)
        self.engine = GeneticEngine(
            sampler, self.rng, population_size=self.cfg.population_size,
            tournament_size=self.cfg.tournament_size, p_crossover=self.cfg.p_crossover,
            newcomers=self.cfg.newcomers, max_complexity=problem.max_complexity,
        )

    def refine(self, problem, candidates, state):
        engine = self.engine
        ranked = sorted((c for c in candidates if c.valid), key=lambda c: c.search_value)
        engine.seed(ranked[: self.cfg.max_seeds])
        if self.cfg.guide_from:
            guides = {}
            for c in ranked:
                if c.origin in self.cfg.guide_from and len(guides) < self.cfg.guide_candidates:
                    guides.setdefault(c.expression.key(), c)
            engine.sampler.guide(list(guides.values()))

        def evaluate(exprs, give_up=None):
            return problem.evaluate(exprs, origin="descent", give_up=give_up)

        if state.deadline == float("inf"):
            for _ in range(self.cfg.generations_per_iteration):
                engine.step(evaluate, give_up=self.cfg.give_up)
        else:
            while True:
                engine.step(evaluate, state.deadline, give_up=self.cfg.give_up)
                if time.monotonic() >= state.deadline:
                    break
        return engine.best()


DESCENT = PluginInfo(
    name="descent",
    description="Genetic programming (age-fitness Pareto, crossover, mutations, constant fitting); seeded by proposers",
    refiner=DescentRefiner, config=DescentConfig,
)
