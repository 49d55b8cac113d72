"""The genetic-programming engine: survival layers, seeding, the initial population."""

import numpy as np

from symdescent.expr import parse
from symdescent.expr.generate import GrammarSampler
from symdescent.expr.variation import canonical_key
from symdescent.gp import GeneticEngine, nondominated_layers
from symdescent.types import Candidate, Score


def fake_evaluate(seen):
    """Score by node count (any deterministic score will do) and record what was evaluated."""

    def evaluate(exprs):
        seen.extend(canonical_key(e) for e in exprs)
        return [Candidate(e, "gp", Score(float(e.complexity), e.complexity, float(e.complexity), 0.0)) for e in exprs]

    return evaluate


def engine(seed=0, population_size=30):
    return GeneticEngine(GrammarSampler(n_variables=2, max_size=9), np.random.default_rng(seed),
                         population_size=population_size, newcomers=2)


def seed_candidate(text, value):
    e = parse(text, variable_names=["x0", "x1"])
    return Candidate(e, "seed", Score(value, e.complexity, value, 1.0))


def test_nondominated_layers():
    obj = np.array([[0.0, 0.0], [1.0, 1.0], [0.0, 2.0], [2.0, 2.0]])
    assert nondominated_layers(obj).tolist() == [0, 1, 1, 2]


def test_seeds_join_the_random_initial_population():
    plain_seen, seeded_seen = [], []
    plain, seeded = engine(), engine()
    plain.step(fake_evaluate(plain_seen))
    seeds = [seed_candidate("x0 * x1", 0.0), seed_candidate("sin(x0) + x1", 0.0)]
    seeded.seed(seeds)
    seeded.step(fake_evaluate(seeded_seen))
    # the seeded engine draws the same full random population as the unseeded one ...
    assert len(seeded_seen) == seeded.population_size
    assert seeded_seen == plain_seen
    # ... and keeps the seeds (score 0 beats every random expression) beside it
    keys = {ind.key for ind in seeded.population}
    assert {canonical_key(s.expression) for s in seeds} <= keys
    assert len(seeded.population) == seeded.population_size


def test_seeding_keeps_the_age_of_known_individuals():
    eng = engine()
    eng.step(fake_evaluate([]))
    eng.step(fake_evaluate([]))
    old = max(eng.population, key=lambda ind: ind.age)
    assert old.age >= 1
    eng.seed([old.candidate])
    assert next(ind for ind in eng.population if ind.key == old.key).age == old.age


def test_later_generations_breed_from_the_population():
    seen = []
    eng = engine()
    eng.step(fake_evaluate(seen))
    first = len(seen)
    eng.step(fake_evaluate(seen))
    # offspring (at most population_size, fewer when too large) plus the newcomers
    assert 0 < len(seen) - first <= eng.population_size + eng.newcomers
    assert eng.generation == 2
