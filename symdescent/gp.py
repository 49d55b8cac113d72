"""A genetic-programming engine over prefix expressions.

Age-fitness Pareto survival (Schmidt & Lipson, 2011) extended with
complexity: each generation breeds offspring by tournament selection,
subtree crossover and the core's mutations, adds newcomers of age zero
(random expressions and any seeds from proposers), and keeps the
non-dominated layers of (score, age, complexity).  Age protects fresh
material from being crowded out by an old, locally optimal family, and the
complexity objective keeps small building blocks alive.  Individuals are
deduplicated by canonical form; constants are fitted by the search's
evaluator (Lamarckian: fitted constants stay in the genome).  A
:class:`GuidedSampler` lets a learned proposer's formulas steer the
mutations (operator weights, building blocks).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from symdescent.expr import Expression, ops
from symdescent.expr.compiled.pareto import nondominated_layers as _layers
from symdescent.expr.generate import GrammarSampler
from symdescent.expr.variation import canonical_key, crossover, mutate
from symdescent.types import Candidate


@dataclass
class Individual:
    candidate: Candidate
    age: int
    key: str

    @property
    def search_value(self) -> float:
        return self.candidate.search_value


def nondominated_layers(objectives: np.ndarray) -> np.ndarray:
    """Layer index (0 = non-dominated) of each row of ``objectives`` (minimised).

    A row dominates another when it is no worse in every objective and better in one (a NaN is never
    better nor equal); layer ``k + 1`` is what is non-dominated once layers ``0..k`` are removed.

    >>> nondominated_layers(np.array([[1.0, 2.0], [2.0, 1.0], [2.0, 2.0], [3.0, 3.0]])).tolist()
    [0, 0, 1, 2]
    """
    return _layers(np.ascontiguousarray(objectives, dtype=np.float64))


class GeneticEngine:
    """Population, breeding and survival; evaluation is delegated to ``evaluate``."""

    def __init__(self, sampler: GrammarSampler, rng: np.random.Generator, *, population_size: int = 200,
                 tournament_size: int = 5, p_crossover: float = 0.4, newcomers: int = 4, max_complexity: int = 30):
        self.sampler = sampler
        self.rng = rng
        self.population_size = population_size
        self.tournament_size = tournament_size
        self.p_crossover = p_crossover
        self.newcomers = newcomers
        self.max_complexity = max_complexity
        self.population: list[Individual] = []
        self.generation = 0

    # -- selection -----------------------------------------------------------
    def tournaments(self, m: int) -> np.ndarray:
        """The winners (population indices) of ``m`` tournaments: each of ``tournament_size`` individuals drawn
        with replacement, won by the lowest search value (:attr:`Candidate.search_value
        <symdescent.types.Candidate.search_value>`), then the lowest complexity (then the earlier in the population)."""
        n = len(self.population)
        size = min(self.tournament_size, n)
        value = np.array([ind.search_value for ind in self.population])
        order = np.lexsort((np.array([ind.candidate.complexity for ind in self.population]), value))
        rank = np.empty(n, dtype=np.int64)
        rank[order] = np.arange(n)
        idx = self.rng.integers(n, size=(m, size))
        return idx[np.arange(m), rank[idx].argmin(axis=1)]

    def breed(self) -> list[tuple[Expression, int]]:
        n = self.population_size
        pop = self.population
        crossing = (self.rng.random(n) < self.p_crossover) & (len(pop) > 1)
        winners = iter(self.tournaments(n + int(crossing.sum())).tolist())
        children = []
        for cross in crossing.tolist():
            if cross:
                a, b = pop[next(winners)], pop[next(winners)]
                child = crossover(a.candidate.expression, b.candidate.expression, self.rng)
                age = max(a.age, b.age)
            else:
                a = pop[next(winners)]
                child = mutate(a.candidate.expression, self.sampler, self.rng)
                age = a.age
            if child.complexity <= self.max_complexity:
                children.append((child, age))
        for _ in range(self.newcomers):
            children.append((self.sampler.sample(self.rng), 0))
        return children

    # -- survival ------------------------------------------------------------
    def merge(self, newcomers: list[Individual]) -> None:
        """Add individuals, deduplicate by canonical form, keep the best layers."""
        pool: dict[str, Individual] = {}
        for ind in self.population + newcomers:
            if not ind.candidate.valid:
                continue
            old = pool.get(ind.key)
            if old is None or (ind.search_value, ind.age) < (old.search_value, old.age):
                pool[ind.key] = ind
        members = list(pool.values())
        if len(members) > self.population_size:
            obj = np.array([[m.search_value, m.age, m.candidate.complexity] for m in members], dtype=float)
            layers = nondominated_layers(obj)
            order = np.lexsort((obj[:, 0], layers))  # by layer, then by score
            members = [members[i] for i in order[: self.population_size]]
        self.population = members

    def seed(self, candidates: list[Candidate]) -> None:
        """Insert scored candidates (from proposers or the front) as age-0 newcomers.

        Candidates already in the population keep their age: re-offering the
        front every iteration must not make old elites look young again.
        """
        known = {ind.key for ind in self.population}
        fresh = [Individual(c, 0, key) for c in candidates
                 if c.valid and (key := canonical_key(c.expression)) not in known]
        self.merge(fresh)

    def give_up_levels(self, factor: float) -> np.ndarray | None:
        """``factor`` times the lowest loss among the individuals of each complexity or less (index: the
        complexity, up to ``max_complexity``; inf below the simplest): an offspring whose loss stays above
        its level is dominated in accuracy and complexity by far.  None without a valid individual."""
        k = np.array([ind.candidate.complexity for ind in self.population if ind.candidate.valid], dtype=int)
        if not k.size:
            return None
        loss = np.array([ind.candidate.loss for ind in self.population if ind.candidate.valid])
        best = np.full(self.max_complexity + 1, np.inf)
        np.minimum.at(best, np.minimum(k, self.max_complexity), loss)
        return factor * np.minimum.accumulate(best)

    def step(self, evaluate, deadline: float = float("inf"), chunk: int = 25, give_up: float = 0.0) -> int:
        """One generation; ``evaluate(list[Expression]) -> list[Candidate]``.

        The first generation samples ``population_size`` random expressions
        whether or not seeds were taken in before it: seeds join the random
        initial population instead of replacing it, so a seeded run starts
        from everything the unseeded run (same generator) starts from.

        Offspring are evaluated in chunks; past ``deadline`` (``time.monotonic()``)
        the rest of the generation is dropped, so a budget is kept closely.
        With ``give_up`` above 0, offspring are evaluated as
        ``evaluate(list[Expression], give_up=levels)`` with the levels of
        :meth:`give_up_levels` (a fit may stop early where a candidate stays
        that many times worse than the best no more complex).
        Returns the number of offspring evaluated.
        """
        import time

        for ind in self.population:
            ind.age += 1
        if self.generation == 0 or not self.population:
            # a full random population, beside any seeds already taken in; also when no individual survived
            # (every one scored invalid): there is nobody to breed from, so start again from the grammar
            children = [(self.sampler.sample(self.rng), 0) for _ in range(self.population_size)]
        else:
            children = self.breed()
        levels = self.give_up_levels(give_up) if give_up > 0 else None
        scored = []
        for i in range(0, len(children), chunk):
            if i and time.monotonic() >= deadline:
                children = children[:i]
                break
            batch = [c for c, _ in children[i : i + chunk]]
            scored += evaluate(batch) if levels is None else evaluate(batch, give_up=levels)
        self.merge([Individual(s, age, canonical_key(s.expression)) for s, (_, age) in zip(scored, children)])
        self.generation += 1
        return len(children)

    def best(self) -> list[Candidate]:
        """The population's best candidate at every complexity."""
        by_k: dict[int, Candidate] = {}
        for ind in self.population:
            c = ind.candidate
            old = by_k.get(c.complexity)
            if old is None or c.loss < old.loss:
                by_k[c.complexity] = c
        return list(by_k.values())


@dataclass
class GuidedSampler(GrammarSampler):
    """A grammar sampler that leans towards what a guiding proposer found.

    :meth:`guide` takes candidates of a learned proposer (e.g. LEE's decoded
    formulas, which often hold the right variables and pieces of the right
    formula but not the whole of it) and does two things with them:

    * operator weights become ``(1 - weight) * default + weight * frequency``
      of each operator among the candidates (per arity), so mutations and
      fresh subtrees use the operators the proposer found likely, without
      ever ruling one out;
    * their subtrees (with an operator and a variable, at most ``max_block``
      nodes) become *building blocks*: :meth:`sample` returns one, instead of
      a fresh random tree, with probability ``p_block``, so subtree mutations
      and newcomers can graft a proposed piece into any individual.

    Without a guide it samples exactly as :class:`GrammarSampler` (same
    random stream), so an unguided GP is unchanged.
    """

    p_block: float = 0.3
    weight: float = 0.5
    max_block: int = 12

    def __post_init__(self) -> None:
        super().__post_init__()
        self._default = {arity: self.operator_probabilities(arity) for arity in (1, 2)}
        self.blocks: list[Expression] = []
        self._block_sizes = np.zeros(0, dtype=int)

    def guide(self, candidates: list[Candidate]) -> None:
        """Re-weight operators and rebuild the building blocks from ``candidates`` (best first)."""
        exprs = [c.expression for c in candidates if c.valid]
        if not exprs:
            return
        counts: dict[str, float] = {}
        blocks: dict[str, Expression] = {}
        for e in exprs:
            for i, tok in enumerate(e.tokens):
                if ops.arity(tok) == 0:
                    continue
                counts[tok] = counts.get(tok, 0.0) + 1.0
                sub = e.subtree(i)
                if sub.complexity <= self.max_block and any(ops.is_variable(t) for t in sub.tokens):
                    blocks.setdefault(canonical_key(sub), sub)
        for arity in (1, 2):
            names = self.operator_names(arity)
            if not names:
                continue
            base = self._default[arity]
            freq = np.array([counts.get(o, 0.0) for o in names])
            mixed = base if freq.sum() == 0 else (1 - self.weight) * base + self.weight * freq / freq.sum()
            self.set_operator_weights(arity, mixed)
        self.blocks = sorted(blocks.values(), key=lambda b: b.complexity)
        self._block_sizes = np.array([b.complexity for b in self.blocks])

    def sample(self, rng: np.random.Generator, max_size: int | None = None, min_ops: int = 0) -> Expression:
        if self.blocks and rng.random() < self.p_block:
            limit = self.max_size if max_size is None else max_size
            n = int(np.searchsorted(self._block_sizes, limit, side="right"))
            if n:
                return self.blocks[int(rng.integers(n))]
        return super().sample(rng, max_size, min_ops)
