"""Conformance tests for plugin authors: subclass one per role your plugin plays.

Each class below is a plain pytest class whose ``test_*`` methods check the
contracts of :mod:`symdescent.roles` for one role, on small data with
tiny budgets (a few seconds per class).  Name the plugin under test with the
``plugin`` attribute (and its ``[plugins.NAME]`` section with
``plugin_config``), or override the ``plugin_info`` / ``plugin_section``
fixtures, for example to parametrize them.  A plugin that reports itself
unavailable here (its ``check``) is skipped with its reason.

In the plugin's own test folder::

    from symdescent.testing import ProposerConformance, RefinerConformance
    from my_package.plugin import PLUGIN

    class TestMyProposer(ProposerConformance):
        plugin = PLUGIN
        plugin_config = {"samples": 16}

    class TestMyRefiner(RefinerConformance):
        plugin = PLUGIN
        time_budget = 3.0          # seconds of the time-budgeted run

What is checked
---------------
every role
    the config section parses into the plugin's frozen config dataclass,
    unknown keys are errors, the role's factory builds an instance of the
    role's base class (:class:`~symdescent.roles.Proposer`, ...), and only
    the selected role is built.
proposers and refiners
    returns are ``None`` or a list of :class:`~symdescent.expr.Expression` /
    :class:`~symdescent.types.Candidate`, each a valid prefix tree over the
    problem's variables (and, when the plugin claims to, within
    ``problem.max_complexity`` and the allowed operators); ``problem`` (its
    arrays stay equal and read-only), ``state`` and the candidates handed in
    are unchanged after the call; two searches with the same seed and an
    iteration budget give the same front; a time-budgeted search ends within
    10 % of its budget (plus ``time_slack`` seconds); a refiner returns within
    10 % of the iteration deadline it is given and copes with no candidates.
scorers
    a :class:`~symdescent.types.Score` keeping the loss and complexity, whose
    value ranks the exact model below a poor one; invalid candidates stay
    invalid through the search (the scorer is never asked about them);
    scoring is pure (same answer twice, nothing mutated).

This module imports pytest; import it from tests only.
"""

from __future__ import annotations

import copy
import dataclasses
import gc
import math
import time
from typing import Any, Mapping

import numpy as np
import pytest

from symdescent.config import plugin_config as _parse_section
from symdescent.errors import ConfigError
from symdescent.expr import Expression, ops, parse
from symdescent.expr.expression import validate_prefix
from symdescent.registry import PluginInfo
from symdescent.roles import ROLE_CLASSES, Proposer, Role
from symdescent.search import Search
from symdescent.types import Candidate, Problem, Score, SearchResult

#: The reference data: ``y = x0 * x1 + sin(x0)``.
TRUTH = "x0 * x1 + sin(x0)"
SEED_EXPRESSIONS = ("x0", "x1", "x0 * x1", "x0 + x1", "sin(x0) * C", "x0 * x1 + C")


class _SeedProposer(Proposer):
    """Proposes the same few simple expressions every iteration: material for
    refiners and scorers under test that does not depend on another plugin."""

    def __init__(self, ctx):
        self.exprs = [parse(s) for s in SEED_EXPRESSIONS]

    def propose(self, problem, state):
        return list(self.exprs)


SEEDS = PluginInfo(name="conformance-seeds", description="fixed seed expressions (symdescent.testing)",
                   proposer=_SeedProposer)


def reference_data(n: int = 60, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """``n`` rows of two variables in [0.5, 2.5] and ``y`` from :data:`TRUTH`."""
    X = np.random.default_rng(seed).uniform(0.5, 2.5, size=(n, 2))
    return X, X[:, 0] * X[:, 1] + np.sin(X[:, 0])


def fingerprint(result: SearchResult) -> dict:
    """What two runs with the same seed must agree on (everything but timings)."""
    return {
        "front": [(c.expression.key(), c.origin, c.loss, c.value) for c in result.front],
        "iterations": result.iterations,
        "n_evaluations": result.n_evaluations,
        "history": [{k: v for k, v in h.items() if k != "elapsed"} for h in result.history],
    }


class _Conformance:
    """Shared fixtures and checks; subclass a role's class, not this one."""

    role: str = ""
    #: The plugin under test.
    plugin: PluginInfo | None = None
    #: Its ``[plugins.NAME]`` section.
    plugin_config: Mapping[str, Any] = {}
    #: The reference problem: operators allowed, complexity limit, rows.
    operators: tuple[str, ...] = ("add", "sub", "mul", "div", "sin", "square")
    max_complexity: int = 12
    n_samples: int = 60
    #: Iterations of the runs compared for determinism.
    max_iterations: int = 2
    #: Seconds of the time-budgeted run, and the start-up allowance beyond its 10 %.
    time_budget: float = 1.5
    time_slack: float = 0.3
    #: Claims checked on every returned candidate (set False if your plugin
    #: deliberately leaves these to the orchestrator, which marks such
    #: candidates invalid).
    respects_max_complexity: bool = True
    respects_operators: bool = True

    # -- fixtures ---------------------------------------------------------------
    @pytest.fixture
    def plugin_info(self) -> PluginInfo:
        if not isinstance(self.plugin, PluginInfo):
            pytest.fail(f"{type(self).__name__} must set `plugin = <your PluginInfo>` "
                        "(or override the plugin_info fixture)")
        return self.plugin

    @pytest.fixture
    def plugin_section(self) -> dict:
        return dict(self.plugin_config)

    @pytest.fixture(autouse=True)
    def _skip_unavailable(self, plugin_info, plugin_section):
        parsed = _parse_section(plugin_info.config, plugin_section, plugin_info.name)
        reason = plugin_info.unavailable_reason(parsed)
        if reason:
            pytest.skip(f"plugin {plugin_info.name!r} is unavailable here: {reason}")

    # -- helpers ------------------------------------------------------------------
    def strategy(self, info: PluginInfo) -> dict:
        raise NotImplementedError

    def make_search(self, info: PluginInfo, section: Mapping[str, Any], callbacks=(), **search) -> Search:
        """A search over the reference data with ``info`` in its role."""
        settings = {"seed": 0, "time_budget": None, "max_iterations": self.max_iterations,
                    "max_complexity": self.max_complexity, "operators": list(self.operators), "simplify": False,
                    "workers": 1}  # the checks look at the role objects, so they must run in this process
        settings.update(search)
        config = {"search": settings, "strategy": self.strategy(info),
                  "plugins": {info.name: dict(section)} if section else {}}
        X, y = reference_data(self.n_samples)
        return Search(X, y, config=config, plugins=[info, SEEDS], callbacks=callbacks)

    def role_object(self, search: Search, info: PluginInfo) -> Role:
        """The object the plugin under test plays in ``search``, in this class's role."""
        return search.role(info.name, self.role)

    def check_returned(self, problem: Problem, out) -> list[Expression]:
        """Assert a proposer/refiner return is well formed; return its expressions."""
        if out is None:
            return []
        assert isinstance(out, (list, tuple)), f"expected a list of candidates, got {type(out).__name__}"
        exprs = []
        for item in out:
            assert isinstance(item, (Expression, Candidate)), \
                f"expected Expression or Candidate, got {type(item).__name__}"
            expr = item.expression if isinstance(item, Candidate) else item
            assert isinstance(expr, Expression)
            validate_prefix(expr.tokens)
            assert len(expr.constants) == expr.tokens.count(ops.CONST)
            assert all(math.isfinite(c) for c in expr.constants), f"non-finite constant in {expr}"
            assert all(v < problem.n_features for v in expr.variables), \
                f"{expr} reads a variable the problem does not have ({problem.n_features} columns)"
            if self.respects_max_complexity:
                assert expr.complexity <= problem.max_complexity, \
                    f"{expr} has {expr.complexity} nodes, above problem.max_complexity={problem.max_complexity}"
            if self.respects_operators:
                bad = {t for t in expr.tokens if ops.arity(t) and t not in problem.operators}
                assert not bad, f"{expr} uses operators the problem does not allow: {sorted(bad)}"
            exprs.append(expr)
        return exprs

    @staticmethod
    def snapshot(problem: Problem, *objects) -> tuple:
        return (problem.X.copy(), problem.y.copy(), problem.variable_names, problem.operators,
                problem.max_complexity, problem.seed, copy.deepcopy(objects))

    @staticmethod
    def assert_unchanged(problem: Problem, before: tuple, *objects) -> None:
        X, y, names, operators, max_complexity, seed, objs = before
        assert not problem.X.flags.writeable and not problem.y.flags.writeable, "problem arrays made writeable"
        np.testing.assert_array_equal(problem.X, X, err_msg="problem.X was modified")
        np.testing.assert_array_equal(problem.y, y, err_msg="problem.y was modified")
        assert (problem.variable_names, problem.operators, problem.max_complexity, problem.seed) == \
            (names, operators, max_complexity, seed), "problem fields were modified"
        assert objs == objects, "a snapshot handed to the plugin was modified"

    # -- tests for every role -------------------------------------------------------
    def test_config_section(self, plugin_info, plugin_section):
        name, cls = plugin_info.name, plugin_info.config
        if cls is None:
            assert not plugin_section, "a plugin without a config class takes no settings"
            return
        assert dataclasses.is_dataclass(cls) and cls.__dataclass_params__.frozen, \
            "the config class should be a frozen dataclass"
        cls()  # every setting has a default
        parsed = _parse_section(cls, plugin_section, name)
        assert isinstance(parsed, cls)
        with pytest.raises(ConfigError):
            _parse_section(cls, {**plugin_section, "no_such_setting_xyz": 1}, name)

    def test_factory_builds_role(self, plugin_info, plugin_section):
        assert callable(getattr(plugin_info, self.role)), f"plugin {plugin_info.name!r} provides no {self.role}"
        search = self.make_search(plugin_info, plugin_section)
        base = ROLE_CLASSES[self.role]
        assert isinstance(self.role_object(search, plugin_info), base), \
            f"the {self.role} of plugin {plugin_info.name!r} is not a symdescent.roles.{base.__name__}"
        built = [sel.role for sel in search.strategy.all() if sel.name == plugin_info.name]
        assert built == [self.role], f"plugin {plugin_info.name!r} was built as {built}; only {self.role} was selected"


class _SearchRoleConformance(_Conformance):
    """Checks shared by proposers and refiners: they run inside the loop."""

    def call_role(self, search: Search, info: PluginInfo, state):
        """One direct call of the role's hook with ``state``."""
        raise NotImplementedError

    def raw_outputs(self, info: PluginInfo, section) -> list:
        """What the plugin returns in two direct calls (no deadline: an
        iteration-bounded search), as exact keys."""
        search = self.make_search(info, section)
        search.start()
        calls = []
        try:
            for _ in range(2):
                exprs = self.check_returned(search.problem, self.call_role(search, info, search.state()))
                calls.append([e.key() for e in exprs])
                search.front.update(search.evaluator(exprs, info.name))
        finally:
            search.close()
        return calls

    def test_same_seed_same_outputs(self, plugin_info, plugin_section):
        assert self.raw_outputs(plugin_info, plugin_section) == self.raw_outputs(plugin_info, plugin_section), \
            "two searches with the same seed got different candidates from the plugin"
        a = self.make_search(plugin_info, plugin_section).run()
        b = self.make_search(plugin_info, plugin_section).run()
        assert a.best is not None, "an iteration-bounded search found nothing valid"
        assert fingerprint(a) == fingerprint(b), "two searches with the same seed differ"

    def test_honours_time_budget(self, plugin_info, plugin_section):
        search = self.make_search(plugin_info, plugin_section, time_budget=self.time_budget, max_iterations=None)
        gc.collect()  # the test process's own garbage (a long test session's) is not the plugin's overrun
        t0 = time.monotonic()
        result = search.run()
        elapsed = time.monotonic() - t0
        assert result.stop_reason in ("time_budget", "stopped by a plugin"), result.stop_reason
        limit = self.time_budget * 1.1 + self.time_slack
        assert elapsed <= limit, f"a {self.time_budget} s search took {elapsed:.2f} s (limit {limit:.2f} s)"


class ProposerConformance(_SearchRoleConformance):
    """Conformance of a plugin's proposer (:class:`~symdescent.roles.Proposer`).

    Attributes
    ----------
    proposes_something : bool
        Whether at least one candidate must come back from the first calls.
    """

    role = "proposer"
    proposes_something: bool = True
    #: Deadline given to the direct calls (seconds from the call).
    call_seconds: float = 1.0

    def strategy(self, info):
        return {"proposers": [info.name], "refiners": [], "scorer": "mdl"}

    def call_role(self, search, info, state):
        return self.role_object(search, info).propose(search.problem, state)

    def _propose(self, search, info):
        return self.call_role(search, info, search.state(time.monotonic() + self.call_seconds))

    def test_returns_well_formed_candidates(self, plugin_info, plugin_section):
        search = self.make_search(plugin_info, plugin_section)
        search.start()
        try:
            got = self.check_returned(search.problem, self._propose(search, plugin_info))
            search.front.update(search.evaluator(got, plugin_info.name))
            got += self.check_returned(search.problem, self._propose(search, plugin_info))
        finally:
            search.close()
        if self.proposes_something:
            assert got, "the proposer returned nothing in two calls"

    def test_does_not_mutate_problem_or_state(self, plugin_info, plugin_section):
        search = self.make_search(plugin_info, plugin_section)
        search.start()
        try:
            search.front.update(search.evaluator([parse(s) for s in SEED_EXPRESSIONS], "seed"))
            state = search.state(time.monotonic() + self.call_seconds)
            before = self.snapshot(search.problem, state)
            self.role_object(search, plugin_info).propose(search.problem, state)
            self.assert_unchanged(search.problem, before, state)
        finally:
            search.close()


class RefinerConformance(_SearchRoleConformance):
    """Conformance of a plugin's refiner (:class:`~symdescent.roles.Refiner`).

    Searches pair the refiner with a proposer of a few fixed simple
    expressions (:data:`SEED_EXPRESSIONS`).

    Attributes
    ----------
    refine_seconds : float
        The iteration deadline given to a direct call, in seconds from the call.
    """

    role = "refiner"
    refine_seconds: float = 0.5

    def strategy(self, info):
        return {"proposers": [SEEDS.name], "refiners": [info.name], "scorer": "mdl"}

    def _pool(self, search) -> tuple[Candidate, ...]:
        seeds = search.evaluator([parse(s) for s in SEED_EXPRESSIONS], "seed")
        search.front.update(seeds)
        return tuple(c for c in seeds if c.valid) + tuple(c for c in search.front.members() if c not in seeds)

    def call_role(self, search, info, state):
        return self.role_object(search, info).refine(search.problem, self._pool(search), state)

    def _refine(self, search, info, candidates):
        state = search.state(time.monotonic() + self.refine_seconds)
        t0 = time.monotonic()
        out = self.role_object(search, info).refine(search.problem, candidates, state)
        return out, time.monotonic() - t0

    def test_returns_well_formed_candidates(self, plugin_info, plugin_section):
        search = self.make_search(plugin_info, plugin_section)
        search.start()
        try:
            out, _ = self._refine(search, plugin_info, self._pool(search))
            self.check_returned(search.problem, out)
        finally:
            search.close()

    def test_copes_with_no_candidates(self, plugin_info, plugin_section):
        search = self.make_search(plugin_info, plugin_section)
        search.start()
        try:
            out, _ = self._refine(search, plugin_info, ())
            self.check_returned(search.problem, out)
        finally:
            search.close()

    def test_returns_before_deadline(self, plugin_info, plugin_section):
        search = self.make_search(plugin_info, plugin_section)
        search.start()
        try:
            _, elapsed = self._refine(search, plugin_info, self._pool(search))
        finally:
            search.close()
        limit = self.refine_seconds * 1.1 + self.time_slack
        assert elapsed <= limit, f"refine took {elapsed:.2f} s for a {self.refine_seconds} s deadline"

    def test_does_not_mutate_problem_state_or_candidates(self, plugin_info, plugin_section):
        search = self.make_search(plugin_info, plugin_section)
        search.start()
        try:
            pool = self._pool(search)
            state = search.state(time.monotonic() + self.refine_seconds)
            before = self.snapshot(search.problem, state, pool)
            self.role_object(search, plugin_info).refine(search.problem, pool, state)
            self.assert_unchanged(search.problem, before, state, pool)
        finally:
            search.close()


class ScorerConformance(_Conformance):
    """Conformance of a plugin's scorer (:class:`~symdescent.roles.Scorer`).

    The scorer is called directly with fitted candidates whose preliminary
    score holds the loss (mean squared error), complexity and R², as the
    orchestrator calls it.
    """

    role = "scorer"

    def strategy(self, info):
        return {"proposers": [SEEDS.name], "refiners": [], "scorer": info.name}

    def fitted(self, search: Search, text: str) -> Candidate:
        """``text`` with constants fitted, carrying the orchestrator's preliminary score."""
        expr, mse, valid = search.evaluator.fit(parse(text))
        r2 = 1.0 - mse / search.evaluator.var_y
        return Candidate(expr, "conformance", Score(mse, expr.complexity, mse, r2, valid))

    def score(self, search, info, candidate):
        return self.role_object(search, info).score(search.problem, candidate)

    def test_returns_score(self, plugin_info, plugin_section):
        search = self.make_search(plugin_info, plugin_section)
        for text in (TRUTH, "x0 * x1", "x1"):
            cand = self.fitted(search, text)
            s = self.score(search, plugin_info, cand)
            assert isinstance(s, Score), f"expected a Score, got {type(s).__name__}"
            assert s.valid and math.isfinite(s.value), f"{text}: a valid candidate scored {s}"
            assert s.complexity == cand.complexity
            assert s.loss == pytest.approx(cand.score.loss), "the scorer must keep the loss (MSE)"

    def test_ranks_exact_below_poor(self, plugin_info, plugin_section):
        search = self.make_search(plugin_info, plugin_section)
        exact = self.score(search, plugin_info, self.fitted(search, TRUTH))
        poor = self.score(search, plugin_info, self.fitted(search, "x1"))
        assert exact.value < poor.value, f"exact model scored {exact.value}, a poor one {poor.value}"
        # and through the orchestrator, which ranks by the same values:
        a, b = search.problem.evaluate([parse(TRUTH), parse("x1")])
        assert a.value < b.value

    def test_marks_invalid_candidates_invalid(self, plugin_info, plugin_section):
        search = self.make_search(plugin_info, plugin_section)
        (through,) = search.problem.evaluate([parse("x0 / (x1 - x1)")])
        assert not through.valid and not math.isfinite(through.value), f"an invalid candidate scored {through}"

    def test_is_pure(self, plugin_info, plugin_section):
        search = self.make_search(plugin_info, plugin_section)
        cand = self.fitted(search, "x0 * x1")
        before = self.snapshot(search.problem, cand)
        first = self.score(search, plugin_info, cand)
        second = self.score(search, plugin_info, cand)
        assert first == second, "scoring the same candidate twice gave different scores"
        self.assert_unchanged(search.problem, before, cand)

    def test_same_seed_same_outputs(self, plugin_info, plugin_section):
        a = self.make_search(plugin_info, plugin_section).run()
        b = self.make_search(plugin_info, plugin_section).run()
        assert a.best is not None
        assert fingerprint(a) == fingerprint(b)


__all__ = ["ProposerConformance", "RefinerConformance", "ScorerConformance", "SEEDS", "SEED_EXPRESSIONS",
           "TRUTH", "reference_data", "fingerprint"]
