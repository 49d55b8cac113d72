"""LEE refinement diagnostics: what each round does, and which part of it earns its keep.

``python -m symdescent_lee.experiments.diagnostics --limit 30 --rounds 4 --out DIR [--model-dir DIR]
[--problems ID ...] [--beam 64] [--first-samples 256] [--candidates 8] [--samples 32] [--steps 5]``

The report the LEE paper's referees asked for, on benchmark data (Feynman by
default: measured on, never trained on).  Every problem's data come from
:func:`symdescent.bench.data.make_dataset` (``--seed``, no noise, 1000 rows,
the training split); the runtime sees its seeded subsample of at most 200
rows, and every error below is measured on those rows.  Nothing here runs a
search: the runtime's public methods are driven directly, and a decoded
skeleton's constants are fitted by :func:`symdescent.expr.fit.fit_expression`
(root scale and offset, ``max_nfev`` 100), as the held-out evaluation does.

Round 0, shared by every variant: ``z0`` encoded from the data alone, a beam
of ``--beam`` plus ``--first-samples`` samples decoded from it and fitted.
Then ``--rounds`` rounds of each variant, each decoding ``candidates x samples``
skeletons (temperature 1) and fitting the new ones:

``reencode``
    (a) the ``--candidates`` best fitted candidates so far are re-encoded with
    the data, one ``z`` each, and decoded (the ``lee`` refiner with
    ``gradient_steps = 0``);
``gradient``
    (b) no re-encoding: ``z`` starts at ``z0`` and takes ``--steps`` gradient
    steps per round through the evaluation decoder (``refine_z``, step size
    ``--step-size``, ``--query-points`` points); each round decodes from it;
``both``
    (c) re-encoding, then the gradient steps on every re-encoded ``z`` (the
    ``lee`` refiner's default);
``one_shot_equal_time``
    (d) base-model capacity: no refinement, more decoding from ``z0`` instead
    (round ``r`` samples at temperature ``1 + 0.25 r``, at most 2, as the
    ``lee`` proposer's later calls), until the process CPU time reaches what
    ``both`` had spent at the end of the same round (in chunks sized from the
    measured cost of a skeleton, so that it ends close to it).

All variants' clocks start with round 0's time and count decoding and
fitting; CPU time (one thread) rather than wall time, because the machine may
be shared.  Per (variant, round) the report records, for every row of ``z``:
its norm ``||z||`` (over the K x d latent), the evaluation decoder's fit error
(its prediction of ``y`` from ``(z, x)`` against the data, NMSE = MSE / var y)
and the true error of the best skeleton decoded from it (after constant
fitting, NMSE on the data); and per round the best decoded candidate's error,
the best so far, and whether the round improved on the previous one.
``diagnostics.md`` holds the table and the statistics (does the evaluation
decoder's error track the true error; wins and losses between the variants at
the last round, with sign tests); ``diagnostics.json`` everything, with one
record per problem (non-finite numbers as null).
"""

from __future__ import annotations

if __name__ == "__main__":  # before numpy loads: one thread, as the other experiments
    import os as _os

    for _k in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS", "NUMEXPR_NUM_THREADS"):
        _os.environ.setdefault(_k, "1")

import argparse
import json
import math
import sys
import time
import zlib
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Sequence

import numpy as np

VARIANTS = ("reencode", "gradient", "both", "one_shot_equal_time")
#: the pairs compared at the last round (first against second)
PAIRS = (("both", "reencode"), ("both", "gradient"), ("both", "one_shot_equal_time"),
         ("reencode", "one_shot_equal_time"), ("gradient", "one_shot_equal_time"))
SOLVED_NMSE = 1e-3  # R² > 0.999 on the data
EXACT_NMSE = 1e-12  # below this two errors are both "exact" and tie
REL_TOL = 1e-6  # a smaller error counts only when smaller by more than this share


@dataclass(frozen=True)
class Settings:
    """What every problem runs (the CLI's options)."""

    rounds: int = 4
    beam: int = 64
    first_samples: int = 256
    candidates: int = 8
    samples: int = 32
    steps: int = 5
    step_size: float = 0.5
    query_points: int = 64
    temperature: float = 1.0
    max_nfev: int = 100
    seed: int = 0

    def validate(self) -> "Settings":
        for key in ("rounds", "candidates", "samples", "steps", "query_points", "max_nfev"):
            if getattr(self, key) < 1:
                raise ValueError(f"{key} must be >= 1, got {getattr(self, key)}")
        if self.beam < 0 or self.first_samples < 0 or self.beam + self.first_samples == 0:
            raise ValueError("beam and first_samples must be >= 0, and not both 0")
        if not (self.temperature > 0 and self.step_size > 0):
            raise ValueError("temperature and step_size must be > 0")
        return self


def _finite(v) -> float | None:
    return float(v) if v is not None and math.isfinite(v) else None


def _better(a: float, b: float) -> bool:
    """``a`` is a lower error than ``b`` (both exact: a tie)."""
    if a <= EXACT_NMSE and b <= EXACT_NMSE:
        return False
    return a < b * (1.0 - REL_TOL)


@dataclass
class _Clock:
    """CPU and wall seconds spent by one variant on one problem (round 0 included)."""

    cpu: float = 0.0
    wall: float = 0.0
    _start: tuple = field(default=(0.0, 0.0), repr=False)

    def __enter__(self):
        self._start = (time.process_time(), time.perf_counter())
        return self

    def __exit__(self, *exc):
        self.cpu += time.process_time() - self._start[0]
        self.wall += time.perf_counter() - self._start[1]


class _Pool:
    """One variant's fitted candidates on one problem: NMSE on the data by skeleton, each skeleton fitted once."""

    def __init__(self, X: np.ndarray, y: np.ndarray, max_nfev: int, fitted: dict | None = None):
        self.X, self.y, self.max_nfev = X, y, max_nfev
        self.var = float(np.var(y)) or 1.0
        self.fitted: dict = dict(fitted or {})  # skeleton key -> (nmse, fitted expression or None)

    def copy(self) -> "_Pool":
        return _Pool(self.X, self.y, self.max_nfev, self.fitted)

    def add(self, proposals, n_rows: int) -> list[float]:
        """Fit the new skeletons; returns the best NMSE decoded from each of ``n_rows`` rows (inf: none valid)."""
        from symdescent.expr.fit import fit_expression

        per_row = [math.inf] * n_rows
        for p in proposals:
            key = p.expression.key()
            if key not in self.fitted:
                with np.errstate(all="ignore"):
                    res = fit_expression(p.expression, self.X, self.y, max_nfev=self.max_nfev)
                ok = res.valid and math.isfinite(res.mse)
                self.fitted[key] = (res.mse / self.var, res.expression) if ok else (math.inf, None)
            per_row[p.source] = min(per_row[p.source], self.fitted[key][0])
        return per_row

    def best(self) -> float:
        return min((v for v, _ in self.fitted.values()), default=math.inf)

    def top(self, k: int) -> list:
        """The ``k`` best fitted expressions (valid ones only), best first."""
        ranked = sorted((v for v in self.fitted.values() if v[1] is not None), key=lambda v: v[0])
        return [e for _, e in ranked[:k]]


class _Problem:
    """One problem's data as the runtime sees it, and the measurements that are not timed."""

    def __init__(self, rt, X, y):
        self.rt, self.X, self.y = rt, X, y
        self.prep = rt.prepare(X, y)  # the subsample every runtime method sees
        self.var = float(np.var(self.prep.y)) or 1.0

    def eval_nmse(self, z) -> list[float]:
        """The evaluation decoder's NMSE, per row of ``z``, against the (subsampled) data."""
        with np.errstate(all="ignore"):
            pred = self.rt.predict(z, self.X, self.y)
            mse = np.mean((pred - self.prep.y[None]) ** 2, axis=1) / self.var
        return [float(v) for v in mse]

    def record(self, r: int, z, per_row, pool: _Pool, prev_best: float, clock: _Clock, **extra) -> dict:
        norms = np.linalg.norm(np.asarray(z, dtype=np.float64).reshape(len(z), -1), axis=1)
        ev = self.eval_nmse(z)
        best = pool.best()
        return {"round": r, "rows": len(z), "z_norm": float(norms.mean()), "z_norm_rows": norms.tolist(),
                "eval_nmse": min(ev), "eval_nmse_rows": ev, "decoded_nmse": min(per_row, default=math.inf),
                "decoded_nmse_rows": per_row, "best_nmse": best, "improved": r > 0 and _better(best, prev_best),
                "candidates_fitted": len(pool.fitted), "cpu_s": clock.cpu, "wall_s": clock.wall, **extra}


def _round0(P: _Problem, s: Settings, rng):
    rt, d = P.rt, P.prep.n_vars
    pool, clock = _Pool(P.prep.X, P.prep.y, s.max_nfev), _Clock()
    with clock:
        z0 = rt.encode(P.X, P.y)
        props = rt.beam(z0, s.beam, n_vars=d) if s.beam else []
        if s.first_samples:
            props = props + rt.sample(z0, s.first_samples, s.temperature, rng, n_vars=d)
        per_row = pool.add(props, 1)
    return z0, pool, clock, P.record(0, z0, per_row, pool, math.inf, clock)


def _refine_round(P: _Problem, variant: str, pool: _Pool, z, s: Settings, rng):
    """One round of ``reencode``, ``gradient`` or ``both``: the new z, what it decoded (per row), extra fields."""
    rt, d, extra = P.rt, P.prep.n_vars, {}
    n = s.samples
    if variant == "gradient":
        n = s.candidates * s.samples  # one row: as many skeletons per round as the others decode
    else:
        seeds = pool.top(s.candidates)
        if seeds:  # else (nothing valid decoded so far) z stays where it is
            z = rt.encode(P.X, P.y, seeds)
        else:
            n = s.candidates * s.samples
    if variant != "reencode":
        z, losses = rt.refine_z(z, P.X, P.y, steps=s.steps, step_size=s.step_size, n_query=s.query_points)
        extra["fit_loss_before_steps"] = float(np.min(losses[0]))
    props = rt.sample(z, n, s.temperature, rng, n_vars=d)
    return z, pool.add(props, len(z)), extra


def _equal_time_round(P: _Problem, pool: _Pool, z0, clock: _Clock, target_cpu: float, r: int, s: Settings,
                      rng, per_sample: float | None):
    """Decode more from ``z0`` until ``clock`` reaches ``target_cpu``, in chunks sized from the measured cost of a
    skeleton so as to end near it; returns the best NMSE decoded and the cost estimate."""
    temp = s.temperature * (1.0 + 0.25 * min(r, 4))  # the lee proposer's later calls
    most = s.candidates * s.samples
    best = math.inf
    while (left := target_cpu - clock.cpu) > 0:
        n = min(most, 2 * s.samples) if per_sample is None else min(most, int(left / per_sample))
        if n < 1:
            break
        before = clock.cpu
        with clock:
            props = P.rt.sample(z0, n, temp, rng, n_vars=P.prep.n_vars)
            best = min(best, pool.add(props, 1)[0])
        per_sample = max((clock.cpu - before) / n, 1e-6)
    return [best], per_sample


def diagnose(rt, X, y, s: Settings, seed_key: Sequence[int] = (0,)) -> dict:
    """Every variant's rounds on one problem: ``{"variants": {name: [round records]}, ...}``."""
    P = _Problem(rt, X, y)
    rngs = {v: np.random.default_rng([s.seed, *seed_key, i]) for i, v in enumerate(("start",) + VARIANTS)}
    z0, pool0, clock0, start = _round0(P, s, rngs["start"])
    out = {"n_points": int(P.prep.y.size), "n_vars": int(P.prep.n_vars), "variants": {}}
    for v in VARIANTS[:3]:
        pool, clock, z, rounds = pool0.copy(), _Clock(clock0.cpu, clock0.wall), z0, [start]
        for r in range(1, s.rounds + 1):
            prev = pool.best()
            with clock:
                z, per_row, extra = _refine_round(P, v, pool, z, s, rngs[v])
            rounds.append(P.record(r, z, per_row, pool, prev, clock, **extra))
        out["variants"][v] = rounds
    pool, clock, rounds, per_sample = pool0.copy(), _Clock(clock0.cpu, clock0.wall), [start], None
    for r in range(1, s.rounds + 1):
        prev = pool.best()
        target = out["variants"]["both"][r]["cpu_s"]
        per_row, per_sample = _equal_time_round(P, pool, z0, clock, target, r, s, rngs["one_shot_equal_time"],
                                                per_sample)
        rounds.append(P.record(r, z0, per_row, pool, prev, clock, target_cpu_s=target,
                               cpu_per_skeleton_s=per_sample))
    out["variants"]["one_shot_equal_time"] = rounds
    return out


# -- summary -------------------------------------------------------------------------

def _median(xs) -> float | None:
    xs = [x for x in xs if x is not None and not math.isnan(x)]
    return float(np.median(xs)) if xs else None


def _spearman(a, b) -> float | None:
    from scipy.stats import spearmanr

    if len(a) < 3 or len(set(a)) < 2 or len(set(b)) < 2:
        return None
    return _finite(spearmanr(a, b).statistic)


def tracking(records: Sequence[dict]) -> dict:
    """Does the evaluation decoder's error track the true error?  Over the rows of the re-encoding variants'
    rounds (and round 0): Spearman's rho pooled and within problems, and how often the row g_eval fits best
    decodes the round's best candidate."""
    pairs, within, hits, chance = [], [], [], []
    for rec in records:
        mine = []
        for v in ("reencode", "both"):
            for rd in rec["variants"][v][1:]:
                rows = [(e, t) for e, t in zip(rd["eval_nmse_rows"], rd["decoded_nmse_rows"])
                        if math.isfinite(e) and math.isfinite(t)]
                mine += rows
                if len(rows) >= 2 and len({t for _, t in rows}) > 1:
                    e_best = min(range(len(rows)), key=lambda i: rows[i][0])
                    t_best = min(t for _, t in rows)
                    hits.append(rows[e_best][1] <= t_best)
                    chance.append(sum(t <= t_best for _, t in rows) / len(rows))
        pairs += mine
        rho = _spearman([e for e, _ in mine], [t for _, t in mine])
        if rho is not None:
            within.append(rho)
    return {"pairs": len(pairs), "spearman_pooled": _spearman([e for e, _ in pairs], [t for _, t in pairs]),
            "spearman_within_median": _median(within), "problems_within": len(within),
            "argmin_hits": int(sum(hits)), "argmin_rounds": len(hits),
            "argmin_chance": float(np.mean(chance)) if chance else None}


def _per_round(records, v: str, r: int) -> dict:
    rds = [rec["variants"][v][r] for rec in records]
    n = len(rds)
    return {"variant": v if r else "start (every variant)", "round": r, "problems": n,
            "z_norm": _median([d["z_norm"] for d in rds]), "eval_nmse": _median([d["eval_nmse"] for d in rds]),
            "decoded_nmse": _median([d["decoded_nmse"] for d in rds]),
            "best_nmse": _median([d["best_nmse"] for d in rds]),
            "solved": sum(d["best_nmse"] < SOLVED_NMSE for d in rds),
            "improved": sum(bool(d["improved"]) for d in rds) if r else None,
            "cpu_s": _median([d["cpu_s"] for d in rds])}


def compare(records, a: str, b: str) -> dict:
    """Problems where ``a``'s best error after the last round is lower than ``b``'s, and the reverse; sign test."""
    from scipy.stats import binomtest

    wins = losses = 0
    for rec in records:
        ea, eb = rec["variants"][a][-1]["best_nmse"], rec["variants"][b][-1]["best_nmse"]
        wins += _better(ea, eb)
        losses += _better(eb, ea)
    p = binomtest(wins, wins + losses).pvalue if wins + losses else None
    return {"a": a, "b": b, "wins": wins, "losses": losses, "ties": len(records) - wins - losses, "p": p}


def summarise(records: Sequence[dict], rounds: int) -> dict:
    table = [_per_round(records, VARIANTS[0], 0)]
    table += [_per_round(records, v, r) for v in VARIANTS for r in range(1, rounds + 1)]
    return {"problems": len(records), "table": table, "tracking": tracking(records),
            "pairs": [compare(records, a, b) for a, b in PAIRS]}


def _g(v, fmt="{:.3g}") -> str:
    return "—" if v is None else fmt.format(v)


def markdown(report: dict) -> str:
    s, summ = report["settings"], report["summary"]
    n = summ["problems"]
    lines = [f"# LEE diagnostics: {n} problems of {report['suite']}, model {report['model']}", "",
             f"Round 0: beam {s['beam']} + {s['first_samples']} samples from z0 (the data alone). Each round: "
             f"{s['candidates']} x {s['samples']} skeletons; gradient steps {s['steps']} x {s['step_size']:g} "
             f"on {s['query_points']} points. Medians over problems; NMSE = MSE / var(y) on the data.", "",
             "| variant | round | ‖z‖ | g_eval NMSE | decoded NMSE (round's best) | best NMSE so far "
             "| best R² > 0.999 | improved on previous round | CPU s (cumulative) |",
             "|---|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for row in summ["table"]:
        imp = "—" if row["improved"] is None else f"{row['improved']}/{row['problems']}"
        lines.append(f"| {row['variant']} | {row['round']} | {_g(row['z_norm'], '{:.2f}')} | {_g(row['eval_nmse'])} "
                     f"| {_g(row['decoded_nmse'])} | {_g(row['best_nmse'])} | {row['solved']}/{row['problems']} "
                     f"| {imp} | {_g(row['cpu_s'], '{:.2f}')} |")
    t = summ["tracking"]
    hits = f"{t['argmin_hits']}/{t['argmin_rounds']}" if t["argmin_rounds"] else "—"
    lines += ["", "Does g_eval's error track the true error (rows of `reencode` and `both`, rounds ≥ 1):",
              f"Spearman ρ pooled {_g(t['spearman_pooled'], '{:.2f}')} over {t['pairs']} rows, median within a "
              f"problem {_g(t['spearman_within_median'], '{:.2f}')} ({t['problems_within']} problems); the row "
              f"g_eval fits best decodes the round's best candidate in {hits} rounds (chance "
              f"{_g(t['argmin_chance'], '{:.0%}')}).", "",
              "Best NMSE after the last round, per problem (a lower error counts; exact fits tie):", "",
              "| a | b | a better | b better | ties | sign test p |", "|---|---|---:|---:|---:|---:|"]
    for c in summ["pairs"]:
        lines.append(f"| {c['a']} | {c['b']} | {c['wins']} | {c['losses']} | {c['ties']} | {_g(c['p'], '{:.2g}')} |")
    if report.get("skipped"):
        lines += ["", "Skipped: " + "; ".join(f"{k} ({v})" for k, v in report["skipped"].items())]
    return "\n".join(lines) + "\n"


def _jsonable(obj):
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else None
    if isinstance(obj, dict):
        return {k: _jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_jsonable(v) for v in obj]
    return obj


# -- driver ----------------------------------------------------------------------

def run(datasets, rt, s: Settings, *, suite: str = "custom", model: str = "", log=None) -> dict:
    """Diagnose every ``(name, X, y)`` of ``datasets``; returns the report (settings, summary, problems).

    A problem the model cannot take (more variables than it has, too few rows) is skipped and named.
    """
    from symdescent.errors import DataError
    from symdescent.expr.compiled import warm_up

    s.validate()
    warm_up()  # the numba kernels compiled before any clock starts
    records, skipped = [], {}
    for i, (name, X, y) in enumerate(datasets):
        try:
            rec = diagnose(rt, X, y, s, seed_key=(zlib.crc32(str(name).encode()),))
        except DataError as exc:
            skipped[str(name)] = str(exc)
            continue
        records.append({"problem": str(name), **rec})
        if log:
            last = {v: rec["variants"][v][-1]["best_nmse"] for v in VARIANTS}
            log(f"[{i + 1}/{len(datasets)}] {name}: start {rec['variants']['both'][0]['best_nmse']:.3g}, "
                + ", ".join(f"{v} {e:.3g}" for v, e in last.items()))
    report = {"suite": suite, "model": model, "settings": asdict(s), "skipped": skipped,
              "summary": summarise(records, s.rounds), "problems": records}
    return _jsonable(report)


def write(report: dict, out_dir) -> tuple[Path, Path]:
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    md, js = out / "diagnostics.md", out / "diagnostics.json"
    md.write_text(markdown(report))
    js.write_text(json.dumps(report, indent=1, allow_nan=False) + "\n")
    return md, js


def feynman_datasets(problems, seed: int = 0, n_samples: int = 1000):
    """``(id, X_train, y_train)`` of each benchmark problem, as the bench makes its data (no noise)."""
    from symdescent.bench.data import make_dataset

    for p in problems:
        data = make_dataset(p, seed=seed, noise=0.0, n_samples=n_samples)
        yield p.id, data.X_train, data.y_train


def main(argv=None) -> int:
    from symdescent.bench.problems import load_suite, select
    from symdescent.errors import SymdescentError
    from symdescent_lee.experiments.ablation import model_id
    from symdescent_lee.plugin import default_model_dir
    from symdescent_lee.runtime import LeeRuntime

    d = Settings()
    ap = argparse.ArgumentParser(prog="python -m symdescent_lee.experiments.diagnostics",
                                 description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", required=True, help="output folder (diagnostics.md, diagnostics.json)")
    ap.add_argument("--model-dir", default=None, help="exported LEE model (default: the shipped model)")
    ap.add_argument("--suite", default="feynman", help="suite name or CSV path (default feynman)")
    ap.add_argument("--limit", type=int, default=None, help="the first N problems (after --problems)")
    ap.add_argument("--problems", nargs="+", default=None, help="problem ids (space or comma separated)")
    ap.add_argument("--n-samples", type=int, default=1000, help="rows per problem before the 75/25 split")
    for key in ("rounds", "beam", "first_samples", "candidates", "samples", "steps", "query_points", "seed"):
        ap.add_argument(f"--{key.replace('_', '-')}", type=int, default=getattr(d, key),
                        help=f"default {getattr(d, key)}")
    ap.add_argument("--step-size", type=float, default=d.step_size, help=f"default {d.step_size}")
    ap.add_argument("--quiet", action="store_true", help="no progress on stderr")
    args = ap.parse_args(argv)
    s = Settings(rounds=args.rounds, beam=args.beam, first_samples=args.first_samples, candidates=args.candidates,
                 samples=args.samples, steps=args.steps, step_size=args.step_size, query_points=args.query_points,
                 seed=args.seed)
    try:
        s.validate()
        model_dir = Path(args.model_dir) if args.model_dir else default_model_dir()
        rt = LeeRuntime.load(model_dir, threads=1, seed=args.seed)
        ids = [x.strip() for v in args.problems for x in v.split(",") if x.strip()] if args.problems else None
        problems = select(load_suite(args.suite), limit=args.limit, ids=ids)
        log = None if args.quiet else (lambda m: print(m, file=sys.stderr, flush=True))
        report = run(list(feynman_datasets(problems, args.seed, args.n_samples)), rt, s, suite=args.suite,
                     model=model_id(model_dir), log=log)
    except (ValueError, SymdescentError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    md, _ = write(report, args.out)
    print(md.read_text())
    return 0


if __name__ == "__main__":
    sys.exit(main())
