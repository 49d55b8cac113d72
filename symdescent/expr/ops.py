"""The operator table: every operator of symdescent described once.

Each :class:`Operator` holds everything the rest of the package needs to know
about one operator: its arity, its numpy implementation and derivative, its
compiled kernel's opcode, how it prints and parses, its sympy form, how torch
and jax compute it, its PySR name, its default grammar weight, complexity and
a one-line description.  Everything else reads the table:

=====================================  ==============================================================
reader                                 fields
=====================================  ==============================================================
:mod:`~symdescent.expr.parse`          ``infix`` and ``aliases`` (:data:`FUNCTION_ALIASES`)
:mod:`~symdescent.expr.printing`       ``infix``, ``precedence``
:mod:`~symdescent.expr.evaluate`       ``func``, ``derivative`` (the numpy reference)
:mod:`~symdescent.expr.compiled`       ``opcode`` (the kernels dispatch on it)
:mod:`~symdescent.expr.sympy_bridge`   ``sympy`` (both directions; LaTeX is sympy's printing of it)
:mod:`~symdescent.expr.export`         ``array`` (torch and jax)
:mod:`~symdescent.expr.generate`       ``weight`` (the grammar sampler's default)
``symdescent_pysr.operators``          ``pysr``
``symdescent operators``               ``description``
=====================================  ==============================================================

Adding a built-in operator is one :func:`register` call below and, for the
compiled path, its two lines (value and derivative) in
:mod:`symdescent.expr.compiled.kernels`; ``tests/expr/test_operators.py``
checks every operator of the table through every path.

Token kinds
-----------
* operators: the names of :data:`OPERATORS` (:data:`BINARY`, :data:`UNARY`)
* variables: ``x0``, ``x1``, ... (column indices of ``X``, without limit)
* the constant placeholder ``C`` (its value lives beside the tokens)
* literals: the small integers ``1 … 5`` and ``pi``
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from fractions import Fraction
from typing import Callable, Union

import numpy as np

from symdescent.errors import ExpressionError
from symdescent.expr.scope import Table, active

_builtin = dict.get

CONST = "C"

#: Integer literals and ``pi``: leaves with an exact value (never fitted).
LITERALS: dict[str, float] = {"1": 1.0, "2": 2.0, "3": 3.0, "4": 4.0, "5": 5.0, "pi": math.pi}

#: The infix symbols of the parser's grammar (:mod:`symdescent.expr.parse`); a binary operator is written
#: either with one of these or, when its ``infix`` is a name, as a call ``name(a, b)``.
INFIX_SYMBOLS = ("+", "-", "*", "/", "**")

#: The opcodes below this one are the kernels' leaves (a variable, a constant, a literal).
FIRST_OPCODE = 3

#: The kinds of dimension rule (:attr:`Operator.dimension`, read by :mod:`symdescent.expr.units`): binary
#: ``same`` (both sides one dimension), ``product``, ``quotient``, ``power`` (a dimensionless exponent); unary
#: ``keep`` and ``dimensionless`` (a dimensionless argument and result); a unary rule may also be a
#: :class:`~fractions.Fraction`, which scales the exponents (``sqrt``: 1/2).
DIMENSION_RULES = {2: ("same", "product", "quotient", "power"), 1: ("keep", "dimensionless")}

SympyForm = Union[str, Callable[..., object]]
ArrayForm = Union[str, Callable[..., object]]


def arity(token: str) -> int:
    """Return how many arguments ``token`` takes (0 for leaves)."""
    op = _builtin(OPERATORS, token)  # the built-ins at dict speed (the search's hot path), then the user operators
    if op is None:
        ext = active()
        op = None if ext is None else ext.operators.get(token)
    return op.arity if op is not None else 0


#: ``(extension, built-in table, its size, {token: arity})`` of the last table :func:`arities` built
_arities: tuple = (None, None, -1, {})


def arities() -> dict[str, int]:
    """``{operator: arity}`` of every operator in the table now (the built-ins and the active user operators).

    The hot loops over tokens (folding, canonical keys, subtree ends) look arities up in this one dict
    (``arities().get(token, 0)``: 0 for leaves) instead of calling :func:`arity` per token; it is rebuilt
    only when the active user operators or the table change.

    >>> arities()["add"], arities().get("x0", 0)
    (2, 0)
    """
    global _arities
    ext, builtins, size, table = _arities  # one read: another thread may replace it meanwhile
    now = active()
    if ext is not now or builtins is not OPERATORS or size != dict.__len__(OPERATORS):
        size = dict.__len__(OPERATORS)
        table = {name: op.arity for name, op in dict.items(OPERATORS)}
        if now is not None:
            table.update({name: op.arity for name, op in now.operators.items()})
        _arities = (now, OPERATORS, size, table)
    return table


def is_variable(token: str) -> bool:
    return token[:1] == "x" and token[1:].isdigit() and (token == "x0" or token[1:2] != "0")


def variable_index(token: str) -> int:
    return int(token[1:])


@dataclass(frozen=True)
class Operator:
    """One operator of the vocabulary.

    Parameters
    ----------
    name : str
        Its token (an identifier), the name ``search.operators`` and the JSON use.
    arity : int
        1 or 2.
    func : callable
        The numpy implementation, vectorised: ``func(a)`` or ``func(a, b)``.  Domain errors give NaN and
        overflow inf (it runs under ``np.errstate(all="ignore")``), never an exception.
    derivative : callable
        ``derivative(a, f)`` or ``derivative(a, b, f)``, where ``f`` is ``func`` of the arguments: a tuple
        holding the partial derivative with respect to each argument (numpy, for the reference Jacobian).
    infix : str
        How it prints: for a binary operator its infix symbol (one of :data:`INFIX_SYMBOLS`) or a name
        (then it prints as ``name(a, b)``); for a unary one the function name (``sin`` prints
        ``sin(a)``; ``neg`` alone prints as a prefix ``-``).  A name is also what the parser reads.
    precedence : int
        Binary operators with an infix symbol: higher binds tighter (``+`` 1, ``*`` 2, ``**`` 4).
    opcode : int or None
        The compiled kernels' id (at least :data:`FIRST_OPCODE`, distinct), or None where
        :mod:`symdescent.expr.compiled.kernels` has no lines for it; never renumber one.
    sympy : str or callable
        The name of the sympy function (``"sin"``: ``sympy.sin`` builds it and, when it is a sympy function
        class, :func:`~symdescent.expr.sympy_bridge.from_sympy` reads it back), or a callable building the
        sympy form from the arguments' (``lambda a: a**2``), which ``from_sympy`` reads back through
        sympy's structure (``Pow``, ``Mul``, ``Add``).  LaTeX is sympy's printing of this form.
    array : str or callable
        For the torch and jax exports: the name of the function that numpy, torch and jax all spell alike
        (``"sin"``, ``"arcsin"``), or ``f(module, *args)``.  It must keep numpy's semantics (NaN on domain
        errors, inf on overflow).
    pysr : str or None
        PySR's name for it (``"+"``, ``"sin"``), None where PySR has no counterpart.
    aliases : tuple of str
        More names the parser reads as this operator (``ln`` for ``log``, ``pow`` for ``**``).
    weight : float
        Default weight of the grammar sampler (:class:`~symdescent.expr.generate.GrammarSampler`) among the
        operators of its arity; 0: never sampled unless weighted.
    complexity : int
        Default complexity of one node of it.
    dimension : str, Fraction or None
        Its dimension rule (:data:`DIMENSION_RULES`) for the units check of :mod:`symdescent.expr.units`;
        None: formulas using it cannot be checked against units (a search with units refuses it by name).
    description : str
        One line, domain included, for ``symdescent operators``.
    """

    name: str
    arity: int
    func: Callable[..., np.ndarray]
    derivative: Callable[..., tuple]
    infix: str
    sympy: SympyForm
    array: ArrayForm
    precedence: int = 0
    opcode: int | None = None
    pysr: str | None = None
    aliases: tuple[str, ...] = ()
    weight: float = 1.0
    complexity: int = 1
    dimension: str | Fraction | None = None
    description: str = ""

    def __post_init__(self) -> None:
        if not (self.name.isidentifier() and self.name.isascii()) or self.name == CONST or is_variable(self.name):
            raise ExpressionError(f"operator name {self.name!r} must be an identifier other than C, x0, x1, ...")
        if self.arity not in (1, 2):
            raise ExpressionError(f"operator {self.name!r}: arity must be 1 or 2, got {self.arity!r}")
        if self.arity == 2 and not self.infix.isidentifier() and self.infix not in INFIX_SYMBOLS:
            raise ExpressionError(f"operator {self.name!r}: a binary operator's infix is a name or one of "
                                  f"{' '.join(INFIX_SYMBOLS)}, got {self.infix!r}")
        if self.arity == 1 and not self.infix.isidentifier() and self.name != "neg":
            raise ExpressionError(f"operator {self.name!r}: a unary operator's infix is its function name, "
                                  f"got {self.infix!r}")
        if self.opcode is not None and (not isinstance(self.opcode, int) or self.opcode < FIRST_OPCODE):
            raise ExpressionError(f"operator {self.name!r}: opcode must be an int >= {FIRST_OPCODE} or None")
        if not (math.isfinite(self.weight) and self.weight >= 0):
            raise ExpressionError(f"operator {self.name!r}: weight must be finite and >= 0, got {self.weight!r}")
        if not (isinstance(self.complexity, int) and self.complexity >= 1):
            raise ExpressionError(f"operator {self.name!r}: complexity must be an int >= 1")
        scales = self.arity == 1 and isinstance(self.dimension, Fraction)
        if self.dimension is not None and not scales and self.dimension not in DIMENSION_RULES[self.arity]:
            raise ExpressionError(f"operator {self.name!r}: dimension must be one of "
                                  f"{', '.join(DIMENSION_RULES[self.arity])}"
                                  f"{' or a Fraction' if self.arity == 1 else ''}, or None; got {self.dimension!r}")

    @property
    def call_names(self) -> tuple[str, ...]:
        """The names the parser reads as a call of this operator: its infix when that is a name, its aliases."""
        own = (self.infix,) if self.infix.isidentifier() else ()
        return own + tuple(self.aliases)

    def apply_array(self, module, *args):
        """This operator on the arrays of ``module`` (torch, jax.numpy): see :attr:`array`."""
        if isinstance(self.array, str):
            return getattr(module, self.array)(*args)
        return self.array(module, *args)


# Each of these dicts holds the built-ins and, inside ``with OperatorSet(...).use():``, a search's user
# operators after them (:class:`symdescent.expr.scope.Table`; :mod:`symdescent.expr.custom` makes them).
#: Every operator by name, in the order they were registered (binary operators first among the built-ins).
OPERATORS: dict[str, Operator] = Table("operators")
#: The binary operators of :data:`OPERATORS`.
BINARY: dict[str, Operator] = Table("binary")
#: The unary operators of :data:`OPERATORS`.
UNARY: dict[str, Operator] = Table("unary")
#: Function names the infix parser reads, mapped to operator names (each operator's :attr:`Operator.call_names`).
FUNCTION_ALIASES: dict[str, str] = Table("aliases")


def register(op: Operator) -> Operator:
    """Add ``op`` to the table (:data:`OPERATORS`, :data:`BINARY` or :data:`UNARY`, :data:`FUNCTION_ALIASES`).

    Raises :class:`~symdescent.errors.ExpressionError` when its name, a call name, its infix symbol or its
    opcode is taken already (an operator is registered once; the table never changes an entry).

    >>> register(OPERATORS["sin"])
    Traceback (most recent call last):
    ...
    symdescent.errors.ExpressionError: operator 'sin' is registered already
    """
    if op.name in OPERATORS or op.name in FUNCTION_ALIASES or op.name in LITERALS:
        raise ExpressionError(f"operator {op.name!r} is registered already")
    for name in op.call_names:
        if name in FUNCTION_ALIASES or name in LITERALS or (name in OPERATORS and name != op.name):
            raise ExpressionError(f"operator {op.name!r}: the name {name!r} is taken already")
    for other in OPERATORS.values():
        if op.opcode is not None and other.opcode == op.opcode:
            raise ExpressionError(f"operator {op.name!r}: opcode {op.opcode} is {other.name!r}'s")
        if op.arity == 2 == other.arity and op.infix == other.infix:
            raise ExpressionError(f"operator {op.name!r}: infix {op.infix!r} is {other.name!r}'s")
    OPERATORS[op.name] = op
    (BINARY if op.arity == 2 else UNARY)[op.name] = op
    for name in op.call_names:
        FUNCTION_ALIASES[name] = op.name
    return op


def default_weights(arity: int) -> dict[str, float]:
    """The table's grammar weight of each operator of ``arity``, in table order.

    >>> default_weights(2)
    {'add': 5.0, 'sub': 3.0, 'mul': 6.0, 'div': 4.0, 'pow': 1.0}
    """
    return {name: op.weight for name, op in (BINARY if arity == 2 else UNARY).items()}


def opcode(name: str) -> int:
    """The compiled kernels' id of operator ``name``; :class:`~symdescent.errors.ExpressionError` when it has none."""
    code = OPERATORS[name].opcode
    if code is None:
        raise ExpressionError(f"operator {name!r} has no compiled kernel")
    return code


def _square(a):
    return a * a


def _cube(a):
    return a * a * a


def _pow(a, b):
    return np.power(a, b)


# ---------------------------------------------------------------------------
# the built-in operators (opcodes 0-2 are the kernels' leaves; never renumber an opcode)
# ---------------------------------------------------------------------------
register(Operator("add", 2, np.add, lambda a, b, f: (1.0, 1.0), "+", precedence=1, opcode=3,
                  sympy=lambda a, b: a + b, array=lambda m, a, b: a + b, pysr="+", weight=5.0,
                  dimension="same", description="a + b"))
register(Operator("sub", 2, np.subtract, lambda a, b, f: (1.0, -1.0), "-", precedence=1, opcode=4,
                  sympy=lambda a, b: a - b, array=lambda m, a, b: a - b, pysr="-", weight=3.0,
                  dimension="same", description="a - b"))
register(Operator("mul", 2, np.multiply, lambda a, b, f: (b, a), "*", precedence=2, opcode=5,
                  sympy=lambda a, b: a * b, array=lambda m, a, b: a * b, pysr="*", weight=6.0,
                  dimension="product", description="a * b"))
register(Operator("div", 2, np.divide, lambda a, b, f: (1.0 / b, -a / (b * b)), "/", precedence=2, opcode=6,
                  sympy=lambda a, b: a / b, array=lambda m, a, b: a / b, pysr="/", weight=4.0,
                  dimension="quotient", description="a / b (inf or NaN where b = 0)"))
register(Operator("pow", 2, _pow, lambda a, b, f: (b * np.power(a, b - 1.0), f * np.log(a)), "**", precedence=4,
                  opcode=7, sympy=lambda a, b: a**b, array=lambda m, a, b: a**b, pysr="^", aliases=("pow",),
                  weight=1.0, dimension="power",
                  description="a ** b, the exponent a constant (x ** y is left to exp and log)"))
register(Operator("neg", 1, np.negative, lambda a, f: (-1.0,), "-", opcode=8, sympy=lambda a: -a,
                  array=lambda m, a: -a, pysr="neg", weight=1.0, dimension="keep", description="-a"))
register(Operator("sqrt", 1, np.sqrt, lambda a, f: (0.5 / f,), "sqrt", opcode=9, sympy="sqrt", array="sqrt",
                  pysr="sqrt", weight=3.0, dimension=Fraction(1, 2), description="square root (NaN below 0)"))
register(Operator("exp", 1, np.exp, lambda a, f: (f,), "exp", opcode=10, sympy="exp", array="exp", pysr="exp",
                  weight=2.0, dimension="dimensionless", description="e ** a"))
register(Operator("log", 1, np.log, lambda a, f: (1.0 / a,), "log", opcode=11, sympy="log", array="log",
                  pysr="log", aliases=("ln",), weight=2.0, dimension="dimensionless",
                  description="natural logarithm (NaN below 0)"))
register(Operator("sin", 1, np.sin, lambda a, f: (np.cos(a),), "sin", opcode=12, sympy="sin", array="sin",
                  pysr="sin", weight=3.0, dimension="dimensionless", description="sine (radians)"))
register(Operator("cos", 1, np.cos, lambda a, f: (-np.sin(a),), "cos", opcode=13, sympy="cos", array="cos",
                  pysr="cos", weight=3.0, dimension="dimensionless", description="cosine (radians)"))
register(Operator("tan", 1, np.tan, lambda a, f: (1.0 + f * f,), "tan", opcode=14, sympy="tan", array="tan",
                  pysr="tan", weight=0.5, dimension="dimensionless", description="tangent (radians)"))
register(Operator("tanh", 1, np.tanh, lambda a, f: (1.0 - f * f,), "tanh", opcode=15, sympy="tanh", array="tanh",
                  pysr="tanh", weight=0.5, dimension="dimensionless", description="hyperbolic tangent"))
register(Operator("asin", 1, np.arcsin, lambda a, f: (1.0 / np.sqrt(1.0 - a * a),), "asin", opcode=16,
                  sympy="asin", array="arcsin", pysr="asin", aliases=("arcsin",), weight=0.5,
                  dimension="dimensionless", description="inverse sine (NaN outside [-1, 1])"))
register(Operator("abs", 1, np.abs, lambda a, f: (np.sign(a),), "abs", opcode=17, sympy="Abs", array="abs",
                  pysr="abs", aliases=("Abs",), weight=0.2, dimension="keep", description="absolute value"))
register(Operator("square", 1, _square, lambda a, f: (2.0 * a,), "square", opcode=18, sympy=lambda a: a**2,
                  array=lambda m, a: a * a, pysr="square", weight=3.0, dimension=Fraction(2), description="a ** 2"))
register(Operator("cube", 1, _cube, lambda a, f: (3.0 * a * a,), "cube", opcode=19, sympy=lambda a: a**3,
                  array=lambda m, a: a * a * a, pysr="cube", weight=1.0, dimension=Fraction(3), description="a ** 3"))
register(Operator("sinh", 1, np.sinh, lambda a, f: (np.cosh(a),), "sinh", opcode=20, sympy="sinh", array="sinh",
                  pysr="sinh", weight=0.5, dimension="dimensionless",
                  description="hyperbolic sine (inf beyond |a| = 710)"))
register(Operator("cosh", 1, np.cosh, lambda a, f: (np.sinh(a),), "cosh", opcode=21, sympy="cosh", array="cosh",
                  pysr="cosh", weight=0.5, dimension="dimensionless",
                  description="hyperbolic cosine (inf beyond |a| = 710)"))


def validate_operator_names(names, *, what: str = "operator") -> tuple[str, ...]:
    """Check a user-supplied list of operator names; return them once each, in order.

    An unknown name is an :class:`~symdescent.errors.ExpressionError` with a suggestion (the layers that read
    configurations turn it into their own error).

    >>> validate_operator_names(["add", "mul", "add"])
    ('add', 'mul')
    >>> validate_operator_names(["sine"])
    Traceback (most recent call last):
    ...
    symdescent.errors.ExpressionError: unknown operator 'sine'; did you mean 'sin'?; known: ...
    """
    from symdescent.errors import did_you_mean

    out = []
    for name in names:
        if name not in OPERATORS:
            raise ExpressionError(
                f"unknown {what} {name!r}{did_you_mean(name, OPERATORS)}; "
                f"known: {', '.join(OPERATORS)} (symdescent operators describes each)"
            )
        out.append(name)
    return tuple(dict.fromkeys(out))
