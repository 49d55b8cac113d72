import gc
import time

import numpy as np
import pytest

from conftest import quick_config
from symdescent import hookimpl
from symdescent.errors import PluginError
from symdescent.expr import parse
from symdescent.registry import PluginInfo
from symdescent.roles import Proposer, Refiner
from symdescent.search import Search


def test_recovers_product(product_data):
    X, y = product_data
    r = Search(X, y, variable_names=["m", "v"], config=quick_config(max_iterations=6)).run()
    assert r.best.r2 > 0.999999
    assert r.stop_reason == "max_iterations" and r.iterations == 6
    # the front is sorted by complexity and strictly improving in loss
    ks = [c.complexity for c in r.front]
    losses = [c.loss for c in r.front]
    assert ks == sorted(ks) and all(a > b for a, b in zip(losses, losses[1:]))


def test_same_seed_same_result(product_data):
    X, y = product_data
    a = Search(X, y, config=quick_config()).run()
    b = Search(X, y, config=quick_config()).run()
    assert [c.expression for c in a.front] == [c.expression for c in b.front]
    c = Search(X, y, config=quick_config(seed=1)).run()
    assert [x.expression for x in c.front] != [x.expression for x in a.front]


@pytest.mark.parametrize("budget", [1.0, 3.0])
def test_time_budget_is_honoured(product_data, budget):
    X, y = product_data
    gc.collect()  # a long test session's garbage is not the search's overrun
    t0 = time.monotonic()
    r = Search(X, y, config={"search": {"time_budget": budget}}).run()
    elapsed = time.monotonic() - t0
    assert r.stop_reason == "time_budget"
    assert elapsed <= budget * 1.1 + 0.3  # 10 % (plus start-up for the tiniest budget)


class _Recorder:
    def __init__(self, stop_after=None):
        self.calls = []
        self.stop_after = stop_after

    @hookimpl
    def symdescent_start(self, problem, state):
        self.calls.append("start")

    @hookimpl
    def symdescent_iteration_end(self, problem, state):
        self.calls.append(("iter", state.iteration, len(state.front)))
        assert state.best is not None
        with pytest.raises(AttributeError):
            state.iteration = 99  # frozen snapshot

    @hookimpl
    def symdescent_should_stop(self, problem, state):
        return self.stop_after is not None and state.iteration >= self.stop_after

    @hookimpl
    def symdescent_finish(self, problem, result):
        self.calls.append("finish")


def test_callbacks_observe_and_stop(product_data):
    X, y = product_data
    rec = _Recorder(stop_after=2)
    r = Search(X, y, config=quick_config(max_iterations=10), callbacks=[rec]).run()
    assert r.iterations == 2 and r.stop_reason == "stopped by a plugin"
    assert rec.calls[0] == "start" and rec.calls[-1] == "finish"
    assert [c[1] for c in rec.calls[1:-1]] == [1, 2]


def test_problem_is_read_only(product_data):
    X, y = product_data
    s = Search(X, y, config=quick_config())
    with pytest.raises(ValueError):
        s.problem.X[0, 0] = 1.0
    with pytest.raises(ValueError):
        s.problem.y[0] = 1.0


class _Interrupt:
    @hookimpl
    def symdescent_iteration_end(self, problem, state):
        if state.iteration == 2:
            raise KeyboardInterrupt


def test_ctrl_c_keeps_best(product_data):
    X, y = product_data
    r = Search(X, y, config=quick_config(max_iterations=10), callbacks=[_Interrupt()]).run()
    assert r.interrupted and r.stop_reason == "interrupted"
    assert r.best is not None and r.iterations == 2


class _FixedProposer(Proposer):
    def __init__(self, ctx):
        self.ctx = ctx

    def propose(self, problem, state):
        return [parse("x0 * x1 * x1")]


class _SpyRefiner(Refiner):
    """Records the origins of the candidates it is handed, per instance (no state shared between tests)."""

    def __init__(self, ctx):
        self.seen = []

    def refine(self, problem, candidates, state):
        self.seen.append(tuple(c.origin for c in candidates))
        return []


FIXED = PluginInfo(name="fixed", description="test", proposer=_FixedProposer)
SPY = PluginInfo(name="spy", description="test", refiner=_SpyRefiner)


def test_inline_plugins_and_origins(product_data):
    X, y = product_data
    cfg = {"search": {"time_budget": None, "max_iterations": 2},
           "strategy": {"proposers": ["fixed"], "refiners": ["spy"]}}
    spies = []

    def make_spy(ctx):
        spies.append(_SpyRefiner(ctx))
        return spies[-1]

    spy = PluginInfo(name="spy", description="test", refiner=make_spy)
    r = Search(X, y, config=cfg, plugins=[FIXED, spy]).run()
    assert r.best.origin == "fixed" and r.best.r2 > 0.999999
    assert len(spies) == 1 and spies[0].seen and spies[0].seen[0][0] == "fixed"


def test_unselected_plugins_take_no_part(product_data):
    X, y = product_data
    cfg = {"search": {"time_budget": None, "max_iterations": 2},
           "strategy": {"proposers": ["fixed"], "refiners": []}}
    s = Search(X, y, config=cfg, plugins=[FIXED, SPY])
    assert [(sel.name, sel.role) for sel in s.strategy.all()] == [("fixed", "proposer"), ("mdl", "scorer")]
    assert s.observers.get_plugins() == set()  # no callbacks: the manager holds nothing else


class _Misspelt(Proposer):
    def __init__(self, ctx):
        pass

    def proposee(self, problem, state):
        return []


class _MisspeltCallback:
    @hookimpl
    def symdescent_iteration_ended(self, problem, state):
        pass


def test_misspelt_role_method_fails_loudly(product_data):
    X, y = product_data
    bad = PluginInfo(name="bad", description="test", proposer=_Misspelt)
    with pytest.raises(PluginError, match="plugin 'bad'.*abstract method '?propose"):
        Search(X, y, config={"strategy": {"proposers": ["bad"]}}, plugins=[bad])


def test_misspelt_callback_hook_fails_loudly(product_data):
    X, y = product_data
    with pytest.raises(PluginError, match="unknown hook.*symdescent_iteration_ended"):
        Search(X, y, config=quick_config(), callbacks=[_MisspeltCallback()])


def test_unavailable_plugin_is_reported(product_data):
    X, y = product_data
    off = PluginInfo(name="off", description="test", proposer=_FixedProposer, check=lambda: "needs the moon")
    with pytest.raises(PluginError, match="plugin 'off' is unavailable: needs the moon"):
        Search(X, y, config={"strategy": {"proposers": ["off"]}}, plugins=[off])
