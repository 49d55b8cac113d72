"""Metrics: R², accuracy and symbolic solutions, complexity."""

import threading

import numpy as np
import pytest
import sympy
from sympy import exp, pi, sqrt

from symdescent.bench import metrics
from symdescent.bench.metrics import (accuracy_solution, check_model, check_symbolic, complexity, nice_number,
                                      r2_score, rationalize)

m, v, q1, q2, r, theta = sympy.symbols("m v q1 q2 r theta", positive=True)


@pytest.mark.parametrize("model, truth", [
    (0.5 * m * v**2, m * v**2 / 2),                                  # exact after rationalising
    (0.0795775 * q1 * q2 / r**2, q1 * q2 / (4 * pi * r**2)),         # 1/(4 pi)
    (0.39894228 * exp(-0.5 * theta**2), exp(-theta**2 / 2) / sqrt(2 * pi)),  # ratio is a constant
    (m * v**2 / 2 + 0.3, m * v**2 / 2),                              # difference is a constant
    (1.7 * m * v**2, m * v**2 / 2),                                  # ratio is a constant
    (sqrt(m**2 * v**4), m * v**2),                                   # positive symbols
])
def test_symbolic_solutions(model, truth):
    assert check_symbolic(model, truth, timeout=10).symbolic


@pytest.mark.parametrize("model, truth", [
    (m * v**2, m * v**3),
    (0.5 * m * v**2 + 0.01 * v, m * v**2 / 2),
    (sympy.Integer(0) * m, m * v),                                   # ratio zero is not a solution
    (sympy.Float(2.5), m * v),
])
def test_not_symbolic_solutions(model, truth):
    assert not check_symbolic(model, truth, timeout=10).symbolic


def test_real_symbols_are_made_positive():
    x = sympy.Symbol("m", real=True)
    assert check_symbolic(sqrt(x**2), m, timeout=10).symbolic


c, x1, x2 = sympy.symbols("c x1 x2", positive=True)
LORENTZ = m / sqrt(1 - v**2 / c**2)


@pytest.mark.parametrize("model, truth", [
    (m * sqrt(c / (c - v**2 / c)), LORENTZ),                        # sqrt(a)/sqrt(b) = sqrt(a/b) needs c > v
    (m * sqrt((c + v) / (c - v)), m * (1 + v / c) / sqrt(1 - v**2 / c**2)),
])
def test_domain_power_rules_for_accurate_models(model, truth):
    assert not check_symbolic(model, truth, timeout=10).symbolic
    assert check_symbolic(model, truth, timeout=10, accurate=True).symbolic


@pytest.mark.parametrize("model, truth", [
    (m * sqrt(c / (c - v**2 / c)) + v, LORENTZ),
    (m * sqrt(c / (c - v / c)), LORENTZ),
    (sqrt((x1 - x2)**2) * m, (x1 - x2) * m + v),                    # |x1 - x2| is not x1 - x2 + v
])
def test_domain_power_rules_do_not_accept_wrong_models(model, truth):
    assert not check_symbolic(model, truth, timeout=10, accurate=True).symbolic


def test_accuracy_flag_reaches_the_child_process():
    model, truth = m * sqrt(c / (c - v**2 / c)), LORENTZ
    assert not check_model(model, truth, timeout=10).symbolic
    assert check_model(model, truth, timeout=10, accurate=True).symbolic


def test_complexity_counts_preorder_nodes():
    x = sympy.Symbol("x")
    assert complexity(x) == 1
    assert complexity(sympy.sin(x) + 1) == 4          # Add, 1, sin, x
    assert complexity(m * v**2 / 2) == 6              # Mul, 1/2, m, Pow, v, 2
    assert check_symbolic(0.5 * m * v**2, m * v**2 / 2).complexity == 6


def test_nice_numbers():
    assert nice_number(0.5000001) == sympy.Rational(1, 2)
    assert nice_number(0.0795775) == 1 / (4 * pi)
    assert nice_number(6.2831853) == 2 * pi
    assert nice_number(3.0) == 3
    assert nice_number(0.123456789) is None
    assert nice_number(181.38226318359375) is None  # no long sums of rationals and pi
    assert rationalize(m**2.0000001 * 1.5) == sympy.Rational(3, 2) * m**2


def test_r2_and_accuracy():
    y = np.array([1.0, 2.0, 4.0])
    assert r2_score(y, y) == 1.0
    assert r2_score(y, np.array([1.0, np.nan, 4.0])) == float("-inf")
    assert r2_score(y, np.full(3, y.mean())) == pytest.approx(0.0)
    assert accuracy_solution(0.9995) and not accuracy_solution(0.999) and not accuracy_solution(float("nan"))


def test_check_model_runs_in_a_child_process_from_any_thread():
    box = {}
    t = threading.Thread(target=lambda: box.update(res=check_model(0.0795775 * q1 * q2 / r**2,
                                                                   q1 * q2 / (4 * pi * r**2), timeout=10)))
    t.start()
    t.join(60)
    res = box["res"]
    assert res.symbolic and not res.timed_out
    assert res.simplified == str(q1 * q2 / (4 * pi * r**2))


def test_check_model_gives_up_at_the_time_limit(monkeypatch):
    from symdescent.expr import sympy_bridge

    monkeypatch.setattr(sympy_bridge, "CHILD_STARTUP_S", 0.0)
    res = check_model(0.5 * m * v**2, m * v**2 / 2, timeout=0.01)  # killed before it can answer
    assert res.timed_out and not res.symbolic
    assert res.complexity == 6


def test_symbolic_columns_of_a_row(monkeypatch):
    cols = metrics.symbolic_columns(m * sqrt(c / (c - v**2 / c)), LORENTZ, timeout=10, accurate=True, max_chars=8)
    assert cols["symbolic_solution"] and not cols["simplify_timed_out"]
    assert len(cols["model_simplified"]) <= 8 and "message" not in cols

    def broken(*args, **kwargs):
        raise RuntimeError("symbolic check failed: sympy gave up")

    monkeypatch.setattr(metrics, "check_model", broken)
    cols = metrics.symbolic_columns(0.5 * m * v**2, m * v**2 / 2)
    assert cols["symbolic_solution"] is False and cols["complexity"] == 6  # of the model as it came
    assert "sympy gave up" in cols["message"]
