"""Bad input gets a clear error naming the problem: a ValueError subclass in
Python, exit code 2 and one line on the command line."""

import numpy as np
import pandas as pd
import pytest

from symdescent import SymbolicRegressor
from symdescent.cli import main
from symdescent.errors import SymdescentError

GOOD_X = np.random.default_rng(0).uniform(1, 2, size=(20, 2))
GOOD_Y = GOOD_X[:, 0] * 2


def _nan_x():
    X = GOOD_X.copy()
    X[3, 1] = np.nan
    return X


def _inf_y():
    y = GOOD_Y.copy()
    y[5] = np.inf
    return y


CASES = [
    ("nan in X", _nan_x(), GOOD_Y, {}, "X contains NaN at row 3, column 1"),
    ("inf in y", GOOD_X, _inf_y(), {}, "y contains inf at row 5"),
    ("1-D X", GOOD_X[:, 0], GOOD_Y, {}, "X must be 2-D"),
    ("3-D X", GOOD_X[:, :, None], GOOD_Y, {}, "X must be 2-D"),
    ("length mismatch", GOOD_X, GOOD_Y[:-1], {}, "X has 20 samples but y has 19"),
    ("empty", np.empty((0, 2)), np.empty(0), {}, "0 sample(s)"),
    ("single row", GOOD_X[:1], GOOD_Y[:1], {}, "1 sample(s) (shape=(1, 2)) while a minimum of 2 is required"),
    ("no features", np.empty((5, 0)), np.arange(5.0), {}, "0 feature(s)"),
    ("constant y", GOOD_X, np.full(20, 3.0), {}, "y is constant"),
    ("3-D y", GOOD_X, np.zeros((20, 2, 2)), {}, "y must be 1-D"),
    ("string X", np.array([["a", "b"]] * 20), GOOD_Y, {}, "X contains non-numeric values"),
    ("object y", GOOD_X, np.array(["x"] * 20, dtype=object), {}, "y contains non-numeric values"),
    ("complex X", GOOD_X + 1j, GOOD_Y, {}, "Complex data not supported"),
    ("non-numeric column", pd.DataFrame({"a": GOOD_X[:, 0], "b": ["u"] * 20}), GOOD_Y, {}, "X column 'b' is not numeric"),
    ("too few names", GOOD_X, GOOD_Y, {"variable_names": ["a"]}, "1 variable name(s) given for 2 column(s)"),
    ("duplicate names", GOOD_X, GOOD_Y, {"variable_names": ["a", "a"]}, "variable name 'a' is given twice"),
    ("reserved name", GOOD_X, GOOD_Y, {"variable_names": ["sin", "a"]}, "clashes with a function"),
    ("unprintable name", GOOD_X, GOOD_Y, {"variable_names": ["my\ncol", "a"]}, "control character"),
    ("y is None", GOOD_X, None, {}, "target y is None"),
]


@pytest.mark.parametrize("name, X, y, kw, fragment", CASES, ids=[c[0] for c in CASES])
def test_fit_rejects(name, X, y, kw, fragment):
    with pytest.raises(ValueError) as info:
        SymbolicRegressor(max_iterations=1).fit(X, y, **kw)
    assert isinstance(info.value, SymdescentError)
    assert fragment in str(info.value)


EST_CASES = [
    ("unknown proposer", {"proposers": ["randm"]}, "unknown plugin 'randm'; did you mean 'random'?"),
    ("unknown scorer", {"scorer": "r3"}, "did you mean 'r2'?"),
    ("bad operator", {"operators": ["add", "sqr"]}, "did you mean 'sqrt'?"),
    ("bad plugin option", {"plugin_options": {"descent": {"tournament": 3}}}, "did you mean 'tournament_size'?"),
    ("missing config file", {"config": "does/not/exist.toml"}, "config file not found"),
]


@pytest.mark.parametrize("name, params, fragment", EST_CASES, ids=[c[0] for c in EST_CASES])
def test_estimator_settings_rejected(name, params, fragment):
    with pytest.raises(SymdescentError) as info:
        SymbolicRegressor(max_iterations=1, **params).fit(GOOD_X, GOOD_Y)
    assert fragment in str(info.value)


@pytest.fixture
def csv(tmp_path):
    p = tmp_path / "data.csv"
    pd.DataFrame({"a": GOOD_X[:, 0], "b": GOOD_X[:, 1], "y": GOOD_Y}).to_csv(p, index=False)
    return p


def _write(tmp_path, name, text):
    p = tmp_path / name
    p.write_text(text)
    return p


CLI_CASES = [
    ("missing file", lambda t, c: ["fit", str(t / "none.csv"), "--target", "y"], "data file not found"),
    ("missing target", lambda t, c: ["fit", str(c), "--target", "z"], "no column 'z'"),
    ("target typo", lambda t, c: ["fit", str(c), "--target", "yy"], "did you mean 'y'?"),
    ("nan in csv", lambda t, c: ["fit", str(_write(t, "n.csv", "a,y\n1,2\n,3\n4,5\n")), "--target", "y"], "X contains NaN"),
    ("text column", lambda t, c: ["fit", str(_write(t, "s.csv", "a,b,y\n1,x,2\n2,y,3\n3,z,4\n")), "--target", "y"], "column 'b' is not numeric"),
    ("bad column name", lambda t, c: ["fit", str(_write(t, "b.csv", "my`a,y\n1,2\n2,3\n3,5\n")), "--target", "y"], "holds a backtick"),
    ("empty csv", lambda t, c: ["fit", str(_write(t, "e.csv", "")), "--target", "y"], "cannot read as CSV"),
    ("header only", lambda t, c: ["fit", str(_write(t, "h.csv", "a,y\n")), "--target", "y"], "0 sample(s)"),
    ("constant target", lambda t, c: ["fit", str(_write(t, "k.csv", "a,y\n1,2\n2,2\n3,2\n")), "--target", "y"], "y is constant"),
    ("config key typo", lambda t, c: ["fit", str(c), "--target", "y", "--config", str(_write(t, "c.toml", "[search]\ntime_budgte = 1\n"))], "did you mean 'time_budget'?"),
    ("config section typo", lambda t, c: ["fit", str(c), "--target", "y", "--config", str(_write(t, "c2.toml", "[strategi]\n"))], "did you mean 'strategy'?"),
    ("config bad type", lambda t, c: ["fit", str(c), "--target", "y", "--config", str(_write(t, "c3.toml", "[search]\nseed = 'x'\n"))], "search.seed: expected an integer"),
    ("unknown plugin", lambda t, c: ["fit", str(c), "--target", "y", "--config", str(_write(t, "c4.toml", "[strategy]\nrefiners = ['decent']\n"))], "did you mean 'descent'?"),
    ("unknown plugin section", lambda t, c: ["fit", str(c), "--target", "y", "--config", str(_write(t, "c5.toml", "[plugins.lol]\nx = 1\n"))], "configures an unknown plugin"),
    ("negative budget", lambda t, c: ["fit", str(c), "--target", "y", "--time-budget", "-3"], "must be > 0"),
    ("--set key typo", lambda t, c: ["fit", str(c), "--target", "y", "--set", "plugins.descent.population_sze=3"], "did you mean 'population_size'?"),
    ("--set section typo", lambda t, c: ["fit", str(c), "--target", "y", "--set", "serch.seed=1"], "did you mean 'search'?"),
    ("--set without section", lambda t, c: ["fit", str(c), "--target", "y", "--set", "seed=1"], "--set expects SECTION.KEY=VALUE"),
    ("--set bad type", lambda t, c: ["fit", str(c), "--target", "y", "--set", "search.max_complexity=big"], "search.max_complexity: expected an integer"),
    ("broken toml", lambda t, c: ["fit", str(c), "--target", "y", "--config", str(_write(t, "c6.toml", "[search\n"))], "not valid TOML"),
]


@pytest.mark.parametrize("name, argv, fragment", CLI_CASES, ids=[c[0] for c in CLI_CASES])
def test_cli_exit_code_2(name, argv, fragment, tmp_path, csv, capsys):
    code = main(argv(tmp_path, csv) + ["--quiet", "--max-iterations", "1"])
    err = capsys.readouterr().err
    assert code == 2
    assert fragment in err
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1
