"""The genetic-programming engine: survival layers, seeding, the initial population, guidance."""

import numpy as np
import pytest

from symdescent.errors import ConfigError
from symdescent.expr import parse
from symdescent.expr.generate import GrammarSampler
from symdescent.expr.variation import canonical_key
from symdescent.gp import GeneticEngine, GuidedSampler, nondominated_layers
from symdescent.registry import PluginInfo
from symdescent.roles import Proposer
from symdescent.search import Search
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


def test_unguided_sampler_draws_the_plain_stream():
    plain, guided = GrammarSampler(n_variables=3, max_size=11), GuidedSampler(n_variables=3, max_size=11)
    ra, rb = np.random.default_rng(5), np.random.default_rng(5)
    assert [plain.sample(ra) for _ in range(200)] == [guided.sample(rb) for _ in range(200)]
    assert [plain.operator(ra, unary=True) for _ in range(50)] == [guided.operator(rb, unary=True) for _ in range(50)]


def test_guide_builds_blocks_and_leans_towards_its_operators():
    sampler = GuidedSampler(n_variables=2, max_size=9, p_block=1.0, weight=0.5, max_block=5)
    default_uw = dict(zip(sampler.operator_names(1), sampler.operator_probabilities(1)))
    guides = [seed_candidate("cos(x0 * x1) + 2.5", 0.1), seed_candidate("cos(x0 - x1) * exp(x1)", 0.2)]
    sampler.guide(guides)
    keys = {canonical_key(b) for b in sampler.blocks}
    # every subtree with an operator, a variable and at most 5 nodes; no constant-only or too-large pieces
    assert keys == {canonical_key(parse(t, variable_names=["x0", "x1"])) for t in
                    ("cos(x0 * x1)", "x0 * x1", "cos(x0 - x1)", "x0 - x1", "exp(x1)")}
    uw = dict(zip(sampler.operator_names(1), sampler.operator_probabilities(1)))
    assert uw["cos"] > default_uw["cos"] and uw["exp"] > default_uw["exp"]
    assert uw["sin"] < default_uw["sin"] and all(w > 0 for w in uw.values())  # nothing ruled out
    assert np.isclose(sum(uw.values()), 1.0)
    rng = np.random.default_rng(0)
    drawn = [sampler.sample(rng, max_size=3) for _ in range(100)]
    # p_block = 1: only blocks that fit max_size, drawn from all of them
    assert {canonical_key(e) for e in drawn} == {canonical_key(parse(t, variable_names=["x0", "x1"]))
                                                 for t in ("x0 * x1", "x0 - x1", "exp(x1)")}


def test_guide_without_valid_candidates_changes_nothing():
    sampler = GuidedSampler(n_variables=2, max_size=9)
    before = sampler.operator_probabilities(1)
    sampler.guide([])
    assert sampler.blocks == [] and np.array_equal(sampler.operator_probabilities(1), before)


def test_operator_weights_are_set_through_the_public_api():
    sampler = GrammarSampler(n_variables=1, operators=("add", "mul", "sin", "cos"))
    assert sampler.operator_names(2) == ("add", "mul") and sampler.operator_names(1) == ("sin", "cos")
    sampler.set_operator_weights(1, [0.0, 2.0])
    assert sampler.operator_probabilities(1).tolist() == [0.0, 1.0]
    rng = np.random.default_rng(0)
    assert {sampler.operator(rng, unary=True) for _ in range(20)} == {"cos"}
    sampler.operator_probabilities(1)[:] = 0.5  # a copy: the sampler is unchanged
    assert sampler.operator_probabilities(1).tolist() == [0.0, 1.0]
    for bad in ([1.0], [1.0, -1.0], [0.0, 0.0], [1.0, float("nan")]):
        with pytest.raises(ValueError, match="non-negative weights"):
            sampler.set_operator_weights(1, bad)


def test_guided_descent_takes_blocks_from_the_named_proposer(product_data):
    class Hint(Proposer):
        def __init__(self, ctx):
            pass

        def propose(self, problem, state):
            return [parse("exp(x0) + x1 * x1")]

    X, y = product_data
    hint = PluginInfo(name="hint", description="test", proposer=Hint)
    cfg = {"search": {"time_budget": None, "max_iterations": 2},
           "strategy": {"proposers": ["hint", "random"], "refiners": ["descent"]},
           "plugins": {"descent": {"guide_from": ["hint"], "population_size": 30}}}
    s = Search(X, y, config=cfg, plugins=[hint])
    s.run()
    sampler = s.role("descent", "refiner").engine.sampler
    keys = {canonical_key(b) for b in sampler.blocks}
    # the hint's pieces (the evaluator may have wrapped it in a fitted affine map: C + C * hint)
    assert {"exp(x0)", "mul(x1,x1)", "add(exp(x0),mul(x1,x1))"} <= keys
    assert all("add(exp(x0),mul(x1,x1))" in k or k in ("exp(x0)", "mul(x1,x1)") for k in keys)
    bad = {**cfg, "plugins": {"descent": {"guide_from": ["hnt"]}}}
    with pytest.raises(ConfigError, match="not a selected proposer.*did you mean 'hint'"):
        Search(X, y, config=bad, plugins=[hint])
