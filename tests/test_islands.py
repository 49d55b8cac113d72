"""Island search on Dask (issue 17, items 1-4): one search on every core and on a cluster."""

from __future__ import annotations

import gc
import os
import signal
import subprocess
import sys
import textwrap
import time

import numpy as np
import pytest

from symdescent.config import config_from_dict
from symdescent.errors import ConfigError
from symdescent.hookspecs import hookimpl
from symdescent.search import Search

distributed = pytest.importorskip("distributed")

X = np.random.default_rng(0).uniform(1, 3, size=(300, 2))
Y = X[:, 0] * X[:, 1] ** 2
ITERATIONS = {"search": {"max_iterations": 4, "time_budget": None, "migration_every": 2}}


@pytest.fixture(scope="module")
def cluster():
    # one cluster for the module: its start-up (about 1 s, plus each worker's imports) is paid once
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as lc:
        yield lc


@pytest.fixture
def client(cluster):
    with distributed.Client(cluster) as c:
        c.wait_for_workers(2, timeout=30)  # a test that kills a worker leaves the nanny restarting it
        yield c


def _keys(front):
    return [(c.expression.key(), c.loss, c.complexity) for c in front]


def test_islands_find_a_known_formula(client):
    result = Search(X, Y, config=ITERATIONS, client=client).run()
    assert result.best.r2 > 0.999999
    assert str(result.best.expression.to_sympy(["x0", "x1"])) == "x0*x1**2"
    assert len(result.islands) == 2 and result.islands_lost == 0
    assert [isl["iterations"] for isl in result.islands] == [4, 4]
    assert len({isl["worker"] for isl in result.islands}) == 2  # one island per worker process
    assert len({isl["seed"] for isl in result.islands}) == 2
    assert result.n_evaluations >= sum(isl["n_evaluations"] for isl in result.islands) > 0
    assert [h["round"] for h in result.history] == [1, 2]  # migration every 2 iterations
    for h in result.history:  # each round's costs: the caller's share, the wait, the islands' time, the traffic
        assert 0 < h["caller_s"] < h["wait_s"] and 0 < h["busy_mean_s"] <= h["busy_max_s"] <= h["wait_s"]
        assert h["bytes_out"] > 2 * 500 and h["bytes_in"] > 0  # two fronts of formulas; migrants (round 1: none)
    assert result.history[1]["bytes_in"] > result.history[0]["bytes_in"]
    assert result.to_dict()["islands_lost"] == 0 and len(result.to_dict()["islands"]) == 2


def test_same_seed_and_iteration_budget_give_identical_fronts(client):
    a = Search(X, Y, config=ITERATIONS, client=client).run()
    b = Search(X, Y, config=ITERATIONS, client=client).run()
    assert _keys(a.front) == _keys(b.front)
    assert [i["n_evaluations"] for i in a.islands] == [i["n_evaluations"] for i in b.islands]
    other = Search(X, Y, config={"search": {**ITERATIONS["search"], "seed": 1}}, client=client).run()
    assert [i["seed"] for i in other.islands] != [i["seed"] for i in a.islands]


def test_islands_fit_the_weighted_rows(client):
    first = np.arange(len(X)) < len(X) // 2
    y = np.where(first, Y, X[:, 0] / X[:, 1])  # half the rows follow another law
    weights = np.where(first, 0.0, 2.0)
    result = Search(X, y, config=ITERATIONS, client=client, sample_weight=weights).run()
    assert len(result.islands) == 2
    assert np.allclose(result.best.expression.evaluate(X[~first]), y[~first], rtol=1e-8)


def test_injected_candidates_reach_the_islands(client):
    from symdescent.expr import parse

    y = X[:, 0] * np.exp(-X[:, 1]) + np.sin(X[:, 0]) * X[:, 1]  # not found by 20 individuals in one generation
    config = {"search": {"max_iterations": 1, "time_budget": None},
              "plugins": {"descent": {"population_size": 20, "generations_per_iteration": 1}}}
    cold = Search(X, y, config=config, client=client).run()
    search = Search(X, y, config=config, client=client)
    search.inject([parse("x0*exp(-x1) + sin(x0)*x1")])  # as a warm start does
    warm = search.run()
    assert cold.best.r2 < 0.9999 and warm.best.r2 > 0.999999


def test_migrants_are_the_best_formulas_an_island_does_not_hold():
    from symdescent.expr import parse
    from symdescent.islands import choose_migrants
    from symdescent.types import Candidate, Score

    def cand(text, value):
        return Candidate(parse(text), "", Score(value, 1, value, 0.0))

    def front(island):  # islands 0-7 each hold x0 and their own 2-3 formulas; island 7 found the best one
        return [cand("x0", 1.0)] + [cand(f"x0 + {island + 10 * k}", 0.5 - 0.01 * island - 0.1 * k)
                                    for k in range(2 + island % 2)]

    fronts = {i: front(i) for i in range(8)}
    moves = choose_migrants(fronts, range(8), 3)
    shuffled = choose_migrants(dict(reversed(list(fronts.items()))), [7, 3, 0, 1, 2, 4, 5, 6], 3)
    assert {i: [m.expression.key() for m in v] for i, v in moves.items()} == \
        {i: [m.expression.key() for m in v] for i, v in shuffled.items()}  # by score and index, not by order
    for i, migrants in moves.items():
        held = {c.expression.key() for c in fronts[i]}
        assert len(migrants) == 3 and not held & {m.expression.key() for m in migrants}
        others = sorted({c.expression.key(): c.value for j in fronts if j != i for c in fronts[j]
                         if c.expression.key() not in held}.values())
        assert [m.value for m in migrants] == others[:3]
    assert choose_migrants(fronts, [0], 0) == {0: []}


class Observer:
    """Sees the global state after every round; optionally does something to the cluster there."""

    def __init__(self, action=None):
        self.states, self.action, self.finished = [], action, None

    @hookimpl
    def symdescent_iteration_end(self, problem, state):
        self.states.append(state)
        if self.action is not None and len(self.states) == 1:
            self.action()

    @hookimpl
    def symdescent_finish(self, problem, result):
        self.finished = result


def test_callbacks_see_the_global_front_after_every_round(client):
    seen = Observer()
    result = Search(X, Y, config=ITERATIONS, callbacks=[seen], client=client).run()
    assert [s.iteration for s in seen.states] == [2, 4]
    assert seen.states[-1].n_evaluations == sum(i["n_evaluations"] for i in result.islands)
    assert seen.finished is result


def test_a_killed_worker_costs_its_island_not_the_search(client):
    workers = sorted(client.scheduler_info()["workers"])

    def kill_second_worker():
        pid = client.run(os.getpid, workers=[workers[1]])[workers[1]]
        os.kill(pid, signal.SIGKILL)

    seen = Observer(kill_second_worker)
    config = {"search": {"max_iterations": 6, "time_budget": None, "migration_every": 2, "restart_islands": False}}
    result = Search(X, Y, config=config, callbacks=[seen], client=client).run()
    assert result.islands_lost == 1 and result.to_dict()["islands_lost"] == 1
    lost = [isl for isl in result.islands if isl["lost"]]
    assert lost[0]["worker"] == workers[1] and lost[0]["iterations"] == 2
    survivor = [isl for isl in result.islands if not isl["lost"]][0]
    assert survivor["iterations"] == 6
    assert any(h.get("islands_lost") == [lost[0]["island"]] for h in result.history)
    assert result.best is not None and result.best.r2 > 0.99
    # every candidate of the front as it stood when the worker died is kept (or bettered) in the result
    for c in seen.states[0].front:
        assert any(f.complexity <= c.complexity and f.loss <= c.loss * (1 + 1e-3) + 1e-12 for f in result.front)


def test_a_lost_island_restarts_on_the_worker_that_replaces_its_own(client):
    from symdescent.islands import island_seed

    workers = sorted(client.scheduler_info()["workers"])

    def wait(condition):
        deadline = time.monotonic() + 60
        while not condition() and time.monotonic() < deadline:
            time.sleep(0.05)

    def restart_started():  # the restarted island's actor: asked for at a round's start, ready at a later one
        return [f for key, f in client.futures.items() if str(key).startswith("symdescent-island-1-1-")]

    def step():
        if len(seen.states) == 1:  # kill island 1's worker and wait until its nanny has replaced it
            pid = client.run(os.getpid, workers=[workers[1]])[workers[1]]
            os.kill(pid, signal.SIGKILL)
            wait(lambda: len(set(client.scheduler_info()["workers"]) - {workers[1]}) == 2)
        if restart_started():  # so that the next round's start adopts it, whatever the machine's load
            wait(lambda: all(f.status != "pending" for f in restart_started()))

    class EveryRound(Observer):
        @hookimpl
        def symdescent_iteration_end(self, problem, state):
            self.states.append(state)
            step()

    seen = EveryRound()
    config = {"search": {"max_iterations": 6, "time_budget": None, "migration_every": 1}}
    result = Search(X, Y, config=config, callbacks=[seen], client=client).run()
    first, second = result.islands
    assert result.islands_lost == 0 and first["restarts"] == 0 and first["worker"] == workers[0]
    assert second["restarts"] == 1 and second["lost"] is None and second["worker"] not in workers
    assert second["seed"] == island_seed(0, 1, restart=1) != island_seed(0, 1)
    assert first["iterations"] == second["iterations"] == 6  # the fresh island ran what the lost one had left
    rounds = [(h.get("islands_lost"), h["islands"]) for h in result.history]
    assert rounds[:4] == [(None, 2), ([1], 1), (None, 1), (None, 2)]  # lost, restarted, adopted
    assert result.best is not None and result.best.r2 > 0.99


def test_sigterm_stops_every_island_and_keeps_the_global_best(client):
    seen = Observer(lambda: os.kill(os.getpid(), signal.SIGTERM))
    t0 = time.monotonic()
    result = Search(X, Y, config={"search": {"time_budget": 60, "iteration_seconds": 0.5,
                                                       "migration_every": 1}}, callbacks=[seen],
                    client=client).run()
    assert time.monotonic() - t0 < 30
    assert result.interrupted and result.stop_reason == "interrupted"
    assert result.best is not None and result.best.valid
    assert signal.getsignal(signal.SIGTERM) is signal.SIG_DFL


def _assert_the_budget_held(result, budget: float, usual_startup: float) -> None:
    """The whole run within the budget + 10 %; the allowance for an overloaded machine, where the islands' start-up
    took more than ``usual_startup`` s: after it, at most a short round, the finish and the shut-down."""
    startup = max(isl["startup_s"] for isl in result.islands)
    if startup < usual_startup:
        assert result.elapsed <= budget * 1.1
    else:
        assert result.elapsed <= max(budget * 1.1, startup + 1.5)
    assert result.best is not None
    if startup < budget / 2:  # time for a whole first iteration (it builds the population), even on a busy machine
        assert all(isl["iterations"] >= 1 for isl in result.islands)


def test_time_budget_holds_with_islands(client):
    gc.collect()
    result = Search(X, Y, config={"search": {"time_budget": 3}}, client=client).run()
    assert result.stop_reason == "time_budget"
    _assert_the_budget_held(result, 3, usual_startup=2.0)  # on a running cluster: the islands' start


def test_estimator_n_jobs_and_client(client):
    from sklearn.base import clone

    from symdescent import SymbolicRegressor

    est = SymbolicRegressor(max_iterations=2, time_budget=None, random_state=0, n_jobs=2, client=client)
    assert est.build_config().search.workers == 2
    assert SymbolicRegressor(n_jobs=-1).build_config().search.workers == "auto"
    assert SymbolicRegressor().build_config().search.workers is None  # the config's: SYMDESCENT_WORKERS, else auto
    est.fit(X, Y)
    assert len(est.result_.islands) == 2 and est.score(X, Y) > 0.99
    assert clone(est).client is client  # a live connection is shared, never deep-copied
    assert "client" not in est.to_dict()["params"]
    with pytest.raises(ValueError, match="n_jobs"):
        SymbolicRegressor(n_jobs=0).fit(X, Y)


def test_a_local_cluster_of_its_own_is_charged_to_the_budget():
    """The whole run is the user's time: the cluster's start-up and shut-down are on the search's clock."""
    search = Search(X, Y, config={"search": {"time_budget": 4, "workers": 2}})
    gc.collect()
    t0 = time.monotonic()
    result = search.run()
    wall = time.monotonic() - t0
    assert result.stop_reason == "time_budget" and [isl["lost"] for isl in result.islands] == [None, None]
    startup = max(isl["startup_s"] for isl in result.islands)
    shutdown = result.islands[0]["shutdown_s"]
    assert 0 < startup < result.elapsed and 0 < shutdown < 1.0  # the heaps frozen: no 4 s wait for the nanny
    _assert_the_budget_held(result, 4, usual_startup=3.0)  # start-up, search, finish and shut-down together
    assert wall - result.elapsed < 0.1  # nothing of the run is left off the clock


def test_several_outputs_share_one_cluster_of_their_own(monkeypatch):
    """A two-output fit on islands opens one local cluster for both outputs (not one each), takes its
    start-up from the first output's budget, and closes it at the end.  The budget is one the start-up fits in:
    a fresh worker's first search needs 2-5 s (imports, the kernels from the cache, the plugins) on a 2-core
    machine, and a start-up longer than the budget is the next test's case."""
    from symdescent import cluster as cl
    from symdescent.estimator import SymbolicRegressor

    opened, closed = [], []
    real_open, real_close = cl.open_client, cl.close_client
    from symdescent import islands

    for module in (cl, islands):  # the fit's own opening and any island search's
        monkeypatch.setattr(module, "open_client", lambda config: opened.append(real_open(config)) or opened[-1])
        monkeypatch.setattr(module, "close_client", lambda client: closed.append(client) or real_close(client))
    t0 = time.monotonic()
    est = SymbolicRegressor(time_budget=8, random_state=0, n_jobs=2).fit(X, np.c_[Y, X[:, 0] + X[:, 1]])
    wall = time.monotonic() - t0
    assert len(opened) == 1 and closed == opened
    assert est.n_outputs_ == 2 and all(m is not None for m in est.best_)
    assert wall < 2 * 8 * 1.1 + 1.0  # the two budgets (the start-up inside the first), the close and the rest


def test_a_start_up_longer_than_the_budget_still_gives_a_model():
    search = Search(X, Y, config={"search": {"time_budget": 0.5, "workers": 2}})
    with pytest.warns(UserWarning, match="start-up took .* of the 0.5 s time budget: they run a single short"):
        result = search.run()
    startup = max(isl["startup_s"] for isl in result.islands)
    assert all(isl["iterations"] <= 1 for isl in result.islands) and result.best is not None  # one short round
    assert startup > 0.5 and result.elapsed < startup + 1.5  # ... (halted if it runs long), the finish, the close


def test_one_worker_imports_no_dask():
    code = textwrap.dedent("""
        import sys
        import numpy as np
        from symdescent import SymbolicRegressor
        X = np.random.default_rng(0).uniform(1, 3, size=(50, 2))
        SymbolicRegressor(max_iterations=1, time_budget=None, n_jobs=1).fit(X, X[:, 0] * X[:, 1])
        print(sorted(m for m in sys.modules if m.split(".")[0] in ("dask", "distributed")))
    """)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True)
    assert out.stdout.strip() == "[]"


def _cores(monkeypatch, n: int) -> None:
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: set(range(n)), raising=False)


def test_the_default_is_one_worker_per_core(monkeypatch):
    from symdescent import SymbolicRegressor
    from symdescent.cli import build_parser
    from symdescent.config import Config, apply_flags
    from symdescent.cluster import local_workers, uses_islands

    monkeypatch.delenv("SYMDESCENT_WORKERS", raising=False)
    _cores(monkeypatch, 6)
    sc = config_from_dict({}).search
    assert sc.workers is None and local_workers(sc.workers) == 6 and uses_islands(sc)
    assert local_workers(SymbolicRegressor().build_config().search.workers) == 6
    args = build_parser().parse_args(["fit", "d.csv", "--target", "y"])
    assert local_workers(apply_flags(Config(), workers=args.workers).search.workers) == 6
    _cores(monkeypatch, 1)  # one core: the single-process loop
    assert local_workers(None) == 1 and not uses_islands(config_from_dict({}).search)


@pytest.mark.parametrize("value", ["all", "-1", "1.5", "2 cores", "\u00b2"])
def test_a_bad_workers_environment_variable_is_a_config_error(monkeypatch, value):
    from symdescent.cluster import local_workers

    monkeypatch.setenv("SYMDESCENT_WORKERS", value)
    with pytest.raises(ConfigError, match=f"SYMDESCENT_WORKERS={value!r}"):
        config_from_dict({})
    with pytest.raises(ConfigError, match="SYMDESCENT_WORKERS"):
        local_workers(None)
    assert config_from_dict({"search": {"workers": 1}}).search.workers == 1  # not read where workers is set


def test_the_environment_variable_sets_the_default_and_an_explicit_setting_beats_it(monkeypatch):
    from symdescent import SymbolicRegressor
    from symdescent.config import Config, apply_flags
    from symdescent.cluster import local_workers, uses_islands

    _cores(monkeypatch, 6)
    for value, expected in (("3", 3), (" 1 ", 1), ("auto", 6), ("0", 6), ("", 6)):
        monkeypatch.setenv("SYMDESCENT_WORKERS", value)
        assert local_workers(config_from_dict({}).search.workers) == expected, value
    monkeypatch.setenv("SYMDESCENT_WORKERS", "3")
    one = config_from_dict({"search": {"workers": 1}}).search
    assert local_workers(one.workers) == 1 and not uses_islands(one)
    assert local_workers(config_from_dict({"search": {"workers": "auto"}}).search.workers) == 6
    assert SymbolicRegressor(n_jobs=2).build_config().search.workers == 2
    assert apply_flags(Config(), workers=1).search.workers == 1  # --workers 1


def test_the_bench_runs_each_fit_in_one_process_unless_its_config_asks(monkeypatch):
    from symdescent import islands
    from symdescent.bench.methods import SymdescentMethod

    monkeypatch.delenv("SYMDESCENT_WORKERS", raising=False)
    _cores(monkeypatch, 4)

    class AskedForIslands(Exception):
        pass

    def refuse(search, client=None):
        raise AskedForIslands(search.config.search.workers)

    monkeypatch.setattr(islands, "run_islands", refuse)
    quick = {"search": {"max_iterations": 1}, "plugins": {"descent": {"population_size": 30}}}
    fitted = SymdescentMethod(config=quick).fit(X, Y, ["x0", "x1"], budget=5, seed=0)
    assert fitted.info["iterations"] == 1
    with pytest.raises(AskedForIslands, match="2"):
        SymdescentMethod(config={**quick, "search": {"workers": 2}}).fit(X, Y, ["x0", "x1"], budget=5, seed=0)


@pytest.mark.parametrize("workers", [-1, "all", 1.5, True])
def test_bad_workers_are_config_errors(workers):
    with pytest.raises(ConfigError, match="search.workers"):
        config_from_dict({"search": {"workers": workers}})


@pytest.mark.parametrize("address", ["", "http://host:8786", "tcp://", "tcp://host:port", "tcp://host:99999",
                                     " tcp://host:8786"])
def test_bad_scheduler_addresses_are_config_errors(address):
    with pytest.raises(ConfigError, match="search.scheduler"):
        config_from_dict({"search": {"scheduler": address}})


def test_good_settings_are_accepted():
    sc = config_from_dict({"search": {"workers": "auto", "scheduler": "tcp://10.0.0.5:8786",
                                      "migration_every": 3, "migration_size": 0}}).search
    assert (sc.workers, sc.scheduler, sc.migration_every, sc.migration_size) == ("auto", "tcp://10.0.0.5:8786", 3, 0)
    for bad in ({"migration_every": 0}, {"migration_size": -1}):
        with pytest.raises(ConfigError):
            config_from_dict({"search": bad})


def test_unreachable_scheduler_is_a_config_error(monkeypatch):
    from symdescent import cluster
    from symdescent.cluster import open_client

    monkeypatch.setattr(cluster, "CONNECT_TIMEOUT", "1s")

    sc = config_from_dict({"search": {"scheduler": "tcp://127.0.0.1:1"}}).search
    with pytest.raises(ConfigError, match="cannot reach the Dask scheduler"):
        open_client(sc)


def test_cli_takes_workers_and_scheduler():
    from symdescent.cli import build_parser

    args = build_parser().parse_args(["fit", "d.csv", "--target", "y", "--workers", "auto",
                                      "--scheduler", "tcp://h:8786"])
    assert (args.workers, args.scheduler) == ("auto", "tcp://h:8786")
    with pytest.raises(SystemExit):
        build_parser().parse_args(["fit", "d.csv", "--target", "y", "--workers", "many"])
