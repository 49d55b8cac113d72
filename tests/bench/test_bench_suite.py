"""Problem suites: the shipped Feynman equations and users' own CSV files."""

import numpy as np
import pytest
import sympy

from symdescent.bench.problems import load_suite, select
from symdescent.errors import DataError

HEADER = "Filename,Number,Output,Formula,# variables,v1_name,v1_low,v1_high,v2_name,v2_low,v2_high\n"


@pytest.fixture(scope="module")
def feynman():
    return load_suite("feynman")


def test_feynman_has_100_problems_and_every_formula_parses(feynman):
    assert len(feynman) == 100
    assert len({p.id for p in feynman}) == 100
    for p in feynman:
        assert p.expression.complexity >= 1, p.id
        truth = p.truth_sympy()
        assert {s.name for s in truth.free_symbols} <= set(p.names), p.id
        assert all(s.is_positive for s in truth.free_symbols), p.id
        assert not truth.atoms(sympy.Float), f"{p.id}: truth should hold exact numbers"


def test_truth_sympy_agrees_with_the_parsed_formula(feynman):
    rng = np.random.default_rng(0)
    for p in feynman:
        X = rng.uniform([v.low for v in p.variables], [v.high for v in p.variables], size=(20, len(p.variables)))
        syms = sorted(p.truth_sympy().free_symbols, key=lambda s: p.names.index(s.name))
        f = sympy.lambdify(syms, p.truth_sympy(), "numpy")
        cols = [X[:, p.names.index(s.name)] for s in syms]
        np.testing.assert_allclose(f(*cols) * np.ones(len(X)), p.expression.evaluate(X), rtol=1e-9, err_msg=p.id)


def test_known_formulas(feynman):
    (p,) = select(feynman, ids=["I.6.2a"])
    assert p.names == ("theta",)
    theta = sympy.Symbol("theta", positive=True)
    assert sympy.simplify(p.truth_sympy() - sympy.exp(-theta**2 / 2) / sympy.sqrt(2 * sympy.pi)) == 0


def test_select_by_limit_and_ids(feynman):
    assert [p.id for p in select(feynman, limit=3)] == ["I.6.2a", "I.6.2", "I.6.2b"]
    assert [p.id for p in select(feynman, ids=["I.8.14", "I.6.2a"])] == ["I.8.14", "I.6.2a"]
    with pytest.raises(DataError, match="did you mean 'I.8.14'"):
        select(feynman, ids=["I.8.41"])


def test_user_suite(tmp_path):
    path = tmp_path / "mine.csv"
    path.write_text(HEADER + "kin,1,E,1/2*m*v**2,2,m,1,5,v,1,5\nlin,2,y,3*x+1,1,x,0,1,,,\n")
    suite = load_suite(path)
    assert [p.id for p in suite] == ["kin", "lin"]
    assert suite[1].names == ("x",)
    m, v = sympy.symbols("m v", positive=True)
    assert suite[0].truth_sympy() == m * v**2 / 2


@pytest.mark.parametrize("formula", ["__import__('os').system('true')", "x.real", "lambda: 1", "x; y"])
def test_formulas_are_read_by_the_safe_parser_never_evaluated(tmp_path, formula):
    path = tmp_path / "evil.csv"
    path.write_text(HEADER + f'bad,1,y,"{formula}",1,x,1,2,,,\n')
    with pytest.raises(DataError, match="bad"):
        load_suite(path)


def test_suite_errors(tmp_path):
    with pytest.raises(DataError, match="neither a built-in suite"):
        load_suite(tmp_path / "missing.csv")
    path = tmp_path / "s.csv"
    path.write_text(HEADER + "a,1,y,x,1,x,2,1,,,\n")
    with pytest.raises(DataError, match="low 2.0 >= high 1.0"):
        load_suite(path)
    path.write_text(HEADER + "a,1,y,x,1,x,1,2,,,\na,2,y,x,1,x,1,2,,,\n")
    with pytest.raises(DataError, match="appears twice"):
        load_suite(path)
    path.write_text("Filename,Formula\na,x\n")
    with pytest.raises(DataError, match="missing column"):
        load_suite(path)
