"""Random expressions from a grammar with size and depth limits.

Trees are grown the way Lample & Charton (2019) sample them: start from one
empty slot and fill a uniformly chosen empty slot with an operator until the
requested number of operators is placed, then fill the remaining slots with
leaves.  This spreads shapes far more evenly than naive recursive growth.
Used by the ``random`` proposer, the GP's mutations and LEE's training data.
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass, field
from typing import Mapping, Sequence

import numpy as np

from symdescent.expr import ops
from symdescent.expr.expression import Expression, tree_depth


def cumulative(p) -> list[float]:
    """The cumulative distribution of probabilities ``p``, for :func:`draw` (as ``rng.choice`` computes it)."""
    if not len(p):
        return []
    cdf = np.cumsum(np.asarray(p, dtype=float))
    return (cdf / cdf[-1]).tolist()


def draw(rng: np.random.Generator, cdf: Sequence[float]) -> int:
    """One index drawn with the probabilities whose :func:`cumulative` distribution is ``cdf``.

    The same draw as ``rng.choice(len(p), p=p)`` (one uniform number, the same index: the random stream is
    unchanged) at a twentieth of its cost, which the search pays for every mutation and operator it samples.

    >>> r1, r2 = np.random.default_rng(1), np.random.default_rng(1)
    >>> p = np.array([0.5, 0.2, 0.3])
    >>> [int(r1.choice(3, p=p)) for _ in range(6)] == [draw(r2, cumulative(p)) for _ in range(6)]
    True
    """
    return bisect.bisect_right(cdf, rng.random())


@dataclass
class GrammarSampler:
    """Sample random expressions over ``n_variables`` variables.

    Parameters
    ----------
    n_variables : int
        Number of columns available (variables ``x0 … x{n-1}``).
    operators : sequence of str, optional
        Allowed operators (default: the whole vocabulary).
    max_size : int
        Maximum node count of a sampled expression.
    max_depth : int
        Maximum tree depth.
    p_unary : float
        Probability that a placed operator is unary.
    p_constant, p_literal : float
        Probabilities that a leaf is a constant placeholder / an integer literal
        or ``pi`` (the rest are variables).
    unary_weights, binary_weights : mapping, optional
        Relative weight of each operator among those of its arity (default: each
        operator's :attr:`~symdescent.expr.ops.Operator.weight` in the table); an
        operator missing here or of weight 0 is never sampled.

    Examples
    --------
    >>> import numpy as np
    >>> s = GrammarSampler(n_variables=2, max_size=9)
    >>> e = s.sample(np.random.default_rng(0))
    >>> e.complexity <= 9
    True
    """

    n_variables: int
    operators: tuple[str, ...] | None = None
    max_size: int = 20
    max_depth: int = 8
    p_unary: float = 0.35
    p_constant: float = 0.2
    p_literal: float = 0.1
    unary_weights: Mapping[str, float] = field(default_factory=lambda: ops.default_weights(1))
    binary_weights: Mapping[str, float] = field(default_factory=lambda: ops.default_weights(2))

    def __post_init__(self) -> None:
        allowed = set(self.operators) if self.operators is not None else set(ops.OPERATORS)
        self._unary = tuple(o for o in ops.UNARY if o in allowed and self.unary_weights.get(o, 0) > 0)
        self._binary = tuple(o for o in ops.BINARY if o in allowed and self.binary_weights.get(o, 0) > 0)
        uw = np.array([self.unary_weights[o] for o in self._unary], dtype=float)
        bw = np.array([self.binary_weights[o] for o in self._binary], dtype=float)
        self._uw = uw / uw.sum() if len(uw) else uw
        self._bw = bw / bw.sum() if len(bw) else bw
        self._ucdf, self._bcdf = cumulative(self._uw), cumulative(self._bw)
        if not self._binary and not self._unary:
            self.max_size = 1
        self._literals = ["1", "2", "3", "pi"]

    # -- operator choice -----------------------------------------------------
    def operator_names(self, arity: int) -> tuple[str, ...]:
        """The operators of ``arity`` (1 or 2) it samples, in vocabulary order; empty when none is allowed.

        >>> GrammarSampler(1, operators=("add", "sin", "mul")).operator_names(2)
        ('add', 'mul')
        """
        return self._unary if arity == 1 else self._binary

    def operator_probabilities(self, arity: int) -> np.ndarray:
        """The probability of each of :meth:`operator_names` ``(arity)`` (a copy; they sum to 1)."""
        return (self._uw if arity == 1 else self._bw).copy()

    def set_operator_weights(self, arity: int, weights) -> None:
        """Sample the operators of ``arity`` with probabilities proportional to ``weights``.

        ``weights`` holds one non-negative number per name of :meth:`operator_names` ``(arity)``, in that
        order, not all zero.

        >>> s = GrammarSampler(1, operators=("add", "mul"))
        >>> s.set_operator_weights(2, [3.0, 1.0])
        >>> s.operator_probabilities(2).tolist()
        [0.75, 0.25]
        """
        w = np.asarray(weights, dtype=float)
        names = self.operator_names(arity)
        if w.shape != (len(names),) or not np.all(np.isfinite(w)) or np.any(w < 0) or not w.sum() > 0:
            raise ValueError(f"need {len(names)} finite non-negative weights, not all zero, for {names}; got {weights!r}")
        if arity == 1:
            self._uw = w / w.sum()
            self._ucdf = cumulative(self._uw)
        else:
            self._bw = w / w.sum()
            self._bcdf = cumulative(self._bw)

    # -- leaves ------------------------------------------------------------
    def leaf(self, rng: np.random.Generator) -> str:
        u = rng.random()
        if u < self.p_constant:
            return ops.CONST
        if u < self.p_constant + self.p_literal:
            return self._literals[rng.integers(len(self._literals))]
        return f"x{rng.integers(self.n_variables)}"

    def exponent(self, rng: np.random.Generator) -> str:
        u = rng.random()
        return ops.CONST if u < 0.6 else ("4" if u < 0.8 else "5")

    def operator(self, rng: np.random.Generator, unary: bool) -> str:
        if unary and self._unary:
            return self._unary[draw(rng, self._ucdf)]
        if self._binary:
            return self._binary[draw(rng, self._bcdf)]
        return self._unary[draw(rng, self._ucdf)]

    # -- trees ---------------------------------------------------------------
    def sample_tokens(self, rng: np.random.Generator, n_ops: int) -> list[str]:
        """A prefix sequence with exactly ``n_ops`` operators (before size checks)."""
        # Nodes are [token, children]; empty slots are None inside children lists.
        root: list = [None]
        slots: list[tuple[list, int]] = [(root, 0)]
        for _ in range(n_ops):
            parent, idx = slots.pop(rng.integers(len(slots)))
            unary = rng.random() < self.p_unary or not self._binary
            tok = self.operator(rng, unary)
            node = [tok, [None] * ops.arity(tok)]
            parent[idx] = node
            if tok == "pow":  # exponents stay simple: a fitted constant or a small integer
                node[1][1] = [self.exponent(rng), []]
                slots.append((node[1], 0))
                continue
            for j in range(ops.arity(tok)):
                slots.append((node[1], j))
        for parent, idx in slots:
            parent[idx] = [self.leaf(rng), []]
        out: list[str] = []
        stack = [root[0]]
        while stack:
            tok, children = stack.pop()
            out.append(tok)
            stack.extend(reversed(children))
        return out

    def sample(self, rng: np.random.Generator, max_size: int | None = None, min_ops: int = 0) -> Expression:
        """Sample one expression within the size and depth limits."""
        max_size = self.max_size if max_size is None else max_size
        max_ops = max(0, (max_size - 1) // 2) if self._binary else max_size - 1
        for _ in range(50):
            n_ops = int(rng.integers(min(min_ops, max_ops), max_ops + 1)) if max_ops > 0 else 0
            toks = self.sample_tokens(rng, n_ops)
            if len(toks) <= max_size and tree_depth(toks) <= self.max_depth:
                consts = rng.normal(0.0, 1.0, toks.count(ops.CONST)).round(3)
                return Expression(tuple(toks), tuple(float(c) if c != 0 else 1.0 for c in consts))
        return Expression((f"x{rng.integers(self.n_variables)}",))
