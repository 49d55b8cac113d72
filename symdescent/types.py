"""The named, frozen values that pass between the orchestrator and plugins."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any, Callable, Sequence

import numpy as np

from symdescent.expr import Expression


@dataclass(frozen=True)
class Score:
    """How good a fitted candidate is.

    Attributes
    ----------
    loss : float
        Mean squared error on the fitting data (``inf`` when invalid).
    complexity : int
        Complexity of the fitted expression: its node count, or with
        ``[complexity]`` weights the sum of its nodes' weights.
    value : float
        The scalar the final model is chosen by; lower is better.
    r2 : float
        Coefficient of determination on the fitting data.
    valid : bool
        False when the expression is non-finite on the data or too complex.
    search_value : float or None
        The scalar the search's own selection ranks by (the genetic engine's tournaments and survival, the
        ``descent`` refiner's choice of seeds), when a scorer has one apart from ``value``; None: ``value``.
    """

    loss: float
    complexity: int
    value: float
    r2: float
    valid: bool = True
    search_value: float | None = None


@dataclass(frozen=True)
class Candidate:
    """A candidate program: an expression, where it came from, and its score.

    For a table of candidates use :meth:`as_row` (or the estimator's
    ``pareto_frame()``).
    """

    expression: Expression
    origin: str = ""
    score: Score | None = None

    @property
    def complexity(self) -> int:
        """The complexity its score gives (the search's: the node count unless ``[complexity]`` weighs the
        operators), or the node count when it has no score."""
        return self.score.complexity if self.score is not None else self.expression.complexity

    @property
    def loss(self) -> float:
        return self.score.loss if self.score is not None else float("inf")

    @property
    def r2(self) -> float:
        return self.score.r2 if self.score is not None else float("-inf")

    @property
    def value(self) -> float:
        return self.score.value if self.score is not None else float("inf")

    @property
    def search_value(self) -> float:
        """What the search ranks it by while it explores (:attr:`Score.search_value`, else :attr:`value`)."""
        if self.score is None:
            return float("inf")
        return self.score.value if self.score.search_value is None else self.score.search_value

    @property
    def valid(self) -> bool:
        return self.score is not None and self.score.valid

    def to_dict(self, variable_names: Sequence[str] | None = None) -> dict:
        """JSON-ready record: ``expression`` is sympy syntax over the variable
        names that plain ``sympy.sympify`` reads back as the same formula, whatever
        the names (see :func:`symdescent.expr.sympy_bridge.sympy_string`);
        ``infix``, ``tokens`` and ``constants`` restore it exactly."""
        from symdescent.expr.sympy_bridge import sympy_string

        d = {
            "expression": sympy_string(self.expression.to_sympy(variable_names)),
            "infix": self.expression.to_infix(variable_names),
            "complexity": self.complexity,
            "loss": self.loss,
            "r2": self.r2,
            "score": self.value,
            "origin": self.origin,
            "tokens": list(self.expression.tokens),
            "constants": list(self.expression.constants),
        }
        return d

    def as_row(self, variable_names: Sequence[str] | None = None) -> dict:
        """A flat record for a table: ``complexity``, ``loss``, ``r2`` and ``expression``
        (the sympy string of :meth:`to_dict`).

        ``pandas.DataFrame(front)`` would unpack the dataclass fields (token
        lists and nested scores); ``pandas.DataFrame([c.as_row() for c in front])``,
        or :meth:`SymbolicRegressor.pareto_frame`, gives the readable table.
        """
        from symdescent.expr.sympy_bridge import sympy_string

        return {"complexity": self.complexity, "loss": self.loss, "r2": self.r2,
                "expression": sympy_string(self.expression.to_sympy(variable_names))}

    @classmethod
    def from_dict(cls, d: dict) -> "Candidate":
        expr = Expression.from_dict(d)
        score = Score(float(d["loss"]), int(d["complexity"]), float(d.get("score", d["loss"])), float(d["r2"]))
        return cls(expr, str(d.get("origin", "")), score)


def _readonly(a: np.ndarray) -> np.ndarray:
    a = np.array(a, dtype=float, copy=True)
    a.setflags(write=False)
    return a


@dataclass(frozen=True, eq=False)
class Problem:
    """The data a search explains, read-only, plus the evaluation service.

    Attributes
    ----------
    X : ndarray, shape (n, d)
    y : ndarray, shape (n,)
    variable_names : tuple of str
    operators : tuple of str
        Operators the search may use.
    max_complexity : int
        Candidates above this node count are invalid.
    seed : int
        The search's seed; plugins derive their generators from it.
    sample_weight : ndarray, shape (n,), or None
        The rows' weights (mean 1; None: unweighted): losses are weighted mean
        squared errors, and :attr:`y_var` the weighted variance.
    """

    X: np.ndarray
    y: np.ndarray
    variable_names: tuple[str, ...]
    operators: tuple[str, ...]
    max_complexity: int
    seed: int = 0
    evaluator: Callable[[Sequence[Any], str], list[Candidate]] | None = field(default=None, repr=False)
    sample_weight: np.ndarray | None = field(default=None, repr=False)
    _cache: dict = field(default_factory=dict, init=False, repr=False)  # values computed once per problem

    def __post_init__(self) -> None:
        object.__setattr__(self, "X", _readonly(self.X))
        object.__setattr__(self, "y", _readonly(self.y))
        if self.sample_weight is not None:
            object.__setattr__(self, "sample_weight", _readonly(self.sample_weight))
        object.__setattr__(self, "variable_names", tuple(self.variable_names))
        object.__setattr__(self, "operators", tuple(self.operators))

    @property
    def n_samples(self) -> int:
        return self.X.shape[0]

    @property
    def n_features(self) -> int:
        return self.X.shape[1]

    @property
    def y_var(self) -> float:
        """The variance of ``y``, weighted by :attr:`sample_weight` (the denominator of R²).

        Computed once: the scorer asks for it on every candidate, and on a
        1,000,000-row problem recomputing it cost more than the evaluation."""
        if "y_var" not in self._cache:
            from symdescent.expr.fit import weighted_var

            self._cache["y_var"] = weighted_var(self.y, self.sample_weight)
        return self._cache["y_var"]

    def relevant_features(self, k: int) -> tuple[int, ...]:
        """The (at most) ``k`` columns most informative about ``y``, in column order.

        Computed once per ``k`` and shared by every plugin that asks (see
        :func:`symdescent.selection.relevant_features`); constant columns are
        never among them.
        """
        key = ("relevant_features", k)
        if key not in self._cache:
            from symdescent.selection import relevant_features

            self._cache[key] = relevant_features(self.X, self.y, k, seed=self.seed)
        return self._cache[key]

    def least_squares_loss(self, columns: frozenset[int]) -> float:
        """The loss of the least-squares affine model ``c0 + sum(c_j x_j for j in columns)`` on the rows the
        search scores candidates on (its evaluator's; these rows without one), computed once per set of
        columns (:func:`symdescent.expr.affine.least_squares`): no expression affine in those columns
        does better."""
        key = ("least_squares_loss", frozenset(columns))
        if key not in self._cache:
            from symdescent.expr.affine import least_squares

            ev = self.evaluator
            X, y, w = (ev.X, ev.y, ev.w) if hasattr(ev, "X") else (self.X, self.y, self.sample_weight)
            self._cache[key] = least_squares(X, y, w, key[1])[2]
        return self._cache[key]

    @property
    def dimensional(self) -> str:
        """How the search treats dimension violations: ``"off"`` without declared units, else
        ``search.dimensional`` (``"penalty"`` or ``"strict"``); proposers can prefer or keep to consistent
        formulas with it and :meth:`dimension_violations`."""
        units = getattr(self.evaluator, "units", None)
        return "off" if units is None else self.evaluator.config.dimensional

    def dimension_violations(self, expression: Expression) -> int:
        """How many dimension rules ``expression`` breaks under the declared units, judged before its constants
        are fitted (0 without units; see :meth:`symdescent.evaluation.Evaluator.violations`)."""
        if self.dimensional == "off":
            return 0
        return self.evaluator.violations(expression, fitted=False)

    def evaluate(self, expressions: Sequence[Expression | Candidate], origin: str = "",
                 give_up: Sequence[float] | None = None) -> list[Candidate]:
        """Fit constants and score ``expressions`` with the search's scorer.

        Results are cached by canonical form, so asking twice is cheap.
        Returns one scored :class:`Candidate` per input (invalid ones too).
        ``give_up[k]``: a loss above which the caller has no use for a
        candidate of complexity ``k``; a fit still above it after a short
        probe stops there (and is not cached).  None: every fit runs to its end.
        """
        if self.evaluator is None:
            raise RuntimeError("this Problem is not attached to a search; it cannot evaluate")
        return self.evaluator(expressions, origin, give_up)


@dataclass(frozen=True)
class SearchState:
    """A snapshot of the search, given to plugins and callbacks."""

    iteration: int
    started: float  # time.monotonic() at the start
    deadline: float  # time.monotonic() at which the time budget ends (inf: none)
    max_iterations: int | None
    n_evaluations: int
    front: tuple[Candidate, ...]
    best: Candidate | None
    last_new: tuple[Candidate, ...] = ()

    @property
    def elapsed(self) -> float:
        return time.monotonic() - self.started

    @property
    def time_left(self) -> float:
        return self.deadline - time.monotonic()


@dataclass(frozen=True)
class SearchResult:
    """What a finished search returns.

    ``islands`` is empty for a single-process search; an island search
    (:mod:`symdescent.islands`) holds one record per island: ``island``
    (index), ``worker`` (address), ``seed``, ``iterations``, ``n_evaluations``,
    ``busy_s`` (seconds spent in rounds), ``startup_s`` (seconds from the
    start of ``run`` until the island was ready: the cluster's start-up,
    charged to the budget), ``shutdown_s`` (seconds the local cluster took
    to close, within ``elapsed``; 0 where the cluster stays up), ``restarts``
    (how often a fresh island took its place after its worker died) and
    ``lost`` (None, or why the island was lost and not restarted).
    ``islands_lost`` counts the lost ones; their candidates migrated before
    the loss stay in ``front``.
    """

    best: Candidate | None
    front: tuple[Candidate, ...]
    iterations: int
    n_evaluations: int
    elapsed: float
    interrupted: bool
    stop_reason: str
    variable_names: tuple[str, ...]
    history: tuple[dict, ...] = ()
    islands: tuple[dict, ...] = ()

    @property
    def islands_lost(self) -> int:
        return sum(1 for isl in self.islands if isl.get("lost"))

    def to_dict(self) -> dict:
        names = self.variable_names
        best = self.best.to_dict(names) if self.best is not None else None
        return {
            "best": best,
            "pareto_front": [c.to_dict(names) for c in self.front],
            "iterations": self.iterations,
            "n_evaluations": self.n_evaluations,
            "elapsed_s": self.elapsed,
            "interrupted": self.interrupted,
            "stop_reason": self.stop_reason,
            "variable_names": list(names),
            "islands": [dict(isl) for isl in self.islands],
            "islands_lost": self.islands_lost,
        }
