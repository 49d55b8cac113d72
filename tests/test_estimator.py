from functools import partial

import numpy as np
import pandas as pd
import pytest
import sympy
from sklearn.base import clone
from sklearn.utils.estimator_checks import check_estimator, estimator_checks_generator

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


@pytest.mark.slow  # about 30 s on two cores; the checks of validation below run by default
def test_check_estimator():
    check_estimator(quick(), expected_failed_checks=EXPECTED_FAILED_CHECKS)


#: scikit-learn's checks of input validation, parameters and the fitted state: seconds, so in the default suite
VALIDATION_CHECKS = {
    "check_estimators_empty_data_messages", "check_complex_data", "check_estimator_sparse_array",
    "check_estimator_sparse_matrix", "check_fit1d", "check_fit2d_1sample", "check_requires_y_none",
    "check_estimators_nan_inf", "check_supervised_y_no_nan", "check_dtype_object", "check_n_features_in_after_fitting",
    "check_fit_check_is_fitted", "check_estimators_unfitted", "check_no_attributes_set_in_init",
    "check_parameters_default_constructible", "check_get_params_invariance", "check_set_params",
    "check_do_not_raise_errors_in_init_or_set_params", "check_estimators_overwrite_params",
    "check_dont_overwrite_parameters", "check_sample_weights_shape", "check_all_zero_sample_weights_error",
}


def _check_name(check) -> str:
    while isinstance(check, partial):
        check = check.func
    return check.__name__


def _validation_checks() -> list:
    return [pytest.param(est, check, id=_check_name(check))
            for est, check in estimator_checks_generator(quick(), expected_failed_checks=EXPECTED_FAILED_CHECKS)
            if _check_name(check) in VALIDATION_CHECKS]


@pytest.mark.parametrize("estimator, check", _validation_checks())
def test_sklearn_validation_checks(estimator, check):
    check(estimator)


def test_every_validation_check_is_found():
    assert {p.id for p in _validation_checks()} == VALIDATION_CHECKS  # none renamed away in a scikit-learn release


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


def test_one_not_fitted_error_for_symdescent_and_sklearn():
    import subprocess
    import sys

    import sklearn.exceptions
    from sklearn.utils.validation import check_is_fitted

    import symdescent.estimator
    from symdescent.errors import SymdescentError

    assert symdescent.estimator.NotFittedError is NotFittedError
    for kind in (sklearn.exceptions.NotFittedError, SymdescentError, AttributeError):
        with pytest.raises(kind, match="This SymbolicRegressor instance is not fitted yet"):
            SymbolicRegressor().sympy()
    with pytest.raises(sklearn.exceptions.NotFittedError):
        check_is_fitted(SymbolicRegressor())
    code = "import sys, symdescent.errors; print('sklearn' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "False"  # made on first use: the command line does not pay for scikit-learn's import


@pytest.mark.parametrize("param, value, fragment", [
    ("time_budget", float("inf"), "time_budget must be a finite number of seconds > 0 or None, got inf"),
    ("time_budget", float("nan"), "time_budget must be a finite number of seconds > 0"),
    ("time_budget", 0, "got 0"),
    ("time_budget", True, "got True"),
    ("time_budget", "30", "got '30'"),
    ("max_iterations", 0, "max_iterations must be an integer >= 1"),
    ("max_iterations", 2.0, "got 2.0"),
    ("max_complexity", -3, "max_complexity must be an integer >= 1"),
    ("random_state", -1, "random_state must be an integer from 0 to 2**32 - 1 or a numpy RandomState"),
    ("random_state", np.random.default_rng(0), "random_state must be"),
    ("n_jobs", 0, "n_jobs must be -1 (one per core) or an integer >= 1"),
    ("n_jobs", -2, "n_jobs must be -1"),
    ("operators", "add,mul", "operators must be a list of operator names ('symdescent operators' lists them) or None, "
                             "got 'add,mul'; did you mean ['add', 'mul']?"),
    ("proposers", "lee", "did you mean ['lee']?"),
    ("refiners", ["descent", 3], "refiners must be a list of plugin names"),
    ("scorer", ["mdl"], "scorer must be a plugin name"),
    ("plugin_options", [("descent", {})], "plugin_options must be a mapping"),
    ("callbacks", object(), "callbacks must be a list"),
    ("config", 3, "config must be a TOML file's path, a mapping or a Config"),
])
def test_parameters_are_checked_at_fit_naming_the_parameter(param, value, fragment):
    from symdescent.errors import ConfigError

    est = SymbolicRegressor(**{param: value})  # stored as given (scikit-learn's rule for __init__ and set_params)
    assert est.get_params()[param] is value
    with pytest.raises(ConfigError) as info:
        est.fit(np.ones((4, 1)) * np.arange(4)[:, None], np.arange(4.0))
    assert f"SymbolicRegressor: {param} must be" in str(info.value) and fragment in str(info.value)


def test_accepted_parameters_build_their_config():
    from symdescent.estimator import PARAMETERS

    assert set(PARAMETERS) == set(SymbolicRegressor().get_params())  # every parameter is checked
    est = SymbolicRegressor(time_budget=5, max_iterations=np.int64(3), max_complexity=np.int32(12), n_jobs=-1,
                            random_state=np.random.RandomState(0), operators=("add", "mul"), scorer="r2",
                            plugin_options={"descent": {"population_size": 50}})
    est._check_params()
    cfg = est.build_config()
    assert (cfg.search.time_budget, cfg.search.max_iterations, cfg.search.max_complexity) == (5.0, 3, 12)
    assert cfg.search.workers == "auto" and cfg.search.operators == ("add", "mul") and cfg.strategy.scorer == "r2"
    assert cfg.plugins["descent"] == {"population_size": 50}
    assert type(cfg.search.max_iterations) is int  # NumPy integers become Python's
