"""LEE is never the reason a fit fails, and proposes only what the search allows (issue 21)."""

import logging

import numpy as np
import pytest

from symdescent.expr import ops
from symdescent.search import Search
from symdescent.types import Problem
from symdescent_lee import vocab
from symdescent_lee.plugin import ProblemView

SMALL = {"first_samples": 32, "samples": 16, "beam_width": 4, "refine_candidates": 2, "refine_samples": 4,
         "refine_iterations": 1, "gradient_steps": 1, "max_points": 64}


class Record:
    """A callback that keeps every candidate the search scored, with its origin."""

    from symdescent.hookspecs import hookimpl

    def __init__(self):
        self.seen = []

    @hookimpl
    def symdescent_iteration_end(self, problem, state):
        self.seen += [c for c in state.last_new if c.origin == "lee"]


def _search(X, y, operators=None, refiners=("lee",), iterations=2, sections=None):
    cfg = {"search": {"time_budget": None, "max_iterations": iterations},
           "strategy": {"proposers": ["lee"], "refiners": list(refiners)}, "plugins": {"lee": SMALL},
           **(sections or {})}
    if operators is not None:
        cfg["search"]["operators"] = list(operators)
    rec = Record()
    s = Search(X, y, config=cfg, callbacks=[rec])
    return s, s.run(), rec


@pytest.mark.parametrize("n_columns", [13, 15])
def test_more_columns_than_the_model_takes_proposes_over_the_relevant_ones(caplog, n_columns):
    rng = np.random.default_rng(0)
    X = rng.uniform(1, 3, size=(300, n_columns))
    last = n_columns - 2
    y = X[:, 2] * X[:, last] ** 2
    with caplog.at_level(logging.WARNING, logger="symdescent.lee"):
        s, result, rec = _search(X, y)
    assert result.best is not None and result.best.valid and result.stop_reason == "max_iterations"
    view = s.role("lee", "proposer").view
    assert len(view.columns) == 10 and {2, last} <= set(view.columns)
    assert rec.seen, "LEE proposed nothing"
    used = {v for c in rec.seen for v in c.expression.variables}
    assert used <= set(view.columns) and {2, last} & used
    assert any("at most 10 variables" in r.getMessage() for r in caplog.records)


def test_constant_columns_are_not_shown_to_the_model():
    rng = np.random.default_rng(1)
    X = np.column_stack([rng.uniform(1, 3, 200), np.full(200, 4.0), rng.uniform(1, 3, 200)])
    s, result, rec = _search(X, X[:, 0] + X[:, 2])
    view = s.role("lee", "proposer").view
    assert view.columns == (0, 2)
    assert rec.seen and all(1 not in c.expression.variables for c in rec.seen)


def test_lee_steps_aside_when_it_cannot_take_the_input(caplog):
    X = np.ones((50, 2))
    y = np.random.default_rng(2).normal(size=50)
    with caplog.at_level(logging.WARNING, logger="symdescent.lee"):
        _, result, rec = _search(X, y, refiners=("lee", "descent"))
    assert result.best is not None and not rec.seen
    assert any("steps aside" in r.getMessage() for r in caplog.records)


@pytest.mark.parametrize("operators", [["add", "mul"], ["mul", "div", "sin"], ["add", "sub", "exp", "log"]])
def test_no_proposal_contains_a_disallowed_operator(operators):
    rng = np.random.default_rng(3)
    X = rng.uniform(1, 3, size=(200, 3))
    _, _, rec = _search(X, X[:, 0] * np.sin(X[:, 1]) + np.exp(X[:, 2]), operators=operators)
    assert rec.seen
    for c in rec.seen:
        assert all(t in operators for t in c.expression.tokens if ops.arity(t)), c.expression.tokens


def test_no_proposal_contains_a_user_operator_or_one_outside_the_set():
    # issue 19: a set holding a user operator (softsign: outside LEE's vocabulary, so never emitted); hot
    # sampling, where the decoder's own choice would wander everywhere but for the mask
    allowed = ["add", "mul", "sin", "softsign"]
    X = np.random.default_rng(0).uniform(-2, 2, size=(200, 2))
    y = X[:, 0] * np.sin(X[:, 1]) + X[:, 0] / (1 + np.abs(X[:, 0]))
    s, _, rec = _search(X, y, operators=allowed, sections={"operators": {"softsign": "x / (1 + abs(x))"}})
    proposer = s.role("lee", "proposer")
    with s.operators.use():
        hot = proposer.rt.sample(proposer.z0, 60, temperature=5.0, rng=np.random.default_rng(1), n_vars=2,
                                 operators=allowed)
        used = {t for e in [c.expression for c in rec.seen] + [p.expression for p in hot]
                for t in e.tokens if ops.arity(t)}
    assert rec.seen and hot and used <= set(allowed) - {"softsign"}, used
    assert "softsign" not in vocab.INDEX and list(s.operators) == ["softsign"]


def test_view_maps_formulas_both_ways():
    X = np.random.default_rng(4).uniform(size=(20, 5))
    X[:, 1] = 2.0
    view = ProblemView.of(Problem(X, X[:, 0], tuple(f"x{i}" for i in range(5)), ("add", "mul"), 30))
    assert view.columns == (0, 2, 3, 4)
    from symdescent.expr import parse

    e = parse("x0 * x3 + x1")  # over the view's columns
    back = view.to_problem(e)
    assert set(back.variables) == {0, 2, 4}
    assert view.to_view(back) == e
    assert view.to_view(parse("x1 + x0")) is None  # column 1 is not in the view


def test_a_15_column_table_fits_to_the_end_with_the_lee_guided_config():
    """The gallery's LEE-guided GP, as a user runs it, on a table with more columns than LEE takes."""
    from pathlib import Path

    from symdescent.estimator import SymbolicRegressor

    config = Path(__file__).resolve().parents[2] / "examples" / "configs" / "lee_descent.toml"
    rng = np.random.default_rng(4)
    X = rng.uniform(1, 3, size=(200, 15))
    y = X[:, 3] * X[:, 13] + X[:, 7]
    rec = Record()
    est = SymbolicRegressor(config=str(config), time_budget=None, max_iterations=2, random_state=0,
                            plugin_options={"lee": SMALL}, callbacks=[rec]).fit(X, y)
    assert est.result_.stop_reason == "max_iterations" and est.result_.best.valid
    assert est.predict(X).shape == (200,) and np.isfinite(est.predict(X)).all()
    assert rec.seen, "LEE proposed nothing"  # it took part, over the columns it selected


@pytest.mark.parametrize("mode", ["strict", "penalty"])
def test_lee_keeps_to_or_prefers_dimensionally_consistent_skeletons(mode):
    """With units declared LEE hands in only consistent formulas (strict) or the consistent ones first (penalty)."""
    rng = np.random.default_rng(5)
    L = rng.uniform(1, 3, 200)
    X = np.c_[L, L**2, rng.uniform(1, 3, 200)]  # a length, a time that equals L**2 as numbers, a mass
    cfg = {"search": {"time_budget": None, "max_iterations": 1, "dimensional": mode},
           "strategy": {"proposers": ["lee"], "refiners": []}, "plugins": {"lee": SMALL},
           "units": {"L": "m", "T": "s", "M": "kg", "A": "m^2"}}
    s = Search(X, L**2, variable_names=["L", "T", "M"], config=cfg, target_name="A")
    proposer = s.role("lee", "proposer")
    proposer.start(s.problem, s.state())
    proposals = proposer.propose(s.problem, s.state())
    violations = [s.problem.dimension_violations(e) for e in proposals]
    assert proposals and s.problem.dimensional == mode
    if mode == "strict":
        assert max(violations) == 0
    else:
        assert violations == sorted(violations, key=lambda v: v > 0) and max(violations) > 0
    plain = Search(X, L**2, config={**cfg, "units": {}})
    assert plain.problem.dimensional == "off" and plain.problem.dimension_violations(proposals[0]) == 0
