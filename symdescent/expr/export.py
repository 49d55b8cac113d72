"""Exports of an expression to torch and jax, built from its prefix tokens.

Each backend walks the tokens and applies each operator as the operator table
says (:attr:`symdescent.expr.ops.Operator.array`, beside the numpy function
the search evaluates), never through a sympy string: the exported function is
the expression the search scored, node for node, and its constants stay
separate values that an optimiser can tune.

torch and jax are optional: each is imported only here, inside the function
that needs it, and a missing one is a :class:`~symdescent.errors.DependencyError`
that says what to install.
"""

from __future__ import annotations

from typing import Any, Callable, Sequence

from symdescent.errors import DependencyError, ExpressionError
from symdescent.expr import ops


def _require(module: str, package: str) -> Any:
    import importlib

    try:
        return importlib.import_module(module)
    except ImportError:
        raise DependencyError(f"this export needs {package}, which is not installed: pip install {package}") from None


def walk(tokens: Sequence[str], module: Any, constants: Any, column: Callable[[int], Any],
         literal: Callable[[float], Any]) -> Any:
    """Evaluate prefix ``tokens`` on the arrays of ``module`` (torch, jax.numpy), each operator by its
    :meth:`~symdescent.expr.ops.Operator.apply_array`.

    ``constants[i]`` is the value of the ``i``-th placeholder ``C``,
    ``column(j)`` the values of variable ``xj`` and ``literal(v)`` a literal
    as the backend's scalar; the walk is :func:`symdescent.expr.expression.fold`
    (postfix order, each operator applied to its arguments left to right).
    """
    from symdescent.expr.expression import fold

    def leaf(tok: str, i: int) -> Any:
        if i >= 0:
            return constants[i]
        if tok in ops.LITERALS:
            return literal(ops.LITERALS[tok])
        return column(ops.variable_index(tok))

    return fold(tokens, leaf, lambda tok, args: ops.OPERATORS[tok].apply_array(module, *args))


def to_torch(expression, variable_names: Sequence[str] | None = None, dtype: Any = None):
    """A :class:`torch.nn.Module` computing ``expression``; see :class:`TorchExpression`.

    ``dtype`` is that of the constants (default ``torch.float64``).
    """
    torch = _require("torch", "torch")
    from symdescent.expr.export_torch import TorchExpression

    return TorchExpression(expression, variable_names, torch.float64 if dtype is None else dtype)


def to_jax(expression):
    """A pure jax function ``f(X, params=None)`` of ``expression``, jit-able.

    ``X`` has shape ``(n, d)``; ``params`` holds the constants in the order of
    ``expression.constants`` (None: the fitted values, also given as
    ``f.params``), so ``jax.grad(loss)(f.params)`` differentiates with
    respect to them.  jax computes in float32 unless
    ``jax.config.update("jax_enable_x64", True)`` was called first.

    Examples
    --------
    >>> from symdescent.expr import parse
    >>> f = parse("2.5 * sin(x0)").to_jax()  # doctest: +SKIP
    >>> f(jnp.ones((3, 1)), f.params * 2)     # doctest: +SKIP
    """
    _require("jax", "jax")
    import jax.numpy as jnp

    from symdescent.expr import scope

    tokens = tuple(expression.tokens)
    operators = expression.operators  # its user operators (None: built-ins only)
    fitted = jnp.asarray(expression.constants, dtype=float)
    n_constants = expression.n_constants

    def f(X, params=None):
        X = jnp.asarray(X)
        if X.ndim != 2:
            raise ExpressionError(f"the expression takes X of shape (n, d), got shape {X.shape}")
        c = fitted if params is None else params
        with scope.extended(operators):
            out = walk(tokens, jnp, c, lambda j: X[:, j], lambda v: jnp.asarray(v, dtype=X.dtype))
        return jnp.broadcast_to(out, X.shape[:1])

    f.params = fitted
    f.n_constants = n_constants
    f.__doc__ = f"Evaluate {expression.to_infix()} on the rows of X with constants params (jax)."
    return f


__all__ = ["to_torch", "to_jax", "walk"]
