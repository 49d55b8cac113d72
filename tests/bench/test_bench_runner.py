"""The run plan, resuming from the results CSV, execution of one run, and the reports."""

from dataclasses import dataclass

import numpy as np
import pytest

from symdescent.bench import runner
from symdescent.bench.methods import FittedModel, Method
from symdescent.bench.problems import load_suite, select
from symdescent.bench.report import load_results, summarize, to_markdown, unavailable, write_report
from symdescent.bench.runner import ResultsFile, RunSettings, execute_run, plan_runs, run_benchmark
from symdescent.errors import DataError


@dataclass(frozen=True, eq=False)
class TruthMethod(Method):
    """Returns the ground truth (plus a known constant): a method whose metrics we know."""

    problem: object = None
    label: str = "truth"

    def fit(self, X, y, names, budget, seed):
        expr = self.problem.truth_sympy() * 1.0000001
        return FittedModel(expr, lambda X: self.problem.expression.evaluate(X) * 1.0000001)


@dataclass(frozen=True, eq=False)
class MissingMethod(Method):
    label: str = "missing"

    def unavailable_reason(self):
        return "needs Julia"

    def fit(self, X, y, names, budget, seed):  # pragma: no cover - never called
        raise AssertionError("an unavailable method must not run")


@dataclass(frozen=True, eq=False)
class BrokenMethod(Method):
    label: str = "broken"

    def fit(self, X, y, names, budget, seed):
        raise RuntimeError("boom")


@pytest.fixture(scope="module")
def problems():
    return select(load_suite("feynman"), ids=["I.12.1", "I.14.3"])


SETTINGS = RunSettings(budget=2.0, n_samples=200, simplify_timeout=10.0)


def test_plan_order_and_keys(problems):
    runs = plan_runs([MissingMethod(), BrokenMethod()], problems, seeds=[0, 1], noises=[0.0, 0.01])
    assert len(runs) == 16
    assert [r.key for r in runs[:3]] == [("missing", "I.12.1", 0, "0.0"), ("broken", "I.12.1", 0, "0.0"),
                                         ("missing", "I.14.3", 0, "0.0")]


def test_execute_run_metrics(problems):
    row = execute_run(plan_runs([TruthMethod(problems[0])], problems[:1], [0], [0.0])[0], SETTINGS)
    assert row["status"] == "ok", row
    assert row["r2_test"] > 0.999999 and row["accuracy_solution"] and row["symbolic_solution"]
    assert row["complexity"] == 3 and row["model_simplified"] == "Nn*mu"
    bad = execute_run(plan_runs([BrokenMethod()], problems[:1], [0], [0.0])[0], SETTINGS)
    assert bad["status"] == "error" and "RuntimeError: boom" in bad["message"]


def _row(method, problem, status="ok", seed=0, noise=0.0, **kw):
    return {"method": method, "problem": problem, "seed": seed, "noise": noise, "status": status,
            "budget_s": SETTINGS.budget, "n_samples": SETTINGS.n_samples, **kw}


def test_resume_skips_finished_rows_and_redoes_unavailable(tmp_path):
    results = ResultsFile(tmp_path / "results.csv")
    for r in [_row("a", "p1"), _row("a", "p2", "error"), _row("b", "p1", "unavailable"), _row("a", "p1", noise=0.01)]:
        results.append(r)
    done = results.resume(SETTINGS)
    assert done == {("a", "p1", 0, "0.0"), ("a", "p2", 0, "0.0"), ("a", "p1", 0, "0.01")}
    assert [r["status"] for r in results.read()] == ["ok", "error", "ok"]  # the unavailable row is gone
    assert results.resume(SETTINGS, retry_errors=True) == {("a", "p1", 0, "0.0"), ("a", "p1", 0, "0.01")}
    with pytest.raises(DataError, match="use another --out"):
        results.resume(RunSettings(budget=5.0, n_samples=200))


def test_run_benchmark_needs_no_cluster_when_nothing_is_left(tmp_path, problems, monkeypatch):
    def no_cluster(*a, **k):
        raise AssertionError("no cluster should be started")

    monkeypatch.setattr(runner, "open_client", no_cluster)
    results = ResultsFile(tmp_path / "results.csv")
    results.append(_row("broken", "I.12.1", "error"))
    events = []
    runs = plan_runs([MissingMethod(), BrokenMethod()], problems[:1], [0], [0.0])
    out = run_benchmark(runs, SETTINGS, results, progress=lambda e, row, c: events.append((e, c)))
    assert (out.planned, out.skipped, out.unavailable, out.finished) == (2, 1, 1, 0)
    rows = results.read()
    assert rows[-1]["status"] == "unavailable" and rows[-1]["message"] == "needs Julia"
    assert events[-1] == ("row", {"done": 1, "running": 0, "left": 0, "total": 1})


def test_report(tmp_path):
    results = ResultsFile(tmp_path / "results.csv")
    rows = [_row("a", "p1", r2_test=1.0, accuracy_solution=True, symbolic_solution=True, complexity=5, time_s=1.0),
            _row("a", "p2", r2_test=0.5, accuracy_solution=False, symbolic_solution=False, complexity=9, time_s=3.0),
            _row("a", "p3", "error", message="boom"),
            _row("a", "p1", noise=0.1, r2_test=0.99, accuracy_solution=False, symbolic_solution=True, complexity=7,
                 time_s=2.0),
            _row("b", "p1", "unavailable", message="needs Julia")]
    for r in rows:
        results.append(r)
    df = load_results(results.path)
    s = summarize(df)
    first = s.iloc[0].to_dict()
    assert first["method"] == "a" and first["noise"] == 0.0 and first["runs"] == 3 and first["errors"] == 1
    assert first["accuracy_rate"] == pytest.approx(1 / 3) and first["median_complexity"] == 7.0
    assert first["median_r2_test"] == 0.75 and first["median_time_s"] == 2.0
    assert unavailable(df) == {"b": "needs Julia"}
    md = to_markdown(s, unavailable(df))
    assert "| a | 0 | 3 | 0.750000 | 33% (1/3) | 33% (1/3) | 7.0 | 2.0 | 1 |" in md
    assert "unavailable: needs Julia" in md
    out = write_report(results.path)
    for key in ("summary", "pareto", "noise"):
        assert out[key].is_file() and out[key].stat().st_size > 0
    assert out["pareto"].read_bytes()[:4] == b"\x89PNG"
    assert np.isclose(s.iloc[1]["symbolic_rate"], 1.0)
