"""``dimsynth``: a held-out suite of dimensionally homogeneous formulas, built Buckingham-π style.

Written for one test, the "LEE by default or not" comparison, so that neither
LEE's training nor any tuning has seen its distribution: a grammar of its own
(LEE's dimensional sampler, ``symdescent_lee.training.dimensional``, grows
trees top down over three base units with exponents -1, 0, 1; this builds
each formula whole from named SI quantities), its own seed (:data:`SEED`,
used nowhere else) and its own code.  Each formula is

    y = c · Π x_i^a_i · f(k · π),    π = Π x_i^b_i dimensionless,

where

* the 2 to 5 variables are SI quantities drawn from :data:`QUANTITIES`
  (a quantity may come twice: two lengths);
* π is a dimensionless group: an integer vector of the null space of the
  variables' dimension matrix (exact, sympy), exponents at most 3 in size;
* f is one of :data:`SHAPES` (``exp(-π)``, ``1/(1+π)``, ``sqrt(1+π)``,
  ``sin(π)``, ...) or none (a power law);
* the a_i are small rational exponents (1, -1, 2, 1/2, -1/2, 3/2, 1/3, ...),
  nonzero for every variable outside π, so every variable appears;
* y's unit is the product of the variables' units to the a_i: the formula
  is dimensionally consistent with dimensionless c and k;
* the ranges are positive, ``low`` between 0.1 and 10 and ``high`` 2 to 10
  times ``low``; k is one significant digit near 1 / median(π), so that f's
  argument is of order one, and a draw whose k·π spreads over more than two
  decades (or, under ``exp``, grows past a bound), or whose y is not finite
  or of sane size, is drawn again.

The suite ships as ``data/dimsynth.csv`` and ``data/dimsynth_units.csv``
(the AI Feynman layout and a units file, see
:mod:`symdescent.bench.problems`), written by
``python -m symdescent.bench.dimsynth --out symdescent/bench/data``;
a test regenerates them and compares byte for byte.

Examples
--------
>>> formulas = generate(size=2)
>>> [f.id for f in formulas]
['ds01', 'ds02']
>>> formulas == generate(size=2)
True
"""

from __future__ import annotations

import argparse
import csv
import math
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Sequence

import numpy as np

#: the suite's seed: used for this suite only, never for training or tuning
SEED = 20261201
#: formulas in the shipped suite
SIZE = 40
MIN_VARIABLES, MAX_VARIABLES = 2, 5
#: draws per formula before giving up (a formula needs a dimensionless group and sane values)
MAX_ATTEMPTS = 5000
#: rows sampled to set k and check a formula's values
ROWS = 1000
#: the largest sum of the prefactor's absolute exponents
MAX_DEGREE = 4
#: the share of draws whose group is a ratio of one quantity (two lengths) that is drawn again
RATIO_ACCEPTANCE = 0.6


@dataclass(frozen=True)
class Quantity:
    """An SI quantity a variable can be: the stem of its name and its unit."""

    stem: str
    unit: str


QUANTITIES: tuple[Quantity, ...] = tuple(Quantity(s, u) for s, u in (
    ("L", "m"), ("t", "s"), ("m", "kg"), ("T", "K"), ("I", "A"), ("n", "mol"), ("v", "m/s"), ("a", "m/s^2"),
    ("F", "N"), ("E", "J"), ("P", "W"), ("p", "Pa"), ("rho", "kg/m^3"), ("mu", "Pa*s"), ("nu", "m^2/s"),
    ("f", "Hz"), ("A", "m^2"), ("V", "m^3"), ("q", "C"), ("U", "V"), ("R", "Ohm"), ("kappa", "W/(m*K)"),
    ("cp", "J/(kg*K)"), ("h", "W/(m^2*K)"), ("Q", "m^3/s"), ("c", "mol/m^3"), ("k", "N/m"),
))


@dataclass(frozen=True)
class Shape:
    """f of the dimensionless group: ``template`` with ``{p}`` for k·π (None: no group, a power law);
    ``largest``: the bound on k·π's 95th percentile, where f would otherwise vanish (``exp(-100)``)."""

    name: str
    template: str | None
    largest: float = math.inf


SHAPES: tuple[Shape, ...] = (
    Shape("power", None), Shape("exp", "exp(-{p})", largest=8.0), Shape("rational", "(1 + {p})**(-1)"),
    Shape("sqrt", "sqrt(1 + {p})"), Shape("sin", "sin({p})"), Shape("log", "log(1 + {p})"),
    Shape("saturation", "{p}/(1 + {p})"), Shape("tanh", "tanh({p})"), Shape("linear", "(1 + {p})"),
    Shape("one_minus_exp", "(1 - exp(-{p}))"), Shape("gaussian", "exp(-{p}**2)", largest=3.0),
)

#: the prefactor's exponents, repeated by weight
EXPONENTS = tuple(Fraction(e) for e in ("1", "1", "1", "-1", "-1", "2", "-2", "3", "1/2", "-1/2", "3/2", "1/3",
                                        "2/3"))


@dataclass(frozen=True)
class Variable:
    """One input of a formula: its name, sampling range and unit."""

    name: str
    low: float
    high: float
    unit: str


@dataclass(frozen=True)
class Formula:
    """One generated problem: ``y = formula`` over ``variables``, ``y`` in ``output_unit``."""

    id: str
    shape: str
    formula: str
    variables: tuple[Variable, ...]
    output_unit: str


def _significant(x: float, digits: int) -> float:
    """``x`` rounded to ``digits`` significant digits."""
    return float(f"{x:.{digits}g}")


def _power_text(name: str, e: Fraction) -> str:
    if e == 1:
        return name
    return f"{name}**{e}" if e.denominator == 1 and e > 0 else f"{name}**({e})"


def _monomial(names: Sequence[str], exponents: Sequence[Fraction]) -> str:
    return "*".join(_power_text(n, e) for n, e in zip(names, exponents) if e)


def _names(quantities: Sequence[Quantity]) -> list[str]:
    """Stems, numbered 1, 2, ... where a stem comes more than once."""
    stems = [q.stem for q in quantities]
    seen: dict[str, int] = {}
    out = []
    for s in stems:
        seen[s] = seen.get(s, 0) + 1
        out.append(f"{s}{seen[s]}" if stems.count(s) > 1 else s)
    return out


def dimensionless_group(rng: np.random.Generator, dims: Sequence) -> list[int] | None:
    """Integer exponents b (at most 3 in size, two or more nonzero) with Π dims^b dimensionless, or None.

    A random combination of a basis of the null space of the dimension
    matrix (exact rationals), scaled to coprime integers.
    """
    import sympy

    matrix = sympy.Matrix([[sympy.Rational(e.numerator, e.denominator) for e in d.exponents] for d in dims]).T
    basis = matrix.nullspace()
    if not basis:
        return None
    while True:
        weights = rng.integers(-1, 2, size=len(basis))
        if weights.any():
            break
    vector = sum((int(w) * b for w, b in zip(weights, basis)), sympy.zeros(len(dims), 1))
    scale = math.lcm(*(sympy.fraction(x)[1] for x in vector))
    ints = [int(x * scale) for x in vector]
    divisor = math.gcd(*ints)
    ints = [x // divisor for x in ints]
    if sum(1 for x in ints if x) < 2 or max(abs(x) for x in ints) > 3:
        return None
    return ints


def _ranges(rng: np.random.Generator, n: int) -> list[tuple[float, float]]:
    out = []
    for _ in range(n):
        low = _significant(10 ** rng.uniform(-1.0, 1.0), 2)
        out.append((low, _significant(low * 10 ** rng.uniform(0.3, 1.0), 2)))
    return out


def _draw(rng: np.random.Generator, pid: str, shape: Shape) -> Formula | None:
    """One attempt at a formula of ``shape`` (None: drawn again)."""
    from symdescent.bench.problems import BenchmarkProblem
    from symdescent.bench.problems import Variable as SuiteVariable
    from symdescent.expr.units import Dimension
    from symdescent.units import parse_unit

    n = int(rng.integers(MIN_VARIABLES, MAX_VARIABLES + 1))
    quantities = [QUANTITIES[int(i)] for i in rng.integers(len(QUANTITIES), size=n)]
    dims = [parse_unit(q.unit) for q in quantities]
    group = dimensionless_group(rng, dims) if shape.template else [0] * n
    if group is None:
        return None
    used = {quantities[i] for i, b in enumerate(group) if b}
    if len(used) == 1 and rng.random() < RATIO_ACCEPTANCE:  # two of one quantity: the easy group, less often
        return None
    sign = -1 if rng.random() < 0.5 else 1
    group = [sign * b for b in group]
    exponents = [Fraction(0) if b and rng.random() < 0.6 else EXPONENTS[int(rng.integers(len(EXPONENTS)))]
                 for b in group]
    if sum(abs(e) for e in exponents) > MAX_DEGREE:
        return None
    names, ranges = _names(quantities), _ranges(rng, n)
    low, high = np.array(ranges).T
    X = rng.uniform(low, high, size=(ROWS, n))
    parts = []
    if rng.random() < 0.7:
        parts.append(repr(_significant(10 ** rng.uniform(-0.7, 1.0), 2)))
    if any(exponents):
        parts.append(_monomial(names, exponents))
    if shape.template:
        pi = np.prod(X ** np.array(group, dtype=float), axis=1)
        k = _significant(1.0 / float(np.median(pi)), 1)
        low_pi, high_pi = np.quantile(k * pi, [0.05, 0.95])
        if high_pi > 100 * low_pi or high_pi > shape.largest:
            return None
        parts.append(shape.template.format(p=f"({k!r}*{_monomial(names, [Fraction(b) for b in group])})"))
    output = Dimension()
    for d, e in zip(dims, exponents):
        output = output * d**e
    problem = BenchmarkProblem(pid, "*".join(parts), tuple(SuiteVariable(v, lo, hi) for v, (lo, hi) in
                                                             zip(names, ranges)))
    with np.errstate(all="ignore"):
        y = problem.expression.evaluate(X)
    size = float(np.median(np.abs(y))) if np.all(np.isfinite(y)) else float("nan")
    if not (1e-4 <= size <= 1e6) or np.std(y) <= 1e-6 * size or problem.expression.complexity > 30:
        return None
    variables = tuple(Variable(v, lo, hi, q.unit) for v, (lo, hi), q in zip(names, ranges, quantities))
    return Formula(pid, shape.name, problem.formula, variables, str(output))


def generate(seed: int = SEED, size: int = SIZE) -> list[Formula]:
    """The suite: ``size`` formulas drawn in turn from one generator seeded with ``seed``.

    Raises
    ------
    RuntimeError
        When a formula takes more than :data:`MAX_ATTEMPTS` draws (it does
        not for the shipped seed).
    """
    rng = np.random.default_rng(seed)
    out = []
    for i in range(size):
        pid = f"ds{i + 1:02d}"
        shape = SHAPES[int(rng.integers(len(SHAPES)))]
        for _ in range(MAX_ATTEMPTS):
            formula = _draw(rng, pid, shape)
            if formula is not None:
                out.append(formula)
                break
        else:
            raise RuntimeError(f"dimsynth: no valid formula {pid} in {MAX_ATTEMPTS} draws (seed {seed})")
    return out


def write_suite(formulas: Sequence[Formula], folder: str | Path, name: str = "dimsynth") -> tuple[Path, Path]:
    """Write ``NAME.csv`` (formulas, AI Feynman layout) and ``NAME_units.csv`` into ``folder``."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    width = max(len(f.variables) for f in formulas)
    head = ["Filename", "Shape", "Output", "Formula", "# variables"]
    head += [f"v{k}_{c}" for k in range(1, width + 1) for c in ("name", "low", "high")]
    suite, units = folder / f"{name}.csv", folder / f"{name}_units.csv"
    with open(suite, "w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh, lineterminator="\n")
        writer.writerow(head)
        for f in formulas:
            row = [f.id, f.shape, "y", f.formula, len(f.variables)]
            row += [x for v in f.variables for x in (v.name, repr(v.low), repr(v.high))]
            writer.writerow(row + [""] * (len(head) - len(row)))
    with open(units, "w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh, lineterminator="\n")
        writer.writerow(["Filename", "Variable", "Unit"])
        for f in formulas:
            writer.writerows([f.id, v.name, v.unit] for v in f.variables)
            writer.writerow([f.id, "y", f.output_unit])
    return suite, units


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m symdescent.bench.dimsynth [--out DIR] [--seed N] [--size N]``: write the suite's two files."""
    parser = argparse.ArgumentParser(prog="python -m symdescent.bench.dimsynth", description=__doc__.split("\n")[0])
    parser.add_argument("--out", default=".", help="folder for dimsynth.csv and dimsynth_units.csv (default .)")
    parser.add_argument("--seed", type=int, default=SEED, help=f"generator seed (default {SEED}, the shipped suite)")
    parser.add_argument("--size", type=int, default=SIZE, help=f"number of formulas (default {SIZE})")
    args = parser.parse_args(argv)
    for path in write_suite(generate(args.seed, args.size), args.out):
        print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
