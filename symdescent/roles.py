"""The three roles a strategy plays in a search: proposer, refiner, scorer.

A plugin's factories (see :class:`~symdescent.registry.PluginInfo`) build one
object per role the configuration selects; each is an instance of one of the
abstract base classes below.  The search holds them as plain lists and calls
their methods directly, in a fixed order::

    start        every selected role object, proposers, refiners, then the scorer
    repeat until the budget is spent (or a callback's should_stop answers True):
        propose  every selected proposer, in [strategy] order
        refine   every selected refiner, in [strategy] order
        score    the one selected scorer, once per new valid candidate
    finish       every selected role object, in the same order as start

Lifecycle *observers* (progress displays, pipelines, early stopping) are
callbacks: pluggy hooks in :mod:`symdescent.hookspecs`, never roles.  A
callback cannot propose, refine or score, and a role object is asked only for
what its role does: a plugin selected only as the scorer is never asked to
propose.

Everything a role receives is read-only: :class:`~symdescent.types.Problem`
holds read-only arrays, :class:`~symdescent.types.SearchState` and
:class:`~symdescent.types.Candidate` are frozen.  A role object keeps its own
state on its instance; it lives for one search.

Examples
--------
A proposer of a fixed list of formulas:

>>> from symdescent.expr import parse
>>> class Fixed(Proposer):
...     def __init__(self, ctx):
...         self.exprs = [parse("x0 * x1"), parse("sin(x0)")]
...     def propose(self, problem, state):
...         return self.exprs
>>> Fixed(None).propose(None, None)[0].to_infix()
'x0 * x1'
>>> isinstance(Fixed(None), Proposer) and not isinstance(Fixed(None), Refiner)
True
"""

from __future__ import annotations

import abc
from typing import TYPE_CHECKING, ClassVar, Sequence, Union

if TYPE_CHECKING:  # pragma: no cover
    from symdescent.expr import Expression
    from symdescent.types import Candidate, Problem, Score, SearchResult, SearchState

    Proposal = Union["Expression", "Candidate"]


class Role(abc.ABC):
    """What every role object may do besides its role: set up and release.

    Both methods are optional; the defaults do nothing.
    """

    #: ``"proposer"``, ``"refiner"`` or ``"scorer"``.
    role: ClassVar[str] = ""

    def start(self, problem: "Problem", state: "SearchState") -> None:  # noqa: B027 - optional
        """Called once before the first iteration (load a model, build a population)."""

    def finish(self, problem: "Problem", result: "SearchResult") -> None:  # noqa: B027 - optional
        """Called once when the search ends (budget, stop request or Ctrl-C); release resources."""


class Proposer(Role):
    """Makes new candidate programs, once at the start of every iteration."""

    role = "proposer"

    @abc.abstractmethod
    def propose(self, problem: "Problem", state: "SearchState") -> "Sequence[Proposal] | None":
        """New candidates for this iteration.

        Parameters
        ----------
        problem : Problem
            Read-only data (``X``, ``y``, names, allowed operators, complexity
            limit) and ``problem.evaluate(expressions)`` to fit and score
            expressions when the proposer needs feedback.
        state : SearchState
            Frozen snapshot: iteration, deadline, the current front and best.

        Returns
        -------
        list of Expression or Candidate, or None
            Their constants are starting values: the search fits them and
            scores them with the selected scorer.  Nothing is allowed.
        """


class Refiner(Role):
    """Improves candidates, every iteration after the proposers."""

    role = "refiner"

    @abc.abstractmethod
    def refine(self, problem: "Problem", candidates: "tuple[Candidate, ...]",
               state: "SearchState") -> "Sequence[Proposal] | None":
        """Improved or new candidates.

        Parameters
        ----------
        candidates : tuple of Candidate
            Scored: this iteration's proposals from every proposer, followed by
            the current Pareto front.  Read-only.
        state : SearchState
            Return before ``state.deadline`` (``time.monotonic()`` seconds).

        Returns
        -------
        list of Expression or Candidate, or None
            The search fits and scores them and merges them into the front.
        """


class Scorer(Role):
    """Ranks fitted candidates: the accuracy-against-simplicity trade-off."""

    role = "scorer"

    @abc.abstractmethod
    def score(self, problem: "Problem", candidate: "Candidate") -> "Score":
        """The score of one fitted, valid candidate.

        The search calls it once for every new candidate whose constants fitted
        to finite values (invalid ones are never passed: they keep the invalid
        score), with ``candidate.score`` holding the loss (mean squared error
        on the scoring rows), complexity and R².

        Returns
        -------
        Score
            ``value`` is what the final model is chosen by (lower is better);
            keep ``loss`` and ``complexity``; ``valid=False`` rules the
            candidate out.  Must be a pure function of problem and candidate.
        """


#: The base class of each role, by name.
ROLE_CLASSES: dict[str, type[Role]] = {cls.role: cls for cls in (Proposer, Refiner, Scorer)}
