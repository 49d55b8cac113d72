"""The orchestrator: the descent loop over proposers, refiners and a scorer.

Each iteration asks every selected proposer for candidates, fits and scores
them, hands them together with the current Pareto front to every selected
refiner, fits and scores what comes back, and updates the front.  The loop
ends when the time budget or the iteration budget is spent, when a plugin's
``symdescent_should_stop`` answers True, or on Ctrl-C; the best found so far
is always returned.

The final model is the member of the front with the lowest scorer value (for
the default ``mdl`` scorer: the shortest description of the data), after the
front's constants are polished on all rows and its members simplified.

Examples
--------
>>> import numpy as np
>>> from symdescent.search import Search
>>> X = np.random.default_rng(0).uniform(1, 2, size=(100, 2))
>>> y = X[:, 0] * X[:, 1]
>>> result = Search(X, y, config={"search": {"max_iterations": 3, "time_budget": None}}).run()
>>> result.best.r2 > 0.999
True
"""

from __future__ import annotations

import contextlib
import functools
import signal
import threading
import time
import warnings
from pathlib import Path
from typing import Any, Iterable, Mapping, Sequence

import numpy as np

from symdescent.config import Config, config_from_dict, load_config
from symdescent.data import check_sample_weight, check_X_y
from symdescent.errors import ConfigError, ExpressionError, PluginError
from symdescent.evaluation import Evaluator
from symdescent.expr import Expression
from symdescent.expr.custom import complexity_weights
from symdescent.front import ParetoFront
from symdescent.registry import PluginInfo, Registry, build_observers, build_strategy, derive_rng
from symdescent.roles import Role
from symdescent.types import Candidate, Problem, Score, SearchResult, SearchState
from symdescent.units import resolve_units


def resolve_config(config: Config | Mapping[str, Any] | str | Path | None) -> Config:
    if config is None:
        return Config()
    if isinstance(config, Config):
        return config
    if isinstance(config, Mapping):
        return config_from_dict(config, "config")
    return load_config(config)


def _with_operators(method):
    """Run a :class:`Search` method with the search's user operators in the table (:attr:`Search.operators`)."""
    @functools.wraps(method)
    def run(self, *args, **kwargs):
        with self.operators.use():
            return method(self, *args, **kwargs)

    return run


class Search:
    """One symbolic-descent search over ``(X, y)``.

    Parameters
    ----------
    X : array-like, shape (n, d)
    y : array-like, shape (n,)
    variable_names : sequence of str, optional
    config : Config, mapping, path or None
        The configuration (a TOML path, a parsed mapping or a :class:`Config`).
    plugins : iterable of PluginInfo
        Extra plugins, registered beside the installed ones.
    callbacks : iterable of objects
        Objects implementing lifecycle hooks (``symdescent_iteration_end``,
        ``symdescent_should_stop``, ...; see :mod:`symdescent.hookspecs`) to
        observe or steer the search.  They cannot propose, refine or score.
    sample_weight : array-like, shape (n,), optional
        Non-negative weights of the rows (see
        :func:`~symdescent.data.check_sample_weight`): constant fitting,
        losses, R², the scorer and the final polish use the weighted mean
        squared error; rows of weight 0 take no part.  None (or uniform
        weights): the unweighted search, bit for bit.
    client : distributed.Client, optional
        Run :meth:`run` as an island search on this Dask cluster (see
        :mod:`symdescent.islands`), whatever ``search.workers`` says; the
        client is left open.
    target_name : str
        The target's name in the config's ``[units]`` table (default ``y``;
        ``symdescent fit`` passes ``--target``): with units, each column's
        unit is found by its variable name and the target's by this one
        (:func:`~symdescent.units.resolve_units`), and the evaluator checks
        every candidate's dimensions (``search.dimensional``).
    """

    def __init__(self, X, y, *, variable_names: Sequence[str] | None = None,
                 config: Config | Mapping[str, Any] | str | Path | None = None,
                 plugins: Iterable[PluginInfo] = (), callbacks: Iterable[object] = (),
                 registry: Registry | None = None, client: Any = None, sample_weight=None, target_name: str = "y"):
        created = time.monotonic()
        X, y, names = check_X_y(X, y, variable_names)  # a TrainingData (X; y None) is taken as it is
        #: the validated weights (mean 1), or None for an unweighted search
        self.sample_weight = check_sample_weight(sample_weight, X.shape[0])
        self.config = resolve_config(config)
        #: the user operators of ``[operators]`` (:mod:`symdescent.expr.custom`): part of the table in every
        #: method of this search, and nowhere else
        self.operators = self.config.operator_set()
        with self.operators.use():
            self._setup(X, y, names, plugins, callbacks, registry, client, target_name)
        #: seconds this search's set-up took (a first run's kernel compilation, the plugins' models): the first
        #: clock counts them (:meth:`start_clock`)
        self._setup_s = time.monotonic() - created

    def _setup(self, X, y, names, plugins, callbacks, registry, client, target_name) -> None:
        self.registry = registry if registry is not None else Registry.discover(plugins)
        if registry is not None:
            for info in plugins:
                self.registry.add(info)
        #: the selected role objects (:class:`~symdescent.registry.Strategy`)
        self.strategy = build_strategy(self.config, self.registry)
        #: the pluggy manager of the callbacks, for the lifecycle hooks
        self.observers = build_observers(callbacks)
        self.client = client
        sc = self.config.search
        self.target_name = target_name
        #: the declared units (None: none), from the config's ``[units]`` by variable name
        self.units = resolve_units(names, self.config.units, target_name, error=ConfigError)
        try:
            self.operators.check_variables(names)
        except ExpressionError as exc:
            raise ConfigError(f"[operators]: {exc}") from None
        slow = self.operators.uncompiled(sc.operators)
        if slow:
            warnings.warn(f"operator(s) {', '.join(slow)} have no compiled form (Python functions): the formulas "
                          f"that use them are evaluated and fitted on the numpy reference path, several times "
                          f"slower", UserWarning, stacklevel=3)
        self.evaluator = Evaluator(X, y, sc, derive_rng(sc.seed, "fit-rows"), scorer=self._score,
                                   sample_weight=self.sample_weight, units=self.units,
                                   complexity=complexity_weights(self.config.complexity), nested=self.config.nested)
        self.problem = Problem(X, y, names, sc.operators, sc.max_complexity, sc.seed, evaluator=self.evaluator,
                               sample_weight=self.sample_weight)
        self.front = ParetoFront()
        self.iteration = 0
        self.history: list[dict] = []
        self.timings: dict[str, float] = {}
        self._started = time.monotonic()
        self._deadline = float("inf")
        self._finish_reserve = 0.0
        self._last_new: tuple[Candidate, ...] = ()
        self._injected: list = []
        self._asked: set[str] = set()
        self._queue: list[Candidate] = []
        self._told = ParetoFront()
        self._running = False

    # -- roles -------------------------------------------------------------
    def role(self, name: str, role: str) -> Role:
        """The object plugin ``name`` plays as ``role`` (``"proposer"``, ...) in this search."""
        return self.strategy.get(name, role)

    def _score(self, cand: Candidate):
        scorer = self.strategy.scorer
        score = scorer.impl.score(self.problem, cand)
        if not isinstance(score, Score):
            raise PluginError(f"scorer {scorer.name!r} returned {type(score).__name__}, expected a Score")
        return score

    # -- state -------------------------------------------------------------
    def state(self, deadline: float | None = None) -> SearchState:
        return SearchState(
            iteration=self.iteration, started=self._started,
            deadline=self._deadline if deadline is None else deadline,
            max_iterations=self.config.search.max_iterations, n_evaluations=self.evaluator.n_evaluations,
            front=self.front.members(), best=self.front.best(), last_new=self._last_new,
        )

    def _slice_deadline(self) -> float:
        sc = self.config.search
        if sc.time_budget is None:
            return float("inf")
        width = sc.iteration_seconds or min(10.0, max(0.5, sc.time_budget / 10))
        return min(self._deadline, time.monotonic() + width)

    def _run_roles(self, selected, call) -> list[Candidate]:
        """Call each role object in turn; fit and score what it returns, labelled with its plugin's name."""
        out: list[Candidate] = []
        for sel in selected:
            t0 = time.monotonic()
            res = call(sel.impl)
            if res:
                out.extend(self.evaluator(list(res), sel.name))
            self.timings[sel.name] = self.timings.get(sel.name, 0.0) + time.monotonic() - t0
        return out

    def _offer(self, cands: list[Candidate]) -> None:
        """Offer scored candidates to the front, with the least-squares sums of the column sets of the affine
        ones (:meth:`Evaluator.least_squares_sums`)."""
        self.front.update(cands)
        self.front.update(self.evaluator.least_squares_sums(cands))

    @_with_operators
    def step(self) -> list[Candidate]:
        """Run one iteration; return the candidates it scored."""
        slice_deadline = self._slice_deadline()
        injected, self._injected = self.evaluator(self._injected, "injected"), []
        state = self.state(slice_deadline)
        proposed = injected + self._run_roles(self.strategy.proposers, lambda p: p.propose(self.problem, state))
        self._offer(proposed)
        self._last_new = tuple(c for c in proposed if c.valid)
        pool = self._last_new + tuple(c for c in self.front.members() if c not in self._last_new)
        state = self.state(slice_deadline)
        refined = self._run_roles(self.strategy.refiners, lambda r: r.refine(self.problem, pool, state))
        self._offer(refined)
        self.iteration += 1
        best = self.front.best()
        self.history.append({
            "iteration": self.iteration, "elapsed": time.monotonic() - self._started,
            "best_loss": best.loss if best else float("inf"), "best_value": best.value if best else float("inf"),
            "best": best.expression.to_infix(self.problem.variable_names) if best else None,
            "front_size": len(self.front), "n_evaluations": self.evaluator.n_evaluations,
        })
        self.observers.hook.symdescent_iteration_end(problem=self.problem, state=self.state())
        return proposed + refined

    # -- the loop --------------------------------------------------------------
    @_with_operators
    def start(self) -> None:
        """Start the clock, the role objects and the callbacks (``run`` and ``ask`` do this for you)."""
        if self._running:
            return
        self.start_clock()
        self._running = True
        self.start_roles()
        self.observers.hook.symdescent_start(problem=self.problem, state=self.state())

    @_with_operators
    def start_roles(self) -> None:
        """Call every role object's ``start`` (an island does this alone: its callbacks run centrally)."""
        state = self.state()
        for sel in self.strategy.all():
            sel.impl.start(self.problem, state)

    @_with_operators
    def finish_roles(self, result: SearchResult) -> None:
        """Call every role object's ``finish``."""
        for sel in self.strategy.all():
            sel.impl.finish(self.problem, result)

    def start_clock(self) -> None:
        """Start the budget's clock (and pay the first ``import sympy``) without calling any hook.

        :meth:`start` does this first; an island search calls it alone, in
        the caller, once its islands are ready.  The first call backdates the
        clock by the search's set-up (construction: on a first run, the
        numba kernels' compilation), so that a fit ends within its budget
        from the moment it began, as long as the set-up left a tenth of it.
        """
        sc = self.config.search
        now = time.monotonic()
        # the first clock starts when the set-up did: a first run's compilation of the kernels (15-40 s, once per
        # installation) is the user's time too; the search phase keeps a tenth of the budget whatever it took
        self._started, self._setup_s = now - self._setup_s, 0.0
        if sc.simplify:
            # the first ``import sympy`` takes a second or more; done here, it is paid
            # out of the search's time rather than out of the finish reserve
            import sympy  # noqa: F401
        if sc.time_budget is not None:
            self._finish_reserve = min(5.0, 0.08 * sc.time_budget) if sc.simplify else 0.02 * sc.time_budget
            self._deadline = max(self._started + sc.time_budget - self._finish_reserve, now + 0.1 * sc.time_budget)

    @property
    def deadline(self) -> float:
        """``time.monotonic()`` at which the search phase ends (the finish reserve follows; inf: none)."""
        return self._deadline

    def set_deadline(self, deadline: float) -> None:
        """Move the end of the search phase; an island's driver sets it before each round."""
        self._deadline = float(deadline)

    def budget_left(self) -> bool:
        sc = self.config.search
        if sc.max_iterations is not None and self.iteration >= sc.max_iterations:
            return False
        return time.monotonic() < self._deadline

    @_with_operators
    def run(self) -> SearchResult:
        """Run the search to its budget and return the result.

        Ctrl-C (SIGINT) and SIGTERM (``docker stop``, a scheduler, ``timeout``)
        stop the loop and keep the best found so far: the front is finalised
        and returned as usual, with ``interrupted`` set.

        With ``search.workers`` other than 1, a ``search.scheduler`` or a
        ``client``, the search runs as islands on Dask
        (:func:`symdescent.islands.run_islands`); ``ask``/``tell`` and
        ``step`` always run here, in one process.
        """
        from symdescent.cluster import uses_islands

        if uses_islands(self.config.search, self.client):
            from symdescent.islands import run_islands

            return run_islands(self, client=self.client)
        with stop_on_signals(self.evaluator.stop):
            return self._run()

    def _run(self) -> SearchResult:
        sc = self.config.search
        interrupted, reason = False, "max_iterations"
        try:
            self.start()
            while True:
                if sc.max_iterations is not None and self.iteration >= sc.max_iterations:
                    reason = "max_iterations"
                    break
                if time.monotonic() >= self._deadline:
                    reason = "time_budget"
                    break
                self.step()
                if self.evaluator.stop.is_set():
                    raise KeyboardInterrupt("stop requested")
                if any(self.observers.hook.symdescent_should_stop(problem=self.problem, state=self.state())):
                    reason = "stopped by a plugin"
                    break
        except KeyboardInterrupt:
            interrupted, reason = True, "interrupted"
            self.evaluator.stop.clear()  # the finish evaluates too; a second signal interrupts it
        return self.close(reason, interrupted)

    # -- ask / tell --------------------------------------------------------------
    @_with_operators
    def ask(self, n: int = 1) -> list[Candidate]:
        """Up to ``n`` candidates not handed out before, best internal score first.

        Runs iterations of the loop as needed; returns fewer (possibly none)
        once the budget is spent.  The candidates carry constants fitted to
        ``(X, y)`` and the internal score; judge them however you like and
        report back with :meth:`tell`.

        Examples
        --------
        A pipeline that judges candidates by their error on its own held-out
        points, far outside the training range:

        >>> import numpy as np
        >>> X = np.random.default_rng(0).uniform(1, 2, size=(50, 1))
        >>> s = Search(X, X[:, 0] ** 2, config={"search": {"time_budget": None, "max_iterations": 4}})
        >>> X_far = np.linspace(10, 20, 5)[:, None]
        >>> for cand in s.ask(20):
        ...     f = cand.expression.to_callable()
        ...     _ = s.tell(cand, loss=float(np.mean((f(X_far) - X_far[:, 0] ** 2) ** 2)))
        >>> s.best_told().expression.to_infix()
        'square(x0)'
        >>> result = s.close()
        """
        self.start()
        while len(self._queue) < n and self.budget_left():
            fresh = self.step()
            for c in sorted((c for c in fresh if c.valid), key=lambda c: c.value):
                key = c.expression.key()
                if key not in self._asked:
                    self._asked.add(key)
                    self._queue.append(c)
            if not fresh:
                break
        out, self._queue = self._queue[:n], self._queue[n:]
        return out

    @_with_operators
    def tell(self, candidate: Candidate | Expression, loss: float, value: float | None = None) -> Candidate:
        """Report a pipeline's own loss for a candidate; returns the recorded candidate.

        The told candidates form their own front (:meth:`told_front`), ranked
        by ``value`` (default: the loss).
        """
        expr = candidate.expression if isinstance(candidate, Candidate) else candidate
        origin = candidate.origin if isinstance(candidate, Candidate) else "told"
        loss = float(loss)
        valid = bool(np.isfinite(loss))
        score = Score(loss if valid else float("inf"), self.evaluator.complexity(expr),
                      float(value if value is not None else loss),
                      float("nan"), valid)
        told = Candidate(expr, origin, score)
        self._told.add(told)
        return told

    def inject(self, expressions: Iterable[Expression | Candidate]) -> None:
        """Add candidates from outside; they join the next iteration (scored, offered to refiners)."""
        self._injected.extend(expressions)

    def take_injected(self) -> list:
        """The injected candidates not yet scored, removed from here (an island search hands them to its islands)."""
        out, self._injected = self._injected, []
        return out

    def told_front(self) -> tuple[Candidate, ...]:
        return self._told.members()

    def best_told(self) -> Candidate | None:
        return self._told.best()

    @_with_operators
    def close(self, reason: str = "closed", interrupted: bool = False) -> SearchResult:
        """Finish the search: finalise the front, finish the roles and callbacks, return the result."""
        self.start()
        result = self.finish(reason, interrupted)
        self._running = False
        self.finish_roles(result)
        self.observers.hook.symdescent_finish(problem=self.problem, result=result)
        return result

    @_with_operators
    def finish(self, reason: str, interrupted: bool = False) -> SearchResult:
        """Polish and simplify the front, pick the final model, build the result."""
        best = None
        if not len(self.front):
            self._fallback()
        try:
            until = time.monotonic() + self._finish_reserve if self._finish_reserve else None
            cv = self.config.search.selection != "score"
            # the cross-validated choice, last, gets the last 40 % of the finish's reserve
            self._finalise_front(until - 0.4 * self._finish_reserve if cv and until is not None else until)
            self._recheck_on_all_rows()
            best = self._select(until)
        except KeyboardInterrupt:
            interrupted = True
        return SearchResult(
            best=best or self.front.best(), front=self.front.members(), iterations=self.iteration,
            n_evaluations=self.evaluator.n_evaluations, elapsed=time.monotonic() - self._started,
            interrupted=interrupted, stop_reason=reason, variable_names=self.problem.variable_names,
            history=tuple(self.history),
        )

    def _fallback(self) -> None:
        """A front still empty at the finish (the budget ended before any candidate was scored, as when a cluster's
        or a first compilation's start-up took it, or the proposers proposed nothing) gets the least-squares
        constant and the least-squares sum of every column (where it breaks no dimension rule), so that a fit
        always returns a model; a warning says why."""
        ev = self.evaluator
        sums = [ev.least_squares_sum(()), ev.least_squares_sum(range(self.problem.X.shape[1]))]
        self.front.update(c for c in sums if c is not None and not ev.violations(c.expression))
        warnings.warn("the search scored no valid candidate (its budget ended first, or its proposers proposed "
                      "nothing): the model is the better of the least-squares constant and the least-squares sum of "
                      "every column; give it a longer budget (a first run compiles the kernels: `symdescent warmup` "
                      "does it ahead)", UserWarning, stacklevel=3)

    def _finalise_front(self, until: float | None) -> None:
        """The front-level finish before ``until``: which members are polished (best first; the best always)
        and simplified; polishing one member is one call (:meth:`Evaluator.polish`, that is
        :func:`symdescent.expr.fit.polish`)."""
        from symdescent.expr.sympy_bridge import simplify

        members = sorted(self.front.members(), key=lambda c: c.value)
        for i, cand in enumerate(members):
            if i and until is not None and time.monotonic() >= until:
                break  # the best is always polished; the rest, best first, while time is left
            polished = self.evaluator.polish(cand, until=until)
            # a snapped constant may cost a hair of loss (bounded in polish): keep the readable one
            self.front.add(polished, replaces=cand)
        if not self.config.search.simplify:
            return
        for cand in sorted(self.front.members(), key=lambda c: c.value)[:10]:
            left = (until - time.monotonic()) if until is not None else 2.0
            if left <= 0.05:
                break
            simpler = simplify(cand.expression, timeout=min(2.0, left))
            if simpler is not cand.expression:
                (new,) = self.evaluator([simpler], cand.origin)
                if new.valid:
                    self.front.add(self.evaluator.polish(new, until=until))


    def _select(self, until: float | None):
        """The final model by ``search.selection`` among the members that stay bounded between the rows
        (:func:`symdescent.selection.bounded_between_rows`; all of them when none does): the scorer's best
        (``"score"``, or when the cross-validation could not finish in time) or the cross-validated choice."""
        from symdescent.selection import bounded_between_rows, cross_validated_choice

        ev = self.evaluator
        seed = self.config.search.seed

        def bounded(c):
            return bounded_between_rows(c.expression, ev.X_all, ev.y_all, seed=seed)

        members = sorted(self.front.members(), key=lambda c: (c.value, c.complexity))
        rule = self.config.search.selection
        if rule == "score":
            return next((c for c in members if bounded(c)), None)
        pool = [c for c in members if bounded(c)] or members
        return cross_validated_choice(pool, ev.X_all, ev.y_all, ev.w_all, max_rows=1000, seed=seed,
                                      operators=ev.allowed, until=until, one_se=rule == "cv") or (
            pool[0] if pool else None)

    def _recheck_on_all_rows(self) -> None:
        """On large data the search ranks on a subsample (``search.score_rows``): the final front is
        re-scored on every row, so that the chosen model and every figure of the result refer to all
        the data (a member that another dominates on all rows leaves the front)."""
        if not self.evaluator.subsampled:
            return
        rechecked = ParetoFront()
        rechecked.update([self.evaluator.on_all_rows(c) for c in self.front.members()])
        self.front = rechecked


@contextlib.contextmanager
def stop_on_signals(stop: threading.Event):
    """Within the block, SIGINT (Ctrl-C) and SIGTERM ask the search to stop.

    The first signal only sets ``stop``: the search raises KeyboardInterrupt
    itself at its next safe point (the next candidate it evaluates, or the end
    of an iteration), never inside compiled code, where an exception raised by
    a signal handler would surface as a SystemError.  A second signal before
    that raises KeyboardInterrupt at once.  Only in the main thread (the only
    one where Python can set a handler) and only for signals that have
    Python's default handling; the previous handlers are restored on exit.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handler(signum, frame):
        if stop.is_set():
            raise KeyboardInterrupt(f"signal {signal.Signals(signum).name}, twice")
        stop.set()

    replaced = {}
    for sig, default in ((signal.SIGINT, signal.default_int_handler), (signal.SIGTERM, signal.SIG_DFL)):
        if signal.getsignal(sig) is default:
            replaced[sig] = default
            signal.signal(sig, handler)
    try:
        yield
    finally:
        for sig, old in replaced.items():
            signal.signal(sig, old)


def fit(X, y, *, variable_names=None, config=None, **search_settings) -> SearchResult:
    """Run one search; keyword settings override ``[search]`` keys.

    >>> import numpy as np
    >>> X = np.linspace(0.5, 3, 60)[:, None]
    >>> r = fit(X, 2 * X[:, 0] ** 2, max_iterations=2, time_budget=None)
    >>> round(r.best.r2, 6)
    1.0
    """
    cfg = resolve_config(config)
    if search_settings:
        cfg = cfg.with_overrides(search=search_settings)
    return Search(X, y, variable_names=variable_names, config=cfg).run()


__all__ = ["Search", "fit", "resolve_config", "Expression"]
