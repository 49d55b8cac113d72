"""The plugin conformance suite (symdescent.testing) over every built-in plugin.

Third-party plugins run the same suite by subclassing these classes in their
own tests; see docs/plugins.md.
"""

import time

import numpy as np
import pytest

from symdescent import hookimpl
from symdescent.expr import parse
from symdescent.plugins.descent import DESCENT
from symdescent.plugins.random import RANDOM
from symdescent.plugins.scorers import MDL, R2
from symdescent.registry import PluginInfo
from symdescent.testing import ProposerConformance, RefinerConformance, ScorerConformance
from symdescent.types import Score


class TestRandomProposer(ProposerConformance):
    plugin = RANDOM
    plugin_config = {"samples": 20}


class TestDescentRefiner(RefinerConformance):
    plugin = DESCENT
    plugin_config = {"population_size": 40, "generations_per_iteration": 2}


class TestMdlScorer(ScorerConformance):
    plugin = MDL


class TestR2Scorer(ScorerConformance):
    plugin = R2


# -- the suite itself catches broken plugins ---------------------------------------


class _Broken:
    """A proposer/refiner/scorer that breaks the contract in the way named by ``how``."""

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

    @hookimpl
    def symdescent_propose(self, problem, state):
        return self._out(problem, state)

    @hookimpl
    def symdescent_refine(self, problem, candidates, state):
        return self._out(problem, state)

    @hookimpl
    def symdescent_score(self, problem, candidate):
        s = candidate.score
        if self.how == "backwards":
            return Score(s.loss, s.complexity, -s.loss, s.r2, s.valid)
        return Score(s.loss, s.complexity, s.loss, s.r2, True)  # "accepts-invalid"


def _broken(how):
    make = lambda ctx: _Broken(ctx, how)  # noqa: E731
    return PluginInfo(name=f"broken-{how}", description="breaks the contract",
                      proposer=make, refiner=make, scorer=make)


class _ProposerSuite(ProposerConformance):
    pass


class _RefinerSuite(RefinerConformance):
    refine_seconds = 0.1
    time_slack = 0.2


@pytest.mark.parametrize("how, test", [
    ("foreign-variable", "test_returns_well_formed_candidates"),
    ("too-complex", "test_returns_well_formed_candidates"),
    ("not-an-expression", "test_returns_well_formed_candidates"),
    ("mutates-state", "test_does_not_mutate_problem_or_state"),
    ("writes-data", "test_does_not_mutate_problem_or_state"),
    ("unseeded", "test_same_seed_same_outputs"),
])
def test_suite_catches_broken_proposers(how, test):
    with pytest.raises(AssertionError):
        getattr(_ProposerSuite(), test)(_broken(how), {})


@pytest.mark.parametrize("how, test", [
    ("slow", "test_returns_before_deadline"),
    ("mutates-state", "test_does_not_mutate_problem_state_or_candidates"),
])
def test_suite_catches_broken_refiners(how, test):
    with pytest.raises(AssertionError):
        getattr(_RefinerSuite(), test)(_broken(how), {})


@pytest.mark.parametrize("how, test", [
    ("backwards", "test_ranks_exact_below_poor"),
    ("accepts-invalid", "test_marks_invalid_candidates_invalid"),
])
def test_suite_catches_broken_scorers(how, test):
    args = (float("inf"),) if test == "test_marks_invalid_candidates_invalid" else ()
    with pytest.raises(AssertionError):
        getattr(ScorerConformance(), test)(_broken(how), {}, *args)


def test_suite_passes_a_conforming_inline_plugin():
    suite = _ProposerSuite()
    for name in ("test_returns_well_formed_candidates", "test_does_not_mutate_problem_or_state"):
        getattr(suite, name)(_broken("conforming"), {})
