"""Constants a reader can trust: snapped only where the data determine them, and only when simpler to read."""

import math

import numpy as np
import pytest

from symdescent.expr import parse
from symdescent.expr.fit import as_fraction, fit_expression, nice_values, snap_constants, standard_errors
from symdescent.expr.sympy_bridge import exact_number


def _real_like(seed=0, n=331):
    """Standardised features and a noisy linear target, scaled like sklearn's diabetes data."""
    rng = np.random.default_rng(seed)
    X = rng.normal(0, 0.0476, size=(n, 2))
    return X, 671.13 * (X[:, 0] + X[:, 1]) + 153 + rng.normal(0, 55, n)


@pytest.mark.parametrize("seed", range(4))
def test_noisy_constants_keep_their_decimals(seed):
    X, y = _real_like(seed)
    fitted = fit_expression(parse("x0 + x1"), X, y).expression
    assert fitted.n_constants == 2
    # the data fix the slope to about +-45 and the intercept to about +-3: 68*pi**2 or 153 claim far more
    assert snap_constants(fitted, X, y).constants == fitted.constants


def test_standard_errors_follow_the_noise():
    X, y = _real_like()
    fitted = fit_expression(parse("x0 + x1"), X, y).expression
    slope, intercept = standard_errors(fitted, X, y)
    assert 30 < slope < 60 and 2 < intercept < 4.5  # 55 / sqrt(331 * 2 * 0.0476**2) and 55 / sqrt(331)
    exact = fit_expression(parse("x0 + x1"), X, 671.13 * (X[:, 0] + X[:, 1]) + 153).expression
    assert (standard_errors(exact, X, 671.13 * (X[:, 0] + X[:, 1]) + 153) < 1e-9).all()


def test_no_long_numerators_with_powers_of_pi():
    for c in (671.13, 1077423 * math.pi**2, 744 / (7 * math.pi**2), 4583593441 * math.pi**2):
        for v in nice_values(c):
            frac, k = as_fraction(v)
            assert k == 0 or abs(frac.numerator) <= 16, (c, frac, k)
    # nor does printing turn such a float into an exact form
    for c in (68 * math.pi**2, 1077423 * math.pi**2, 4583593441.0, 744 / (7 * math.pi**2)):
        assert exact_number(c).is_Float, c


def test_snap_must_be_shorter_than_the_digits_the_data_determine():
    rng = np.random.default_rng(1)
    X = rng.uniform(1, 3, size=(200, 1))
    # 7/12 with 3 % noise: the data fix about 6 bits; "7/12" costs 6.4 bits and stays a decimal
    y = 7 / 12 * X[:, 0] ** 2 * (1 + rng.normal(0, 0.03, 200))
    fitted = fit_expression(parse("x0**2"), X, y).expression
    assert snap_constants(fitted, X, y).constants == fitted.constants
    # the same constant from clean data snaps
    y = 7 / 12 * X[:, 0] ** 2
    fitted = fit_expression(parse("x0**2"), X, y * (1 + 1e-9)).expression
    assert snap_constants(fitted, X, y).constants == (7 / 12,)


@pytest.mark.parametrize("value, text", [(1 / (4 * math.pi), "1/(4*pi)"), (0.5, "1/2"), (2 * math.pi, "2*pi"),
                                         (1 / (4 * math.pi**2), "1/(4*pi**2)"), (8 * math.pi / 3, "8*pi/3")])
def test_clean_data_snaps_exactly(value, text):
    X = np.random.default_rng(2).uniform(1, 5, size=(300, 2))
    y = value * X[:, 0] / X[:, 1] ** 2
    fitted = fit_expression(parse("x0 / x1**2"), X, y * (1 + 3e-10)).expression
    (c,) = snap_constants(fitted, X, y).constants
    assert str(exact_number(c)) == text


def test_bench_metrics_agree_on_what_is_nice():
    from symdescent.bench.metrics import nice_number

    for c in (1 / (4 * math.pi), 0.5, 2 * math.pi, 7 / (6 * math.pi**2), 8 * math.pi / 3, 153.0):
        assert nice_number(c) == exact_number(c), c
    for c in (68 * math.pi**2, 1077423 * math.pi**2, 4583593441.0):
        assert nice_number(c) is None, c


def _rational_data():
    X = np.random.default_rng(3).uniform(0.5, 4, size=(300, 2))
    return X, 3 * X[:, 0] / (X[:, 1] + 1)


REDUNDANT = "-9636.806*x0/(-3212.2687*x1 - 3212.2687)"  # 3*u/(w + 1) with constants the data cannot tell apart


def test_redundant_constants_are_normalised():
    from symdescent.expr.sympy_bridge import normalise_constants

    out = normalise_constants(parse(REDUNDANT))
    assert out.n_constants == 1 and out.constants[0] == pytest.approx(3, rel=1e-6)
    X, _ = _rational_data()
    np.testing.assert_allclose(out.evaluate(X), parse(REDUNDANT).evaluate(X), rtol=1e-12)
    assert normalise_constants(parse("2.5*x0/(x1 + 1)")) == parse("2.5*x0/(x1 + 1)")  # nothing to do


def test_polish_prints_the_exact_rational_formula():
    from symdescent.config import SearchConfig
    from symdescent.evaluation import Evaluator

    X, y = _rational_data()
    ev = Evaluator(X, y, SearchConfig(), np.random.default_rng(0))
    (cand,) = ev([parse(REDUNDANT)])
    polished = ev.polish(cand)
    assert str(polished.expression.to_sympy(["u", "w"])) == "3*u/(w + 1)"


def test_search_prints_an_injected_redundant_model_exactly():
    from symdescent.search import Search

    X, y = _rational_data()
    s = Search(X, y, variable_names=["u", "w"], config={"search": {"max_iterations": 1, "time_budget": None}})
    s.inject([parse(REDUNDANT)])
    best = s.run().best
    assert str(best.expression.to_sympy(["u", "w"])) == "3*u/(w + 1)"


def test_rationalize_uses_the_same_simple_numbers():
    import sympy

    from symdescent.bench.metrics import rationalize

    x = sympy.Symbol("x")
    assert rationalize(sympy.Float(0.0795774715459) * x) == x / (4 * sympy.pi)
    long = sympy.Float(671.1330887) * x  # 68*pi**2 to 1e-9, and not simple
    assert rationalize(long) == long


@pytest.mark.parametrize("c", [1.7e308, -1.7e308, 1e300, 5e-324])
def test_no_simple_form_for_constants_at_the_ends_of_float_range(c):
    # c / pi**-2 * q overflowed to inf and round(inf) raised OverflowError (a Feynman run's error)
    assert nice_values(c) == [] or all(math.isfinite(v) for v in nice_values(c))
    assert as_fraction(c) is None or math.isfinite(c)
