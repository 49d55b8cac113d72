"""The LEE diagnostics report (issue 21, item 5): per-round records and the table, on tiny problems."""

import json
import math

import numpy as np
import pytest

from symdescent_lee.experiments import diagnostics as diag
from symdescent_lee.plugin import default_model_dir
from symdescent_lee.runtime import LeeRuntime

TINY = diag.Settings(rounds=2, beam=4, first_samples=16, candidates=3, samples=4, steps=2, query_points=16)


@pytest.fixture(scope="module")
def report():
    rng = np.random.default_rng(3)
    X1 = rng.uniform(1, 3, size=(60, 2))
    X2 = rng.uniform(0.5, 2, size=(40, 1))
    datasets = [("prod", X1, 2.0 * X1[:, 0] * X1[:, 1] + 1.0), ("sin", X2, np.sin(3.0 * X2[:, 0]) + X2[:, 0])]
    rt = LeeRuntime.load(default_model_dir(), threads=1)
    return diag.run(datasets, rt, TINY, model="shipped")


def _finite(v):
    return v is not None and math.isfinite(v)


def test_every_round_records_norm_and_errors(report):
    assert [p["problem"] for p in report["problems"]] == ["prod", "sin"] and not report["skipped"]
    for p in report["problems"]:
        assert set(p["variants"]) == set(diag.VARIANTS)
        starts = {json.dumps(p["variants"][v][0], sort_keys=True) for v in diag.VARIANTS}
        assert len(starts) == 1  # round 0 is shared
        for v, rounds in p["variants"].items():
            assert [r["round"] for r in rounds] == list(range(TINY.rounds + 1))
            best = [r["best_nmse"] for r in rounds]
            assert all(_finite(b) and b >= 0 for b in best)
            assert all(b1 <= b0 for b0, b1 in zip(best, best[1:]))  # the best so far never gets worse
            for r in rounds:
                assert _finite(r["z_norm"]) and r["z_norm"] > 0 and _finite(r["eval_nmse"]) and r["eval_nmse"] >= 0
                assert len(r["z_norm_rows"]) == len(r["eval_nmse_rows"]) == len(r["decoded_nmse_rows"]) == r["rows"]
                assert r["eval_nmse"] == min(r["eval_nmse_rows"]) and _finite(r["decoded_nmse"])
                assert r["best_nmse"] <= r["decoded_nmse"] and r["improved"] in (True, False)
            cpu = [r["cpu_s"] for r in rounds]
            if v != "one_shot_equal_time":  # that one runs until both's time (below)
                assert all(c1 > c0 for c0, c1 in zip(cpu, cpu[1:]))
        reenc, grad, eq = (p["variants"][v] for v in ("reencode", "gradient", "one_shot_equal_time"))
        assert 1 <= reenc[1]["rows"] <= TINY.candidates  # one z per re-encoded candidate
        assert grad[1]["rows"] == 1 and grad[1]["z_norm"] != grad[0]["z_norm"]  # the steps moved z0
        assert "fit_loss_before_steps" in p["variants"]["both"][1] and "fit_loss_before_steps" not in reenc[1]
        for r in eq[1:]:
            # z0 only, decoding until both's time is reached or less than one more skeleton's cost is left
            assert r["z_norm"] == eq[0]["z_norm"] and r["cpu_s"] > r["target_cpu_s"] - r["cpu_per_skeleton_s"]
            assert r["target_cpu_s"] == p["variants"]["both"][r["round"]]["cpu_s"]


def test_table_shape_and_json(report, tmp_path):
    summary = report["summary"]
    assert summary["problems"] == 2
    table = summary["table"]
    assert len(table) == 1 + len(diag.VARIANTS) * TINY.rounds
    assert [(t["variant"], t["round"]) for t in table[1:]] == [(v, r) for v in diag.VARIANTS
                                                               for r in range(1, TINY.rounds + 1)]
    for t in table:
        assert t["problems"] == 2 and all(_finite(t[k]) for k in ("z_norm", "eval_nmse", "decoded_nmse", "best_nmse"))
        assert (t["improved"] is None) == (t["round"] == 0)
    md, js = diag.write(report, tmp_path)
    lines = md.read_text().splitlines()
    first = next(i for i, line in enumerate(lines) if line.startswith("| variant | round |"))
    end = next(i for i in range(first, len(lines)) if not lines[i].startswith("|"))
    header, body = lines[first], lines[first + 2:end]  # the first table: header, separator, one line a row
    assert "‖z‖" in header and "g_eval NMSE" in header and "improved on previous round" in header
    assert len(body) == len(table) and all(r.count("|") == header.count("|") for r in body)
    assert [r.split("|")[1].strip() for r in body] == [t["variant"] for t in table]

    def no_nan(name):
        raise AssertionError(f"{name} in the JSON")

    back = json.loads(js.read_text(), parse_constant=no_nan)
    assert back["summary"]["table"] == table and len(back["problems"]) == 2
    assert [(c["a"], c["b"]) for c in back["summary"]["pairs"]] == list(diag.PAIRS)


def _record(**best):
    return {"variants": {v: [{"best_nmse": e}] for v, e in best.items()}}


def test_compare_counts_wins_and_exact_ties():
    recs = [_record(both=1e-3, reencode=2e-3), _record(both=0.0, reencode=1e-14),  # both exact: a tie
            _record(both=0.5, reencode=0.5), _record(both=0.2, reencode=0.1), _record(both=1e-4, reencode=math.inf)]
    c = diag.compare(recs, "both", "reencode")
    assert (c["wins"], c["losses"], c["ties"]) == (2, 1, 2) and c["p"] == pytest.approx(1.0)
    assert diag.compare(recs[1:3], "both", "reencode")["p"] is None


def test_cli_rejects_bad_settings(tmp_path, capsys):
    assert diag.main(["--out", str(tmp_path), "--rounds", "0", "--limit", "1"]) == 2
    assert "rounds must be >= 1" in capsys.readouterr().err
    assert not (tmp_path / "diagnostics.md").exists()
