"""The held-out suites: ``laws`` (written down from fields other than the Feynman lectures) and ``dimsynth``
(generated Buckingham-π style, symdescent/bench/dimsynth.py).

For both: every formula parses with the safe parser, is finite and not constant on 1,000 points of its ranges,
has a unit for every variable and the output and is dimensionally consistent under them; the laws are not the
shape of any Feynman formula; the shipped dimsynth files are what the generator writes from its seed.
"""

import csv
import itertools
from importlib import resources
from pathlib import Path

import numpy as np
import pytest
import sympy

from symdescent.bench import dimsynth
from symdescent.bench.problems import BenchmarkProblem, Variable, load_suite, select
from symdescent.cli import main
from symdescent.expr.units import check_dimensions
from symdescent.units import parse_unit

DATA = Path(str(resources.files("symdescent.bench") / "data"))
LAWS = load_suite("laws")
DIMSYNTH = load_suite("dimsynth")
SHAPES = load_suite("shapes")
ROOT = Path(__file__).resolve().parents[2]


def _rows(name):
    with open(DATA / f"{name}.csv", newline="", encoding="utf-8") as fh:
        return {r["Filename"]: r for r in csv.DictReader(fh)}


def _sample(p, n=1000, seed=0):
    rng = np.random.default_rng(seed)
    return rng.uniform([v.low for v in p.variables], [v.high for v in p.variables], size=(n, len(p.variables)))


def _consistent(p, free_constants):
    columns = [parse_unit(p.units[n]) for n in p.names]
    return check_dimensions(p.expression, columns, parse_unit(p.units[p.output]),
                            free_constants=free_constants).consistent


@pytest.mark.parametrize("suite, size, most", [(LAWS, (40, 60), 6), (DIMSYNTH, (40, 40), 5)], ids=["laws", "dimsynth"])
def test_each_formula_parses_is_finite_and_has_sane_ranges(suite, size, most):
    assert size[0] <= len(suite) <= size[1]
    assert len({p.id for p in suite}) == len(suite)
    for p in suite:
        assert 1 <= len(p.variables) <= most, p.id
        assert all(0 < v.low < v.high for v in p.variables), p.id
        assert set(p.expression.variables) == set(range(len(p.names))), f"{p.id}: a variable is not used"
        y = p.expression.evaluate(_sample(p))
        assert np.all(np.isfinite(y)), p.id
        assert np.std(y) > 1e-6 * np.mean(np.abs(y)), f"{p.id} is constant on its ranges"
        truth = p.truth_sympy()
        assert {s.name for s in truth.free_symbols} == set(p.names), p.id
        assert not truth.atoms(sympy.Float), f"{p.id}: the truth should hold exact numbers"


def test_the_shapes_are_not_sums_of_products_or_hide_their_columns():
    """``shapes``: every formula finite and varying on its ranges, and each either uses an operator outside
    the polynomial ones (the default operators have no ``tanh``: it must be built) or leaves a column unused
    (the irrelevant ones, which the description names)."""
    from symdescent.expr import ops

    polynomial = {"add", "sub", "mul", "neg", "square", "cube", "pow"}
    rows = _rows("shapes")
    assert len(SHAPES) == 12 and len({p.id for p in SHAPES}) == 12
    for p in SHAPES:
        y = p.expression.evaluate(_sample(p))
        assert np.all(np.isfinite(y)) and np.std(y) > 1e-3, p.id
        operators = {t for t in p.expression.tokens if ops.arity(t) > 0}
        unused = set(range(len(p.names))) - set(p.expression.variables)
        assert operators - polynomial or unused, p.id
        if unused:
            assert "irrelevant" in rows[p.id]["Description"] or " among " in rows[p.id]["Description"], p.id


@pytest.mark.parametrize("suite", [LAWS, DIMSYNTH, SHAPES], ids=["laws", "dimsynth", "shapes"])
def test_truth_sympy_agrees_with_the_parsed_formula(suite):
    for p in suite:
        X = _sample(p, 20, seed=1)
        syms = sorted(p.truth_sympy().free_symbols, key=lambda s: p.names.index(s.name))
        f = sympy.lambdify(syms, p.truth_sympy(), "numpy")
        cols = [X[:, p.names.index(s.name)] for s in syms]
        np.testing.assert_allclose(f(*cols) * np.ones(len(X)), p.expression.evaluate(X), rtol=1e-6, err_msg=p.id)


@pytest.mark.parametrize("suite", [LAWS, DIMSYNTH, SHAPES], ids=["laws", "dimsynth", "shapes"])
def test_every_variable_and_output_has_a_unit_and_every_formula_is_consistent(suite):
    broken = []
    for p in suite:
        assert set(p.units) == {*p.names, p.output}, p.id
        if not _consistent(p, free_constants=True):
            broken.append(f"{p.id}: {p.output} = {p.formula}")
    assert not broken, "\n".join(broken)


def test_a_law_s_numbers_are_pure_unless_its_dimensional_constants_are_listed():
    """With dimensionless constants a law is consistent exactly when the CSV lists no dimensional constant
    (R, g, sigma written as numbers), so that column says which numbers carry a unit."""
    rows = _rows("laws")
    for p in LAWS:
        listed = bool(rows[p.id]["Dimensional constants"].strip())
        assert _consistent(p, free_constants=False) != listed, (p.id, rows[p.id]["Dimensional constants"])


def test_every_law_names_its_field_and_law():
    rows = _rows("laws")
    fields = {r["Field"] for r in rows.values()}
    assert all(r["Field"].strip() and r["Law"].strip() for r in rows.values())
    assert len(fields) >= 8, fields  # chemistry, biology, engineering, pharmacology, finance, ... not one field


def test_dimsynth_formulas_are_consistent_with_dimensionless_constants():
    # by construction: c and k are pure numbers, pi is dimensionless, y's unit is the prefactor's
    assert all(_consistent(p, free_constants=False) for p in DIMSYNTH)


_C = sympy.Symbol("c")


def _shape(expr):
    """``expr`` with every number subtree one constant ``c``, constant factors dropped, rational exponents kept."""
    if not expr.free_symbols:
        return _C
    if expr.is_Pow and expr.exp.is_Rational:
        return sympy.Pow(_shape(expr.base), expr.exp)
    if not expr.args:
        return expr
    args = [_shape(a) for a in expr.args]
    if expr.is_Mul:
        args = [a for a in args if a != _C] or [_C]
    return expr.func(*args)


def _skeleton(p):
    shape = _shape(p.truth_sympy())
    names = tuple(sorted(shape.free_symbols - {_C}, key=lambda s: s.name))
    return shape, names, sympy.count_ops(shape, visual=True)


def _same_shape(a, b):
    """True when the two skeletons are equal up to a renaming of the variables (and constant values)."""
    (sa, na, fa), (sb, nb, fb) = a, b
    if len(na) != len(nb) or fa != fb:
        return False
    generic = sympy.symbols(f"v0:{len(nb)}", positive=True)
    target = sb.xreplace(dict(zip(nb, generic)))
    return any(sa.xreplace(dict(zip(perm, generic))) == target for perm in itertools.permutations(na))


@pytest.fixture(scope="module")
def feynman_skeletons():
    return [(f.id, _skeleton(f)) for f in load_suite("feynman")]


def _law(formula, *names):
    return BenchmarkProblem("probe", formula, tuple(Variable(n, 1.0, 2.0) for n in names))


def test_the_shape_check_finds_a_feynman_formula_in_disguise(feynman_skeletons):
    probes = {"II.2.42": _law("k*A*(T1 - T2)/d", "k", "A", "T1", "T2", "d"),  # heat conduction through a wall
              "I.43.16": _law("rho*v*Lc/mu", "rho", "v", "Lc", "mu"),  # the Reynolds number's shape
              "I.47.23": _law("sqrt(2*D*S/H)", "D", "S", "H")}  # the economic order quantity's
    for fid, probe in probes.items():
        shape = _skeleton(probe)
        assert fid in [i for i, s in feynman_skeletons if _same_shape(shape, s)], fid
    assert not any(_same_shape(_skeleton(_law("1 - Tc/Th", "Tc", "Th")), s) for _, s in feynman_skeletons)


def test_no_law_has_the_shape_of_a_feynman_formula(feynman_skeletons):
    laws = [(p.id, _skeleton(p)) for p in LAWS]
    clashes = [(pid, fid) for pid, law in laws for fid, s in feynman_skeletons if _same_shape(law, s)]
    assert not clashes


def test_the_shipped_dimsynth_files_are_what_the_generator_writes(tmp_path):
    suite, units = dimsynth.write_suite(dimsynth.generate(), tmp_path)
    assert suite.read_bytes() == (DATA / "dimsynth.csv").read_bytes()
    assert units.read_bytes() == (DATA / "dimsynth_units.csv").read_bytes()


def test_the_generator_is_deterministic_in_its_seed_and_the_seed_is_its_own():
    assert dimsynth.generate(seed=7, size=5) == dimsynth.generate(seed=7, size=5)
    assert dimsynth.generate(seed=7, size=5) != dimsynth.generate(seed=8, size=5)
    assert [f.formula for f in dimsynth.generate(size=3)] == [p.formula for p in DIMSYNTH[:3]]
    # the suite's seed appears in no other source file (training, tuning, other experiments)
    sources = [*ROOT.joinpath("symdescent").rglob("*.py"), *ROOT.joinpath("plugins").rglob("*.py"),
               *ROOT.joinpath("examples").rglob("*.toml")]
    users = [str(p.relative_to(ROOT)) for p in sources if str(dimsynth.SEED) in p.read_text(encoding="utf-8")]
    assert users == ["symdescent/bench/dimsynth.py"]


def test_dimsynth_has_a_group_for_every_shape_but_the_power_law():
    rows = _rows("dimsynth")
    shapes = {r["Shape"] for r in rows.values()}
    assert shapes <= {s.name for s in dimsynth.SHAPES} and len(shapes) >= 6
    for p in DIMSYNTH:
        functions = {"exp", "sin", "log", "tanh", "sqrt", "add"} & set(p.expression.tokens)
        assert (rows[p.id]["Shape"] == "power") == (not functions), p.id


def test_the_dimensionless_group_is_dimensionless():
    rng = np.random.default_rng(0)
    dims = [parse_unit(u) for u in ("m", "s", "m/s", "kg")]
    group = None
    while group is None:
        group = dimsynth.dimensionless_group(rng, dims)
    total = parse_unit("1")
    for d, b in zip(dims, group):
        total = total * d**b
    assert total.dimensionless and group[3] == 0 and sum(1 for b in group if b) >= 2
    assert dimsynth.dimensionless_group(rng, [parse_unit("m"), parse_unit("s")]) is None


@pytest.mark.parametrize("name", ["laws", "dimsynth"])
def test_select_and_the_cli_take_the_built_in_suites(name, tmp_path, capsys):
    suite = load_suite(name)
    assert [p.id for p in select(suite, limit=2)] == [p.id for p in suite[:2]]
    first = suite[0].id
    # the CLI loads the suite (its problem ids answer the did-you-mean) and stops before any run
    assert main(["bench", "--suite", name, "--problems", first + "x", "--out", str(tmp_path)]) == 2
    assert f"did you mean '{first}'" in capsys.readouterr().err
