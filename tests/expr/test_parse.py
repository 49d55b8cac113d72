import math
import re

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from symdescent.errors import ExpressionError
from symdescent.expr import Expression, parse
from symdescent.expr.generate import GrammarSampler


@pytest.mark.parametrize(
    "text, tokens",
    [
        ("m * v**2 / 2", ("div", "mul", "x0", "pow", "x1", "2", "2")),
        ("-x0**2", ("neg", "pow", "x0", "2")),
        ("(-x0)**2", ("pow", "neg", "x0", "2")),
        ("x0 - (x1 - x2)", ("sub", "x0", "sub", "x1", "x2")),
        ("x0^2^3", ("pow", "x0", "pow", "2", "3")),
        ("ln(x0) + arcsin(x1)", ("add", "log", "x0", "asin", "x1")),
        ("pow(x0, 3)", ("pow", "x0", "3")),
        ("exp(-x0) * pi", ("mul", "exp", "neg", "x0", "pi")),
        ("C * x0", ("mul", "C", "x0")),
    ],
)
def test_parse_tokens(text, tokens):
    names = ["m", "v"] if "m" in text else None
    assert parse(text, names).tokens == tokens


def test_numbers_become_constants_or_literals():
    e = parse("2.5 * x0 + 3 - 7")
    assert e.tokens == ("sub", "add", "mul", "C", "x0", "3", "C")
    assert e.constants == (2.5, 7.0)
    assert parse("-1.5 * x0").constants == (-1.5,)
    assert parse("-(1.5)").tokens == ("neg", "C")


def test_named_variables_shadow_placeholder():
    assert parse("C * m", ["C", "m"]).tokens == ("mul", "x0", "x1")


@pytest.mark.parametrize(
    "text, fragment",
    [
        ("", "empty"),
        ("x0 +", "expected a number"),
        ("(x0 + 1", "expected ')'"),
        ("x0 + 1)", "unexpected ')'"),
        ("foo(x0)", "unknown function 'foo'"),
        ("sinn(x0)", "did you mean 'sin'"),
        ("x0 $ 2", "unexpected character '$'"),
        ("sin(x0, x1)", "takes 1 argument"),
        ("pow(x0)", "pow takes 2 arguments"),
        ("__import__('os')", "unexpected character"),
        ("__import__(x0)", "unknown function '__import__'"),
        ("y * 2", "unknown name 'y'"),
        ("1e999", "not finite"),
        ("x0 x1", "unexpected 'x1'"),
        ("(" * 300 + "x0" + ")" * 300, "nested deeper"),
    ],
)
def test_malformed_strings_name_the_problem(text, fragment):
    with pytest.raises(ExpressionError, match=re.escape(fragment)):
        parse(text)


def test_unknown_variable_suggests():
    with pytest.raises(ExpressionError, match="did you mean 'theta'"):
        parse("thetta + 1", ["theta", "sigma"])


def test_non_string_is_rejected():
    with pytest.raises(ExpressionError, match="must be a string"):
        parse(3.0)


@settings(max_examples=1000, deadline=None)
@given(st.text(alphabet="x0123456789.eE+-*/^() ,sincoexplgqrtaupiC_", max_size=40))
def test_fuzz_parser_raises_only_its_own_error(text):
    try:
        e = parse(text)
    except ExpressionError:
        return
    assert isinstance(e, Expression)
    # whatever parses prints back to the same expression
    assert parse(e.to_infix()) == e


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=30))
def test_fuzz_parser_any_unicode(text):
    try:
        parse(text)
    except ExpressionError:
        pass


def test_round_trip_random_expressions(rng):
    sampler = GrammarSampler(n_variables=4, max_size=25)
    for _ in range(500):
        e = sampler.sample(rng)
        text = e.to_infix()
        back = parse(text)
        assert back.tokens == e.tokens, text
        assert all(math.isclose(a, b) for a, b in zip(back.constants, e.constants))


def test_round_trip_with_names_and_values(rng):
    names = ["m", "v", "theta"]
    sampler = GrammarSampler(n_variables=3, max_size=20)
    X = rng.uniform(0.5, 2, size=(20, 3))
    for _ in range(200):
        e = sampler.sample(rng)
        back = parse(e.to_infix(names), names)
        a, b = e.evaluate(X), back.evaluate(X)
        np.testing.assert_array_equal(np.isfinite(a), np.isfinite(b))
        np.testing.assert_allclose(a[np.isfinite(a)], b[np.isfinite(b)])
