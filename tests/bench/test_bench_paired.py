"""The paired comparison of two methods (symdescent/bench/paired.py): counts and sign test from a small
results table with known answers, and its place in ``summary.md`` and the ``--paired`` flag."""

import math

import pytest

from symdescent.bench.paired import check_pair, paired_table, resolve_pair, sign_test
from symdescent.bench.report import load_results, write_report
from symdescent.bench.runner import NO_TRUTH, ResultsFile
from symdescent.cli import main
from symdescent.errors import ConfigError

A, B = "symdescent", "symdescent:lee_descent"


def _row(method, problem, symbolic, accurate=True, seed=0, noise=0.0, status="ok", time_s=10.0, truth="x"):
    row = {"method": method, "problem": problem, "seed": seed, "noise": noise, "status": status, "budget_s": 10.0,
           "n_samples": 1000, "truth": truth}
    if status == "ok":
        row.update(r2_test=0.9999 if accurate else 0.5, accuracy_solution=accurate, symbolic_solution=symbolic,
                   complexity=5, time_s=time_s, model="x")
    return row


def _results(tmp_path):
    """Noise 0: both solve p0, p1; only A solves p2-p8 (B's p8 is an error row); only B p9; neither p10;
    p11 has no row of B (no pair).  Noise 0.01: one pair, only B.  Beside them: an unavailable third method
    and rows of a real table, neither of which is a pair."""
    rows = []
    for i in range(12):
        rows.append(_row(A, f"p{i}", i <= 8 or i == 11, accurate=i != 10, time_s=9.0 + i))
        if i == 8:
            rows.append(_row(B, "p8", None, status="error"))
        elif i < 11:
            rows.append(_row(B, f"p{i}", i in (0, 1, 9), accurate=i not in (5, 10), time_s=10.0))
    rows += [_row(A, "p0", False, noise=0.01), _row(B, "p0", True, noise=0.01)]
    rows.append({"method": "pysr", "problem": "p0", "seed": 0, "noise": 0.0, "status": "unavailable",
                 "budget_s": 10.0, "n_samples": 1000, "message": "no Julia"})
    rows += [_row(m, "table", None, accurate=None, truth=NO_TRUTH) for m in (A, B)]
    path = tmp_path / "results.csv"
    ResultsFile(path).write_all(rows)
    return path


def test_the_counts_and_the_sign_test_of_a_known_table(tmp_path):
    table = paired_table(load_results(_results(tmp_path)), A, B).set_index(["metric", "noise"])
    sym = table.loc[("symbolic solution", 0.0)]
    assert (sym.pairs, sym.both, sym.only_a, sym.only_b, sym.neither) == (11, 2, 7, 1, 1)
    # two-sided exact sign test of 7 against 1: 2 * (1 + 8) / 2**8
    assert sym.p_value == pytest.approx(2 * 9 / 256)
    acc = table.loc[("R² > 0.999", 0.0)]  # A misses p10; B misses p5, p8 (error), p10
    assert (acc.pairs, acc.both, acc.only_a, acc.only_b, acc.neither) == (11, 8, 2, 0, 1)
    assert acc.p_value == pytest.approx(0.5)
    noisy = table.loc[("symbolic solution", 0.01)]
    assert (noisy.pairs, noisy.only_a, noisy.only_b) == (1, 0, 1) and noisy.p_value == pytest.approx(1.0)


def test_the_sign_test():
    assert sign_test(7, 1) == pytest.approx(0.0703125)
    assert sign_test(10, 0) == pytest.approx(2 / 2**10)
    assert sign_test(3, 3) == pytest.approx(1.0)
    assert math.isnan(sign_test(0, 0))  # no discordant pair: no test


def test_the_pair_is_the_only_two_methods_or_the_named_two(tmp_path):
    df = load_results(_results(tmp_path))
    assert resolve_pair(df) == (A, B)  # the unavailable method is not one of them
    assert resolve_pair(df, [B, A]) == (B, A)
    assert resolve_pair(df[df["method"] != B]) is None
    with pytest.raises(ConfigError, match="did you mean 'symdescent:lee_descent'"):
        resolve_pair(df, [A, "symdescent:lee_desc"])
    with pytest.raises(ConfigError, match="two different methods"):
        check_pair([A, A], [A, B])
    with pytest.raises(ConfigError, match="two different methods"):
        check_pair([A], [A, B])


def test_a_metric_that_does_not_apply_has_no_row(tmp_path):
    rows = [_row(A, "p0", True), {**_row("linear", "p0", None), "symbolic_solution": None}]
    ResultsFile(tmp_path / "results.csv").write_all(rows)
    table = paired_table(load_results(tmp_path / "results.csv"), A, "linear")
    assert list(table["metric"]) == ["R² > 0.999"]


def test_the_summary_holds_the_paired_table(tmp_path):
    report = write_report(_results(tmp_path))
    text = report["summary"].read_text(encoding="utf-8")
    assert f"## Paired: {A} against {B}" in text
    assert f"| metric | noise | pairs | both | only {A} | only {B} | neither | sign test p |" in text
    assert "| symbolic solution | 0 | 11 | 2 | 7 | 1 | 1 | 0.07031 |" in text
    assert f"{A} 13.5 s, {B} 10.0 s" in text  # medians of the finished runs among the pairs (not p11's)


def test_three_methods_have_no_paired_table_unless_two_are_named(tmp_path):
    path = _results(tmp_path)
    ResultsFile(path).append(_row("gplearn", "p0", False))
    assert "## Paired" not in write_report(path)["markdown"]
    assert f"## Paired: gplearn against {A}" in write_report(path, paired=["gplearn", A])["markdown"]


def test_the_paired_flag_of_the_cli(tmp_path, capsys):
    _results(tmp_path)
    assert main(["bench", "--report-only", "--out", str(tmp_path), "--paired", f"{B},{A}"]) == 0
    assert f"## Paired: {B} against {A}" in (tmp_path / "summary.md").read_text(encoding="utf-8")
    capsys.readouterr()
    assert main(["bench", "--report-only", "--out", str(tmp_path), "--paired", f"{A},pysrr"]) == 2
    assert "did you mean 'pysr'" in capsys.readouterr().err
    # checked against --methods before any run
    assert main(["bench", "--suite", "laws", "--methods", "symdescent,linear", "--paired", "symdescent,gbr",
                 "--out", str(tmp_path / "new")]) == 2
    assert "'gbr' is not a method of --methods" in capsys.readouterr().err
    assert not (tmp_path / "new").exists()
