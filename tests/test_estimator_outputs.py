"""The estimator's issue-19 features: row weights, several outputs, exports, and views of the front."""

import warnings

import numpy as np
import pandas as pd
import pytest
import sympy

from symdescent import SymbolicRegressor


def quick(**kw):
    params = dict(max_iterations=3, time_budget=None, random_state=0,
                  plugin_options={"descent": {"population_size": 60, "generations_per_iteration": 3}})
    params.update(kw)
    return SymbolicRegressor(**params)


@pytest.fixture(scope="module")
def two_outputs():
    X = np.random.default_rng(0).uniform(1, 3, size=(120, 2))
    Y = np.c_[X[:, 0] * X[:, 1], X[:, 0] / X[:, 1], X[:, 1] ** 2]
    # five iterations: at three the second output finds m/v on some search paths, sqrt(m**2/v**2) on others
    return X, Y, quick(max_iterations=5).fit(X, Y, variable_names=["m", "v"])


def test_weights_choose_the_model_and_score_weighs():
    X = np.random.default_rng(1).uniform(1, 3, size=(160, 2))
    first = np.arange(160) < 80
    a, b = X[:, 0] * X[:, 1] ** 2, X[:, 0] / X[:, 1]
    y = np.where(first, a, b)
    m, v = sympy.symbols("m v", real=True)
    on_a = quick().fit(X, y, sample_weight=first.astype(float), variable_names=["m", "v"])
    on_b = quick().fit(X, y, sample_weight=(~first).astype(float), variable_names=["m", "v"])
    assert sympy.simplify(on_a.sympy() - m * v**2) == 0
    assert sympy.simplify(on_b.sympy() - m / v) == 0
    # score is scikit-learn's weighted R²: perfect on the rows that count, poor on all rows
    assert on_a.score(X, y, sample_weight=first.astype(float)) == pytest.approx(1.0)
    assert on_a.score(X, y) < 0.9
    twice = quick().fit(X, y, sample_weight=np.full(160, 2.0), variable_names=["m", "v"])
    plain = quick().fit(X, y, variable_names=["m", "v"])
    assert twice.pareto_frame().equals(plain.pareto_frame())


def test_several_outputs(two_outputs, tmp_path):
    X, Y, est = two_outputs
    m, v = sympy.symbols("m v", real=True)
    assert est.n_outputs_ == 3 and est.predict(X).shape == (120, 3)
    exprs = est.sympy()
    assert isinstance(exprs, list) and len(exprs) == 3
    assert [sympy.simplify(e - t) for e, t in zip(exprs, [m * v, m / v, v**2])] == [0, 0, 0]
    assert np.allclose(est.predict(X), Y)
    assert isinstance(est.pareto_front_, list) and all(isinstance(f, list) for f in est.pareto_front_)
    assert len(est.latex()) == 3 and len(est.result_) == 3
    # the first output searches with the seed itself: the model a single-output fit finds
    single = quick(max_iterations=5).fit(X, Y[:, 0], variable_names=["m", "v"])
    assert single.pareto_frame().equals(est.pareto_frame(output=0))
    est.save(tmp_path / "three.json")
    back = SymbolicRegressor.load(tmp_path / "three.json")
    assert back.n_outputs_ == 3 and back.sympy() == exprs
    assert np.array_equal(back.predict(X), est.predict(X))
    assert back.pareto_frame().equals(est.pareto_frame())


def test_several_outputs_from_a_dataframe_and_a_bad_column():
    from symdescent.errors import DataError

    X = pd.DataFrame(np.random.default_rng(2).uniform(1, 3, size=(60, 2)), columns=["a", "b"])
    Y = pd.DataFrame({"s": X.a + X.b, "p": X.a * X.b})
    est = quick(max_iterations=2).fit(X, Y)
    assert list(est.feature_names_in_) == ["a", "b"] and est.predict(X).shape == (60, 2)
    Y.loc[3, "p"] = np.nan
    with pytest.raises(DataError, match="NaN at row 3"):
        quick().fit(X, Y)


def test_column_vector_y_keeps_one_output():
    X = np.random.default_rng(3).uniform(1, 3, size=(50, 1))
    from sklearn.exceptions import DataConversionWarning

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        est = quick(max_iterations=1).fit(X, (2 * X[:, 0])[:, None])
    assert any(issubclass(w.category, DataConversionWarning) for w in caught)
    assert est.n_outputs_ == 1 and est.predict(X).shape == (50,) and not isinstance(est.sympy(), list)


def test_pareto_frame(two_outputs):
    X, Y, est = two_outputs
    frame = est.pareto_frame(output=1)
    assert list(frame.columns) == ["complexity", "loss", "r2", "score", "expression", "sympy", "chosen"]
    assert frame["complexity"].is_monotonic_increasing and frame["chosen"].sum() == 1
    assert frame.loc[frame.chosen, "sympy"].item() == est.sympy()[1]
    assert frame.loc[frame.chosen, "score"].item() == est.best_[1].value
    assert len(frame) == len(est.pareto_front_[1])
    every = est.pareto_frame()
    assert list(every.columns)[0] == "output" and sorted(set(every.output)) == [0, 1, 2]
    assert len(every) == sum(len(f) for f in est.pareto_front_)
    rows = pd.DataFrame([c.as_row(["m", "v"]) for c in est.pareto_front_[0]])
    assert list(rows.columns) == ["complexity", "loss", "r2", "expression"]


def test_plot_pareto_marks_the_chosen_model(two_outputs):
    matplotlib = pytest.importorskip("matplotlib")
    matplotlib.use("Agg")
    X, Y, est = two_outputs
    ax = est.plot_pareto(output=2)
    front = est.pareto_front_[2]
    points, chosen = ax.collections[0].get_offsets(), ax.collections[1].get_offsets()
    assert len(points) == len(front) and len(chosen) == 1
    assert sorted(points[:, 0]) == sorted(c.complexity for c in front)
    assert chosen[0, 0] == est.best_[2].complexity
    assert ax.get_yscale() == "log"
    assert [t.get_text() for t in ax.texts] == ["v**2"]
    import matplotlib.pyplot as plt

    _, own = plt.subplots()
    assert est.plot_pareto(ax=own) is own
    plt.close("all")


def test_plot_without_matplotlib_says_what_to_install(two_outputs, monkeypatch):
    from symdescent.errors import DependencyError

    from conftest import block_imports

    block_imports(monkeypatch, "matplotlib")
    with pytest.raises(DependencyError, match="pip install matplotlib"):
        two_outputs[2].plot_pareto()


def test_notebook_display(two_outputs):
    X, Y, est = two_outputs
    unfitted = quick()
    assert unfitted._repr_mimebundle_()["text/plain"] == repr(unfitted)  # sklearn's display, unchanged
    assert "v**2" not in unfitted._repr_mimebundle_().get("text/html", "")
    bundle = est._repr_mimebundle_()
    assert bundle["text/plain"].startswith(repr(est)) and "m*v" in bundle["text/plain"]
    assert "x_" not in bundle["text/latex"] and "m v" in bundle["text/latex"]
    html = bundle["text/html"]
    assert "<table" in html and "m*v" in html and "$$" in html
    assert "sk-" in html  # scikit-learn's parameter diagram is still there, below
    summary = html[:html.index("<style")] if "<style" in html else html
    assert "<table" in summary and est._repr_html_().startswith(summary)  # the same view for _repr_html_
    assert repr(est).startswith(repr(quick(max_iterations=5)) + "\ny0 = m*v ")  # the parameters, then each output's formula


def test_torch_and_jax_exports_from_the_estimator(two_outputs):
    torch = pytest.importorskip("torch")
    X, Y, est = two_outputs
    modules = est.torch()
    assert len(modules) == 3
    out = torch.stack([mod(torch.tensor(X)) for mod in modules], dim=1).detach().numpy()
    assert np.abs(out - est.predict(X)).max() <= 1e-6
    single = quick().fit(X, 2.5 * X[:, 0] ** 2 + 0.3)
    mod = single.torch()
    assert isinstance(mod, torch.nn.Module)
    Xt = torch.tensor(X)
    assert np.abs(mod(Xt).detach().numpy() - single.predict(X)).max() <= 1e-6
    if mod.constants.numel():  # a gradient step on the constants changes the prediction
        before = mod(Xt).detach().clone()
        (mod(Xt) ** 2).mean().backward()
        with torch.no_grad():
            mod.constants -= 1e-3 * mod.constants.grad
        assert not torch.allclose(mod(Xt), before)


def test_jax_export_from_the_estimator(two_outputs):
    jax = pytest.importorskip("jax")
    jax.config.update("jax_enable_x64", True)
    X, Y, est = two_outputs
    fs = est.jax()
    got = np.column_stack([np.asarray(jax.jit(f)(X, f.params)) for f in fs])
    assert np.abs(got - est.predict(X)).max() <= 1e-6


def test_an_interrupted_multi_output_fit_ends_soon_with_a_model_for_each_output():
    """Ctrl-C or SIGTERM during output 0's search: the later outputs run one quick iteration each
    (not their whole budget), and every result says it was interrupted."""
    from symdescent import SymbolicRegressor, hookimpl

    class CtrlCOnce:
        fired = False

        @hookimpl
        def symdescent_iteration_end(self, problem, state):
            if not self.fired and state.iteration == 2:
                self.fired = True
                raise KeyboardInterrupt

    X = np.random.default_rng(0).uniform(1, 3, size=(120, 2))
    Y = np.column_stack([X[:, 0] * X[:, 1], X[:, 0] + X[:, 1]])
    est = SymbolicRegressor(max_iterations=8, time_budget=None, random_state=0, callbacks=[CtrlCOnce()])
    est.fit(X, Y)
    first, second = est.result_
    assert first.interrupted and first.iterations == 2
    assert second.interrupted and second.stop_reason == "interrupted" and second.iterations == 1
    assert est.predict(X).shape == (120, 2)
