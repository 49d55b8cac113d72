"""The user-facing data path answers hostile input with a named error, never a wrong answer
(issue 16: items 1, 2, 9, 11 and 18).

- ``predict`` checks column names and order against ``feature_names_in_``, also after ``load``;
- a CSV row longer or shorter than its header, or a repeated header name, is a ``DataError`` with the line;
- a damaged saved model is a ``DataError`` naming the field at ``load``, not a KeyError at ``predict``;
- a ``--json`` target that cannot be written is refused before the search; files are replaced atomically;
- the console prints the sympy form the JSON holds, marks the chosen model with a word, and the same elapsed time;
- ``symdescent bench`` without its extra says what to install.
"""

import copy
import json
import os
import re
import sys
import threading
import warnings

import numpy as np
import pandas as pd
import pytest

from symdescent import SymbolicRegressor
from symdescent.cli import main
from symdescent.data import read_csv
from symdescent.errors import DataError, DataTypeError, DependencyError, OutputError, SymdescentError
from symdescent.expr import Expression
from symdescent.fileio import check_writable, write_text_atomic
from symdescent.types import Candidate, Score, SearchResult

RNG = np.random.default_rng(0)
X2 = RNG.uniform(1, 5, size=(60, 2))
Y2 = X2[:, 0] * X2[:, 1] ** 2 / 2


def quick(**kw):
    params = dict(max_iterations=2, random_state=0,
                  plugin_options={"descent": {"population_size": 30, "generations_per_iteration": 2}})
    params.update(kw)
    return SymbolicRegressor(**params)


@pytest.fixture(scope="module")
def fitted():
    """A model fitted on a DataFrame with columns a, b, and the same model saved and loaded."""
    df = pd.DataFrame(X2, columns=["a", "b"])
    est = quick().fit(df, Y2)
    back = SymbolicRegressor.from_dict(json.loads(json.dumps(est.to_dict())))
    return df, est, back


# -- 1. predict checks feature names ---------------------------------------------------------------------------

NAME_CASES = [
    ("reordered", lambda df: df[["b", "a"]], "same order"),
    ("renamed", lambda df: df.rename(columns={"a": "c"}), "unseen at fit time:\n- c"),
    ("all renamed", lambda df: df.set_axis(["p", "q"], axis=1), "unseen at fit time"),
    ("missing column", lambda df: df[["a"]], "yet now missing:\n- b"),
    ("extra column", lambda df: df.assign(c=1.0), "unseen at fit time:\n- c"),
    ("duplicate columns", lambda df: df.set_axis(["a", "a"], axis=1), "duplicate column names: 'a'"),
    ("names swapped", lambda df: df.set_axis(["b", "a"], axis=1), "same order"),
]


@pytest.mark.parametrize("which", ["fitted", "loaded"])
@pytest.mark.parametrize("name, make, fragment", NAME_CASES, ids=[c[0] for c in NAME_CASES])
def test_predict_refuses_mismatched_columns(fitted, which, name, make, fragment):
    df, est, back = fitted
    model = est if which == "fitted" else back
    with pytest.raises(DataError) as info:
        model.predict(make(df))
    assert fragment in str(info.value)
    if name != "duplicate columns":
        assert "['a', 'b']" in str(info.value)  # the expected columns are named


def test_predict_by_name_and_sklearn_warning_for_arrays(fitted):
    df, est, back = fitted
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        good = est.predict(df)
        np.testing.assert_allclose(back.predict(df), good)
    for model in (est, back):
        with pytest.warns(UserWarning, match="X does not have valid feature names"):
            np.testing.assert_allclose(model.predict(X2), good)


def test_feature_names_survive_save_and_load(fitted, tmp_path):
    df, est, _ = fitted
    path = tmp_path / "model.json"
    est.save(path)
    assert json.loads(path.read_text())["feature_names_in"] == ["a", "b"]
    back = SymbolicRegressor.load(path)
    assert list(back.feature_names_in_) == ["a", "b"] and back.feature_names_in_.dtype == object
    with pytest.raises(DataError, match="same order"):
        back.predict(df[["b", "a"]])
    plain = quick().fit(X2, Y2)
    assert plain.to_dict()["feature_names_in"] is None
    assert not hasattr(SymbolicRegressor.from_dict(plain.to_dict()), "feature_names_in_")


def test_sklearn_column_name_consistency_check():
    from sklearn.utils.estimator_checks import check_dataframe_column_names_consistency

    check_dataframe_column_names_consistency("SymbolicRegressor", quick())


FIT_FRAME_CASES = [
    ("duplicate columns", pd.DataFrame(X2, columns=["a", "a"]), DataError, "duplicate column names: 'a'"),
    ("mixed column types", pd.DataFrame(X2, columns=["a", 1]), DataTypeError, "string names"),
]


@pytest.mark.parametrize("name, X, kind, fragment", FIT_FRAME_CASES, ids=[c[0] for c in FIT_FRAME_CASES])
def test_fit_refuses_unusable_frames(name, X, kind, fragment):
    with pytest.raises(kind, match=re.escape(fragment)):
        quick().fit(X, Y2)


def test_duplicate_y_frame_columns_named():
    with pytest.raises(DataError, match="y has duplicate column names"):
        quick().fit(X2, pd.DataFrame(np.c_[Y2, Y2], columns=["y", "y"]))


# -- 2. ragged and duplicate-header CSVs -----------------------------------------------------------------------

CSV_BAD = [
    ("decimal comma, every row", "a,b,y\n1,171,1.96,2.29\n2,180,2.01,2.31\n3,165,1.87,2.11\n",
     "line 2 has 4 fields, more than the 3 of the header (a,b,y): an unquoted decimal comma"),
    ("one long row later", "a,b,y\n1,2,3\n2,3,4\n3,4,5,6\n", "line 4 has 4 fields, more than the 3"),
    ("short row", "a,b,y\n1,2,3\n2,3\n3,4,5\n", "line 3 has 2 fields, fewer than the 3"),
    ("trailing delimiter on rows", "a,b,y\n1,2,3,\n2,3,4,\n3,4,5,\n", "line 2 has 4 fields"),
    ("long row after blank line", "a,b,y\n1,2,3\n\n2,3,4,5\n", "line 4 has 4 fields"),
    ("quoted row counted once", 'a,b,y\n1,2,3\n"2,5",3\n', "line 3 has 2 fields, fewer"),
    ("duplicate feature names", "a,a,y\n1,2,3\n2,3,5\n3,4,6\n",
     "column name 'a' appears 2 times in the header (columns 1, 2)"),
    ("duplicate target name", "y,a,y\n1,2,3\n2,3,5\n3,4,6\n", "column name 'y' appears 2 times"),
    ("index column from to_csv", ",a,y\n0,1,2\n1,2,4\n2,3,7\n", "column 1 of the header has no name"),
    ("empty header name", "a,,y\n1,2,3\n2,3,5\n3,4,6\n", "column 2 of the header has no name"),
    ("not utf-8", b"a,b,y\n1,2,3\n\xff\xfe,1,2\n", "not UTF-8"),
]


def _csv(tmp_path, text, name="data.csv"):
    p = tmp_path / name
    (p.write_bytes if isinstance(text, bytes) else p.write_text)(text)
    return p


@pytest.mark.parametrize("name, text, fragment", CSV_BAD, ids=[c[0] for c in CSV_BAD])
def test_read_csv_refuses_ragged_rows(tmp_path, name, text, fragment):
    with pytest.raises(DataError) as info:
        read_csv(_csv(tmp_path, text), "y")
    assert fragment in str(info.value)


@pytest.mark.parametrize("name, text, fragment", CSV_BAD[:3] + CSV_BAD[6:7], ids=[c[0] for c in CSV_BAD[:3] + CSV_BAD[6:7]])
def test_cli_ragged_csv_exit_2(tmp_path, capsys, name, text, fragment):
    code = main(["fit", str(_csv(tmp_path, text)), "--target", "y", "--max-iterations", "1", "--quiet"])
    err = capsys.readouterr().err
    assert code == 2 and fragment in err
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1


CSV_GOOD = [
    ("plain", "a,b,y\n1,2,3\n2,3,5\n3,5,8\n", [[1, 2], [2, 3], [3, 5]]),
    ("blank lines", "a,b,y\n1,2,3\n\n2,3,5\n   \n3,5,8\n\n", [[1, 2], [2, 3], [3, 5]]),
    ("quoted fields", 'a,b,y\n"1",2,3\n2,"3",5\n3,5,"8"\n', [[1, 2], [2, 3], [3, 5]]),
    ("byte order mark", "\ufeffa,b,y\n1,2,3\n2,3,5\n3,5,8\n", [[1, 2], [2, 3], [3, 5]]),
    ("crlf", "a,b,y\r\n1,2,3\r\n2,3,5\r\n3,5,8\r\n", [[1, 2], [2, 3], [3, 5]]),
]


@pytest.mark.parametrize("name, text, expected", CSV_GOOD, ids=[c[0] for c in CSV_GOOD])
def test_read_csv_keeps_columns_in_place(tmp_path, name, text, expected):
    X, y, names = read_csv(_csv(tmp_path, text), "y")
    assert names == ("a", "b")
    np.testing.assert_array_equal(X, np.array(expected, dtype=float))
    np.testing.assert_array_equal(y, [3, 5, 8])


# -- 11. damaged saved models ------------------------------------------------------------------------------------

def _set(path, value):
    def edit(d):
        node = d
        for key in path[:-1]:
            node = node[key]
        node[path[-1]] = value
        return d
    return edit


def _drop(*path):
    def edit(d):
        node = d
        for key in path[:-1]:
            node = node[key]
        del node[path[-1]]
        return d
    return edit


def _expr(tokens, constants, at=("best",)):
    def edit(d):
        node = d
        for key in at:
            node = node[key]
        node["tokens"], node["constants"] = tokens, constants
        return d
    return edit


MODEL_BAD = [
    ("not an object", lambda d: [d], "expected a JSON object, got a list"),
    ("missing best", _drop("best"), "'best' (the selected model) is missing"),
    ("best is a string", _set(["best"], "x0"), "best must be an object"),
    ("token x7 for 2 features", _expr(["x7"], []), "best uses the variable x7, but the model has 2"),
    ("front token x2", _expr(["add", "x0", "x2"], [], at=("pareto_front", 0)), "pareto_front[0] uses the variable x2"),
    ("n_features_in a word", _set(["n_features_in"], "two"), "n_features_in must be a positive integer, got 'two'"),
    ("n_features_in zero", _set(["n_features_in"], 0), "n_features_in must be a positive integer"),
    ("n_features_in bool", _set(["n_features_in"], True), "n_features_in must be a positive integer"),
    ("n_features_in float", _set(["n_features_in"], 2.5), "n_features_in must be a positive integer"),
    ("front entry not an object", lambda d: _set(["pareto_front"], d["pareto_front"] + [3])(d), "must be an object"),
    ("front not a list", _set(["pareto_front"], {"a": 1}), "pareto_front must be a list"),
    ("missing front", _drop("pareto_front"), "pareto_front must be a list"),
    ("unknown operator", _expr(["frobnicate", "x0"], []), "best is not a valid expression"),
    ("incomplete prefix", _expr(["add", "x0"], []), "best is not a valid expression"),
    ("constant count", _expr(["mul", "C", "x0"], [1.0, 2.0]), "best is not a valid expression"),
    ("nan constant", _expr(["mul", "C", "x0"], [float("nan")]), "best.constants holds a non-finite value"),
    ("inf constant", _expr(["mul", "C", "x0"], [float("inf")]), "best.constants holds a non-finite value"),
    ("string constant", _expr(["mul", "C", "x0"], ["1.5"]),
     "best.constants must be a list of numbers, got '1.5' at position 0"),
    ("huge integer constant", _expr(["mul", "C", "x0"], [10**400]), "best.constants holds a non-finite value"),
    ("huge integer loss", _set(["best", "loss"], 10**400), "best.loss is out of range"),
    ("missing tokens", _drop("best", "tokens"), "best.tokens must be a non-empty list of strings, got missing"),
    ("missing loss", _drop("best", "loss"), "best has no field 'loss'"),
    ("loss is text", _set(["best", "loss"], "small"), "best.loss must be a number, got 'small'"),
    ("complexity float", _set(["pareto_front", 0, "complexity"], 3.5), "pareto_front[0].complexity must be an integer"),
    ("too few variable names", _set(["variable_names"], ["a"]), "variable_names has 1 name(s) but n_features_in is 2"),
    ("variable names not strings", _set(["variable_names"], [1, 2]), "variable_names must be a list of 2 string(s)"),
    ("feature names too many", _set(["feature_names_in"], ["a", "b", "c"]), "feature_names_in has 3 name(s)"),
    ("feature names twice", _set(["feature_names_in"], ["a", "a"]), "feature_names_in names 'a' twice"),
    ("newer version", _set(["version"], 99), "version 99 is not supported"),
    ("wrong format", _set(["format"], "other"), "not a symdescent model record"),
    ("params not an object", _set(["params"], [1]), "params must be an object"),
    ("bad param value", lambda d: _set(["params", "max_iterations"], -3)(d), "params: "),
]


@pytest.mark.parametrize("name, edit, fragment", MODEL_BAD, ids=[c[0] for c in MODEL_BAD])
def test_load_names_the_bad_field(fitted, tmp_path, name, edit, fragment):
    _, est, _ = fitted
    record = edit(copy.deepcopy(est.to_dict()))
    with pytest.raises(DataError) as info:
        SymbolicRegressor.from_dict(record)
    assert fragment in str(info.value)
    path = tmp_path / "model.json"
    path.write_text(json.dumps(record))
    with pytest.raises(DataError) as info:
        SymbolicRegressor.load(path)
    assert fragment in str(info.value) and str(path) in str(info.value)


FILE_BAD = [
    ("invalid json", "{", "cannot read model file"),
    ("deeply nested json", "[" * 200_000 + "]" * 200_000, "cannot read model file"),
    ("not utf-8", b"\xff\xfe{}", "cannot read model file"),
    ("a folder", None, "cannot read model file"),
]


@pytest.mark.parametrize("name, content, fragment", FILE_BAD, ids=[c[0] for c in FILE_BAD])
def test_load_unreadable_files(tmp_path, name, content, fragment):
    path = tmp_path / "model.json"
    if content is None:
        path.mkdir()
    else:
        (path.write_bytes if isinstance(content, bytes) else path.write_text)(content)
    with pytest.raises(DataError, match=fragment):
        SymbolicRegressor.load(path)


def test_loaded_model_round_trip_still_predicts(fitted, tmp_path):
    df, est, back = fitted
    np.testing.assert_allclose(back.predict(df), est.predict(df))
    assert [c.expression for c in back.pareto_front_] == [c.expression for c in est.pareto_front_]


# -- 9. --json targets and atomic writes -----------------------------------------------------------------------

@pytest.fixture
def small_csv(tmp_path):
    p = tmp_path / "data.csv"
    pd.DataFrame({"m": X2[:, 0], "v": X2[:, 1], "E": Y2}).to_csv(p, index=False)
    return p


def _no_search(monkeypatch):
    from symdescent.search import Search

    def fail(self):
        raise AssertionError("the search ran although the --json target cannot be written")

    monkeypatch.setattr(Search, "run", fail)


JSON_BAD = [
    ("a folder", lambda t: t, "is a folder"),
    ("missing parent", lambda t: t / "no" / "such" / "out.json", "does not exist"),
    ("parent is a file", lambda t: (t / "file.txt", (t / "file.txt").write_text("x"))[0] / "out.json", "is not a folder"),
]


@pytest.mark.parametrize("name, target, fragment", JSON_BAD, ids=[c[0] for c in JSON_BAD])
def test_json_target_checked_before_search(tmp_path, small_csv, capsys, monkeypatch, name, target, fragment):
    _no_search(monkeypatch)
    out = target(tmp_path)
    code = main(["fit", str(small_csv), "--target", "E", "--max-iterations", "1", "--quiet", "--json", str(out)])
    err = capsys.readouterr().err
    assert code == 2 and fragment in err and str(out) in err
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1


def _folder_refuses_new_files(monkeypatch):
    """As a read-only folder does (chmod does not stop root, so the refusal is simulated)."""
    import symdescent.fileio

    def refuse(*args, **kwargs):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(symdescent.fileio.tempfile, "mkstemp", refuse)


def test_json_read_only_folder(tmp_path, small_csv, capsys, monkeypatch):
    _no_search(monkeypatch)
    _folder_refuses_new_files(monkeypatch)
    code = main(["fit", str(small_csv), "--target", "E", "--quiet", "--json", str(tmp_path / "o.json")])
    err = capsys.readouterr().err
    assert code == 2 and "cannot write --json file" in err and "Permission denied" in err


def test_save_to_bad_targets_is_output_error(fitted, tmp_path):
    _, est, _ = fitted
    with pytest.raises(OutputError, match="is a folder"):
        est.save(tmp_path)
    with pytest.raises(OutputError, match="does not exist"):
        est.save(tmp_path / "missing" / "m.json")


def test_atomic_write_keeps_old_file_on_failure(tmp_path, monkeypatch):
    path = tmp_path / "out.json"
    path.write_text('{"old": true}')
    path.chmod(0o640)

    def broken(src, dst):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", broken)
    with pytest.raises(OutputError, match="No space left on device"):
        write_text_atomic(path, '{"new": true}')
    monkeypatch.undo()
    assert json.loads(path.read_text()) == {"old": True}
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.json"]  # no temporary file left
    write_text_atomic(path, '{"new": true}')
    assert json.loads(path.read_text()) == {"new": True}
    assert (path.stat().st_mode & 0o777) == 0o640  # the existing file's permissions are kept
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.json"]


def test_interrupt_while_writing_leaves_the_old_file(tmp_path, monkeypatch):
    """A second Ctrl-C or SIGTERM while the result is being written: the old file stays whole, no temporary left."""
    path = tmp_path / "out.json"
    path.write_text('{"old": true}')

    def interrupted(src, dst):
        raise KeyboardInterrupt

    monkeypatch.setattr(os, "replace", interrupted)
    with pytest.raises(KeyboardInterrupt):
        write_text_atomic(path, '{"new": true}')
    assert json.loads(path.read_text()) == {"old": True}
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.json"]


def test_concurrent_writers_never_leave_a_corrupt_file(tmp_path):
    path = tmp_path / "out.json"
    texts = [json.dumps({"writer": w, "pad": "x" * 200_000}) for w in range(2)]
    write_text_atomic(path, texts[0])
    stop, bad = threading.Event(), []

    def writer(text):
        for _ in range(30):
            write_text_atomic(path, text)

    def reader():
        while not stop.is_set():
            try:
                json.loads(path.read_text())
            except ValueError as exc:
                bad.append(exc)

    threads = [threading.Thread(target=writer, args=(t,)) for t in texts]
    r = threading.Thread(target=reader)
    r.start()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    stop.set()
    r.join()
    assert not bad
    assert json.loads(path.read_text())["writer"] in (0, 1)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.json"]


def test_write_through_a_symlink_keeps_the_link(tmp_path):
    real = tmp_path / "real.json"
    link = tmp_path / "link.json"
    link.symlink_to(real)
    write_text_atomic(link, "{}")
    assert link.is_symlink() and json.loads(real.read_text()) == {}


def test_existing_file_in_read_only_folder_is_written_in_place(tmp_path, monkeypatch):
    path = tmp_path / "out.json"
    path.write_text("{}")
    _folder_refuses_new_files(monkeypatch)
    write_text_atomic(path, '{"a": 1}')
    assert json.loads(path.read_text()) == {"a": 1}


def test_json_to_special_file_is_written_in_place(tmp_path):
    if not os.path.exists("/dev/null"):
        pytest.skip("no /dev/null")
    assert check_writable("/dev/null") == __import__("pathlib").Path("/dev/null")
    write_text_atomic("/dev/null", "{}")
    assert os.path.exists("/dev/null") and not os.path.isfile("/dev/null")


# -- 18. output a person reads -------------------------------------------------------------------------------------

def _result():
    def cand(tokens, consts, loss, r2):
        e = Expression(tokens, consts)
        return Candidate(e, "test", Score(loss, e.complexity, loss, r2))

    front = (
        cand(("C",), (3.5,), 4.0, 0.0),
        cand(("mul", "C", "square", "x1"), (0.5,), 0.5, 0.9),
        cand(("mul", "C", "mul", "x0", "square", "x1"), (0.5,), 0.0, 1.0),
        cand(("add", "mul", "C", "mul", "x0", "square", "x1", "div", "x0", "x0"), (0.123456789,), 0.0, 1.0),
    )
    return SearchResult(best=front[2], front=front, iterations=3, n_evaluations=99, elapsed=1.25,
                        interrupted=False, stop_reason="max_iterations", variable_names=("m", "v"))


def test_report_prints_sympy_form_and_names_the_chosen_model(capsys):
    from symdescent.cli import _report

    _report(_result(), "E")
    out = capsys.readouterr().out
    assert "E = m*v**2/2" in out
    assert "square(" not in out and "x0 / x0" not in out and "1.0 *" not in out
    assert "0.12346*m*v**2 + 1" in out  # x0/x0 folded; in the table, decimals to 5 digits
    assert not re.search(r" \*\s*(│|\|)?\s*$", out, flags=re.M)  # no trailing " *" marker
    best_rows = [line for line in out.splitlines() if "best" in line and "m*v**2/2" in line]
    assert len(best_rows) == 1
    assert "1.2 s" in out


def test_cli_console_and_json_agree(small_csv, tmp_path, capsys):
    out = tmp_path / "o.json"
    assert main(["fit", str(small_csv), "--target", "E", "--max-iterations", "2", "--seed", "0",
                 "--json", str(out)]) == 0
    printed = capsys.readouterr().out
    data = json.loads(out.read_text())
    seconds = re.search(r"evaluations, ([0-9.]+) s", printed).group(1)
    assert seconds == f"{data['elapsed_s']:.1f}"  # one clock: the search's own
    assert " *\n" not in printed and "square(" not in printed and "best" in printed
    assert main(["fit", str(small_csv), "--target", "E", "--max-iterations", "2", "--seed", "0", "--quiet"]) == 0
    quiet = capsys.readouterr().out.strip()
    assert quiet == data["best"]["expression"]  # --quiet prints exactly what the JSON holds


# -- 11. symdescent bench without its extra ---------------------------------------------------------------------

BENCH_MISSING = [
    ("no dask", ["distributed"], ["bench", "--limit", "1", "--out", "{tmp}"], "distributed is not installed"),
    ("no matplotlib", ["matplotlib"], ["bench", "--report-only", "--out", "{tmp}"], "matplotlib is not installed"),
    ("no bench module", ["symdescent.bench.cli"], ["bench", "--suite", "feynman", "--limit", "1"],
     "cannot import symdescent.bench.cli"),
]


@pytest.mark.parametrize("name, modules, argv, fragment", BENCH_MISSING, ids=[c[0] for c in BENCH_MISSING])
def test_bench_without_extra_names_it(tmp_path, capsys, monkeypatch, name, modules, argv, fragment):
    for m in modules:
        monkeypatch.setitem(sys.modules, m, None)  # import of m raises ImportError
    code = main([a.replace("{tmp}", str(tmp_path / "b")) for a in argv])
    err = capsys.readouterr().err
    assert code == 2
    assert fragment in err and 'pip install "symdescent[bench]"' in err
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "b").exists()


def test_bench_guard_is_a_symdescent_error(monkeypatch):
    from symdescent.bench.cli import require_extra

    monkeypatch.setitem(sys.modules, "distributed", None)
    with pytest.raises(DependencyError) as info:
        require_extra()
    assert isinstance(info.value, SymdescentError)
    require_extra(report_only=True)  # the report needs only matplotlib
