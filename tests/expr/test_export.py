"""Exports to torch and jax: every operator, the same values as the numpy evaluation, trainable constants."""

import numpy as np
import pytest

from symdescent.expr import Expression, parse

# formulas as a user writes them; each operator on its own, through both exports, is in test_operators.py
CASES = [
    "2.5 * sin(x0) + cos(x1) - 0.3",
    "exp(-1.5 * x0) / (x1 + 2)",
    "log(x0 + 1.0) * sqrt(x1) - tanh(0.7 * x0)",
    "tan(x0) + asin(0.5 * x1)",
    "abs(x0 - x1) * square(x1) + cube(x0)",
    "x0 ** 1.5 + 3 * x1 ** 2 - pi",
    "-(x0 * x1) + 4",
    "sqrt(x0 - 0.5) + log(x1 - 0.5)",  # NaN on part of the rows: the exports agree there too
    "2.0",  # no variable at all: broadcast to one value per row
]


def _data(n=200, seed=0):
    return np.random.default_rng(seed).uniform(0.05, 0.95, size=(n, 2))


def test_the_cases_combine_the_usual_operators():
    usual = {"add", "sub", "mul", "div", "pow", "neg", "sqrt", "exp", "log", "sin", "cos", "tan", "tanh", "asin",
             "abs", "square", "cube"}  # each operator of the table on its own: test_operators.py
    used = {t for text in CASES for t in parse(text, ["x0", "x1"]).tokens}
    assert usual <= used, f"no test case uses {usual - used}"


@pytest.mark.parametrize("text", CASES)
def test_torch_module_equals_evaluate(text):
    torch = pytest.importorskip("torch")
    expr = parse(text, ["x0", "x1"])
    X = _data()
    module = expr.to_torch()
    assert isinstance(module, torch.nn.Module)
    got = module(torch.tensor(X, dtype=torch.float64)).detach().numpy()
    want = expr.evaluate(X)
    assert got.shape == (len(X),)
    assert np.array_equal(np.isnan(got), np.isnan(want))
    ok = np.isfinite(want)
    assert np.allclose(got[ok], want[ok], rtol=1e-10, atol=1e-10)
    assert module.to_expression() == expr


def test_torch_constants_are_trainable():
    torch = pytest.importorskip("torch")
    expr = parse("1.0 * exp(-0.5 * x0) + 0.2", ["x0"])
    module = expr.to_torch()
    params = list(module.parameters())
    assert len(params) == 1 and params[0].shape == (3,) and params[0].requires_grad
    X = torch.tensor(_data()[:, :1], dtype=torch.float64)
    y = 2.0 * torch.exp(-1.5 * X[:, 0]) + 0.7
    before = module(X).detach().clone()
    loss = ((module(X) - y) ** 2).mean()
    loss.backward()
    assert torch.isfinite(module.constants.grad).all() and (module.constants.grad != 0).all()
    opt = torch.optim.LBFGS(module.parameters(), max_iter=200, line_search_fn="strong_wolfe")

    def closure():
        opt.zero_grad()
        out = ((module(X) - y) ** 2).mean()
        out.backward()
        return out

    opt.step(closure)
    assert not torch.allclose(module(X), before)
    assert np.allclose(module.to_expression().constants, [2.0, -1.5, 0.7], atol=1e-3)


def test_torch_refuses_too_few_columns():
    torch = pytest.importorskip("torch")
    from symdescent.errors import ExpressionError

    with pytest.raises(ExpressionError, match="2 column"):
        parse("x0 + x1", ["x0", "x1"]).to_torch()(torch.zeros(3, 1))


def test_missing_backend_names_the_package(monkeypatch):
    import builtins

    from symdescent.errors import DependencyError

    real = builtins.__import__

    def no_torch(name, *args, **kwargs):
        if name.split(".")[0] == "torch":
            raise ImportError(name)
        return real(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_torch)
    monkeypatch.setattr("importlib.import_module", lambda name: no_torch(name))
    with pytest.raises(DependencyError, match="pip install torch"):
        Expression(("x0",)).to_torch()


@pytest.mark.parametrize("text", CASES)
def test_jax_function_equals_evaluate(text):
    jax = pytest.importorskip("jax")
    jax.config.update("jax_enable_x64", True)
    expr = parse(text, ["x0", "x1"])
    X = _data()
    f = expr.to_jax()
    got = np.asarray(jax.jit(f)(X, f.params))
    want = expr.evaluate(X)
    assert got.shape == (len(X),)
    assert np.array_equal(np.isnan(got), np.isnan(want))
    ok = np.isfinite(want)
    assert np.allclose(got[ok], want[ok], rtol=1e-10, atol=1e-10)
    assert np.allclose(np.asarray(f(X)), np.asarray(f(X, f.params)), equal_nan=True)


def test_jax_gradients_reach_the_constants():
    jax = pytest.importorskip("jax")
    jax.config.update("jax_enable_x64", True)
    import jax.numpy as jnp

    expr = parse("1.0 * exp(-0.5 * x0) + 0.2", ["x0"])
    f = expr.to_jax()
    X = jnp.asarray(_data()[:, :1])
    y = 2.0 * jnp.exp(-1.5 * X[:, 0]) + 0.7

    def loss(p):
        return jnp.mean((f(X, p) - y) ** 2)

    grad = jax.jit(jax.grad(loss))(f.params)
    assert grad.shape == (3,) and bool(jnp.all(jnp.isfinite(grad))) and bool(jnp.all(grad != 0))
    stepped = f.params - 0.1 * grad
    assert float(loss(stepped)) < float(loss(f.params))
