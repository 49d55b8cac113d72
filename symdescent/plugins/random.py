"""The ``random`` proposer: expressions sampled from the grammar."""

from __future__ import annotations

from dataclasses import dataclass

from symdescent.expr.generate import GrammarSampler
from symdescent.registry import PluginContext, PluginInfo
from symdescent.roles import Proposer


@dataclass(frozen=True)
class RandomConfig:
    """Settings of the ``random`` proposer.

    Attributes
    ----------
    samples : int
        Expressions proposed per iteration.
    max_size : int
        Largest node count of a proposal (capped by search.max_complexity).
    p_constant : float
        Probability that a leaf is a fitted constant.
    """

    samples: int = 50
    max_size: int = 15
    p_constant: float = 0.2

    def validate(self) -> "RandomConfig":
        from symdescent.errors import ConfigError

        if self.samples < 1:
            raise ConfigError(f"plugins.random.samples must be >= 1, got {self.samples}")
        if self.max_size < 1:
            raise ConfigError(f"plugins.random.max_size must be >= 1, got {self.max_size}")
        if not 0 <= self.p_constant <= 1:
            raise ConfigError(f"plugins.random.p_constant must be in [0, 1], got {self.p_constant}")
        return self


class RandomProposer(Proposer):
    """Samples expressions over the problem's variables and allowed operators."""

    def __init__(self, ctx: PluginContext):
        self.cfg = ctx.config or RandomConfig()
        self.rng = ctx.rng
        self.sampler: GrammarSampler | None = None

    def start(self, problem, state):
        self.sampler = GrammarSampler(
            n_variables=problem.n_features, operators=problem.operators,
            max_size=min(self.cfg.max_size, problem.max_complexity), p_constant=self.cfg.p_constant,
        )

    def propose(self, problem, state):
        return [self.sampler.sample(self.rng) for _ in range(self.cfg.samples)]


RANDOM = PluginInfo(name="random", description="Random expressions from the grammar (size/depth limits)",
                    proposer=RandomProposer, config=RandomConfig)
