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



def test_tournaments_are_won_by_the_lowest_value_then_the_lowest_complexity():
    from symdescent.gp import Individual

    eng = engine(population_size=5)
    texts = ["x0", "x0 + x1", "sin(x0)", "x0 * x1 * x0", "exp(x1)"]
    eng.population = [Individual(seed_candidate(t, v), 0, t) for t, v in zip(texts, [3.0, 1.0, 1.0, 0.5, 9.0])]
    winners = eng.tournaments(1000)
    share = np.bincount(winners, minlength=5) / 1000
    assert winners.shape == (1000,)
    assert 0.6 < share[3] < 0.75  # the best wins whenever drawn: 1 - (4/5)**5 = 0.67 of 5-way tournaments
    assert share[4] < 0.01  # the worst only when drawn five times
    eng.tournament_size = 1
    assert set(eng.tournaments(200).tolist()) == set(range(5))  # alone, each wins its own draws
    # a tie on value: the simpler wins whenever drawn, 1 - (1/2)**2 = 0.75 of 2-way tournaments
    eng.population = [Individual(seed_candidate(t, 1.0), 0, t) for t in ("x0 + x1", "sin(x0)")]
    eng.tournament_size = 2
    assert 0.7 < np.mean(eng.tournaments(2000) == 1) < 0.8
    # they rank by the search value where the scorer gives one apart from the value (the mdl scorer's tree code)
    a = Candidate(parse("x0"), score=Score(1.0, 1, 5.0, 0.5, search_value=0.5))
    b = Candidate(parse("x1"), score=Score(1.0, 1, 1.0, 0.5))
    eng.population = [Individual(a, 0, "x0"), Individual(b, 0, "x1")]
    assert (a.search_value, b.search_value) == (0.5, 1.0)
    assert 0.7 < np.mean(eng.tournaments(2000) == 0) < 0.8  # x0 wins whenever drawn, its value worse

def test_give_up_levels_are_the_best_loss_no_more_complex_times_the_factor():
    from symdescent.gp import Individual

    eng = engine(population_size=4)
    eng.max_complexity = 8
    pop = [("x0", 4.0), ("x0 + x1", 1.0), ("x0 * x1 * x0", 2.0), ("sin(x0)", 0.5)]
    eng.population = [Individual(seed_candidate(t, v), 0, t) for t, v in pop]
    levels = eng.give_up_levels(10.0)
    assert levels.shape == (9,)
    assert np.isinf(levels[0])  # below the simplest individual: nothing to compare with
    assert levels[1] == 40.0  # x0
    assert levels[2] == 5.0 == levels[8]  # sin(x0) from 2 nodes on: the best of everything no more complex
    assert engine().give_up_levels(10.0) is None  # nobody yet


def test_an_abandoned_fit_is_returned_but_not_cached():
    """The evaluator passes the give-up level of a candidate's complexity to its fit; a fit that stops there is
    scored as it stands and not cached (met again, it is fitted afresh), a finished one is cached."""
    rng = np.random.default_rng(0)
    X = rng.uniform(1, 3, size=(300, 2))
    y = 2.0 * np.exp(-1.7 * X[:, 0]) * np.sin(2.3 * X[:, 1]) + 0.5
    s = Search(X, y, config={"search": {"max_iterations": 1, "seed": 0, "workers": 1}})
    ev = s.evaluator
    e = parse("exp(-0.5 * x0) * sin(1.8 * x1)")  # the default budget fits it exactly; a probe does not
    before = ev.n_evaluations
    (hopeless,) = ev([e], "test", give_up=np.full(31, 1e-30))
    assert hopeless.valid and hopeless.loss > 1e-9 and not ev.cache
    (again,) = ev([e], "test", give_up=np.full(31, 1e-30))
    assert ev.n_evaluations == before + 2 and again.loss == hopeless.loss  # fitted afresh, the same way
    (done,) = ev([e], "test", give_up=np.full(31, 1e3))
    assert done.loss < 1e-20 and len(ev.cache) == 1 and ev.n_evaluations == before + 3
    assert ev([e], "test")[0] is done  # now from the cache


@pytest.mark.parametrize("factor", [0.5, -1.0, float("nan")])
def test_a_give_up_factor_below_one_is_a_config_error(factor):
    X = np.random.default_rng(0).uniform(1, 2, size=(30, 1))
    with pytest.raises(ConfigError, match="plugins.descent.give_up must be 0"):
        Search(X, X[:, 0], config={"search": {"max_iterations": 1}, "plugins": {"descent": {"give_up": factor}}})
