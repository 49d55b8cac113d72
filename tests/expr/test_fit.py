import numpy as np
import pytest

from symdescent.expr import parse
from symdescent.expr.fit import fit_expression


@pytest.fixture
def X():
    return np.random.default_rng(0).uniform(1, 3, size=(200, 2))


def test_linear_scaling_is_added_only_when_needed(X):
    y = X[:, 0] * X[:, 1]
    r = fit_expression(parse("x0 * x1"), X, y)
    assert r.expression.tokens == ("mul", "x0", "x1") and r.mse < 1e-25
    r = fit_expression(parse("x0 * x1"), X, 3 * y + 2)
    assert r.expression.tokens == ("add", "mul", "C", "mul", "x0", "x1", "C")
    np.testing.assert_allclose(r.expression.constants, [3.0, 2.0])


def test_inner_constants_are_fitted(X):
    y = 2.0 * np.exp(-0.7 * X[:, 0]) + X[:, 1]
    r = fit_expression(parse("C * exp(C * x0) + x1"), X, y, max_nfev=200)
    assert r.mse < 1e-20
    np.testing.assert_allclose(sorted(r.expression.constants), [-0.7, 2.0], rtol=1e-6)


def test_invalid_expression_is_reported(X):
    r = fit_expression(parse("log(x0 - 5)"), X, X[:, 0])
    assert not r.valid and r.mse == np.inf


def test_constant_expression_fits_mean(X):
    y = X[:, 0]
    r = fit_expression(parse("pi"), X, y)
    assert r.valid
    np.testing.assert_allclose(r.expression.evaluate(X), y.mean())
