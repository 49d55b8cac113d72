"""Variation operators on prefix expressions, and canonical forms.

The genetic-programming refiner and LEE's training corruption share these:
point, subtree, hoist, insert and shrink mutations, subtree crossover, the
folding of variable-free subtrees into one constant, and a canonical key
(commutative operands sorted, constant values abstracted) for deduplication.
"""

from __future__ import annotations

from itertools import repeat

import numpy as np

from symdescent.expr import ops
from symdescent.expr.evaluate import evaluate_tokens
from symdescent.expr.expression import Expression, apply, const
from symdescent.expr.generate import GrammarSampler, cumulative, draw

MUTATIONS = ("point", "subtree", "hoist", "insert", "shrink")
#: how often :func:`mutate` picks each of :data:`MUTATIONS` by default
MUTATION_WEIGHTS = (0.3, 0.25, 0.1, 0.2, 0.15)
_MUTATION_CDF = cumulative(np.asarray(MUTATION_WEIGHTS) / np.sum(MUTATION_WEIGHTS))


def _random_node(expr: Expression, rng: np.random.Generator, internal_bias: float = 0.7) -> int:
    """Pick a node index; internal nodes are preferred (Koza's 90/10 rule, softened)."""
    arity = ops.arities().get
    internal = [i for i, t in enumerate(expr.tokens) if arity(t, 0) > 0]
    if internal and rng.random() < internal_bias:
        return internal[rng.integers(len(internal))]
    return int(rng.integers(expr.complexity))


def point_mutation(expr: Expression, sampler: GrammarSampler, rng: np.random.Generator) -> Expression:
    """Replace one node by another of the same arity."""
    i = int(rng.integers(expr.complexity))
    tok = expr.tokens[i]
    a = ops.arity(tok)
    if a == 0:
        new = Expression((sampler.leaf(rng),))
        if new.tokens[0] == ops.CONST:
            new = const(float(rng.normal()))
        return expr.replace(i, new)
    new_tok = sampler.operator(rng, unary=(a == 1))
    if ops.arity(new_tok) != a:
        return expr
    tokens = expr.tokens[:i] + (new_tok,) + expr.tokens[i + 1 :]
    return Expression(tokens, expr.constants)


def subtree_mutation(expr: Expression, sampler: GrammarSampler, rng: np.random.Generator, max_new: int = 7) -> Expression:
    """Replace a random subtree by a freshly sampled one."""
    i = _random_node(expr, rng)
    return expr.replace(i, sampler.sample(rng, max_size=max_new))


def hoist_mutation(expr: Expression, sampler: GrammarSampler, rng: np.random.Generator) -> Expression:
    """Replace the whole expression by one of its proper subtrees (fights bloat)."""
    if expr.complexity == 1:
        return expr
    i = int(rng.integers(1, expr.complexity))
    return expr.subtree(i)


def insert_mutation(expr: Expression, sampler: GrammarSampler, rng: np.random.Generator) -> Expression:
    """Wrap a subtree in a new operator (unary, or binary with a fresh leaf)."""
    i = _random_node(expr, rng, internal_bias=0.3)
    sub = expr.subtree(i)
    if rng.random() < 0.5 and sampler.operator_names(1):
        new = apply(sampler.operator(rng, unary=True), sub)
    else:
        op = sampler.operator(rng, unary=False)
        if ops.arity(op) != 2:
            return expr
        leaf = Expression((sampler.leaf(rng),))
        new = apply(op, sub, leaf) if rng.random() < 0.5 else apply(op, leaf, sub)
    return expr.replace(i, new)


def shrink_mutation(expr: Expression, sampler: GrammarSampler, rng: np.random.Generator) -> Expression:
    """Replace an operator node by one of its children."""
    internal = [i for i, t in enumerate(expr.tokens) if ops.arity(t) > 0]
    if not internal:
        return expr
    i = internal[rng.integers(len(internal))]
    child = i + 1
    if ops.arity(expr.tokens[i]) == 2 and rng.random() < 0.5:
        child = expr.subtree_end(i + 1)
    return expr.replace(i, expr.subtree(child))


_MUTATORS = {
    "point": point_mutation,
    "subtree": subtree_mutation,
    "hoist": hoist_mutation,
    "insert": insert_mutation,
    "shrink": shrink_mutation,
}


def mutate(expr: Expression, sampler: GrammarSampler, rng: np.random.Generator, kind: str | None = None,
           weights=MUTATION_WEIGHTS) -> Expression:
    """Apply one mutation (chosen at random unless ``kind`` is given)."""
    if kind is None:
        cdf = _MUTATION_CDF if weights == MUTATION_WEIGHTS else cumulative(np.asarray(weights) / np.sum(weights))
        kind = MUTATIONS[draw(rng, cdf)]
    return _MUTATORS[kind](expr, sampler, rng)


def crossover(a: Expression, b: Expression, rng: np.random.Generator) -> Expression:
    """Subtree crossover: a random subtree of ``a`` replaced by one of ``b``."""
    i = _random_node(a, rng)
    j = _random_node(b, rng)
    return a.replace(i, b.subtree(j))


#: the leaves without a variable: a placeholder and the literals
_CONSTANT_LEAVES = frozenset((ops.CONST, *ops.LITERALS))


def fold_constants(expr: Expression) -> Expression:
    """Collapse every variable-free operator subtree into one constant.

    Keeps integer exponents and literals as leaves; ``sqrt(2 * pi)`` or
    ``C * C`` become a single constant holding their value.
    """
    toks = expr.tokens
    n = len(toks)
    arity = ops.arities().get
    # the lowest variable-free operator subtree has only constant leaves as children: with none such, no fold
    leaves = _CONSTANT_LEAVES
    if not any(a and t1 in leaves and (a == 1 or t2 in leaves)
               for a, t1, t2 in zip(map(arity, toks, repeat(0)), toks[1:], toks[2:] + ("",))):
        return expr
    # has_var[i]: subtree at i contains a variable; computed right to left.
    ends = [0] * n
    has_var = [False] * n
    stack: list[int] = []
    folds = False  # whether any operator's subtree is free of variables
    for i in range(n - 1, -1, -1):
        a = arity(toks[i], 0)
        if a == 0:
            has_var[i] = ops.is_variable(toks[i])
            ends[i] = i + 1
        else:
            children = [stack.pop() for _ in range(a)]
            has_var[i] = any(has_var[c] for c in children)
            folds = folds or not has_var[i]
            ends[i] = ends[children[-1]]
        stack.append(i)
    if not folds:
        return expr
    out_t: list[str] = []
    out_c: list[float] = []
    ci = 0
    i = 0
    empty = np.zeros((1, 1))
    while i < n:
        tok = toks[i]
        if arity(tok, 0) > 0 and not has_var[i]:
            sub_consts = expr.constants[ci : ci + toks[i : ends[i]].count(ops.CONST)]
            value = float(evaluate_tokens(toks[i : ends[i]], sub_consts, empty)[0])
            ci += len(sub_consts)
            out_t.append(ops.CONST)
            out_c.append(value if np.isfinite(value) else 1.0)
            i = ends[i]
            continue
        if tok == ops.CONST:
            out_c.append(expr.constants[ci])
            ci += 1
        out_t.append(tok)
        i += 1
    if len(out_t) == n:
        return expr
    return Expression(tuple(out_t), tuple(out_c))


def canonical_key(expr: Expression) -> str:
    """A string equal for expressions that differ only in constant values or
    in the order of the operands of ``+`` and ``*``."""
    arity = ops.arities().get
    stack: list[str] = []
    for tok in reversed(expr.tokens):
        a = arity(tok, 0)
        if a == 0:
            stack.append(tok)
        elif a == 1:
            stack.append(f"{tok}({stack.pop()})")
        else:
            x, y = stack.pop(), stack.pop()
            if tok in ("add", "mul") and y < x:
                x, y = y, x
            stack.append(f"{tok}({x},{y})")
    return stack.pop()


def canonical_order(expr: Expression) -> Expression:
    """The same expression with the operands of ``+`` and ``*`` in a fixed order.

    Operands are sorted by their :func:`canonical_key`, so ``x1 * x0`` and
    ``x0 * x1`` become one token sequence; constants move with their
    placeholders.  LEE's training targets use this order, which removes one
    source of ambiguity the decoder would otherwise have to model.

    >>> from symdescent.expr import parse
    >>> canonical_order(parse("x1 * x0 + sin(x0)")).to_infix()
    'x0 * x1 + sin(x0)'
    """

    def build(i: int):  # -> (key, tokens, constants, end)
        tok = expr.tokens[i]
        a = ops.arity(tok)
        if a == 0:
            consts = (expr.constants[expr.const_index(i)],) if tok == ops.CONST else ()
            return tok, (tok,), consts, i + 1
        parts = []
        j = i + 1
        for _ in range(a):
            part = build(j)
            parts.append(part)
            j = part[3]
        if tok in ("add", "mul") and parts[1][0] < parts[0][0]:
            parts.reverse()
        key = f"{tok}({','.join(p[0] for p in parts)})"
        tokens = (tok,) + tuple(t for p in parts for t in p[1])
        consts = tuple(c for p in parts for c in p[2])
        return key, tokens, consts, j

    _, tokens, consts, _ = build(0)
    return Expression(tokens, consts)
