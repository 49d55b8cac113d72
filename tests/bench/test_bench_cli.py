"""``symdescent bench`` end to end: a tiny benchmark on a LocalCluster of 2 worker processes, then a rerun."""

import csv

from symdescent.cli import main


def test_argument_errors(tmp_path, capsys):
    assert main(["bench", "--seeds", "a", "--out", str(tmp_path)]) == 2
    assert "--seeds" in capsys.readouterr().err
    assert main(["bench", "--methods", "symdescent,pysrr", "--out", str(tmp_path)]) == 2
    assert "did you mean 'pysr'" in capsys.readouterr().err
    assert main(["bench", "--problems", "I.99.9", "--out", str(tmp_path)]) == 2
    assert main(["bench", "--noise", "-1", "--out", str(tmp_path)]) == 2
    assert main(["bench", "--report-only", "--out", str(tmp_path / "none")]) == 2


def test_tiny_benchmark_on_a_local_cluster_then_resume(tmp_path, capsys):
    config = tmp_path / "quick.toml"
    config.write_text("[search]\nmax_iterations = 2\n")
    out = tmp_path / "run"
    args = ["bench", "--suite", "feynman", "--problems", "I.12.1,I.14.3", "--budget", "2", "--samples", "200",
            "--methods", f"symdescent:{config},pysr", "--workers", "2", "--simplify-timeout", "10", "--out", str(out)]
    assert main(args) == 0
    with open(out / "results.csv", newline="") as fh:
        rows = list(csv.DictReader(fh))
    ok = [r for r in rows if r["status"] == "ok"]
    assert sorted(r["problem"] for r in ok) == ["I.12.1", "I.14.3"]
    for r in ok:
        assert r["method"] == f"symdescent:{config}" and r["seed"] == "0" and float(r["noise"]) == 0.0
        assert -1e9 < float(r["r2_test"]) <= 1.0 and int(r["complexity"]) >= 1
        assert float(r["time_s"]) > 0 and r["truth"] and r["model"]
        assert r["accuracy_solution"] in ("True", "False") and r["symbolic_solution"] in ("True", "False")
    pysr = [r for r in rows if r["method"] == "pysr"]
    assert len(pysr) == 2 and {r["status"] for r in pysr} <= {"unavailable", "ok"}
    for name in ("summary.md", "pareto.png", "noise.png"):
        assert (out / name).is_file()
    assert "| symdescent:" in capsys.readouterr().out

    assert main(args) == 0  # the rerun skips the finished rows and starts no cluster
    captured = capsys.readouterr()
    assert "2 run(s) already in" in captured.err and "0 finished" in captured.err
    with open(out / "results.csv", newline="") as fh:
        assert len([r for r in csv.DictReader(fh) if r["status"] == "ok"]) == 2
