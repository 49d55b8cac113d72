"""Ways to look at a Pareto front: a pandas table, a matplotlib picture, and a notebook display.

:class:`~symdescent.SymbolicRegressor` offers them as ``pareto_frame``,
``plot_pareto`` and its notebook display; they work on any list of
:class:`~symdescent.types.Candidate` (a :class:`~symdescent.types.SearchResult`'s
``front``) too.  pandas and matplotlib load only when called.

Examples
--------
>>> from symdescent.expr import parse
>>> from symdescent.types import Candidate, Score
>>> front = [Candidate(parse("x0"), "", Score(0.5, 1, 0.5, 0.9)),
...          Candidate(parse("x0 * x1"), "", Score(0.0, 3, 0.0, 1.0))]
>>> front_frame(front, front[1], ["m", "v"])
   complexity  loss   r2 expression  chosen
0           1   0.5  0.9          m   False
1           3   0.0  1.0        m*v    True
"""

from __future__ import annotations

import html
from typing import Sequence

import numpy as np

from symdescent.errors import DependencyError
from symdescent.types import Candidate

COLUMNS = ("complexity", "loss", "r2", "expression", "chosen")


def front_frame(front: Sequence[Candidate], best: Candidate | None, variable_names: Sequence[str] | None = None):
    """The front as a pandas DataFrame, sorted by complexity.

    Columns: ``complexity``, ``loss``, ``r2``, ``expression`` (the sympy string
    the JSON holds, see :meth:`Candidate.as_row`) and ``chosen`` (the final
    model).
    """
    import pandas as pd

    rows = [{**cand.as_row(variable_names), "chosen": cand is best or cand == best} for cand in front]
    frame = pd.DataFrame(rows, columns=list(COLUMNS))
    frame = frame.sort_values("complexity", kind="stable").reset_index(drop=True)
    return frame.astype({"complexity": int, "loss": float, "r2": float, "chosen": bool})


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
    try:
        import matplotlib.pyplot as plt
    except ImportError:
        raise DependencyError("plotting the Pareto front needs matplotlib, which is not installed: "
                              "pip install matplotlib") from None
    from symdescent.expr.sympy_bridge import readable

    members = sorted(front, key=lambda c: c.complexity)
    if ax is None:
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


def html_summary(models: Sequence[tuple[str, Candidate, Sequence[Candidate]]], variable_names: Sequence[str]) -> str:
    """HTML for a notebook: each ``(target, best, front)`` as its formula (LaTeX, for MathJax) and front table."""
    parts = []
    for target, best, front in models:
        latex = best.expression.to_latex(variable_names)
        parts.append(f'<div class="symdescent-model"><p><b>{html.escape(target)}</b> = '
                     f'$${html.escape(latex)}$$</p>'
                     f"<p>R² {best.r2:.6g}, loss {best.loss:.4g}, complexity {best.complexity}</p>"
                     + front_frame(front, best, variable_names).to_html(index=False) + "</div>")
    return "".join(parts)


__all__ = ["front_frame", "plot_front", "html_summary"]
