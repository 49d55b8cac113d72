"""The scikit-learn style estimator."""

from __future__ import annotations

import dataclasses

import json
import math
import numbers
import time
import warnings
from pathlib import Path
from typing import Any, Callable, Mapping, Sequence

import numpy as np
from sklearn.base import BaseEstimator, RegressorMixin
from sklearn.exceptions import NotFittedError as SklearnNotFittedError
from sklearn.utils.validation import check_is_fitted, validate_data

from symdescent.config import Config, apply_flags
from symdescent.data import check_unique_columns, check_X, check_X_Y
from symdescent.errors import ConfigError, DataError, DataTypeError, NotFittedError, SymdescentError
from symdescent.expr import Expression
from symdescent.types import Candidate
from symdescent.units import units_table

FORMAT_VERSION = 1


def _integer(low: int, high: float = math.inf) -> Callable[[Any], bool]:
    return lambda v: isinstance(v, numbers.Integral) and not isinstance(v, bool) and low <= v <= high


def _list_of_names(v) -> bool:
    return isinstance(v, (list, tuple)) and all(isinstance(item, str) for item in v)


#: what each parameter of :class:`SymbolicRegressor` may be besides None (None: the config's value, or none):
#: a test of the value and the words for it; :meth:`SymbolicRegressor._check_params` applies them
PARAMETERS: dict[str, tuple[Callable[[Any], bool], str]] = {
    "config": (lambda v: isinstance(v, (str, Path, Mapping, Config)), "a TOML file's path, a mapping or a Config"),
    "time_budget": (lambda v: isinstance(v, numbers.Real) and not isinstance(v, bool) and 0 < v < math.inf,
                    "a finite number of seconds > 0"),
    "max_iterations": (_integer(1), "an integer >= 1"),
    "random_state": (lambda v: _integer(0, 2**32 - 1)(v) or isinstance(v, np.random.RandomState),
                     "an integer from 0 to 2**32 - 1 or a numpy RandomState"),
    "max_complexity": (_integer(1), "an integer >= 1"),
    "operators": (_list_of_names, "a list of operator names ('symdescent operators' lists them)"),
    "proposers": (_list_of_names, "a list of plugin names ('symdescent plugins' lists them)"),
    "refiners": (_list_of_names, "a list of plugin names ('symdescent plugins' lists them)"),
    "scorer": (lambda v: isinstance(v, str), "a plugin name, such as 'mdl' or 'r2'"),
    "plugin_options": (lambda v: isinstance(v, Mapping), "a mapping {plugin name: {setting: value}}"),
    "callbacks": (lambda v: isinstance(v, (list, tuple)), "a list of objects implementing lifecycle hooks"),
    "n_jobs": (lambda v: _integer(-1, -1)(v) or _integer(1)(v), "-1 (one per core) or an integer >= 1"),
    "client": (lambda v: True, "a distributed.Client"),
    "verbose": (lambda v: isinstance(v, numbers.Integral) and v >= 0, "0 (quiet) or 1 (a progress line)"),
    "warm_start": (lambda v: isinstance(v, bool), "True or False"),
    "X_units": (_list_of_names, "a list of unit strings, one per column of X, e.g. ['m', 's']"),
    "extra_operators": (lambda v: isinstance(v, Mapping) or isinstance(v, (list, tuple)),
                        "a mapping {name: formula over x and y, or a definition} (or a list of define(...))"),
    "complexity_of_operators": (lambda v: isinstance(v, Mapping), "a mapping {operator name: integer >= 1}"),
    "nested_constraints": (lambda v: isinstance(v, Mapping),
                           "a mapping {outer operator: {inner operator: max}} (or a list of inner operators)"),
    "y_units": (lambda v: isinstance(v, str) or _list_of_names(v), "a unit string such as 'm/s' (or one per output)"),
}


class SymbolicRegressor(RegressorMixin, BaseEstimator):
    """Find a closed-form expression that explains ``y`` from ``X``.

    Every argument is optional; those left as None take their value from
    ``config`` (a TOML file, a mapping or a :class:`~symdescent.config.Config`),
    and then from the defaults.
    They are checked by ``fit`` (:data:`PARAMETERS`; a
    :class:`~symdescent.errors.ConfigError` names the one that is wrong).
    ``fit`` validates the data once (:func:`symdescent.data.check_X_Y`) and
    hands it to the search as it is.

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
    n_jobs : int, optional
        Worker processes of the search (``search.workers``): 1 is one process,
        no Dask; N > 1 runs N islands on a Dask ``LocalCluster`` of N
        single-threaded worker processes (:mod:`symdescent.islands`); -1 is
        one per core.  None (default) follows the config, whose default is
        the environment variable ``SYMDESCENT_WORKERS`` where it is set, else
        one per core.  Inside a parallel loop of your own (``GridSearchCV``
        with ``n_jobs``, a process pool) pass ``n_jobs=1``.
    client : distributed.Client, optional
        Run the islands on this Dask cluster (left open; ``clone`` shares it).
    verbose : int, default 0
        0: quiet.  1: progress while it fits (the command line's display,
        :class:`~symdescent.progress.RichProgress`, on stderr): a live line on
        a terminal, elsewhere (a notebook, a log) a line after every
        iteration, with the best loss, R² and the front's size.
    warm_start : bool, default False
        When True, ``fit`` continues the previous fit's search instead of
        starting afresh: the previous front and GP population are injected
        before the first iteration (refitted on the new data, then bred from),
        so the new model is at least as good as the old one on the same data.
        Fitting data with other columns or another number of outputs starts
        cold, with a warning.  A model read by :meth:`load` continues from its
        saved front.
    X_units : list of str, optional
        The physical unit of each column of ``X``, e.g. ``["m", "s"]``
        (strings :func:`symdescent.units.parse_unit` reads; ``"1"`` for a
        dimensionless column); with them the search penalises or rules out
        dimensionally inconsistent formulas (``search.dimensional``).
        Without units nothing changes.
    y_units : str or list of str, optional
        The target's unit (one per output, or one for all); without it only
        the formula's own consistency is checked.
    extra_operators : dict, optional
        User operators for this estimator's searches (the config's
        ``[operators]``; see :mod:`symdescent.expr.custom`), to name in
        ``operators``: ``{"softsign": "x / (1 + abs(x))"}`` (a formula over
        ``x``, and ``y`` for a binary one, compiled by inlining), or a numpy
        function with its sympy form, ``{"name": {"numpy": f, "sympy": g,
        "arity": 1}}`` or :func:`symdescent.operators.define` results (fitted on
        the slower numpy path; a warning says so).  They exist only for this
        estimator: its fitted expressions keep them.
    complexity_of_operators : dict, optional
        The complexity of one node, by operator name (also ``"variable"`` and
        ``"constant"``), default 1 (PySR's ``complexity_of_operators``; the
        config's ``[complexity]``): what the front, ``max_complexity`` and
        the scorer count.
    nested_constraints : dict, optional
        ``{outer: {inner: max}}``: how often ``inner`` may appear inside
        ``outer`` (PySR's ``nested_constraints``; a list of inner operators
        means 0 each; the config's ``[constraints] nested``).

    Attributes
    ----------
    expression_ : Expression
        The selected model (with several outputs: a list, one per column of ``y``).
    pareto_front_ : list of Candidate
        The accuracy-complexity front (expression, complexity, loss, r2); with
        several outputs, a list of fronts.  :attr:`equations_` gives it as a
        table, :meth:`plot` as a picture.
    equations_ : pandas.DataFrame
        The front as a table, one row per member (PySR's ``equations_``):
        ``complexity``, ``loss``, ``r2``, ``score``, ``expression`` (readable),
        ``sympy`` and ``chosen``; with several outputs, a list of tables.
    best_ : Candidate
        (a list with several outputs)
    result_ : SearchResult
        (a list with several outputs)
    n_outputs_ : int
        Columns of ``y``: 1, or k for ``y`` of shape (n, k) (see :meth:`fit`).
    n_features_in_ : int
    feature_names_in_ : ndarray of str
        Only when ``X`` was a DataFrame with string column names.  ``predict``
        then checks its input's columns against them (same names, same order;
        a :class:`~symdescent.errors.DataError` otherwise) and warns, as
        scikit-learn does, when given a bare array.  Saved and loaded with the
        model.
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

    def __init__(self, config=None, *, time_budget=None, max_iterations=None, random_state=None,
                 max_complexity=None, operators=None, proposers=None, refiners=None, scorer=None,
                 plugin_options=None, callbacks=None, n_jobs=None, client=None, verbose=0, warm_start=False,
                 X_units=None, y_units=None, extra_operators=None, complexity_of_operators=None,
                 nested_constraints=None):
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
        self.n_jobs = n_jobs
        self.client = client
        self.verbose = verbose
        self.warm_start = warm_start
        self.X_units = X_units
        self.y_units = y_units
        self.extra_operators = extra_operators
        self.complexity_of_operators = complexity_of_operators
        self.nested_constraints = nested_constraints

    # -- configuration -------------------------------------------------------
    def _check_params(self) -> None:
        """Check each parameter against :data:`PARAMETERS` (at ``fit`` and ``from_dict``, as scikit-learn asks:
        ``__init__`` and ``set_params`` only store them).

        Raises
        ------
        ConfigError
            Naming the parameter, what it may be and the value given; a string
            given for a list of names gets a did-you-mean with the list.
        """
        for name, (accepts, what) in PARAMETERS.items():
            value = getattr(self, name)
            if value is not None and not accepts(value):
                hint = ""
                if accepts is _list_of_names and isinstance(value, str):
                    hint = f"; did you mean {[v.strip() for v in value.split(',')]!r}?"
                raise ConfigError(f"{type(self).__name__}: {name} must be {what} or None, got {value!r}{hint}")

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
        """The search configuration these parameters describe (:func:`~symdescent.config.apply_flags`)."""
        from symdescent.search import resolve_config

        workers = "auto" if self.n_jobs == -1 else self.n_jobs
        settings = {"plugins": self.plugin_options or {}, "operators": _definitions(self.extra_operators),
                    "complexity": self.complexity_of_operators,
                    "constraints": {"nested": self.nested_constraints} if self.nested_constraints else None}
        return apply_flags(resolve_config(self.config), settings,
                           time_budget=self.time_budget, max_iterations=self.max_iterations, seed=self._seed(),
                           max_complexity=self.max_complexity, workers=workers, operators=self.operators,
                           proposers=self.proposers, refiners=self.refiners, scorer=self.scorer)

    # -- fitting -------------------------------------------------------------
    def fit(self, X, y, sample_weight=None, variable_names: Sequence[str] | None = None):
        """Search for a model of ``y``; returns ``self``.

        Parameters
        ----------
        X : array-like or DataFrame, shape (n, d)
        y : array-like, shape (n,) or (n, k)
            With k >= 2 columns, one search per column (the same settings; the
            first column searches with the seed itself, column j with a seed
            derived from it and j): ``predict`` returns shape (n, k),
            :meth:`sympy` a list, and ``expression_``, ``best_``,
            ``pareto_front_`` and ``result_`` are lists, one entry per output.
            A column vector (n, 1) is raveled, with sklearn's
            ``DataConversionWarning``.
        sample_weight : array-like, shape (n,), optional
            Non-negative weights of the rows (relative; not all zero): constant
            fitting, the loss, R² and model selection use the weighted mean
            squared error, and rows of weight 0 take no part.  Uniform weights
            give the unweighted model.
        variable_names : sequence of str, optional
            Names of the columns of ``X`` (default: a DataFrame's column names, else x0, x1, ...).

        Examples
        --------
        >>> import numpy as np
        >>> X = np.random.default_rng(0).uniform(1, 3, size=(100, 2))
        >>> Y = np.c_[X[:, 0] * X[:, 1], X[:, 0] + X[:, 1]]
        >>> est = SymbolicRegressor(max_iterations=3, time_budget=None, random_state=0).fit(X, Y)
        >>> est.sympy(), est.predict(X).shape
        ([x0*x1, x0 + x1], (100, 2))
        """
        self._check_params()
        datasets = check_X_Y(X, y, variable_names)  # X once, and every output before any search
        seeds = self._warm_seeds(datasets)
        self._check_feature_names(X, reset=True)
        cfg = self.build_config()
        labels = output_names(len(datasets), avoid=datasets[0].names)
        if self.X_units is not None or self.y_units is not None:  # the [units] table by name; the outputs: labels
            cfg = cfg.with_overrides(units=units_table(datasets[0].names, self.X_units, self.y_units, labels))

        def progress(j: int):  # verbose: the command line's display, a line after every iteration off a terminal
            from symdescent.progress import RichProgress

            return RichProgress(cfg.search.time_budget, cfg.search.max_iterations, log_every=0,
                                label=labels[j] if len(datasets) > 1 else None)

        runs = run_outputs(datasets, cfg, callbacks=self.callbacks or (), client=self.client,
                           sample_weight=sample_weight, seeds=seeds, progress=progress if self.verbose else None,
                           target_names=labels)
        results = [result for _, result in runs]
        for j, result in enumerate(results):
            if result.best is None:
                raise DataError("the search found no valid expression (every candidate was non-finite on the data)"
                                if len(results) == 1 else f"the search for output {j} found no valid expression")
        per_output = (lambda values: values[0]) if len(results) == 1 else list
        self.result_ = per_output(results)
        self.best_ = per_output([r.best for r in results])
        self.expression_ = per_output([r.best.expression for r in results])
        self.pareto_front_ = per_output([list(r.front) for r in results])
        self.n_outputs_ = len(results)
        self.n_features_in_ = datasets[0].X.shape[1]
        self.variable_names_ = datasets[0].names
        self._population = [gp_population(search) for search, _ in runs]  # for a warm start
        return self

    def _warm_seeds(self, datasets) -> list[list[Candidate]] | None:
        """What a warm start injects, per output: the previous front, then its GP population (best first);
        None for a cold start (``warm_start`` off, not fitted before, or other columns or outputs)."""
        if not self.warm_start or not hasattr(self, "expression_"):
            return None
        before = (tuple(self.variable_names_), getattr(self, "n_outputs_", 1))
        now = (tuple(datasets[0].names), len(datasets))
        if now != before:
            warnings.warn(f"warm_start: the data has the columns {_names(now[0])} and {now[1]} output(s), the "
                          f"previous fit {_names(before[0])} and {before[1]}; this fit starts cold", UserWarning,
                          stacklevel=3)
            return None
        populations = getattr(self, "_population", None) or [[] for _ in range(now[1])]
        return [list(front) + list(population) for (_, front), population in zip(self._models(), populations)]

    def _check_feature_names(self, X, *, reset: bool) -> None:
        """Set (``reset``) or check ``feature_names_in_`` with scikit-learn's own rules.

        Only the names are checked here (``ensure_2d=False`` skips sklearn's
        feature count check): :mod:`symdescent.data` checks shapes and values
        with its own messages (at ``fit``, before: it also refuses repeated
        column names).  A mismatch of names or order is a :class:`DataError`
        naming both column lists; a bare array for a model fitted on names
        gets sklearn's warning.
        """
        columns = getattr(X, "columns", None)
        if not reset and columns is not None and not isinstance(X, np.ndarray):
            check_unique_columns(columns, "X")
        try:
            validate_data(self, X, reset=reset, skip_check_array=True, ensure_2d=False)
        except TypeError as exc:  # column names of mixed types (str and int)
            raise DataTypeError(f"X's column names cannot be used: {exc}") from None
        except ValueError as exc:
            given = [str(c) for c in getattr(X, "columns", ())]
            expected = [str(c) for c in getattr(self, "feature_names_in_", ())]
            raise DataError(
                f"X's columns {_names(given)} do not match the columns {type(self).__name__} was fitted on "
                f"{_names(expected)}; select them by name, in that order: X[model.feature_names_in_]. {exc}"
            ) from None

    def _models(self) -> list[tuple[Candidate, list[Candidate]]]:
        """``(best, front)`` of each output (one pair for a single output)."""
        self._check_fitted()
        if getattr(self, "n_outputs_", 1) == 1:
            return [(self.best_, self.pareto_front_)]
        return list(zip(self.best_, self.pareto_front_))

    def _expressions(self, index: int | None) -> list[Expression]:
        return [best.expression if index is None else front[index].expression for best, front in self._models()]

    def _per_output(self, values: list):
        return values[0] if getattr(self, "n_outputs_", 1) == 1 else values

    def _check_fitted(self) -> None:
        """scikit-learn's ``check_is_fitted``, raising our :class:`~symdescent.errors.NotFittedError`."""
        try:
            check_is_fitted(self, "expression_")
        except SklearnNotFittedError as exc:
            raise NotFittedError(str(exc)) from None

    def predict(self, X) -> np.ndarray:
        """Evaluate the selected model on ``X``."""
        self._check_fitted()
        self._check_feature_names(X, reset=False)  # the names first: columns by name, whatever they hold
        Xa = check_X(X)
        if Xa.shape[1] != self.n_features_in_:  # scikit-learn's words (its check_n_features_in_after_fitting)
            raise DataError(f"X has {Xa.shape[1]} features, but {type(self).__name__} is expecting "
                            f"{self.n_features_in_} features as input")
        values = [expr.evaluate(Xa) for expr in self._expressions(None)]
        return values[0] if len(values) == 1 and getattr(self, "n_outputs_", 1) == 1 else np.column_stack(values)

    # -- exports ---------------------------------------------------------------
    def sympy(self, index: int | None = None):
        """The model (or front member ``index``) as a sympy expression over the variable names
        (a list of them with several outputs)."""
        return self._per_output([e.to_sympy(self.variable_names_) for e in self._expressions(index)])

    def latex(self, index: int | None = None, precision: int = 4) -> str:
        """The model as LaTeX (a list with several outputs)."""
        return self._per_output([e.to_latex(self.variable_names_, precision=precision)
                                 for e in self._expressions(index)])

    def torch(self, index: int | None = None, dtype=None):
        """The model (or front member ``index``) as a :class:`torch.nn.Module` whose constants are a
        trainable ``nn.Parameter``; ``forward`` takes an ``(n, d)`` tensor of the columns of ``X``.
        A list with several outputs.  See :meth:`Expression.to_torch <symdescent.expr.Expression.to_torch>`.
        :meth:`pytorch` is the same (PySR's name).
        """
        return self._per_output([e.to_torch(self.variable_names_, dtype) for e in self._expressions(index)])

    pytorch = torch

    def jax(self, index: int | None = None):
        """The model as a pure, jit-able jax function ``f(X, params=None)`` (``f.params``: the fitted
        constants); a list with several outputs.  See :func:`symdescent.expr.export.to_jax`."""
        return self._per_output([e.to_jax() for e in self._expressions(index)])

    # -- looking at the front -------------------------------------------------------
    @property
    def equations_(self):
        """The Pareto front as a pandas DataFrame sorted by complexity, one row per member (PySR's
        ``equations_``); with several outputs, a list of them, one per output.

        Columns ``complexity``, ``loss``, ``r2``, ``score`` (the scorer's
        value, lower is better), ``expression`` (the readable form),
        ``sympy`` (the sympy expression) and ``chosen`` (the selected
        model); see :func:`symdescent.views.front_frame`.
        """
        from symdescent.views import front_frame

        return self._per_output([front_frame(front, best, self.variable_names_) for best, front in self._models()])

    def pareto_frame(self, output: int | None = None):
        """:attr:`equations_` as one DataFrame: with several outputs, ``output`` selects one, and None gives
        all, with an ``output`` column first."""
        import pandas as pd

        frames = self.equations_ if getattr(self, "n_outputs_", 1) > 1 else [self.equations_]
        if output is not None or len(frames) == 1:
            return frames[output or 0]
        return pd.concat([f.assign(output=j)[["output", *f.columns]] for j, f in enumerate(frames)],
                         ignore_index=True)

    def plot(self, ax=None, output: int = 0):
        """Plot loss (log scale) against complexity, the chosen model marked and labelled by its formula.

        Returns the matplotlib Axes (see :func:`symdescent.views.plot_front`); ``output`` picks the
        output of a multi-output model.  Needs matplotlib (a DependencyError says so otherwise).
        :meth:`plot_pareto` is the same.
        """
        from symdescent.views import plot_front

        best, front = self._models()[output]
        return plot_front(front, best, self.variable_names_, ax=ax)

    plot_pareto = plot

    def _summary_html(self) -> str:
        from symdescent.views import html_summary

        models = self._models()
        return html_summary([(t, b, f) for t, (b, f) in zip(output_names(len(models)), models)], self.variable_names_)

    def __repr__(self, N_CHAR_MAX: int = 700) -> str:
        """scikit-learn's parameters; once fitted, a line per output below them with its formula."""
        text = super().__repr__(N_CHAR_MAX=N_CHAR_MAX)
        if not hasattr(self, "expression_"):
            return text
        from symdescent.expr.sympy_bridge import readable

        models = self._models()
        return text + "".join(f"\n{target} = {readable(best.expression, self.variable_names_)}   (R² {best.r2:.6g}, "
                              f"loss {best.loss:.4g}, complexity {best.complexity})"
                              for target, (best, _) in zip(output_names(len(models)), models))

    def _repr_html_inner(self):
        """A fitted model shows its formula and front above scikit-learn's parameter display."""
        inner = super()._repr_html_inner()
        return self._summary_html() + inner if hasattr(self, "expression_") else inner

    def _repr_mimebundle_(self, **kwargs):
        """Extends scikit-learn's bundle: once fitted, the formula (LaTeX) and the front (HTML); the text is
        :meth:`__repr__`'s, with the formula."""
        out = super()._repr_mimebundle_(**kwargs)
        if not hasattr(self, "expression_"):
            return out
        models = self._models()
        out["text/html"] = self._summary_html() + out.get("text/html", "")
        out["text/latex"] = "$" + r" \\ ".join(best.expression.to_latex(self.variable_names_)
                                                for best, _ in models) + "$"
        return out

    def to_dict(self) -> dict:
        """The fitted model as a JSON-ready record (:meth:`from_dict` reads it back).

        With several outputs, ``outputs`` holds ``{"best", "pareto_front"}`` of
        each, and ``best`` and ``pareto_front`` are those of the first.
        """
        params = {k: v for k, v in self.get_params().items() if k not in ("callbacks", "client") and _jsonable(v)}
        return model_record(self._models(), self.variable_names_, self.n_features_in_,
                            getattr(self, "feature_names_in_", None), params)

    def save(self, path: str | Path) -> None:
        """Write the fitted model as JSON (``load`` reads it back).

        The file is replaced atomically (a temporary file in the same folder,
        then a rename): a reader never sees half a model.  Raises
        :class:`~symdescent.errors.OutputError` when ``path`` cannot be written.
        """
        from symdescent.fileio import write_text_atomic

        write_text_atomic(path, json.dumps(self.to_dict(), indent=2), what="model file")

    @classmethod
    def load(cls, path: str | Path) -> "SymbolicRegressor":
        """Read a model written by :meth:`save` or ``symdescent fit --json``; ``predict`` works without
        refitting."""
        data = read_record(path)
        try:
            return cls.from_dict(data)
        except DataError as exc:
            raise DataError(f"model file {path}: {exc}") from None

    @classmethod
    def from_dict(cls, data: Mapping) -> "SymbolicRegressor":
        """Rebuild a fitted model from :meth:`to_dict`'s record (see :meth:`_from_record`); the record's
        user operators (``operators``: their formulas) are rebuilt first, and its expressions keep them."""
        with _record_operators(data).use():
            return cls._from_record(data)

    @classmethod
    def _from_record(cls, data: Mapping) -> "SymbolicRegressor":
        """Rebuild a fitted model from :meth:`to_dict`'s record.

        Every field is checked here, so that a damaged or hand-edited record
        is a :class:`DataError` naming the field now, not an error at
        ``predict``: the types, ``n_features_in``, the names, and that every
        expression is well formed, has finite constants and uses only
        variables ``x0 .. x{n_features_in - 1}``.
        """
        if not isinstance(data, Mapping):
            raise DataError(f"not a symdescent model record: expected a JSON object, got {_kind(data)}")
        if data.get("format") != "symdescent-model":
            raise DataError("not a symdescent model record (missing format: symdescent-model)")
        version = data.get("version")
        if version != FORMAT_VERSION or isinstance(version, bool):
            raise DataError(f"model record: version {version!r} is not supported (this symdescent reads version "
                            f"{FORMAT_VERSION})")
        n = data.get("n_features_in")
        if not isinstance(n, int) or isinstance(n, bool) or n < 1:
            raise DataError(f"model record: n_features_in must be a positive integer, got {n!r}")
        names = _name_list(data, "variable_names", n, required=True)
        feature_names = _name_list(data, "feature_names_in", n, required=False)
        if "best" not in data:
            raise DataError("model record: the field 'best' (the selected model) is missing")
        best = _candidate(data["best"], "best", n)
        front_data = data.get("pareto_front")
        if not isinstance(front_data, list):
            raise DataError(f"model record: pareto_front must be a list of candidates, got {_kind(front_data)}")
        front = [_candidate(d, f"pareto_front[{i}]", n) for i, d in enumerate(front_data)]
        params = data.get("params", {})
        if not isinstance(params, Mapping):
            raise DataError(f"model record: params must be an object, got {_kind(params)}")
        est = cls(**{k: v for k, v in params.items() if k in PARAMETERS})
        try:
            est._check_params()
        except ConfigError as exc:
            raise DataError(f"model record: params: {exc}") from None
        est.best_ = best
        est.expression_ = best.expression
        est.pareto_front_ = front
        est.n_outputs_ = 1
        if data.get("outputs") is not None:
            bests, fronts = _outputs(data["outputs"], n)
            est.best_, est.pareto_front_ = bests, fronts
            est.expression_ = [b.expression for b in bests]
            est.n_outputs_ = len(bests)
        est.n_features_in_ = n
        est.variable_names_ = names
        if feature_names is not None:
            est.feature_names_in_ = np.asarray(feature_names, dtype=object)
        return est

    def __sklearn_clone__(self):
        """A clone shares the Dask ``client`` (a live connection cannot be deep-copied)."""
        client, self.client = self.client, None
        try:
            new = super().__sklearn_clone__()
        finally:
            self.client = client
        new.client = client
        return new

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.non_deterministic = False
        tags.regressor_tags.poor_score = True
        tags.target_tags.multi_output = True  # y of shape (n, k): one search per column
        return tags


def run_outputs(datasets: Sequence, config: Config, *, callbacks: Sequence = (), client=None, sample_weight=None,
                seeds: Sequence[Sequence] | None = None, progress: Callable[[int], object] | None = None,
                target_names: Sequence[str] | None = None, startup: float = 0.0) -> list:
    """One search per output, each with the same settings; returns ``(search, result)`` of each, in order.

    ``datasets`` holds a :class:`~symdescent.data.TrainingData` per output
    (:func:`~symdescent.data.check_X_Y`, :func:`~symdescent.data.read_csv_table`).
    The first output searches with the config's seed (its model is the one a
    single-output fit finds), output j with a seed derived from it and j.
    ``seeds``, one list per output, are injected before the first iteration
    (:meth:`Search.inject <symdescent.search.Search.inject>`: a warm start);
    ``progress(j)`` makes a callback for output j.  ``target_names`` name
    the outputs in the config's ``[units]`` (default :func:`output_names`).
    Once a search is interrupted (Ctrl-C, SIGTERM), every later output runs
    a single iteration without a time budget, so that the fit ends soon with
    a model for each output; those results say ``interrupted`` too.
    With several outputs as island searches and no ``client``, one cluster
    serves them all (opened here, its start-up taken from the first output's
    time budget, closed at the end).  ``startup``: seconds the caller has
    already spent on this fit (``symdescent fit``'s kernel warm-up), taken from
    the first output's budget as well.
    The estimator's ``fit`` and ``symdescent fit`` run their searches here.
    """
    from symdescent.cluster import close_client, open_client, uses_islands

    own = None
    if client is None and len(datasets) > 1 and uses_islands(config.search):
        t0 = time.monotonic()
        own = client = open_client(config.search)
        startup += time.monotonic() - t0
    try:
        return _run_outputs(datasets, config, callbacks, client, sample_weight, seeds, progress, target_names,
                            startup)
    finally:
        if own is not None:
            close_client(own)


def _run_outputs(datasets, config, callbacks, client, sample_weight, seeds, progress, target_names, startup):
    from symdescent.registry import derive_rng
    from symdescent.search import Search

    runs = []
    for j, data in enumerate(datasets):  # the searches take the validated data as it is
        cfg = config
        budget = config.search.time_budget
        if not j and startup and budget is not None:  # the shared cluster's start-up, out of the first budget
            cfg = config.with_overrides(search={"time_budget": max(budget - startup, 0.1 * budget)})
        if j:
            cfg = config.with_overrides(search={"seed": int(derive_rng(config.search.seed, f"output-{j}")
                                                            .integers(2**31 - 1))})
        if runs and runs[-1][1].interrupted:  # stopped: a quick model for each output still to come
            cfg = cfg.with_overrides(search={"max_iterations": 1, "time_budget": None})
        observers = [*callbacks, *([progress(j)] if progress is not None else [])]
        targets = list(target_names or output_names(len(datasets)))
        cfg = cfg.without_units(targets[:j] + targets[j + 1:])  # [units]: the columns and this output's target
        search = Search(data, None, config=cfg, callbacks=observers, client=client, sample_weight=sample_weight,
                        target_name=targets[j])
        if seeds is not None:
            search.inject(seeds[j])
        result = search.run()
        if runs and runs[-1][1].interrupted and not result.interrupted:
            result = dataclasses.replace(result, interrupted=True, stop_reason="interrupted")
        runs.append((search, result))
    return runs


def gp_population(search) -> list[Candidate]:
    """The individuals of a finished search's GP populations (its ``descent`` refiners), best first: what a
    warm start re-seeds beside the front.  Empty for an island search (the populations live in the islands)."""
    from symdescent.plugins.descent import DescentRefiner

    out = [ind.candidate for sel in search.strategy.refiners
           if isinstance(sel.impl, DescentRefiner) and sel.impl.engine is not None
           for ind in sel.impl.engine.population]
    return sorted(out, key=lambda c: c.value)


def model_record(models: Sequence[tuple[Candidate, Sequence[Candidate]]], variable_names: Sequence[str],
                 n_features: int, feature_names: Sequence[str] | None = None, params: Mapping | None = None) -> dict:
    """The JSON-ready record of a fitted model, which :meth:`SymbolicRegressor.from_dict` reads back.

    ``models`` holds ``(best, front)`` of each output.  With several, ``outputs``
    holds ``{"best", "pareto_front"}`` of each, and ``best`` and
    ``pareto_front`` are those of the first.  :meth:`SymbolicRegressor.to_dict`
    and ``symdescent fit --json`` write it.
    """
    names = tuple(variable_names)
    record = {
        "format": "symdescent-model", "version": FORMAT_VERSION,
        "variable_names": list(names), "n_features_in": n_features,
        "feature_names_in": None if feature_names is None else [str(c) for c in feature_names],
        "best": models[0][0].to_dict(names),
        "pareto_front": [c.to_dict(names) for c in models[0][1]],
        "params": dict(params or {}),
    }
    if len(models) > 1:
        record["outputs"] = [{"best": best.to_dict(names), "pareto_front": [c.to_dict(names) for c in front]}
                             for best, front in models]
    from symdescent.expr.custom import saved_operators

    formulas, functions = saved_operators([c.expression for best, front in models for c in (best, *front)])
    if formulas:
        record["operators"] = formulas
    if functions:
        record["operator_functions"] = list(functions)
    return record


def _record_operators(data):
    """The user operators of a model record (``operators``: formulas by name) as an OperatorSet; a
    :class:`DataError` for a bad one, or when the model used an operator defined by a Python function."""
    from symdescent.expr.custom import OperatorSet

    if not isinstance(data, Mapping):
        return OperatorSet()
    functions = data.get("operator_functions") or []
    if functions:
        raise DataError(f"model record: the model uses the operator(s) {', '.join(map(str, functions))}, defined by "
                        f"Python functions, which a model file cannot hold; fit it again with them (or define "
                        f"them by formulas, which a model file keeps)")
    operators = data.get("operators", {})
    if not isinstance(operators, Mapping) or not all(isinstance(v, str) for v in operators.values()):
        raise DataError(f"model record: operators must be an object of formulas by name, got {_kind(operators)}")
    try:
        return OperatorSet(operators)
    except SymdescentError as exc:
        raise DataError(f"model record: operators: {exc}") from None


def read_record(path: str | Path) -> dict:
    """The JSON object of a model file; a :class:`DataError` names the file when it cannot be read."""
    try:
        return json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError, RecursionError) as exc:  # ValueError: bad JSON or not UTF-8
        raise DataError(f"cannot read model file {path}: {exc}") from None


def output_names(n_outputs: int, avoid: Sequence[str] = ()) -> list[str]:
    """The names the displays (and ``symdescent predict``, without target names) give the outputs: ``y``, or
    ``y0``, ``y1``, ...; a name that is also a column's (in ``avoid``) gets underscores until it is not.

    >>> output_names(1), output_names(2), output_names(1, avoid=["x", "y", "z"])
    (['y'], ['y0', 'y1'], ['y_'])
    """
    names = ["y"] if n_outputs == 1 else [f"y{j}" for j in range(n_outputs)]
    taken = set(avoid)
    out = []
    for name in names:
        while name in taken:
            name += "_"
        out.append(name)
    return out


def _names(names: Sequence[str], limit: int = 12) -> str:
    shown = ", ".join(repr(n) for n in names[:limit])
    return f"[{shown}, ... ({len(names)} in all)]" if len(names) > limit else f"[{shown}]"


def _kind(value) -> str:
    return {dict: "an object", list: "a list", str: "a string", type(None): "null", bool: "a boolean"}.get(
        type(value), f"a {type(value).__name__}")


def _name_list(data: Mapping, key: str, n: int, *, required: bool) -> tuple[str, ...] | None:
    value = data.get(key)
    if value is None and not required:
        return None
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise DataError(f"model record: {key} must be a list of {n} string(s), got {_kind(value)}")
    if len(value) != n:
        raise DataError(f"model record: {key} has {len(value)} name(s) but n_features_in is {n}")
    if len(set(value)) != len(value):
        twice = next(v for v in value if value.count(v) > 1)
        raise DataError(f"model record: {key} names {twice!r} twice")
    return tuple(value)


_REQUIRED = object()


def _number(d: Mapping, key: str, where: str, *, integer: bool = False, default=_REQUIRED) -> float:
    if key not in d:
        if default is _REQUIRED:
            raise DataError(f"model record: {where} has no field {key!r}")
        return default
    v = d[key]
    ok = isinstance(v, int) if integer else isinstance(v, (int, float))
    if not ok or isinstance(v, bool):
        raise DataError(f"model record: {where}.{key} must be {'an integer' if integer else 'a number'}, "
                        f"got {v!r}")
    try:
        return float(v)
    except OverflowError:  # an integer beyond float's range
        raise DataError(f"model record: {where}.{key} is out of range ({str(v)[:20]}...)") from None


def _candidate(d, where: str, n_features: int) -> Candidate:
    """A candidate from its record, every field checked (see ``from_dict``)."""
    from symdescent.types import Score

    if not isinstance(d, Mapping):
        raise DataError(f"model record: {where} must be an object with 'tokens' and 'constants', got {_kind(d)}")
    tokens = d.get("tokens")
    if not isinstance(tokens, list) or not tokens or not all(isinstance(t, str) for t in tokens):
        what = "missing" if "tokens" not in d else f"{_kind(tokens)}"
        raise DataError(f"model record: {where}.tokens must be a non-empty list of strings, got {what}")
    consts = d.get("constants", [])
    if not isinstance(consts, list):
        raise DataError(f"model record: {where}.constants must be a list of numbers, got {_kind(consts)}")
    for i, c in enumerate(consts):
        if not isinstance(c, (int, float)) or isinstance(c, bool):
            raise DataError(f"model record: {where}.constants must be a list of numbers, got {c!r} at position {i}")
    try:
        values = tuple(float(c) for c in consts)
    except OverflowError:  # an integer beyond float's range
        values = (float("inf"),)
    if not all(np.isfinite(values)):
        raise DataError(f"model record: {where}.constants holds a non-finite value")
    try:
        expr = Expression(tuple(tokens), values)
        variables = expr.variables
    except (SymdescentError, ValueError) as exc:
        raise DataError(f"model record: {where} is not a valid expression: {exc}") from None
    if variables and variables[-1] >= n_features:
        raise DataError(f"model record: {where} uses the variable x{variables[-1]}, but the model has "
                        f"{n_features} feature(s) (x0 .. x{n_features - 1})")
    loss = _number(d, "loss", where)
    r2 = _number(d, "r2", where)
    complexity = _number(d, "complexity", where, integer=True)
    value = _number(d, "score", where, default=loss)
    origin = d.get("origin", "")
    if not isinstance(origin, str):
        raise DataError(f"model record: {where}.origin must be a string, got {_kind(origin)}")
    return Candidate(expr, origin, Score(loss, int(complexity), value, r2))


def _outputs(outputs, n_features: int) -> tuple[list[Candidate], list[list[Candidate]]]:
    """The ``outputs`` field of a multi-output record, every entry checked."""
    if not isinstance(outputs, list) or len(outputs) < 2:
        raise DataError(f"model record: outputs must be a list of at least 2 models, got {_kind(outputs)}")
    bests, fronts = [], []
    for j, entry in enumerate(outputs):
        if not isinstance(entry, Mapping) or "best" not in entry or not isinstance(entry.get("pareto_front"), list):
            raise DataError(f"model record: outputs[{j}] must be an object with 'best' and a 'pareto_front' list")
        bests.append(_candidate(entry["best"], f"outputs[{j}].best", n_features))
        fronts.append([_candidate(d, f"outputs[{j}].pareto_front[{i}]", n_features)
                       for i, d in enumerate(entry["pareto_front"])])
    return bests, fronts


def _definitions(operators) -> dict | None:
    """``extra_operators`` as ``{name: definition}`` (a list of :func:`symdescent.operators.define` results by name)."""
    if operators is None or isinstance(operators, Mapping):
        return operators
    try:
        return {d.name: d for d in operators}
    except AttributeError:
        raise ConfigError(f"extra_operators: a list holds define(...) results, got {operators!r}") from None


def _jsonable(v) -> bool:
    try:
        json.dumps(v)
        return True
    except (TypeError, ValueError):
        return False
