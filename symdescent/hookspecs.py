"""The lifecycle hooks: how callbacks observe and steer a search.

Callbacks (progress displays, logging, pipelines watching the search, early
stopping) are pluggy plugins that implement some of these hooks, marked with
:data:`hookimpl`; pass them as ``Search(..., callbacks=[...])`` or
``SymbolicRegressor(callbacks=[...])``.  One plugin manager is created per
search and holds the callbacks only.

The strategy itself (proposers, refiners, the scorer) is not made of hooks:
those are role objects (:mod:`symdescent.roles`), selected by ``[strategy]``
and called by the search directly, so a callback cannot propose, refine or
replace the scorer (a callback that implements ``symdescent_propose``,
``symdescent_refine`` or ``symdescent_score`` is refused with a
:class:`~symdescent.errors.PluginError`).

Order of calls in one search::

    symdescent_start              after the role objects' ``start``
    repeat until the budget is spent or a should_stop answers True:
        (the roles propose, refine and score)
        symdescent_iteration_end
        symdescent_should_stop
    symdescent_finish             after the role objects' ``finish``

What a hook receives is read-only: :class:`~symdescent.types.Problem` holds
read-only arrays, :class:`~symdescent.types.SearchState` and
:class:`~symdescent.types.SearchResult` are frozen snapshots.  In an island
search (:mod:`symdescent.islands`) callbacks run in the calling process and see
the global state: the union of the islands' fronts.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import pluggy

if TYPE_CHECKING:  # pragma: no cover
    from symdescent.types import Problem, SearchResult, SearchState

PROJECT = "symdescent"

hookspec = pluggy.HookspecMarker(PROJECT)
#: Decorate callback methods with this to implement a hook.
hookimpl = pluggy.HookimplMarker(PROJECT)

#: Names that were hooks of the strategy before the role objects; a callback
#: implementing one is refused (see :func:`symdescent.registry.build_observers`).
ROLE_HOOKS = {"symdescent_propose": "proposer", "symdescent_refine": "refiner", "symdescent_score": "scorer"}


@hookspec
def symdescent_start(problem: "Problem", state: "SearchState") -> None:
    """Called once, before the first iteration, on every callback.

    Every callback is called (1:N); results are ignored.  Must not mutate
    ``problem`` or ``state``.
    """


@hookspec
def symdescent_iteration_end(problem: "Problem", state: "SearchState") -> None:
    """Called after every iteration with the updated snapshot.

    Every callback is called (1:N), in the calling process; results are
    ignored.  ``state.front`` is the Pareto front so far, ``state.last_new``
    what this iteration's proposers contributed.
    """


@hookspec
def symdescent_should_stop(problem: "Problem", state: "SearchState") -> bool | None:
    """Asked after every iteration: return True to stop the search early.

    Every callback is asked (1:N, not firstresult): the search stops when any
    answer is True; the front found so far is finalised and returned as usual
    (``stop_reason`` "stopped by a plugin").
    """


@hookspec
def symdescent_finish(problem: "Problem", result: "SearchResult") -> None:
    """Called once when the search ends (budget, stop request or Ctrl-C).

    Every callback is called (1:N) with the frozen
    :class:`~symdescent.types.SearchResult`; results are ignored.
    """
