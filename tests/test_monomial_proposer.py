"""The ``monomial`` proposer: power laws fitted in log space."""

import numpy as np
import pytest

from symdescent.errors import ConfigError
from symdescent.plugins.monomial import log_exponents, monomial
from symdescent.search import Search

ALL = {"add", "mul", "div", "square", "cube", "sqrt", "pow"}


def law(seed=0, n=300):
    """A product of five powers whose values span many orders of magnitude (a Bohr-energy-like law)."""
    X = np.random.default_rng(seed).uniform(1, 5, size=(n, 5))
    return X, -X[:, 0] * X[:, 1] ** 4 / (8 * X[:, 2] ** 2 * X[:, 3] ** 2 * X[:, 4] ** 2)


def test_the_exponents_of_a_power_law_come_out_of_the_logs():
    X, y = law()
    assert np.allclose(log_exponents(X, y, [0, 1, 2, 3, 4]), [1, 4, -2, -2, -2])


def test_a_monomial_is_written_with_the_operators_allowed():
    assert monomial([0, 1], [2.0, -1.0], ALL).to_infix() == "square(x0) / x1"
    assert monomial([0, 1], [3.0, 1.5], ALL).to_infix() == "cube(x0) * x1**1.5"
    assert monomial([0, 1], [2.0, -1.0], {"mul", "pow"}).to_infix() == "x0 * x0 * x1**(-1.0)"
    assert monomial([0], [1.5], {"mul", "div"}) is None  # no way to write x**1.5
    assert monomial([0, 1], [1.0, 1.0], {"div"}) is None


def test_one_iteration_of_the_proposer_finds_a_five_factor_law_exactly():
    """The law is a 15-node tree; one iteration of the proposer alone (no refiners) writes it."""
    X, y = law()
    r = Search(X, y, config={"search": {"max_iterations": 1, "time_budget": None, "seed": 0, "workers": 1},
                             "strategy": {"proposers": ["monomial"], "refiners": []}}).run()
    assert r.best.r2 > 1 - 1e-12
    assert sorted(r.best.expression.variables) == [0, 1, 2, 3, 4]
    assert r.best.origin == "monomial"


def test_nothing_is_proposed_without_a_power_law_to_fit():
    """A target that changes sign has no power law; a column that reaches zero never enters a product."""
    X, y = law()
    cfg = {"search": {"max_iterations": 1, "time_budget": None, "seed": 0, "workers": 1},
           "strategy": {"proposers": ["monomial"], "refiners": []}}
    with pytest.warns(UserWarning, match="scored no valid candidate"):  # the fit's fallback: nothing was proposed
        r = Search(X, y - y.mean(), config=cfg).run()
    assert not any(c.origin == "monomial" for c in r.front)
    X0 = X.copy()
    X0[7, 1] = 0.0
    r = Search(X0, y, config=cfg).run()
    assert r.front and all(1 not in c.expression.variables for c in r.front)


def test_bad_settings_are_named():
    X, y = law()
    with pytest.raises(ConfigError, match="plugins.monomial.max_factors"):
        Search(X, y, config={"strategy": {"proposers": ["monomial"]}, "plugins": {"monomial": {"max_factors": 0}}})
