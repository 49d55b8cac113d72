"""Hostile input to the expression core, config validation and data scale (issue 16).

Every case is answered by a named :class:`~symdescent.errors.SymdescentError` or
gives the right answer; none is a traceback or a silently different formula.
"""

import json
import math
import time

import numpy as np
import pytest
import sympy

from symdescent import SymbolicRegressor
from symdescent.cli import parse_settings
from symdescent.config import config_from_dict, load_config
from symdescent.data import check_X_y, frame_names, read_csv
from symdescent.errors import ConfigError, DataError, ExpressionError
from symdescent.expr import Expression, parse
from symdescent.expr.parse import check_variable_names
from symdescent.expr.sympy_bridge import from_sympy, sympy_string, to_sympy
from symdescent.gp import GeneticEngine
from symdescent.expr.generate import GrammarSampler
from symdescent.search import Search
from symdescent.types import Candidate, Score

# -- item 5: every accepted name round-trips ------------------------------------------------------------------------

#: names sympy reads as something else (constants, functions, keywords, builtins) or cannot read bare at all
HOSTILE_NAMES = [
    "E", "I", "S", "N", "Q", "O", "beta", "gamma", "lambda", "zeta", "oo", "nan", "zoo", "Symbol", "True", "None",
    "if", "max", "sum", "__import__", "mass (kg)", "v [m/s]", "it's", "α", "x-1", "1st", "a\\b", "x0 + x1",
]


def _sample_expression() -> Expression:
    # 2.5 * name0 * sin(v) + name0 / v - 1.25
    return parse("2.5 * x0 * sin(x1) + x0 / x1 - 1.25")


def _plain(sexpr, names):
    """``sexpr`` with the real-valued symbols our bridge makes replaced by plain ones (what sympify makes)."""
    return sexpr.xreplace({sympy.Symbol(n, real=True): sympy.Symbol(n) for n in names})


@pytest.mark.parametrize("name", HOSTILE_NAMES)
def test_exported_sympy_string_round_trips_with_plain_sympify(name):
    names = [name, "v"]
    check_variable_names(names)  # accepted
    e = _sample_expression()
    text = Candidate(e).to_dict(names)["expression"]
    back = sympy.sympify(text)
    assert back == _plain(e.to_sympy(names), names), text
    assert {str(s) for s in back.free_symbols} == set(names)


@pytest.mark.parametrize("name", HOSTILE_NAMES)
def test_infix_round_trips_with_any_accepted_name(name):
    names = [name, "v"]
    e = _sample_expression()
    text = e.to_infix(names)
    assert parse(text, names) == e, text


def test_plain_names_stay_plain_in_the_sympy_string():
    assert sympy_string(parse("m * v**2 / 2", ["m", "v"]).to_sympy(["m", "v"])) == "m*v**2/2"
    assert sympy_string(parse("E * I", ["E", "I"]).to_sympy(["E", "I"])) == "Symbol('E')*Symbol('I')"


def test_backticks_name_any_column_in_formulas():
    names = ["mass (kg)", "v [m/s]"]
    e = parse("`mass (kg)` * `v [m/s]`**2 / 2", names)
    assert e.tokens == ("div", "mul", "x0", "pow", "x1", "2", "2")
    assert e.to_infix(names) == "`mass (kg)` * `v [m/s]`**2 / 2"


@pytest.mark.parametrize("name, fragment", [
    ("", "empty"),
    ("   ", "empty"),
    ("a\nb", "control character"),
    ("tab\there", "control character"),
    ("nul\x00", "control character"),
    ("a`b", "backtick"),
    (" lead", "leading or trailing space"),
    ("trail ", "leading or trailing space"),
    ("sin", "clashes with a function"),
    ("pi", "clashes with a function"),
])
def test_unusable_names_are_refused_by_api_and_csv_alike(tmp_path, name, fragment):
    with pytest.raises(DataError, match=fragment):
        check_X_y(np.ones((3, 2)), np.arange(3.0), [name, "b"])
    pd = pytest.importorskip("pandas")
    with pytest.raises(DataError, match=fragment):
        check_X_y(pd.DataFrame({name: [1.0, 2.0, 3.0], "b": [1.0, 2.0, 4.0]}), np.arange(3.0))
    if "\n" not in name and "\x00" not in name and name.strip() == name and name:
        p = tmp_path / "d.csv"
        p.write_text(f'"{name}",b,y\n1,2,3\n2,3,5\n3,4,8\n')
        with pytest.raises(DataError, match=fragment):
            read_csv(p, "y")


def test_csv_and_dataframe_keep_names_with_units(tmp_path):
    pd = pytest.importorskip("pandas")
    p = tmp_path / "d.csv"
    p.write_text("mass (kg),E,y\n1,2,3\n2,3,5\n3,4,8\n")
    X, y, names = read_csv(p, "y")
    assert names == ("mass (kg)", "E")
    frame = pd.DataFrame({"mass (kg)": [1.0, 2.0, 3.0], "E": [2.0, 3.0, 4.0]})
    assert frame_names(frame) == ["mass (kg)", "E"]
    assert check_X_y(frame, y)[2] == names
    assert frame_names(pd.DataFrame(np.ones((2, 2)))) is None  # integer columns: x0, x1, ...


def test_a_fit_reports_hostile_names_in_a_round_tripping_json():
    pd = pytest.importorskip("pandas")
    rng = np.random.default_rng(0)
    X = pd.DataFrame(rng.uniform(1, 3, size=(60, 2)), columns=["mass (kg)", "E"])
    y = X["mass (kg)"].to_numpy() * X["E"].to_numpy()
    result = Search(X, y, config={"search": {"max_iterations": 2, "time_budget": None, "simplify": False}}).run()
    d = json.loads(json.dumps(result.to_dict()))
    assert d["variable_names"] == ["mass (kg)", "E"]
    back = sympy.sympify(d["best"]["expression"])
    assert back.free_symbols <= {sympy.Symbol("mass (kg)"), sympy.Symbol("E")}
    assert back.has(sympy.Symbol("E")) and not back.has(sympy.E)
    assert parse(d["best"]["infix"], d["variable_names"]) == result.best.expression


# -- item 6 and 13: the parser --------------------------------------------------------------------------------------

@pytest.mark.parametrize("text", ["-1e999", "-1e309", "+1e999", "-(1e999)", "x0 - -1e999", "-1e999 * x0",
                                  "2 ** -1e999"])
def test_infinite_literals_are_refused_with_or_without_sign(text):
    with pytest.raises(ExpressionError, match="not finite"):
        parse(text)


def test_negative_float_literal_is_still_one_constant():
    e = parse("-1.5e300 * x0")
    assert e.tokens == ("mul", "C", "x0") and e.constants == (-1.5e300,)


def test_parser_is_linear_in_the_input():
    text = "+".join(["1"] * 10000)[:19999]  # 19,999 characters, 10,000 terms
    t0 = time.perf_counter()
    e = parse(text)
    elapsed = time.perf_counter() - t0
    assert e.complexity == 19999 and e.tokens.count("add") == 9999 and e.evaluate(np.ones((1, 1)))[0] == 10000
    assert elapsed < 2.0, f"20,000 characters took {elapsed:.2f} s"


@pytest.mark.parametrize("text", [
    "(" * 100000,
    "(" * 19000 + "x0",
    "(" * 5000 + "x0" + ")" * 5000,
    "-" * 19000 + "x0",
    "sin(" * 3000 + "x0" + ")" * 3000,
    "2**" * 6000 + "2",
    "pow(" * 2000 + "x0" + ", 2)" * 2000,
])
def test_deep_nesting_is_an_expression_error(text):
    with pytest.raises(ExpressionError):
        parse(text)


def test_moderate_nesting_still_parses():
    assert parse("(" * 60 + "x0" + ")" * 60).tokens == ("x0",)


# -- item 11 and 12 and 3: configuration ------------------------------------------------------------------------------

@pytest.mark.parametrize("value", ["[" * 100000 + "]" * 100000, "{a=" * 50000 + "1" + "}" * 50000,
                                   "[{a=" * 30000 + "1" + "}]" * 30000])
def test_deeply_nested_toml_is_a_config_error(tmp_path, value):
    p = tmp_path / "deep.toml"
    p.write_text(f"[search]\nseed = {value}\n")
    with pytest.raises(ConfigError, match="nested too deeply"):
        load_config(p)
    with pytest.raises(ConfigError, match="nested too deeply"):
        parse_settings([f"search.seed={value}"])


def test_set_still_takes_bare_words_as_strings():
    assert parse_settings(["strategy.scorer=r2", "plugins.x.path=a/b"]) == {
        "strategy": {"scorer": "r2"}, "plugins": {"x": {"path": "a/b"}}}


@pytest.mark.parametrize("search, fragment", [
    ({"time_budget": math.inf}, "both are unlimited"),
    ({"time_budget": math.nan}, "time_budget"),
    ({"time_budget": -math.inf}, "time_budget"),
    ({"iteration_seconds": math.inf}, "iteration_seconds"),
    ({"iteration_seconds": math.nan}, "iteration_seconds"),
    ({"operators": []}, "operators is empty"),
    ({"max_iterations": 0}, "max_iterations"),
])
def test_unbounded_or_empty_search_settings_are_refused(search, fragment):
    with pytest.raises(ConfigError, match=fragment):
        config_from_dict({"search": search})


def test_infinite_budget_with_an_iteration_limit_is_iteration_bounded():
    sc = config_from_dict({"search": {"time_budget": math.inf, "max_iterations": 2}}).search
    assert sc.time_budget is None and sc.max_iterations == 2


def test_estimator_refuses_an_unbounded_budget():
    X = np.random.default_rng(0).uniform(1, 2, size=(20, 1))
    with pytest.raises(ValueError, match="time_budget"):  # scikit-learn's parameter check, before the config's
        SymbolicRegressor(time_budget=math.inf).fit(X, X[:, 0] * 2)
    with pytest.raises(ConfigError, match="both are unlimited"):
        SymbolicRegressor(config={"search": {"time_budget": math.inf}}).fit(X, X[:, 0] * 2)


def test_empty_operator_set_is_a_config_error_from_the_estimator():
    X = np.random.default_rng(0).uniform(1, 2, size=(20, 1))
    with pytest.raises(ConfigError, match="operators is empty"):
        SymbolicRegressor(operators=[], max_iterations=1, time_budget=None).fit(X, X[:, 0] * 2)


# -- item 10: scale-free data --------------------------------------------------------------------------------------

def _scale_data(x_scale: float, y_scale: float):
    X = np.random.default_rng(0).uniform(1, 5, size=(80, 2))
    return X * x_scale, y_scale * X[:, 0] * X[:, 1]


@pytest.mark.parametrize("x_scale, y_scale, fragment", [
    (1.0, 1e200, "rescale"),
    (1.0, 1e-200, "rescale"),
    (1.0, 1e300, "rescale"),
    (1.0, 1e-310, "rescale"),
    (1e200, 1.0, "rescale"),
    (1e-300, 1.0, "rescale"),
])
def test_data_beyond_the_float_range_is_refused_naming_the_fix(x_scale, y_scale, fragment):
    X, y = _scale_data(x_scale, y_scale)
    with pytest.raises(DataError, match=fragment):
        check_X_y(X, y)


def test_y_whose_spread_underflows_is_refused():
    with pytest.raises(DataError, match="rescale"):
        check_X_y(np.arange(4.0).reshape(-1, 1), np.array([0.0, 1e-160, 0.0, 2e-160]))


@pytest.mark.parametrize("x_scale, y_scale", [(1.0, 1e30), (1.0, 1e-30), (1e-30, 1.0), (1e30, 1.0)])
def test_large_and_small_but_representable_scales_are_fitted(x_scale, y_scale):
    X, y = _scale_data(x_scale, y_scale)
    est = SymbolicRegressor(max_iterations=3, time_budget=None, random_state=0).fit(X, y)
    p = est.predict(X)
    r2 = 1 - np.sum((y - p) ** 2) / np.sum((y - y.mean()) ** 2)
    assert r2 > 0.999
    assert all(math.isfinite(float(c)) for c in est.sympy().atoms(sympy.Number))


def test_gp_survives_a_generation_where_everything_is_invalid():
    sampler = GrammarSampler(n_variables=1, max_size=7)
    engine = GeneticEngine(sampler, np.random.default_rng(0), population_size=10)

    def invalid(exprs):
        return [Candidate(e, "t", Score(math.inf, e.complexity, math.inf, -math.inf, False)) for e in exprs]

    for _ in range(3):
        assert engine.step(invalid) > 0
    assert engine.population == [] and engine.best() == []


@pytest.mark.parametrize("sexpr", [sympy.Integer(10) ** 400, sympy.Float("1e600"), sympy.Rational(1, 10**400)])
def test_from_sympy_refuses_numbers_beyond_float(sexpr):
    x = sympy.Symbol("x0")
    with pytest.raises(ExpressionError, match="cannot be represented"):
        from_sympy(sexpr * x)


def test_big_integral_floats_print_as_floats():
    assert str(to_sympy(parse("1e30 * x0"))) == "1.0e+30*x0"


# -- siblings: the other recursive readers of user text in the expression core ---------------------------------------

@pytest.mark.parametrize("text", ["[" * 100000 + "]" * 100000, '{"a":' * 100000 + "1" + "}" * 100000])
def test_deeply_nested_expression_json_is_an_expression_error(text):
    from symdescent.compose import Pipeline

    with pytest.raises(ExpressionError, match="nested too deeply"):
        Expression.from_json(text)
    with pytest.raises(ExpressionError, match="nested too deeply"):
        Pipeline.from_json(text)


def test_every_name_in_sympys_reading_scope_round_trips():
    """Every accepted name that sympify's parser has in scope (sympy's namespace, builtins, keywords) reads back."""
    import builtins
    import keyword

    v = sympy.Symbol("v")
    words = set(sympy.__all__) | set(dir(builtins)) | set(keyword.kwlist) | set(keyword.softkwlist) | {"ﬁ", "x²"}
    checked = 0
    for name in sorted(words):
        try:
            check_variable_names([name, "v"])
        except ExpressionError:
            continue
        expected = sympy.Symbol(name) * v + sympy.Symbol(name) ** 2
        assert sympy.sympify(sympy_string(expected)) == expected, name
        checked += 1
    assert checked > 1000
