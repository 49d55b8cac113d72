"""The PySR adapter without Julia: operators, guesses, PySR's equation table, the refiner's plumbing.

Nothing here imports pysr (that would start Julia); the e2e tests that run
PySR are in test_pysr_e2e.py.
"""

from __future__ import annotations

import math
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import sympy

from symdescent.config import Config, SearchConfig
from symdescent.errors import ExpressionError, PluginError
from symdescent.expr import Expression, ops, parse
from symdescent.registry import PluginContext, derive_rng
from symdescent.types import Candidate, Score, SearchState
from symdescent_pysr.config import PySRConfig
from symdescent_pysr.guesses import build_guesses, pysr_variable_names, to_guess
from symdescent_pysr.operators import translate_operators, untranslatable_vocabulary
from symdescent_pysr.parsing import EQUATION_COLUMNS, julia_to_infix, parse_equations, parse_row
from symdescent_pysr.plugin import PySRRefiner
from symdescent_pysr.signature import pysr_package_dir

NAMES = pysr_variable_names(3)  # what PySR sees for (v, theta, g)


# -- operators ---------------------------------------------------------------------

def test_every_symdescent_operator_has_a_pysr_counterpart():
    assert untranslatable_vocabulary() == ()
    t = translate_operators(ops.OPERATORS)
    assert t.untranslated == ()
    assert set(t.mapping) == set(ops.OPERATORS)


@pytest.mark.parametrize("name, pysr, arity", [
    ("add", "+", 2), ("sub", "-", 2), ("mul", "*", 2), ("div", "/", 2), ("pow", "^", 2),
    ("neg", "neg", 1), ("square", "square", 1), ("cube", "cube", 1), ("sqrt", "sqrt", 1), ("log", "log", 1),
    ("asin", "asin", 1), ("abs", "abs", 1), ("tanh", "tanh", 1),
])
def test_operator_translation(name, pysr, arity):
    t = translate_operators([name])
    assert t.mapping == {name: pysr}
    assert (t.binary_operators if arity == 2 else t.unary_operators) == (pysr,)


def test_translation_keeps_order_drops_duplicates_and_names_the_untranslatable():
    t = translate_operators(["mul", "sin", "add", "mul", "no_such_operator", "cube"])
    assert t.keywords() == {"binary_operators": ["*", "+"], "unary_operators": ["sin", "cube"]}
    assert t.untranslated == ("no_such_operator",)


def _ctx(config=None, operators=None, seed=7):
    search = SearchConfig(operators=tuple(operators)) if operators else SearchConfig()
    return PluginContext(name="pysr", role="refiner", config=config, seed=seed, rng=derive_rng(seed, "pysr"),
                         shared={}, search=Config(search=search))


def test_refiner_refuses_operators_pysr_lacks():
    with pytest.raises(PluginError, match="cannot use search.operators erf"):
        PySRRefiner(_ctx(operators=["add", "erf"]))
    # ...unless the section chooses PySR's operators itself
    PySRRefiner(_ctx(PySRConfig(pysr_keywords={"binary_operators": ["+"]}), operators=["add", "erf"]))


# -- guesses ------------------------------------------------------------------------

MAPPING = translate_operators(ops.OPERATORS).mapping


@pytest.mark.parametrize("infix, guess", [
    ("v**2 * sin(2 * theta) / g", "(((x0 ^ 2.0) * sin((2.0 * x1))) / x2)"),
    ("-v + 0.5 * g", "(neg(x0) + (0.5 * x2))"),
    ("v * -1.25", "(x0 * (-1.25))"),
    ("square(v) - cube(theta)", "(square(x0) - cube(x1))"),
    ("pi * sqrt(g) + exp(-theta)", "((3.141592653589793 * sqrt(x2)) + exp(neg(x1)))"),
    ("log(abs(v)) / asin(theta)", "(log(abs(x0)) / asin(x1))"),
])
def test_guess_strings_are_pysr_syntax(infix, guess):
    expr = parse(infix, ["v", "theta", "g"])
    text = to_guess(expr, MAPPING, NAMES)
    assert text == guess
    # Julia precedence equals ours on fully parenthesised text: it reads back as the same function
    back = parse(julia_to_infix(text), NAMES)
    X = np.random.default_rng(0).uniform(0.1, 0.9, size=(20, 3))
    np.testing.assert_allclose(back.evaluate(X), expr.evaluate(X), rtol=1e-12)


def test_guess_needs_pysr_operators_and_finite_constants():
    assert to_guess(parse("sin(x0)"), {"add": "+"}, NAMES) is None
    assert to_guess(Expression(("mul", "C", "x0"), (math.inf,)), MAPPING, NAMES) is None
    assert to_guess(parse("x5"), MAPPING, NAMES) is None  # no such column


def _cand(infix, value, origin="lee", valid=True):
    expr = parse(infix)
    return Candidate(expr, origin, Score(value, expr.complexity, value, 0.9, valid))


def test_build_guesses_best_first_distinct_and_bounded():
    cands = [
        _cand("x0 * x1", 3.0), _cand("x0 + x1", 1.0), _cand("x0 + x1", 1.0, origin="random"),
        _cand("x0 - x1", 0.5, origin="pysr"),  # PySR's own: already in its hall of fame
        _cand("x0 / x1", 0.1, valid=False),
        _cand("x0 * x1 * x2 * x0 * x1 * x2", 0.2),  # larger than maxsize
        _cand("sin(x0)", 2.0),
    ]
    out = build_guesses(cands, MAPPING, NAMES, limit=10, max_size=7)
    assert out == ["(x0 + x1)", "sin(x0)", "(x0 * x1)"]
    assert build_guesses(cands, MAPPING, NAMES, limit=1, max_size=7) == ["(x0 + x1)"]


# -- PySR's equation table ------------------------------------------------------------

def pysr_table() -> pd.DataFrame:
    """An ``equations_`` table as PySR 2.x returns it for (v, theta, g) -> R, names x0..x2.

    ``equation`` is SymbolicRegression.jl's string (outer brackets stripped,
    PySR's float preprocessing applied, one raw Julia Float32 left in),
    ``sympy_format`` what PySR builds from it, ``lambda_format`` a callable.
    """
    x0, x1, x2 = sympy.symbols("x0 x1 x2")
    rows = [
        (1, 310.2, "34.71", sympy.Float(34.71)),
        (3, 120.5, "x0 * 1.9999", sympy.Mul(x0, sympy.Float(1.9999), evaluate=False)),
        (5, 60.1, "square(x0) * 0.31", sympy.Mul(x0**2, sympy.Float(0.31), evaluate=False)),
        (6, 59.0, "neg(x0) * -0.5f0", sympy.Mul(-x0, sympy.Float(-0.5), evaluate=False)),
        (9, 1.1e-12, "((x0 * x0) * sin(x1 + x1)) / x2",
         sympy.Mul(sympy.Mul(x0, x0, evaluate=False) * sympy.sin(x1 + x1), 1 / x2, evaluate=False)),
        (10, 2.0, "erf(x0) * x2", sympy.erf(x0) * x2),  # an operator symdescent lacks
        (11, 3.0, "safe_pow(x0, 2.0) * 1.0e-5", sympy.Mul(x0**2.0, sympy.Float(1e-5), evaluate=False)),
    ]
    df = pd.DataFrame(rows, columns=["complexity", "loss", "equation", "sympy_format"])
    df["score"] = np.r_[0.0, -np.diff(np.log(df["loss"].to_numpy())) / np.diff(df["complexity"].to_numpy())]
    df["lambda_format"] = [lambda X: np.zeros(len(X)) for _ in rows]
    return df[list(EQUATION_COLUMNS)]


def test_equation_columns_match_the_installed_pysr():
    folder = pysr_package_dir()
    if folder is None:
        pytest.skip("pysr is not installed: pip install 'symdescent[pysr]'")
    sr = (folder / "sr.py").read_text()
    export = (folder / "export.py").read_text()
    for csv_name, col in (("Complexity", "complexity"), ("Loss", "loss"), ("Equation", "equation")):
        assert f'"{csv_name}": "{col}"' in sr
    assert '"score"' in sr
    assert '"sympy_format"' in export and '"lambda_format"' in export


def test_parse_pysr_table():
    table = pysr_table()
    parsed = parse_equations(table, NAMES, ops.OPERATORS)
    infix = [e.to_infix(["v", "theta", "g"]) for e in parsed.expressions]
    assert infix == ["34.71", "v * 1.9999", "square(v) * 0.31", "-v * (-0.5)", "v * v * sin(theta + theta) / g",
                     "v**2.0 * 1e-05"]
    assert [s[0] for s in parsed.skipped] == ["erf(x0) * x2"]
    assert "erf" in parsed.skipped[0][1]
    # the physics row is the projectile's range
    rng = np.random.default_rng(0)
    X = np.column_stack([rng.uniform(5, 30, 50), rng.uniform(0.1, 1.4, 50), rng.uniform(1.5, 25, 50)])
    truth = X[:, 0] ** 2 * np.sin(2 * X[:, 1]) / X[:, 2]
    np.testing.assert_allclose(parsed.expressions[4].evaluate(X), truth, rtol=1e-12)


def test_parse_row_falls_back_to_sympy_format_and_respects_the_operator_set():
    x0 = sympy.Symbol("x0")
    # Julia text the parser cannot read: the sympy object PySR built is used instead
    expr = parse_row("x0 ⋅ 2.5", sympy.Mul(x0, sympy.Float(2.5), evaluate=False), NAMES)
    assert expr.to_infix() == "2.5 * x0"
    # "square" is not allowed here; the sympy route gives pow instead
    expr = parse_row("square(x0)", sympy.Pow(x0, sympy.Float(2.0)), NAMES, allowed={"pow", "mul"})
    assert expr.tokens[0] == "pow"
    with pytest.raises(ExpressionError, match="outside the search's set"):
        parse_row("cos(x0)", None, NAMES, allowed={"sin"})
    with pytest.raises(ExpressionError, match="not a sympy expression"):
        parse_row("x0 ⋅ 2", "x0 * 2", NAMES)  # a raw string in sympy_format is never sympified


def test_parse_equations_needs_the_equation_column():
    with pytest.raises(ExpressionError, match="'equation' column"):
        parse_equations(pd.DataFrame({"complexity": [1]}), NAMES)


def test_julia_to_infix():
    assert julia_to_infix("neg(x0) + safe_sqrt(x1) * 2.5f-3") == "-(x0) + sqrt(x1) * 2.5e-3"
    assert julia_to_infix("negate(x0)") == "negate(x0)"


# -- the refiner's plumbing (no PySR run) ------------------------------------------------

def test_regressor_keywords_defaults():
    r = PySRRefiner(_ctx(PySRConfig(populations=4), seed=3))
    r.start(_Problem(3, 12), None)
    kw = r.regressor_keywords("/tmp/x")
    assert kw["binary_operators"] == ["+", "-", "*", "/", "^"]
    assert kw["unary_operators"] == ["neg", "sqrt", "exp", "log", "sin", "cos", "square", "cube"]
    assert (kw["random_state"], kw["deterministic"], kw["parallelism"]) == (3, True, "serial")
    assert kw["maxsize"] == 12 and kw["populations"] == 4 and kw["fraction_replaced_guesses"] == 0.05
    assert kw["temp_equation_file"] is True and kw["tempdir"] == "/tmp/x"
    assert (kw["verbosity"], kw["progress"]) == (0, False)
    assert "population_size" not in kw and "timeout_in_seconds" not in kw
    assert r.maxsize == 12
    r.start(_Problem(3, 5), None)
    assert r.maxsize == 7  # PySR's minimum


def test_regressor_keywords_pass_through_overrides():
    cfg = PySRConfig.from_section({
        "binary_operators": ["+", "*"], "parallelism": "multithreading", "precision": 64,
        "constraints": {"^": [-1, 1]}, "timeout_in_seconds": 3, "output_directory": "out",
    })
    r = PySRRefiner(_ctx(cfg))
    kw = r.regressor_keywords("/tmp/x")
    assert kw["binary_operators"] == ["+", "*"] and "unary_operators" not in kw
    assert kw["parallelism"] == "multithreading" and kw["deterministic"] is False
    assert kw["precision"] == 64 and kw["constraints"] == {"^": (-1, 1)}
    assert "timeout_in_seconds" not in kw  # applied per chunk
    assert kw["output_directory"] == "out" and "tempdir" not in kw


def test_chunk_timeout():
    r = PySRRefiner(_ctx(PySRConfig(timeout_margin=0.5)))
    assert r.chunk_timeout(math.inf, 10.0) is None  # iteration-bounded search: no clock, deterministic
    assert r.chunk_timeout(20.0, 10.0) == pytest.approx(9.5)
    capped = PySRRefiner(_ctx(PySRConfig.from_section({"timeout_in_seconds": 2})))
    assert capped.chunk_timeout(20.0, 10.0) == 2.0
    assert capped.chunk_timeout(math.inf, 10.0) == 2.0


def test_refine_without_time_left_does_not_start_pysr():
    r = PySRRefiner(_ctx(PySRConfig(min_chunk_seconds=1.0)))
    r.start(_Problem(3, 12), None)
    now = time.monotonic()
    state = SearchState(iteration=0, started=now, deadline=now + 0.8, max_iterations=None, n_evaluations=0,
                        front=(), best=None)
    assert r.refine(_Problem(3, 12), (), state) is None
    assert r.model is None and "pysr" not in sys.modules
    with pytest.warns(RuntimeWarning, match="the pysr refiner never ran: 1 iteration"):
        r.finish(None, None)


def test_read_results_returns_each_equation_once():
    r = PySRRefiner(_ctx())
    r.start(_Problem(3, 12), None)
    first = r.read_results(pysr_table(), ops.OPERATORS)
    assert len(first) == 6 and len(r.skipped) == 1
    assert r.read_results(pysr_table(), ops.OPERATORS) == []
    fresh = PySRRefiner(_ctx())
    fresh.start(_Problem(3, 12), None)
    assert [e.complexity for e in fresh.read_results(pysr_table(), ops.OPERATORS, max_complexity=4)] == [1, 3, 4, 4]


def test_finish_removes_the_temporary_folder(tmp_path):
    r = PySRRefiner(_ctx())
    folder = tmp_path / "pysr-out"
    folder.mkdir()
    r._tempdir = str(folder)
    r.finish(None, None)
    assert not Path(folder).exists()


class _Problem:
    """The two attributes the refiner's start hook reads."""

    def __init__(self, n_features, max_complexity):
        self.n_features = n_features
        self.max_complexity = max_complexity
