"""Dimensional analysis of expressions: the SI dimension of a formula, and where it breaks the rules.

A :class:`Dimension` is a vector of rational exponents of the seven SI base
units (:data:`BASE_UNITS`: ``m kg s A K mol cd``); magnitudes (kilo-,
milli-, degrees Celsius against kelvin) play no part.  :func:`check_dimensions`
walks an expression's prefix tokens once, bottom up, with one rule per
operator (:data:`RULES`):

* ``add``, ``sub``: both sides must have the same dimension;
* ``mul``, ``div``: exponents add, subtract;
* ``pow``: the exponent must be dimensionless, and a dimensional base needs a
  known rational exponent (a number: literals and fitted constants, or
  operators over them such as ``-2`` or ``1/2``, close to a fraction with a
  denominator of at most :data:`MAX_DENOMINATOR`), which scales the exponents;
* ``sqrt``, ``square``, ``cube``: scale them by 1/2, 2, 3;
* ``neg``, ``abs``: keep them;
* ``exp``, ``log``, ``sin``, ``cos``, ``tan``, ``tanh``, ``asin``: the
  argument must be dimensionless, and so is the result.

Literals (``1`` to ``5``, ``pi``) are dimensionless.  A constant ``C`` is
*free* by default: it may carry whatever unit makes its neighbourhood
consistent (PySR's ``dimensionless_constants_only=False``), so ``C * x``
has any dimension and ``x + C`` that of ``x``; with ``free_constants=False``
it is dimensionless.  Every node that breaks a rule counts one violation,
and so does a result that differs from the target's dimension; after a
violation the node's dimension is left free, so that one mistake is counted
once.

The parsing of unit strings (``"kg*m/s^2"``) belongs to the data layer
(:mod:`symdescent.units`); here dimensions are values.

Examples
--------
>>> from symdescent.expr import parse
>>> m, s = Dimension.base("m"), Dimension.base("s")
>>> check_dimensions(parse("x0 / x1"), [m, s], target=m / s)
DimensionCheck(violations=0, dimension=Dimension('m/s'))
>>> check_dimensions(parse("x0 + x1"), [m, s]).violations
1
>>> check_dimensions(parse("sin(x0)"), [m]).violations, check_dimensions(parse("sin(C * x0)"), [m]).violations
(1, 0)
>>> check_dimensions(parse("sin(C * x0)"), [m], free_constants=False).violations
1
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass
from fractions import Fraction
from typing import NamedTuple, Sequence

import numpy as np

from symdescent.errors import ExpressionError
from symdescent.expr import ops
from symdescent.expr.expression import Expression

#: the SI base units, in the order of a :class:`Dimension`'s exponents
BASE_UNITS = ("m", "kg", "s", "A", "K", "mol", "cd")

#: a fitted exponent of a dimensional base counts as the fraction p/q (q at most this) within :data:`EXPONENT_TOLERANCE`
MAX_DENOMINATOR = 6
EXPONENT_TOLERANCE = 1e-6


@dataclass(frozen=True)
class Dimension:
    """The exponents of the SI base units (:data:`BASE_UNITS`), as fractions.

    ``Dimension.base("m") * Dimension.base("kg") / Dimension.base("s") ** 2``
    is a force; ``str()`` writes it as ``kg*m/s^2``, which
    :func:`symdescent.units.parse_unit` reads back.

    >>> force = Dimension.base("kg") * Dimension.base("m") / Dimension.base("s") ** 2
    >>> str(force), str(force ** Fraction(1, 2)), str(Dimension())
    ('m*kg/s^2', 'm^(1/2)*kg^(1/2)/s', '1')
    """

    exponents: tuple[Fraction, ...] = (Fraction(0),) * len(BASE_UNITS)

    def __post_init__(self) -> None:
        exps = tuple(Fraction(e) for e in self.exponents)
        if len(exps) != len(BASE_UNITS):
            raise ExpressionError(f"a dimension has {len(BASE_UNITS)} exponents ({' '.join(BASE_UNITS)}), "
                                  f"got {len(exps)}")
        object.__setattr__(self, "exponents", exps)

    @classmethod
    def base(cls, unit: str) -> "Dimension":
        """The dimension of one base unit (``"m"``, ``"kg"``, ...)."""
        if unit not in BASE_UNITS:
            raise ExpressionError(f"{unit!r} is not an SI base unit ({', '.join(BASE_UNITS)})")
        return cls(tuple(Fraction(int(u == unit)) for u in BASE_UNITS))

    @property
    def dimensionless(self) -> bool:
        return not any(self.exponents)

    def __mul__(self, other: "Dimension") -> "Dimension":
        return Dimension(tuple(a + b for a, b in zip(self.exponents, other.exponents)))

    def __truediv__(self, other: "Dimension") -> "Dimension":
        return Dimension(tuple(a - b for a, b in zip(self.exponents, other.exponents)))

    def __pow__(self, k) -> "Dimension":
        k = Fraction(k)
        return Dimension(tuple(a * k for a in self.exponents))

    def __str__(self) -> str:
        def power(unit: str, e: Fraction) -> str:
            if e == 1:
                return unit
            return f"{unit}^{e}" if e.denominator == 1 else f"{unit}^({e})"

        up = [power(u, e) for u, e in zip(BASE_UNITS, self.exponents) if e > 0]
        down = [power(u, -e) for u, e in zip(BASE_UNITS, self.exponents) if e < 0]
        if not down:
            return "*".join(up) or "1"
        below = down[0] if len(down) == 1 else f"({'*'.join(down)})"
        return f"{'*'.join(up) or '1'}/{below}"

    def __repr__(self) -> str:
        return f"Dimension({str(self)!r})"


DIMENSIONLESS = Dimension()

# the kinds of rule; a Fraction as a rule scales the exponents (sqrt: 1/2)
SAME = "same"  #: both arguments have one dimension, the result's
PRODUCT = "product"
QUOTIENT = "quotient"
POWER = "power"  #: a dimensionless exponent; a dimensional base needs a known rational one
KEEP = "keep"
DIMENSIONLESS_ONLY = "dimensionless"  #: a dimensionless argument and result

#: the dimension rule of each built-in operator, by name: its entry's in the operator table
#: (:attr:`symdescent.expr.ops.Operator.dimension`).  An operator without one cannot be checked: with units
#: declared, :func:`check_rules` and :func:`check_dimensions` refuse it by name rather than guess.
RULES: dict[str, str | Fraction] = {name: op.dimension for name, op in ops.OPERATORS.items()
                                    if op.dimension is not None}


def rule(operator: str) -> str | Fraction:
    """The dimension rule of ``operator`` (see :data:`RULES`; a user operator's is its own, see
    :attr:`symdescent.expr.custom.UserOperator.dimension_rule`); an :class:`ExpressionError` when it has none."""
    try:
        return RULES[operator]
    except KeyError:
        own = getattr(ops.OPERATORS.get(operator), "dimension_rule", None)
        if own is not None:
            return own
        raise ExpressionError(f"operator {operator!r} has no dimension rule, so formulas using it cannot be "
                              f"checked against units; give it one in the operator table (Operator.dimension; "
                              f"the operators with one: {', '.join(RULES)}), or leave it out of the operators"
                              ) from None


def check_rules(operators: Sequence[str]) -> None:
    """Raise :class:`ExpressionError` naming the first operator of ``operators`` without a dimension rule."""
    for name in operators:
        rule(name)


class DimensionCheck(NamedTuple):
    """What :func:`check_dimensions` found: the number of violations and the formula's dimension
    (None: free, since a constant can give it any unit)."""

    violations: int
    dimension: Dimension | None

    @property
    def consistent(self) -> bool:
        return self.violations == 0


_FREE = None  # a free dimension: whatever a constant's unit makes it
_UNFITTED = object()  # the value of a constant that is not fitted yet


def rational_exponent(value: float) -> Fraction | None:
    """``value`` as p/q with q <= :data:`MAX_DENOMINATOR` when it is that close to one, else None.

    >>> rational_exponent(1.5000000001), rational_exponent(2.0), rational_exponent(1.4142)
    (Fraction(3, 2), Fraction(2, 1), None)
    """
    if value != value or value in (float("inf"), float("-inf")):
        return None
    frac = Fraction(value).limit_denominator(MAX_DENOMINATOR)
    return frac if abs(float(frac) - value) <= EXPONENT_TOLERANCE * max(1.0, abs(value)) else None


def _number(op: str, *values):
    """The value of an operator over number leaves (an exponent such as ``-2`` or ``1/2``), ``_UNFITTED`` when
    one is an unfitted constant, None when one is not a number."""
    if any(v is None for v in values):
        return None
    if any(v is _UNFITTED for v in values):
        return _UNFITTED
    with np.errstate(all="ignore"):
        return float(ops.OPERATORS[op].func(*(np.float64(v) for v in values)))


#: exponents are integers over this denominator inside :func:`check_dimensions` (fast tuples of ints, exact for
#: 16 nested square roots and the fractions of :func:`rational_exponent`); the units' own denominators join it
_SCALE = 2**16 * 3**2 * 5


def _scaled(d: Dimension, scale: int) -> tuple[int, ...]:
    return tuple(int(e * scale) for e in d.exponents)


@functools.lru_cache(maxsize=256)
def _integers(variables: tuple[Dimension, ...], target: Dimension | None) -> tuple[int, list, tuple | None]:
    """The scale, the columns' and the target's dimensions as integers over it (one search asks with the
    same units every time)."""
    scale = _SCALE
    for d in (*variables, *([target] if target is not None else [])):
        for e in d.exponents:
            scale = math.lcm(scale, e.denominator)
    return scale, [_scaled(d, scale) for d in variables], None if target is None else _scaled(target, scale)


@functools.lru_cache(maxsize=4096)
def _dimension(exponents: tuple[int, ...], scale: int) -> Dimension:
    return Dimension(tuple(Fraction(e, scale) for e in exponents))


def _times(a: tuple[int, ...], b: tuple[int, ...], sign: int) -> tuple[int, ...]:
    return tuple(x + sign * y for x, y in zip(a, b))


def _power(a: tuple[int, ...], k: Fraction) -> tuple[int, ...] | None:
    """``a`` scaled by ``k``, or None where that leaves the integers (powers nested deeper than the scale)."""
    scaled = [x * k.numerator for x in a]
    if any(x % k.denominator for x in scaled):
        return None
    return tuple(x // k.denominator for x in scaled)


def check_dimensions(expr: Expression, variables: Sequence[Dimension], target: Dimension | None = None, *,
                     free_constants: bool = True, constant_values: bool = True) -> DimensionCheck:
    """Infer the dimension of ``expr`` and count the rules it breaks.

    Parameters
    ----------
    expr : Expression
    variables : sequence of Dimension
        The dimension of each column, ``x0`` first.
    target : Dimension, optional
        The dimension the result must have (None: not checked).
    free_constants : bool
        True: a constant ``C`` may carry any unit; False: it is dimensionless.
    constant_values : bool
        Read the values of the constants used as exponents (``x ** C``, after
        fitting).  False (before fitting): a fitted exponent of a dimensional
        base is not yet known, and the power's dimension is left free.

    Raises
    ------
    ExpressionError
        For an operator without a rule (:func:`rule`) or a variable beyond ``variables``.
    """
    scale, columns, wanted = _integers(tuple(variables), target)
    zero = (0,) * len(BASE_UNITS)
    free = _FREE
    # (dimension as integers over ``scale``, or None: free; the value of a number subtree, or None)
    stack: list[tuple[tuple[int, ...] | None, object]] = []
    violations = 0
    const_index = expr.n_constants
    for tok in reversed(expr.tokens):
        arity = ops.arity(tok)
        if arity == 0:
            if tok == ops.CONST:
                const_index -= 1
                value = expr.constants[const_index] if constant_values else _UNFITTED
                stack.append((free if free_constants else zero, value))
            elif tok in ops.LITERALS:
                stack.append((zero, ops.LITERALS[tok]))
            else:
                i = ops.variable_index(tok)
                if i >= len(columns):
                    raise ExpressionError(f"variable {tok} has no unit: units are given for {len(columns)} "
                                          f"column(s)")
                stack.append((columns[i], None))
            continue
        kind = rule(tok)
        a, a_value = stack.pop()
        if arity == 1:
            if kind == KEEP:
                out = a
            elif kind == DIMENSIONLESS_ONLY:
                if a is not free and a != zero:
                    violations += 1
                out = zero
            elif isinstance(kind, Fraction):  # scale the exponents
                out = free if a is free else _power(a, kind)
                if out is None and a is not free:  # free is None too: a free argument is no violation
                    violations, out = violations + 1, free
            else:
                raise ExpressionError(f"operator {tok!r} takes 1 argument, but its dimension rule {kind!r} is for 2")
            stack.append((out, _number(tok, a_value)))
            continue
        b, b_value = stack.pop()
        if kind == SAME:
            if a is free or b is free or a == b:
                out = b if a is free else a
            else:
                violations += 1
                out = free
        elif kind == PRODUCT or kind == QUOTIENT:
            out = free if a is free or b is free else _times(a, b, 1 if kind == PRODUCT else -1)
        elif kind == POWER:
            if b is not free and b != zero:
                violations += 1
            if a is free or a == zero:
                out = a
            elif b_value is _UNFITTED:  # a constant exponent, not fitted yet
                out = free
            elif b_value is not None:
                k = rational_exponent(b_value)
                out = None if k is None else _power(a, k)
                if out is None:
                    violations, out = violations + 1, free
            else:  # an exponent that is not a number: a dimensional base has no dimension then
                violations += 1
                out = free
        elif kind == DIMENSIONLESS_ONLY:  # a user operator's: dimensionless arguments and result
            violations += sum(1 for d in (a, b) if d is not free and d != zero)
            out = zero
        else:
            raise ExpressionError(f"operator {tok!r} takes 2 arguments, but its dimension rule {kind!r} is for 1")
        stack.append((out, _number(tok, a_value, b_value)))
    (result, _), = stack
    if wanted is not None and result is not free and result != wanted:
        violations += 1
    return DimensionCheck(violations, None if result is free else _dimension(result, scale))


__all__ = ["BASE_UNITS", "Dimension", "DIMENSIONLESS", "DimensionCheck", "RULES", "check_dimensions", "check_rules",
           "rational_exponent", "rule"]
