"""Found expressions as named programs, chained into pipelines (symdescent.compose)."""

import json

import numpy as np
import pytest
import sympy

from conftest import quick_config
from symdescent.compose import NamedProgram, Pipeline, compose
from symdescent.errors import DataError, ExpressionError
from symdescent.expr import Expression, parse
from symdescent.search import Search


@pytest.fixture
def chain():
    """v = p / m and E = C m v^2 with a fitted-style constant C = 0.5."""
    v = NamedProgram.parse("p / m", ["p", "m"], "v")
    energy = NamedProgram(parse("C * m * v**2", ["m", "v"]).with_constants([0.5]), ("m", "v"), "E")
    return v, energy


def test_program_calls_on_names_keywords_and_arrays():
    p = NamedProgram.parse("a * b + 2", ["a", "b"], "c")
    a, b = np.array([1.0, 2.0, 3.0]), np.array([4.0, 5.0, 6.0])
    np.testing.assert_allclose(p({"a": a, "b": b}), a * b + 2)
    np.testing.assert_allclose(p(a=a, b=b), a * b + 2)
    np.testing.assert_allclose(p(np.column_stack([a, b])), a * b + 2)
    np.testing.assert_allclose(p(a=a, b=10.0), a * 10 + 2)  # broadcast
    assert p(a=2.0, b=3.0).shape == ()
    grid = p(a=a[:, None], b=b[None, :])
    assert grid.shape == (3, 3)
    assert p(np.ones((4, 5, 2))).shape == (4, 5)


def test_program_needs_only_the_inputs_it_reads():
    p = NamedProgram.parse("2 * y", ["x", "y"], "z")
    assert p.used_inputs == ("y",)
    np.testing.assert_allclose(p(y=np.arange(3.0)), [0, 2, 4])
    with pytest.raises(DataError, match="needs input"):
        p(x=1.0)
    with pytest.raises(DataError, match="input column"):
        p(np.ones((3, 3)))


def test_program_validates_names_and_variables():
    with pytest.raises(ExpressionError, match="reads x2"):
        NamedProgram(parse("x0 + x2"), ("a", "b"), "c")
    with pytest.raises(ExpressionError, match="'a' is given twice"):
        NamedProgram(parse("x0"), ("a", "a"), "c")
    with pytest.raises(ExpressionError, match="'sin' clashes with a function"):
        NamedProgram(parse("x0"), ("a",), "sin")
    with pytest.raises(ExpressionError):
        NamedProgram("x0 + 1", ("a",), "c")


def test_program_exports(chain):
    _, energy = chain
    m, v, E = sympy.symbols("m v E", real=True)
    assert sympy.simplify(energy.to_sympy() - m * v**2 / 2) == 0
    assert energy.equation().lhs == E
    assert energy.to_latex().startswith("E = ")
    f = energy.to_callable()
    np.testing.assert_allclose(f(np.array([[2.0, 3.0]])), [9.0])
    back = NamedProgram.from_json(energy.to_json())
    assert back == energy and back.expression.constants == (0.5,)
    assert str(energy) == "E = " + energy.to_infix()


def test_pipeline_orders_programs_and_finds_inputs(chain):
    v, energy = chain
    pipe = compose(energy, v)  # out of order on purpose
    assert [p.output for p in pipe.programs] == ["v", "E"]
    assert pipe.inputs == ("p", "m")  # order of first use
    assert pipe.outputs == ("v", "E")
    assert pipe["E"] is energy
    out = pipe({"p": np.array([6.0, 2.0]), "m": np.array([2.0, 1.0])})
    np.testing.assert_allclose(out["v"], [3.0, 2.0])
    np.testing.assert_allclose(out["E"], [9.0, 2.0])
    # an array whose columns are the pipeline's inputs, in order (p, m)
    np.testing.assert_allclose(pipe(np.array([[6.0, 2.0]]))["E"], [9.0])


def test_pipeline_sympy_substituted_and_per_program(chain):
    pipe = compose(*chain)
    m, p, v = sympy.symbols("m p v", real=True)
    flat = pipe.to_sympy()
    assert sympy.simplify(flat["E"] - p**2 / (2 * m)) == 0
    assert flat["E"].free_symbols == {m, p}
    own = pipe.to_sympy(substitute=False)
    assert v in own["E"].free_symbols
    eqs = pipe.equations()
    assert [str(e.lhs) for e in eqs] == ["v", "E"]
    flat_prog = pipe.flatten("E")
    assert flat_prog.inputs == pipe.inputs and flat_prog.expression.constants == (0.5,)
    np.testing.assert_allclose(flat_prog(m=2.0, p=6.0), 9.0)


def test_pipeline_numpy_callable_orders_columns(chain):
    pipe = compose(*chain)
    f = pipe.to_callable(inputs=["p", "m"], outputs=["E", "v"])
    np.testing.assert_allclose(f(np.array([6.0, 2.0])), [9.0, 3.0])
    np.testing.assert_allclose(f(np.array([[6.0, 2.0], [2.0, 1.0]])), [[9.0, 3.0], [2.0, 2.0]])
    with pytest.raises(DataError, match="needs input"):
        pipe.to_callable(inputs=["p"])


def test_pipeline_json_round_trip(chain):
    pipe = compose(*chain, outputs=["E"])
    text = pipe.to_json()
    data = json.loads(text)
    assert data["format"] == "symdescent-pipeline" and data["outputs"] == ["E"]
    back = Pipeline.from_json(text)
    assert back == pipe and back.outputs == ("E",)
    assert set(back(p=6.0, m=2.0)) == {"E"}
    single = Pipeline.from_json(chain[0].to_json())
    assert single.outputs == ("v",)
    with pytest.raises(ExpressionError):
        Pipeline.from_json('{"format": "something-else"}')
    with pytest.raises(ExpressionError):
        Pipeline.from_json("not json")


def test_pipeline_rejects_cycles_duplicates_and_unknown_outputs():
    a = NamedProgram.parse("b + 1", ["b"], "a")
    b = NamedProgram.parse("a * 2", ["a"], "b")
    with pytest.raises(ExpressionError, match="cycle"):
        compose(a, b)
    with pytest.raises(ExpressionError, match="two programs"):
        compose(a, NamedProgram.parse("x", ["x"], "a"))
    with pytest.raises(ExpressionError, match="no program defines"):
        compose(a, outputs=["zz"])
    with pytest.raises(ExpressionError):
        compose()


def test_compose_flattens_pipelines():
    a = NamedProgram.parse("2 * x", ["x"], "u")
    b = NamedProgram.parse("u + y", ["u", "y"], "z")
    c = NamedProgram.parse("z * z", ["z"], "w")
    pipe = compose(compose(a, b), c)
    assert [p.output for p in pipe.programs] == ["u", "z", "w"]
    assert pipe(x=1.0, y=1.0)["w"] == pytest.approx(9.0)
    assert str(pipe.flatten("w")) == "w = (2 * x + y) * (2 * x + y)"


def test_ode_system_integrates():
    from scipy.integrate import solve_ivp

    dx = NamedProgram.parse("x * (1.5 - y)", ["x", "y"], "dx")
    dy = NamedProgram.parse("y * (x - 3)", ["x", "y"], "dy")
    rhs = compose(dx, dy).to_callable(inputs=["x", "y"])
    sol = solve_ivp(lambda t, s: rhs(s), (0, 2), [2.0, 1.0], rtol=1e-9, atol=1e-9)
    ref = solve_ivp(lambda t, s: [s[0] * (1.5 - s[1]), s[1] * (s[0] - 3)], (0, 2), [2.0, 1.0], rtol=1e-9, atol=1e-9)
    np.testing.assert_allclose(sol.y[:, -1], ref.y[:, -1], rtol=1e-6)


def test_programs_from_a_search(product_data):
    X, y = product_data
    result = Search(X, y, variable_names=["m", "v"], config=quick_config(max_iterations=2)).run()
    prog = NamedProgram.from_result(result, output="E")
    assert prog.inputs == ("m", "v")
    np.testing.assert_allclose(prog(m=X[:, 0], v=X[:, 1]), result.best.expression.evaluate(X))

    class Fitted:  # what NamedProgram.from_estimator reads from a fitted SymbolicRegressor
        expression_ = result.best.expression
        pareto_front_ = list(result.front)
        variable_names_ = ("m", "v")

    assert NamedProgram.from_estimator(Fitted(), output="E") == prog
    assert NamedProgram.from_estimator(Fitted(), output="E", index=0).expression == result.front[0].expression


def test_expression_round_trip_keeps_constants_exactly():
    e = Expression(("mul", "C", "x0"), (0.1 + 0.2,))
    p = NamedProgram(e, ("t",), "s")
    assert NamedProgram.from_json(p.to_json()).expression.constants == (0.1 + 0.2,)
