"""``search.operators`` is the whole set of operators a model may use, the fit's outer scaling included."""

import numpy as np
import pytest

from symdescent.expr import ops, parse
from symdescent.expr.fit import fit_expression
from symdescent.search import fit


def _used(expr) -> set[str]:
    return {t for t in expr.tokens if ops.arity(t)}


@pytest.fixture(scope="module")
def data():
    X = np.random.default_rng(0).uniform(0.5, 3, size=(120, 2))
    return X, 2 * np.sin(X[:, 0]) + 2 * np.pi / 7 + X[:, 1] / X[:, 0]


@pytest.mark.parametrize("operators", [["sin"], ["sin", "cos"], ["add", "sin"], ["mul", "exp"], ["div", "sub"],
                                       ["add", "sub", "mul", "div"]])
def test_every_front_member_uses_only_allowed_operators(data, operators):
    X, y = data
    r = fit(X, y, operators=operators, max_iterations=3, time_budget=None, seed=1)
    assert r.front
    for cand in r.front:
        assert _used(cand.expression) <= set(operators), (operators, cand.expression.to_infix())


def test_fit_adds_scale_and_offset_only_where_allowed(data):
    X, y = data
    e = parse("sin(x0)")
    assert _used(fit_expression(e, X, y).expression) == {"add", "mul", "sin"}
    assert _used(fit_expression(e, X, y, operators={"sin"}).expression) == {"sin"}
    assert _used(fit_expression(e, X, y, operators={"sin", "add"}).expression) == {"sin", "add"}
    assert _used(fit_expression(e, X, y, operators={"sin", "mul"}).expression) == {"sin", "mul"}
