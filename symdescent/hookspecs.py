"""The hook specifications: the contract between the orchestrator and plugins.

Every search strategy, built-in or external, is a pluggy plugin object that
implements some of these hooks, marked with :data:`hookimpl`.  One plugin
manager is created per search; only the plugins that the configuration selects
(and callbacks passed explicitly) are registered in it.

What plugins receive is read-only: :class:`~symdescent.types.Problem` holds
read-only arrays, :class:`~symdescent.types.SearchState` and
:class:`~symdescent.types.Candidate` are frozen snapshots.  A plugin keeps its
own state on its instance, never in module globals.

Order of calls in one search::

    symdescent_start
    repeat until the budget is spent or a should_stop answers True:
        symdescent_propose        (every selected proposer)
        symdescent_refine         (every selected refiner)
        symdescent_score          (the selected scorer, once per new candidate)
        symdescent_iteration_end
        symdescent_should_stop
    symdescent_finish
"""

from __future__ import annotations

import pluggy

PROJECT = "symdescent"

hookspec = pluggy.HookspecMarker(PROJECT)
#: Decorate plugin methods with this to implement a hook.
hookimpl = pluggy.HookimplMarker(PROJECT)


@hookspec
def symdescent_start(problem, state):
    """Called once, before the first iteration.

    Who: the orchestrator, on every registered plugin.
    Use it to set up per-search resources (load a model, build a population).
    Returns nothing.  Must not mutate ``problem`` or ``state``.
    """


@hookspec
def symdescent_propose(problem, state):
    """Propose new candidate programs.  1:N — every selected proposer is called.

    Who/when: the orchestrator, once at the start of every iteration.

    Parameters
    ----------
    problem : Problem
        Read-only data (``X``, ``y``, names, allowed operators, complexity
        limit) and ``problem.evaluate(expressions)`` to fit and score
        expressions when the proposer needs feedback.
    state : SearchState
        Frozen snapshot: iteration, time left, the current front and best.

    Returns
    -------
    list of Expression or Candidate, or None
        New candidates.  Their constants are starting values: the orchestrator
        fits them and scores them with the selected scorer.  Returning nothing
        is allowed.  Must not mutate ``problem`` or ``state``.
    """


@hookspec
def symdescent_refine(problem, candidates, state):
    """Improve candidates.  1:N — every selected refiner is called.

    Who/when: the orchestrator, every iteration after proposing.

    Parameters
    ----------
    candidates : tuple of Candidate
        Scored candidates: this iteration's proposals from every proposer,
        followed by the current Pareto front.  Read-only.

    Returns
    -------
    list of Expression or Candidate, or None
        Improved or new candidates; the orchestrator fits and scores them and
        merges them into the front.  A refiner should return before
        ``state.deadline`` (``time.monotonic()`` seconds).
    """


@hookspec(firstresult=True)
def symdescent_score(problem, candidate):
    """Score one fitted candidate.  firstresult — only the selected scorer answers.

    Who/when: the orchestrator, once for every new fitted candidate.

    Parameters
    ----------
    candidate : Candidate
        Fitted (constants set), with ``candidate.score`` holding at least the
        loss (mean squared error on the fitting data), complexity and R².

    Returns
    -------
    Score
        ``value`` is the scalar the final model is chosen by (lower is
        better); an invalid candidate keeps ``valid=False``.  Must be a pure
        function of the problem and the candidate.
    """


@hookspec
def symdescent_iteration_end(problem, state):
    """Called after every iteration with the updated snapshot.

    Who: the orchestrator, on every registered plugin (progress displays,
    logging, pipelines observing the search).  Returns nothing.
    """


@hookspec
def symdescent_should_stop(problem, state):
    """Asked after every iteration: return True to stop the search early.

    1:N — the search stops when any implementation answers True.
    """


@hookspec
def symdescent_finish(problem, result):
    """Called once when the search ends (budget, stop request or Ctrl-C).

    ``result`` is the frozen :class:`~symdescent.types.SearchResult`.
    Release resources here.  Returns nothing.
    """
