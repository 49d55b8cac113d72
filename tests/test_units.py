"""Units (issue 19, point 3): unit strings, the [units] table and the settings, the evaluator's check, and a
search that units keep from a wrong formula, from Python and from the command line."""

from fractions import Fraction

import numpy as np
import pandas as pd
import pytest

from symdescent import SymbolicRegressor
from symdescent.cli import main
from symdescent.config import Config, SearchConfig, config_from_dict
from symdescent.errors import ConfigError, DataError
from symdescent.evaluation import Evaluator
from symdescent.expr import parse
from symdescent.expr import units as dims
from symdescent.expr.units import Dimension
from symdescent.search import Search
from symdescent.units import Units, parse_unit, resolve_units

M, KG, S, A, K = (Dimension.base(u) for u in ("m", "kg", "s", "A", "K"))


def fails_with(error, call, words):
    """``call()`` raises ``error``, whose message holds each of ``words``."""
    with pytest.raises(error) as info:
        call()
    for w in words:
        assert w in str(info.value), (w, str(info.value))


# -- unit strings ---------------------------------------------------------------------------------------------

@pytest.mark.parametrize("text, expected", [
    ("kg*m/s^2", KG * M / S**2), ("m/s**2", M / S**2), ("1", Dimension()), ("", Dimension()), ("  ", Dimension()),
    ("N", KG * M / S**2), ("J", KG * M**2 / S**2), ("W", KG * M**2 / S**3), ("V", KG * M**2 / S**3 / A),
    ("Ohm", KG * M**2 / S**3 / A**2), ("Ω", KG * M**2 / S**3 / A**2), ("C", A * S), ("T", KG / S**2 / A),
    ("F/m", A**2 * S**4 / KG / M**3), ("J/(kg*K)", M**2 / S**2 / K), ("J/kg/K", M**2 / S**2 / K),
    ("N m", KG * M**2 / S**2), ("N·m", KG * M**2 / S**2), ("m^(1/2)", M ** 0.5), ("s^-1", S**-1),
    ("m^0.5", M ** 0.5), ("(m/s)^2", M**2 / S**2), ("1/s", S**-1), ("km/h", M / S), ("mA", A), ("µm", M),
    ("kJ/mol", KG * M**2 / S**2 / Dimension.base("mol")), ("g", KG), ("mg/L", KG / M**3), ("degC", K),
    ("meters/second", M / S), ("kilogram", KG), ("Newtons", KG * M / S**2), ("rad", Dimension()),
    ("1000*m", M), ("%", Dimension()), ("Pa", KG / M / S**2), ("cd", Dimension.base("cd")), ("min", S),
    ("kilogram * meter / second ** 2", KG * M / S**2), ("dimensionless", Dimension()),  # pint's text
])
def test_unit_strings(text, expected):
    assert parse_unit(text) == expected


@pytest.mark.parametrize("text, words", [
    ("kg*m/sx^2", ["'kg*m/sx^2'", "unknown unit 'sx' at position 5", "did you mean 's'?"]),
    ("Kg", ["unknown unit 'Kg' at position 0", "did you mean 'kg'?"]),
    ("newtonz", ["did you mean 'newton'?"]),
    ("m2", ["a number right after 'm' at position 1", "m^2"]),
    ("m^", ["ends too early"]),
    ("(m/s", ["'(' at position 0 is never closed"]),
    ("m)", ["unexpected ')' at position 1"]),
    ("m/s-1", ["unexpected '-'", "position 3"]),
    ("m^(1/0)", ["positive whole denominator", "position 5"]),
    ("m^x", ["expected a number as the exponent", "position 2"]),
    ("0*m", ["'0' is not a unit's scale", "position 0"]),
    ("m$", ["unexpected character '$' at position 1"]),
    ("(" * 40 + "m" + ")" * 40, ["nested more than 32 deep"]),
])
def test_bad_unit_strings_name_the_string_and_the_position(text, words):
    fails_with(DataError, lambda: parse_unit(text), words)


def test_parse_unit_takes_strings_and_the_caller_s_error():
    with pytest.raises(ConfigError, match=r"X_units\[0\]: a unit is a string"):
        parse_unit(3, "X_units[0]", ConfigError)


@pytest.mark.parametrize("dimension", [KG * M / S**2, M ** 0.5 / S, Dimension(), S**-2 * A ** Fraction(1, 3), K / KG])
def test_a_dimension_s_text_reads_back(dimension):
    assert parse_unit(str(dimension)) == dimension


# -- the [units] table and the settings ------------------------------------------------------------------------

def test_units_table_and_settings_in_a_config():
    cfg = config_from_dict({"units": {"d": "m", "t": "s", "v": "m/s"},
                            "search": {"dimensional": "strict", "dimensionless_constants": True}})
    assert cfg.units == {"d": "m", "t": "s", "v": "m/s"}
    assert cfg.search.dimensional == "strict" and cfg.search.dimensionless_constants
    assert cfg.to_dict()["units"] == cfg.units and "units" not in Config().to_dict()
    assert cfg.with_overrides(units={"t": "min"}).units == {"d": "m", "t": "min", "v": "m/s"}
    assert SearchConfig().dimensional == "penalty" and SearchConfig().dimensional_penalty == 1.0


@pytest.mark.parametrize("data, words", [
    ({"units": {"v": "m/sex"}}, ["units.v 'm/sex'", "unknown unit 'sex' at position 2"]),
    ({"units": {"v": 2.5j}}, ["units.v: a unit is a string"]),
    ({"units": "m"}, ["[units] must be a table"]),
    ({"search": {"dimensional": "strickt"}}, ["search.dimensional", "did you mean 'strict'"]),
    ({"search": {"dimensional_penalty": 0}}, ["dimensional_penalty must be a finite number > 0"]),
    ({"unit": {"v": "m"}}, ["unknown section [unit]", "did you mean 'units'"]),
])
def test_bad_units_settings_are_config_errors(data, words):
    fails_with(ConfigError, lambda: config_from_dict(data), words)


def test_resolving_the_table_against_the_data():
    u = resolve_units(["d", "t"], {"d": "m", "t": "s", "v": "m/s"}, "v")
    assert u == Units((M, S), M / S)
    assert resolve_units(["d", "t"], {"d": "m", "t": "s"}, "v").target is None  # the target's is optional
    assert resolve_units(["d"], {}, "v") is None
    with pytest.raises(DataError, match=r"no column 'dd'; did you mean 'd'\?.*the target 'v'"):
        resolve_units(["d", "t"], {"dd": "m", "t": "s"}, "v")
    with pytest.raises(DataError, match=r"no unit for the column\(s\) 't'"):
        resolve_units(["d", "t"], {"d": "m"}, "v")
    with pytest.raises(DataError, match="'y' is both a column of X and the target"):
        resolve_units(["y", "t"], {"y": "m", "t": "s"}, "y")


# -- the evaluator's check ---------------------------------------------------------------------------------------

@pytest.fixture
def square_data():
    """A length L, a column T in seconds that equals L**2 as numbers, and the area A = L**2: without units
    the one-node T explains A exactly; with them only L**2 does."""
    L = np.random.default_rng(0).uniform(1, 3, 120)
    return np.c_[L, L**2], L**2


def _evaluator(X, y, units, **search):
    return Evaluator(X, y, SearchConfig(**search), np.random.default_rng(0), units=units)


def test_the_penalty_raises_the_loss_once_per_violation_and_strict_makes_it_invalid(square_data):
    X, y = square_data
    units = Units((M, S), M**2)
    wrong, right = parse("x1"), parse("square(x0)")
    (plain,) = _evaluator(X, y, None)([wrong])
    ev = _evaluator(X, y, units)
    (penalised,) = ev([wrong])
    assert penalised.valid
    assert penalised.loss == plain.loss + 1.0 * ev.var_y  # the variance of y per violation, by default
    assert penalised.value == penalised.loss  # no scorer here: the value is the loss
    assert penalised.r2 == pytest.approx(plain.r2 - 1.0)
    (twice,) = _evaluator(X, y, units, dimensional_penalty=0.25)([parse("x1 + sin(x0)")])
    (base,) = _evaluator(X, y, None)([parse("x1 + sin(x0)")])
    assert twice.loss == pytest.approx(base.loss + 2 * 0.25 * ev.var_y)  # sin of a length; seconds + a number
    (strict,) = _evaluator(X, y, units, dimensional="strict")([wrong])
    assert not strict.valid
    (ok,) = _evaluator(X, y, units, dimensional="strict")([right])
    assert ok.valid and ok.loss == _evaluator(X, y, None)([right])[0].loss
    (off,) = _evaluator(X, y, units, dimensional="off")([wrong])
    assert off.loss == plain.loss


def test_every_scorer_sees_the_penalty(square_data):
    X, y = square_data
    for scorer in ("mdl", "r2"):
        config = {"search": {"max_iterations": 1, "time_budget": None}, "strategy": {"scorer": scorer}}
        plain = Search(X, y, variable_names=["L", "T"], config=config, target_name="A")
        units = Search(X, y, variable_names=["L", "T"], config={**config, "units": UNITS}, target_name="A")
        (a,), (b,) = plain.evaluator([parse("x1")]), units.evaluator([parse("x1")])
        assert b.value > a.value, scorer


def test_strict_refuses_before_fitting(square_data):
    X, y = square_data
    ev = _evaluator(X, y, Units((M, S), M**2), dimensional="strict")
    ev([parse("x0 + x1"), parse("sin(x0)")])
    assert ev.n_evaluations == 0  # neither was fitted
    ev([parse("x0 * x0 + C * x1")])
    assert ev.n_evaluations == 1


def test_operators_without_a_rule_are_refused_when_units_are_declared(square_data, monkeypatch):
    X, y = square_data
    monkeypatch.delitem(dims.RULES, "sin")
    with pytest.raises(ConfigError, match="search.operators with units: operator 'sin' has no dimension rule"):
        _evaluator(X, y, Units((M, S), M**2))
    _evaluator(X, y, None)  # without units no rule is needed


# -- the search ----------------------------------------------------------------------------------------------------

def _search(X, y, units=None, **search):
    config = {"search": {"time_budget": None, "max_iterations": 3, "seed": 0, **search}}
    if units:
        config["units"] = units
    return Search(X, y, variable_names=["L", "T"], config=config, target_name="A").run()


UNITS = {"L": "m", "T": "s", "A": "m^2"}


@pytest.mark.parametrize("mode", ["penalty", "strict"])
def test_units_keep_the_search_from_a_wrong_formula(square_data, mode):
    X, y = square_data
    without = _search(X, y)
    assert without.best.expression.tokens == ("x1",)  # T: exact, and the simplest
    found = _search(X, y, UNITS, dimensional=mode)
    assert str(found.best.expression.to_sympy(["L", "T"])) == "L**2"
    assert found.best.r2 == pytest.approx(1.0)


def test_without_units_nothing_changes(square_data):
    X, y = square_data
    plain = _search(X, y)
    off = _search(X, y, UNITS, dimensional="off")
    key = [(c.expression.key(), c.loss, c.value) for c in plain.front]
    assert [(c.expression.key(), c.loss, c.value) for c in off.front] == key
    assert off.n_evaluations == plain.n_evaluations
    s = Search(X, y, config={"search": {"max_iterations": 1, "time_budget": None}})
    assert s.units is None and s.evaluator.units is None


def test_a_units_table_that_does_not_match_the_data_is_a_config_error(square_data):
    X, y = square_data
    with pytest.raises(ConfigError, match=r"no column 'l'; did you mean 'L'\?"):
        _search(X, y, {"l": "m", "T": "s"})
    with pytest.raises(ConfigError, match="no unit for the column"):
        _search(X, y, {"L": "m"})


def test_an_island_searches_with_the_target_s_unit(square_data):
    from symdescent.config import Config
    from symdescent.islands import Island
    from symdescent.registry import Registry

    X, y = square_data
    cfg = Config().with_overrides(search={"max_iterations": 1, "time_budget": None}, units=UNITS)
    island = Island(0, X, y, ["L", "T"], cfg, Registry.discover(), None, "A")
    assert island.search.units == Units((M, S), M**2)


def test_islands_on_dask_search_with_the_units(square_data):
    distributed = pytest.importorskip("distributed")
    X, y = square_data
    config = {"search": {"time_budget": None, "max_iterations": 4, "seed": 0, "workers": 2, "migration_every": 2},
              "units": UNITS}
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as lc:
        with distributed.Client(lc) as client:
            result = Search(X, y, variable_names=["L", "T"], config=config, target_name="A", client=client).run()
    assert str(result.best.expression.to_sympy(["L", "T"])) == "L**2"


def test_the_estimator_takes_X_units_and_y_units(square_data):
    X, y = square_data
    kw = dict(max_iterations=3, time_budget=None, random_state=0)
    assert str(SymbolicRegressor(**kw).fit(X, y, variable_names=["L", "T"]).sympy()) == "T"
    est = SymbolicRegressor(**kw, X_units=["m", "s"], y_units="m^2").fit(X, y, variable_names=["L", "T"])
    assert str(est.sympy()) == "L**2"
    assert est.get_params()["X_units"] == ["m", "s"]
    # several outputs: one unit for all, or one each
    Y = np.c_[y, 2 * X[:, 0]]
    est = SymbolicRegressor(**kw, X_units=["m", "s"], y_units=["m^2", "m"]).fit(X, Y, variable_names=["L", "T"])
    assert [str(e) for e in est.sympy()] == ["L**2", "2*L"]


@pytest.mark.parametrize("params, words", [
    ({"X_units": ["m"]}, ["X_units has 1 unit(s) for the 2 column(s) of X"]),
    ({"X_units": ["m", "sx"]}, ["X_units[1] (column 'T') 'sx'", "unknown unit 'sx' at position 0",
                                "did you mean 's'?"]),
    ({"X_units": "m,s"}, ["X_units must be a list of unit strings", "did you mean ['m', 's']?"]),
    ({"X_units": ["m", "s"], "y_units": ["m^2", "m"]}, ["y_units has 2 unit(s) for 1 output(s)"]),
    ({"X_units": ["m", "s"], "y_units": 2}, ["y_units must be a unit string"]),
])
def test_bad_estimator_units_are_config_errors(square_data, params, words):
    X, y = square_data
    est = SymbolicRegressor(max_iterations=1, time_budget=None, **params)
    fails_with(ConfigError, lambda: est.fit(X, y, variable_names=["L", "T"]), words)


# -- the command line -------------------------------------------------------------------------------------------------

@pytest.fixture
def area_csv(tmp_path, square_data):
    X, y = square_data
    plain = tmp_path / "area.csv"
    pd.DataFrame({"L": X[:, 0], "T": X[:, 1], "A": y}).to_csv(plain, index=False)
    with_units = tmp_path / "area_units.csv"
    lines = plain.read_text().splitlines()
    with_units.write_text("\n".join([lines[0], "m,s,m^2", *lines[1:]]) + "\n")
    return plain, with_units


def _fit(capsys, *args):
    code = main(["fit", *map(str, args), "--target", "A", "--max-iterations", "3", "--seed", "0", "--quiet"])
    captured = capsys.readouterr()
    return code, captured.out.strip(), captured.err


def test_cli_units_row_and_set(area_csv, capsys):
    plain, with_units = area_csv
    assert _fit(capsys, plain)[:2] == (0, "T")
    assert _fit(capsys, with_units, "--units-row")[:2] == (0, "L**2")
    sets = ["--set", "units.L=m", "--set", "units.T=s", "--set", "units.A=m^2"]
    assert _fit(capsys, plain, *sets)[:2] == (0, "L**2")
    assert _fit(capsys, with_units, "--units-row", "--set", "search.dimensional=off")[:2] == (0, "T")


def test_cli_units_from_a_config_file(area_csv, capsys, tmp_path):
    plain, _ = area_csv
    config = tmp_path / "units.toml"
    config.write_text('[search]\ndimensional = "strict"\n[units]\nL = "m"\nT = "s"\nA = "m^2"\n')
    assert _fit(capsys, plain, "--config", config)[:2] == (0, "L**2")


@pytest.mark.parametrize("row, words", [
    ("m,sx,m^2", ["line 2", "column 'T'", "unknown unit 'sx'", "did you mean 's'?"]),
    ("1.5,2.25,2.25", ["line 2", "'1.5' is a number, not a unit", "--units-row"]),
])
def test_cli_bad_units_row(tmp_path, capsys, row, words):
    p = tmp_path / "bad.csv"
    p.write_text(f"L,T,A\n{row}\n1,1,1\n2,4,4\n3,9,9\n")
    code, _, err = _fit(capsys, p, "--units-row")
    assert code == 2
    for w in words:
        assert w in err, (w, err)


def test_cli_units_table_with_an_unknown_column(area_csv, capsys):
    plain, _ = area_csv
    code, _, err = _fit(capsys, plain, "--set", "units.Ll=m", "--set", "units.T=s")
    assert code == 2 and "no column 'Ll'; did you mean 'L'?" in err


def test_positional_units_work_when_a_column_is_called_y():
    """X_units/y_units are positional: a column named like the default target label (Feynman II.6.15a has
    columns x, y, z) must not clash with it."""
    from symdescent import SymbolicRegressor

    rng = np.random.default_rng(0)
    X = rng.uniform(1, 2, size=(80, 3))
    est = SymbolicRegressor(max_iterations=2, time_budget=None, random_state=0, X_units=["m", "m", "m"],
                            y_units="m^2")
    est.fit(X, X[:, 0] * X[:, 1], variable_names=["x", "y", "z"])
    assert est.score(X, X[:, 0] * X[:, 1]) > 0.999
