"""Large data: the search ranks on a subsample of the rows, the final front is re-checked on every row."""

import numpy as np

from symdescent.expr import parse
from symdescent.expr.fit import expression_mse, weighted_var
from symdescent.search import Search


def _data(n=3_000, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.uniform(-2, 2, size=(n, 2))
    # noise only on rows the subsample rarely sees would be invisible to it: the loss must come from all rows
    y = X[:, 0] ** 2 + np.sin(X[:, 1]) + rng.normal(0, 0.05, n)
    return X, y


def _run(X, y, **search):
    base = {"time_budget": None, "max_iterations": 3, "seed": 0, "score_rows": 500, "fit_rows": 200}
    base.update(search)
    return Search(X, y, config={"search": base}).run()


def test_the_final_front_is_rescored_on_every_row():
    X, y = _data()
    r = _run(X, y)
    var_all = weighted_var(y)
    for c in r.front:
        assert c.loss == expression_mse(c.expression, X, y)  # every row, not the 500 ranked on
        assert c.r2 == 1.0 - c.loss / var_all
    losses = [c.loss for c in r.front]
    assert all(a > b for a, b in zip(losses, losses[1:]))  # still a front on all rows


def test_weighted_rows_are_rechecked_with_their_weights():
    X, y = _data()
    w = np.random.default_rng(1).uniform(0, 2, len(y))
    w[:100] = 0.0
    r = Search(X, y, sample_weight=w, config={"search": {"time_budget": None, "max_iterations": 2, "seed": 0,
                                                        "score_rows": 500, "fit_rows": 200}}).run()
    keep = w > 0
    wn = w[keep] / w[keep].mean()
    for c in r.front:
        np.testing.assert_allclose(c.loss, expression_mse(c.expression, X[keep], y[keep], wn), rtol=1e-12)


def test_small_data_is_not_rescored():
    X, y = _data(n=400)
    a = _run(X, y)
    b = _run(X, y, score_rows=None)
    assert [(c.expression.key(), c.loss) for c in a.front] == [(c.expression.key(), c.loss) for c in b.front]


def test_the_variance_of_y_is_computed_once_per_problem(monkeypatch):
    """The scorer reads problem.y_var for every candidate: on 1,000,000 rows recomputing it cost more
    than the evaluation itself (566 against 1,474 evaluations per second)."""
    import symdescent.expr.fit as fit

    X, y = _data(n=2_000)
    s = Search(X, y, config={"search": {"time_budget": None, "max_iterations": 1, "seed": 0}})
    (cand,) = s.problem.evaluate([parse("square(x0) + sin(x1)")])
    first = s.problem.y_var
    assert first == fit.weighted_var(y)

    def recomputed(*args, **kwargs):
        raise AssertionError("the variance of y was computed again")

    monkeypatch.setattr(fit, "weighted_var", recomputed)
    assert s.problem.y_var == first
    assert s.strategy.scorer.impl.score(s.problem, cand) == cand.score  # the scorer's path reads the cached value
