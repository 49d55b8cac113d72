"""The island search's cost per exchange, by number of workers: traffic, the caller's time, the actor calls' latency.

Per worker count, on a fresh ``LocalCluster`` of single-threaded workers: an
island search with an iteration budget (a small problem, a migration after
every iteration), one with a time budget in 0.5 s iterations, and rounds of
no-op actor calls (the fixed cost of a round when the islands have nothing to
do).  From the rounds' history (:meth:`symdescent.islands.Island.run_round`
reports the bytes it received and sent; the driver times its own part) it
prints the medians of one round::

    python -m symdescent.bench.islands_overhead --workers 2,4,8 --rounds 6 --json overhead.json

and fits each cost as ``a + b * N`` to predict it for ``--predict 64`` workers
against a round's work (:func:`predict`).

Examples
--------
>>> fit_line([2, 4, 8], [1.0, 2.0, 4.0])
(0.0, 0.5)
>>> round(expected_max_normal(64), 2)
2.34
"""

from __future__ import annotations

import argparse
import json
import math
import statistics
import sys
import time
from typing import Sequence

import numpy as np

#: the rows and formula of the problem (the issue's per-core benchmark: its front stays full while it is searched)
ROWS = 300


def problem(rows: int = ROWS, seed: int = 0):
    """``x0 * exp(-x1) + sin(x2) * x0`` on ``rows`` uniform rows in [1, 3)."""
    X = np.random.default_rng(seed).uniform(1, 3, size=(rows, 3))
    return X, X[:, 0] * np.exp(-X[:, 1]) + np.sin(X[:, 2]) * X[:, 0]


class Echo:
    """A no-op actor: its calls cost the round trip and the payload's transfer, nothing else."""

    def echo(self, payload):
        return payload


def noop_rounds(client, payload, repeats: int) -> list[float]:
    """Seconds of ``repeats`` rounds of one ``echo(payload)`` call per worker, dispatched together, all awaited."""
    workers = sorted(client.scheduler_info(n_workers=-1)["workers"])
    actors = [client.submit(Echo, workers=[w], actor=True, pure=False).result() for w in workers]
    out = []
    for _ in range(repeats):
        t0 = time.monotonic()
        for call in [a.echo(payload) for a in actors]:
            call.result()
        out.append(time.monotonic() - t0)
    return out


def _round_medians(result, n_workers: int) -> dict:
    """The medians of a search's rounds (the first left out: it also pays each island's first calls)."""
    history = result.history[1:] or result.history

    def med(key: str) -> float:
        return statistics.median(h[key] for h in history)

    return {"rounds": len(result.history), "front_size": len(result.front),
            "bytes_out_per_island": med("bytes_out") / n_workers, "bytes_in_per_island": med("bytes_in") / n_workers,
            "caller_s": med("caller_s"), "wait_s": med("wait_s"), "busy_max_s": med("busy_max_s"),
            "busy_mean_s": med("busy_mean_s")}


def measure(n_workers: int, rounds: int, rows: int = ROWS, seed: int = 0, repeats: int = 20,
            sliced_budget: float = 4.0) -> dict:
    """On a fresh local cluster of ``n_workers``: an island search of ``rounds`` iterations (one migration each),
    a time-budgeted one of ``sliced_budget`` seconds in 0.5 s iterations, then no-op rounds; their medians."""
    from symdescent.cluster import close_client, local_client
    from symdescent.search import Search

    X, y = problem(rows, seed)
    search = {"migration_every": 1, "seed": seed, "workers": n_workers}
    t0 = time.monotonic()
    client = local_client(n_workers)
    try:
        client.wait_for_workers(n_workers, timeout=120)
        cluster_s = time.monotonic() - t0
        counted = Search(X, y, config={"search": {**search, "max_iterations": rounds, "time_budget": None}},
                         client=client).run()
        sliced = Search(X, y, config={"search": {**search, "time_budget": sliced_budget, "iteration_seconds": 0.5}},
                        client=client).run()
        noop = noop_rounds(client, tuple(counted.front), repeats)
    finally:
        t1 = time.monotonic()
        close_client(client)
        shutdown_s = time.monotonic() - t1
    return {"workers": n_workers, **_round_medians(counted, n_workers),
            "sliced": {k: v for k, v in _round_medians(sliced, n_workers).items() if k.endswith("_s")},
            "noop_round_s": statistics.median(noop), "cluster_start_s": cluster_s,
            "islands_ready_s": max(isl["startup_s"] for isl in counted.islands), "shutdown_s": shutdown_s}


def fit_line(xs: Sequence[float], ys: Sequence[float]) -> tuple[float, float]:
    """Least-squares ``(a, b)`` of ``y = a + b * x`` (``b`` 0 for a single point)."""
    if len(xs) < 2:
        return float(ys[0]), 0.0
    b, a = np.polyfit(np.asarray(xs, float), np.asarray(ys, float), 1)
    return round(float(a), 12) + 0.0, round(float(b), 12) + 0.0  # + 0.0: no -0.0


def expected_max_normal(n: int) -> float:
    """E[max of ``n`` standard normal draws] (Blom's approximation): how far the slowest of n islands lags."""
    from scipy.stats import norm

    return float(norm.ppf((n - 0.375) / (n + 0.25)))


def _at(rows: list[dict], n: int, key) -> float:
    """``key(row)`` fitted as ``a + b * workers`` over the measured rows, at ``n`` workers (at least 0)."""
    a, b = fit_line([r["workers"] for r in rows], [key(r) for r in rows])
    return max(0.0, a + b * n)


def predict(rows: list[dict], n: int, cores: int, overhead: float = 0.05, slice_s: float = 0.5) -> dict:
    """Per-round costs at ``n`` workers, from lines fitted to the measured ones, against a round's work.

    ``fixed_s``: the caller's own time plus a no-op round (dispatch, the
    round trips, the reports' transfer), what every round pays.  With a
    time budget a round's work is ``migration_every`` time slices, and the
    slowest island overruns its slice by ``sliced_lag_s`` (its last
    generation, measured).  With an iteration budget (the reproducible
    mode) it is ``migration_every`` iterations of ``iteration_s`` (one
    island with a core of its own: measured with no more workers than
    ``cores``), and the others wait for the slowest island: ``imbalance``,
    the measured spread of the islands' busy times scaled to the expected
    maximum of ``n`` of them, a share of the round that a longer round does
    not shrink when some islands are steadily slower.
    """
    own_core = [r for r in rows if r["workers"] <= cores] or rows[:1]
    iteration_s = statistics.median(r["busy_mean_s"] for r in own_core)
    sigma = statistics.median((r["busy_max_s"] - r["busy_mean_s"]) / r["busy_mean_s"]
                              / expected_max_normal(r["workers"]) for r in own_core)
    fixed = _at(rows, n, lambda r: r["caller_s"]) + _at(rows, n, lambda r: r["noop_round_s"])
    lag = statistics.median(r["sliced"]["busy_max_s"] - slice_s for r in own_core)

    def every(work_s: float) -> int:  # the smallest migration_every whose round keeps the fixed cost under overhead
        return max(1, math.ceil(fixed / (overhead * work_s)))

    return {"workers": n, "fixed_s": fixed, "bytes_per_round": _at(rows, n, lambda r: r["workers"] * (
                r["bytes_out_per_island"] + r["bytes_in_per_island"])),
            "iteration_s": iteration_s, "iterations_for_overhead": every(iteration_s),
            "imbalance": sigma * expected_max_normal(n), "slice_s": slice_s, "sliced_lag_s": max(0.0, lag),
            "slices_for_overhead": max(1, math.ceil((fixed + max(0.0, lag)) / (overhead * slice_s))),
            "overhead": overhead}


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--workers", default="2,4,8", help="comma-separated worker counts (default 2,4,8)")
    ap.add_argument("--rounds", type=int, default=6, help="iterations of each search, one migration each (6)")
    ap.add_argument("--rows", type=int, default=ROWS, help=f"rows of the problem ({ROWS})")
    ap.add_argument("--predict", type=int, default=64, help="workers to predict the overhead for (64)")
    ap.add_argument("--json", help="also write the figures to this file")
    args = ap.parse_args(argv)
    from symdescent.cluster import local_workers

    rows = []
    for n in (int(w) for w in args.workers.split(",")):
        rows.append(measure(n, args.rounds, args.rows))
        r = rows[-1]
        print(f"{n:>3} workers: out {r['bytes_out_per_island']:,.0f} B, in {r['bytes_in_per_island']:,.0f} B per "
              f"island; caller {r['caller_s'] * 1e3:.1f} ms, no-op round {r['noop_round_s'] * 1e3:.1f} ms; "
              f"iteration {r['busy_mean_s']:.3f} s (slowest {r['busy_max_s']:.3f} s, wait {r['wait_s']:.3f} s); "
              f"0.5 s slices: slowest {r['sliced']['busy_max_s']:.3f} s, wait {r['sliced']['wait_s']:.3f} s; "
              f"cluster {r['cluster_start_s']:.1f} s, islands ready {r['islands_ready_s']:.1f} s, "
              f"shut-down {r['shutdown_s']:.2f} s", flush=True)
    forecast = predict(rows, args.predict, local_workers("auto"))
    print(json.dumps(forecast, indent=1))
    if args.json:
        with open(args.json, "w", encoding="utf-8") as f:
            json.dump({"measured": rows, "predicted": forecast, "cores": local_workers("auto")}, f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
