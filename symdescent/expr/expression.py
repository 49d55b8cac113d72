"""The immutable expression type: prefix tokens plus constant values.

An :class:`Expression` is a prefix (Polish) token sequence over the vocabulary
of :mod:`symdescent.expr.ops` and the values of its constant placeholders
``C`` in order of appearance.  Prefix form is what the search mutates, what
LEE decodes and what JSON stores; trees, infix strings and sympy are views.
"""

from __future__ import annotations

import functools
import json
import math
from dataclasses import dataclass, field
from typing import Any, Sequence

import numpy as np

from symdescent.errors import ExpressionError
from symdescent.expr import ops, scope


def _with_operators(method):
    """Run ``method`` with the expression's user operators (:attr:`Expression.operators`) in the table."""
    @functools.wraps(method)
    def run(self, *args, **kwargs):
        if self.operators is None:
            return method(self, *args, **kwargs)
        with scope.extended(self.operators):
            return method(self, *args, **kwargs)

    return run


@dataclass(frozen=True)
class Expression:
    """A closed-form expression in prefix form.

    Parameters
    ----------
    tokens : tuple of str
        Prefix tokens, e.g. ``("mul", "C", "sin", "x0")``.
    constants : tuple of float
        Values of the ``C`` placeholders, in the order they appear.  Defaults
        to ``1.0`` for each placeholder when omitted.
    operators : OperatorSet, optional
        The user operators its tokens may use (:mod:`symdescent.expr.custom`).
        By default those active where it is made (inside
        ``OperatorSet.use()``), kept when it uses one of them, so that it
        prints, evaluates and converts anywhere later; not compared.

    Examples
    --------
    >>> e = Expression(("add", "mul", "C", "x0", "1"), (2.5,))
    >>> e.complexity
    5
    >>> e.to_infix()
    '2.5 * x0 + 1'
    """

    tokens: tuple[str, ...]
    constants: tuple[float, ...] = field(default=None)  # type: ignore[assignment]
    operators: Any = field(default=None, compare=False, repr=False)

    def __post_init__(self) -> None:
        tokens = tuple(self.tokens)
        object.__setattr__(self, "tokens", tokens)
        if self.operators is None:
            ext = scope.active()
            if ext is not None and any(t in ext.operators for t in tokens):
                object.__setattr__(self, "operators", ext)
            validate_prefix(tokens)
        else:
            with scope.extended(self.operators):
                validate_prefix(tokens)
        n_const = tokens.count(ops.CONST)
        consts = self.constants
        if consts is None:
            consts = (1.0,) * n_const
        consts = tuple(float(c) for c in consts)
        if len(consts) != n_const:
            raise ExpressionError(
                f"expression has {n_const} constant placeholder(s) but {len(consts)} value(s)"
            )
        object.__setattr__(self, "constants", consts)

    # -- basic properties -------------------------------------------------
    @property
    def complexity(self) -> int:
        """Node count of the expression tree."""
        return len(self.tokens)

    @property
    def n_constants(self) -> int:
        return len(self.constants)

    @property
    def variables(self) -> tuple[int, ...]:
        """Sorted indices of the variables the expression uses."""
        return tuple(sorted({ops.variable_index(t) for t in self.tokens if ops.is_variable(t)}))

    @property
    def skeleton(self) -> tuple[str, ...]:
        """The tokens alone: the expression's form with constants abstracted."""
        return self.tokens

    def key(self) -> tuple:
        """A hashable key of tokens and constants (rounded to 12 digits)."""
        return (self.tokens, tuple(_round_sig(c) for c in self.constants))

    def with_constants(self, constants: Sequence[float]) -> "Expression":
        values = tuple(map(float, constants))
        if len(values) != len(self.constants):
            raise ExpressionError(f"expression has {len(self.constants)} constant placeholder(s) but "
                                  f"{len(values)} value(s)")
        return _derived(self.tokens, values, self.operators)

    # -- subtree access -----------------------------------------------------
    @_with_operators
    def subtree_end(self, start: int) -> int:
        """Index one past the end of the subtree rooted at ``start``."""
        return subtree_end(self.tokens, start)

    def const_index(self, position: int) -> int:
        """Index into ``constants`` of the placeholder at token ``position``."""
        return self.tokens[:position].count(ops.CONST)

    def subtree(self, start: int) -> "Expression":
        end = self.subtree_end(start)
        first = self.const_index(start)
        n = self.tokens[start:end].count(ops.CONST)
        return _derived(self.tokens[start:end], self.constants[first : first + n], self.operators)

    def replace(self, start: int, new: "Expression") -> "Expression":
        """Return a copy with the subtree at ``start`` replaced by ``new``."""
        end = self.subtree_end(start)
        first = self.const_index(start)
        n_old = self.tokens[start:end].count(ops.CONST)
        tokens = self.tokens[:start] + new.tokens + self.tokens[end:]
        consts = self.constants[:first] + new.constants + self.constants[first + n_old :]
        return _derived(tokens, consts, self.operators if self.operators is not None else new.operators)

    @_with_operators
    def depth(self) -> int:
        return tree_depth(self.tokens)

    # -- views --------------------------------------------------------------
    @_with_operators
    def to_infix(self, variable_names: Sequence[str] | None = None, precision: int | None = None) -> str:
        """Infix string that :func:`symdescent.expr.parse` reads back exactly."""
        from symdescent.expr.printing import to_infix

        return to_infix(self, variable_names, precision=precision)

    @_with_operators
    def to_sympy(self, variable_names: Sequence[str] | None = None, *, symbolic_constants: bool = False):
        from symdescent.expr.sympy_bridge import to_sympy

        return to_sympy(self, variable_names, symbolic_constants=symbolic_constants)

    @_with_operators
    def to_latex(self, variable_names: Sequence[str] | None = None, precision: int = 4) -> str:
        import sympy

        from symdescent.expr.sympy_bridge import to_sympy

        expr = to_sympy(self, variable_names)
        expr = expr.xreplace({f: sympy.Float(f, precision) for f in expr.atoms(sympy.Float)})
        return sympy.latex(expr)

    @_with_operators
    def evaluate(self, X: np.ndarray) -> np.ndarray:
        """Evaluate on the rows of ``X``; NaN/inf mark domain errors."""
        from symdescent.expr.evaluate import evaluate

        return evaluate(self, X)

    def to_callable(self):
        """A numpy function ``f(X) -> y`` of this expression."""
        expr = self

        def f(X):
            X = np.asarray(X, dtype=float)
            return expr.evaluate(X.reshape(-1, 1) if X.ndim == 1 else X)

        f.__doc__ = f"Evaluate {self.to_infix()} on the rows of X."
        return f

    @_with_operators
    def to_torch(self, variable_names: Sequence[str] | None = None, dtype=None):
        """A :class:`torch.nn.Module` of this expression whose constants are a trainable
        :class:`torch.nn.Parameter`; its ``forward`` takes an ``(n, d)`` tensor.

        See :class:`symdescent.expr.export_torch.TorchExpression` (torch is optional:
        a :class:`~symdescent.errors.DependencyError` when it is missing).

        >>> import torch
        >>> m = Expression(("mul", "C", "x0"), (2.0,)).to_torch()
        >>> m(torch.tensor([[1.0], [3.0]], dtype=torch.float64)).tolist()
        [2.0, 6.0]
        """
        from symdescent.expr.export import to_torch

        return to_torch(self, variable_names, dtype)

    @_with_operators
    def to_jax(self):
        """A pure, jit-able jax function ``f(X, params=None)`` of this expression;
        ``f.params`` holds the fitted constants (see :func:`symdescent.expr.export.to_jax`)."""
        from symdescent.expr.export import to_jax

        return to_jax(self)

    @_with_operators
    def to_dict(self, variable_names: Sequence[str] | None = None) -> dict:
        d = {"tokens": list(self.tokens), "constants": list(self.constants)}
        d["infix"] = self.to_infix(variable_names)
        if variable_names is not None:
            d["variable_names"] = list(variable_names)
        return d

    def to_json(self, variable_names: Sequence[str] | None = None) -> str:
        return json.dumps(self.to_dict(variable_names))

    @classmethod
    def from_dict(cls, data: dict) -> "Expression":
        try:
            tokens = tuple(str(t) for t in data["tokens"])
            consts = tuple(float(c) for c in data.get("constants", ()))
        except (KeyError, TypeError, ValueError) as exc:
            raise ExpressionError(f"not an expression record: {exc}") from None
        return cls(tokens, consts)

    @classmethod
    def from_json(cls, text: str) -> "Expression":
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise ExpressionError(f"invalid expression JSON: {exc}") from None
        except RecursionError:  # json's decoder recurses per level of nesting
            raise ExpressionError("invalid expression JSON: arrays or objects nested too deeply") from None
        if not isinstance(data, dict):
            raise ExpressionError("expression JSON must be an object with 'tokens'")
        return cls.from_dict(data)

    def __str__(self) -> str:
        return self.to_infix()

    def __repr__(self) -> str:
        return f"Expression({self.to_infix()!r})"


def _round_sig(x: float, digits: int = 12) -> float:
    if x == 0 or not math.isfinite(x):
        return x
    return round(x, -int(math.floor(math.log10(abs(x)))) + digits - 1)


def validate_prefix(tokens: Sequence[str]) -> None:
    """Raise :class:`ExpressionError` unless ``tokens`` is one complete prefix tree."""
    if not tokens:
        raise ExpressionError("empty expression")
    need = 1
    ext = scope.active()
    extra = ext.operators if ext is not None else {}
    builtin, table = dict.get, ops.OPERATORS  # the built-ins at dict speed, then the user operators
    for i, tok in enumerate(tokens):
        if need == 0:
            raise ExpressionError(f"extra tokens after a complete expression at position {i}: {tok!r}")
        op = builtin(table, tok) or extra.get(tok)
        if op is not None:
            need += op.arity - 1
        elif tok == ops.CONST or tok in ops.LITERALS or ops.is_variable(tok):
            need -= 1
        else:
            raise ExpressionError(f"unknown token {tok!r} at position {i}")
    if need != 0:
        raise ExpressionError(f"incomplete expression: {need} operand(s) missing")


def subtree_end(tokens: Sequence[str], start: int) -> int:
    arity = ops.arities().get
    need = 1
    i = start
    while need:
        need += arity(tokens[i], 0) - 1
        i += 1
    return i


def tree_depth(tokens: Sequence[str]) -> int:
    arity = ops.arities().get
    depth, stack = 0, []
    for tok in tokens:
        d = stack.pop() + 1 if stack else 1
        depth = max(depth, d)
        stack.extend([d] * arity(tok, 0))
    return depth


def fold(tokens: Sequence[str], leaf, node):
    """Combine prefix ``tokens`` bottom-up, as a stack evaluates them (postfix order).

    ``leaf(tok, i)`` gives a leaf's value, ``i`` the index of a constant ``C``
    among the expression's constants (-1 for variables and literals);
    ``node(tok, args)`` an operator's, from its arguments' values left to right.

    >>> fold(("add", "x0", "mul", "C", "x1"), lambda t, i: f"c{i}" if i >= 0 else t,
    ...      lambda t, a: f"{t}({', '.join(a)})")
    'add(x0, mul(c0, x1))'
    """
    stack: list = []
    ci = list(tokens).count(ops.CONST)
    for tok in reversed(tokens):
        arity = ops.arity(tok)
        if arity == 0:
            if tok == ops.CONST:
                ci -= 1
                stack.append(leaf(tok, ci))
            else:
                stack.append(leaf(tok, -1))
        else:
            stack.append(node(tok, [stack.pop() for _ in range(arity)]))
    return stack.pop()


def const(value: float) -> Expression:
    return Expression((ops.CONST,), (float(value),))


def variable(index: int) -> Expression:
    return Expression((f"x{index}",))


def apply(op: str, *args: Expression) -> Expression:
    """Build ``op(args...)`` from sub-expressions."""
    if ops.arity(op) != len(args):
        raise ExpressionError(f"{op!r} takes {ops.arity(op)} argument(s), got {len(args)}")
    tokens: tuple[str, ...] = (op,)
    consts: tuple[float, ...] = ()
    operators = None
    for a in args:
        tokens += a.tokens
        consts += a.constants
        operators = operators if operators is not None else a.operators
    # a built-in applied keeps its arguments' user operators; a user operator comes from the active set
    return _derived(tokens, consts, operators if dict.__contains__(ops.OPERATORS, op) else None)


def _derived(tokens: tuple[str, ...], constants: tuple[float, ...], operators) -> Expression:
    """An :class:`Expression` of parts of valid expressions (a subtree, a replacement, an operator applied to
    whole expressions, new constant values): a valid prefix tree by construction, so not checked again.

    Its user operators are ``operators`` or, as for any new expression, those active where it is made when
    its tokens use one of them."""
    if operators is None:
        ext = scope.active()
        if ext is not None and any(t in ext.operators for t in tokens):
            operators = ext
    expr = object.__new__(Expression)
    object.__setattr__(expr, "tokens", tokens)
    object.__setattr__(expr, "constants", constants)
    object.__setattr__(expr, "operators", operators)
    return expr
