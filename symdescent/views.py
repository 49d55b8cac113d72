"""Ways to look at a Pareto front: a pandas table, a matplotlib picture, and a notebook display.

:class:`~symdescent.SymbolicRegressor` offers them as ``equations_`` (and
``pareto_frame()``), ``plot()`` and its notebook display; ``symdescent fit
--plot`` draws the picture too.  They work on any list of
:class:`~symdescent.types.Candidate` (a :class:`~symdescent.types.SearchResult`'s
``front``).  pandas and matplotlib load only when called.

Examples
--------
>>> from symdescent.expr import parse
>>> from symdescent.types import Candidate, Score
>>> front = [Candidate(parse("x0"), "", Score(0.5, 1, 2.0, 0.9)),
...          Candidate(parse("x0 * x1"), "", Score(0.0, 3, 1.5, 1.0))]
>>> front_frame(front, front[1], ["m", "v"])
   complexity  loss   r2  score expression sympy  chosen
0           1   0.5  0.9    2.0          m     m   False
1           3   0.0  1.0    1.5        m*v   m*v    True
"""

from __future__ import annotations

import html
from typing import Sequence

import numpy as np

from symdescent.errors import DependencyError
from symdescent.types import Candidate

#: the columns of :func:`front_frame` (and of the estimator's ``equations_``)
COLUMNS = ("complexity", "loss", "r2", "score", "expression", "sympy", "chosen")


def front_frame(front: Sequence[Candidate], best: Candidate | None, variable_names: Sequence[str] | None = None):
    """The front as a pandas DataFrame, sorted by complexity, one row per member (PySR's ``equations_``).

    Columns: ``complexity`` (node count), ``loss`` (mean squared error on the
    scoring rows), ``r2``, ``score`` (the scorer's value, which chooses the
    model: lower is better), ``expression`` (the readable form the CLI prints,
    :func:`~symdescent.expr.sympy_bridge.readable`), ``sympy`` (the sympy
    expression over the variable names; None for a member sympy cannot
    express) and ``chosen`` (True for the final model).
    """
    import pandas as pd

    from symdescent.expr.sympy_bridge import readable

    rows = [{"complexity": cand.complexity, "loss": cand.loss, "r2": cand.r2, "score": cand.value,
             "expression": readable(cand.expression, variable_names), "sympy": _sympy(cand, variable_names),
             "chosen": cand is best or cand == best} for cand in front]
    frame = pd.DataFrame(rows, columns=list(COLUMNS))
    frame = frame.sort_values("complexity", kind="stable").reset_index(drop=True)
    return frame.astype({"complexity": int, "loss": float, "r2": float, "score": float, "chosen": bool})


def _sympy(cand: Candidate, variable_names):
    try:
        return cand.expression.to_sympy(variable_names)
    except (ValueError, OverflowError, RecursionError):  # as readable: no sympy form
        return None


#: what a missing matplotlib is told
MATPLOTLIB_MISSING = ("plotting the Pareto front needs matplotlib, which is not installed: pip install matplotlib "
                      '(or pip install "symdescent[plot]")')


def plot_front(front: Sequence[Candidate], best: Candidate | None, variable_names: Sequence[str] | None = None,
               ax=None, label_digits: int = 4):
    """Loss (log scale) against complexity, one point per member, the chosen model marked and labelled.

    Returns the matplotlib Axes (a new figure's when ``ax`` is None).  A loss
    of exactly 0 (an exact fit) is drawn at the bottom of the axis, a
    hundredth of the smallest positive loss.

    Raises
    ------
    DependencyError
        When matplotlib is not installed (``pip install matplotlib``).
    """
    _require_matplotlib()
    from symdescent.expr.sympy_bridge import readable

    members = sorted(front, key=lambda c: c.complexity)
    if ax is None:
        import matplotlib.pyplot as plt

        _, ax = plt.subplots(figsize=(6, 4))
    loss = np.array([c.loss for c in members], dtype=float)
    positive = loss[(loss > 0) & np.isfinite(loss)]
    floor = positive.min() / 100 if positive.size else 1e-30
    shown = np.where(loss > 0, loss, floor)
    complexity = [c.complexity for c in members]
    ax.step(complexity, shown, where="post", color="0.7", lw=1, zorder=1)
    ax.scatter(complexity, shown, s=25, color="C0", zorder=2, label="Pareto front")
    ax.set_yscale("log")
    from matplotlib.ticker import MaxNLocator

    ax.xaxis.set_major_locator(MaxNLocator(integer=True))  # complexity is a node count
    ax.set_xlabel("complexity (nodes)")
    ax.set_ylabel("loss (mean squared error)")
    for i, c in enumerate(members):
        if c is best or c == best:
            ax.scatter([c.complexity], [shown[i]], s=120, facecolors="none", edgecolors="C3", linewidths=2,
                       zorder=3, label="chosen")
            ax.annotate(readable(c.expression, variable_names, label_digits), (c.complexity, shown[i]),
                        xytext=(8, 8), textcoords="offset points", color="C3")
    ax.legend(loc="upper right")
    return ax


def _require_matplotlib():
    try:
        import matplotlib
    except ImportError:
        raise DependencyError(MATPLOTLIB_MISSING) from None
    return matplotlib


def image_format(path) -> str:
    """The image format matplotlib writes for ``path``'s suffix (``front.png``: ``"png"``).

    ``symdescent fit --plot`` asks before the search starts.

    Raises
    ------
    DependencyError
        Without matplotlib.
    OutputError
        For a suffix matplotlib cannot write, naming those it can.
    """
    _require_matplotlib()
    from pathlib import Path

    from matplotlib.figure import Figure

    from symdescent.errors import OutputError

    suffix = Path(path).suffix.lower().removeprefix(".")
    formats = Figure().canvas.get_supported_filetypes()
    if suffix not in formats:
        raise OutputError(f"cannot tell which image to write to {path}: give it one of the suffixes "
                          f"{', '.join('.' + f for f in sorted(formats))} (e.g. front.png)")
    return suffix


def save_front_plot(models: Sequence[tuple[str, Candidate, Sequence[Candidate]]], variable_names: Sequence[str],
                    path, what: str = "plot file") -> None:
    """Draw each ``(target, best, front)`` with :func:`plot_front`, side by side, each titled by its target,
    and write the picture to ``path`` (its format from the suffix, :func:`image_format`) atomically
    (:func:`symdescent.fileio.write_atomic`).  No window opens: the figure never enters pyplot."""
    import io

    from matplotlib.figure import Figure

    from symdescent.fileio import write_atomic

    fmt = image_format(path)
    fig = Figure(figsize=(6 * len(models), 4), layout="constrained")
    for ax, (target, best, front) in zip(fig.subplots(1, len(models), squeeze=False)[0], models):
        plot_front(front, best, variable_names, ax=ax)
        ax.set_title(target)
    buffer = io.BytesIO()
    fig.savefig(buffer, format=fmt, dpi=150)
    write_atomic(path, buffer.getvalue(), what)


def html_summary(models: Sequence[tuple[str, Candidate, Sequence[Candidate]]], variable_names: Sequence[str]) -> str:
    """HTML for a notebook: each ``(target, best, front)`` as its formula (LaTeX, for MathJax) and front table."""
    parts = []
    for target, best, front in models:
        latex = best.expression.to_latex(variable_names)
        parts.append(f'<div class="symdescent-model"><p><b>{html.escape(target)}</b> = '
                     f'$${html.escape(latex)}$$</p>'
                     f"<p>R² {best.r2:.6g}, loss {best.loss:.4g}, complexity {best.complexity}</p>"
                     + front_frame(front, best, variable_names).drop(columns="sympy").to_html(index=False)
                     + "</div>")
    return "".join(parts)


__all__ = ["front_frame", "plot_front", "html_summary", "image_format", "save_front_plot", "COLUMNS"]
