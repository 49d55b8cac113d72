"""The Feynman suite's units (symdescent/bench/data/feynman_units.csv) and the symdescent+units method.

The table check: every variable and output of the 100 problems has a unit, and each ground-truth formula is
dimensionally consistent under them, with free constants and with dimensionless ones (the formulas' numbers
are pure numbers), so a wrong unit in the table fails here.
"""

import pytest

from symdescent.bench.methods import SymdescentMethod, resolve_method
from symdescent.bench.problems import load_suite, select
from symdescent.bench.runner import Run, RunSettings, execute_run
from symdescent.errors import ConfigError, DataError
from symdescent.expr.units import check_dimensions
from symdescent.units import parse_unit

SUITE = load_suite("feynman")


def test_every_variable_and_output_of_every_problem_has_a_unit():
    assert len(SUITE) == 100
    for p in SUITE:
        assert set(p.units) == {*p.names, p.output}, p.id
        for name, unit in p.units.items():
            parse_unit(unit)  # a unit string the parser reads


@pytest.mark.parametrize("free_constants", [True, False], ids=["free constants", "dimensionless constants"])
def test_every_ground_truth_formula_is_dimensionally_consistent(free_constants):
    broken = []
    for p in SUITE:
        columns = [parse_unit(p.units[n]) for n in p.names]
        result = check_dimensions(p.expression, columns, parse_unit(p.units[p.output]),
                                  free_constants=free_constants)
        if not result.consistent:
            broken.append(f"{p.id}: {p.output} = {p.formula} ({result.violations} violation(s), "
                          f"dimension {result.dimension})")
    assert not broken, "\n".join(broken)


def test_the_check_catches_a_wrong_unit():
    p = select(SUITE, ids=["I.12.2"])[0]  # F = q1*q2*r/(4*pi*epsilon*r**3)
    columns = [parse_unit("m" if n == "epsilon" else p.units[n]) for n in p.names]
    assert not check_dimensions(p.expression, columns, parse_unit(p.units["F"]), free_constants=False).consistent


def _suite(tmp_path, units_text):
    (tmp_path / "mini.csv").write_text("Filename,Output,Formula,# variables,v1_name,v1_low,v1_high,v2_name,v2_low,"
                                       "v2_high\nP1,v,d/t,2,d,1,2,t,1,2\n")
    (tmp_path / "mini_units.csv").write_text("Filename,Variable,Unit\n" + units_text)
    return tmp_path / "mini.csv"


def test_a_suite_s_units_file_is_read_beside_it(tmp_path):
    (p,) = load_suite(_suite(tmp_path, "P1,d,m\nP1,t,s\nP1,v,m/s\n"))
    assert p.units == {"d": "m", "t": "s", "v": "m/s"}


@pytest.mark.parametrize("rows, words", [
    ("P2,d,m\n", ["row 2", "no problem 'P2'", "did you mean 'P1'?"]),
    ("P1,dd,m\n", ["has no variable or output 'dd'", "did you mean 'd'?"]),
    ("P1,d,m\nP1,d,m\n", ["row 3", "given twice"]),
    ("P1,d,mx\n", ["the unit of 'd' in P1 'mx'", "unknown unit 'mx'"]),
    ("P1,d,m\nP1,t,s\n", ["problem P1 has no unit for 'v'"]),
])
def test_a_bad_units_file_is_an_error_naming_the_row(tmp_path, rows, words):
    with pytest.raises(DataError) as info:
        load_suite(_suite(tmp_path, rows))
    for w in words:
        assert w in str(info.value), (w, str(info.value))


def test_the_units_method_variant():
    m = resolve_method("symdescent+units")
    assert isinstance(m, SymdescentMethod) and m.units and m.label == "symdescent+units"
    assert not resolve_method("symdescent").units
    p = select(SUITE, ids=["I.12.2"])[0]
    bound = m.for_problem(p)
    assert bound.X_units == ("C", "C", "F/m", "m") and bound.y_units == "N"
    plain = resolve_method("symdescent")
    assert plain.for_problem(p) is plain
    with pytest.raises(ConfigError, match=r"unknown method 'pyoperon\+units'"):
        resolve_method("pyoperon+units")


def test_a_units_run_on_a_problem_without_units_is_an_error_row(tmp_path):
    problem = load_suite(_suite(tmp_path, "P1,d,m\nP1,t,s\nP1,v,m/s\n"))[0]
    (tmp_path / "mini_units.csv").unlink()
    bare = load_suite(tmp_path / "mini.csv")[0]
    assert problem.units and not bare.units
    row = execute_run(Run(resolve_method("symdescent+units"), bare, 0, 0.0), RunSettings(budget=1.0, n_samples=40))
    assert row["status"] == "error" and "has no units" in row["message"]


def test_a_units_run_recovers_a_feynman_formula():
    problem = select(SUITE, ids=["I.12.1"])[0]  # F = mu * Nn
    row = execute_run(Run(resolve_method("symdescent+units"), problem, 0, 0.0),
                      RunSettings(budget=3.0, n_samples=200, simplify_timeout=10.0))
    assert row["status"] == "ok" and row["symbolic_solution"] is True, row
