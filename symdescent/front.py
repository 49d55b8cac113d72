"""The accuracy-complexity Pareto front."""

from __future__ import annotations

from typing import Iterable

from symdescent.types import Candidate


class ParetoFront:
    """Keeps, for every complexity, the lowest-loss valid candidate, and exposes
    the non-dominated ones: no other member is both simpler and at least as accurate;
    and the scorer's best (the lowest value seen) even when another member dominates it on the two axes
    (a scorer may describe two models of one size at different lengths: the ``mdl`` scorer's linear code).

    Examples
    --------
    >>> from symdescent.expr import parse
    >>> from symdescent.types import Candidate, Score
    >>> f = ParetoFront()
    >>> _ = f.add(Candidate(parse("x0"), score=Score(1.0, 1, 1.0, 0.5)))
    >>> _ = f.add(Candidate(parse("x0 * x1"), score=Score(0.1, 3, 0.1, 0.9)))
    >>> _ = f.add(Candidate(parse("x0 + x1 + x1"), score=Score(0.5, 5, 0.5, 0.7)))
    >>> [c.complexity for c in f.members()]
    [1, 3]
    """

    def __init__(self, candidates: Iterable[Candidate] = ()):
        self._best: dict[int, Candidate] = {}
        self._champion: Candidate | None = None  # the lowest (value, complexity) offered
        for c in candidates:
            self.add(c)

    def add(self, candidate: Candidate, replaces: Candidate | None = None) -> bool:
        """Offer a candidate; True when it became the best of its complexity.

        ``replaces``: the member it is a polished or rewritten version of; it takes that member's places (the
        scorer's best; the best of its complexity, where it has the same) even when its loss or value is a
        little higher.
        """
        if not candidate.valid:
            return False
        k = candidate.complexity
        old = self._best.get(k)
        champ = self._champion
        if (champ is None or (candidate.value, k) < (champ.value, champ.complexity)
                or (replaces is not None and champ is replaces)):
            self._champion = candidate
        if (old is None or (replaces is not None and old is replaces) or candidate.loss < old.loss
                or (candidate.loss == old.loss and candidate.value < old.value)):
            self._best[k] = candidate
            return True
        return False

    def update(self, candidates: Iterable[Candidate]) -> int:
        return sum(self.add(c) for c in candidates)

    def members(self) -> tuple[Candidate, ...]:
        """Non-dominated candidates, by increasing complexity (and decreasing loss)."""
        out = []
        best_loss = float("inf")
        champ = self._champion
        for k in sorted(self._best):
            c = self._best[k]
            if champ is not None and champ.complexity == k and champ is not c:
                out.append(champ)  # dominated on loss and complexity, kept as the scorer's best
            if c.loss < best_loss:
                out.append(c)
                best_loss = c.loss
            elif c is champ:
                out.append(c)
        return tuple(out)

    def best(self) -> Candidate | None:
        """The member with the lowest scorer value (ties: the simpler one)."""
        members = self.members()
        if not members:
            return None
        return min(members, key=lambda c: (c.value, c.complexity))

    def __len__(self) -> int:
        return len(self.members())
