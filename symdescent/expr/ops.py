"""The operator vocabulary shared by every part of symdescent.

One table describes each token once: its arity, how it evaluates on numpy
arrays, how it prints in infix form and how it maps to sympy.  The prefix
token sequences used by the search, the LEE model and the JSON format are all
spelt in these names.

Token kinds
-----------
* binary operators: ``add sub mul div pow``
* unary operators: ``neg sqrt exp log sin cos tan tanh asin abs square cube``
* variables: ``x0``, ``x1``, ... (column indices of ``X``; the LEE vocabulary
  has ``x0 … x9``, the search itself has no limit)
* the constant placeholder ``C`` (its value lives beside the tokens)
* literals: the small integers ``1 … 5`` and ``pi``
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable

import numpy as np

MAX_VARIABLES = 10  # variables in the fixed token vocabulary (LEE); the core accepts any xN
CONST = "C"


@dataclass(frozen=True)
class Op:
    """One operator of the vocabulary."""

    name: str
    arity: int
    func: Callable[..., np.ndarray]
    infix: str  # infix symbol for binary operators, function name for unary
    precedence: int = 0  # binary operators only; higher binds tighter


def _square(a):
    return a * a


def _cube(a):
    return a * a * a


def _pow(a, b):
    return np.power(a, b)


BINARY: dict[str, Op] = {
    "add": Op("add", 2, np.add, "+", 1),
    "sub": Op("sub", 2, np.subtract, "-", 1),
    "mul": Op("mul", 2, np.multiply, "*", 2),
    "div": Op("div", 2, np.divide, "/", 2),
    "pow": Op("pow", 2, _pow, "**", 4),
}

UNARY: dict[str, Op] = {
    "neg": Op("neg", 1, np.negative, "-"),
    "sqrt": Op("sqrt", 1, np.sqrt, "sqrt"),
    "exp": Op("exp", 1, np.exp, "exp"),
    "log": Op("log", 1, np.log, "log"),
    "sin": Op("sin", 1, np.sin, "sin"),
    "cos": Op("cos", 1, np.cos, "cos"),
    "tan": Op("tan", 1, np.tan, "tan"),
    "tanh": Op("tanh", 1, np.tanh, "tanh"),
    "asin": Op("asin", 1, np.arcsin, "asin"),
    "abs": Op("abs", 1, np.abs, "abs"),
    "square": Op("square", 1, _square, "square"),
    "cube": Op("cube", 1, _cube, "cube"),
}

OPERATORS: dict[str, Op] = {**BINARY, **UNARY}

#: Integer literals and ``pi``: values the model and the parser use exactly.
LITERALS: dict[str, float] = {"1": 1.0, "2": 2.0, "3": 3.0, "4": 4.0, "5": 5.0, "pi": math.pi}

VARIABLES: tuple[str, ...] = tuple(f"x{i}" for i in range(MAX_VARIABLES))

#: Every token, in a fixed order (the LEE vocabulary is built on this order).
ALL_TOKENS: tuple[str, ...] = (
    tuple(BINARY) + tuple(UNARY) + VARIABLES + (CONST,) + tuple(LITERALS)
)

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
    """Check a user-supplied list of operator names; raise with a suggestion."""
    from symdescent.errors import ConfigError, did_you_mean

    out = []
    for name in names:
        if name not in OPERATORS:
            raise ConfigError(
                f"unknown {what} {name!r}{did_you_mean(name, OPERATORS)}; "
                f"known: {', '.join(OPERATORS)}"
            )
        out.append(name)
    return tuple(dict.fromkeys(out))
