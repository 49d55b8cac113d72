"""Held-out synthetic evaluation of a LEE export (numpy + onnxruntime only; no torch).

``python -m symdescent_lee.experiments.heldout --model-dir DIR --n 300 --seed 987654 [--samples 32] [--json OUT]``

Draws ``n`` problems from :class:`~symdescent_lee.training.data.SyntheticGenerator`
with ``DataConfig()`` (``--p-dimensional P``: that share of dimensionally
homogeneous expressions, as a run trained on them sees) and a data seed that training never uses (training
draws its batches from seed 0 and its validation batch from seed
10_000_019; the default here is 987654).  Problem ``i`` comes from
``numpy.random.default_rng([seed, i])``, so the first ``k`` problems of a
run with ``n >= k`` are always the same and a run is deterministic given the
seed.  Only the data seed is held out: short skeletons (``x0 * x1``) are
certainly also among the training expressions.

Each problem has ``n_points`` (64) encoder points and ``n_query`` (32)
further points of the same formula, used only for the numeric check.  The
encoder sees the data alone: ``z = rt.encode(X[:64], y[:64])``.  Metrics:

* **top-1**: the greedy decode (beam width 1) equals the target skeleton,
  ``strip_scaling(truth)``, up to :func:`~symdescent.expr.variation.canonical_key`
  (operands of ``+``/``*`` sorted, constant values abstracted).  Root scaling
  is stripped from the decoded skeleton too, as fitting restores it;
* **within k**: any candidate of the pool matches.  The pool is the greedy
  decode, a beam of width 8 and ``--samples`` (32) samples at temperature 1
  (the greedy decode is included so that top-1 implies within-k; it is
  nearly always the beam's first result anyway);
* **numeric**: the pool's candidates get their constants fitted (with root
  scale and offset) by :func:`symdescent.expr.fit.fit_expression` with
  ``max_nfev=100`` on the 64 encoder points; the one with the lowest fitting
  error is evaluated on the 32 held-out points, and counts when its R² there
  exceeds 0.999.  Looser than the skeleton checks: an equivalent form, or a
  different formula that fits, counts.

All three are broken down by the number of operators of the target skeleton
(bins 0-3, 4-6, 7+: stripping root scaling can leave ``x0`` alone, so the
first bin starts at 0) and by the number of variables (1, 2-3, 4+).  The
time per problem covers encoding, the three decodes and the fits.  A
markdown table goes to stdout; ``--json`` also writes the numbers and one
record per problem.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

DEFAULT_SEED = 987654
TRAINING_SEEDS = (0, 10_000_019)  # TrainConfig.data_seed and valid_seed
BEAM_WIDTH = 8
R2_THRESHOLD = 0.999
MAX_NFEV = 100
OPS_BINS = (("0-3", 0, 3), ("4-6", 4, 6), ("7+", 7, 10**9))
VAR_BINS = (("1", 1, 1), ("2-3", 2, 3), ("4+", 4, 10**9))
METRICS = ("top1", "within", "numeric")


def n_operators(expr) -> int:
    from symdescent.expr import ops

    return sum(1 for t in expr.tokens if ops.arity(t) > 0)


def _bin(value: int, bins) -> str:
    for label, lo, hi in bins:
        if lo <= value <= hi:
            return label
    raise ValueError(value)


def _r2(y, pred) -> float:
    from symdescent.bench.metrics import r2_score

    return r2_score(y, pred)


def evaluate_problem(rt, expr, X, y, d, *, n_points: int, samples: int, rng) -> dict:
    """Decode one problem from its data alone and score the three metrics (see the module docstring)."""
    from symdescent.expr.evaluate import evaluate_tokens
    from symdescent.expr.fit import fit_expression, strip_scaling
    from symdescent.expr.variation import canonical_key

    Xe, ye, Xq, yq = X[:n_points], y[:n_points], X[n_points:], y[n_points:]
    target = strip_scaling(expr)
    key = canonical_key(target)
    t0 = time.perf_counter()
    z = rt.encode(Xe, ye)
    greedy = rt.sample(z, 1, 0.0, n_vars=d)
    beam = rt.beam(z, BEAM_WIDTH, n_vars=d)
    sampled = rt.sample(z, samples, 1.0, rng, n_vars=d)
    pool = {}
    for p in greedy + beam + sampled:
        pool.setdefault(p.expression.key(), p.expression)
    keys = {k: canonical_key(strip_scaling(e)) for k, e in pool.items()}
    top1 = bool(greedy) and canonical_key(strip_scaling(greedy[0].expression)) == key
    within = any(k == key for k in keys.values())
    best, best_mse = None, np.inf
    for e in pool.values():
        res = fit_expression(e, Xe, ye, max_nfev=MAX_NFEV)
        if res.valid and res.mse < best_mse:
            best, best_mse = res.expression, res.mse
    r2 = float("-inf")
    if best is not None:
        with np.errstate(all="ignore"):
            r2 = _r2(yq, evaluate_tokens(best.tokens, best.constants, Xq))
    elapsed = time.perf_counter() - t0
    return {
        "truth": expr.to_infix(), "target": key, "n_vars": int(d), "n_ops": n_operators(target),
        "greedy": greedy[0].expression.to_infix() if greedy else None, "pool_size": len(pool),
        "top1": bool(top1), "within": bool(within), "best": best.to_infix() if best is not None else None,
        "r2_heldout": r2 if np.isfinite(r2) else None, "numeric": bool(np.isfinite(r2) and r2 > R2_THRESHOLD),
        "time_s": elapsed,
    }


def _rates(records) -> dict:
    n = len(records)
    out = {"n": n}
    for m in METRICS:
        out[m] = (sum(r[m] for r in records) / n) if n else None
    return out


def summarise(records) -> dict:
    by_ops = {label: _rates([r for r in records if _bin(r["n_ops"], OPS_BINS) == label]) for label, *_ in OPS_BINS}
    by_vars = {label: _rates([r for r in records if _bin(r["n_vars"], VAR_BINS) == label]) for label, *_ in VAR_BINS}
    times = [r["time_s"] for r in records]
    return {"overall": _rates(records), "by_ops": by_ops, "by_vars": by_vars,
            "mean_time_s": float(np.mean(times)) if times else None}


def run(model_dir, n: int, seed: int = DEFAULT_SEED, samples: int = 32, threads: int = 1,
        progress=None, p_dimensional: float = 0.0) -> dict:
    """Evaluate ``n`` held-out problems; returns the summary, the settings and the per-problem records."""
    from symdescent.expr import parse
    from symdescent.expr.fit import fit_expression
    from symdescent_lee.training.data import DataConfig, SyntheticGenerator
    from symdescent_lee.runtime import LeeRuntime

    if seed in TRAINING_SEEDS:
        raise ValueError(f"seed {seed} is a training/validation data seed; choose another")
    cfg = DataConfig(p_dimensional=p_dimensional)
    rt = LeeRuntime.load(model_dir, threads=threads, max_points=max(200, cfg.n_points))
    gen = SyntheticGenerator(cfg, seed=seed)
    # compile the numba fitting kernels before the clock starts
    Xw = np.linspace(1.0, 2.0, 8)[:, None]
    fit_expression(parse("C * x0 + C"), Xw, 2 * Xw[:, 0] + 1)
    records = []
    for i in range(n):
        rng = np.random.default_rng([seed, i])
        expr, X, y, d = gen.sample_problem(rng)
        rec = evaluate_problem(rt, expr, X, y, d, n_points=cfg.n_points, samples=samples,
                               rng=np.random.default_rng([seed, i, 1]))
        rec["index"] = i
        records.append(rec)
        if progress:
            progress(i + 1, n, rec)
    manifest = rt.manifest  # validated by LeeRuntime.load
    settings = {"model_dir": str(model_dir), "model_sha256_encoder": manifest["sha256"].get("encoder.onnx"),
                "n": n, "seed": seed, "training_seeds_avoided": list(TRAINING_SEEDS), "samples": samples,
                "beam_width": BEAM_WIDTH, "temperature": 1.0, "max_nfev": MAX_NFEV, "r2_threshold": R2_THRESHOLD,
                "n_points": cfg.n_points, "n_query": cfg.n_query, "threads": threads,
                "p_dimensional": cfg.p_dimensional}
    return {"settings": settings, **summarise(records), "problems": records}


def _pct(v) -> str:
    return "—" if v is None else f"{100 * v:.1f}%"


def markdown(report: dict) -> str:
    s = report["settings"]
    k = s["samples"]
    lines = [
        f"LEE held-out synthetic evaluation: {s['n']} problems, data seed {s['seed']} "
        f"(training uses {', '.join(map(str, s['training_seeds_avoided']))}), model {s['model_dir']}"
        + (f", dimensionally homogeneous share {s['p_dimensional']:g}" if s.get("p_dimensional") else ""),
        "",
        f"| group | problems | skeleton top-1 | skeleton within beam {s['beam_width']} + {k} samples "
        f"| numeric R² > {s['r2_threshold']} |",
        "|---|---:|---:|---:|---:|",
    ]

    def row(name, r):
        lines.append(f"| {name} | {r['n']} | {_pct(r['top1'])} | {_pct(r['within'])} | {_pct(r['numeric'])} |")

    row("all", report["overall"])
    for label, r in report["by_ops"].items():
        row(f"{label} operators", r)
    for label, r in report["by_vars"].items():
        row(f"{label} variable{'s' if label != '1' else ''}", r)
    t = report["mean_time_s"]
    lines += ["", f"Mean time per problem: {t:.3f} s" if t is not None else "Mean time per problem: —"]
    return "\n".join(lines)


def main(argv=None) -> int:
    from symdescent_lee.plugin import default_model_dir

    ap = argparse.ArgumentParser(prog="python -m symdescent_lee.experiments.heldout", description=__doc__.split("\n\n")[0])
    ap.add_argument("--model-dir", default=None, help="exported model folder (default: the shipped model)")
    ap.add_argument("--n", type=int, default=300, help="problems to draw (default 300)")
    ap.add_argument("--seed", type=int, default=DEFAULT_SEED,
                    help=f"data seed (default {DEFAULT_SEED}; training uses 0 and 10000019)")
    ap.add_argument("--samples", type=int, default=32, help="samples at temperature 1 per problem (default 32)")
    ap.add_argument("--threads", type=int, default=1, help="onnxruntime threads (default 1)")
    ap.add_argument("--p-dimensional", type=float, default=0.0,
                    help="share of dimensionally homogeneous expressions (default 0: the plain grammar)")
    ap.add_argument("--json", default=None, help="also write the report as JSON here")
    ap.add_argument("--quiet", action="store_true", help="no progress on stderr")
    args = ap.parse_args(argv)
    if args.n < 1 or args.samples < 1:
        ap.error("--n and --samples must be >= 1")
    if not 0.0 <= args.p_dimensional <= 1.0:
        ap.error(f"--p-dimensional must be in [0, 1], got {args.p_dimensional}")
    if args.seed in TRAINING_SEEDS:
        ap.error(f"--seed {args.seed} is a training/validation data seed; choose another")
    model_dir = Path(args.model_dir) if args.model_dir else default_model_dir()

    def progress(i, n, rec):
        if not args.quiet and (i % 25 == 0 or i == n):
            print(f"  {i}/{n} problems", file=sys.stderr, flush=True)

    report = run(model_dir, args.n, args.seed, args.samples, args.threads, progress, args.p_dimensional)
    print(markdown(report))
    if args.json:
        path = Path(args.json)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(report, indent=1, default=float) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
