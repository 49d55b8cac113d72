"""User operators, per-operator complexity and nesting constraints in a search, the estimator and the CLI
(issue 19, point 2)."""

import json
import warnings

import numpy as np
import pandas as pd
import pytest

from symdescent import SymbolicRegressor
from symdescent.cli import main
from symdescent.config import Config, config_from_dict, load_config
from symdescent.errors import ConfigError, DataError
from symdescent.evaluation import Evaluator
from symdescent.expr import ops, parse
from symdescent.hookspecs import hookimpl
from symdescent.operators import OperatorSet, define
from symdescent.registry import derive_rng
from symdescent.search import Search

SOFTSIGN = "x / (1 + abs(x))"
SMALL = {"descent": {"population_size": 60, "generations_per_iteration": 2}}


def softsign(v):
    return v / (1 + np.abs(v))


def sinc(a):  # a top-level function: picklable, so islands could receive it
    return np.sinc(a)


class Seen:
    """Keeps every candidate the search scored."""

    def __init__(self):
        self.candidates = []

    @hookimpl
    def symdescent_iteration_end(self, problem, state):
        self.candidates += list(state.last_new) + list(state.front)


@pytest.fixture(scope="module")
def softsign_data():
    X = np.random.default_rng(3).uniform(-3, 3, size=(200, 2))
    return X, softsign(2 * X[:, 0] - X[:, 1])


def _config(**sections):
    base = {"search": {"max_iterations": 6, "time_budget": None, "seed": 0}, "plugins": SMALL}
    for key, value in sections.items():
        base.setdefault(key, {}).update(value)
    return base


# -- the issue's check -------------------------------------------------------------------------------
def test_softsign_recovers_softsign_data_compactly(softsign_data):
    X, y = softsign_data
    ops_ = ["add", "sub", "mul", "div", "abs", "softsign"]
    est = SymbolicRegressor(max_iterations=6, time_budget=None, random_state=0, operators=ops_,
                            extra_operators={"softsign": SOFTSIGN}, plugin_options=SMALL).fit(X, y)
    best = est.best_
    assert best.r2 > 0.999 and best.complexity <= 8, (best.expression.to_infix(), best.complexity, best.r2)
    assert "softsign" in best.expression.tokens
    np.testing.assert_allclose(est.predict(X), y, atol=1e-6)
    assert "softsign" in str(est.sympy()) and r"\operatorname{softsign}" in est.latex()
    assert est.equations_["expression"].str.contains("softsign").any()


# -- the config and the CLI ----------------------------------------------------------------------------
def test_toml_sections_end_to_end_from_the_cli(tmp_path, softsign_data, capsys):
    X, y = softsign_data
    data = tmp_path / "d.csv"
    pd.DataFrame({"a": X[:, 0], "b": X[:, 1], "y": y}).to_csv(data, index=False)
    cfg = tmp_path / "c.toml"
    cfg.write_text('[search]\noperators = ["add", "sub", "mul", "softsign", "sin", "cos"]\n'
                   '[operators]\nsoftsign = "x / (1 + abs(x))"\n'
                   '[complexity]\nsin = 2\n'
                   '[constraints.nested]\nsin = ["sin", "cos"]\n'
                   '[plugins.descent]\npopulation_size = 60\ngenerations_per_iteration = 2\n')
    loaded = load_config(cfg)
    assert list(loaded.operator_set()) == ["softsign"] and loaded.complexity == {"sin": 2}
    assert loaded.nested == {"sin": {"sin": 0, "cos": 0}}
    out = tmp_path / "m.json"
    # 10 iterations: at 6, 22 of 24 seeds find softsign (before and after the least-squares sums), seed 0 not
    assert main(["fit", str(data), "--target", "y", "--config", str(cfg), "--max-iterations", "10", "--seed", "0", "--quiet",
                 "--json", str(out)]) == 0
    record = json.loads(out.read_text())
    assert record["best"]["r2"] > 0.999 and "softsign" in record["best"]["tokens"]
    assert record["operators"] == {"softsign": SOFTSIGN} and record["config"]["operators"] == {"softsign": SOFTSIGN}
    assert record["config"]["complexity"] == {"sin": 2}
    capsys.readouterr()
    pred = tmp_path / "p.csv"
    assert main(["predict", str(out), str(data), "--out", str(pred)]) == 0  # the model file rebuilds softsign
    np.testing.assert_allclose(pd.read_csv(pred).iloc[:, -1].to_numpy(), y, atol=1e-6)


def test_set_defines_operators_and_weights_from_the_command_line(tmp_path, softsign_data):
    X, y = softsign_data
    data = tmp_path / "d.csv"
    pd.DataFrame({"a": X[:, 0], "b": X[:, 1], "y": y}).to_csv(data, index=False)
    out = tmp_path / "m.json"
    assert main(["fit", str(data), "--target", "y", "--max-iterations", "2", "--quiet", "--json", str(out),
                 "--set", "operators.softsign=x/(1+abs(x))", "--set", "search.operators=add,mul,softsign",
                 "--set", "complexity.softsign=3", "--set", "constraints.nested.softsign=softsign"]) == 0
    cfg = json.loads(out.read_text())["config"]
    assert cfg["operators"] == {"softsign": "x/(1+abs(x))"} and cfg["complexity"] == {"softsign": 3}
    assert cfg["constraints"] == {"nested": {"softsign": {"softsign": 0}}}


@pytest.mark.parametrize("data, message", [
    ({"operators": {"sin": "x"}}, r"\[operators\]: operator name 'sin' is a built-in"),
    ({"operators": {"f": "g(x)", "g": "f(x)"}}, "call each other in a cycle"),
    ({"search": {"operators": ["add", "softsine"]}, "operators": {"softsign": SOFTSIGN}},
     "unknown operator in search.operators 'softsine'; did you mean 'softsign'"),
    ({"complexity": {"softsine": 2}, "operators": {"softsign": SOFTSIGN}}, "did you mean 'softsign'"),
    ({"complexity": {"exp": "3"}}, "must be an integer >= 1"),
    ({"constraints": {"nested": {"sin": ["son"]}}}, "did you mean 'sin'"),
    ({"constraints": {"nesting": {}}}, "unknown key 'nesting'; did you mean 'nested'"),
    ({"operator": {}}, r"unknown section \[operator\]; did you mean 'operators'"),
    ({"operators": {"f": {"numpy": "np.sinh"}}}, "numpy must be a Python function"),
])
def test_bad_sections_are_config_errors(data, message):
    with pytest.raises(ConfigError, match=message):
        config_from_dict(data)


def test_an_operator_named_like_a_column_is_refused():
    X = np.random.default_rng(0).uniform(size=(20, 2))
    cfg = config_from_dict(_config(operators={"speed": SOFTSIGN}))
    with pytest.raises(ConfigError, match="the column 'speed' has the name of a user operator"):
        Search(X, X[:, 0], variable_names=["speed", "t"], config=cfg)


# -- per-search scope ------------------------------------------------------------------------------------
def test_two_estimators_with_the_same_name_do_not_share_it(softsign_data):
    X, _ = softsign_data
    # two non-linear operators under one name (a linear target would be fitted as a sum of columns, without f)
    y = X[:, 0] ** 2 + 1
    a = SymbolicRegressor(max_iterations=2, time_budget=None, random_state=0, operators=["add", "mul", "f"],
                          extra_operators={"f": "x * x + 1"}, plugin_options=SMALL).fit(X, y)
    b = SymbolicRegressor(max_iterations=2, time_budget=None, random_state=0, operators=["add", "mul", "f"],
                          extra_operators={"f": "x * x * x"}, plugin_options=SMALL).fit(X, X[:, 1] ** 3)
    assert "f" not in ops.OPERATORS  # nothing was registered globally
    with a.best_.expression.operators.use():
        ea = parse("f(x0)")
    with b.best_.expression.operators.use():
        eb = parse("f(x0)")
    np.testing.assert_allclose(ea.evaluate(X), X[:, 0] ** 2 + 1)
    np.testing.assert_allclose(eb.evaluate(X), X[:, 0] ** 3)
    assert a.score(X, y) > 0.999 and b.score(X, X[:, 1] ** 3) > 0.999


def test_save_and_load_keep_formula_operators(tmp_path, softsign_data):
    X, y = softsign_data
    est = SymbolicRegressor(max_iterations=3, time_budget=None, random_state=0,
                            operators=["add", "sub", "mul", "softsign"], extra_operators={"softsign": SOFTSIGN},
                            plugin_options=SMALL).fit(X, y)
    path = tmp_path / "m.json"
    est.save(path)
    assert json.loads(path.read_text())["operators"] == {"softsign": SOFTSIGN}
    back = SymbolicRegressor.load(path)
    np.testing.assert_array_equal(back.predict(X), est.predict(X))
    assert str(back.sympy()) == str(est.sympy())


# -- Python functions ------------------------------------------------------------------------------------
def test_a_python_function_operator_is_fitted_on_the_numpy_path_and_says_so():
    X = np.random.default_rng(1).uniform(-2, 2, size=(80, 1))
    y = 1.5 * np.sinc(0.7 * X[:, 0])
    est = SymbolicRegressor(max_iterations=3, time_budget=None, random_state=0, operators=["add", "mul", "sinc"],
                            extra_operators=[define("sinc", sinc)], plugin_options=SMALL)
    with pytest.warns(UserWarning, match="sinc have no compiled form"):
        est.fit(X, y)
    assert est.best_.r2 > 0.9999 and "sinc" in est.best_.expression.tokens
    with pytest.raises(DataError, match="defined by Python functions, which a model file cannot hold"):
        SymbolicRegressor.from_dict(est.to_dict())


def test_an_unpicklable_function_is_refused_with_several_workers():
    import threading

    lock = threading.Lock()
    cfg = config_from_dict(_config(search={"workers": 2, "operators": ["add", "f"]},
                                   operators={"f": {"numpy": lambda a: a if lock else a, "arity": 1}}))
    X = np.random.default_rng(0).uniform(size=(30, 1))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        s = Search(X, X[:, 0], config=cfg)
    with pytest.raises(ConfigError, match="'f' cannot be sent to the worker processes"):
        s.run()


# -- complexity ----------------------------------------------------------------------------------------------
def _front(result):
    return [(c.expression.tokens, c.expression.constants, c.complexity, c.loss) for c in result.front]


def test_weights_of_one_give_the_same_search_bit_for_bit():
    X = np.random.default_rng(5).uniform(0.5, 2, size=(120, 2))
    y = np.exp(0.5 * X[:, 0]) * X[:, 1]
    plain = Search(X, y, config=_config()).run()
    ones = Search(X, y, config=_config(complexity={"exp": 1, "variable": 1, "constant": 1})).run()
    assert _front(plain) == _front(ones) and plain.n_evaluations == ones.n_evaluations
    heavy = Search(X, y, config=_config(complexity={"exp": 4})).run()
    for c in heavy.front:
        assert c.complexity == c.expression.complexity + 3 * c.expression.tokens.count("exp")
        assert c.score.complexity == c.complexity


def test_max_complexity_counts_the_weights():
    X = np.random.default_rng(0).uniform(0.5, 2, size=(50, 1))
    cfg = config_from_dict(_config(search={"max_complexity": 5}, complexity={"exp": 5}))
    ev = Evaluator(X, X[:, 0] ** 2, cfg.search, derive_rng(0, "t"), complexity=cfg.complexity)
    (light,), (heavy,) = ev([parse("x0 * x0")]), ev([parse("exp(x0)")])
    assert light.valid and light.complexity == 3
    from symdescent.expr.custom import complexity

    # exp weighs 5: its fitted a * exp(x0) + b has 6 nodes but complexity 10
    assert not heavy.valid and heavy.complexity == complexity(heavy.expression.tokens, {"exp": 5}) > 5


# -- nesting constraints ---------------------------------------------------------------------------------------
def test_nested_constraints_are_never_broken_by_a_scored_candidate():
    X = np.random.default_rng(2).uniform(-2, 2, size=(100, 2))
    y = np.sin(X[:, 0] + np.cos(X[:, 1]))  # the truth breaks the constraint: the search must go around it
    nested = {"sin": ["sin", "cos"], "exp": {"exp": 1}}
    seen = Seen()
    cfg = _config(search={"operators": ["add", "mul", "sin", "cos", "exp"]}, constraints={"nested": nested})
    result = Search(X, y, config=cfg, callbacks=[seen]).run()
    from symdescent.expr.custom import check_nesting_table, nesting_violations

    table = check_nesting_table(nested)
    valid = [c for c in seen.candidates + list(result.front) if c.valid]
    assert valid and all(nesting_violations(c.expression.tokens, table) == 0 for c in valid)
    ev = Evaluator(X, y, config_from_dict(cfg).search, derive_rng(0, "t"), nested=table)
    assert [c.valid for c in ev([parse("sin(x0 + cos(x1))"), parse("cos(x1 + sin(x0))")])] == [False, True]
    est = SymbolicRegressor(max_iterations=2, time_budget=None, random_state=0, plugin_options=SMALL,
                            operators=["add", "sin", "cos"], nested_constraints={"sin": {"cos": 0}}).fit(X, y)
    assert est.build_config().nested == {"sin": {"cos": 0}}
    assert all(nesting_violations(c.expression.tokens, {"sin": {"cos": 0}}) == 0 for c in est.pareto_front_)


def test_estimator_parameters_are_checked():
    X = np.random.default_rng(0).uniform(size=(10, 1))
    with pytest.raises(ConfigError, match="complexity_of_operators must be a mapping"):
        SymbolicRegressor(complexity_of_operators=3).fit(X, X[:, 0])
    with pytest.raises(ConfigError, match="did you mean 'exp'"):
        SymbolicRegressor(complexity_of_operators={"epx": 2}).fit(X, X[:, 0])
    est = SymbolicRegressor(complexity_of_operators={"exp": 3}, nested_constraints={"exp": ["exp"]},
                            extra_operators={"softsign": SOFTSIGN}, operators=["add", "softsign"])
    cfg = est.build_config()
    assert cfg.complexity == {"exp": 3} and cfg.nested == {"exp": {"exp": 0}}
    assert list(cfg.operator_set()) == ["softsign"] and cfg.search.operators == ("add", "softsign")
    assert isinstance(Config().operator_set(), OperatorSet) and not Config().operator_set()


# -- islands ------------------------------------------------------------------------------------------------
def test_islands_receive_formula_and_function_operators(softsign_data):
    distributed = pytest.importorskip("distributed")
    X, y = softsign_data
    cfg = _config(search={"operators": ["add", "sub", "mul", "softsign", "sinc"], "max_iterations": 4},
                  operators={"softsign": SOFTSIGN, "sinc": {"numpy": np.sinc, "arity": 1}})
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as lc, \
            distributed.Client(lc) as client, warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # sinc: the numpy path
        result = Search(X, y, config=cfg, client=client).run()
    used = {t for c in result.front for t in c.expression.tokens}
    assert "softsign" in used and result.best.r2 > 0.999
    np.testing.assert_allclose(result.best.expression.evaluate(X), y, atol=1e-6)
