"""Formulas affine in the columns: recognised however written, their least-squares form, and how the ``mdl``
scorer, the front and the finish treat them (the linear code)."""

import math

import numpy as np
import pytest

from symdescent.expr import parse
from symdescent.expr.affine import affine_columns, affine_expression, least_squares
from symdescent.front import ParetoFront
from symdescent.registry import PluginContext
from symdescent.search import Search
from symdescent.types import Candidate, Score


@pytest.mark.parametrize("text, columns", [
    ("2.5", set()),
    ("x3", {3}),
    ("1.5 * x0 + x2 - 4.0", {0, 2}),
    ("3.0 * (x0 / 2.0 - (x1 + 1.0)) * 2.0", {0, 1}),
    ("-(x1) + pi * x4", {1, 4}),
    ("x0 + x0 * 2.0", {0}),
    ("(x0 - x1) / (2.0 + pi)", {0, 1}),
])
def test_affine_expressions_are_recognised_however_written(text, columns):
    assert affine_columns(parse(text).tokens) == frozenset(columns)


@pytest.mark.parametrize("text", ["x0 * x1", "1.0 / x0", "2.0 / (x0 + 1.0)", "sin(x0)", "x0 + exp(2.0)",
                                  "square(x1) + x0", "(x0 * 2.0) * (x1 - 1.0)"])
def test_anything_else_is_not_affine(text):
    assert affine_columns(parse(text).tokens) is None


def test_least_squares_is_ordinary_and_weighted_least_squares():
    from sklearn.linear_model import LinearRegression

    rng = np.random.default_rng(0)
    X = rng.normal(size=(40, 5)) * [1, 10, 100, 1, 1]
    y = 3 * X[:, 0] - 0.2 * X[:, 2] + rng.normal(size=40)
    w = rng.uniform(0.1, 2.0, size=40)
    for weights in (None, w):
        ref = LinearRegression().fit(X[:, [0, 2]], y, sample_weight=weights)
        coef, c0, loss = least_squares(X, y, weights, {2, 0})
        np.testing.assert_allclose(coef, ref.coef_, rtol=1e-10)
        assert c0 == pytest.approx(ref.intercept_, rel=1e-10)
        pred = ref.predict(X[:, [0, 2]])
        expected = np.average((pred - y) ** 2, weights=weights)
        assert loss == pytest.approx(expected, rel=1e-10)
        e = affine_expression([2, 0], coef[::-1], c0)  # pairs with the columns given, in any order
        np.testing.assert_allclose(e.evaluate(X), pred, rtol=1e-10)
    coef, c0, loss = least_squares(X, y, None, set())  # no column: the mean
    assert coef.size == 0 and c0 == pytest.approx(y.mean()) and loss == pytest.approx(y.var())
    assert affine_expression([], [], 2.0).tokens == ("C",)


def small_table(seed=0, n=20):
    """A few dozen noisy rows whose truth is a sum of three columns (and one column of noise)."""
    rng = np.random.default_rng(seed)
    X = rng.uniform(0, 10, size=(n, 4))
    clean = 2.0 * X[:, 0] - 1.0 * X[:, 1] + 1.5 * X[:, 3]
    return X, clean + 0.6 * clean.std() * rng.normal(size=n)


def scored(X, y, texts, linear_code=True):
    cfg = {"search": {"max_iterations": 1, "time_budget": None, "workers": 1},
           "plugins": {"mdl": {"linear_code": linear_code}}}
    s = Search(X, y, config=cfg)
    s.start()
    return {t: c for t, c in zip(texts, s.evaluator([parse(t) for t in texts]))}


def test_the_linear_code_lets_a_sum_of_columns_beat_a_constant_on_few_rows():
    """On 20 noisy rows the tree code charges a three-term sum so much (17 nodes) that a constant wins; the linear
    code charges it its columns and four coefficients (one nat each), and it wins."""
    X, y = small_table()
    texts = ["1.0", "1.0 + 1.0 * x0 + 1.0 * x1 + 1.0 * x3"]
    on, off = scored(X, y, texts), scored(X, y, texts, linear_code=False)
    const, linear = (on[t] for t in texts)
    assert linear.r2 > 0.5 and linear.value < const.value
    assert off[texts[1]].value > off[texts[0]].value
    # the search ranks by the tree code alone: the value with the linear code off, with or without it
    for t in texts:
        assert on[t].search_value == pytest.approx(off[t].value, rel=1e-12) == off[t].search_value
    assert linear.search_value > linear.value
    # the value is the fit's nats plus the linear code's: ln(d + 1) + ln(d choose m) + (m + 1)
    n, var = len(y), np.var(y)
    expected = n / 2 * math.log(linear.loss / var) + math.log(5) + math.log(4) + 4
    assert linear.value == pytest.approx(expected, rel=1e-9)
    # a formula that is not a sum is charged by its tree whatever the setting
    from symdescent.plugins.scorers import MdlConfig, MdlScorer

    s = Search(X, y, config={"search": {"max_iterations": 1, "time_budget": None, "workers": 1}})
    s.start()
    product = Candidate(parse("x0 * sin(x1)"), score=Score(50.0, 4, 50.0, 0.1))
    values = [MdlScorer(PluginContext("mdl", "scorer", MdlConfig(linear_code=flag), 0, np.random.default_rng(0), {},
                                      s.config)).score(s.problem, product).value for flag in (True, False)]
    assert values[0] == values[1]


def test_every_way_of_writing_a_sum_ties_and_a_cancellation_trick_gets_no_linear_code():
    from symdescent.plugins.scorers import MdlConfig, MdlScorer

    X, y = small_table()
    s = Search(X, y, config={"search": {"max_iterations": 1, "time_budget": None, "workers": 1}})
    s.start()
    scorer = MdlScorer(PluginContext("mdl", "scorer", MdlConfig(), 0, np.random.default_rng(0), {}, s.config))
    plain, wrapped = parse("1.0 + 1.0 * x0 + 1.0 * x1"), parse("1.0 * (1.0 * x0 + x1 / 1.0) * 1.0 + 1.0")
    floor = s.problem.least_squares_loss(frozenset({0, 1}))

    def value(e, loss):
        return scorer.score(s.problem, Candidate(e, score=Score(loss, e.complexity, loss, 0.5))).value

    # at the least-squares loss, or a rounding error below it, any way of writing the sum has one value
    assert value(plain, floor) == value(wrapped, floor) == value(wrapped, floor * (1 - 1e-9))
    # a loss below what any affine model of its columns can reach means rounding is being used to fit the
    # noise: such an expression is described by its tree
    n, symbols = len(y), len(s.problem.operators) + X.shape[1] + 7
    k = wrapped.complexity
    tree = n / 2 * math.log(0.9 * floor / np.var(y)) + k * math.log(symbols) + wrapped.n_constants / 2 * math.log(n)
    assert value(wrapped, 0.9 * floor) == pytest.approx(tree, rel=1e-9) and tree > value(wrapped, floor)


def test_the_front_keeps_the_scorers_best_when_a_member_dominates_it():
    f = ParetoFront()
    tree = Candidate(parse("sin(x0) * x1 + x2"), score=Score(0.5, 9, 10.0, 0.9))
    linear = Candidate(parse("1.0 * x0 + 1.0 * x1 + 1.0"), score=Score(0.6, 9, 4.0, 0.88))
    simple = Candidate(parse("x0"), score=Score(0.7, 1, 6.0, 0.8))
    for c in (simple, tree, linear):
        f.add(c)
    assert f.best() is linear
    assert [m.complexity for m in f.members()] == [1, 9, 9] and linear in f.members()
    # a polished version takes the place of the member it replaces, even with a hair more loss
    polished = Candidate(parse("1.0 * x0 + 1.0 * x1 + 1.0"), score=Score(0.6000001, 9, 4.0000001, 0.88))
    f.add(polished, replaces=linear)
    assert f.best() is polished and tree in f.members() and linear not in f.members()
    # and islands rebuilding a front from members keep it
    assert ParetoFront(f.members()).best() is polished


def test_the_finish_writes_an_affine_model_as_its_least_squares_sum():
    """A search on a few noisy rows of a linear truth returns the plain sum of the columns with least-squares
    coefficients, whatever tree the search built it as."""
    from sklearn.linear_model import LinearRegression

    X, y = small_table(n=24)
    cfg = {"search": {"max_iterations": 3, "time_budget": None, "seed": 0, "workers": 1}}
    r = Search(X, y, config=cfg).run()
    best = r.best.expression
    cols = affine_columns(best.tokens)
    assert cols is not None and {0, 1, 3} <= cols
    assert best == affine_expression(sorted(cols), best.constants[1:], best.constants[0])
    ref = LinearRegression().fit(X[:, sorted(cols)], y)
    np.testing.assert_allclose(best.evaluate(X), ref.predict(X[:, sorted(cols)]), rtol=1e-6)


@pytest.mark.parametrize("text, columns, intercept, terms, scales", [
    ("2.0 * x0 - sin(x1) + 3.0", {0}, True, ((2, 0),), 0),
    ("1.5 * (x0 + exp(x1)) + 2.0", {0}, True, ((2, 0),), 1),
    ("x0 + x1 * x2", {0}, False, ((3, 0),), 0),
    ("x0 / 2.0 + x1 / x2", {0}, False, ((3, 0),), 0),
    ("x0 + x0 * 2.0 + sin(x1)", {0}, False, ((1, 0), (2, 0)), 1),  # a column's second linear term is not linear
    ("x0 * x1", set(), False, ((3, 0),), 0),
])
def test_a_sum_is_read_as_its_linear_terms_and_the_others(text, columns, intercept, terms, scales):
    from symdescent.expr.affine import additive_terms

    d = additive_terms(parse(text).tokens)
    assert (set(d.columns), d.intercept, d.terms, d.scales) == (columns, intercept, terms, scales)


def test_a_non_linear_term_on_a_linear_backbone_pays_for_itself_alone():
    """The partly linear code of ``c0 + c1 x0 + c2 x1 + c3 x2 + sin(x3)`` is the linear code of the backbone
    plus the tree of ``sin(x3)`` and its ``+`` and the AICc correction; the scorer charges it where it is less than
    the tree."""
    from symdescent.expr.affine import additive_terms
    from symdescent.plugins.scorers import linear_code_length, partly_linear_code_length

    rng = np.random.default_rng(3)
    X = rng.uniform(0, 3, size=(30, 4))
    y = X[:, 0] - 2 * X[:, 1] + 0.5 * X[:, 2] + np.sin(3 * X[:, 3]) + 0.3 * rng.normal(size=30)
    text = "1.0 + 1.0 * x0 + 1.0 * x1 + 1.0 * x2 + sin(1.0 * x3)"
    parts = additive_terms(parse(text).tokens)
    n = 30
    s = Search(X, y, config={"search": {"max_iterations": 1, "time_budget": None, "workers": 1},
                             "plugins": {"mdl": {"partly_linear": True}}})
    s.start()
    symbols = len(s.problem.operators) + 4 + 7
    # sin(C * x3): 4 nodes and a constant, and its +; 5 fitted numbers: the AICc correction 5 * 6 / (30 - 6)
    expected = linear_code_length(4, 3) + 5 * math.log(symbols) + 0.5 * math.log(n) + 30 / 24
    assert partly_linear_code_length(parts, 4, symbols, n) == pytest.approx(expected, rel=1e-12)
    assert partly_linear_code_length(parts, 4, symbols, 6) == math.inf  # as many numbers as rows
    # as fitted it is C * (C + C*x0 + C*x1 + C*x2 + sin(C*x3)) + C: the outer offset adds to the intercept, the
    # outer scale is the amplitude of the sine (two nodes and a constant)
    (c,) = s.evaluator([parse(text)])
    assert c.expression.tokens[:2] == ("add", "mul") and c.expression.tokens[-1] == "C"
    fitted = expected - 30 / 24 + 42 / 23 + 2 * math.log(symbols) + 0.5 * math.log(n)  # and one number more
    tree = c.complexity * math.log(symbols) + c.expression.n_constants / 2 * math.log(n)
    assert fitted < tree
    assert c.value == pytest.approx(n / 2 * math.log(c.loss / np.var(y)) + fitted, rel=1e-9)


def test_a_weak_real_slope_is_kept_with_its_fitted_numbers_and_an_exact_one_snaps():
    """On 46 noisy rows a slope that explains 6 % of the variance pays its way by the linear code, so the polish
    may not drop it (its own rule is BIC's) nor snap its numbers; on noiseless rows ``2 x0 + 1`` is found."""
    rng = np.random.default_rng(5)
    x = rng.uniform(0, 1, 46)
    e = rng.normal(size=46)
    A = np.column_stack([np.ones(46), x])
    e -= A @ np.linalg.lstsq(A, e, rcond=None)[0]  # noise uncorrelated with x: least squares explains exactly 6 %
    y = 40 - np.sqrt(0.06 / 0.94 * e.var() / x.var()) * (x - x.mean()) + e
    X = x[:, None]
    cfg = {"search": {"max_iterations": 2, "time_budget": None, "seed": 0, "workers": 1}}
    s = Search(X, y, config=cfg)
    s.start()
    (lin,) = s.evaluator([parse("30.0 - 3.0 * x0")])
    assert lin.r2 == pytest.approx(0.06, abs=1e-6)
    polished = s.evaluator.polish(lin)
    assert affine_columns(polished.expression.tokens) == frozenset({0}) and polished.value <= lin.value + 1e-9
    assert all(c not in (0.0, 1.0, -1.0) and c != round(c) for c in polished.expression.constants)
    exact = Search(X, 2 * x + 1, config=cfg).run()
    assert affine_columns(exact.best.expression.tokens) == frozenset({0})
    np.testing.assert_allclose(exact.best.expression.evaluate(X), 2 * x + 1, rtol=1e-12)
