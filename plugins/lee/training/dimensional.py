"""Random dimensionally homogeneous expressions: a prior for LEE's training data.

A law between measured quantities is dimensionally homogeneous: only terms of
the same dimension are added or subtracted, and the arguments of ``exp``,
``log``, ``sin`` ... are dimensionless.  Trees from the plain grammar
(:class:`symdescent.expr.generate.GrammarSampler`) almost never have that
structure, so a model trained on them alone rarely proposes ``x0 - x1`` of two
lengths, ratios inside a function, or square roots of sums of squares.

:class:`DimensionalSampler` gives each variable a random dimension (a vector of
small integer exponents over three base units; variables often share one, some
are dimensionless), draws the dimension of the result, and grows the tree top
down so that every node has a dimension and every operator respects it:

* ``add``/``sub``: both operands of the node's dimension;
* ``mul``/``div``: the dimension split between the operands at random;
* ``square``/``cube``/``sqrt``: the operand's dimension is the node's divided
  or multiplied accordingly;
* ``exp``, ``log``, ``sin``, ``cos``, ``tanh``, ``asin`` and ``pow`` with a
  fitted exponent: only on dimensionless nodes, with dimensionless operands;
* leaves: a variable of the node's dimension; on dimensionless nodes also a
  constant placeholder or a literal.

Everything is drawn at random (dimensions, operators, shapes); no particular
formula is written down here.  Whatever fails to close (a leaf dimension no
variable has) is retried and, in the end, rejected: ``sample_tokens`` returns
``None`` and the caller draws again.
"""

from __future__ import annotations

import bisect
import itertools

import numpy as np

from symdescent.expr import ops

BASE_UNITS = 3
_ZERO = (0,) * BASE_UNITS
#: functions that need a dimensionless argument (also the ones LEE's data nests at most twice)
TRANSCENDENTAL = frozenset({"exp", "log", "sin", "cos", "tan", "tanh", "asin"})
_CHAINS = frozenset({"mul", "div", "add", "sub"})
#: operators that must not apply directly to the given one (they would undo or repeat it)
_NOT_UNDER = {"square": {"sqrt", "neg"}, "sqrt": {"square", "cube"}, "cube": {"neg"}, "neg": {"neg"},
              "exp": {"log"}, "log": {"exp"}}
#: relative weights of the operators a node may take (where its dimension allows them)
DEFAULT_WEIGHTS = {
    "mul": 6.0, "div": 5.0, "add": 3.0, "sub": 3.0, "square": 2.0, "sqrt": 2.0, "cube": 0.5, "neg": 0.5,
    "pow": 0.7, "exp": 1.5, "log": 0.8, "sin": 1.5, "cos": 1.5, "tanh": 0.3, "asin": 0.3,
}


class DimensionalSampler:
    """Sample prefix token lists of dimensionally homogeneous expressions.

    Parameters
    ----------
    weights : mapping of str to float, optional
        Relative operator weights (default :data:`DEFAULT_WEIGHTS`).
    p_dimensionless_var : float
        Probability that a variable's dimension is dimensionless (an angle, a
        count, a ratio).
    p_dimensionless_result : float
        Probability that the whole expression is dimensionless.
    max_calls : int
        Node expansions per attempt before giving up (bounds the retries).

    Examples
    --------
    >>> import numpy as np
    >>> s = DimensionalSampler()
    >>> toks = None
    >>> rng = np.random.default_rng(0)
    >>> while toks is None:
    ...     toks = s.sample_tokens(rng, n_variables=3, n_ops=4)
    >>> sum(ops.arity(t) - 1 for t in toks) == -1   # one complete prefix tree
    True
    """

    def __init__(self, weights: dict | None = None, p_dimensionless_var: float = 0.15,
                 p_dimensionless_result: float = 0.2, max_calls: int = 400):
        w = dict(DEFAULT_WEIGHTS if weights is None else weights)
        self.ops = [o for o in w if w[o] > 0]
        self._weight = {o: float(w[o]) for o in self.ops}
        self.p_dimensionless_var = p_dimensionless_var
        self.p_dimensionless_result = p_dimensionless_result
        self.max_calls = max_calls

    # -- dimensions ------------------------------------------------------------
    def assign_dimensions(self, rng: np.random.Generator, n_variables: int) -> list[tuple[int, ...]]:
        """One dimension per variable: ``k`` distinct ones (1 <= k <= min(n, ceil(n/2) + 1)), shared at random."""
        k = int(rng.integers(1, min(n_variables, (n_variables + 1) // 2 + 1) + 1))
        classes = []
        for _ in range(k):
            if rng.random() < self.p_dimensionless_var:
                classes.append(_ZERO)
                continue
            while True:
                v = tuple(int(e) for e in rng.integers(-1, 2, size=BASE_UNITS))
                if any(v):
                    break
            classes.append(v)
        dims = [classes[int(rng.integers(k))] for _ in range(n_variables)]
        # every class is used at least once where there are enough variables
        for j, c in enumerate(classes[:n_variables]):
            if c not in dims:
                dims[j] = c
        return dims

    def result_dimension(self, rng: np.random.Generator, dims: list[tuple[int, ...]]) -> tuple[int, ...]:
        """The dimension of the whole expression: dimensionless, or a product of one or two variables' powers."""
        if rng.random() < self.p_dimensionless_result:
            return _ZERO
        out = dims[int(rng.integers(len(dims)))]
        if rng.random() < 0.4:
            k, other = (-1, 1, 2)[int(rng.integers(3))], dims[int(rng.integers(len(dims)))]
            out = tuple(a + k * b for a, b in zip(out, other))
        return out

    # -- trees -------------------------------------------------------------------
    def sample_tokens(self, rng: np.random.Generator, n_variables: int, n_ops: int) -> list[str] | None:
        """Prefix tokens of one expression with ``n_ops`` operators, or None if this draw did not close."""
        draw = self.sample(rng, n_variables, n_ops)
        return None if draw is None else draw[0]

    def sample(self, rng: np.random.Generator, n_variables: int, n_ops: int):
        """``(tokens, variable dimensions, result dimension)``, or None if this draw did not close."""
        dims = self.assign_dimensions(rng, n_variables)
        target = self.result_dimension(rng, dims)
        self._dims = dims
        self._by_dim: dict[tuple[int, ...], list[str]] = {}
        for i, d in enumerate(dims):
            self._by_dim.setdefault(d, []).append(f"x{i}")
        self._calls = 0
        self._used: set[str] = set()
        toks = self._grow(rng, target, n_ops, 0, "")  # every chain is checked for cancellation as it is built
        return None if toks is None else (toks, dims, target)

    def _leaf(self, rng: np.random.Generator, dim: tuple[int, ...]) -> list[str] | None:
        options = self._by_dim.get(dim)
        if not any(dim):
            if not options or rng.random() < 0.4:
                u = rng.random()
                return [ops.CONST] if u < 0.75 else [("1", "2", "pi")[int(rng.integers(3))]]
        if not options:
            return None
        fresh = [v for v in options if v not in self._used]
        pick = fresh if fresh and rng.random() < 0.8 else options
        var = pick[int(rng.integers(len(pick)))]
        self._used.add(var)
        return [var]

    def _split_dim(self, rng: np.random.Generator) -> tuple[int, ...]:
        """A dimension to hand to one operand of ``mul``/``div``: a variable's, or none."""
        if rng.random() < 0.15:
            return _ZERO
        return self._dims[int(rng.integers(len(self._dims)))]

    def _grow(self, rng: np.random.Generator, dim: tuple[int, ...], n: int, trans: int,
              parent: str) -> list[str] | None:
        """A subtree of dimension ``dim`` with ``n`` operators; one with operators contains a variable."""
        self._calls += 1
        if self._calls > self.max_calls:
            return None
        if n == 0:
            return self._leaf(rng, dim)
        dimensionless = not any(dim)
        allowed = []
        for o in self.ops:
            if o in TRANSCENDENTAL or o == "pow":
                if not dimensionless or trans >= 1:
                    continue
            elif o == "square" and any(e % 2 for e in dim):
                continue
            elif o == "cube" and any(e % 3 for e in dim):
                continue
            if o in _NOT_UNDER.get(parent, ()) or o == parent and ops.arity(o) == 1:
                continue
            allowed.append(o)
        if not allowed:
            return None
        cum = list(itertools.accumulate(self._weight[o] for o in allowed))
        for _ in range(3):
            o = allowed[min(bisect.bisect_right(cum, rng.random() * cum[-1]), len(allowed) - 1)]
            out = self._expand(rng, o, dim, n, trans)
            if (out is not None and any(ops.is_variable(t) for t in out)
                    and not (o in _CHAINS and cancels(out, deep=False))):
                return out
            if self._calls > self.max_calls:
                return None
        return None

    def _expand(self, rng: np.random.Generator, o: str, dim: tuple[int, ...], n: int, trans: int) -> list[str] | None:
        if o == "pow":  # dimensionless base, fitted exponent
            base = self._grow(rng, dim, n - 1, trans + 1, o)
            return None if base is None else ["pow", *base, ops.CONST]
        if ops.arity(o) == 1:
            if o == "square":
                child = tuple(e // 2 for e in dim)
            elif o == "cube":
                child = tuple(e // 3 for e in dim)
            elif o == "sqrt":
                child = tuple(2 * e for e in dim)
            else:
                child = dim
            inner = self._grow(rng, child, n - 1, trans + (o in TRANSCENDENTAL), o)
            return None if inner is None else [o, *inner]
        left_n = int(rng.integers(0, n))
        right_n = n - 1 - left_n
        if o in ("add", "sub"):
            left_dim, right_dim = dim, dim
        elif o == "mul":
            right_dim = self._split_dim(rng)
            left_dim = tuple(a - b for a, b in zip(dim, right_dim))
        else:  # div: (dim + d) / d
            right_dim = self._split_dim(rng)
            left_dim = tuple(a + b for a, b in zip(dim, right_dim))
        left = self._grow(rng, left_dim, left_n, trans, o)
        if left is None:
            return None
        right = self._grow(rng, right_dim, right_n, trans, o)
        return None if right is None else [o, *left, *right]


def _tree(tokens: list[str] | tuple[str, ...]):
    """Prefix tokens as nested ``(token, children)`` tuples."""
    it = iter(tokens)

    def node():
        t = next(it)
        return (t, tuple(node() for _ in range(ops.arity(t))))

    return node()


def _factors(node, sign: int, out: list) -> None:
    tok, kids = node
    if tok == "mul":
        _factors(kids[0], sign, out)
        _factors(kids[1], sign, out)
    elif tok == "div":
        _factors(kids[0], sign, out)
        _factors(kids[1], -sign, out)
    else:
        out.append((node, sign))


def _terms(node, out: list) -> None:
    tok, kids = node
    if tok in ("add", "sub"):
        _terms(kids[0], out)
        _terms(kids[1], out)
    elif tok == "neg":
        _terms(kids[0], out)
    else:
        out.append(node)


def cancels(tokens, deep: bool = True) -> bool:
    """True when a product/quotient chain has a factor both above and below the line
    (``x1*x0/x1``), or a sum/difference chain repeats a term (``x0 + x1 - x0``):
    forms with an obvious shorter equivalent.  ``deep=False`` checks only the
    chain at the root (the sampler checks each chain as it builds it)."""
    stack = [_tree(tokens)]
    while stack:
        node = stack.pop()
        tok, kids = node
        if tok in ("mul", "div"):
            facs: list = []
            _factors(node, 1, facs)
            seen = {}
            for f, sgn in facs:
                if f[0] != ops.CONST and seen.get(f, sgn) != sgn:
                    return True
                seen[f] = sgn
        elif tok in ("add", "sub"):
            terms: list = []
            _terms(node, terms)
            keys = [t for t in terms if t[0] != ops.CONST]
            if len(keys) != len(set(keys)):
                return True
        if deep:
            stack.extend(kids)
    return False
