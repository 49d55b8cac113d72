"""Two methods run side by side, compared run by run: the paired table and its sign test.

Two methods of one ``symdescent bench`` run see the same problems, seeds,
noise levels, data and budget, so each (problem, seed, noise) is a pair of
runs.  Per metric (symbolic solution, accuracy solution R² > 0.999) and
noise level the table counts the pairs solved by both methods, by the first
only, by the second only and by neither, and gives the two-sided exact sign
test on the discordant pairs (:func:`scipy.stats.binomtest` of "only A"
among "only A" + "only B" against 1/2): the pairs that both or neither
solve say nothing about which method is better.

A pair needs an attempted row (``ok`` or ``error``) of both methods; an
error solves nothing, unavailable rows are left out, and so are real tables
(the black-box track has no ground truth to solve).  A metric that does not
apply to one of the two methods (``linear`` has no formula to check) has no
row.  Beside the counts: the median wall time of each method's finished
runs among the pairs.  What part of a run LEE itself took is not in ``results.csv``; the
budget is the same wall clock for both, LEE's time included.

``symdescent bench`` adds the table to ``summary.md`` when the run's formula
rows hold exactly two methods, or for the two that ``--paired A,B`` names.

Examples
--------
>>> import pandas as pd
>>> rows = pd.DataFrame({"method": ["a", "b"] * 3, "problem": ["p1", "p1", "p2", "p2", "p3", "p3"],
...                      "seed": 0, "noise": 0.0, "status": "ok",
...                      "symbolic_solution": [True, True, True, False, False, False],
...                      "accuracy_solution": True, "time_s": 1.0})
>>> paired_table(rows, "a", "b")[["metric", "both", "only_a", "only_b", "neither"]].to_dict("records")[0]
{'metric': 'symbolic solution', 'both': 1, 'only_a': 1, 'only_b': 0, 'neither': 1}
"""

from __future__ import annotations

from typing import Sequence

import numpy as np
import pandas as pd

from symdescent.errors import ConfigError, did_you_mean

#: (column of the results, name in the table)
METRICS = (("symbolic_solution", "symbolic solution"), ("accuracy_solution", "R² > 0.999"))
PAIRED_COLUMNS = ("metric", "noise", "pairs", "both", "only_a", "only_b", "neither", "p_value")
_KEY = ["problem", "seed", "noise"]


def sign_test(only_a: int, only_b: int) -> float:
    """Two-sided exact sign test on the discordant pairs; NaN when there are none.

    >>> round(sign_test(7, 1), 6)
    0.070312
    """
    from scipy.stats import binomtest

    n = int(only_a) + int(only_b)
    return float(binomtest(int(only_a), n, 0.5).pvalue) if n else float("nan")


def _attempted(df: pd.DataFrame) -> pd.DataFrame:
    from symdescent.bench.report import is_blackbox

    return df[df["status"].isin(["ok", "error"]) & ~is_blackbox(df)]


def check_pair(pair: Sequence[str], methods: Sequence[str], where: str = "the results") -> tuple[str, str]:
    """``pair`` as a tuple, when it is two different names of ``methods``.

    Raises
    ------
    ConfigError
        Otherwise, with a did-you-mean for a name that is not a method of ``where``.
    """
    pair = tuple(pair)
    if len(pair) != 2 or not all(pair) or pair[0] == pair[1]:
        raise ConfigError(f"--paired: give two different methods, like A,B; got {','.join(pair)!r}")
    for name in pair:
        if name not in methods:
            raise ConfigError(f"--paired: {name!r} is not a method of {where}{did_you_mean(name, methods)}; "
                              f"methods: {', '.join(methods) or 'none'}")
    return pair[0], pair[1]


def resolve_pair(df: pd.DataFrame, pair: Sequence[str] | None = None) -> tuple[str, str] | None:
    """The two methods to compare: ``pair``, checked by :func:`check_pair` against the methods of the results
    (one whose runs were all unavailable is there too: its table says that no pair ran), else the only two
    methods with attempted runs of formulas (None unless there are exactly two)."""
    if pair is not None:
        return check_pair(pair, list(dict.fromkeys(df["method"])))
    methods = list(dict.fromkeys(_attempted(df)["method"]))  # in the order of their first row
    return (methods[0], methods[1]) if len(methods) == 2 else None


def _solved(rows: pd.DataFrame, column: str) -> pd.Series:
    flag = rows[column].astype(object).where(rows[column].notna(), False) if column in rows else False
    return (rows["status"] == "ok") & pd.Series(flag, index=rows.index).astype(bool)


def _applies(rows: pd.DataFrame, column: str) -> bool:
    return column in rows and rows.loc[rows["status"] == "ok", column].notna().any()


def _pairs(df: pd.DataFrame, a: str, b: str) -> tuple[dict[str, pd.DataFrame], pd.MultiIndex]:
    """Each method's attempted runs of formulas by (problem, seed, noise), and the keys both have."""
    rows = _attempted(df)
    runs = {m: rows[rows["method"] == m].drop_duplicates(_KEY).set_index(_KEY) for m in (a, b)}
    return runs, runs[a].index.intersection(runs[b].index)


def paired_table(df: pd.DataFrame, a: str, b: str) -> pd.DataFrame:
    """One row per metric and noise level: the pairs of runs of ``a`` and ``b`` and the sign test's p-value.

    ``df`` is a results table (:func:`symdescent.bench.report.load_results`).
    """
    runs, common = _pairs(df, a, b)
    out = []
    for column, name in METRICS:
        if not (_applies(runs[a], column) and _applies(runs[b], column)):
            continue
        sa, sb = (_solved(runs[m].loc[common], column) for m in (a, b))
        for noise in sorted(set(common.get_level_values("noise"))):
            at = common.get_level_values("noise") == noise
            x, y = sa[at].to_numpy(), sb[at].to_numpy()
            only_a, only_b = int((x & ~y).sum()), int((~x & y).sum())
            out.append({"metric": name, "noise": float(noise), "pairs": int(at.sum()), "both": int((x & y).sum()),
                        "only_a": only_a, "only_b": only_b, "neither": int((~x & ~y).sum()),
                        "p_value": sign_test(only_a, only_b)})
    return pd.DataFrame(out, columns=list(PAIRED_COLUMNS))


def median_times(df: pd.DataFrame, a: str, b: str) -> dict[str, float]:
    """The median wall time of each method's finished runs among the pairs (NaN without any)."""
    runs, common = _pairs(df, a, b)
    out = {}
    for m in (a, b):
        paired = runs[m].loc[common]
        out[m] = float(paired.loc[paired["status"] == "ok", "time_s"].median())
    return out


def paired_markdown(df: pd.DataFrame, a: str, b: str) -> str:
    """The paired section of ``summary.md`` for methods ``a`` and ``b``."""
    table = paired_table(df, a, b)
    lines = [f"## Paired: {a} against {b}", ""]
    if table.empty:
        return "\n".join(lines + [f"No (problem, seed, noise) has a finished or failed run of both {a} and {b}.",
                                  ""])
    lines += ["Each pair is one problem, seed and noise level run by both methods on the same data and budget (an "
              "error solves nothing). p: two-sided exact sign test on the pairs only one method solved "
              "(scipy.stats.binomtest, p = 1/2); – where no pair is discordant.", "",
              f"| metric | noise | pairs | both | only {a} | only {b} | neither | sign test p |",
              "|---|---:|---:|---:|---:|---:|---:|---:|"]
    for r in table.itertuples(index=False):
        p = "–" if np.isnan(r.p_value) else f"{r.p_value:.4g}"
        lines.append(f"| {r.metric} | {r.noise:g} | {r.pairs} | {r.both} | {r.only_a} | {r.only_b} | {r.neither} | "
                     f"{p} |")
    times = median_times(df, a, b)
    shown = ", ".join(f"{m} {'–' if np.isnan(t) else format(t, '.1f')} s" for m, t in times.items())
    lines += ["", f"Median wall time of the finished runs among the pairs: {shown} (the same budget for both; "
              "the share a proposer such as LEE took is not recorded)."]
    return "\n".join(lines) + "\n"
