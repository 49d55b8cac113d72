"""Row weights: validation, the weighted loss everywhere it is computed, and weights that choose the model."""

import json

import numpy as np
import pytest

from symdescent.data import check_sample_weight
from symdescent.errors import DataError
from symdescent.expr import compiled, parse
from symdescent.expr.fit import fit_expression, standard_errors, weighted_mse, weighted_var
from symdescent.search import Search

from conftest import quick_config


def _two_laws(n=200, seed=0):
    """Half the rows follow A = x0 * x1**2, the other half B = x0 / x1."""
    X = np.random.default_rng(seed).uniform(1, 3, size=(n, 2))
    first = np.arange(n) < n // 2
    a, b = X[:, 0] * X[:, 1] ** 2, X[:, 0] / X[:, 1]
    return X, np.where(first, a, b), first, a, b


@pytest.mark.parametrize("bad, message", [
    (np.ones(5), "5 weight"),
    (np.ones((10, 2)), "1-D"),
    (np.r_[np.ones(9), np.nan], "NaN at row 9"),
    (np.r_[np.ones(9), np.inf], "inf at row 9"),
    (np.r_[np.ones(9), -1.0], "row 9 has weight -1.0"),
    (np.zeros(10), "zero for every row"),
    (["a"] * 10, "non-numeric"),
    (-2.0, "positive finite number"),
])
def test_bad_weights_are_named_data_errors(bad, message):
    with pytest.raises(DataError, match=message):
        check_sample_weight(bad, 10)
    X = np.random.default_rng(0).uniform(1, 2, size=(10, 1))
    with pytest.raises(DataError, match=message):
        Search(X, X[:, 0] * 2, config=quick_config(), sample_weight=bad)


def test_weights_are_relative_and_uniform_ones_are_no_weights():
    assert check_sample_weight(None, 3) is None
    assert check_sample_weight(np.full(3, 2.0), 3) is None and check_sample_weight(7, 3) is None
    w = check_sample_weight([0, 1, 3], 3)
    assert np.allclose(w, [0, 0.75, 2.25]) and w.mean() == pytest.approx(1.0)
    assert np.allclose(check_sample_weight(np.array([0, 1e300, 3e300]), 3), w)  # no overflow


def test_weighted_fit_equals_repeated_rows():
    """Integer weights are repeated rows: the compiled fit, the closed-form fit and the standard errors agree."""
    rng = np.random.default_rng(1)
    X = rng.uniform(0, 1, size=(60, 2))
    y = 2 * np.exp(-1.3 * X[:, 0]) + 0.5 * X[:, 1] + 0.3 + rng.normal(0, 0.01, 60)
    w = rng.integers(0, 4, 60).astype(float)
    rep = np.repeat(np.arange(60), w.astype(int))
    for text in ["C * exp(C * x0) + C * x1", "sin(C * x0 + C) * x1", "x0 * x1"]:
        e = parse(text, ["x0", "x1"])
        weighted = fit_expression(e, X, y, sample_weight=w)
        repeated = fit_expression(e, X[rep], y[rep])
        assert weighted.valid and repeated.valid
        assert weighted.expression.tokens == repeated.expression.tokens
        assert np.allclose(weighted.expression.constants, repeated.expression.constants, rtol=1e-7)
        assert weighted.mse == pytest.approx(repeated.mse, rel=1e-9)
        assert weighted.mse == pytest.approx(weighted_mse(weighted.expression.evaluate(X), y, w), rel=1e-12)
    e = fit_expression(parse("C * exp(C * x0) + C", ["x0", "x1"]), X, y).expression
    se_w = standard_errors(e, X, y, sample_weight=w)
    se_r = standard_errors(e, X[rep], y[rep])
    # the same but for the degrees of freedom of the residual variance: 60 rows against len(rep)
    k = e.n_constants
    assert np.allclose(se_w, se_r * np.sqrt((len(rep) - k) / (60 - k)), rtol=1e-6)
    assert weighted_var(y, w) == pytest.approx(np.var(y[rep]), rel=1e-12)


@pytest.mark.parametrize("text", ["C * exp(C * x0) + C", "sin(C * x0 + C) * x1", "x0 / (C + x1 ** 2)",
                                  "log(C * x0 + C) + C * x1", "tanh(C * x1) + C * cos(x0)"])
def test_unweighted_fit_is_the_weighted_one_with_unit_weights(text):
    """One Levenberg-Marquardt code path: weights of exactly 1 give the unweighted fit bit for bit
    (every weighted sum multiplies by 1.0, which is exact), at every budget and choice of outer terms."""
    rng = np.random.default_rng(7)
    X = rng.uniform(0.5, 2.5, size=(90, 2))
    y = 2 * np.sin(X[:, 0]) + X[:, 1] ** 1.5 + rng.normal(0, 0.05, 90)
    e = parse(text, ["x0", "x1"])
    c0 = rng.normal(1, 0.5, e.n_constants)
    for use_a, use_b in ((True, True), (True, False), (False, True), (False, False)):
        for budget in (0, 5, 100):
            plain = compiled.fit_constants(e.tokens, c0, X, y, use_a, use_b, budget)
            ones = compiled.fit_constants(e.tokens, c0, X, y, use_a, use_b, budget, sample_weight=np.ones(90))
            assert plain[0].tobytes() == ones[0].tobytes() and plain[1:] == ones[1:], (use_a, use_b, budget)


def test_compiled_fit_checks_its_weights():
    p = compiled.compile_program(("mul", "C", "x0"))
    X = np.ones((4, 1))
    with pytest.raises(ValueError, match="4 rows but sample_weight has 3"):
        compiled.fit_constants(p, np.ones(1), X, X[:, 0], sample_weight=np.ones(3))
    with pytest.raises(ValueError, match="non-negative"):
        compiled.fit_constants(p, np.ones(1), X, X[:, 0], sample_weight=-np.ones(4))


def _front(result):
    return json.dumps([c.to_dict() for c in result.front])


def test_weights_choose_the_law_the_search_finds():
    X, y, first, a, b = _two_laws()
    cfg = quick_config(max_iterations=4)
    on_a = Search(X, y, config=cfg, sample_weight=first.astype(float)).run()
    on_b = Search(X, y, config=cfg, sample_weight=(~first).astype(float)).run()
    assert on_a.best.r2 > 1 - 1e-9 and on_b.best.r2 > 1 - 1e-9  # R² on the rows that count
    pred_a, pred_b = on_a.best.expression.evaluate(X), on_b.best.expression.evaluate(X)
    assert np.allclose(pred_a, a, rtol=1e-8) and not np.allclose(pred_a[~first], b[~first], rtol=1e-2)
    assert np.allclose(pred_b, b, rtol=1e-8) and not np.allclose(pred_b[first], a[first], rtol=1e-2)
    unweighted = Search(X, y, config=cfg).run()
    assert unweighted.best.r2 < 0.99  # neither law explains both halves


def test_no_weights_and_uniform_weights_give_the_unweighted_front():
    X, y, *_ = _two_laws(150, seed=3)
    cfg = quick_config()
    plain = _front(Search(X, y, config=cfg).run())
    assert _front(Search(X, y, config=cfg, sample_weight=None).run()) == plain
    assert _front(Search(X, y, config=cfg, sample_weight=np.full(150, 2.0)).run()) == plain


def test_weights_reach_the_scorer_and_r2():
    X, y, first, *_ = _two_laws(100)
    w = np.where(first, 1.0, 0.0)
    s = Search(X, y, config=quick_config(max_iterations=1), sample_weight=w)
    assert s.problem.y_var == pytest.approx(np.var(y[first]))
    assert s.evaluator.var_y == pytest.approx(np.var(y[first]))
    assert len(s.evaluator.y) == first.sum()  # rows of weight 0 take no part
    (cand,) = s.problem.evaluate([parse("x0 * square(x1)", ["x0", "x1"])])
    assert cand.loss < 1e-20 and cand.r2 == pytest.approx(1.0)
