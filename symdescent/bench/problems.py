"""Problem suites: ground-truth formulas with sampling ranges.

A suite is a CSV file in the AI Feynman / SRBench format: columns
``Filename`` (the problem id), ``Output`` (the target's name), ``Formula``
(infix, sympy syntax), ``# variables``, then ``vK_name, vK_low, vK_high`` for
each variable K = 1, 2, ...  The AI Feynman equations ship with symdescent
(suite name ``feynman``), and so do two suites held out from LEE's training
and from all tuning: ``laws``, 60 laws from fields other than the Feynman
lectures (chemistry, biology, engineering, pharmacology, economics,
geoscience; a ``Field`` and a ``Law`` column name each one's source), and
``dimsynth``, 40 dimensionally homogeneous formulas from a generator of their
own (:mod:`symdescent.bench.dimsynth`); and ``shapes``, 12 formulas that are not sums of products
(a hyperbolic tangent, a softplus or a logistic function of a linear combination, differences and
ratios of rational terms, a Gaussian bump) or hide their few columns among irrelevant ones: the kinds
of real-data shape a search must fit with a small model.  Any other suite is a path to such a
file.  The black-box suites of real tables (``blackbox``, or a folder of CSV files)
come from :mod:`symdescent.bench.tables` through the same :func:`load_suite`.

Formulas are read with symdescent's safe parser
(:func:`symdescent.expr.parse`), never with ``eval`` or ``sympify``.

Units: a file ``NAME_units.csv`` beside a suite ``NAME.csv`` (columns
``Filename``, ``Variable``, ``Unit``: one row per variable and per output
of every problem) gives each problem its SI units
(:attr:`BenchmarkProblem.units`); every built-in suite of formulas has
one.  The Feynman suite ships with ``feynman_units.csv``: the dimensions of
every variable and output of the 100 equations (the physics of the Feynman
lectures; angles, ratios and counts are dimensionless, and ``n``, ``alpha``
are a number density and a polarisability volume where the formula says so).  The method
``symdescent+units`` (:mod:`symdescent.bench.methods`) searches with them.

Examples
--------
>>> suite = load_suite("feynman")
>>> len(suite)
100
>>> p = select(suite, ids=["I.12.1"])[0]
>>> p.names, p.truth_sympy()
(('mu', 'Nn'), Nn*mu)
>>> p.units
{'mu': '1', 'Nn': 'N', 'F': 'N'}
"""

from __future__ import annotations

import csv
import math
from dataclasses import dataclass, field, replace
from functools import cached_property
from importlib import resources
from pathlib import Path
from typing import Iterable, Sequence

from symdescent.errors import DataError, ExpressionError, did_you_mean
from symdescent.expr import Expression, parse

BUILTIN_SUITES = ("feynman", "laws", "dimsynth", "shapes", "blackbox")
#: the built-in suites of formulas, each a CSV file (and its units file) in ``symdescent/bench/data``
FORMULA_SUITES = ("feynman", "laws", "dimsynth", "shapes")
_REQUIRED = ("Filename", "Formula", "# variables")


@dataclass(frozen=True)
class Variable:
    """An input variable, sampled uniformly in ``[low, high]``."""

    name: str
    low: float
    high: float


@dataclass(frozen=True)
class BenchmarkProblem:
    """One ground-truth formula of a suite.

    Attributes
    ----------
    id : str
        The problem's id (the ``Filename`` column), e.g. ``"I.6.2a"``.
    formula : str
        The formula's text as written in the suite.
    variables : tuple of Variable
        Inputs in column order, with their sampling ranges.
    output : str
        The target's name.
    unit_pairs : tuple of (str, str)
        ``(name, unit string)`` of every variable and the output, from the
        suite's units file (empty without one); :attr:`units` as a dict.
    """

    id: str
    formula: str
    variables: tuple[Variable, ...]
    output: str = "y"
    unit_pairs: tuple[tuple[str, str], ...] = field(default=(), repr=False)

    @property
    def units(self) -> dict[str, str]:
        """``{name: unit}`` of every variable and the output (empty when the suite has no units file)."""
        return dict(self.unit_pairs)

    @property
    def names(self) -> tuple[str, ...]:
        """Variable names in column order."""
        return tuple(v.name for v in self.variables)

    @cached_property
    def expression(self) -> Expression:
        """The formula as a symdescent :class:`~symdescent.expr.Expression` (safe parser)."""
        return parse(self.formula, self.names)

    def truth_sympy(self):
        """The formula as sympy: positive symbols, exact rational numbers and ``pi``.

        Feynman ranges are positive, so positive symbols let sympy simplify
        ``sqrt(x**2)`` and similar when checking symbolic solutions.
        """
        import sympy

        from symdescent.bench.metrics import to_positive

        sexpr = self.expression.to_sympy(self.names)
        exact = {f: sympy.nsimplify(f, rational=True) for f in sexpr.atoms(sympy.Float)}
        return to_positive(sexpr.xreplace(exact))


def _suite_path(suite: str | Path) -> Path:
    if str(suite) in FORMULA_SUITES:
        return Path(str(resources.files("symdescent.bench") / "data" / f"{suite}.csv"))
    path = Path(suite)
    if not path.is_file():
        raise DataError(f"suite {str(suite)!r} is neither a built-in suite ({', '.join(BUILTIN_SUITES)}), a CSV "
                        "file of formulas nor a folder of tables")
    return path


def _number(row: dict, key: str, where: str) -> float:
    try:
        value = float(row[key])
    except (TypeError, ValueError):
        raise DataError(f"{where}: column {key!r} must be a number, got {row.get(key)!r}") from None
    if not math.isfinite(value):
        raise DataError(f"{where}: column {key!r} is not finite")
    return value


def _problem(row: dict, where: str) -> BenchmarkProblem:
    pid = (row.get("Filename") or "").strip()
    if not pid:
        raise DataError(f"{where}: empty Filename (problem id)")
    n = int(_number(row, "# variables", where))
    if n < 1:
        raise DataError(f"{where} ({pid}): '# variables' must be at least 1")
    variables = []
    for k in range(1, n + 1):
        name = (row.get(f"v{k}_name") or "").strip()
        if not name:
            raise DataError(f"{where} ({pid}): column v{k}_name is missing or empty")
        low, high = _number(row, f"v{k}_low", where), _number(row, f"v{k}_high", where)
        if not low < high:
            raise DataError(f"{where} ({pid}): variable {name!r} has low {low} >= high {high}")
        variables.append(Variable(name, low, high))
    problem = BenchmarkProblem(pid, (row.get("Formula") or "").strip(), tuple(variables),
                               (row.get("Output") or "y").strip() or "y")
    try:
        problem.expression  # parse now: a bad formula is an error of the suite file
    except (ExpressionError, DataError) as exc:
        raise DataError(f"{where} ({pid}): formula {problem.formula!r} does not parse: {exc}") from None
    return problem


def load_suite(suite: str | Path) -> list:
    """Read a suite: a built-in name, a CSV file of formulas or a folder of tables.

    Parameters
    ----------
    suite : str or Path
        ``"feynman"``, ``"laws"``, ``"dimsynth"`` or the path of a CSV file in the same format (ground
        truth: :class:`BenchmarkProblem`); ``"blackbox"`` or a folder of CSV
        tables (real data: :class:`~symdescent.bench.tables.TableProblem`,
        see :mod:`symdescent.bench.tables`).

    Returns
    -------
    list of BenchmarkProblem or TableProblem
        In file order (the black-box registry: alphabetical).

    Raises
    ------
    DataError
        For a missing file or column, a bad range, a duplicate id or a formula
        the safe parser rejects (naming the problem); for tables, see
        :func:`~symdescent.bench.tables.load_folder`.
    """
    if str(suite) == "blackbox" or Path(suite).is_dir():
        from symdescent.bench.tables import load_folder, load_registry

        return load_registry() if str(suite) == "blackbox" else load_folder(suite)
    path = _suite_path(suite)
    with open(path, newline="", encoding="utf-8") as fh:
        reader = csv.DictReader(fh)
        missing = [c for c in _REQUIRED if c not in (reader.fieldnames or ())]
        if missing:
            raise DataError(f"{path}: missing column(s) {', '.join(missing)}; expected the AI Feynman format")
        problems = [_problem(row, f"{path}, row {i + 2}") for i, row in enumerate(reader)]
    seen: set[str] = set()
    for p in problems:
        if p.id in seen:
            raise DataError(f"{path}: problem id {p.id!r} appears twice")
        seen.add(p.id)
    if not problems:
        raise DataError(f"{path}: the suite has no problems")
    units_path = path.with_name(f"{path.stem}_units.csv")
    if units_path.is_file():
        units = load_units(units_path, problems)
        problems = [replace(p, unit_pairs=units[p.id]) for p in problems]
    return problems


def load_units(path: Path, problems: Sequence[BenchmarkProblem]) -> dict[str, tuple[tuple[str, str], ...]]:
    """Read a suite's units file (``Filename,Variable,Unit``): for each problem id, ``(name, unit)`` of its
    variables and its output, in the problem's order.

    Raises
    ------
    DataError
        Naming the file and row: a missing column, an unknown problem or
        name (with a did-you-mean), a name given twice, a unit that cannot
        be read (:func:`symdescent.units.parse_unit`), or a problem whose
        variable or output has no unit.
    """
    from symdescent.units import parse_unit

    by_id = {p.id: p for p in problems}
    found: dict[str, dict[str, str]] = {pid: {} for pid in by_id}
    with open(path, newline="", encoding="utf-8") as fh:
        reader = csv.DictReader(fh)
        missing = [c for c in ("Filename", "Variable", "Unit") if c not in (reader.fieldnames or ())]
        if missing:
            raise DataError(f"{path}: missing column(s) {', '.join(missing)}; expected Filename,Variable,Unit")
        for i, row in enumerate(reader):
            where = f"{path}, row {i + 2}"
            pid, name, unit = ((row.get(k) or "").strip() for k in ("Filename", "Variable", "Unit"))
            if pid not in by_id:
                raise DataError(f"{where}: no problem {pid!r} in the suite{did_you_mean(pid, by_id)}")
            problem = by_id[pid]
            names = (*problem.names, problem.output)
            if name not in names:
                raise DataError(f"{where}: problem {pid} has no variable or output {name!r}"
                                f"{did_you_mean(name, names)}; it has {', '.join(names)}")
            if name in found[pid]:
                raise DataError(f"{where}: the unit of {name!r} in {pid} is given twice")
            parse_unit(unit, f"{where}: the unit of {name!r} in {pid}")
            found[pid][name] = unit
    out = {}
    for pid, problem in by_id.items():
        names = (*problem.names, problem.output)
        lacking = [n for n in names if n not in found[pid]]
        if lacking:
            raise DataError(f"{path}: problem {pid} has no unit for {', '.join(map(repr, lacking))}; give every "
                            f"variable and the output one (\"1\" for a dimensionless one)")
        out[pid] = tuple((n, found[pid][n]) for n in names)
    return out


def select(problems: Sequence[BenchmarkProblem], limit: int | None = None,
           ids: Iterable[str] | None = None) -> list[BenchmarkProblem]:
    """Pick problems by id (in the order given) and/or the first ``limit``.

    Raises
    ------
    DataError
        For an id the suite does not have (with a did-you-mean).
    """
    chosen = list(problems)
    if ids is not None:
        by_id = {p.id: p for p in problems}
        chosen = []
        for pid in ids:
            if pid not in by_id:
                raise DataError(f"no problem {pid!r} in the suite{did_you_mean(pid, by_id)}")
            chosen.append(by_id[pid])
    if limit is not None:
        if limit < 1:
            raise DataError(f"--limit must be at least 1, got {limit}")
        chosen = chosen[:limit]
    return chosen
