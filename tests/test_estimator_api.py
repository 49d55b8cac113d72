"""What PySR users reach for on the estimator (issue 19): equations_, plot(), pytorch()/jax(), a repr with the
formula, verbose progress and warm_start."""

import numpy as np
import pandas as pd
import pytest
import sympy

from symdescent import SymbolicRegressor
from symdescent.errors import ConfigError


def quick(**kw):
    params = dict(max_iterations=3, time_budget=None, random_state=0,
                  plugin_options={"descent": {"population_size": 60, "generations_per_iteration": 3}})
    params.update(kw)
    return SymbolicRegressor(**params)


X = np.random.default_rng(0).uniform(1, 3, size=(120, 2))


@pytest.fixture(scope="module")
def single():
    return quick().fit(X, 2.5 * X[:, 0] ** 2 + 0.3, variable_names=["m", "v"])


@pytest.fixture(scope="module")
def double():
    # five iterations: three find m/v only on some search paths (an Abs(m)/Abs(v) look-alike on others)
    return quick(max_iterations=5).fit(X, np.c_[X[:, 0] * X[:, 1], X[:, 0] / X[:, 1]], variable_names=["m", "v"])


# -- equations_ -------------------------------------------------------------------------------------------

def test_equations_is_the_front_as_a_table(single):
    from symdescent.expr.sympy_bridge import readable
    from symdescent.views import COLUMNS

    eq = single.equations_
    assert isinstance(eq, pd.DataFrame) and tuple(eq.columns) == COLUMNS
    assert list(eq.columns) == ["complexity", "loss", "r2", "score", "expression", "sympy", "chosen"]
    assert len(eq) == len(single.pareto_front_) and eq["complexity"].is_monotonic_increasing
    assert eq.dtypes["chosen"] == bool and eq["chosen"].sum() == 1
    row = eq[eq.chosen].iloc[0]
    best = single.best_
    assert (row.complexity, row.loss, row.r2, row.score) == (best.complexity, best.loss, best.r2, best.value)
    assert row.expression == readable(best.expression, ["m", "v"])
    assert isinstance(row.sympy, sympy.Expr) and row.sympy == single.sympy()
    for cand, (_, r) in zip(sorted(single.pareto_front_, key=lambda c: c.complexity), eq.iterrows()):
        assert r.sympy == cand.expression.to_sympy(["m", "v"]) and r.score == cand.value
    assert single.pareto_frame().equals(eq)  # one implementation


def test_equations_with_several_outputs_is_a_list(double):
    eqs = double.equations_
    assert isinstance(eqs, list) and len(eqs) == 2
    m, v = sympy.symbols("m v", real=True)
    assert [e.loc[e.chosen, "sympy"].item() for e in eqs] == double.sympy()
    assert sympy.simplify(double.sympy()[1] - m / v) == 0
    assert double.pareto_frame(output=1).equals(eqs[1])
    every = double.pareto_frame()
    assert list(every.columns)[0] == "output" and len(every) == sum(len(e) for e in eqs)


def test_equations_before_fit_is_not_fitted():
    from symdescent.errors import NotFittedError

    with pytest.raises(NotFittedError):
        quick().equations_
    assert not hasattr(quick(), "equations_")  # NotFittedError is an AttributeError, as scikit-learn's


# -- plot ---------------------------------------------------------------------------------------------------

def test_plot_is_plot_pareto_and_marks_the_chosen_model(single):
    matplotlib = pytest.importorskip("matplotlib")
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    assert SymbolicRegressor.plot_pareto is SymbolicRegressor.plot
    ax = single.plot()
    chosen = ax.collections[1].get_offsets()
    assert len(chosen) == 1 and chosen[0, 0] == single.best_.complexity
    from symdescent.expr.sympy_bridge import readable

    assert [t.get_text() for t in ax.texts] == [readable(single.best_.expression, ["m", "v"], 4)]
    assert "chosen" in [t.get_text() for t in ax.get_legend().get_texts()]
    plt.close("all")


# -- torch and jax ----------------------------------------------------------------------------------------

def test_pytorch_predicts_as_predict_and_its_constants_train(single):
    torch = pytest.importorskip("torch")
    assert SymbolicRegressor.pytorch is SymbolicRegressor.torch
    module = single.pytorch()
    assert isinstance(module, torch.nn.Module) and module.constants.requires_grad and module.constants.numel() >= 1
    Xt = torch.tensor(X)
    before = module(Xt).detach().clone()
    assert np.abs(before.numpy() - single.predict(X)).max() <= 1e-6
    optimiser = torch.optim.SGD(module.parameters(), lr=1e-3)
    (module(Xt) ** 2).mean().backward()
    optimiser.step()
    assert not torch.allclose(module(Xt), before)  # one gradient step moved the prediction


def test_jax_predicts_as_predict_and_its_constants_have_a_gradient(single):
    jax = pytest.importorskip("jax")
    jax.config.update("jax_enable_x64", True)
    import jax.numpy as jnp

    f = single.jax()
    assert np.abs(np.asarray(jax.jit(f)(X, f.params)) - single.predict(X)).max() <= 1e-6
    grad = jax.grad(lambda p: jnp.mean(f(X, p) ** 2))(f.params)
    assert grad.shape == f.params.shape and np.abs(np.asarray(grad)).max() > 0


# -- repr ---------------------------------------------------------------------------------------------------

def test_repr_shows_the_formula_once_fitted(single, double):
    plain = repr(quick())
    text = repr(single)
    head, *lines = text[len(plain):].split("\n")
    assert text.startswith(plain) and head == "" and len(lines) == 1
    assert lines[0].startswith(f"y = {single.equations_.loc[single.equations_.chosen, 'expression'].item()}   (R² ")
    assert f"complexity {single.best_.complexity})" in lines[0]
    two = repr(double).split("\n")
    assert two[-2].startswith("y0 = m*v ") and two[-1].startswith("y1 = m/v ")
    assert single._repr_mimebundle_()["text/plain"] == text  # a notebook's text view is the repr
    assert "<table" in single._repr_html_()  # and its HTML view the front


# -- verbose ------------------------------------------------------------------------------------------------

def test_quiet_by_default_and_a_line_per_iteration_when_verbose(capsys):
    y = X[:, 0] * X[:, 1]
    quick().fit(X, y)
    assert capsys.readouterr().err == ""
    quick(verbose=1).fit(X, y)
    lines = capsys.readouterr().err.splitlines()
    assert lines[0].startswith("symdescent: searching 120 rows x 2 columns for 3 iterations")
    assert [line.split("  ")[1].split()[:2] for line in lines[1:]] == [["iter", "1"], ["iter", "2"], ["iter", "3"]]
    assert all("best loss" in line and "R²" in line for line in lines[1:])
    quick(verbose=1, max_iterations=1).fit(X, np.c_[y, X[:, 0] + X[:, 1]])
    err = capsys.readouterr().err
    assert "symdescent [y0]: searching" in err and "symdescent [y1]: searching" in err


@pytest.mark.parametrize("param, value", [("verbose", -1), ("verbose", "yes"), ("warm_start", 1)])
def test_verbose_and_warm_start_are_checked(param, value):
    with pytest.raises(ConfigError, match=f"SymbolicRegressor: {param} must be"):
        quick(**{param: value}).fit(X, X[:, 0])


def test_new_parameters_are_parameters():
    from sklearn.base import clone

    est = quick(verbose=1, warm_start=True)
    assert est.get_params()["verbose"] == 1 and clone(est).warm_start is True
    assert SymbolicRegressor().get_params()["verbose"] == 0 and SymbolicRegressor().warm_start is False


# -- warm_start ---------------------------------------------------------------------------------------------

def _hard():
    """A law that six iterations approach much more closely than one."""
    Xh = np.random.default_rng(4).uniform(1, 3, size=(200, 2))
    return Xh, Xh[:, 0] ** 2 * Xh[:, 1] + np.sin(Xh[:, 1]) / Xh[:, 0]


def _keys(est):
    return {c.expression.key() for c in est.pareto_front_}


def _kept(model, est):
    """``model`` is on ``est``'s front, or a member as simple and at least as accurate replaced it (the front
    keeps one member per size: the warm iterations may refit the same form's constants a little better)."""
    return model.expression.key() in _keys(est) or any(
        c.complexity <= model.complexity and c.loss <= model.loss for c in est.pareto_front_)


def test_warm_start_goes_on_from_the_previous_front_and_population():
    Xh, yh = _hard()
    est = quick(max_iterations=6, warm_start=True).fit(Xh, yh)
    first = est.best_
    warm = est.set_params(max_iterations=1).fit(Xh, yh)
    cold = quick(max_iterations=1).fit(Xh, yh)
    assert warm.best_.value <= first.value + 1e-6 and warm.best_.loss <= first.loss * (1 + 1e-6) + 1e-12
    assert _kept(first, warm)  # the previous model is in the new front, or one that dominates it
    assert first.expression.key() not in _keys(cold)
    assert cold.best_.value > first.value and cold.best_.loss > 2 * first.loss
    # warm_start off: the second fit is a fresh one, the same as a new estimator's
    again = quick(max_iterations=6).fit(Xh, yh).set_params(max_iterations=1).fit(Xh, yh)
    assert again.equations_.equals(cold.equations_)


def test_warm_start_from_a_saved_model_and_a_cold_start_for_other_data(tmp_path):
    Xh, yh = _hard()
    quick(max_iterations=6).fit(Xh, yh, variable_names=["a", "b"]).save(tmp_path / "m.json")
    loaded = SymbolicRegressor.load(tmp_path / "m.json")
    first = loaded.best_
    warm = loaded.set_params(warm_start=True, max_iterations=1).fit(Xh, yh, variable_names=["a", "b"])
    assert warm.best_.value <= first.value + 1e-6 and _kept(first, warm)
    with pytest.warns(UserWarning, match=r"warm_start: the data has the columns \['x0', 'x1'\].*starts cold"):
        renamed = warm.fit(Xh, yh)  # other column names: a cold start
    assert renamed.equations_.equals(quick(max_iterations=1).fit(Xh, yh).equations_)
