"""Reports from a results CSV: a markdown summary table and two plots.

Per method and noise level: runs, median test R², accuracy-solution rate,
symbolic-solution rate, median complexity, median time.  Rates count every
attempted run (``ok`` and ``error`` rows; an error solves nothing); medians
are over the ``ok`` rows.  Methods that could not run are listed with the
reason instead.

Plots (PNG, drawn with matplotlib's Agg canvas, no pyplot state):

* ``pareto.png``: SRBench-style accuracy-complexity chart, solution rate
  against median complexity, one point per method and noise level, with the
  Pareto front (fewer nodes, higher rate) of each noise level;
* ``noise.png``: accuracy and symbolic solution rates against the noise level.

A rate is ``–`` for a method none of whose runs has the column (``linear``
and ``gbr`` have no formula to check), not 0 %.

Two methods of one run are also compared run by run, when the formula rows
hold exactly two or two are named (:mod:`symdescent.bench.paired`): solved
by both, by one only, by neither, and the sign test on the discordant runs.

Rows of real tables (``truth`` is :data:`~symdescent.bench.runner.NO_TRUTH`,
SRBench's black-box track) have no accuracy or symbolic solution; they get
their own summary (:func:`summarize_blackbox`): per method, the data sets,
runs, median test R² and median complexity (each the median over data sets
of the per-data-set median over splits), median time and errors; a table of
each data set's median test R² per method; and ``pareto.png`` as median test
R² against median complexity, the methods without a formula drawn as
horizontal reference lines (``pareto_blackbox.png`` when the results also
hold ground-truth rows).

Examples
--------
>>> import pandas as pd
>>> rows = pd.DataFrame([{"method": "m", "noise": 0.0, "status": "ok", "r2_test": 1.0, "accuracy_solution": True,
...                       "symbolic_solution": True, "complexity": 5, "time_s": 1.0, "message": ""}])
>>> summarize(rows)[["method", "runs", "accuracy_rate"]].to_dict("records")
[{'method': 'm', 'runs': 1, 'accuracy_rate': 1.0}]
"""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

import numpy as np
import pandas as pd

from symdescent.bench.paired import paired_markdown, resolve_pair

SUMMARY_COLUMNS = ("method", "noise", "runs", "median_r2_test", "accuracy_rate", "symbolic_rate",
                   "median_complexity", "median_time_s", "errors")


BLACKBOX_COLUMNS = ("method", "noise", "datasets", "runs", "median_r2_test", "median_complexity", "median_time_s",
                    "errors")


def _flag(series: pd.Series) -> pd.Series:
    return series.astype(str).str.strip().str.lower().isin(("true", "1", "1.0"))


def _rate(runs: pd.DataFrame, column: str) -> float:
    """Share of ``runs`` where ``column`` holds; NaN when no finished run has the column (it does not apply)."""
    ok = runs[runs["status"] == "ok"]
    if column not in runs or not ok[column].notna().any():
        return np.nan
    return float(_flag(runs[column]).sum() / len(runs))


def is_blackbox(df: pd.DataFrame) -> pd.Series:
    """True for the rows of real tables (the black-box track), False for those of formulas."""
    from symdescent.bench.runner import NO_TRUTH

    return df["truth"].eq(NO_TRUTH) if "truth" in df else pd.Series(False, index=df.index)


def load_results(path: str | Path) -> pd.DataFrame:
    """Read a results CSV with typed columns (blank flags stay NaN: the metric did not apply)."""
    df = pd.read_csv(path, dtype={"method": str, "problem": str, "status": str, "message": str, "truth": str},
                     keep_default_na=False, na_values=[""])
    for col in ("r2_test", "r2_train", "complexity", "time_s", "noise", "budget_s"):
        if col in df:
            df[col] = pd.to_numeric(df[col], errors="coerce")
    for col in ("accuracy_solution", "symbolic_solution"):
        if col in df:
            df[col] = _flag(df[col]).astype(object).where(df[col].notna(), np.nan)
    return df


def summarize(df: pd.DataFrame) -> pd.DataFrame:
    """One row per (method, noise) over the attempted runs of formulas (see the module docstring)."""
    attempted = df[df["status"].isin(["ok", "error"]) & ~is_blackbox(df)]
    rows = []
    for (method, noise), g in attempted.groupby(["method", "noise"], sort=False):
        ok = g[g["status"] == "ok"]
        rows.append({
            "method": method, "noise": float(noise), "runs": len(g),
            "median_r2_test": float(ok["r2_test"].median()) if len(ok) else np.nan,
            "accuracy_rate": _rate(g, "accuracy_solution"),
            "symbolic_rate": _rate(g, "symbolic_solution"),
            "median_complexity": float(ok["complexity"].median()) if len(ok) else np.nan,
            "median_time_s": float(ok["time_s"].median()) if len(ok) else np.nan,
            "errors": int((g["status"] == "error").sum()),
        })
    out = pd.DataFrame(rows, columns=list(SUMMARY_COLUMNS))
    return out.sort_values(["noise", "method"], kind="stable").reset_index(drop=True)


def unavailable(df: pd.DataFrame) -> dict[str, str]:
    """Method -> reason, for methods with unavailable rows and no attempted run."""
    attempted = set(df.loc[df["status"].isin(["ok", "error"]), "method"])
    rows = df[(df["status"] == "unavailable") & ~df["method"].isin(attempted)]
    return {m: str(g["message"].iloc[0]) for m, g in rows.groupby("method", sort=False)}


def _num(x, fmt: str) -> str:
    return "–" if x is None or (isinstance(x, float) and np.isnan(x)) else format(x, fmt)


def to_markdown(summary: pd.DataFrame, missing: dict[str, str] | None = None, title: str = "Benchmark summary",
                notes: str = "") -> str:
    """Render the summary as a markdown table (no extra dependency)."""
    head = ["method", "noise", "runs", "median test R²", "accuracy solutions (R² > 0.999)", "symbolic solutions",
            "median complexity", "median time (s)", "errors"]
    lines = [f"# {title}", ""] + ([notes, ""] if notes else [])
    lines += ["| " + " | ".join(head) + " |", "|" + "|".join(["---"] * 2 + ["---:"] * (len(head) - 2)) + "|"]
    def share(rate: float, runs: int) -> str:
        return "–" if np.isnan(rate) else f"{rate:.0%} ({round(rate * runs)}/{runs})"

    for r in summary.itertuples(index=False):
        acc, sym = share(r.accuracy_rate, r.runs), share(r.symbolic_rate, r.runs)
        lines.append(f"| {r.method} | {r.noise:g} | {r.runs} | {_num(r.median_r2_test, '.6f')} | {acc} | {sym} | "
                     f"{_num(r.median_complexity, '.1f')} | {_num(r.median_time_s, '.1f')} | {r.errors} |")
    for method, reason in (missing or {}).items():
        lines.append(f"| {method} | – | 0 | unavailable: {reason.replace('|', '/')} | | | | | |")
    return "\n".join(lines) + "\n"


def _canvas(ncols: int):
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(5.2 * ncols, 4.2), layout="constrained")
    FigureCanvasAgg(fig)
    return fig, fig.subplots(1, ncols, squeeze=False)[0]


def _front(points: list[tuple[float, float]]) -> list[tuple[float, float]]:
    """Non-dominated points: lower complexity, higher rate."""
    best, out = -1.0, []
    for x, y in sorted(points, key=lambda p: (p[0], -p[1])):
        if y > best:
            out.append((x, y))
            best = y
    return out


def _rate_plot(draw, xlabel: str, title: str, path: str | Path, legend_size: int) -> Path:
    """The accuracy and the symbolic solution rate side by side; ``draw(ax, column)`` fills one panel."""
    fig, axes = _canvas(2)
    for ax, col, name in zip(axes, ("accuracy_rate", "symbolic_rate"), ("accuracy", "symbolic")):
        draw(ax, col)
        ax.set_xlabel(xlabel)
        ax.set_ylabel(f"{name} solution rate")
        ax.set_ylim(-0.05, 1.05)
        ax.grid(alpha=0.3)
    axes[-1].legend(fontsize=legend_size, loc="best")
    fig.suptitle(title)
    fig.savefig(path, dpi=120)
    return Path(path)


def plot_pareto(summary: pd.DataFrame, path: str | Path) -> Path:
    """Solution rates against median complexity, with each noise level's Pareto front."""
    methods = list(dict.fromkeys(summary["method"]))
    colors = {m: f"C{i % 10}" for i, m in enumerate(methods)}
    markers = "osD^v<>"
    noises = sorted(summary["noise"].unique())

    def draw(ax, col):
        for k, noise in enumerate(noises):
            part = summary[(summary["noise"] == noise) & summary["median_complexity"].notna()]
            for r in part.itertuples(index=False):
                ax.scatter(r.median_complexity, getattr(r, col), color=colors[r.method], marker=markers[k % 7], s=60,
                           label=f"{r.method}, noise {noise:g}")
                ax.annotate(r.method, (r.median_complexity, getattr(r, col)), fontsize=7,
                            textcoords="offset points", xytext=(4, 4))
            front = _front(list(zip(part["median_complexity"], part[col])))
            if len(front) > 1:
                ax.plot(*zip(*front), linestyle="--", color="grey", linewidth=0.8)

    return _rate_plot(draw, "median complexity (nodes of the simplified model)",
                      "Accuracy-complexity trade-off (Pareto front dashed)", path, legend_size=7)


def plot_noise(summary: pd.DataFrame, path: str | Path) -> Path:
    """Accuracy and symbolic solution rates against the noise level, one line per method."""
    noises = sorted(summary["noise"].unique())
    pos = {n: i for i, n in enumerate(noises)}

    def draw(ax, col):
        for i, (method, g) in enumerate(summary.groupby("method", sort=False)):
            g = g.sort_values("noise")
            ax.plot([pos[n] for n in g["noise"]], g[col], marker="o", color=f"C{i % 10}", label=method)
        ax.set_xticks(range(len(noises)), [f"{n:g}" for n in noises])

    return _rate_plot(draw, "target noise σ (× RMS of y, training set only)", "Solution rates versus noise", path,
                      legend_size=8)


def summarize_blackbox(df: pd.DataFrame) -> pd.DataFrame:
    """One row per (method, noise) over the attempted runs of real tables (see the module docstring)."""
    attempted = df[df["status"].isin(["ok", "error"]) & is_blackbox(df)]
    rows = []
    for (method, noise), g in attempted.groupby(["method", "noise"], sort=False):
        per_set = g[g["status"] == "ok"].groupby("problem")[["r2_test", "complexity"]].median()
        ok = g[g["status"] == "ok"]
        rows.append({
            "method": method, "noise": float(noise), "datasets": len(per_set), "runs": len(g),
            "median_r2_test": float(per_set["r2_test"].median()) if len(per_set) else np.nan,
            "median_complexity": float(per_set["complexity"].median()) if per_set["complexity"].notna().any()
            else np.nan,
            "median_time_s": float(ok["time_s"].median()) if len(ok) else np.nan,
            "errors": int((g["status"] == "error").sum()),
        })
    out = pd.DataFrame(rows, columns=list(BLACKBOX_COLUMNS))
    return out.sort_values(["noise", "method"], kind="stable").reset_index(drop=True)


def per_dataset(df: pd.DataFrame) -> pd.DataFrame:
    """Median test R² over the splits of each real table (rows) per method and noise (columns)."""
    ok = df[(df["status"] == "ok") & is_blackbox(df)]
    if ok.empty:
        return pd.DataFrame()
    label = ok["method"] + np.where(ok["noise"] > 0, " (noise " + ok["noise"].map("{:g}".format) + ")", "")
    table = ok.assign(column=label).pivot_table(index="problem", columns="column", values="r2_test",
                                                aggfunc="median", sort=False)
    return table.sort_index()[list(dict.fromkeys(label))]


def blackbox_markdown(summary: pd.DataFrame, by_set: pd.DataFrame, missing: dict[str, str] | None = None,
                      title: str = "Black-box summary", notes: str = "") -> str:
    """Render the black-box summary and the per-data-set table as markdown."""
    head = ["method", "noise", "data sets", "runs", "median test R²", "median complexity", "median time (s)",
            "errors"]
    lines = [f"# {title}", ""] + ([notes, ""] if notes else [])
    lines += ["| " + " | ".join(head) + " |", "|" + "|".join(["---"] * 2 + ["---:"] * (len(head) - 2)) + "|"]
    for r in summary.itertuples(index=False):
        lines.append(f"| {r.method} | {r.noise:g} | {r.datasets} | {r.runs} | {_num(r.median_r2_test, '.4f')} | "
                     f"{_num(r.median_complexity, '.1f')} | {_num(r.median_time_s, '.1f')} | {r.errors} |")
    for method, reason in (missing or {}).items():
        lines.append(f"| {method} | – | 0 | 0 | unavailable: {reason.replace('|', '/')} | | | |")
    if len(by_set):
        lines += ["", "Median test R² per data set (over its splits):", "",
                  "| data set | " + " | ".join(by_set.columns) + " |", "|---|" + "---:|" * len(by_set.columns)]
        for name, r in by_set.iterrows():
            lines.append(f"| {name} | " + " | ".join(_num(float(v), ".4f") for v in r) + " |")
    return "\n".join(lines) + "\n"


def plot_blackbox(summary: pd.DataFrame, path: str | Path) -> Path:
    """Median test R² against median complexity; methods without a formula as horizontal lines."""
    fig, axes = _canvas(1)
    ax = axes[0]
    markers = "osD^v<>"
    noises = sorted(summary["noise"].unique())
    for i, r in enumerate(summary.itertuples(index=False)):
        tag = r.method if len(noises) == 1 else f"{r.method}, noise {r.noise:g}"
        if np.isnan(r.median_r2_test):
            continue
        if np.isnan(r.median_complexity):
            ax.axhline(r.median_r2_test, color=f"C{i % 10}", linestyle=":", linewidth=1.2, label=f"{tag} (no formula)")
            continue
        ax.scatter(r.median_complexity, r.median_r2_test, color=f"C{i % 10}",
                   marker=markers[noises.index(r.noise) % 7], s=60, label=tag)
        ax.annotate(r.method, (r.median_complexity, r.median_r2_test), fontsize=7, textcoords="offset points",
                    xytext=(4, 4))
    for noise in noises:
        part = summary[(summary["noise"] == noise) & summary["median_complexity"].notna()]
        front = _front(list(zip(part["median_complexity"], part["median_r2_test"])))
        if len(front) > 1:
            ax.plot(*zip(*front), linestyle="--", color="grey", linewidth=0.8)
    ax.set_xlabel("median complexity (nodes of the simplified model)")
    ax.set_ylabel("median test R² (over data sets)")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7, loc="best")
    fig.suptitle("Black-box track: test R² against model size\n(Pareto front dashed)", fontsize=10)
    fig.savefig(path, dpi=120)
    return Path(path)


def _notes(df: pd.DataFrame, name: str, what: str, rows: str) -> str:
    budgets = sorted(set(df["budget_s"].dropna()))
    return (f"{df['problem'].nunique()} {what}, seeds {', '.join(sorted(set(df['seed'].astype(str))))}, "
            f"budget {', '.join(f'{b:g}' for b in budgets)} s per run, {rows} (75 % train / 25 % test); "
            f"from `{name}` ({len(df)} rows).")


def write_report(results_csv: str | Path, title: str | None = None,
                 paired: Sequence[str] | None = None) -> dict[str, Path]:
    """Write ``summary.md``, ``pareto.png`` and ``noise.png`` next to the results CSV.

    Rows of formulas and of real tables get their own summary each (both in
    ``summary.md``, formulas first); see the module docstring for the plots.
    The formulas' summary is followed by the paired comparison
    (:mod:`symdescent.bench.paired`) of the two methods ``paired`` names, or
    of the only two methods when the formula rows hold exactly two.

    Returns
    -------
    dict
        ``{"summary": path, "pareto": path, "noise": path}`` (plots only when
        some method has finished runs with a complexity; ``"noise"`` only for
        formulas; ``"pareto_blackbox"`` when both tracks are there) and
        ``"markdown"``: the tables' text.
    """
    results_csv = Path(results_csv)
    folder = results_csv.parent
    df = load_results(results_csv)
    blackbox = is_blackbox(df)
    truth_df, table_df = df[~blackbox], df[blackbox]
    title = title or f"Benchmark summary: {folder.name}"
    out: dict = {"summary": folder / "summary.md"}
    parts = []
    if len(truth_df) or not len(table_df):
        summary = summarize(truth_df)
        samples = sorted(set(truth_df["n_samples"].dropna().astype(int))) if "n_samples" in df else []
        notes = _notes(truth_df, results_csv.name, "problems", f"{', '.join(map(str, samples))} samples")
        parts.append(to_markdown(summary, unavailable(truth_df), title, notes))
        pair = resolve_pair(truth_df, paired)
        if pair:
            parts.append(paired_markdown(truth_df, *pair))
        if len(summary) and summary["median_complexity"].notna().any():
            out["pareto"] = plot_pareto(summary, folder / "pareto.png")
            out["noise"] = plot_noise(summary, folder / "noise.png")
    if len(table_df):
        summary = summarize_blackbox(table_df)
        notes = _notes(table_df, results_csv.name, "data sets (black-box track)", "all rows of each table")
        parts.append(blackbox_markdown(summary, per_dataset(table_df), unavailable(table_df),
                                       title if not parts else "Black-box track", notes))
        if len(summary) and summary["median_r2_test"].notna().any():
            key = "pareto_blackbox" if "pareto" in out else "pareto"
            out[key] = plot_blackbox(summary, folder / f"{key}.png")
    out["markdown"] = "\n".join(parts)
    out["summary"].write_text(out["markdown"], encoding="utf-8")
    return out
