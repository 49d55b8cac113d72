"""The plugin conformance suite (symdescent.testing) over every built-in plugin.

Third-party plugins run the same suite by subclassing these classes in their
own tests; see docs/plugins.md.
"""

import time

import numpy as np
import pytest

from symdescent.expr import parse
from symdescent.plugins.descent import DESCENT
from symdescent.plugins.linear import LINEAR
from symdescent.plugins.monomial import MONOMIAL
from symdescent.plugins.random import RANDOM
from symdescent.plugins.scorers import MDL, R2
from symdescent.errors import PluginError
from symdescent.registry import PluginInfo
from symdescent.roles import Proposer, Refiner, Scorer
from symdescent.testing import ProposerConformance, RefinerConformance, ScorerConformance
from symdescent.types import Score


class TestRandomProposer(ProposerConformance):
    plugin = RANDOM
    plugin_config = {"samples": 20}


class TestLinearProposer(ProposerConformance):
    plugin = LINEAR


class TestMonomialProposer(ProposerConformance):
    plugin = MONOMIAL
    operators = ProposerConformance.operators + ("pow",)  # the reference law's exponents are not halves


class TestDescentRefiner(RefinerConformance):
    plugin = DESCENT
    plugin_config = {"population_size": 40, "generations_per_iteration": 2}


class TestMdlScorer(ScorerConformance):
    plugin = MDL


class TestR2Scorer(ScorerConformance):
    plugin = R2


# -- the suite itself catches broken plugins ---------------------------------------


class _Breaks:
    """Breaks the contract in the way named by ``how`` (shared by the three broken roles)."""

    def __init__(self, ctx, how):
        self.how = how

    def _out(self, problem, state):
        if self.how == "foreign-variable":
            return [parse("x0 * x5")]
        if self.how == "too-complex":
            return [parse(" + ".join(["x0"] * 20))]
        if self.how == "not-an-expression":
            return ["x0 * x1"]
        if self.how == "mutates-state":
            object.__setattr__(state, "iteration", 99)
        if self.how == "writes-data":
            problem.X.setflags(write=True)
            problem.X[0, 0] = 123.0
        if self.how == "unseeded":
            return [parse("x0 * C").with_constants([np.random.default_rng().normal()])]
        if self.how == "slow":
            time.sleep(0.7)
        return [parse("x0 * x1")]


class _BrokenProposer(_Breaks, Proposer):
    def propose(self, problem, state):
        return self._out(problem, state)


class _BrokenRefiner(_Breaks, Refiner):
    def refine(self, problem, candidates, state):
        return self._out(problem, state)


class _BrokenScorer(_Breaks, Scorer):
    def score(self, problem, candidate):
        s = candidate.score
        if self.how == "backwards":
            return Score(s.loss, s.complexity, -s.loss, s.r2, s.valid)
        if self.how == "drops-loss":
            return Score(0.0, s.complexity, s.loss, s.r2, s.valid)
        return Score(s.loss, s.complexity, s.loss, s.r2, True)


def _broken(how):
    return PluginInfo(name=f"broken-{how}", description="breaks the contract",
                      proposer=lambda ctx: _BrokenProposer(ctx, how), refiner=lambda ctx: _BrokenRefiner(ctx, how),
                      scorer=lambda ctx: _BrokenScorer(ctx, how))


class _ProposerSuite(ProposerConformance):
    pass


class _RefinerSuite(RefinerConformance):
    refine_seconds = 0.1
    time_slack = 0.2


@pytest.mark.parametrize("how, test, message", [
    ("foreign-variable", "test_returns_well_formed_candidates", "reads a variable the problem does not have"),
    ("too-complex", "test_returns_well_formed_candidates", "above problem.max_complexity=12"),
    ("not-an-expression", "test_returns_well_formed_candidates", "expected Expression or Candidate, got str"),
    ("mutates-state", "test_does_not_mutate_problem_or_state", "a snapshot handed to the plugin was modified"),
    ("writes-data", "test_does_not_mutate_problem_or_state", "problem arrays made writeable"),
    ("unseeded", "test_same_seed_same_outputs", "two searches with the same seed got different candidates"),
])
def test_suite_catches_broken_proposers(how, test, message):
    with pytest.raises(AssertionError, match=message):
        getattr(_ProposerSuite(), test)(_broken(how), {})


@pytest.mark.parametrize("how, test, message", [
    ("slow", "test_returns_before_deadline", "refine took .* for a 0.1 s deadline"),
    ("mutates-state", "test_does_not_mutate_problem_state_or_candidates",
     "a snapshot handed to the plugin was modified"),
])
def test_suite_catches_broken_refiners(how, test, message):
    with pytest.raises(AssertionError, match=message):
        getattr(_RefinerSuite(), test)(_broken(how), {})


@pytest.mark.parametrize("how, test, message", [
    ("backwards", "test_ranks_exact_below_poor", "exact model scored"),
    ("drops-loss", "test_returns_score", "the scorer must keep the loss"),
])
def test_suite_catches_broken_scorers(how, test, message):
    with pytest.raises(AssertionError, match=message):
        getattr(ScorerConformance(), test)(_broken(how), {})


class _OnlyAsScorer(_BrokenScorer):
    pass


def test_suite_catches_a_role_object_of_the_wrong_kind():
    info = PluginInfo(name="wrong-kind", description="its proposer factory builds a scorer",
                      proposer=lambda ctx: _BrokenProposer(ctx, "conforming"))
    wrong = PluginInfo(name="wrong-kind", description="its proposer factory builds a scorer",
                       proposer=lambda ctx: _OnlyAsScorer(ctx, "conforming"))
    _ProposerSuite().test_factory_builds_role(info, {})
    with pytest.raises(PluginError, match="not a symdescent.roles.Proposer"):
        _ProposerSuite().test_factory_builds_role(wrong, {})


def test_suite_passes_a_conforming_inline_plugin():
    suite = _ProposerSuite()
    for name in ("test_returns_well_formed_candidates", "test_does_not_mutate_problem_or_state"):
        getattr(suite, name)(_broken("conforming"), {})
