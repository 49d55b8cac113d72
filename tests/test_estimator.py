import numpy as np
import pandas as pd
import pytest
import sympy
from sklearn.base import clone
from sklearn.utils.estimator_checks import check_estimator

from symdescent import SymbolicRegressor
from symdescent.errors import DataError, NotFittedError


def quick(**kw):
    params = dict(max_iterations=2, random_state=0,
                  plugin_options={"descent": {"population_size": 40, "generations_per_iteration": 2}})
    params.update(kw)
    return SymbolicRegressor(**params)


#: scikit-learn's checks that cannot hold for this estimator, and why
EXPECTED_FAILED_CHECKS = {
    # the check takes weights as frequencies (weight 3 = the row three times, so more rows and more evidence);
    # symdescent's weights are relative, as weighted least squares' are: all weights 2.0 must give the unweighted
    # model, and model selection (the MDL and BIC rules) counts rows, which repetition changes
    "check_sample_weight_equivalence_on_dense_data": "weights are relative, not frequencies (see above)",
}


def test_check_estimator():
    check_estimator(quick(), expected_failed_checks=EXPECTED_FAILED_CHECKS)


def test_fit_predict_sympy(product_data):
    X, y = product_data
    est = quick(max_iterations=5).fit(X, y, variable_names=["m", "v"])
    assert est.score(X, y) > 0.999999
    m, v = sympy.symbols("m v", real=True)
    diff = sympy.simplify(est.sympy() - m * v**2 / 2)
    assert diff == 0 or abs(float(diff)) < 1e-6
    assert est.latex() == r"\frac{m v^{2}}{2}"  # the snapped 0.5 prints as a fraction, in the caller's names
    assert all(hasattr(c, "expression") and c.complexity > 0 for c in est.pareto_front_)


def test_dataframe_names(product_data):
    X, y = product_data
    df = pd.DataFrame(X, columns=["mass", "speed"])
    est = quick().fit(df, y)
    assert est.variable_names_ == ("mass", "speed")
    assert list(est.feature_names_in_) == ["mass", "speed"]
    assert {s.name for s in est.sympy().free_symbols} <= {"mass", "speed"}


def test_params_and_clone():
    est = SymbolicRegressor(time_budget=5, proposers=["random"])
    assert est.get_params()["time_budget"] == 5
    c = clone(est)
    assert c.get_params() == est.get_params()


def test_not_fitted():
    with pytest.raises(NotFittedError, match="not fitted"):
        SymbolicRegressor().predict(np.ones((2, 2)))


def test_save_load(tmp_path, product_data):
    X, y = product_data
    est = quick().fit(X, y, variable_names=["m", "v"])
    path = tmp_path / "model.json"
    est.save(path)
    back = SymbolicRegressor.load(path)
    np.testing.assert_allclose(back.predict(X), est.predict(X))
    assert back.variable_names_ == ("m", "v")
    assert [c.expression for c in back.pareto_front_] == [c.expression for c in est.pareto_front_]
    (tmp_path / "bad.json").write_text("{}")
    with pytest.raises(DataError, match="not a symdescent model"):
        SymbolicRegressor.load(tmp_path / "bad.json")


def test_predict_checks_features(product_data):
    X, y = product_data
    est = quick().fit(X, y)
    with pytest.raises(DataError, match="X has 3 features, but SymbolicRegressor is expecting 2 features"):
        est.predict(np.ones((4, 3)))
