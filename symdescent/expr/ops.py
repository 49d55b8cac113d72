"""The operator vocabulary shared by every part of symdescent.

One table describes each token once: its arity, how it evaluates on numpy
arrays, how it prints in infix form and how it maps to sympy.  The prefix
token sequences used by the search, the plugins and the JSON format are all
spelt in these names.

Token kinds
-----------
* binary operators: ``add sub mul div pow``
* unary operators: ``neg sqrt exp log sin cos tan tanh asin abs square cube``
* variables: ``x0``, ``x1``, ... (column indices of ``X``, without limit)
* the constant placeholder ``C`` (its value lives beside the tokens)
* literals: the small integers ``1 … 5`` and ``pi``
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable

import numpy as np

CONST = "C"


@dataclass(frozen=True)
class Op:
    """One operator of the vocabulary."""

    name: str
    arity: int
    func: Callable[..., np.ndarray]
    infix: str  # infix symbol for binary operators, function name for unary
    precedence: int = 0  # binary operators only; higher binds tighter
    description: str = ""  # one line, for ``symdescent operators``


def _square(a):
    return a * a


def _cube(a):
    return a * a * a


def _pow(a, b):
    return np.power(a, b)


BINARY: dict[str, Op] = {
    "add": Op("add", 2, np.add, "+", 1, description="a + b"),
    "sub": Op("sub", 2, np.subtract, "-", 1, description="a - b"),
    "mul": Op("mul", 2, np.multiply, "*", 2, description="a * b"),
    "div": Op("div", 2, np.divide, "/", 2, description="a / b (inf or NaN where b = 0)"),
    "pow": Op("pow", 2, _pow, "**", 4, description="a ** b, the exponent a constant (x ** y is left to exp and log)"),
}

UNARY: dict[str, Op] = {
    "neg": Op("neg", 1, np.negative, "-", description="-a"),
    "sqrt": Op("sqrt", 1, np.sqrt, "sqrt", description="square root (NaN below 0)"),
    "exp": Op("exp", 1, np.exp, "exp", description="e ** a"),
    "log": Op("log", 1, np.log, "log", description="natural logarithm (NaN below 0)"),
    "sin": Op("sin", 1, np.sin, "sin", description="sine (radians)"),
    "cos": Op("cos", 1, np.cos, "cos", description="cosine (radians)"),
    "tan": Op("tan", 1, np.tan, "tan", description="tangent (radians)"),
    "tanh": Op("tanh", 1, np.tanh, "tanh", description="hyperbolic tangent"),
    "asin": Op("asin", 1, np.arcsin, "asin", description="inverse sine (NaN outside [-1, 1])"),
    "abs": Op("abs", 1, np.abs, "abs", description="absolute value"),
    "square": Op("square", 1, _square, "square", description="a ** 2"),
    "cube": Op("cube", 1, _cube, "cube", description="a ** 3"),
}

OPERATORS: dict[str, Op] = {**BINARY, **UNARY}


def _array_functions(power: str, arcsin: str) -> dict[str, Callable[..., object]]:
    """Each operator as ``f(module, *args)`` over an array library ``module`` that spells its functions as
    numpy does, except ``power`` and ``arcsin`` (the names it gives to ``np.power`` and ``np.arcsin``)."""
    return {
        "add": lambda m, a, b: a + b,
        "sub": lambda m, a, b: a - b,
        "mul": lambda m, a, b: a * b,
        "div": lambda m, a, b: a / b,
        "pow": lambda m, a, b: getattr(m, power)(a, b),
        "neg": lambda m, a: -a,
        "sqrt": lambda m, a: m.sqrt(a),
        "exp": lambda m, a: m.exp(a),
        "log": lambda m, a: m.log(a),
        "sin": lambda m, a: m.sin(a),
        "cos": lambda m, a: m.cos(a),
        "tan": lambda m, a: m.tan(a),
        "tanh": lambda m, a: m.tanh(a),
        "asin": lambda m, a: getattr(m, arcsin)(a),
        "abs": lambda m, a: m.abs(a),
        "square": lambda m, a: a * a,
        "cube": lambda m, a: a * a * a,
    }


#: Each operator on torch tensors, as ``f(torch, *args)``: the module is passed in so that torch is imported only
#: by the export that needs it (:func:`symdescent.expr.export.to_torch`).  Every operator must have an entry, with
#: the numpy semantics of :attr:`Op.func` (NaN on domain errors, inf on overflow); a test checks both.
TORCH: dict[str, Callable[..., object]] = _array_functions(power="pow", arcsin="asin")

#: Each operator on jax arrays, as ``f(jax.numpy, *args)`` (see :data:`TORCH`; used by
#: :func:`symdescent.expr.export.to_jax`).
JAX: dict[str, Callable[..., object]] = _array_functions(power="power", arcsin="arcsin")

#: Integer literals and ``pi``: leaves with an exact value (never fitted).
LITERALS: dict[str, float] = {"1": 1.0, "2": 2.0, "3": 3.0, "4": 4.0, "5": 5.0, "pi": math.pi}

#: Function names the infix parser accepts, mapped to operator names.
FUNCTION_ALIASES: dict[str, str] = {
    **{name: name for name in UNARY if name != "neg"},
    "ln": "log",
    "arcsin": "asin",
    "Abs": "abs",
}


def arity(token: str) -> int:
    """Return how many arguments ``token`` takes (0 for leaves)."""
    op = OPERATORS.get(token)
    return op.arity if op is not None else 0


def is_variable(token: str) -> bool:
    return token[:1] == "x" and token[1:].isdigit() and (token == "x0" or token[1:2] != "0")


def variable_index(token: str) -> int:
    return int(token[1:])


def validate_operator_names(names, *, what: str = "operator") -> tuple[str, ...]:
    """Check a user-supplied list of operator names; return them once each, in order.

    An unknown name is an :class:`~symdescent.errors.ExpressionError` with a suggestion (the layers that read
    configurations turn it into their own error).

    >>> validate_operator_names(["add", "mul", "add"])
    ('add', 'mul')
    >>> validate_operator_names(["sinh"])
    Traceback (most recent call last):
    ...
    symdescent.errors.ExpressionError: unknown operator 'sinh'; did you mean 'sin'?; known: ...
    """
    from symdescent.errors import ExpressionError, did_you_mean

    out = []
    for name in names:
        if name not in OPERATORS:
            raise ExpressionError(
                f"unknown {what} {name!r}{did_you_mean(name, OPERATORS)}; "
                f"known: {', '.join(OPERATORS)} (symdescent operators describes each)"
            )
        out.append(name)
    return tuple(dict.fromkeys(out))
