"""The role contracts: only selected roles are built and asked, callbacks only observe,
built-ins need no installation, a plugin name is taken once."""

import warnings

import pytest

from conftest import quick_config
from symdescent import hookimpl
from symdescent import registry as registry_module
from symdescent.errors import PluginError
from symdescent.expr import parse
from symdescent.registry import PluginInfo, Registry
from symdescent.roles import Proposer, Refiner, Scorer
from symdescent.search import Search
from symdescent.types import Score


class _Calls:
    """What the role objects of the tests below were asked, per test."""

    def __init__(self):
        self.log = []


class _ProposingScorer(Scorer):
    """A scorer that could also propose: as the scorer it must only ever score."""

    def __init__(self, ctx, calls):
        self.calls = calls

    def propose(self, problem, state):  # not a Proposer: never to be called
        self.calls.log.append("propose")
        return [parse("x0")]

    def score(self, problem, candidate):
        self.calls.log.append("score")
        s = candidate.score
        return Score(s.loss, s.complexity, s.loss + 0.01 * s.complexity, s.r2, True)


class _ScorerAsProposer(Proposer):
    def __init__(self, ctx, calls):
        self.calls = calls

    def propose(self, problem, state):
        self.calls.log.append("proposer.propose")
        return [parse("x0")]


def _both_roles(calls: _Calls) -> PluginInfo:
    return PluginInfo(name="both", description="test", scorer=lambda ctx: _ProposingScorer(ctx, calls),
                      proposer=lambda ctx: _ScorerAsProposer(ctx, calls))


def test_a_plugin_selected_only_as_scorer_is_never_asked_to_propose(product_data):
    X, y = product_data
    calls = _Calls()
    cfg = quick_config(max_iterations=2)
    cfg["strategy"] = {"proposers": ["random"], "refiners": ["descent"], "scorer": "both"}
    s = Search(X, y, config=cfg, plugins=[_both_roles(calls)])
    assert [sel.role for sel in s.strategy.all() if sel.name == "both"] == ["scorer"]
    r = s.run()
    assert r.best is not None
    assert "score" in calls.log
    assert "propose" not in calls.log and "proposer.propose" not in calls.log


class _ScoreHijacker:
    @hookimpl
    def symdescent_score(self, problem, candidate):
        return Score(0.0, 1, -1e9, 1.0, True)


@pytest.mark.parametrize("hook", ["symdescent_score", "symdescent_propose", "symdescent_refine"])
def test_a_callback_cannot_take_a_role(product_data, hook):
    X, y = product_data

    class Hijacker:
        pass

    setattr(Hijacker, hook, hookimpl(lambda self, **kw: None))
    with pytest.raises(PluginError, match=f"callback Hijacker implements {hook}.*selected in \\[strategy\\]"):
        Search(X, y, config=quick_config(), callbacks=[Hijacker()])


def test_a_callback_cannot_replace_the_scorer(product_data):
    X, y = product_data
    with pytest.raises(PluginError, match="implements symdescent_score"):
        Search(X, y, config=quick_config(), callbacks=[_ScoreHijacker()])


def test_hook_monitoring_sees_the_lifecycle(product_data):
    """Callbacks are called through pluggy, so its tracing sees every lifecycle call."""
    X, y = product_data

    class Quiet:
        @hookimpl
        def symdescent_iteration_end(self, problem, state):
            pass

    s = Search(X, y, config=quick_config(max_iterations=2), callbacks=[Quiet()])
    seen = []
    undo = s.observers.add_hookcall_monitoring(lambda name, impls, kw: seen.append(name), lambda *a: None)
    s.run()
    undo()
    assert seen.count("symdescent_iteration_end") == 2
    assert seen[0] == "symdescent_start" and seen[-1] == "symdescent_finish"


def test_defaults_work_without_installed_entry_points(product_data, monkeypatch):
    """From a source tree on PYTHONPATH no entry point is installed: the built-ins are registered directly."""
    monkeypatch.setattr(registry_module, "entry_points", lambda group: [])
    reg = Registry.discover()
    assert {"random", "descent", "mdl", "r2"} <= set(reg.plugins)
    assert all(reg.sources[n] == "built-in" for n in ("random", "descent", "mdl", "r2"))
    X, y = product_data
    r = Search(X, y, config=quick_config(max_iterations=3)).run()
    assert r.best.r2 > 0.999


def test_a_different_plugin_under_a_taken_name_is_an_error():
    reg = Registry.discover()
    impostor = PluginInfo(name="random", description="another random", proposer=_ScorerAsProposer)
    with pytest.raises(PluginError, match="'random' is registered twice: by built-in and by passed in"):
        reg.add(impostor)
    reg.add(reg.plugins["random"])  # the same plugin again is harmless


class _EntryPoint:
    def __init__(self, name, value, obj):
        self.name, self.value, self.obj = name, value, obj

    def load(self):
        return self.obj


def test_an_entry_point_claiming_a_built_in_name_makes_the_name_unusable(product_data, monkeypatch):
    impostor = PluginInfo(name="mdl", description="shadow", scorer=lambda ctx: _ProposingScorer(ctx, _Calls()))
    monkeypatch.setattr(registry_module, "entry_points",
                        lambda group: [_EntryPoint("mdl", "evil_pkg:MDL", impostor)])
    reg = Registry.discover()
    assert "mdl" in reg.broken and "registered twice" in reg.broken["mdl"]
    X, y = product_data
    with pytest.raises(PluginError, match="plugin 'mdl' cannot be used: plugin name 'mdl' is registered twice"):
        Search(X, y, config=quick_config(), registry=reg)
    rows = {row["name"]: row for row in registry_module.describe(reg)}
    assert not rows["mdl"]["available"] and "evil_pkg:MDL" in rows["mdl"]["reason"]


class _HookStyleProposer:
    """Written for the former hook-based API: still runs, with a DeprecationWarning."""

    def __init__(self, ctx):
        self.started = False

    @hookimpl
    def symdescent_start(self, problem, state):
        self.started = True

    @hookimpl
    def symdescent_propose(self, problem, state):
        return [parse("x0 * x1 * x1")]


def test_hook_style_plugins_keep_working(product_data):
    X, y = product_data
    info = PluginInfo(name="old", description="test", proposer=_HookStyleProposer)
    cfg = quick_config(max_iterations=2)
    cfg["strategy"] = {"proposers": ["old"], "refiners": []}
    with pytest.warns(DeprecationWarning, match="subclass symdescent.roles.Proposer"):
        s = Search(X, y, config=cfg, plugins=[info])
    r = s.run()
    assert s.role("old", "proposer").obj.started
    assert r.best.origin == "old" and r.best.r2 > 0.999999


def test_a_factory_returning_something_else_is_named(product_data):
    X, y = product_data
    info = PluginInfo(name="odd", description="test", refiner=lambda ctx: object())
    cfg = {"strategy": {"proposers": ["random"], "refiners": ["odd"]}}
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with pytest.raises(PluginError, match="plugin 'odd': its refiner factory returned a object, which is not "
                                              "a symdescent.roles.Refiner"):
            Search(X, y, config=cfg, plugins=[info])


def test_roles_run_in_strategy_order_and_finish(product_data):
    X, y = product_data
    log = []

    class Named(Refiner):
        def __init__(self, ctx):
            self.name = ctx.name

        def start(self, problem, state):
            log.append(("start", self.name))

        def refine(self, problem, candidates, state):
            log.append(("refine", self.name))

        def finish(self, problem, result):
            log.append(("finish", self.name))

    plugins = [PluginInfo(name=n, description="test", refiner=Named) for n in ("b", "a")]
    cfg = quick_config(max_iterations=1)
    cfg["strategy"] = {"proposers": ["random"], "refiners": ["b", "a"]}
    Search(X, y, config=cfg, plugins=plugins).run()
    assert log == [("start", "b"), ("start", "a"), ("refine", "b"), ("refine", "a"), ("finish", "b"), ("finish", "a")]
