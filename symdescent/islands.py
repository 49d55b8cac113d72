"""Island search: one search on every core, or on a cluster, as islands on Dask.

With ``[search] workers = N`` (N > 1; 0 or ``"auto"``, and the default
where the setting and ``SYMDESCENT_WORKERS`` are left out: one per core), a
``[search] scheduler`` address or a ``distributed.Client`` passed in, one
search runs as N *islands*.  Each island is a full descent loop (a
:class:`~symdescent.search.Search` with its own population, its own plugin
instances and a seed derived from the search's seed and its index) living
in one single-threaded Dask worker process.  The caller drives the islands
in synchronous *rounds*: each island runs ``migration_every`` iterations,
sends back its Pareto front, and receives as newcomers the
``migration_size`` best candidates of the other islands' fronts
(:meth:`Search.inject <symdescent.search.Search.inject>`), which its next
iteration scores and hands to its refiners.  The global front is the union
of every front received; the final model is chosen from it exactly as in
one process: the caller polishes and simplifies it once, within the budget.

Design
------
Each island is a ``distributed`` **Actor** (``client.submit(Island, ...,
actor=True)``) pinned to its own worker, and the caller calls
``island.run_round(iterations, seconds_left, incoming)`` on every island,
then waits for all of them.  An actor keeps the island's whole state (the
GP population, LEE's loaded model and caches) in its worker between
rounds, so a round costs one small message each way (a front of at most
``max_complexity`` candidates) instead of shipping the population back and
forth; and actor calls let the caller see each island separately:

* **faults**: a killed worker fails only its island's call (``OSError``
  within milliseconds); the search goes on with the others, every candidate
  that island had sent stays in the union, and the result says so
  (``SearchResult.islands[i]["lost"]``, ``islands_lost``, and the round's
  ``islands_lost`` in the history).  Its population is gone with its
  process, so where a worker holds no island at a round's end (a local
  cluster's nanny replaces a killed worker; on a remote cluster one may
  join) a fresh island takes its place there (``restart_islands``): its
  seed derived from the search's, its index and its restarts, the global
  front its first newcomers, and with an iteration budget the iterations
  its predecessor had left; ``islands[i]["restarts"]`` counts them, and
  ``lost`` is then None again.
* **stopping**: ``halt`` is a coroutine, so it runs on the worker's event
  loop while the island's round runs in the actor thread; it sets the
  island's stop flag, and the island returns its front at its next
  evaluation.  Ctrl-C or SIGTERM in the caller halts every island and
  returns the global best, as in one process.
* **determinism**: migration happens only at iteration boundaries (after
  every island's round), and incoming candidates are ordered by score and
  then by island index, never by arrival time; with an iteration budget
  and a fixed seed the search is exactly reproducible, whatever the
  cluster.  With a time budget, how many iterations (and generations in
  each) an island fits into its time slices depends on the machine's load,
  so the fronts, and possibly the model, vary from run to run, as they do
  in one process.

Budget: the whole run is the user's time, as in one process: the clock
starts when ``run`` does, so the local cluster's start-up (its worker
processes, and in each the imports, the compiled kernels and the plugins'
start) and its shut-down are charged to the budget, on a cluster passed
in or named by ``scheduler`` too (there the islands' start only).  How
long each island took to be ready is reported (``islands[i]["startup_s"]``,
from the start of ``run``), and how long the local cluster took to close
(``islands[i]["shutdown_s"]``, 0 for a cluster that stays up); the result's
``elapsed`` covers both.  Each round is bounded by the time left; islands
still busy shortly after the deadline are halted.  Where the start-up leaves
no time at all, the islands still run one short round of one iteration
(halted if it runs long, as any round past the deadline; with a warning), so
that the search returns a model.  Islands halted past the deadline end the
search for its time budget, not as interrupted.  ``max_iterations`` counts each island's iterations (N islands do N
times the work).  Proposers such as LEE run inside each island (the
simplest design: each island calls its own proposer with its own seed; a
deterministic step, such as LEE's first beam search, is repeated on every
island).  Callbacks and lifecycle hooks run in the caller and see the global
state: ``symdescent_start`` once the islands are ready,
``symdescent_iteration_end`` and ``symdescent_should_stop`` after every
round with the union front, ``symdescent_finish`` with the final result;
the proposers' and refiners' own hooks run in their islands.
``Search.ask``/``tell`` always run in one process.

Examples
--------
>>> import numpy as np
>>> from distributed import Client, LocalCluster
>>> from symdescent.search import Search
>>> X = np.random.default_rng(0).uniform(1, 2, size=(100, 2))
>>> cluster = LocalCluster(n_workers=2, threads_per_worker=1, dashboard_address=None)  # doctest: +SKIP
>>> client = Client(cluster)  # doctest: +SKIP
>>> search = Search(X, X[:, 0] * X[:, 1], client=client,
...                 config={"search": {"max_iterations": 4, "time_budget": None}})  # doctest: +SKIP
>>> result = search.run()  # doctest: +SKIP
>>> [isl["iterations"] for isl in result.islands]  # doctest: +SKIP
[4, 4]
>>> choose_migrants({}, [0], 3)
{0: []}
"""

from __future__ import annotations

import contextlib
import dataclasses
import itertools
import math
import time
import uuid
import warnings
from dataclasses import dataclass
from typing import Any, Iterable, Mapping, Sequence

from symdescent.cluster import close_client, local_workers, open_client
from symdescent.config import Config, environment_workers
from symdescent.errors import ConfigError, ExpressionError, SymdescentError
from symdescent.registry import Registry, derive_rng
from symdescent.types import Candidate, SearchResult

#: how long a restarted island may take to start before its worker is taken for gone (it is tried again later)
RESTART_TIMEOUT_S = 60.0


def island_seed(seed: int, index: int, restart: int = 0) -> int:
    """The seed of island ``index`` (after ``restart`` restarts): a function of the search's seed and those only.

    >>> island_seed(0, 1) == island_seed(0, 1) != island_seed(0, 2)
    True
    >>> island_seed(0, 1, restart=1) != island_seed(0, 1)
    True
    """
    names = ("island", str(index)) + (("restart", str(restart)) if restart else ())
    return int(derive_rng(seed, *names).integers(2**31 - 1))


@dataclass(frozen=True)
class RoundReport:
    """What an island sends back after a round.

    Attributes
    ----------
    index : int
        The island.
    front : tuple of Candidate
        Its Pareto front after the round.
    iterations, n_evaluations : int
        Its totals so far.
    stopped : bool
        One of its plugins' ``symdescent_should_stop`` answered True.
    interrupted : bool
        The round was halted.
    busy_s : float
        Seconds the round took on the worker.
    bytes_in, bytes_out : int
        The pickled sizes of the migrants it received and of the front it sends (the traffic of a round).
    """

    index: int
    front: tuple[Candidate, ...]
    iterations: int
    n_evaluations: int
    stopped: bool = False
    interrupted: bool = False
    busy_s: float = 0.0
    bytes_in: int = 0
    bytes_out: int = 0


class Island:
    """One island: a whole :class:`~symdescent.search.Search`, held by a Dask worker as an Actor.

    Built on the worker (``client.submit(Island, ..., actor=True)``), where
    it compiles or loads the kernels, imports sympy and starts its plugins,
    all before the search's clock starts.  It has no callbacks: those run in
    the caller.
    """

    def __init__(self, index: int, X, y, variable_names, config: Config, registry: Registry, sample_weight=None,
                 target_name: str = "y"):
        from symdescent.data import TrainingData
        from symdescent.search import Search

        self.index = index
        weighted = {} if sample_weight is None else {"sample_weight": sample_weight}
        # the caller validated the rows: taken as they are, which also spares this process scikit-learn's import
        data = TrainingData(X, y, tuple(variable_names))
        self.search = Search(data, None, config=config, registry=registry, target_name=target_name, **weighted)
        self.search.start()
        self._first_round = True

    def run_round(self, iterations: int, seconds_left: float | None, incoming) -> RoundReport:
        """Score ``incoming`` with the next iteration, run up to ``iterations`` iterations; report.

        ``seconds_left`` (None: no time limit) is relative: the caller's and
        this worker's ``time.monotonic`` clocks need not agree.
        """
        s = self.search
        t0 = time.monotonic()
        if self._first_round:  # the search's time starts with its first round, not with the set-up
            s.start_clock()
            self._first_round = False
        s.set_deadline(t0 + seconds_left if seconds_left is not None else math.inf)
        s.inject(incoming)
        target = s.iteration + iterations
        stopped = interrupted = False
        try:
            while s.iteration < target and s.budget_left():
                s.step()
                if s.evaluator.stop.is_set():
                    raise KeyboardInterrupt("halted")
                if any(s.observers.hook.symdescent_should_stop(problem=s.problem, state=s.state())):
                    stopped = True
                    break
        except KeyboardInterrupt:
            interrupted = True
            s.evaluator.stop.clear()
        front = s.front.members()
        return RoundReport(self.index, front, s.iteration, s.evaluator.n_evaluations, stopped, interrupted,
                           time.monotonic() - t0, _pickled_size(incoming), _pickled_size(front))

    async def halt(self) -> bool:
        """Stop the running round at its next evaluation (runs on the worker's event loop, beside the round)."""
        self.search.evaluator.stop.set()
        return True

    def finish(self, result: SearchResult) -> None:
        """Call the island's role objects' ``finish`` with the global result."""
        self.search.finish_roles(result)


def choose_migrants(fronts: Mapping[int, Sequence[Candidate]], receivers: Iterable[int],
                    size: int) -> dict[int, list[Candidate]]:
    """Each receiving island's migrants: the best ``size`` formulas of the islands' fronts that it does not hold.

    The union of ``fronts`` (by island index) is ranked once, one entry per
    formula, by the scorer's value, then complexity, then island index and
    place in its front (never by arrival time, so a seeded search migrates
    the same way every time); each receiver then skips the formulas its own
    front holds.  A round costs O(U log U + N (F + size)) for a union of U
    candidates, N receivers and fronts of F, not O(N² F).

    Examples
    --------
    >>> from symdescent.expr import parse
    >>> from symdescent.types import Candidate, Score
    >>> def cand(text, value):
    ...     return Candidate(parse(text), "test", Score(loss=value, complexity=1, value=value, r2=0.0))
    >>> a, b, c = cand("x0", 1.0), cand("x0 * x0", 0.5), cand("x0 + 1", 2.0)
    >>> moves = choose_migrants({0: [a], 1: [b, a], 2: [c]}, [0, 1, 2], 1)
    >>> [[m.expression.to_infix() for m in moves[i]] for i in range(3)]
    [['x0 * x0'], ['x0 + 1'], ['x0 * x0']]
    """
    entries = sorted(((c.value, c.complexity, j, k, c) for j in sorted(fronts) for k, c in enumerate(fronts[j])),
                     key=lambda t: t[:4])
    ranked, holders = [], {}
    for _, _, j, _, cand in entries:
        key = cand.expression.key()
        if key not in holders:
            holders[key] = set()
            ranked.append((key, cand))
        holders[key].add(j)
    return {i: list(itertools.islice((cand for key, cand in ranked if i not in holders[key]), size))
            for i in sorted(receivers)}


def _pickled_size(obj) -> int:
    """Bytes of ``obj`` pickled as Dask sends it (pickle, else cloudpickle; tens of microseconds for a front)."""
    from distributed.protocol import pickle

    return len(pickle.dumps(obj))


def _lost_worker(exc: BaseException) -> bool:
    """An island's call failed because its worker is gone (not because its code raised)."""
    return isinstance(exc, OSError) or (isinstance(exc, RuntimeError) and "Worker holding Actor was lost" in str(exc))


def run_islands(search, client=None) -> SearchResult:
    """Run ``search`` (a :class:`~symdescent.search.Search`, not started) as islands; return the result.

    ``client``: a ``distributed.Client`` to use and leave open; without one,
    a client to ``search.scheduler`` or a new ``LocalCluster`` is made and
    closed at the end.
    """
    from symdescent.search import stop_on_signals

    try:  # the islands' workers rebuild the user operators from their definitions
        search.operators.check_picklable()
    except ExpressionError as exc:
        raise ConfigError(f"[operators] with several workers: {exc}") from None
    with stop_on_signals(search.evaluator.stop):
        search.start_clock()  # the budget starts now: the cluster's start-up and the islands' are the user's time
        return _Driver(search, client).run()


class _Driver:
    """The caller's side of an island search: the cluster, rounds, migration, faults, the finish."""

    def __init__(self, search, client=None):
        self.search = search
        self.client = client
        self.t0 = search.state().started
        self.own = client is None
        self.own_cluster = self.own and search.config.search.scheduler is None
        sc = search.config.search
        self.sc = sc
        self.records: dict[int, dict] = {}
        self.alive: dict[int, Any] = {}
        #: restarts under way: island -> (the actor's future, its worker, its seed, when it was asked for)
        self.pending: dict[int, tuple] = {}
        #: a restarted island's predecessors' iterations and evaluations, added to what it reports
        self.offsets: dict[int, tuple[int, int]] = {}
        self.lost_on: set[str] = set()
        self.last: dict[int, RoundReport] = {}
        self.incoming: dict[int, list[Candidate]] = {}
        # the proposers and refiners live in the islands; here the scorer (for the finish's polish) and
        # the callbacks, which observe the global state
        self.observe = search.observers.hook
        self.scorer = search.strategy.scorer.impl

    # -- set-up ------------------------------------------------------------------
    def _n_islands(self, workers: list[str]) -> int:
        requested = local_workers(self.sc.workers)
        if not self.own_cluster:
            # on a given cluster: as many as asked for by a number above 1, else (1, auto, left out: this
            # machine's cores mean nothing there) one per worker process
            explicit = self.sc.workers if self.sc.workers is not None else environment_workers()
            requested = explicit if isinstance(explicit, int) and explicit > 1 else len(workers)
        # an actor's calls run one at a time per worker process, so two islands there would take turns
        return max(1, min(requested, len(workers)))

    def _workers(self) -> list[str]:
        expected = local_workers(self.sc.workers) if self.own_cluster else 1
        try:
            self.client.wait_for_workers(max(1, expected), timeout=60)
        except TimeoutError:
            raise SymdescentError("the Dask cluster has no worker to run islands on (start some with "
                                  "`dask worker SCHEDULER_ADDRESS --nthreads 1`)") from None
        return sorted(self.client.scheduler_info(n_workers=-1)["workers"])

    def _scatter(self, workers: list[str] | None = None) -> list:
        """The caller's scoring rows and their weights, sent to ``workers`` (None: every worker)."""
        e = self.search.evaluator
        return self.client.scatter([e.X, e.y, getattr(e, "w", None)], workers=workers, broadcast=workers is None,
                                   hash=False)

    def _submit(self, i: int, worker: str, restart: int = 0):
        """Start island ``i`` on ``worker`` (an Actor); return its seed and the actor's future."""
        s = self.search
        seed = island_seed(self.sc.seed, i, restart)
        # an island never simplifies (the caller's finish does), so it need not import sympy either
        search = {"seed": seed, "workers": 1, "scheduler": None, "simplify": False}
        if restart and self.sc.max_iterations is not None:  # a restarted island runs what its predecessor left
            search["max_iterations"] = max(1, self.sc.max_iterations - self.records[i]["iterations"])
        cfg = s.config.with_overrides(search=search)
        # a restart sends the rows again, to its worker: their copies may have gone with the dead one
        X, y, w = self._scatter([worker]) if restart else self.data
        future = self.client.submit(Island, i, X, y, s.problem.variable_names, cfg, s.registry, w, s.target_name,
                                    workers=[worker], allow_other_workers=False, actor=True, pure=False,
                                    key=f"symdescent-island-{i}-{restart}-{self.tag}")
        return seed, future

    def start_islands(self) -> None:
        s = self.search
        workers = self._workers()
        n = self._n_islands(workers)
        # the caller's scoring rows (and their weights): every island scores on the same rows, so that the
        # losses of their fronts compare, and no island receives more than score_rows rows
        self.data = self._scatter()
        self.tag = uuid.uuid4().hex[:8]
        seeds = s.take_injected()  # a warm start's: every island scores them in its first iteration
        futures = {}
        for i in range(n):
            seed, futures[i] = self._submit(i, workers[i])
            self.records[i] = {"island": i, "worker": workers[i], "seed": seed, "iterations": 0,
                               "n_evaluations": 0, "busy_s": 0.0, "startup_s": None, "shutdown_s": 0.0,
                               "restarts": 0, "lost": None}
        for i, fut in futures.items():
            try:
                self.alive[i] = fut.result()
            except Exception as exc:
                if not _lost_worker(exc):
                    raise
                self._lose(i, exc)
            else:
                self.records[i]["startup_s"] = round(time.monotonic() - self.t0, 3)
            self.incoming[i] = list(seeds)
        if not self.alive:
            raise SymdescentError("no island could be started: every worker was lost")

    # -- rounds ------------------------------------------------------------------
    def _lose(self, i: int, exc: BaseException) -> None:
        self.alive.pop(i, None)
        self.records[i]["lost"] = f"{type(exc).__name__}: {exc}"
        self.lost_on.add(self.records[i]["worker"])

    def _restart_lost(self) -> None:
        """Adopt the restarted islands now ready; restart lost ones on workers that hold no island (a nanny's
        replacement for a killed worker, a worker that joined), while the budget leaves time for it."""
        for i, (future, worker, seed, asked) in sorted(self.pending.items()):
            if future.done():
                del self.pending[i]
                try:
                    actor = future.result()
                except Exception as exc:
                    if not (_lost_worker(exc) or future.cancelled()):
                        raise
                    self.lost_on.add(worker)  # gone again: another worker may take it at a later round
                    continue
                r = self.records[i]
                self.offsets[i] = (r["iterations"], r["n_evaluations"])
                r.update(worker=worker, seed=seed, restarts=r["restarts"] + 1, lost=None)
                self.alive[i] = actor
                self.incoming[i] = list(self.search.front.members())  # the global front, as newcomers
            elif time.monotonic() - asked > RESTART_TIMEOUT_S:  # its worker went away before the island started
                future.cancel()
                del self.pending[i]
        lost = [i for i in sorted(self.records) if i not in self.alive and i not in self.pending]
        startup = max((r["startup_s"] or 0.0 for r in self.records.values()), default=0.0)
        if not lost or not self.sc.restart_islands or self.search.deadline - time.monotonic() < startup:
            return
        held = {self.records[i]["worker"] for i in self.alive} | {p[1] for p in self.pending.values()}
        free = [w for w in sorted(self.client.scheduler_info(n_workers=-1)["workers"])
                if w not in held and w not in self.lost_on]
        for i, worker in zip(lost, free):
            seed, future = self._submit(i, worker, self.records[i]["restarts"] + 1)
            self.pending[i] = (future, worker, seed, time.monotonic())

    def _halt(self, indices) -> None:
        for i in indices:
            try:
                self.alive[i].halt()  # fire and forget: the round's own reply says when it stopped
            except Exception:  # its worker is gone; the round's future says so
                pass

    def _wait_grace(self) -> float:
        budget = self.sc.time_budget
        return 5.0 if budget is None else min(1.0, max(0.2, 0.05 * budget))

    def _collect(self, futures: dict, until: float) -> dict[int, RoundReport]:
        """Wait for the round's reports; lose islands whose worker died; halt on a stop or past ``until``."""
        stop = self.search.evaluator.stop
        hard = until + self._wait_grace()
        reports: dict[int, RoundReport] = {}
        pending = dict(futures)
        halted_at = None
        while pending:
            for i in sorted(pending):
                if pending[i].done():
                    try:
                        reports[i] = pending.pop(i).result()
                    except Exception as exc:
                        if not _lost_worker(exc):
                            self._halt(p for p in pending if p in self.alive)
                            raise
                        self._lose(i, exc)
            now = time.monotonic()
            if pending and halted_at is None and (stop.is_set() or now > hard):
                self._halt(pending)
                halted_at = now
            if pending and halted_at is not None and now > halted_at + self._wait_grace():
                break  # too late to wait for: its earlier fronts are in the union already
            time.sleep(0.01)
        return reports

    def _merge(self, reports: dict[int, RoundReport]) -> tuple[Candidate, ...]:
        front = self.search.front
        before = {c.expression.key() for c in front.members()}
        for i in sorted(reports):  # island order, so ties are settled the same way every time
            r = reports[i]
            front.update(r.front)
            self.last[i] = r
            iterations, evaluations = self.offsets.get(i, (0, 0))
            self.records[i].update(iterations=iterations + r.iterations, n_evaluations=evaluations + r.n_evaluations,
                                   busy_s=round(self.records[i]["busy_s"] + r.busy_s, 3))
        self.incoming.update(choose_migrants({i: r.front for i, r in reports.items()}, self.alive,
                                             self.sc.migration_size))
        return tuple(c for c in front.members() if c.expression.key() not in before)

    def _totals(self) -> tuple[int, int]:
        iterations = max((r["iterations"] for r in self.records.values()), default=0)
        return iterations, sum(r["n_evaluations"] for r in self.records.values())

    def _state(self, last_new=()):
        iterations, evaluations = self._totals()
        return dataclasses.replace(self.search.state(), iteration=iterations, n_evaluations=evaluations,
                                   last_new=tuple(last_new))

    def _record(self, round_index: int, lost: list[int], reports: dict[int, RoundReport], timing: dict) -> None:
        """A history entry for the round: the global front's best, and the round's costs.

        ``caller_s``: the caller's own time (the calls' dispatch, the merge and
        the migrants' choice); ``wait_s``: its wait for the reports;
        ``busy_max_s``/``busy_mean_s``: the islands' time in the round (the
        slowest sets the wait: the rest is idle at the barrier); ``bytes_in``/
        ``bytes_out``: the pickled migrants sent to the islands and fronts
        received from them, summed over the islands.
        """
        s = self.search
        best = s.front.best()
        iterations, evaluations = self._totals()
        s.iteration = iterations
        entry = {
            "iteration": iterations, "round": round_index, "elapsed": s.state().elapsed,
            "best_loss": best.loss if best else float("inf"), "best_value": best.value if best else float("inf"),
            "best": best.expression.to_infix(s.problem.variable_names) if best else None,
            "front_size": len(s.front), "n_evaluations": evaluations, "islands": len(self.alive),
        }
        busy = [r.busy_s for r in reports.values()]
        entry.update(timing, busy_max_s=max(busy, default=0.0), busy_mean_s=sum(busy) / max(1, len(busy)),
                     bytes_in=sum(r.bytes_in for r in reports.values()),
                     bytes_out=sum(r.bytes_out for r in reports.values()))
        if lost:
            entry["islands_lost"] = lost
        s.history.append(entry)

    def _rounds(self) -> str:
        s, sc = self.search, self.sc
        round_index = 0
        while self.alive or self.pending:
            if round_index:
                self._restart_lost()
            if not self.alive:  # every island lost, a restart under way
                time.sleep(0.05)
                if s.evaluator.stop.is_set():
                    raise KeyboardInterrupt("stop requested")
                if time.monotonic() > s.deadline:
                    return "time_budget"
                continue
            if sc.max_iterations is not None and all(
                    self.records[i]["iterations"] >= sc.max_iterations for i in self.alive):
                return "max_iterations"
            left, iterations = s.deadline - time.monotonic(), sc.migration_every
            if left <= 0:
                if round_index:
                    return "time_budget"
                left, iterations = self._late_start()
            t0 = time.monotonic()
            was_alive = set(self.alive)  # the history names the islands lost in this round, at its dispatch too
            futures = {}
            for i in sorted(self.alive):
                try:
                    futures[i] = self.alive[i].run_round(iterations, left if math.isfinite(left) else None,
                                                         self.incoming[i])
                except Exception as exc:
                    if not _lost_worker(exc):
                        raise
                    self._lose(i, exc)
            t1 = time.monotonic()
            reports = self._collect(futures, t1 + left)
            t2 = time.monotonic()
            new = self._merge(reports)
            round_index += 1
            timing = {"caller_s": t1 - t0 + time.monotonic() - t2, "wait_s": t2 - t1}
            self._record(round_index, sorted(was_alive - set(self.alive)), reports, timing)
            state = self._state(new)
            self.observe.symdescent_iteration_end(problem=s.problem, state=state)
            if s.evaluator.stop.is_set():
                raise KeyboardInterrupt("stop requested")
            if any(r.interrupted for r in reports.values()):  # halted past the deadline, not by a signal
                return "time_budget"
            if any(r.stopped for r in reports.values()) or any(
                    self.observe.symdescent_should_stop(problem=s.problem, state=state)):
                return "stopped by a plugin"
        return "every island was lost"

    def _late_start(self) -> tuple[float, int]:
        """The first round's seconds and iterations when the start-up took the whole budget: one short one."""
        budget = self.sc.time_budget
        startup = max((r["startup_s"] or 0.0 for r in self.records.values()), default=0.0)
        warnings.warn(f"the islands' start-up took {startup:.1f} s of the {budget:g} s time budget: they run a "
                      f"single short iteration (ask for fewer workers, or a longer budget)", UserWarning,
                      stacklevel=4)
        return max(0.05, 0.02 * budget), 1  # as short as the finish reserve without simplification

    def run(self) -> SearchResult:
        s = self.search
        try:
            if self.own:
                self.client = open_client(self.sc)
            self.start_islands()
            self.scorer.start(s.problem, self._state())
            self.observe.symdescent_start(problem=s.problem, state=self._state())
            interrupted = False
            try:
                reason = self._rounds()
            except KeyboardInterrupt:
                interrupted, reason = True, "interrupted"
                self._halt(list(self.alive))
                s.evaluator.stop.clear()  # the finish evaluates too; a second signal interrupts it
            result = s.finish(reason, interrupted)
            self._finish_islands(result)
        finally:
            shutdown = self._close() if self.own and self.client is not None else 0.0
        for record in self.records.values():
            record["shutdown_s"] = shutdown
        _, evaluations = self._totals()
        # the islands' evaluations, plus the caller's own (the finish's polish and simplification); the elapsed
        # time covers the cluster's shut-down
        result = dataclasses.replace(result, n_evaluations=evaluations + result.n_evaluations,
                                     elapsed=time.monotonic() - self.t0,
                                     islands=tuple(dict(r) for r in self.records.values()))
        self.scorer.finish(s.problem, result)
        self.observe.symdescent_finish(problem=s.problem, result=result)
        return result

    def _close(self) -> float:
        """Close the client this search opened (and its local cluster); return the seconds it took."""
        t0 = time.monotonic()
        close_client(self.client)
        return round(time.monotonic() - t0, 3)

    def _finish_islands(self, result: SearchResult) -> None:
        for future, *_ in self.pending.values():  # restarts not ready in time: not to start after the search
            future.cancel()
        calls = []
        for actor in self.alive.values():
            try:
                calls.append(actor.finish(result))
            except Exception:  # its worker is gone: nothing to release there
                pass
        until = time.monotonic() + 2.0
        for call in calls:
            with contextlib.suppress(Exception):
                call.result(timeout=max(0.01, until - time.monotonic()))


__all__ = ["Island", "RoundReport", "run_islands", "choose_migrants", "island_seed"]
