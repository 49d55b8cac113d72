"""The black-box track: registered real tables, user table folders, reference methods, reports, end to end."""

import csv
import re
import socket
import sys
from pathlib import Path

import numpy as np
import pytest

from symdescent.bench.data import make_dataset
from symdescent.bench.methods import resolve_methods
from symdescent.bench.problems import load_suite, select
from symdescent.bench.report import blackbox_markdown, load_results, per_dataset, summarize, summarize_blackbox
from symdescent.bench.runner import NO_TRUTH, ResultsFile, RunSettings, execute_run, plan_runs
from symdescent.bench.tables import REGISTRY, UnsafeTablePathError, load_folder, load_table
from symdescent.cli import main
from symdescent.data import check_X_y
from symdescent.errors import DataError, SymdescentError

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def offline(monkeypatch):
    """Any attempt to open a network connection fails the test: the tables must ship with the packages."""

    def refuse(*args, **kwargs):
        raise AssertionError(f"network access attempted: {args}")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)


def test_the_suite_has_at_least_20_distinct_tables():
    names = [s.name for s in REGISTRY]
    assert len(names) >= 20 and len(set(names)) == len(names) and names == sorted(names)
    assert {s.source for s in REGISTRY} == {"statsmodels", "scikit-learn"}


@pytest.mark.parametrize("spec", REGISTRY, ids=lambda s: s.name)
def test_every_registered_table_loads_offline_as_documented(spec, offline):
    problem = load_table(spec)
    assert problem.id == spec.name and problem.target == spec.target and problem.truth_sympy() is None
    assert problem.names == spec.features, "a documented feature was dropped as constant"
    assert problem.X.shape == (spec.rows, len(spec.features)) and problem.y.shape == (spec.rows,)
    assert problem.X.dtype == np.float64 and np.isfinite(problem.X).all() and np.isfinite(problem.y).all()
    assert np.ptp(problem.y) > 0 and (np.ptp(problem.X, axis=0) > 0).all()
    assert spec.target not in spec.features and len(set(spec.features)) == len(spec.features)
    check_X_y(problem.X, problem.y, problem.names)  # what the estimator accepts: names, scale, values
    assert spec.description


def test_benchmarks_md_documents_every_table():
    text = (ROOT / "BENCHMARKS.md").read_text(encoding="utf-8")
    section = text[text.index("## Black-box track"):]
    for spec in REGISTRY:
        row = re.search(rf"^\| `{re.escape(spec.name)}` \|(.*)$", section, re.M)
        assert row, f"{spec.name} is not in BENCHMARKS.md's data-set table"
        cells = [c.strip() for c in row.group(1).split("|")]
        assert cells[0] == spec.source and f"`{spec.target}`" in cells[1]
        assert cells[2] == str(len(spec.features)) and cells[3].replace(",", "") == str(spec.rows)


def test_a_table_is_split_75_25_by_its_seed():
    problem = select(load_suite("blackbox"), ids=["engel"])[0]
    a, b, other = make_dataset(problem, seed=0), make_dataset(problem, seed=0), make_dataset(problem, seed=1)
    assert a.X_train.shape == (176, 1) and a.X_test.shape == (59, 1) and a.names == ("income",)
    assert np.array_equal(a.X_test, b.X_test) and not np.array_equal(a.X_test, other.X_test)
    rows = np.sort(np.concatenate([a.y_train, a.y_test]))
    assert np.array_equal(rows, np.sort(problem.y)), "every row is used once"


def _write(path: Path, header: list[str], rows) -> None:
    with open(path, "w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(header)
        writer.writerows(rows)


@pytest.fixture
def tables(tmp_path):
    folder = tmp_path / "tables"
    folder.mkdir()
    rng = np.random.default_rng(0)
    x = rng.uniform(1, 5, size=(40, 2))
    _write(folder / "b_plane.csv", ["u", "v", "const", "z"], [[*r, 7, r[0] + 2 * r[1]] for r in x])
    _write(folder / "a_line.csv", ["t", "y"], [[r[0], 3 * r[0]] for r in x])
    return folder


def test_a_folder_of_csv_tables_takes_the_last_column_as_target(tables):
    a, b = load_suite(tables)
    assert (a.id, a.target, a.names, a.X.shape) == ("a_line", "y", ("t",), (40, 1))
    assert (b.id, b.target, b.names) == ("b_plane", "z", ("u", "v"))  # the constant column is dropped
    assert "const" in b.notes and np.allclose(b.y, b.X[:, 0] + 2 * b.X[:, 1])


def test_a_manifest_names_files_targets_and_features(tables):
    (tables / "sub").mkdir()
    (tables / "b_plane.csv").rename(tables / "sub" / "plane.csv")
    (tables / "bench.toml").write_text('[[table]]\nfile = "sub/plane.csv"\ntarget = "u"\nfeatures = ["z"]\n'
                                       'name = "inverse"\ndescription = "u from z"\n')
    (p,) = load_folder(tables)
    assert (p.id, p.target, p.names, p.description) == ("inverse", "u", ("z",), "u from z")
    (tables / "bench.toml").write_text('[[table]]\nfile = "sub/plane.csv"\ntarget = "w"\n')
    with pytest.raises(DataError, match="no column 'w'"):
        load_folder(tables)
    (tables / "bench.toml").write_text('[[table]]\nfile = "sub/plane.csv"\ntarjet = "u"\n')
    with pytest.raises(DataError, match="did you mean 'target'"):
        load_folder(tables)


@pytest.mark.parametrize("name", ["../outside.csv", "sub/../../outside.csv", "/etc/passwd", "link.csv"])
def test_a_path_escaping_the_folder_is_refused(tables, name):
    _write(tables.parent / "outside.csv", ["a", "b"], [[i, i * i] for i in range(10)])
    (tables / "link.csv").symlink_to(tables.parent / "outside.csv")
    (tables / "bench.toml").write_text(f'[[table]]\nfile = "{name}"\n')
    with pytest.raises(UnsafeTablePathError, match="suite folder") as info:
        load_folder(tables)
    assert name in str(info.value) and isinstance(info.value, SymdescentError)


def test_a_symlinked_csv_without_manifest_is_refused(tables):
    _write(tables.parent / "outside.csv", ["a", "b"], [[i, i * i] for i in range(10)])
    (tables / "c_link.csv").symlink_to(tables.parent / "outside.csv")
    with pytest.raises(UnsafeTablePathError, match="outside the suite folder"):
        load_folder(tables)


def test_bad_tables_are_named(tables, capsys):
    _write(tables / "c_tiny.csv", ["a", "b"], [[1, 2], [2, 3]])
    with pytest.raises(DataError, match="c_tiny.*at least 8"):
        load_folder(tables)
    (tables / "c_tiny.csv").unlink()
    _write(tables / "c_flat.csv", ["a", "b"], [[i, 1] for i in range(10)])
    with pytest.raises(DataError, match="constant"):
        load_folder(tables)
    assert main(["bench", "--suite", str(tables), "--out", str(tables.parent / "out")]) == 2
    assert "c_flat.csv" in capsys.readouterr().err


def test_reference_methods_have_r2_and_no_formula():
    linear, gbr = resolve_methods("linear,gbr")
    settings = RunSettings(budget=2.0, n_samples=200, simplify_timeout=5.0)
    formula = select(load_suite("feynman"), ids=["I.12.1"])
    table = select(load_suite("blackbox"), ids=["stackloss"])
    for row in (execute_run(r, settings) for r in plan_runs([linear, gbr], formula + table, [0], [0.0])):
        assert row["status"] == "ok" and -1 < row["r2_test"] <= 1 and row["r2_train"] > 0.5, row
        assert row.get("complexity") is None and row.get("model") is None and row.get("symbolic_solution") is None
        if row["problem"] == "I.12.1":
            assert row["truth"] == "Nn*mu" and row["accuracy_solution"] in (True, False)
        else:
            assert row["truth"] == NO_TRUTH and row.get("accuracy_solution") is None and row["n_samples"] == 21


def test_the_report_shows_no_rate_where_a_metric_does_not_apply(tmp_path):
    results = ResultsFile(tmp_path / "results.csv")
    base = {"seed": 0, "noise": 0.0, "budget_s": 2.0, "status": "ok", "time_s": 1.0}
    rows = [{**base, "method": "sd", "problem": "I.12.1", "n_samples": 200, "truth": "Nn*mu", "r2_test": 1.0,
             "accuracy_solution": True, "symbolic_solution": True, "complexity": 3},
            {**base, "method": "linear", "problem": "I.12.1", "n_samples": 200, "truth": "Nn*mu", "r2_test": 0.9,
             "accuracy_solution": False},
            *({**base, "method": "sd", "problem": p, "n_samples": 30, "truth": NO_TRUTH, "r2_test": r2,
               "complexity": c, "seed": s} for p, r2, c, s in [("t1", 0.5, 5, 0), ("t1", 0.7, 9, 1),
                                                                ("t2", 0.9, 3, 0), ("t2", 0.1, 3, 1)]),
            {**base, "method": "linear", "problem": "t1", "n_samples": 30, "truth": NO_TRUTH, "r2_test": 0.4},
            {**base, "method": "linear", "problem": "t2", "status": "error", "n_samples": 30, "truth": NO_TRUTH,
             "message": "boom"}]
    for r in rows:
        results.append(r)
    df = load_results(results.path)
    truth = summarize(df).set_index("method")
    assert truth.loc["sd", "runs"] == 1 and truth.loc["sd", "symbolic_rate"] == 1.0
    assert np.isnan(truth.loc["linear", "symbolic_rate"]) and truth.loc["linear", "accuracy_rate"] == 0.0
    box = summarize_blackbox(df).set_index("method")
    # per data set: t1 median 0.6 and complexity 7, t2 median 0.5 and 3; then the median over the data sets
    assert box.loc["sd", "median_r2_test"] == pytest.approx(0.55) and box.loc["sd", "median_complexity"] == 5.0
    assert box.loc["sd", "datasets"] == 2 and box.loc["sd", "runs"] == 4
    assert box.loc["linear", "datasets"] == 1 and box.loc["linear", "errors"] == 1
    assert np.isnan(box.loc["linear", "median_complexity"])
    md = blackbox_markdown(summarize_blackbox(df), per_dataset(df))
    assert not re.search(r"\d%", md) and "| t1 | 0.6000 | 0.4000 |" in md
    assert "| linear | 0 | 1 | 2 | 0.4000 | – |" in md


def test_tiny_blackbox_benchmark_end_to_end_then_resume(tmp_path, capsys):
    out = tmp_path / "run"
    args = ["bench", "--suite", "blackbox", "--problems", "stackloss,engel", "--budget", "2", "--seeds", "0",
            "--methods", "symdescent,linear", "--workers", "1", "--simplify-timeout", "5", "--out", str(out)]
    assert main(args) == 0
    with open(out / "results.csv", newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert sorted((r["method"], r["problem"]) for r in rows) == [
        ("linear", "engel"), ("linear", "stackloss"), ("symdescent", "engel"), ("symdescent", "stackloss")]
    for r in rows:
        assert r["status"] == "ok", r
        assert r["truth"] == NO_TRUTH and r["accuracy_solution"] == "" and r["symbolic_solution"] == ""
        # a 2 s search may overfit stackloss's 16 training rows: its 5 test rows bound R² only from above
        assert float(r["r2_test"]) <= 1 and float(r["time_s"]) > 0
        assert r["n_samples"] == {"engel": "235", "stackloss": "21"}[r["problem"]]
        if r["method"] == "symdescent":
            assert int(r["complexity"]) >= 1 and r["model"] and r["model_simplified"]
        else:
            assert r["complexity"] == "" and r["model"] == "" and float(r["r2_test"]) > 0.5
    summary = (out / "summary.md").read_text()
    assert "| symdescent | 0 | 2 | 2 |" in summary and "| linear | 0 | 2 | 2 |" in summary
    assert not re.search(r"\d%", summary), "no solution rate for tables"
    assert "| engel |" in summary and (out / "pareto.png").read_bytes()[:4] == b"\x89PNG"
    assert not (out / "noise.png").exists()
    capsys.readouterr()
    assert main(args) == 0  # the rerun finds every row (tables keep their own row counts) and runs nothing
    assert "4 run(s) already in" in capsys.readouterr().err


def test_without_statsmodels_the_error_names_the_extra(monkeypatch):
    from symdescent.errors import DependencyError

    monkeypatch.setitem(sys.modules, "statsmodels.datasets.longley", None)  # import fails as if not installed
    spec = next(s for s in REGISTRY if s.name == "longley")
    with pytest.raises(DependencyError, match=r"longley.*symdescent\[bench\]"):
        load_table(spec)
