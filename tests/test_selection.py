"""Choosing the final model from the front: the scorer's best, or the cross-validated one-standard-error rule."""

import time

import numpy as np
import pytest

from symdescent.errors import ConfigError
from symdescent.expr import parse
from symdescent.expr.fit import fit_expression
from symdescent.search import Search
from symdescent.selection import cross_validated_choice
from symdescent.types import Candidate, Score


def scored(text, X, y):
    res = fit_expression(parse(text), X, y, max_nfev=200)
    assert res.valid
    return Candidate(res.expression, "test", Score(res.mse, res.expression.complexity, res.mse, 0.0))


def test_cross_validation_prefers_the_simple_model_over_one_that_fits_the_noise():
    """60 noisy rows of a line: a cubic with a sine wiggle fits the training rows better, the line predicts
    held-out rows as well or better, and the one-standard-error rule picks the line."""
    rng = np.random.default_rng(0)
    X = rng.uniform(-1, 1, size=(60, 1))
    y = 1.5 * X[:, 0] + 0.3 + 0.4 * rng.normal(size=60)
    line = scored("x0", X, y)
    wiggle = scored("0.5 * x0 + 0.11 * x0**2 + 0.12 * x0**3 + 0.1 * sin(7.0 * x0)", X, y)
    assert wiggle.loss < line.loss  # the training loss rewards the wiggle
    assert cross_validated_choice([wiggle, line], X, y).expression == line.expression


def test_on_noiseless_data_the_simplest_exact_formula_wins():
    rng = np.random.default_rng(1)
    X = rng.uniform(1, 3, size=(200, 2))
    y = X[:, 0] * np.sin(X[:, 1])
    exact = scored("x0 * sin(x1)", X, y)
    padded = scored("x0 * sin(x1) + 1e-9 * x1 * x0", X, y)  # exact too, at rounding level, and larger
    near = scored("x0 * (x1 - x1**3 / 6.0)", X, y)  # an approximation
    choice = cross_validated_choice([padded, near, exact], X, y)
    assert choice.expression == exact.expression


def test_nothing_to_choose_or_no_time_gives_none():
    rng = np.random.default_rng(2)
    X = rng.uniform(1, 3, size=(50, 1))
    y = X[:, 0] ** 2
    one = scored("x0**2", X, y)
    assert cross_validated_choice([one], X, y) is None
    assert cross_validated_choice([one, scored("x0", X, y)], X, y, until=time.monotonic() - 1) is None


def test_a_search_with_cv_selection_returns_a_member_of_its_front():
    rng = np.random.default_rng(3)
    X = rng.uniform(-2, 2, size=(150, 3))
    y = X[:, 0] * X[:, 1] + 0.5 * rng.normal(size=150)
    r = Search(X, y, config={"search": {"max_iterations": 3, "time_budget": None, "seed": 0, "workers": 1,
                                        "selection": "cv"}}).run()
    assert r.best is not None and any(c.expression == r.best.expression for c in r.front)
    with pytest.raises(ConfigError, match="search.selection must be one of 'score', 'cv', 'cv-min', got 'cross'"):
        Search(X, y, config={"search": {"selection": "cross"}})


def test_the_final_model_is_the_best_one_that_stays_bounded_between_the_rows():
    """A member with a pole between the rows (no row near it) is passed over for the next best, under every
    selection rule; when no member is bounded, the scorer's best is kept."""
    from symdescent.expr import parse
    from symdescent.selection import bounded_between_rows
    from symdescent.types import Candidate, Score

    rng = np.random.default_rng(0)
    x = np.concatenate([rng.uniform(0, 2.9, 30), rng.uniform(3.1, 6, 30)])
    X, y = x[:, None], 2 * x + 0.1 * rng.normal(size=60)
    pole, line = parse("2.0 * x0 + 0.01 / (x0 - 3.0)"), parse("2.0 * x0")
    assert not bounded_between_rows(pole, X, y) and bounded_between_rows(line, X, y)
    for rule in ("score", "cv"):
        s = Search(X, y, config={"search": {"max_iterations": 1, "time_budget": None, "workers": 1,
                                            "selection": rule}})
        s.start()
        s.front = type(s.front)([Candidate(pole, score=Score(0.009, 9, -50.0, 0.999)),
                                 Candidate(line, score=Score(0.010, 3, -40.0, 0.998))])
        assert s.front.best().expression == pole
        assert s._select(None).expression == line, rule
        s.front = type(s.front)([Candidate(pole, score=Score(0.009, 9, -50.0, 0.999))])
        assert s._select(None) in (None, s.front.best())
