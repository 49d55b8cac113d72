"""Units of data columns: unit strings read into SI dimensions, and the units of one problem.

:func:`parse_unit` reads the usual notations, ``"kg*m/s^2"``, ``"m/s**2"``,
``"N m"``, ``"J/(kg*K)"``, ``"m^(1/2)"``, into a
:class:`~symdescent.expr.units.Dimension` (the exponents of ``m kg s A K mol
cd``); ``""`` and ``"1"`` are dimensionless.  Units are dimensions, not
magnitudes: prefixes and numbers are accepted and ignored (``km`` is a
length, ``g`` a mass, ``1000*m`` a length, ``degC`` a temperature).  The
symbols: the SI base and derived units (:data:`SYMBOLS`, with the SI
prefixes), a few accepted non-SI ones (``min h day L eV bar``,
dimensionless ``rad sr deg``), and their long names (``meter``, ``newtons``,
``kilogram``).  A string that cannot be read is an error naming it, the
position (counting from 0) and, for an unknown symbol, the closest known one.

The dimension analysis of formulas is the expression core's
(:mod:`symdescent.expr.units`); the search applies it (:mod:`symdescent.evaluation`).

Examples
--------
>>> str(parse_unit("kg*m/s^2")), str(parse_unit("J")), str(parse_unit("km/h")), str(parse_unit(""))
('m*kg/s^2', 'm^2*kg/s^2', 'm/s', '1')
>>> parse_unit("kg*m/sx^2")
Traceback (most recent call last):
...
symdescent.errors.DataError: unit 'kg*m/sx^2': unknown unit 'sx' at position 5; did you mean 's'? (known: ...)
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from fractions import Fraction
from typing import Mapping, Sequence

from symdescent.errors import ConfigError, DataError, SymdescentError, did_you_mean
from symdescent.expr.units import DIMENSIONLESS, Dimension


def _dim(m=0, kg=0, s=0, A=0, K=0, mol=0, cd=0) -> Dimension:
    return Dimension((m, kg, s, A, K, mol, cd))


_NEWTON = _dim(m=1, kg=1, s=-2)
_JOULE = _dim(m=2, kg=1, s=-2)
_VOLT = _dim(m=2, kg=1, s=-3, A=-1)

#: unit symbols and their dimensions; those in :data:`PREFIXABLE` also take an SI prefix (``km``, ``mA``, ``kJ``)
SYMBOLS: dict[str, Dimension] = {
    "m": _dim(m=1), "kg": _dim(kg=1), "g": _dim(kg=1), "s": _dim(s=1), "A": _dim(A=1), "K": _dim(K=1),
    "mol": _dim(mol=1), "cd": _dim(cd=1),
    "Hz": _dim(s=-1), "N": _NEWTON, "Pa": _dim(m=-1, kg=1, s=-2), "J": _JOULE, "W": _dim(m=2, kg=1, s=-3),
    "C": _dim(s=1, A=1), "V": _VOLT, "F": _dim(m=-2, kg=-1, s=4, A=2), "Ohm": _dim(m=2, kg=1, s=-3, A=-2),
    "S": _dim(m=-2, kg=-1, s=3, A=2), "Wb": _dim(m=2, kg=1, s=-2, A=-1), "T": _dim(kg=1, s=-2, A=-1),
    "H": _dim(m=2, kg=1, s=-2, A=-2), "lm": _dim(cd=1), "lx": _dim(m=-2, cd=1), "Bq": _dim(s=-1),
    "Gy": _dim(m=2, s=-2), "Sv": _dim(m=2, s=-2), "kat": _dim(s=-1, mol=1),
    "L": _dim(m=3), "eV": _JOULE, "bar": _dim(m=-1, kg=1, s=-2),
    "min": _dim(s=1), "h": _dim(s=1), "day": _dim(s=1), "degC": _dim(K=1), "°C": _dim(K=1),
    "rad": DIMENSIONLESS, "sr": DIMENSIONLESS, "deg": DIMENSIONLESS, "°": DIMENSIONLESS,
}
SYMBOLS["ohm"] = SYMBOLS["Ω"] = SYMBOLS["Ohm"]

#: the symbols an SI prefix may precede
PREFIXABLE = frozenset(SYMBOLS) - {"kg", "min", "h", "day", "degC", "°C", "deg", "°"}

#: SI prefixes (the scale is ignored; ``u``, ``µ`` and ``μ`` are all micro)
PREFIXES = ("da", "Y", "Z", "E", "P", "T", "G", "M", "k", "h", "d", "c", "m", "u", "µ", "μ", "n", "p", "f", "a",
            "z", "y")

#: long names, singular (a plural with a final ``s`` is accepted too); they take long prefixes (``kilometer``)
LONG_NAMES: dict[str, str] = {
    "meter": "m", "metre": "m", "gram": "g", "second": "s", "ampere": "A", "kelvin": "K", "mole": "mol",
    "candela": "cd", "hertz": "Hz", "newton": "N", "pascal": "Pa", "joule": "J", "watt": "W", "coulomb": "C",
    "volt": "V", "farad": "F", "ohm": "Ohm", "siemens": "S", "weber": "Wb", "tesla": "T", "henry": "H",
    "lumen": "lm", "lux": "lx", "becquerel": "Bq", "gray": "Gy", "sievert": "Sv", "katal": "kat",
    "liter": "L", "litre": "L", "electronvolt": "eV", "minute": "min", "hour": "h", "radian": "rad",
    "steradian": "sr", "degree": "deg", "dimensionless": "1",
}
LONG_PREFIXES = ("yotta", "zetta", "exa", "peta", "tera", "giga", "mega", "kilo", "hecto", "deca", "deka", "deci",
                 "centi", "milli", "micro", "nano", "pico", "femto", "atto", "zepto", "yocto")

MAX_NESTING = 32

_TOKEN = re.compile(r"\s*(?:(?P<number>\d+(?:\.\d*)?(?:[eE][-+]?\d+)?|\.\d+(?:[eE][-+]?\d+)?)"
                    r"|(?P<name>[^\W\d_][^\W\d]*|°C?|Ω|%)|(?P<op>\*\*|[*/^()·⋅+-]))")


def _lookup(name: str) -> Dimension | None:
    """The dimension of one symbol or long name, with a prefix or a plural; None when unknown."""
    if name in SYMBOLS:
        return SYMBOLS[name]
    low = name.lower()
    for word in (low, low[:-1] if low.endswith("s") else None):
        if word is None:
            continue
        if word in LONG_NAMES:
            return DIMENSIONLESS if LONG_NAMES[word] == "1" else SYMBOLS[LONG_NAMES[word]]
        for prefix in LONG_PREFIXES:
            rest = word[len(prefix):]
            if word.startswith(prefix) and rest in LONG_NAMES and LONG_NAMES[rest] != "1":
                return SYMBOLS[LONG_NAMES[rest]]
    for prefix in PREFIXES:
        rest = name[len(prefix):]
        if name.startswith(prefix) and rest in PREFIXABLE:
            return SYMBOLS[rest]
    return None


def _suggest(name: str, choices: Sequence[str]) -> str:
    """``"; did you mean 'x'?"``: a choice that differs only in case first (``Kg``: ``kg``), else the closest."""
    same_letters = [c for c in choices if c.lower() == name.lower()]
    if same_letters:
        return f"; did you mean {same_letters[0]!r}?"
    return did_you_mean(name, choices)


class _Reader:
    """A recursive-descent reader of one unit string (the grammar in :func:`parse_unit`)."""

    def __init__(self, text: str, where: str, error: type[SymdescentError]):
        self.text, self.where, self.error = text, where, error
        self.tokens: list[tuple[str, str, int]] = []
        pos = 0
        while pos < len(text):
            if text[pos:].strip() == "":
                break
            match = _TOKEN.match(text, pos)
            if match is None or match.end() == pos:
                at = pos + len(text[pos:]) - len(text[pos:].lstrip())
                self.fail(f"unexpected character {text[at]!r}", at)
            kind = match.lastgroup
            self.tokens.append((kind, match.group(kind), match.start(kind)))
            pos = match.end()
        self.i = 0

    def fail(self, problem: str, pos: int | None = None):
        at = f" at position {pos}" if pos is not None else ""
        raise self.error(f"{self.where} {self.text!r}: {problem}{at}")

    def peek(self) -> tuple[str, str, int] | None:
        return self.tokens[self.i] if self.i < len(self.tokens) else None

    def take(self) -> tuple[str, str, int]:
        tok = self.peek()
        if tok is None:
            self.fail("the unit ends too early (a factor is missing at the end)")
        self.i += 1
        return tok

    def product(self, depth: int) -> Dimension:
        out = self.power(depth)
        while True:
            tok = self.peek()
            if tok is None or tok[1] == ")":
                return out
            if tok[1] in ("*", "·", "⋅"):
                self.take()
                out = out * self.power(depth)
            elif tok[1] == "/":
                self.take()
                out = out / self.power(depth)
            elif tok[0] in ("name", "number") or tok[1] == "(":  # "N m": a space multiplies
                out = out * self.power(depth)
            else:
                self.fail(f"unexpected {tok[1]!r} (between two factors: *, / or a space)", tok[2])

    def power(self, depth: int) -> Dimension:
        base = self.atom(depth)
        tok = self.peek()
        if tok is not None and tok[1] in ("^", "**"):
            self.take()
            base = base ** self.exponent()
        return base

    def exponent(self) -> Fraction:
        kind, text, pos = self.take()
        if text == "(":
            k = self.signed_number()
            tok = self.peek()
            if tok is not None and tok[1] == "/":
                self.take()
                den_kind, den, den_pos = self.take()
                if den_kind != "number" or not den.isdigit() or int(den) == 0:
                    self.fail(f"expected a positive whole denominator, found {den!r}", den_pos)
                k = k / int(den)
            close = self.take()
            if close[1] != ")":
                self.fail(f"expected ')' to close the exponent, found {close[1]!r}", close[2])
            return k
        self.i -= 1
        return self.signed_number()

    def signed_number(self) -> Fraction:
        kind, text, pos = self.take()
        sign = 1
        if text in ("-", "+"):
            sign = -1 if text == "-" else 1
            kind, text, pos = self.take()
        if kind != "number":
            self.fail(f"expected a number as the exponent, found {text!r}", pos)
        return sign * Fraction(text)

    def atom(self, depth: int) -> Dimension:
        kind, text, pos = self.take()
        if kind == "number":
            if float(text) == 0 or not math.isfinite(float(text)):
                self.fail(f"a factor {text!r} is not a unit's scale", pos)
            return DIMENSIONLESS  # a scale: units, not magnitudes
        if kind == "name":
            if text == "%":
                return DIMENSIONLESS
            glued = self.peek()
            if glued is not None and glued[0] == "number" and glued[2] == pos + len(text):
                self.fail(f"a number right after {text!r} at position {glued[2]}: write {text}^{glued[1]} for a "
                          f"power")
            dim = _lookup(text)
            if dim is None:
                hint = _suggest(text, [*SYMBOLS, *LONG_NAMES])
                self.fail(f"unknown unit {text!r} at position {pos}{hint} (known: the SI units m kg s A K mol cd "
                          f"Hz N Pa J W C V F Ohm S Wb T H ... with SI prefixes, as km or mA; min h day L eV bar "
                          f"rad deg; long names, as meter or newton)")
            return dim
        if text == "(":
            if depth >= MAX_NESTING:
                self.fail(f"parentheses nested more than {MAX_NESTING} deep", pos)
            inner = self.product(depth + 1)
            if self.peek() is None:  # product stops only at ")" or the end
                self.fail(f"the '(' at position {pos} is never closed")
            self.take()
            return inner
        self.fail(f"expected a unit, a number or '(', found {text!r}", pos)


def parse_unit(text: str, where: str = "unit", error: type[SymdescentError] = DataError) -> Dimension:
    """Read a unit string into its SI dimension (see the module's docstring for the notations).

    Grammar: factors (a symbol, a number, or a parenthesised unit), each with
    an optional power ``^k`` or ``**k`` (``k`` an integer, a decimal such as
    ``0.5``, or ``(p/q)``, signed), joined by ``*``, ``/`` (left to right, as
    in Python: ``J/kg/K`` is ``J/(kg*K)``), ``·`` or a space.

    Parameters
    ----------
    text : str
    where : str
        What the string is, for the message (``"units.speed"``, ``"X_units[1]"``).
    error : type
        The error raised (:class:`~symdescent.errors.DataError` by default;
        a configuration's units raise :class:`~symdescent.errors.ConfigError`).

    >>> str(parse_unit("m/s**2")), str(parse_unit("J/(kg*K)")), str(parse_unit("Ohm")), str(parse_unit("1/s"))
    ('m/s^2', 'm^2/(s^2*K)', 'm^2*kg/(s^3*A^2)', '1/s')
    >>> parse_unit("m^", where="units.x")
    Traceback (most recent call last):
    ...
    symdescent.errors.DataError: units.x 'm^': the unit ends too early (a factor is missing at the end)
    """
    if not isinstance(text, str):
        raise error(f"{where}: a unit is a string such as \"kg*m/s^2\" (\"1\" or \"\" for none), got "
                    f"{type(text).__name__} {text!r}")
    reader = _Reader(text, where, error)
    if not reader.tokens:
        return DIMENSIONLESS
    out = reader.product(0)
    tok = reader.peek()
    if tok is not None:
        reader.fail(f"unexpected {tok[1]!r}", tok[2])
    return out


@dataclass(frozen=True)
class Units:
    """The declared units of one problem: the dimension of each column of ``X`` and the target's.

    Attributes
    ----------
    columns : tuple of Dimension
        One per column of ``X``, in column order.
    target : Dimension or None
        The target's (None: not declared; only the formula's own consistency is checked).
    """

    columns: tuple[Dimension, ...]
    target: Dimension | None = None


def resolve_units(names: Sequence[str], table: Mapping[str, str], target_name: str = "y",
                  error: type[SymdescentError] = DataError) -> Units | None:
    """The :class:`Units` a ``[units]`` table gives the columns ``names`` and the target ``target_name``.

    None for an empty table (no units: the search runs as without them).
    Otherwise every column needs a unit (``"1"`` for a dimensionless one);
    the target's may be left out.  A key that names neither a column nor the
    target is an error with a did-you-mean, as is a target named like a
    column of ``X`` when the table holds that name.

    >>> u = resolve_units(["d", "t"], {"d": "m", "t": "s", "v": "m/s"}, target_name="v")
    >>> [str(c) for c in u.columns], str(u.target)
    (['m', 's'], 'm/s')
    """
    if not table:
        return None
    names = [str(n) for n in names]
    known = [*names, target_name]
    for key in table:
        if key not in known:
            raise error(f"units: no column {key!r}{_suggest(key, known)}; the columns are "
                        f"{', '.join(map(repr, names))} and the target {target_name!r}")
    if target_name in names and target_name in table:
        raise error(f"units: {target_name!r} is both a column of X and the target's name; rename the column")
    missing = [n for n in names if n not in table]
    if missing:
        raise error(f"units: no unit for the column(s) {', '.join(map(repr, missing))}; give every column of X a "
                    f"unit (\"1\" for a dimensionless one), or none at all")
    columns = tuple(parse_unit(table[n], f"units.{n}", error) for n in names)
    target = parse_unit(table[target_name], f"units.{target_name}", error) if target_name in table else None
    return Units(columns, target)


def units_table(names: Sequence[str], X_units: Sequence[str] | None, y_units: str | Sequence[str] | None,
                target_names: Sequence[str], where: str = "SymbolicRegressor") -> dict[str, str]:
    """A ``[units]`` table from units given by position, as the estimator takes them.

    ``X_units`` holds one unit per column of ``X`` (in order), ``y_units``
    one unit (for every output) or one per output, named ``target_names``.
    A wrong count or a unit that cannot be read is a
    :class:`~symdescent.errors.ConfigError` naming the parameter.

    >>> units_table(["d", "t"], ["m", "s"], "m/s", ["y"])
    {'d': 'm', 't': 's', 'y': 'm/s'}
    """
    table: dict[str, str] = {}
    if X_units is not None:
        if len(X_units) != len(names):
            raise ConfigError(f"{where}: X_units has {len(X_units)} unit(s) for the {len(names)} column(s) of X "
                              f"({', '.join(map(repr, names))})")
        for i, (name, unit) in enumerate(zip(names, X_units)):
            parse_unit(unit, f"{where}: X_units[{i}] (column {name!r})", ConfigError)
            table[str(name)] = unit
    if y_units is not None:
        several = not isinstance(y_units, str)
        units = list(y_units) if several else [y_units] * len(target_names)
        if len(units) != len(target_names):
            raise ConfigError(f"{where}: y_units has {len(units)} unit(s) for {len(target_names)} output(s); give "
                              f"one string for all, or one per output")
        for j, (target, unit) in enumerate(zip(target_names, units)):
            parse_unit(unit, f"{where}: y_units" + (f"[{j}]" if several else ""), ConfigError)
            table[target] = unit
    return table


__all__ = ["LONG_NAMES", "PREFIXES", "SYMBOLS", "Units", "parse_unit", "resolve_units", "units_table"]
