"""The operator table: every operator of symdescent.expr.ops, through every path that reads the table.

Each test is parametrised over the table itself, so an operator added to it is checked here without a new
case: its compiled kernel lines against its numpy function and derivative (values, Jacobian, the scalar
path), its derivative against finite differences, printing and parsing, sympy both ways (and sympy's
numbers against numpy's), LaTeX, the torch and jax exports and the grammar sampler.
"""

import numpy as np
import pytest

from symdescent.errors import ExpressionError
from symdescent.expr import Expression, compiled, ops, parse
from symdescent.expr.evaluate import evaluate_tokens, evaluate_with_jacobian
from symdescent.expr.generate import GrammarSampler
from symdescent.expr.sympy_bridge import from_sympy, to_sympy

NAMES = list(ops.OPERATORS)
COMPILED = [n for n, op in ops.OPERATORS.items() if op.opcode is not None]


def _inside(seed=0, n=64):
    """Rows inside every built-in operator's domain: the first argument in (0.1, 0.9) (asin, log, sqrt, the
    base of pow), the second in (0.5, 2.5)."""
    rng = np.random.default_rng(seed)
    return np.column_stack([rng.uniform(0.1, 0.9, n), rng.uniform(0.5, 2.5, n)])


def _everywhere(seed=1, n=64):
    """Rows across the real line, domain errors, zeros and overflow included."""
    X = np.random.default_rng(seed).uniform(-4.0, 4.0, size=(n, 2))
    X[:2] = 0.0
    X[2] = [1.0, -1.0]
    X[3] = [800.0, -800.0]
    X[4] = [-1e-300, 1e300]
    return X


def _leaf_forms(name):
    """Token sequences that put ``name`` on vectors, on scalars and on mixtures (the kernels' cases)."""
    if ops.arity(name) == 1:
        return [(name, "x0"), (name, "C"), (name, "1"), ("add", "x1", name, "x0")]
    return [(name, "x0", "x1"), (name, "C", "x0"), (name, "x0", "C"), (name, "C", "C"), (name, "x1", "2")]


def _with_constants(name):
    """``name`` over arguments holding constants, so that the Jacobian runs through its derivative."""
    if ops.arity(name) == 1:
        return (name, "mul", "C", "x0")
    return (name, "mul", "C", "x0", "add", "x1", "C")


def _same(got, want, rtol=1e-14):
    """Equal NaN and inf patterns; finite values within ``rtol`` (libm and numpy's SIMD functions may
    differ in the last bits)."""
    assert np.array_equal(np.isnan(got), np.isnan(want))
    assert np.array_equal(np.isposinf(got), np.isposinf(want)) and np.array_equal(np.isneginf(got), np.isneginf(want))
    ok = np.isfinite(want)
    np.testing.assert_allclose(got[ok], want[ok], rtol=rtol, atol=0)


def test_the_table_is_consistent():
    assert list(ops.OPERATORS) == [*ops.BINARY, *ops.UNARY]
    for name, op in ops.OPERATORS.items():
        assert op.name == name and op.arity in (1, 2) and op.description and op.complexity >= 1
        assert (ops.BINARY if op.arity == 2 else ops.UNARY)[name] is op
        assert all(ops.FUNCTION_ALIASES[c] == name for c in op.call_names)
    codes = [op.opcode for op in ops.OPERATORS.values() if op.opcode is not None]
    assert len(codes) == len(set(codes)) and min(codes) >= ops.FIRST_OPCODE
    assert set(ops.FUNCTION_ALIASES.values()) <= set(ops.OPERATORS)
    assert ops.default_weights(1) == {n: op.weight for n, op in ops.UNARY.items()}
    from symdescent.expr.units import RULES  # the units check reads each operator's dimension rule

    assert RULES == {n: op.dimension for n, op in ops.OPERATORS.items() if op.dimension is not None}


@pytest.mark.parametrize("name", COMPILED)
def test_compiled_kernel_equals_numpy(name):
    """Every operator with an opcode has its lines in the kernels: values and derivatives as numpy's."""
    for inside, X in ((True, _inside()), (False, _everywhere())):
        for tokens in _leaf_forms(name):
            c = np.full(tokens.count(ops.CONST), 0.7)
            want = evaluate_tokens(tokens, c, X)
            assert np.isfinite(want).all() or not inside, tokens
            _same(compiled.evaluate(tokens, c, X), want)
            f, J = compiled.evaluate_jacobian(tokens, c, X)
            _same(f, want)
        tokens = _with_constants(name)
        c = np.array([0.8, 0.3])[: tokens.count(ops.CONST)]
        f_ref, J_ref = evaluate_with_jacobian(tokens, c, X)
        f, J = compiled.evaluate_jacobian(tokens, c, X)
        _same(f, f_ref)
        for j in range(J.shape[1]):
            _same(J[:, j], J_ref[:, j], rtol=1e-13)


@pytest.mark.parametrize("name", NAMES)
def test_numpy_derivative_matches_finite_differences(name):
    X = _inside()
    tokens = _with_constants(name)
    c = np.array([0.8, 0.3])[: tokens.count(ops.CONST)]
    _, J = evaluate_with_jacobian(tokens, c, X)
    for j in range(len(c)):
        h = 1e-6 * max(1.0, abs(c[j]))
        up, down = c.copy(), c.copy()
        up[j] += h
        down[j] -= h
        fd = (evaluate_tokens(tokens, up, X) - evaluate_tokens(tokens, down, X)) / (2 * h)
        np.testing.assert_allclose(J[:, j], fd, rtol=1e-6, atol=1e-8, err_msg=name)


@pytest.mark.parametrize("name", NAMES)
def test_prints_and_parses_back(name):
    inner = ("add", "x0", "C") if ops.arity(name) == 1 else ("mul", "C", "x0", "x1")
    for e in (Expression((name, "x0") if ops.arity(name) == 1 else (name, "x0", "x1")),
              Expression((name, *inner), (0.25,)),
              Expression(("sub", name, *inner, "x1"), (0.25,)),
              Expression(("pow", name, *inner, "2"), (0.25,))):
        text = e.to_infix()
        assert parse(text) == e, text
        assert parse(e.to_infix(["mass (kg)", "v"]), ["mass (kg)", "v"]) == e
    for call in ops.OPERATORS[name].call_names:  # every name the parser reads calls this operator
        args = ", ".join(["x0", "x1"][: ops.arity(name)])
        assert parse(f"{call}({args})").tokens[0] == name


@pytest.mark.parametrize("name", NAMES)
def test_sympy_form_computes_what_numpy_does_and_reads_back(name):
    sympy = pytest.importorskip("sympy")
    e = Expression((name, "x0") if ops.arity(name) == 1 else (name, "x0", "x1"))
    X = _inside()
    s = to_sympy(e)
    f = sympy.lambdify(sympy.symbols("x0 x1", real=True), s, modules="numpy")
    np.testing.assert_allclose(np.broadcast_to(f(X[:, 0], X[:, 1]), len(X)), e.evaluate(X), rtol=1e-13)
    back = from_sympy(s)
    np.testing.assert_allclose(back.evaluate(X), e.evaluate(X), rtol=1e-13)
    assert isinstance(e.to_latex(), str) and e.to_latex()


@pytest.mark.parametrize("name", NAMES)
def test_exports_to_torch_as_numpy_computes(name):
    torch = pytest.importorskip("torch")
    e = Expression((name, "mul", "C", "x0") if ops.arity(name) == 1 else (name, "mul", "C", "x0", "x1"), (0.9,))
    for X in (_inside(), _everywhere()):
        module = e.to_torch()
        got = module(torch.tensor(X, dtype=torch.float64))
        _same(got.detach().numpy(), e.evaluate(X), rtol=1e-12)
    got.sum().backward()
    assert module.constants.grad.shape == (1,)


@pytest.mark.parametrize("name", NAMES)
def test_exports_to_jax_as_numpy_computes(name):
    jax = pytest.importorskip("jax")
    jax.config.update("jax_enable_x64", True)
    e = Expression((name, "mul", "C", "x0") if ops.arity(name) == 1 else (name, "mul", "C", "x0", "x1"), (0.9,))
    X = _inside()
    np.testing.assert_allclose(np.asarray(e.to_jax()(X)), e.evaluate(X), rtol=1e-12)


@pytest.mark.parametrize("name", NAMES)
def test_the_grammar_samples_it_with_its_weight(name):
    op = ops.OPERATORS[name]
    other = "neg" if op.arity == 2 else "add"
    s = GrammarSampler(n_variables=2, operators=(name, other), max_size=9)
    assert s.operator_names(op.arity) == ((name,) if op.weight > 0 else ())
    rng = np.random.default_rng(0)
    if op.weight > 0:
        assert any(name in s.sample(rng).tokens for _ in range(50))
    assert s.unary_weights == ops.default_weights(1) and s.binary_weights == ops.default_weights(2)


# -- registering an operator --------------------------------------------------------------------------------
@pytest.fixture
def scratch_table(monkeypatch):
    """The table's dicts as copies, restored after the test."""
    for name in ("OPERATORS", "BINARY", "UNARY", "FUNCTION_ALIASES"):
        monkeypatch.setattr(ops, name, dict(getattr(ops, name)))


def _softplus(**changes):
    import sympy

    fields = dict(name="softplus", arity=1, func=lambda a: np.log1p(np.exp(a)),
                  derivative=lambda a, f: (1.0 / (1.0 + np.exp(-a)),), infix="softplus",
                  sympy=lambda a: sympy.log(1 + sympy.exp(a)), array=lambda m, a: m.log1p(m.exp(a)),
                  description="log(1 + e ** a)")
    fields.update(changes)
    return ops.Operator(**fields)


def test_a_registered_operator_works_on_the_numpy_path(scratch_table):
    ops.register(_softplus())
    assert ops.validate_operator_names(["add", "softplus"]) == ("add", "softplus")
    e = parse("softplus(2.0 * x0) + ln(x0)")
    assert e.tokens[:2] == ("add", "softplus") and parse(e.to_infix()) == e
    X = _inside()
    np.testing.assert_allclose(e.evaluate(X), np.log1p(np.exp(2.0 * X[:, 0])) + np.log(X[:, 0]), rtol=1e-14)
    f, J = evaluate_with_jacobian(e.tokens, e.constants, X)
    np.testing.assert_allclose(J[:, 0], X[:, 0] / (1.0 + np.exp(-2.0 * X[:, 0])), rtol=1e-12)
    np.testing.assert_allclose(from_sympy(e.to_sympy()).evaluate(X), e.evaluate(X), rtol=1e-12)
    with pytest.raises(ExpressionError, match="'softplus' has no compiled kernel"):
        compiled.evaluate(e.tokens, e.constants, X)
    assert "softplus" in GrammarSampler(1, operators=("add", "softplus")).operator_names(1)


def test_register_refuses_a_clash_or_a_bad_entry(scratch_table):
    with pytest.raises(ExpressionError, match="'sin' is registered already"):
        ops.register(_softplus(name="sin"))
    with pytest.raises(ExpressionError, match="the name 'ln' is taken"):
        ops.register(_softplus(aliases=("ln",)))
    with pytest.raises(ExpressionError, match="opcode 12 is 'sin'"):
        ops.register(_softplus(opcode=12))
    with pytest.raises(ExpressionError, match="infix '\\+' is 'add'"):
        ops.register(_softplus(arity=2, infix="+"))
    for bad, match in (({"arity": 3}, "arity"), ({"name": "x1"}, "identifier"), ({"infix": "%"}, "infix"),
                       ({"opcode": 1}, "opcode"), ({"weight": -1.0}, "weight"),
                       ({"dimension": "product"}, "dimension must be one of keep, dimensionless or a Fraction")):
        with pytest.raises(ExpressionError, match=match):
            _softplus(**bad)
    assert "softplus" not in ops.OPERATORS


def test_a_binary_operator_named_like_a_function_prints_as_a_call(scratch_table):
    import sympy

    ops.register(ops.Operator("hypot", 2, np.hypot, lambda a, b, f: (a / f, b / f), "hypot",
                              sympy=lambda a, b: sympy.sqrt(a**2 + b**2), array="hypot",
                              description="sqrt(a ** 2 + b ** 2)"))
    e = parse("hypot(x0, 2.5 * x1) - 1")
    assert e.tokens == ("sub", "hypot", "x0", "mul", "C", "x1", "1")
    assert e.to_infix() == "hypot(x0, 2.5 * x1) - 1" and parse(e.to_infix()) == e
    with pytest.raises(ExpressionError, match="hypot takes 2 arguments, got 1"):
        parse("hypot(x0)")


# -- sinh and cosh: the operators added to show what a new built-in takes (the table entry, its kernel lines) --
def test_sinh_and_cosh_work_from_the_cli_the_parser_sympy_torch_and_pysr(tmp_path, capsys):
    import json
    import math

    import sympy

    from symdescent.cli import main
    from symdescent.config import DEFAULT_OPERATORS
    from symdescent_pysr.operators import translate_operators

    assert main(["operators", "--json"]) == 0
    rows = {r["name"]: r for r in json.loads(capsys.readouterr().out)}
    assert rows["sinh"]["arity"] == 1 and rows["sinh"]["description"].startswith("hyperbolic sine")
    assert not rows["sinh"]["default"] and not rows["cosh"]["default"]  # opt-in: default searches unchanged
    assert "sinh" not in DEFAULT_OPERATORS and "cosh" not in DEFAULT_OPERATORS

    e = parse("2.5 * sinh(x0) - cosh(x1)")
    assert e.tokens == ("sub", "mul", "C", "sinh", "x0", "cosh", "x1") and parse(e.to_infix()) == e
    x0, x1 = sympy.symbols("x0 x1", real=True)
    assert e.to_sympy() == sympy.Rational(5, 2) * sympy.sinh(x0) - sympy.cosh(x1)
    np.testing.assert_allclose(from_sympy(e.to_sympy()).evaluate(_inside()), e.evaluate(_inside()), rtol=1e-14)
    assert "sinh" in e.to_latex() and "cosh" in e.to_latex()
    X = _inside()
    want = 2.5 * np.sinh(X[:, 0]) - np.cosh(X[:, 1])
    np.testing.assert_allclose(compiled.evaluate(e.tokens, e.constants, X), want, rtol=1e-14)
    np.testing.assert_allclose(compiled.evaluate_jacobian(e.tokens, e.constants, X)[1][:, 0], np.sinh(X[:, 0]),
                               rtol=1e-14)
    assert translate_operators(["add", "sinh", "cosh"]).unary_operators == ("sinh", "cosh")
    torch = pytest.importorskip("torch")
    got = e.to_torch()(torch.tensor(X, dtype=torch.float64)).detach().numpy()
    np.testing.assert_allclose(got, want, rtol=1e-12)

    # a search that may use sinh finds y = 2 sinh(x) + 1 from the command line
    x = np.linspace(-2.0, 2.0, 60)
    (tmp_path / "data.csv").write_text("x,y\n" + "".join(f"{a!r},{2 * math.sinh(a) + 1!r}\n" for a in x.tolist()))
    assert main(["fit", str(tmp_path / "data.csv"), "--target", "y", "--seed", "0", "--time-budget", "20",
                 "--max-iterations", "3", "--set", "search.operators=add,mul,sinh", "--quiet"]) == 0
    found = capsys.readouterr().out.strip().splitlines()[-1]
    assert "sinh(x)" in found and sympy.simplify(sympy.sympify(found) - (2 * sympy.sinh(sympy.Symbol("x")) + 1)) == 0
