"""The LEE evaluation scripts: held-out synthetic evaluation and the Feynman ablation, on tiny inputs."""

import csv
import json
import subprocess
import sys
import textwrap

import numpy as np
import pytest

from symdescent.bench.problems import load_suite, select
from symdescent.config import config_from_dict
from symdescent.expr import parse
from symdescent.expr.fit import strip_scaling
from symdescent.registry import Registry, build_strategy
from symdescent_lee.experiments import ablation, heldout
from symdescent_lee.plugin import default_model_dir
from symdescent_lee.runtime import Proposal

# -- heldout ---------------------------------------------------------------------


def test_heldout_report_fields_and_determinism():
    a = heldout.run(default_model_dir(), n=5, seed=heldout.DEFAULT_SEED, samples=8)
    b = heldout.run(default_model_dir(), n=5, seed=heldout.DEFAULT_SEED, samples=8)
    strip = lambda r: [{k: v for k, v in p.items() if k != "time_s"} for p in r["problems"]]  # noqa: E731
    assert strip(a) == strip(b)
    assert a["settings"]["seed"] == heldout.DEFAULT_SEED not in a["settings"]["training_seeds_avoided"]
    assert a["overall"]["n"] == 5 and len(a["problems"]) == 5
    assert sum(r["n"] for r in a["by_ops"].values()) == 5 == sum(r["n"] for r in a["by_vars"].values())
    assert set(a["by_ops"]) == {"0-3", "4-6", "7+"} and set(a["by_vars"]) == {"1", "2-3", "4+"}
    for p in a["problems"]:
        assert p["within"] or not p["top1"]  # the greedy decode is in the pool
        assert 1 <= p["pool_size"] <= 1 + heldout.BEAM_WIDTH + 8
        assert p["numeric"] == (p["r2_heldout"] is not None and p["r2_heldout"] > 0.999)
    assert a["mean_time_s"] > 0
    table = heldout.markdown(a)
    assert "| all | 5 |" in table and "4+ variables" in table and "Mean time per problem" in table
    # the first problems do not depend on n
    c = heldout.run(default_model_dir(), n=2, seed=heldout.DEFAULT_SEED, samples=8)
    assert strip(c) == strip(a)[:2]
    # the dimensionally homogeneous distribution is another set of problems, and says so
    d = heldout.run(default_model_dir(), n=2, seed=heldout.DEFAULT_SEED, samples=8, p_dimensional=1.0)
    assert d["settings"]["p_dimensional"] == 1.0 and a["settings"]["p_dimensional"] == 0.0
    assert [p["truth"] for p in strip(d)] != [p["truth"] for p in strip(a)[:2]]
    assert "dimensionally homogeneous share 1" in heldout.markdown(d)


class _Oracle:
    """A runtime that decodes the truth: every metric must then count a success."""

    def __init__(self, skeleton):
        self.skeleton = skeleton

    def encode(self, X, y, candidates=None):
        return np.zeros((1, 4, 8), np.float32)

    def sample(self, z, n, temperature=1.0, rng=None, **kw):
        return [Proposal(self.skeleton, 0.0, 0)]

    def beam(self, z, width, **kw):
        return [Proposal(self.skeleton, 0.0, 0)]


def test_heldout_metrics_count_an_exact_decode():
    truth = parse("2.5 * (x1 + sin(x0)) + 0.5")
    X = np.random.default_rng(1).uniform(1, 3, size=(96, 2))
    y = truth.evaluate(X)
    # the decoder writes operands in the other order, with placeholder constants
    rec = heldout.evaluate_problem(_Oracle(parse("sin(x0) + x1")), truth, X, y, 2, n_points=64, samples=4,
                                   rng=np.random.default_rng(0))
    assert rec["target"] == "add(sin(x0),x1)" or rec["target"] == "add(x1,sin(x0))"
    assert rec["top1"] and rec["within"] and rec["numeric"] and rec["n_ops"] == 2 and rec["n_vars"] == 2
    wrong = heldout.evaluate_problem(_Oracle(parse("cos(x0) + x1")), truth, X, y, 2, n_points=64, samples=4,
                                     rng=np.random.default_rng(0))
    assert not (wrong["top1"] or wrong["within"] or wrong["numeric"])
    assert strip_scaling(truth).complexity == 4


def test_heldout_cli_writes_json_without_torch(tmp_path):
    out = tmp_path / "h.json"
    code = textwrap.dedent(f"""
        import sys
        sys.modules["torch"] = None  # importing torch now fails
        from symdescent_lee.experiments import heldout
        sys.exit(heldout.main(["--n", "3", "--samples", "4", "--quiet", "--json", {str(out)!r}]))
    """)
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert "| all | 3 |" in proc.stdout
    report = json.loads(out.read_text())
    assert {"settings", "overall", "by_ops", "by_vars", "mean_time_s", "problems"} <= set(report)
    assert report["overall"]["n"] == 3


def test_heldout_refuses_a_training_seed():
    with pytest.raises(SystemExit):
        heldout.main(["--n", "1", "--seed", "0"])


# -- ablation --------------------------------------------------------------------


def test_every_variant_config_is_valid():
    registry = Registry.discover()
    for v in ablation.VARIANTS:
        cfg = config_from_dict(ablation.variant_config(v, 5.0, default_model_dir()))
        registry.validate(cfg)
        assert cfg.search.time_budget == 5.0
    assert config_from_dict(ablation.variant_config("one_shot", 5.0)).search.max_iterations == 1
    assert config_from_dict(ablation.variant_config("gradient", 5.0)).plugins["lee"]["gradient_steps"] == 5
    assert config_from_dict(ablation.variant_config("reencode", 5.0)).plugins["lee"]["gradient_steps"] == 0
    loop = config_from_dict(ablation.variant_config("lee_loop", 5.0))
    assert tuple(loop.strategy.refiners) == ("lee", "descent") and loop.plugins["lee"]["refine_iterations"] == 1
    guided, seeds = (ablation.variant_config(v, 5.0) for v in ("lee_descent", "lee_seeds"))
    # LEE-seeded GP = seeds + guidance; without the guidance it is lee_seeds
    assert guided["plugins"].pop("descent") == {"guide_from": ["lee"]} and guided == seeds
    build_strategy(config_from_dict(ablation.variant_config("lee_descent", 5.0)), registry)  # guide_from is checked
    assert set(ablation.DEFAULT_VARIANTS) < set(ablation.VARIANTS)


def test_ablation_rows_summary_and_resume(tmp_path):
    problems = select(load_suite("feynman"), ids=["I.6.2a", "I.12.1"])
    kw = dict(budget=1.0, model_dir=default_model_dir(), simplify_timeout=5.0, log=lambda *a: None)
    counts = ablation.run_ablation(["one_shot", "reencode"], problems, tmp_path, **kw)
    assert counts["finished"] == 4 and not counts["interrupted"]
    with open(tmp_path / "results.csv", newline="") as fh:
        reader = csv.DictReader(fh)
        assert tuple(reader.fieldnames) == ablation.COLUMNS
        rows = list(reader)
    assert {(r["variant"], r["problem"]) for r in rows} == {(v, p.id) for v in ("one_shot", "reencode")
                                                            for p in problems}
    for r in rows:
        assert r["status"] == "ok", r["message"]
        assert -np.inf < float(r["r2_test"]) <= 1.0
        assert r["accuracy_solution"] in ("True", "False") and r["symbolic_solution"] in ("True", "False")
        assert int(r["complexity"]) >= 1 and float(r["time_s"]) > 0 and float(r["budget_s"]) == 1.0
        history = json.loads(r["history_loss"])
        assert len(history) == int(r["iterations"]) >= 1
        if r["variant"] == "one_shot":
            assert r["iterations"] == "1" and r["round_losses"] == ""
        else:
            rounds = json.loads(r["round_losses"])
            assert int(r["refine_calls"]) >= 1 and len(rounds) >= 1
            assert all(x is None or x >= 0 for x in rounds)
    summary = (tmp_path / "summary.md").read_text()
    assert "| one_shot | 2 |" in summary and "| reencode | 2 |" in summary
    assert "Does each refinement round help" in summary and "| reencode | 0 | 2 |" in summary
    assert "last round improved on round 0" in summary

    again = ablation.run_ablation(["one_shot", "reencode"], problems, tmp_path, **kw)
    assert again["skipped"] == 4 and again["finished"] == 0
    with pytest.raises(ablation.AblationError, match="budget"):
        ablation.run_ablation(["one_shot"], problems, tmp_path, **{**kw, "budget": 2.0})


def test_ablation_results_file_resume_rules(tmp_path):
    """The ablation keeps its rows in the bench's ResultsFile: its header, its resume rule, its error."""
    results = ablation.results_file(tmp_path / "results.csv")
    base = dict(budget_s=1.0, n_samples=1000, seed=0, lee_model="m1", round_losses=[0.5, float("nan")])
    for variant, problem, status in (("one_shot", "p1", "ok"), ("one_shot", "p1", "ok"), ("reencode", "p1", "error"),
                                     ("descent", "p2", "ok")):
        results.append(dict(base, variant=variant, problem=problem, status=status,
                            lee_model="" if variant == "descent" else "m1"))
    assert results.read()[0]["round_losses"] == "[0.5, null]"
    with pytest.raises(ablation.AblationError, match="model m1, not m2"):
        ablation.resume(results, 1.0, 1000, 0, "m2")
    with pytest.raises(ablation.AblationError, match="seed 0, not 1.0 s, 1000 and 1"):
        ablation.resume(results, 1.0, 1000, 1, "m1")
    assert ablation.resume(results, 1.0, 1000, 0, "m1") == {("one_shot", "p1"), ("reencode", "p1"), ("descent", "p2")}
    assert len(results.read()) == 3  # the repeated row is dropped from the file
    assert ablation.resume(results, 1.0, 1000, 0, "m1", retry_errors=True) == {("one_shot", "p1"), ("descent", "p2")}
    assert [r["status"] for r in results.read()] == ["ok", "ok"]
    from symdescent.bench.runner import ResultsFile

    ResultsFile(tmp_path / "bench.csv").append({"method": "a", "problem": "p1"})
    with pytest.raises(ablation.AblationError, match="not a LEE ablation results file"):
        ablation.results_file(tmp_path / "bench.csv").read()


def test_ablation_cli_rejects_unknown_variant(tmp_path, capsys):
    assert ablation.main(["--variants", "one_shot,bogus", "--out", str(tmp_path), "--limit", "1"]) == 2
    assert "bogus" in capsys.readouterr().err
