"""The ``linear`` proposer: nested linear sums in least-angle regression's order."""

import numpy as np
import pytest

from symdescent.errors import ConfigError
from symdescent.plugins.linear import entry_order, linear_sum
from symdescent.search import Search


def table(seed=0, n=120, d=8, noise=0.2):
    """A sum of three terms of comparable size over columns of very different scales, plus noise."""
    rng = np.random.default_rng(seed)
    Z = rng.normal(size=(n, d))
    scale, shift = np.linspace(0.5, 20, d), np.linspace(-5, 5, d)
    clean = 2.0 * Z[:, 0] - 3.0 * Z[:, 2] + 1.5 * Z[:, 4] + 4.0
    return Z * scale + shift, clean + noise * np.std(clean) * rng.normal(size=n)


def test_entry_order_finds_the_columns_that_carry_the_signal_first():
    X, y = table()
    first = entry_order(X, y)[:3]
    assert sorted(first) == [0, 2, 4]
    X[:, 5] = 7.0  # a constant column never enters
    assert 5 not in entry_order(X, y)
    assert entry_order(X, np.full(len(y), 3.0)) == []


def test_linear_sum_is_a_sum_of_fitted_terms():
    e = linear_sum([3, 0, 5])
    assert e.to_infix() == "1.0 * x3 + (1.0 * x0 + 1.0 * x5)"
    assert e.n_constants == 3 and e.complexity == 11


def test_a_search_with_the_linear_proposer_matches_least_squares_on_a_linear_table():
    """On a noisy 8-column table whose truth is a sum of three terms, a short search with the proposer finds a
    model that predicts held-out rows as well as ordinary least squares does (to 0.01 in R²), using the three
    columns, and the proposer's sums are on the front."""
    from sklearn.linear_model import LinearRegression
    from sklearn.metrics import r2_score

    X, y = table(n=200)
    Xt, yt = table(seed=1, n=400)
    ols = r2_score(yt, LinearRegression().fit(X, y).predict(Xt))
    cfg = {"search": {"max_iterations": 3, "time_budget": None, "seed": 0, "workers": 1},
           "strategy": {"proposers": ["random", "linear"]}}
    r = Search(X, y, config=cfg).run()
    assert r2_score(yt, r.best.expression.evaluate(Xt)) > ols - 0.01
    assert {"x0", "x2", "x4"} <= set(r.best.expression.tokens)
    assert any(c.origin == "linear" for c in r.front)


def test_the_proposer_keeps_to_the_operators_and_the_size_limit():
    X, y = table()
    no_mul = Search(X, y, config={"search": {"max_iterations": 1, "time_budget": None, "workers": 1,
                                             "operators": ["add", "sub", "sin"]},
                                  "strategy": {"proposers": ["random", "linear"]}})
    r = no_mul.run()
    assert not any(c.origin == "linear" for c in r.front)
    small = Search(X, y, config={"search": {"max_iterations": 1, "time_budget": None, "workers": 1,
                                            "max_complexity": 9},
                                 "strategy": {"proposers": ["linear"], "refiners": []}})
    r = small.run()
    assert r.front and max(c.complexity for c in r.front) <= 9


def test_bad_settings_are_named():
    X, y = table()
    with pytest.raises(ConfigError, match="plugins.linear.max_terms"):
        Search(X, y, config={"strategy": {"proposers": ["linear"]}, "plugins": {"linear": {"max_terms": 0}}})


def weak_slope():
    """46 rows whose one column explains 6 % of the variance: too little for the fit's BIC rule to keep a slope,
    enough for the linear code's AIC rate (one nat a coefficient) to prefer the line to a constant."""
    rng = np.random.default_rng(2)
    x = rng.uniform(0, 1, 46)
    return x[:, None], 40 + 5.0 * x + 6.0 * rng.normal(size=46)


def test_the_least_squares_sum_of_an_affine_candidate_reaches_the_front():
    """The fit writes ``C*x0`` as ``x0 + c`` (its slope not worth a parameter by BIC); the search offers the
    least-squares line of the same column to the front beside it as it scores it, and the scorer ranks the line
    first (before any finish: a constant that dominates ``x0 + c`` would otherwise leave no affine member to
    rewrite)."""
    X, y = weak_slope()
    assert 0.045 < np.corrcoef(X[:, 0], y)[0, 1] ** 2 < 0.075
    slope = np.polyfit(X[:, 0], y, 1)[0]
    s = Search(X, y, config={"search": {"max_iterations": 1, "time_budget": None, "seed": 0, "workers": 1},
                             "strategy": {"proposers": ["linear"], "refiners": []}})
    (fitted,) = s.evaluator([linear_sum([0])], "linear")
    assert fitted.expression.complexity == 3  # the slope dropped
    s.start()
    s.step()
    best = s.front.best()
    assert best.value < fitted.value and best.origin == "linear"
    assert np.isclose(best.expression.constants, slope).any()


def test_polishing_never_raises_the_description_of_a_sum_of_columns():
    """On 13 noisy rows the polish's BIC rule would drop a small intercept of the least-squares sum; the linear
    code charges the sum the same without it and the fit is worse, so the sum keeps its intercept."""
    rng = np.random.default_rng(0)
    X = rng.uniform(1, 2, size=(13, 3))
    y = 0.4 + X @ [1.0, -2.0, 0.5] + 0.8 * rng.normal(size=13)
    s = Search(X, y, config={"search": {"max_iterations": 1, "time_budget": None, "seed": 0, "workers": 1}})
    total = s.evaluator.least_squares_sum([0, 1, 2])
    assert total.expression.n_constants == 4
    polished = s.evaluator.polish(total)
    assert polished.value <= total.value + 1e-9
    assert polished.expression.n_constants == 4
