"""The command line's issue-19 features, end to end: --weights, several --target columns, --plot, predict,
--version and the operators in fit --help (and in README).

Each feature is checked against the estimator where both offer it: the same seed and budget must give the
same front from a CSV as from ``SymbolicRegressor.fit`` on the same numbers.
"""

import json
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import sympy

from symdescent import SymbolicRegressor
from symdescent.cli import main

from conftest import block_imports

QUICK = ["--max-iterations", "3", "--seed", "0", "--set", "plugins.descent.population_size=60",
         "--set", "plugins.descent.generations_per_iteration=3"]
README = (Path(__file__).resolve().parents[1] / "README.md").read_text(encoding="utf-8")


def quick_estimator(**kw):
    """The estimator with the settings QUICK gives the command line."""
    return SymbolicRegressor(max_iterations=3, time_budget=None, random_state=0,
                             plugin_options={"descent": {"population_size": 60, "generations_per_iteration": 3}}, **kw)


def _sympy(text, names=("m", "v")):
    return sympy.sympify(text, locals={n: sympy.Symbol(n) for n in names})  # trusted: our own output


@pytest.fixture
def two_laws(tmp_path):
    """Rows 0-79 follow E = m * v**2, rows 80-159 E = m / v; the column w weighs the first half only."""
    rng = np.random.default_rng(1)
    m, v = rng.uniform(1, 3, 160), rng.uniform(1, 3, 160)
    first = np.arange(160) < 80
    path = tmp_path / "laws.csv"
    pd.DataFrame({"m": m, "w": first.astype(float), "v": v, "E": np.where(first, m * v**2, m / v)}).to_csv(
        path, index=False)
    return path


# -- --weights --------------------------------------------------------------------------------------------

def test_a_weights_column_is_fits_sample_weight(two_laws, tmp_path, capsys):
    out = tmp_path / "w.json"
    assert main(["fit", str(two_laws), "--target", "E", "--weights", "w", *QUICK, "--json", str(out)]) == 0
    data = json.loads(out.read_text())
    assert data["variable_names"] == ["m", "v"]  # the weights column is not a feature
    assert sympy.simplify(_sympy(data["best"]["expression"]) - _sympy("m*v**2")) == 0
    # the same numbers through the estimator: fitting, scoring and selection weigh the rows alike
    frame = pd.read_csv(two_laws)
    est = quick_estimator().fit(frame[["m", "v"]], frame["E"], sample_weight=frame["w"])
    assert data["config"] == json.loads(json.dumps(est.build_config().to_dict()))
    assert data["pareto_front"] == est.to_dict()["pareto_front"] and data["best"] == est.to_dict()["best"]
    # without --weights, w is a feature like any other column (and the model needs it to tell the halves apart)
    assert main(["fit", str(two_laws), "--target", "E", *QUICK, "--json", str(out), "--quiet"]) == 0
    plain = json.loads(out.read_text())
    assert plain["variable_names"] == ["m", "w", "v"]
    assert sympy.Symbol("w") in _sympy(plain["best"]["expression"], ["m", "w", "v"]).free_symbols


@pytest.mark.parametrize("value, fragment", [
    ("nan", "weights column 'w': sample_weight contains NaN at row 3"),
    ("-1", "weights column 'w': sample_weight must be non-negative; row 3 has weight -1.0"),
])
def test_bad_weights_name_the_column_and_the_file(two_laws, value, fragment, capsys):
    frame = pd.read_csv(two_laws)
    frame.loc[3, "w"] = float(value)
    frame.to_csv(two_laws, index=False)
    assert main(["fit", str(two_laws), "--target", "E", "--weights", "w", *QUICK]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"error: {two_laws}: ") and fragment in err


def test_weights_column_mistakes(two_laws, capsys):
    assert main(["fit", str(two_laws), "--target", "E", "--weights", "ww", *QUICK]) == 2
    assert "no column 'ww'; did you mean 'w'?" in capsys.readouterr().err
    assert main(["fit", str(two_laws), "--target", "E", "--weights", "E", *QUICK]) == 2
    assert "column 'E' is named as a target and the weights" in capsys.readouterr().err


# -- several targets --------------------------------------------------------------------------------------

@pytest.fixture
def two_targets(tmp_path):
    rng = np.random.default_rng(2)
    m, v = rng.uniform(1, 3, 120), rng.uniform(1, 3, 120)
    path = tmp_path / "two.csv"
    pd.DataFrame({"m": m, "p": m * v, "v": v, "q": m / v}).to_csv(path, index=False)
    return path


def test_several_targets_one_formula_each(two_targets, tmp_path, capsys):
    out = tmp_path / "two.json"
    assert main(["fit", str(two_targets), "--target", "p,q", *QUICK, "--json", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "p = m*v" in printed and "q = m/v" in printed and printed.count("Pareto front") == 2
    data = json.loads(out.read_text())
    assert data["targets"] == ["p", "q"] and "target" not in data and data["variable_names"] == ["m", "v"]
    assert [o["target"] for o in data["outputs"]] == ["p", "q"]
    assert [_sympy(o["best"]["expression"]) for o in data["outputs"]] == [_sympy("m*v"), _sympy("m/v")]
    assert all(o["iterations"] == 3 and o["elapsed_s"] > 0 for o in data["outputs"])
    assert data["elapsed_s"] == pytest.approx(sum(o["elapsed_s"] for o in data["outputs"]))
    assert data["best"] == data["outputs"][0]["best"]  # the first output's, as the estimator's record has
    # the estimator's multi-output fit on the same numbers gives the same fronts
    frame = pd.read_csv(two_targets)
    est = quick_estimator().fit(frame[["m", "v"]], frame[["p", "q"]])
    assert [o["pareto_front"] for o in est.to_dict()["outputs"]] == [o["pareto_front"] for o in data["outputs"]]
    # --quiet: one expression per target, in order; --target given twice is the same as a comma list
    assert main(["fit", str(two_targets), "--target", "p", "--target", "q", *QUICK, "--quiet"]) == 0
    assert [_sympy(line) for line in capsys.readouterr().out.splitlines()] == [_sympy("m*v"), _sympy("m/v")]


def test_target_list_mistakes(two_targets, capsys):
    assert main(["fit", str(two_targets), "--target", "p,,q", *QUICK]) == 2
    assert "--target: an empty column name" in capsys.readouterr().err
    assert main(["fit", str(two_targets), "--target", "p,p", *QUICK]) == 2
    assert "column 'p' is named as a target twice" in capsys.readouterr().err
    assert main(["fit", str(two_targets), "--target", "p,qq", *QUICK]) == 2
    assert "no column 'qq'; did you mean 'q'?" in capsys.readouterr().err


# -- predict ----------------------------------------------------------------------------------------------

def test_predict_reads_the_fit_json_and_takes_columns_by_name(energy_csv, tmp_path, capsys):
    model = tmp_path / "model.json"
    assert main(["fit", str(energy_csv), "--target", "E", *QUICK, "--json", str(model), "--quiet"]) == 0
    rng = np.random.default_rng(5)
    new = pd.DataFrame({"v": rng.uniform(1, 5, 20), "note": ["x"] * 20, "m": rng.uniform(1, 5, 20)})
    data = tmp_path / "new.csv"
    new.to_csv(data, index=False)  # other order, an extra (text) column, no target
    preds = tmp_path / "preds.csv"
    assert main(["predict", str(model), str(data), "--out", str(preds)]) == 0
    got = pd.read_csv(preds)
    assert list(got.columns) == ["E"] and len(got) == 20
    expected = SymbolicRegressor.load(model).predict(new[["m", "v"]])
    np.testing.assert_allclose(got["E"], expected, rtol=1e-15)
    np.testing.assert_allclose(got["E"], new.m * new.v**2 / 2, rtol=1e-9)
    capsys.readouterr()
    assert main(["predict", str(model), str(data)]) == 0  # no --out: the CSV on stdout
    assert capsys.readouterr().out == preds.read_text()


def test_predict_errors_name_the_column_and_the_file(energy_csv, tmp_path, capsys):
    model = tmp_path / "model.json"
    assert main(["fit", str(energy_csv), "--target", "E", *QUICK, "--json", str(model), "--quiet"]) == 0
    capsys.readouterr()
    data = tmp_path / "new.csv"
    pd.DataFrame({"mass": [1.0, 2.0], "v": [1.0, 2.0]}).to_csv(data, index=False)
    assert main(["predict", str(model), str(data)]) == 2
    assert "no column 'm'" in capsys.readouterr().err
    pd.DataFrame({"m": [1.0, 2.0, 3.0], "v": [1.0, np.nan, 2.0]}).to_csv(data, index=False)
    assert main(["predict", str(model), str(data)]) == 2
    err = capsys.readouterr().err
    assert f"{data}: X contains NaN at row 1, column 1" in err
    assert main(["predict", str(tmp_path / "missing.json"), str(data)]) == 2
    assert "cannot read model file" in capsys.readouterr().err


def test_predict_reads_a_saved_estimator_and_several_outputs(tmp_path):
    X = np.random.default_rng(3).uniform(1, 3, size=(80, 2))
    est = quick_estimator().fit(X, np.c_[X[:, 0] * X[:, 1], X[:, 0] + X[:, 1]], variable_names=["a", "b"])
    est.save(tmp_path / "est.json")
    data = tmp_path / "x.csv"
    pd.DataFrame({"b": X[:, 1], "a": X[:, 0]}).to_csv(data, index=False)
    preds = tmp_path / "p.csv"
    assert main(["predict", str(tmp_path / "est.json"), str(data), "--out", str(preds)]) == 0
    got = pd.read_csv(preds)
    assert list(got.columns) == ["y0", "y1"]  # a saved estimator has no target names
    np.testing.assert_allclose(got.to_numpy(), est.predict(X), rtol=1e-15)


# -- --plot -----------------------------------------------------------------------------------------------

def test_plot_writes_the_front_with_the_chosen_model_marked(two_targets, tmp_path):
    matplotlib = pytest.importorskip("matplotlib")
    picture = tmp_path / "front.svg"
    with matplotlib.rc_context({"svg.fonttype": "none"}):  # text as text, so that the test can read it
        assert main(["fit", str(two_targets), "--target", "p,q", *QUICK, "--quiet", "--plot", str(picture)]) == 0
    svg = picture.read_text()
    texts = re.findall(r"<text[^>]*>([^<]*)</text>", svg)
    assert {"p", "q"} <= set(texts)  # one panel per target, titled by it
    assert {"m*v", "m/v"} <= set(texts)  # the chosen model of each is labelled by its formula
    assert texts.count("chosen") == 2 and texts.count("complexity (nodes)") == 2
    png = tmp_path / "front.png"
    assert main(["fit", str(two_targets), "--target", "p", *QUICK, "--quiet", "--plot", str(png)]) == 0
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_plot_problems_are_found_before_the_search(two_targets, tmp_path, capsys, monkeypatch):
    out = tmp_path / "o.json"
    assert main(["fit", str(two_targets), "--target", "p", *QUICK, "--json", str(out),
                 "--plot", str(tmp_path / "front.xyz")]) == 2
    assert "give it one of the suffixes" in capsys.readouterr().err and not out.exists()
    block_imports(monkeypatch, "matplotlib")
    assert main(["fit", str(two_targets), "--target", "p", *QUICK, "--json", str(out),
                 "--plot", str(tmp_path / "front.png")]) == 2
    err = capsys.readouterr().err
    assert "pip install matplotlib" in err and 'symdescent[plot]' in err and not out.exists()


# -- --version, operators in --help and README ------------------------------------------------------------

def test_version(capsys):
    from symdescent import __version__

    with pytest.raises(SystemExit) as info:
        main(["--version"])
    assert info.value.code == 0 and capsys.readouterr().out.strip() == f"symdescent {__version__}"


def test_fit_help_lists_the_operators(capsys):
    from symdescent.expr import ops

    with pytest.raises(SystemExit) as info:
        main(["fit", "--help"])
    text = capsys.readouterr().out
    assert info.value.code == 0 and "--weights COLUMN" in text and "--plot FILE" in text
    for op in ops.OPERATORS.values():
        assert f"  {op.name}: {op.description}\n" in text


def test_readme_operator_list_is_the_table():
    """README's list of operators (name: description) says what the operator table says."""
    from symdescent.expr import ops

    block = README.split("<!-- operators -->", 2)[1]
    listed = re.findall(r"^- `(\w+)`: (.+)$", block, re.M)
    assert len(listed) >= 10
    for name, description in listed:
        assert name in ops.OPERATORS, f"README lists {name!r}, which is no operator"
        assert ops.OPERATORS[name].description == description, name


def test_warmup_compiles_the_kernels_and_says_where_they_are_cached(capsys, monkeypatch):
    from symdescent.expr import compiled

    calls = []
    monkeypatch.setattr(compiled, "warm_up", lambda *a, **k: calls.append(1))
    monkeypatch.setenv("NUMBA_CACHE_DIR", "/some/cache")
    assert main(["warmup"]) == 0
    assert calls == [1]
    out = capsys.readouterr().out
    assert "the compiled kernels are ready" in out and "/some/cache" in out


def test_fit_says_when_compiling_took_part_of_its_budget(energy_csv, capsys, monkeypatch):
    """A first run's compilation (a sleep in its place) is out of the budget, and the CLI says so."""
    import time

    from symdescent.expr import compiled

    monkeypatch.setattr(compiled, "warm_up", lambda *a, **k: time.sleep(3.5))
    t0 = time.monotonic()
    assert main(["fit", str(energy_csv), "--target", "E", "--time-budget", "6", "--workers", "1"]) == 0
    assert time.monotonic() - t0 <= 6 * 1.1 + 1.0
    err = capsys.readouterr().err
    assert re.search(r"compiling the kernels took 3\.\d s of the 6 s budget", err), err
