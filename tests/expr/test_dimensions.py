"""Dimensional inference of expressions (symdescent.expr.units): the rule of every operator, consistent and
inconsistent formulas, free against dimensionless constants, powers, the violation count."""

from fractions import Fraction

import pytest

from symdescent.errors import ExpressionError
from symdescent.expr import Expression, ops, parse
from symdescent.expr.units import DIMENSIONLESS, RULES, Dimension, check_dimensions, check_rules, rule

M, KG, S, A, K = (Dimension.base(u) for u in ("m", "kg", "s", "A", "K"))
NEWTON = KG * M / S**2
JOULE = NEWTON * M


def check(text, names_dims, target=None, **kw):
    names = list(names_dims)
    return check_dimensions(parse(text, names), [names_dims[n] for n in names], target, **kw)


@pytest.mark.parametrize("text, dims, target", [
    ("m * a", {"m": KG, "a": M / S**2}, NEWTON),                                    # F = m a
    ("d / t", {"d": M, "t": S}, M / S),                                             # v = d / t
    ("m * square(c)", {"m": KG, "c": M / S}, JOULE),                                # E = m c^2
    ("m * c ** 2", {"m": KG, "c": M / S}, JOULE),                                   # the literal exponent
    ("sqrt(g * h)", {"g": M / S**2, "h": M}, M / S),                                # sqrt halves
    ("cube(r) / (G * M)", {"r": M, "G": M**3 / KG / S**2, "M": KG}, S**2),          # cube triples
    ("n * exp(-E / (kb * T))", {"n": DIMENSIONLESS, "E": JOULE, "kb": JOULE / K, "T": K}, DIMENSIONLESS),
    ("x1 - x2 + abs(x3)", {"x1": M, "x2": M, "x3": M}, M),                          # abs keeps
    ("-(q * v) / r", {"q": A * S, "v": M / S, "r": M}, A),                          # neg keeps
    ("sin(theta) + log(p1 / p2)", {"theta": DIMENSIONLESS, "p1": M, "p2": M}, DIMENSIONLESS),
    ("1 / t + pi / t", {"t": S}, S**-1),                                            # literals are numbers
    ("d ** -2 * d ** (1 / 2)", {"d": M}, M ** Fraction(-3, 2)),                     # exponents over numbers
])
def test_consistent_formulas(text, dims, target):
    result = check(text, dims, target)
    assert result.consistent, result
    assert result.dimension == target


@pytest.mark.parametrize("text, dims, target, violations", [
    ("d + t", {"d": M, "t": S}, None, 1),                          # a sum of a length and a time
    ("sin(d)", {"d": M}, None, 1),                                 # a dimensional angle
    ("exp(d) + log(t)", {"d": M, "t": S}, None, 2),                # two separate mistakes count twice
    ("d * t", {"d": M, "t": S}, M / S, 1),                         # the wrong dimension for the target
    ("(d + t) * (d + t)", {"d": M, "t": S}, M / S, 2),             # one mistake is counted once where it is
    ("d ** pi", {"d": M}, None, 1),                                # an irrational power of a length
    ("d + 1", {"d": M}, None, 1),                                  # a literal is dimensionless
    ("d ** t", {"d": M, "t": S}, None, 2),                         # a dimensional exponent, and a power unknown
])
def test_inconsistent_formulas(text, dims, target, violations):
    assert check(text, dims, target).violations == violations


def test_free_constants_absorb_a_unit_and_dimensionless_ones_do_not():
    dims = {"d": M, "t": S}
    # C * d + t: the constant can be a speed, so the sum is of two times
    assert check("C * d + t", dims, S).consistent
    assert check("C * d + t", dims, S, free_constants=False).violations == 1
    # sin(C * d): a constant in 1/m makes the angle dimensionless
    assert check("sin(C * d)", dims).consistent
    assert check("sin(C * d)", dims, free_constants=False).violations == 1
    # C * d has any dimension, so the target holds whatever it is; a dimensionless C keeps d's
    free = check("C * d", dims, S)
    assert free.consistent and free.dimension is None
    assert check("C * d", dims, S, free_constants=False).violations == 1
    assert check("C * d", dims, M, free_constants=False).consistent
    # a constant beside a length is a length; a dimensionless one is not
    assert check("d + C", dims, M).consistent
    assert check("d + C", dims, M, free_constants=False).violations == 1
    # under sqrt, square, cube a free argument stays free: sqrt(2 g h) with g written as a number
    assert check("sqrt(19.62 * d)", dims, M / S).consistent
    assert check("square(C * d) + t", dims, S).consistent
    assert check("sqrt(19.62 * d)", dims, M / S, free_constants=False).violations == 1


def test_a_fitted_exponent_counts_when_it_is_a_simple_fraction():
    dims = [M]
    three_halves = Expression(("pow", "x0", "C"), (1.5000000001,))
    assert check_dimensions(three_halves, dims, M**Fraction(3, 2)).consistent
    assert check_dimensions(three_halves, dims, M).violations == 1
    assert check_dimensions(Expression(("pow", "x0", "C"), (1.41421356,)), dims).violations == 1
    # before the fit the exponent is unknown: the power is left free, nothing is counted
    unfitted = check_dimensions(Expression(("pow", "x0", "C"), (1.41421356,)), dims, M, constant_values=False)
    assert unfitted.consistent and unfitted.dimension is None
    # a dimensionless base takes any exponent
    assert check_dimensions(Expression(("pow", "x0", "C"), (1.41421356,)), [DIMENSIONLESS], DIMENSIONLESS).consistent


def test_every_operator_has_a_rule_and_an_unknown_one_is_refused_by_name():
    assert set(ops.OPERATORS) <= set(RULES), sorted(set(ops.OPERATORS) - set(RULES))
    check_rules(list(ops.OPERATORS))
    for name, op in ops.OPERATORS.items():  # a unary rule for a unary operator, a binary one for a binary
        binary = RULES[name] in ("same", "product", "quotient", "power")
        assert binary == (op.arity == 2), name
    with pytest.raises(ExpressionError, match="operator 'erf' has no dimension rule"):
        rule("erf")
    with pytest.raises(ExpressionError, match="'erf'"):
        check_rules(["add", "erf"])


def test_a_variable_without_a_unit_is_an_error():
    with pytest.raises(ExpressionError, match="x1 has no unit"):
        check_dimensions(parse("x0 * x1"), [M])


def test_dimension_arithmetic_and_printing():
    assert str(NEWTON) == "m*kg/s^2"
    assert str(M ** Fraction(1, 2)) == "m^(1/2)"
    assert str(S**-1) == "1/s" and str(DIMENSIONLESS) == "1"
    assert str(JOULE / K) == "m^2*kg/(s^2*K)"
    assert (NEWTON / NEWTON).dimensionless
    with pytest.raises(ExpressionError, match="not an SI base unit"):
        Dimension.base("N")
    with pytest.raises(ExpressionError, match="7 exponents"):
        Dimension((1, 2))
