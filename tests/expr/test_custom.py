"""User-defined operators in the expression core (issue 19, point 2): formulas inlined into the compiled
kernels, Python functions on the numpy path, sympy, LaTeX, torch, units, per-search scope, complexity and
nesting limits."""

import pickle
import threading

import numpy as np
import pytest
import sympy

from symdescent.errors import ExpressionError
from symdescent.expr import Expression, compiled, ops, parse
from symdescent.expr.custom import (OperatorSet, check_complexity_table, check_nesting_table, complexity, define,
                                    expand, nesting_violations)
from symdescent.expr.evaluate import evaluate_with_jacobian
from symdescent.expr.fit import fit_expression
from symdescent.expr.sympy_bridge import from_sympy, simplify


def softsign(v):
    return v / (1 + np.abs(v))


@pytest.fixture(scope="module")
def custom():
    return OperatorSet({"softsign": "x / (1 + abs(x))", "hypot": "sqrt(x**2 + y**2)",
                        "bump": "softsign(x) * 0.5"})


@pytest.fixture(scope="module")
def X():
    return np.random.default_rng(0).uniform(-2, 2, size=(64, 2))


def test_a_formula_operator_is_one_node_that_prints_evaluates_and_converts(custom, X):
    with custom.use():
        e = parse("softsign(2*x0 - x1)")
        assert parse(e.to_infix()) == e
    assert e.tokens == ("softsign", "sub", "mul", "2", "x0", "x1") and e.complexity == 6
    assert e.to_infix() == "softsign(2 * x0 - x1)"  # outside the block: the expression keeps its operators
    np.testing.assert_allclose(e.evaluate(X), softsign(2 * X[:, 0] - X[:, 1]), rtol=1e-15)
    s = e.to_sympy()
    assert str(s) == "softsign(2*x0 - x1)"
    x0, x1 = sympy.symbols("x0 x1", real=True)
    assert sympy.simplify(s.doit() - (2 * x0 - x1) / (1 + sympy.Abs(2 * x0 - x1))) == 0
    assert sympy.expand_func(s) == s.doit()
    assert r"\operatorname{softsign}" in e.to_latex()
    assert float(s.subs({x0: 1, x1: 0}).evalf()) == pytest.approx(2 / 3)
    with custom.use():
        assert from_sympy(s) == e
        assert simplify(e) == e  # sympy keeps the named function: simplify has nothing shorter


def test_binary_and_nested_formulas(custom, X):
    with custom.use():
        h = parse("hypot(x0, 3 * x1)")
        b = parse("bump(x1)")
    np.testing.assert_allclose(h.evaluate(X), np.hypot(X[:, 0], 3 * X[:, 1]), rtol=1e-14)
    np.testing.assert_allclose(b.evaluate(X), 0.5 * softsign(X[:, 1]), rtol=1e-15)
    assert custom["hypot"].arity == 2 and custom["softsign"].arity == 1
    assert custom["bump"].body.to_infix() == "x0 / (1 + abs(x0)) * 0.5"  # the body with softsign inlined
    assert str(b.to_sympy().doit()) == "x1/(2*(Abs(x1) + 1))"  # 0.5 is exactly 1/2


def test_the_compiled_program_is_that_of_the_expanded_expression(custom, X):
    with custom.use():
        e = parse("softsign(2.5 * x0 + x1) + hypot(x0, 1.5)")
        flat = expand(e)
        assert "softsign" not in flat.tokens and "hypot" not in flat.tokens
        p, q = compiled.compile_program(e.tokens), compiled.compile_program(flat.tokens)
        assert p.n_constants == e.n_constants == 2 and q.n_constants == 3  # an argument used twice: one constant
        np.testing.assert_array_equal(p.code, q.code)
        np.testing.assert_array_equal(p.value[p.code == compiled.program.OP_LIT],
                                      q.value[q.code == compiled.program.OP_LIT])
        values = compiled.evaluate(p, np.array(e.constants), X)
        np.testing.assert_allclose(values, e.evaluate(X), rtol=1e-14)
        np.testing.assert_allclose(values, flat.evaluate(X), rtol=1e-14)
        # the compiled Jacobian (the inlined constant counted once) is the reference one (the body's derivative)
        f, J = compiled.evaluate_jacobian(p, np.array(e.constants), X)
        f_ref, J_ref = evaluate_with_jacobian(e.tokens, e.constants, X)
        np.testing.assert_allclose(J, J_ref, rtol=1e-12, atol=1e-14)
        np.testing.assert_allclose(f, f_ref, rtol=1e-14)


def test_constants_inside_a_formula_operator_are_fitted_on_the_compiled_path(custom, X):
    y = 3 * softsign(1.7 * X[:, 0] - 0.4) + 0.25
    with custom.use():
        res = fit_expression(parse("softsign(C * x0 + C)"), X, y, max_nfev=200)
    assert res.mse < 1e-20
    assert res.expression.tokens == ("add", "mul", "C", "softsign", "add", "mul", "C", "x0", "C", "C")
    np.testing.assert_allclose(res.expression.constants, [3.0, 1.7, -0.4, 0.25], rtol=1e-9)


def test_a_python_function_runs_on_the_numpy_path_and_its_constants_are_fitted(X):
    sinc = OperatorSet([define("sinc", np.sinc, sympy=lambda a: sympy.sin(sympy.pi * a) / (sympy.pi * a))])
    with sinc.use():
        e = parse("sinc(C * x0)")
        with pytest.raises(ExpressionError, match="no compiled kernel"):
            compiled.compile_program(e.tokens)
        y = 2 * np.sinc(0.8 * X[:, 0]) - 1
        res = fit_expression(e.with_constants([0.7]), X, y, max_nfev=100)
        _, J = evaluate_with_jacobian(("sinc", "mul", "C", "x0"), (0.8,), X)
    assert res.mse < 1e-18 and res.expression.tokens == ("add", "mul", "C", "sinc", "mul", "C", "x0", "C")
    np.testing.assert_allclose(res.expression.constants, [2.0, 0.8, -1.0], rtol=1e-9)
    h = 1e-6  # the finite-difference derivative against a difference of the function itself
    expected = (np.sinc((0.8 + h) * X[:, 0]) - np.sinc((0.8 - h) * X[:, 0])) / (2 * h)
    np.testing.assert_allclose(J[:, 0], expected, rtol=1e-6, atol=1e-8)
    s = e.to_sympy()
    assert str(s) == "sinc(x0)" and "pi" in str(s.doit())
    assert sinc.uncompiled(["add", "sinc"]) == ("sinc",)


def test_operators_exist_only_inside_their_set_and_each_set_has_its_own(X):
    a = OperatorSet({"f": "x + 1"})
    b = OperatorSet({"f": "2 * x"})
    with pytest.raises(ExpressionError, match="unknown function 'f'"):
        parse("f(x0)")
    with a.use():
        ea = parse("f(x0)")
        with b.use():  # the inner block's set replaces the outer's
            eb = parse("f(x0)")
        assert "f" in ops.OPERATORS and ops.UNARY["f"] is a["f"]
    assert "f" not in ops.OPERATORS and "f" not in ops.FUNCTION_ALIASES and len(ops.OPERATORS) == len(dict(ops.OPERATORS))
    np.testing.assert_allclose(ea.evaluate(X), X[:, 0] + 1)
    np.testing.assert_allclose(eb.evaluate(X), 2 * X[:, 0])
    seen = []
    with a.use():  # another thread does not see this thread's operators
        t = threading.Thread(target=lambda: seen.append("f" in ops.OPERATORS))
        t.start()
        t.join()
    assert seen == [False]


@pytest.mark.parametrize("operators, message", [
    ({"sin": "x + 1"}, "'sin' is a built-in operator or function name"),
    ({"ln": "x + 1"}, "'ln' is a built-in operator or function name"),
    ({"x3": "x + 1"}, "taken by the grammar"),
    ({"y": "x + 1"}, "taken by the grammar"),
    ({"f": "f(x) + 1"}, "'f' calls itself"),
    ({"f": "g(x)", "g": "h(x)", "h": "f(x) * 2"}, "f -> g -> h -> f call each other in a cycle"),
    ({"f": "sinn(x)"}, "unknown function 'sinn' at position 0; did you mean 'sin'"),
    ({"f": "C * x"}, "cannot hold the fitted constant C"),
    ({"f": "z + 1"}, "unknown variable 'z'"),
    ({"f": "2 + 3"}, "uses neither x nor y"),
    ({"f": {"formula": "x + y", "arity": 1}}, "arity 1, but its formula uses y"),
    ({"f": {"formula": "x", "complexity": 0}}, "complexity must be an integer >= 1"),
])
def test_bad_definitions_are_named_errors(operators, message):
    with pytest.raises(ExpressionError, match=message.replace("(", r"\(").replace(")", r"\)")):
        OperatorSet(operators)


def test_sets_pickle_as_their_definitions_and_expressions_keep_theirs(custom, X):
    with custom.use():
        e = parse("softsign(C * x0) + hypot(x0, x1)")
    back = pickle.loads(pickle.dumps(e))
    assert back == e and back.operators is not e.operators and list(back.operators) == list(custom)
    np.testing.assert_array_equal(back.evaluate(X), e.evaluate(X))
    custom.check_picklable()
    lock = threading.Lock()
    bad = OperatorSet({"locked": {"numpy": lambda a: a if lock else a, "arity": 1}})
    with pytest.raises(ExpressionError, match="'locked' cannot be sent to the worker processes"):
        bad.check_picklable()


def test_torch_and_jax_exports_of_formula_operators(custom, X):
    torch = pytest.importorskip("torch")
    with custom.use():
        e = parse("2.0 * softsign(1.5 * x0) + hypot(x0, x1)")
    m = e.to_torch()  # used outside the block: the module keeps the expression's operators
    out = m(torch.tensor(X))
    np.testing.assert_allclose(out.detach().numpy(), e.evaluate(X), rtol=1e-12)
    out.sum().backward()
    assert m.constants.shape == (2,) and torch.all(m.constants.grad != 0)
    assert m.to_expression() == e
    pytest.importorskip("jax")
    f = e.to_jax()
    np.testing.assert_allclose(np.asarray(f(X)), e.evaluate(X), rtol=1e-5)  # float32 unless x64 is enabled


def test_units_rules_of_user_operators(custom):
    from symdescent.expr.units import Dimension, check_dimensions

    m = Dimension.base("m")
    with custom.use():
        assert check_dimensions(parse("hypot(x0, x1)"), [m, m]).dimension == m
        assert check_dimensions(parse("hypot(x0, x1)"), [m, Dimension.base("s")]).violations == 1
        assert check_dimensions(parse("softsign(x0)"), [m]).violations == 1  # softsign needs a pure number
        assert check_dimensions(parse("softsign(x0 / x1)"), [m, m]).violations == 0
    sq = OperatorSet([define("sq", np.square, units=2), define("f", np.sinc)])
    with sq.use():
        assert check_dimensions(parse("sq(x0)"), [m]).dimension == m ** 2
        assert check_dimensions(parse("f(x0)"), [m]).violations == 1  # undeclared: dimensionless in and out


def test_complexity_weighs_nodes():
    e = parse("exp(C * x0) + x1")
    assert complexity(e.tokens) == complexity(e.tokens, {}) == e.complexity == 6
    assert complexity(e.tokens, {"exp": 3, "variable": 2, "constant": 4}) == 1 + 3 + 1 + 4 + 2 + 2
    assert check_complexity_table({"exp": 3, "variable": 2}) == {"exp": 3, "variable": 2}
    with pytest.raises(ExpressionError, match="did you mean 'exp'"):
        check_complexity_table({"epx": 2})
    with pytest.raises(ExpressionError, match="integer >= 1"):
        check_complexity_table({"exp": 0.5})


def test_nesting_limits_count_the_deepest_path():
    nested = check_nesting_table({"sin": ["sin", "cos"], "exp": {"exp": 1}})
    assert nested == {"sin": {"sin": 0, "cos": 0}, "exp": {"exp": 1}}
    cases = {"sin(x0) + cos(x1)": 0, "sin(cos(x0))": 1, "sin(x0 * sin(x1) + cos(x1))": 2,
             "cos(sin(x0))": 0, "exp(exp(x0)) * exp(x1)": 0, "exp(exp(exp(x0)))": 1, "exp(sin(exp(x0)))": 0}
    for text, bad in cases.items():
        assert nesting_violations(parse(text).tokens, nested) == bad, text
    assert nesting_violations(parse("sin(sin(x0))").tokens, {}) == 0
    with pytest.raises(ExpressionError, match="did you mean 'sin'"):
        check_nesting_table({"sinn": ["cos"]})
    with pytest.raises(ExpressionError, match="integer >= 0"):
        check_nesting_table({"sin": {"cos": -1}})


def test_an_expression_made_outside_any_set_knows_no_user_operator():
    with pytest.raises(ExpressionError, match="unknown token 'softsign'"):
        Expression(("softsign", "x0"))
