"""The scikit-learn style estimator."""

from __future__ import annotations

import json
from numbers import Integral, Real
from pathlib import Path
from typing import Any, Mapping, Sequence

import numpy as np
from sklearn.base import BaseEstimator, RegressorMixin
from sklearn.utils._param_validation import Interval, StrOptions

from symdescent.config import Config
from symdescent.data import check_X, check_X_y
from sklearn.exceptions import NotFittedError as _SklearnNotFitted

from symdescent.errors import DataError
from symdescent.errors import NotFittedError as _NotFitted
from symdescent.expr import Expression
from symdescent.types import Candidate, SearchResult

FORMAT_VERSION = 1


class NotFittedError(_NotFitted, _SklearnNotFitted):
    """Raised when a fitted attribute or ``predict`` is used before ``fit``."""


class SymbolicRegressor(RegressorMixin, BaseEstimator):
    """Find a closed-form expression that explains ``y`` from ``X``.

    Every argument is optional; those left as None take their value from
    ``config`` (a TOML file, a mapping or a :class:`~symdescent.config.Config`),
    and then from the defaults.

    Parameters
    ----------
    config : str, Path, mapping or Config, optional
        Search configuration (see ``symdescent.config``).
    time_budget : float, optional
        Seconds of search.
    max_iterations : int, optional
        Iterations of the descent loop.
    random_state : int, optional
        Seed; the same seed and an iteration budget give the same model.
    max_complexity : int, optional
        Largest node count of the model.
    operators : list of str, optional
        Operators the search may use.
    proposers, refiners : list of str, optional
        Plugin names for those roles (e.g. ``["lee", "random"]``).
    scorer : str, optional
        Plugin name of the scorer (``"mdl"`` or ``"r2"``).
    plugin_options : dict, optional
        ``{plugin name: {key: value}}``, as the config's ``[plugins.NAME]``.
    callbacks : list, optional
        Objects implementing lifecycle hooks, to observe or steer the search.

    Attributes
    ----------
    expression_ : Expression
        The selected model.
    pareto_front_ : list of Candidate
        The accuracy-complexity front (expression, complexity, loss, r2).
    best_ : Candidate
    result_ : SearchResult
    n_features_in_ : int
    feature_names_in_ : ndarray of str
        Only when ``X`` was a DataFrame with string column names.
    variable_names_ : tuple of str

    Examples
    --------
    >>> import numpy as np
    >>> from symdescent import SymbolicRegressor
    >>> X = np.random.default_rng(0).uniform(1, 3, size=(200, 2))
    >>> est = SymbolicRegressor(max_iterations=3, time_budget=None, random_state=0)
    >>> est.fit(X, X[:, 0] * X[:, 1], variable_names=["m", "v"]).sympy()
    m*v
    """

    _parameter_constraints: dict = {
        "config": [str, Path, dict, Config, None],
        "time_budget": [Interval(Real, 0, None, closed="neither"), None],
        "max_iterations": [Interval(Integral, 1, None, closed="left"), None],
        "random_state": ["random_state"],
        "max_complexity": [Interval(Integral, 1, None, closed="left"), None],
        "operators": [list, tuple, None],
        "proposers": [list, tuple, None],
        "refiners": [list, tuple, None],
        "scorer": [str, None],
        "plugin_options": [dict, None],
        "callbacks": [list, tuple, None],
    }

    def __init__(self, config=None, *, time_budget=None, max_iterations=None, random_state=None,
                 max_complexity=None, operators=None, proposers=None, refiners=None, scorer=None,
                 plugin_options=None, callbacks=None):
        self.config = config
        self.time_budget = time_budget
        self.max_iterations = max_iterations
        self.random_state = random_state
        self.max_complexity = max_complexity
        self.operators = operators
        self.proposers = proposers
        self.refiners = refiners
        self.scorer = scorer
        self.plugin_options = plugin_options
        self.callbacks = callbacks

    # -- configuration -------------------------------------------------------
    def _seed(self) -> int | None:
        rs = self.random_state
        if rs is None:
            return None
        if isinstance(rs, (int, np.integer)):
            return int(rs)
        if isinstance(rs, np.random.RandomState):
            return int(rs.randint(0, 2**31 - 1))
        return int(np.random.default_rng(rs).integers(0, 2**31 - 1))

    def build_config(self) -> Config:
        """The search configuration these parameters describe."""
        from symdescent.search import resolve_config

        cfg = resolve_config(self.config)
        search: dict[str, Any] = {}
        if self.time_budget is not None:
            search["time_budget"] = float(self.time_budget)
        if self.max_iterations is not None:
            search["max_iterations"] = int(self.max_iterations)
            if self.time_budget is None:
                search["time_budget"] = None
        seed = self._seed()
        if seed is not None:
            search["seed"] = seed
        if self.max_complexity is not None:
            search["max_complexity"] = int(self.max_complexity)
        if self.operators is not None:
            search["operators"] = list(self.operators)
        strategy: dict[str, Any] = {}
        if self.proposers is not None:
            strategy["proposers"] = list(self.proposers)
        if self.refiners is not None:
            strategy["refiners"] = list(self.refiners)
        if self.scorer is not None:
            strategy["scorer"] = self.scorer
        return cfg.with_overrides(search=search, strategy=strategy, plugins=self.plugin_options or {})

    # -- fitting -------------------------------------------------------------
    def fit(self, X, y, variable_names: Sequence[str] | None = None):
        """Search for a model of ``y``; returns ``self``."""
        from symdescent.search import Search

        self._validate_params()
        names_in = None
        cols = getattr(X, "columns", None)
        if cols is not None and all(isinstance(c, str) for c in cols):
            names_in = np.asarray(cols, dtype=object)
        if y is not None and not hasattr(y, "iloc"):
            y = np.asarray(y)
        if y is not None and y.ndim == 2 and y.shape[1] == 1:
            import warnings

            from sklearn.exceptions import DataConversionWarning

            warnings.warn("A column-vector y was passed when a 1d array was expected; it is raveled to shape (n_samples,)",
                          DataConversionWarning, stacklevel=2)
            y = np.ravel(y)
        Xa, ya, names = check_X_y(X, y, variable_names)
        search = Search(Xa, ya, variable_names=names, config=self.build_config(), callbacks=self.callbacks or ())
        result = search.run()
        self._set_result(result, Xa.shape[1], names)
        if names_in is not None:
            self.feature_names_in_ = names_in
        elif hasattr(self, "feature_names_in_"):
            del self.feature_names_in_
        return self

    def _set_result(self, result: SearchResult, n_features: int, names: Sequence[str]) -> None:
        if result.best is None:
            raise DataError("the search found no valid expression (every candidate was non-finite on the data)")
        self.result_ = result
        self.best_ = result.best
        self.expression_ = result.best.expression
        self.pareto_front_ = list(result.front)
        self.n_features_in_ = n_features
        self.variable_names_ = tuple(names)

    def _check_fitted(self) -> None:
        if not hasattr(self, "expression_"):
            raise NotFittedError(f"This {type(self).__name__} instance is not fitted yet; call 'fit' first.")

    def predict(self, X) -> np.ndarray:
        """Evaluate the selected model on ``X``."""
        self._check_fitted()
        Xa = check_X(X, self.n_features_in_, owner=type(self).__name__)
        return self.expression_.evaluate(Xa)

    # -- exports ---------------------------------------------------------------
    def sympy(self, index: int | None = None):
        """The model (or front member ``index``) as a sympy expression over the variable names."""
        self._check_fitted()
        expr = self.expression_ if index is None else self.pareto_front_[index].expression
        return expr.to_sympy(self.variable_names_)

    def latex(self, index: int | None = None, precision: int = 4) -> str:
        self._check_fitted()
        expr = self.expression_ if index is None else self.pareto_front_[index].expression
        return expr.to_latex(self.variable_names_, precision=precision)

    def to_dict(self) -> dict:
        self._check_fitted()
        names = self.variable_names_
        return {
            "format": "symdescent-model", "version": FORMAT_VERSION,
            "variable_names": list(names), "n_features_in": self.n_features_in_,
            "best": self.best_.to_dict(names),
            "pareto_front": [c.to_dict(names) for c in self.pareto_front_],
            "params": {k: v for k, v in self.get_params().items() if k not in ("callbacks",) and _jsonable(v)},
        }

    def save(self, path: str | Path) -> None:
        """Write the fitted model as JSON (``load`` reads it back)."""
        Path(path).write_text(json.dumps(self.to_dict(), indent=2))

    @classmethod
    def load(cls, path: str | Path) -> "SymbolicRegressor":
        """Read a model written by :meth:`save`; ``predict`` works without refitting."""
        try:
            data = json.loads(Path(path).read_text())
        except (OSError, json.JSONDecodeError) as exc:
            raise DataError(f"cannot read model file {path}: {exc}") from None
        return cls.from_dict(data)

    @classmethod
    def from_dict(cls, data: Mapping) -> "SymbolicRegressor":
        if data.get("format") != "symdescent-model":
            raise DataError("not a symdescent model record (missing format: symdescent-model)")
        params = {k: v for k, v in data.get("params", {}).items() if k in cls._parameter_constraints}
        est = cls(**params)
        best = Candidate.from_dict(data["best"])
        front = [Candidate.from_dict(d) for d in data["pareto_front"]]
        names = tuple(data["variable_names"])
        est.best_ = best
        est.expression_ = best.expression
        est.pareto_front_ = front
        est.n_features_in_ = int(data["n_features_in"])
        est.variable_names_ = names
        return est

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.non_deterministic = False
        tags.regressor_tags.poor_score = True
        return tags


def _jsonable(v) -> bool:
    try:
        json.dumps(v)
        return True
    except (TypeError, ValueError):
        return False
