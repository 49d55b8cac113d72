"""The LEE ablation on the Feynman benchmark: which part of LEE earns its keep?

``python -m symdescent_lee.experiments.ablation --budget 30 --limit 30 [--problems ID ...] [--out bench_results/lee_ablation]
[--model-dir DIR] [--variants one_shot,reencode,gradient,lee_descent,descent]``

Every (variant, problem) is one :class:`symdescent.search.Search` on the
data of :func:`symdescent.bench.data.make_dataset` (``seed`` 0, no noise,
1000 rows split 75/25 as the bench does), run sequentially in this process
(LEE and the GP are single-threaded).  All variants share ``[search]``
``time_budget = --budget``, ``seed = 0``, ``max_complexity = 25`` and the
default operators and scorer (``mdl``); LEE runs with the settings of
:class:`symdescent_lee.plugin.LeeConfig` (beam 64 and 1024 samples on the
first proposal call, 128 samples on each later one, 2 refinement rounds of
8 candidates x 16 samples, one onnxruntime thread) and the model of
``--model-dir``.  The variants:

``one_shot``
    proposers ``["lee"]``, no refiner, ``max_iterations = 1``: one beam plus
    samples decoded from the data alone, constants fitted, front polished.
``reencode``
    proposers ``["lee"]``, refiners ``["lee"]`` with ``gradient_steps = 0``:
    the best candidates are re-encoded with the data and decoded again.
``gradient``
    as ``reencode`` with ``gradient_steps = 5`` (step size 0.5): gradient
    steps on the re-encoded ``z`` through the evaluation decoder before decoding.
``lee_descent``
    proposers ``["lee", "random"]``, refiners ``["descent"]`` (defaults:
    population 200, up to 64 proposals taken in per iteration) with
    ``[plugins.descent] guide_from = ["lee"]``: LEE-seeded GP, i.e.
    ``descent`` below with LEE's proposals taken in as seeds and guiding the
    GP (operators weighted towards LEE's, LEE's subtrees grafted in as
    building blocks; :class:`symdescent.gp.GuidedSampler`), so the two
    differ by LEE alone (as ``examples/configs/lee_descent.toml``).  Until
    2026-11-28 this variant had seeds only (now ``lee_seeds``).
``descent``
    proposers ``["random"]`` (50 samples of at most 15 nodes per iteration),
    refiners ``["descent"]``: the GP baseline without LEE.
``lee_seeds`` (only when named in ``--variants``)
    as ``lee_descent`` without the guidance: LEE's proposals are seeds only.
``lee_loop`` (only when named in ``--variants``)
    as ``lee_seeds`` with the ``lee`` refiner before ``descent`` in every
    iteration (one round: the 8 best candidates of the front re-encoded with
    the data, 5 gradient steps, 32 samples each); what it decodes joins the
    front, from which the GP takes its seeds in the next iteration.

Per (variant, problem) one row of ``results.csv`` (written as soon as it
completes; a rerun skips the finished rows, so Ctrl-C loses only the run in
flight): test R² on the test split, accuracy solution (R² > 0.999),
symbolic solution and complexity as the bench computes them
(:func:`symdescent.bench.metrics.check_model`, in a child process with a
time limit, so it cannot hang), and the wall time of the search.  For the
variants with the LEE refiner, ``round_losses`` holds the loss of the
refiner's best candidate after each round of its FIRST refine call (round
0: the seeds handed in), and every row has ``history_loss``, the search's
best loss after each iteration (``result.history``); both are mean squared
errors on the training rows divided by ``var(y_train)``, JSON lists.

At the end ``summary.md`` gets one table per variant (symbolic rate,
R² > 0.999 rate, median complexity, median time) and a table "does each
refinement round help": per LEE-refiner variant and round, the mean and
median normalised loss and the share of problems where that round beat
round 0, plus the share where the last round improved on round 0.
"""

from __future__ import annotations

if __name__ == "__main__":  # before numpy loads: one thread, as the bench's workers
    import os as _os

    for _k in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS", "NUMEXPR_NUM_THREADS"):
        _os.environ.setdefault(_k, "1")

import argparse
import hashlib
import json
import math
import sys
import time
from pathlib import Path
from typing import Sequence

import numpy as np

from symdescent.bench.runner import ResultsFile, format_cell

#: the issue's ablation, run by default
DEFAULT_VARIANTS = ("one_shot", "reencode", "gradient", "lee_descent", "descent")
#: every variant ``--variants`` accepts: the default ones and further hybrids
VARIANTS = DEFAULT_VARIANTS + ("lee_seeds", "lee_loop")
LEE_VARIANTS = frozenset({"one_shot", "reencode", "gradient", "lee_descent", "lee_seeds", "lee_loop"})
LEE_REFINER_VARIANTS = ("reencode", "gradient", "lee_loop")
COLUMNS = ("variant", "problem", "status", "r2_test", "r2_train", "accuracy_solution", "symbolic_solution",
           "complexity", "time_s", "budget_s", "n_samples", "seed", "iterations", "n_evaluations", "stop_reason",
           "simplify_timed_out", "lee_model", "refine_calls", "round_losses", "history_loss", "model",
           "model_simplified", "truth", "message")
MAX_CHARS = 4000


class AblationError(Exception):
    """A problem with the arguments or the results file (reported without a traceback)."""


# -- variants -------------------------------------------------------------------

def variant_config(name: str, budget: float, model_dir: str | Path | None = None, seed: int = 0) -> dict:
    """The search configuration (a ``config_from_dict`` mapping) of one variant."""
    if name not in VARIANTS:
        raise AblationError(f"unknown variant {name!r}; variants: {', '.join(VARIANTS)}")
    # one process, as the figures it compares with (and one variant's runs follow each other on the machine)
    search = {"time_budget": float(budget), "seed": int(seed), "max_complexity": 25, "workers": 1}
    lee = {"model": str(model_dir)} if model_dir else {}
    if name == "one_shot":
        return {"search": {**search, "max_iterations": 1},
                "strategy": {"proposers": ["lee"], "refiners": []}, "plugins": {"lee": lee}}
    if name in ("reencode", "gradient"):
        steps = 0 if name == "reencode" else 5
        return {"search": search, "strategy": {"proposers": ["lee"], "refiners": ["lee"]},
                "plugins": {"lee": {**lee, "gradient_steps": steps}}}
    if name in ("lee_descent", "lee_seeds"):  # lee_descent: LEE's proposals also guide the GP
        guide = {"descent": {"guide_from": ["lee"]}} if name == "lee_descent" else {}
        return {"search": search, "strategy": {"proposers": ["lee", "random"], "refiners": ["descent"]},
                "plugins": {"lee": lee, **guide}}
    if name == "lee_loop":  # the LEE refiner inside the GP's loop: it re-encodes the front each iteration
        return {"search": search, "strategy": {"proposers": ["lee", "random"], "refiners": ["lee", "descent"]},
                "plugins": {"lee": {**lee, "refine_iterations": 1, "refine_candidates": 8, "refine_samples": 32}}}
    return {"search": search, "strategy": {"proposers": ["random"], "refiners": ["descent"]}}


def model_id(model_dir: Path) -> str:
    """A short fingerprint of an export (its manifest), recorded in every LEE row."""
    from symdescent_lee.manifest import model_file

    # confined like the runtime's reads, so a manifest symlinked to outside is never hashed
    with model_file(model_dir, "manifest.json", "manifest.json").open("rb") as f:
        return hashlib.file_digest(f, "sha256").hexdigest()[:12]


# -- one run -------------------------------------------------------------------

def _fmt(value) -> str:
    """A results cell: lists (the loss histories) as JSON with non-finite values as null, else as the bench writes."""
    if isinstance(value, (list, tuple)):
        return json.dumps([v if v is None or math.isfinite(v) else None for v in value])
    return format_cell(value)


def _normalised(losses, var_y: float) -> list:
    scale = var_y if var_y > 0 else 1.0
    return [float(v) / scale for v in losses]


def run_one(variant: str, problem, *, budget: float, model_dir: Path, lee_model: str, n_samples: int = 1000,
            seed: int = 0, simplify_timeout: float = 20.0, registry=None) -> dict:
    """Run one (variant, problem) and return its row (errors become ``status = error`` rows).

    Raises KeyboardInterrupt when the search was interrupted: its row would
    describe a cut-short run and must not be kept.
    """
    from symdescent.bench.data import make_dataset
    from symdescent.bench.metrics import accuracy_solution, r2_score, symbolic_columns, to_positive
    from symdescent.search import Search

    row = {"variant": variant, "problem": problem.id, "budget_s": float(budget), "n_samples": int(n_samples),
           "seed": int(seed), "lee_model": lee_model if variant in LEE_VARIANTS else ""}
    try:
        data = make_dataset(problem, seed=seed, noise=0.0, n_samples=n_samples)
        cfg = variant_config(variant, budget, model_dir, seed)
        start = time.monotonic()
        search = Search(data.X_train, data.y_train, variable_names=data.names, config=cfg, registry=registry)
        result = search.run()
        row["time_s"] = round(time.monotonic() - start, 3)
        if result.interrupted:
            raise KeyboardInterrupt
        if result.best is None:
            raise RuntimeError("the search found no valid expression")
        expr = result.best.expression
        var_y = float(np.var(data.y_train))
        with np.errstate(all="ignore"):
            r2 = r2_score(data.y_test, expr.evaluate(data.X_test))
            r2_train = r2_score(data.y_train, expr.evaluate(data.X_train))
        refiner = search.role("lee", "refiner") if "lee" in search.config.strategy.refiners else None
        rounds = getattr(refiner, "round_losses", None) or []
        row.update(status="ok", r2_test=r2, r2_train=r2_train, accuracy_solution=accuracy_solution(r2),
                   iterations=result.iterations, n_evaluations=result.n_evaluations, stop_reason=result.stop_reason,
                   refine_calls=len(rounds) if refiner is not None else None,
                   round_losses=_normalised(rounds[0], var_y) if rounds else None,
                   history_loss=_normalised([h["best_loss"] for h in result.history], var_y),
                   model=str(expr.to_infix(data.names))[:MAX_CHARS])
        model = to_positive(expr.to_sympy(data.names))
    except KeyboardInterrupt:
        raise
    except Exception as exc:  # one broken run must not stop the ablation
        row.update(status="error", message=f"{type(exc).__name__}: {exc}"[:MAX_CHARS])
        return row
    truth = problem.truth_sympy()
    row["truth"] = str(truth)
    row.update(symbolic_columns(model, truth, simplify_timeout, accurate=bool(row["accuracy_solution"]),
                                max_chars=MAX_CHARS))
    return row


# -- the results file -------------------------------------------------------------

def results_file(path: Path) -> ResultsFile:
    """``results.csv``: the bench's results file with the ablation's columns, read on resume, appended row by row."""
    return ResultsFile(path, columns=COLUMNS, kind="LEE ablation results file", error=AblationError, cell=_fmt)


def resume(results: ResultsFile, budget: float, n_samples: int, seed: int, lee_model: str,
           retry_errors: bool = False) -> set:
    """Keys ``(variant, problem)`` of the rows to keep; drops errors when ``retry_errors``.

    Raises AblationError when kept rows were made with another budget,
    sample count, seed or LEE model: mixing them would mean nothing.
    """

    def check(r: dict) -> None:
        same = (float(r["budget_s"]) == float(budget) and int(r["n_samples"]) == int(n_samples)
                and int(r["seed"]) == int(seed))
        if not same:
            raise AblationError(f"{results.path} holds runs with budget {r['budget_s']} s, {r['n_samples']} samples "
                                f"and seed {r['seed']}, not {budget} s, {n_samples} and {seed}; use another --out")
        if r["lee_model"] and r["lee_model"] != lee_model:
            raise AblationError(f"{results.path} holds LEE runs of model {r['lee_model']}, not {lee_model} "
                                "(the model changed); use another --out")

    return results.keep_finished(key=lambda r: (r["variant"], r["problem"]),
                                 redo=lambda r: retry_errors and r["status"] == "error", check=check)


# -- summary -------------------------------------------------------------------------

def _float(v) -> float | None:
    try:
        x = float(v)
    except (TypeError, ValueError):
        return None
    return x if math.isfinite(x) else None


def _json_list(v) -> list | None:
    if v in (None, ""):
        return None
    if isinstance(v, list):
        return v
    try:
        out = json.loads(v)
    except (TypeError, ValueError):
        return None
    return out if isinstance(out, list) else None


def _true(v) -> bool:
    return v is True or str(v).strip().lower() == "true"


def _median(xs) -> float | None:
    xs = [x for x in xs if x is not None]
    return float(np.median(xs)) if xs else None


def _pct(num: int, den: int) -> str:
    return f"{num}/{den} ({100 * num / den:.0f}%)" if den else "—"


def _num(v, fmt="{:.3g}") -> str:
    return "—" if v is None else fmt.format(v)


def summarise(rows: Sequence[dict], variants: Sequence[str]) -> dict:
    """Per-variant rates and medians, and per-round statistics of the LEE refiner (``rows`` as read from the CSV)."""
    out = {"variants": {}, "rounds": {}}
    for v in variants:
        rs = [r for r in rows if r["variant"] == v]
        ok = [r for r in rs if r["status"] == "ok"]
        out["variants"][v] = {
            "runs": len(rs), "errors": len(rs) - len(ok),
            "symbolic": sum(_true(r.get("symbolic_solution")) for r in ok),
            "accuracy": sum(_true(r.get("accuracy_solution")) for r in ok),
            "median_r2": _median([_float(r.get("r2_test")) for r in ok]),
            "median_complexity": _median([_float(r.get("complexity")) for r in ok]),
            "median_time_s": _median([_float(r.get("time_s")) for r in ok]),
        }
        if v not in LEE_REFINER_VARIANTS:
            continue
        curves = [c for c in (_json_list(r.get("round_losses")) for r in ok) if c]
        curves = [[x if x is not None else math.inf for x in c] for c in curves]
        depth = max((len(c) for c in curves), default=0)
        per_round = []
        for k in range(depth):
            vals = [c[k] for c in curves if len(c) > k]
            finite = [x for x in vals if math.isfinite(x)]
            better = sum(1 for c in curves if len(c) > k and c[k] < c[0])
            per_round.append({"round": k, "problems": len(vals),
                              "mean": float(np.mean(finite)) if finite else None,
                              "median": float(np.median(vals)) if vals else None,
                              "improved_on_round0": better})
        last = [c for c in curves if len(c) > 1]
        out["rounds"][v] = {"problems": len(curves), "per_round": per_round,
                            "last_improved": sum(1 for c in last if c[-1] < c[0]), "with_rounds": len(last)}
    return out


def summary_markdown(summary: dict, *, budget: float, model: str) -> str:
    lines = [f"# LEE ablation (budget {budget:g} s per run, LEE model {model})", "",
             "| variant | runs | errors | symbolic solution | R² > 0.999 | median test R² | median complexity "
             "| median time (s) |",
             "|---|---:|---:|---:|---:|---:|---:|---:|"]
    for v, s in summary["variants"].items():
        lines.append(f"| {v} | {s['runs']} | {s['errors']} | {_pct(s['symbolic'], s['runs'])} "
                     f"| {_pct(s['accuracy'], s['runs'])} | {_num(s['median_r2'], '{:.4f}')} "
                     f"| {_num(s['median_complexity'], '{:g}')} | {_num(s['median_time_s'], '{:.1f}')} |")
    lines += ["", "Rates count error rows as failures.", "",
              "## Does each refinement round help?", "",
              "Loss (training MSE / var(y)) of the LEE refiner's best candidate after each round of its first "
              "refine call; round 0 is the best of the seeds handed in.", ""]
    if not summary["rounds"]:
        lines.append("(no variant with the LEE refiner in this run)")
        return "\n".join(lines) + "\n"
    lines += ["| variant | round | problems | mean | median | better than round 0 |",
              "|---|---:|---:|---:|---:|---:|"]
    for v, s in summary["rounds"].items():
        for r in s["per_round"]:
            better = "—" if r["round"] == 0 else _pct(r["improved_on_round0"], r["problems"])
            lines.append(f"| {v} | {r['round']} | {r['problems']} | {_num(r['mean'], '{:.4g}')} "
                         f"| {_num(r['median'], '{:.4g}')} | {better} |")
    lines.append("")
    for v, s in summary["rounds"].items():
        lines.append(f"- {v}: the last round improved on round 0 in {_pct(s['last_improved'], s['with_rounds'])} "
                     f"of the problems with at least one round ({s['problems']} with a refine call).")
    return "\n".join(lines) + "\n"


def write_summary(out_dir: Path, rows, variants, problems, *, budget: float, model: str) -> Path:
    ids = {p.id for p in problems}
    rows = [r for r in rows if r["problem"] in ids and r["variant"] in variants]
    path = Path(out_dir) / "summary.md"
    path.write_text(summary_markdown(summarise(rows, variants), budget=budget, model=model))
    return path


# -- driver ----------------------------------------------------------------------

def _warm_up() -> None:
    """Imports and numba compilation before the first timed run (the bench's warm_up does the same)."""
    import sympy  # noqa: F401

    from symdescent.expr import parse
    from symdescent.expr.fit import fit_expression

    X = np.linspace(1.0, 2.0, 8)[:, None]
    fit_expression(parse("C * x0 + C"), X, 2 * X[:, 0] + 1)


def run_ablation(variants: Sequence[str], problems: Sequence, out_dir: Path, *, budget: float, model_dir: Path,
                 n_samples: int = 1000, seed: int = 0, simplify_timeout: float = 20.0, retry_errors: bool = False,
                 log=print) -> dict:
    """Run what is not yet in ``out_dir/results.csv``; write ``summary.md``.  Returns counts."""
    from symdescent.registry import Registry

    for v in variants:
        if v not in VARIANTS:
            raise AblationError(f"unknown variant {v!r}; variants: {', '.join(VARIANTS)}")
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    lee_model = model_id(model_dir)
    results = results_file(out_dir / "results.csv")
    done = resume(results, budget, n_samples, seed, lee_model, retry_errors)
    todo = [(v, p) for p in problems for v in variants if (v, p.id) not in done]
    counts = {"planned": len(variants) * len(problems), "skipped": len(variants) * len(problems) - len(todo),
              "finished": 0, "interrupted": False}
    log(f"{counts['planned']} runs planned, {counts['skipped']} already in {results.path}, {len(todo)} to run")
    try:
        if todo:
            _warm_up()
            registry = Registry.discover()
        for i, (v, p) in enumerate(todo, 1):
            row = run_one(v, p, budget=budget, model_dir=model_dir, lee_model=lee_model, n_samples=n_samples,
                          seed=seed, simplify_timeout=simplify_timeout, registry=registry)
            results.append(row)
            counts["finished"] += 1
            if row["status"] == "ok":
                log(f"[{i}/{len(todo)}] {v:11s} {p.id:12s} R²={row['r2_test']:.4f} "
                    f"symbolic={bool(row.get('symbolic_solution'))} complexity={row.get('complexity')} "
                    f"{row['time_s']:.1f}s  {row['model'][:80]}")
            else:
                log(f"[{i}/{len(todo)}] {v:11s} {p.id:12s} ERROR {row.get('message', '')[:200]}")
    except KeyboardInterrupt:
        counts["interrupted"] = True
        log(f"interrupted: {counts['finished']} new row(s) kept in {results.path}; run again to resume")
    summary = write_summary(out_dir, results.read(), variants, problems, budget=budget, model=lee_model)
    log(f"summary: {summary}")
    counts["summary"] = str(summary)
    return counts


def _split(values) -> list[str]:
    return [s.strip() for v in values or () for s in v.split(",") if s.strip()]


def main(argv=None) -> int:
    from symdescent.bench.problems import load_suite, select
    from symdescent.errors import SymdescentError
    from symdescent_lee.plugin import default_model_dir

    ap = argparse.ArgumentParser(prog="python -m symdescent_lee.experiments.ablation",
                                 description="The LEE ablation on the Feynman benchmark (see the module docstring).")
    ap.add_argument("--budget", type=float, default=30.0, help="seconds per run (default 30)")
    ap.add_argument("--limit", type=int, default=None, help="the first N problems (after --problems)")
    ap.add_argument("--problems", nargs="+", default=None, help="problem ids (space or comma separated)")
    ap.add_argument("--suite", default="feynman", help="suite name or CSV path (default feynman)")
    ap.add_argument("--out", default="bench_results/lee_ablation", help="output folder (results.csv, summary.md)")
    ap.add_argument("--model-dir", default=None, help="exported LEE model (default: the shipped model)")
    ap.add_argument("--variants", default=",".join(DEFAULT_VARIANTS),
                    help=f"comma separated, from {', '.join(VARIANTS)} (default: all but lee_seeds and lee_loop)")
    ap.add_argument("--n-samples", type=int, default=1000, help="rows per problem before the 75/25 split")
    ap.add_argument("--seed", type=int, default=0, help="data and search seed (default 0)")
    ap.add_argument("--simplify-timeout", type=float, default=20.0, help="seconds for the symbolic check of a model")
    ap.add_argument("--retry-errors", action="store_true", help="run the error rows again")
    args = ap.parse_args(argv)
    variants = _split([args.variants])
    try:
        bad = [v for v in variants if v not in VARIANTS]
        if bad or not variants:
            raise AblationError(f"unknown variant(s) {', '.join(bad) or '(none given)'}; "
                                f"variants: {', '.join(VARIANTS)}")
        if len(set(variants)) != len(variants):
            raise AblationError("a variant is named twice in --variants")
        if not args.budget > 0:
            raise AblationError("--budget must be > 0")
        model_dir = Path(args.model_dir) if args.model_dir else default_model_dir()
        if not (model_dir / "manifest.json").is_file():
            raise AblationError(f"no exported LEE model at {model_dir} (manifest.json missing)")
        ids = _split(args.problems) if args.problems else None
        problems = select(load_suite(args.suite), limit=args.limit, ids=ids)
        counts = run_ablation(variants, problems, Path(args.out), budget=args.budget, model_dir=model_dir,
                              n_samples=args.n_samples, seed=args.seed, simplify_timeout=args.simplify_timeout,
                              retry_errors=args.retry_errors)
    except (AblationError, SymdescentError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 130 if counts["interrupted"] else 0


if __name__ == "__main__":
    sys.exit(main())
