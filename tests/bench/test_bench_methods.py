"""Method specs and the peers' adapters (models converted to sympy without parsing text)."""

import numpy as np
import pytest
import sympy

from symdescent.bench.methods import (GplearnMethod, OperonMethod, PysrMethod, SymdescentMethod, resolve_method,
                                      resolve_methods)
from symdescent.errors import ConfigError

#: the peers are optional: their tests skip, saying how to install them, where they are missing
BENCH_EXTRA = "(the bench extra: pip install -e '.[bench]')"


def _check_matches_predict(fitted, names, X, share=1.0, atol=1e-6):
    syms = [sympy.Symbol(n, positive=True) for n in names]
    assert fitted.expression.free_symbols <= set(syms)
    f = sympy.lambdify(syms, fitted.expression, "numpy")
    close = np.isclose(f(*X.T) * np.ones(len(X)), fitted.predict(X), rtol=1e-4, atol=atol)
    assert close.mean() >= share, f"{fitted.expression} differs from predict on {np.count_nonzero(~close)} rows"


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(0)
    X = rng.uniform(1, 3, size=(200, 2))
    return X, (X[:, 0] - X[:, 1]) / (1 + X[:, 0] * X[:, 1])


def test_resolve_methods(tmp_path):
    assert [type(m) for m in resolve_methods("symdescent, operon,gplearn,pysr")] == [
        SymdescentMethod, OperonMethod, GplearnMethod, PysrMethod]
    cfg = tmp_path / "fast.toml"
    cfg.write_text("[search]\nmax_iterations = 2\n")
    m = resolve_method(f"symdescent:{cfg}")
    assert m.label == f"symdescent:{cfg}" and m.config.search.max_iterations == 2
    with pytest.raises(ConfigError, match="did you mean 'gplearn'"):
        resolve_method("gplaern")
    with pytest.raises(ConfigError, match="no config named 'nosuchconfig'"):
        resolve_method("symdescent:nosuchconfig")
    with pytest.raises(ConfigError, match="given twice"):
        resolve_methods("pyoperon,operon")
    with pytest.raises(ConfigError, match="takes no options"):
        resolve_method("gplearn:fast")
    bad = tmp_path / "bad.toml"
    bad.write_text("[serch]\n")
    with pytest.raises(ConfigError, match="did you mean 'search'"):
        resolve_method(f"symdescent:{bad}")


def test_pysr_is_reported_unavailable_with_the_plugins_reason():
    reason = PysrMethod().unavailable_reason()
    if reason is None:
        pytest.skip("PySR with Julia is available here")
    assert isinstance(reason, str) and reason


def test_operon_model_as_sympy_matches_its_predictions(data):
    pytest.importorskip("pyoperon.sklearn", reason=f"pyoperon is not installed {BENCH_EXTRA}")
    X, y = data
    fitted = OperonMethod().fit(X, y, ("u", "v"), budget=1, seed=0)
    _check_matches_predict(fitted, ("u", "v"), X)


def test_gplearn_model_as_sympy_matches_its_predictions(data):
    pytest.importorskip("gplearn.genetic", reason=f"gplearn is not installed {BENCH_EXTRA}")
    X, y = data
    fitted = GplearnMethod(population_size=200).fit(X, y, ("u", "v"), budget=0.5, seed=0)
    assert fitted.info["generations"] >= 1
    # gplearn protects div, inv and log near zero (e.g. x/0.0005 -> 1); sympy shows the unprotected meaning
    _check_matches_predict(fitted, ("u", "v"), X, share=0.95)


def test_symdescent_method(data):
    X, y = data
    fitted = SymdescentMethod(config={"search": {"max_iterations": 2}}).fit(X, y, ("u", "v"), budget=5, seed=0)
    # sympy folds float constants in another order than the evaluator; a model with cancelling
    # constants of 1e12 then differs by ~1e-3 (ill-conditioned, but the same model)
    _check_matches_predict(fitted, ("u", "v"), X, atol=1e-2)
