"""Black-box suites: real regression tables, no formula behind them.

SRBench's black-box track measures methods on real data sets (test R² against
model size) rather than on data generated from known formulas.  The suite
``blackbox`` is :data:`REGISTRY`: regression tables that ship inside
installed packages (scikit-learn's bundled data sets and
``statsmodels.datasets``), so nothing is downloaded at run time.  Each entry
names its target and feature columns; constant and ID columns (years used
as a row index, a firm's name), redundant derived columns (a square or a
product of two other columns) and other targets are left out, and every
choice is written in the entry's ``notes``.

A folder of CSV files is a suite too (:func:`load_folder`): without a
manifest every ``*.csv`` directly in the folder is a table whose *last*
column is the target; a manifest ``bench.toml`` in the folder names the
files, targets and features instead::

    [[table]]
    file = "houses.csv"                  # relative to the folder; nothing outside it is read
    target = "price"
    features = ["area", "rooms"]         # optional; default: every other column
    name = "houses"                      # optional; default: the file's stem
    description = "sale prices, 2024"    # optional

Every table is read with the rules of ``symdescent fit`` (:func:`symdescent.data.read_csv`: a header of
distinct names, numeric finite values, a non-constant target); constant feature columns are dropped.

Examples
--------
>>> suite = load_registry(["stackloss"])
>>> p = suite[0]
>>> p.id, p.target, p.names, p.X.shape
('stackloss', 'STACKLOSS', ('AIRFLOW', 'WATERTEMP', 'ACIDCONC'), (21, 3))
>>> p.truth_sympy() is None
True
"""

from __future__ import annotations

import csv
import importlib
import tomllib
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath, PureWindowsPath
from typing import Callable, Sequence

import numpy as np

from symdescent.errors import DataError, did_you_mean

MANIFEST = "bench.toml"
MIN_ROWS = 8  # a 75/25 split needs a few test rows and enough training rows for a constant and a slope
_MANIFEST_KEYS = ("file", "target", "features", "name", "description")


class UnsafeTablePathError(DataError):
    """A table path in a suite folder is absolute, holds ``..`` or resolves outside the folder."""


@dataclass(frozen=True)
class TableSpec:
    """A registered data set: where it comes from and which columns are used.

    Attributes
    ----------
    name : str
        The problem id in the suite, e.g. ``"longley"``.
    loader : str
        ``"statsmodels:MODULE"`` (``statsmodels.datasets.MODULE.load_pandas().data``) or
        ``"sklearn:FUNCTION"`` (``sklearn.datasets.FUNCTION(as_frame=True).frame``).
    target : str
        The column to predict.
    features : tuple of str
        The input columns, in order.
    rows : int
        Rows of the table (all of them are used).
    description : str
        What the table is.
    notes : str
        What was left out or derived, and why.
    """

    name: str
    loader: str
    target: str
    features: tuple[str, ...]
    rows: int
    description: str
    notes: str = ""

    @property
    def source(self) -> str:
        """The package that ships the table."""
        return {"statsmodels": "statsmodels", "sklearn": "scikit-learn"}[self.loader.partition(":")[0]]


_MONTHS = ("JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV")
_STAR98 = ("LOWINC", "PERASIAN", "PERBLACK", "PERHISP", "PERMINTE", "AVYRSEXP", "AVSALK", "PERSPENK", "PTRATIO",
           "PCTAF", "PCTCHRT", "PCTYRRND")

#: The ``blackbox`` suite, in alphabetical order.
REGISTRY: tuple[TableSpec, ...] = (
    TableSpec("anes96", "statsmodels:anes96", "PID", ("logpopul", "selfLR", "age", "educ", "income"), 944,
              "American National Election Survey 1996: party identification (0 strong Democrat to 6 strong "
              "Republican) of 944 voters", "statsmodels' own regressors; the votes and candidate placements "
              "(outcomes, not causes) and popul (logpopul kept) left out"),
    TableSpec("cancer", "statsmodels:cancer", "cancer", ("population",), 301,
              "breast-cancer deaths against the population at risk in 301 US counties"),
    TableSpec("ccard", "statsmodels:ccard", "AVGEXP", ("AGE", "INCOME", "OWNRENT"), 72,
              "average monthly credit-card expenditure of 72 card holders",
              "INCOMESQ left out: it is INCOME squared, which a formula can write"),
    TableSpec("committee", "statsmodels:committee", "BILLS104", ("SIZE", "SUBS", "STAFF", "PRESTIGE", "BILLS103"), 20,
              "bills assigned to each of 20 US House committees in the 104th Congress"),
    TableSpec("copper", "statsmodels:copper", "WORLDCONSUMPTION",
              ("COPPERPRICE", "INCOMEINDEX", "ALUMPRICE", "INVENTORYINDEX", "TIME"), 25,
              "world copper consumption over 25 years, with prices and an income index"),
    TableSpec("cpunish", "statsmodels:cpunish", "EXECUTIONS",
              ("INCOME", "PERPOVERTY", "PERBLACK", "VC100k96", "SOUTH", "DEGREE"), 17,
              "executions in 1997 in the 17 US states that carried any out"),
    TableSpec("danish_data", "statsmodels:danish_data", "lrm", ("lry", "lpy", "ibo", "ide"), 55,
              "Danish money demand, 1974-1987 quarterly: log real money against log real income, log prices "
              "and two interest rates"),
    TableSpec("diabetes", "sklearn:load_diabetes", "target",
              ("age", "sex", "bmi", "bp", "s1", "s2", "s3", "s4", "s5", "s6"), 442,
              "disease progression one year after baseline for 442 diabetes patients (scikit-learn's bundled, "
              "mean-centred and scaled copy)"),
    TableSpec("elnino", "statsmodels:elnino", "DEC", _MONTHS, 61,
              "December sea-surface temperature of the El Niño region from the 11 months before it, 1950-2010",
              "YEAR left out (a row index)"),
    TableSpec("engel", "statsmodels:engel", "foodexp", ("income",), 235,
              "Engel's food expenditure against household income of 235 Belgian working-class households"),
    TableSpec("fair", "statsmodels:fair", "affairs",
              ("rate_marriage", "age", "yrs_married", "children", "religious", "educ", "occupation",
                 "occupation_husb"), 6366,
              "time spent in extramarital affairs (Fair's 1977 survey of 6,366 women)",
              "occupation and occupation_husb are ordered codes 1-6, used as numbers as statsmodels' examples do"),
    TableSpec("grunfeld", "statsmodels:grunfeld", "invest", ("value", "capital"), 220,
              "gross investment of 11 US firms, 1935-1954, against firm value and capital stock",
              "firm (a name: an ID) and year (a row index) left out"),
    TableSpec("linnerud", "sklearn:load_linnerud", "Waist", ("Chins", "Situps", "Jumps"), 20,
              "waist size of 20 middle-aged men against three exercises they performed",
              "Weight and Pulse (the other two targets of the multi-output set) left out"),
    TableSpec("longley", "statsmodels:longley", "TOTEMP", ("GNPDEFL", "GNP", "UNEMP", "ARMED", "POP", "YEAR"), 16,
              "US total employment 1947-1962 (Longley's strongly collinear macro-economic table)"),
    TableSpec("macrodata", "statsmodels:macrodata", "realgdp",
              ("realcons", "realinv", "realgovt", "realdpi", "cpi", "m1", "tbilrate", "unemp", "pop", "infl",
                 "realint"), 203,
              "US real GDP 1959-2009 quarterly from consumption, investment, government spending and other "
              "macro-economic series", "year and quarter left out (a row index)"),
    TableSpec("nile", "statsmodels:nile", "volume", ("year",), 100,
              "annual flow of the Nile at Aswan, 1871-1970 (with a change point near 1898)"),
    TableSpec("randhie", "statsmodels:randhie", "mdvis",
              ("lncoins", "idp", "lpi", "fmde", "physlm", "disea", "hlthg", "hlthf", "hlthp"), 20190,
              "outpatient visits to a doctor in the RAND Health Insurance Experiment (20,190 person-years)"),
    TableSpec("scotland", "statsmodels:scotland", "YES", ("COUTAX", "UNEMPF", "MOR", "ACT", "GDP", "AGE"), 32,
              "share voting yes to tax-raising powers for the Scottish Parliament, 1997, in 32 council districts",
              "COUTAX_FEMALEUNEMP left out: the product of COUTAX and UNEMPF, which a formula can write"),
    TableSpec("stackloss", "statsmodels:stackloss", "STACKLOSS", ("AIRFLOW", "WATERTEMP", "ACIDCONC"), 21,
              "ammonia lost in 21 days of operation of a nitric-acid plant (Brownlee's stack loss data)"),
    TableSpec("star98", "statsmodels:star98", "PCTABOVE", _STAR98, 303,
              "share of students above the national median in maths, 303 Californian school districts, 1998",
              "PCTABOVE = NABOVE / (NABOVE + NBELOW), derived (the counts are the binomial response); the "
              "8 interaction columns left out, a formula can write them"),
    TableSpec("statecrime", "statsmodels:statecrime", "murder", ("urban", "poverty", "hs_grad", "single"), 51,
              "murders per 100,000 inhabitants in the 50 US states and DC, 2009",
              "statsmodels' own regressors; violent (another crime rate) and white left out"),
    TableSpec("strikes", "statsmodels:strikes", "duration", ("iprod",), 62,
              "duration in days of 62 US strikes against an index of industrial production"),
)


def _derive_star98(frame):
    return frame.assign(PCTABOVE=frame["NABOVE"] / (frame["NABOVE"] + frame["NBELOW"]))


#: Targets computed from the shipped columns, by data set name.
_DERIVED: dict[str, Callable] = {"star98": _derive_star98}


@dataclass(frozen=True, eq=False)
class TableProblem:
    """One real table of a black-box suite: features, target, and the data itself.

    The rows travel with the problem (to the Dask workers too), so a worker
    needs neither the package that ships the table nor the user's folder.

    Attributes
    ----------
    id : str
        The problem's id: the registry name, or the file's name in a folder.
    target : str
        The target column.
    names : tuple of str
        The feature columns, in order.
    X, y : numpy.ndarray
        All rows; :func:`symdescent.bench.data.make_dataset` splits them.
    source : str
        ``"statsmodels"``, ``"scikit-learn"`` or the CSV file's path.
    description, notes : str
        What the table is; what was left out.
    """

    id: str
    target: str
    names: tuple[str, ...]
    X: np.ndarray = field(repr=False)
    y: np.ndarray = field(repr=False)
    source: str = ""
    description: str = ""
    notes: str = ""

    @property
    def output(self) -> str:
        """The target's name (as :class:`~symdescent.bench.problems.BenchmarkProblem` calls it)."""
        return self.target

    def truth_sympy(self):
        """None: a real table has no ground-truth formula."""
        return None


def _frame(spec: TableSpec):
    """The table as a DataFrame, straight from the package that ships it."""
    kind, _, name = spec.loader.partition(":")
    if kind == "statsmodels":
        try:
            module = importlib.import_module(f"statsmodels.datasets.{name}")
        except ImportError as exc:
            from symdescent.errors import DependencyError

            raise DependencyError(f"data set {spec.name!r} ships with statsmodels, which is not installed "
                                  f"({exc}): pip install \"symdescent[bench]\"") from None
        frame = module.load_pandas().data
    else:
        import sklearn.datasets

        frame = getattr(sklearn.datasets, name)(as_frame=True).frame
    derive = _DERIVED.get(spec.name)
    return derive(frame) if derive else frame


def _finish(pid: str, X: np.ndarray, y: np.ndarray, names: Sequence[str], where: str):
    """Check what the estimator needs and drop constant features; returns X, y, names and a note."""
    from symdescent.data import check_X_y

    if X.shape[0] < MIN_ROWS:
        raise DataError(f"{where}: table {pid!r} has {X.shape[0]} rows; a 75/25 split needs at least {MIN_ROWS}")
    try:
        X, y, names = check_X_y(X, y, list(names))
    except DataError as exc:
        raise DataError(f"{where}: table {pid!r}: {exc}") from None
    keep = np.ptp(X, axis=0) > 0
    if not keep.any():
        raise DataError(f"{where}: every feature of table {pid!r} is constant: there is nothing to learn from")
    dropped = [n for n, k in zip(names, keep) if not k]
    note = f"constant column(s) {', '.join(dropped)} dropped" if dropped else ""
    return X[:, keep], y, tuple(n for n, k in zip(names, keep) if k), note


def load_table(spec: TableSpec) -> TableProblem:
    """Load a registered data set.

    Raises
    ------
    DataError
        When the shipped table no longer has the documented columns or rows
        (a changed package version), naming the data set.
    """
    frame = _frame(spec)
    where = f"data set {spec.name!r} ({spec.loader})"
    missing = [c for c in (spec.target, *spec.features) if c not in frame.columns]
    if missing:
        raise DataError(f"{where}: column(s) {', '.join(missing)} not in the shipped table "
                        f"(columns: {', '.join(map(str, frame.columns))})")
    if len(frame) != spec.rows:
        raise DataError(f"{where}: {len(frame)} rows, the registry says {spec.rows}")
    X = frame[list(spec.features)].to_numpy(dtype=float)
    y = frame[spec.target].to_numpy(dtype=float)
    X, y, names, note = _finish(spec.name, X, y, spec.features, where)
    notes = "; ".join(n for n in (spec.notes, note) if n)
    return TableProblem(spec.name, spec.target, names, X, y, spec.source, spec.description, notes)


def load_registry(names: Sequence[str] | None = None) -> list[TableProblem]:
    """Load the ``blackbox`` suite (or the named data sets of it, in registry order when ``names`` is None).

    Raises
    ------
    DataError
        For a name the registry does not have (with a did-you-mean).
    """
    by_name = {s.name: s for s in REGISTRY}
    for n in names or ():
        if n not in by_name:
            raise DataError(f"no data set {n!r} in the blackbox suite{did_you_mean(n, by_name)}")
    return [load_table(by_name[n]) for n in (names if names is not None else by_name)]


def confined(folder: Path, name, what: str) -> Path:
    """The path of file ``name`` inside ``folder``, refusing anything that could lie outside it.

    Raises
    ------
    UnsafeTablePathError
        Unless ``name`` is a relative path without ``..`` that, with every
        symlink resolved, lies inside ``folder``.

    Examples
    --------
    >>> confined(Path("."), "../secret.csv", "file")
    Traceback (most recent call last):
    ...
    symdescent.bench.tables.UnsafeTablePathError: file '../secret.csv' is not a path inside the suite folder ...
    """
    root = Path(folder).resolve()
    if not isinstance(name, str) or not name or "\x00" in name:
        raise UnsafeTablePathError(f"{what} must be a non-empty file name, got {name!r}")
    posix, windows = PurePosixPath(name), PureWindowsPath(name)
    if posix.is_absolute() or windows.anchor or ".." in posix.parts or ".." in windows.parts:
        raise UnsafeTablePathError(f"{what} {name!r} is not a path inside the suite folder {root} "
                                   "(absolute paths and '..' are refused)")
    path = (root / name).resolve()  # follows every symlink, of the file and of its folders
    if path == root or not path.is_relative_to(root):
        raise UnsafeTablePathError(f"{what} {name!r} resolves to {path}, outside the suite folder {root} "
                                   "(a symlink?); refused")
    return path


def _header(path: Path) -> list[str]:
    with path.open(newline="", encoding="utf-8-sig") as fh:
        for row in csv.reader(fh):
            if row and any(c.strip() for c in row):
                return [c.strip() for c in row]
    raise DataError(f"{path}: the file is empty; a table needs a header and rows")


def _user_table(folder: Path, entry: dict, where: str) -> TableProblem:
    from symdescent.data import read_csv

    path = confined(folder, entry.get("file"), f"{where}: file")
    if not path.is_file():
        raise DataError(f"{where}: file {entry['file']!r} not found in {folder}")
    target = entry.get("target") or _header(path)[-1]
    try:
        X, y, names = read_csv(path, target)
    except DataError as exc:  # read_csv names the file for some faults only
        raise (exc if str(path) in str(exc) else DataError(f"{where}: {exc}")) from None
    features = entry.get("features")
    if features is not None:
        if not isinstance(features, list) or not all(isinstance(f, str) for f in features) or not features:
            raise DataError(f"{where}: features must be a non-empty list of column names")
        index = {n: i for i, n in enumerate(names)}
        unknown = [f for f in features if f not in index]
        if unknown:
            raise DataError(f"{where}: no column {unknown[0]!r}{did_you_mean(unknown[0], index)} in {path.name}")
        X, names = X[:, [index[f] for f in features]], tuple(features)
    pid = str(entry.get("name") or Path(entry["file"]).stem)
    X, y, names, note = _finish(pid, X, y, names, where)
    return TableProblem(pid, target, names, X, y, str(path), str(entry.get("description", "")), note)


def _manifest_entries(folder: Path) -> list[dict]:
    manifest = folder / MANIFEST
    try:
        with open(manifest, "rb") as fh:
            doc = tomllib.load(fh)
    except tomllib.TOMLDecodeError as exc:
        raise DataError(f"{manifest}: not valid TOML: {exc}") from None
    extra = [k for k in doc if k != "table"]
    if extra:
        raise DataError(f"{manifest}: unknown key {extra[0]!r}{did_you_mean(extra[0], ['table'])}; "
                        "expected [[table]] entries")
    entries = doc.get("table")
    if not isinstance(entries, list) or not entries or not all(isinstance(e, dict) for e in entries):
        raise DataError(f"{manifest}: expected one or more [[table]] entries")
    for i, e in enumerate(entries, start=1):
        for key in e:
            if key not in _MANIFEST_KEYS:
                raise DataError(f"{manifest}, table {i}: unknown key {key!r}{did_you_mean(key, _MANIFEST_KEYS)}")
        if "file" not in e:
            raise DataError(f"{manifest}, table {i}: 'file' is required")
    return entries


def load_folder(folder: str | Path) -> list[TableProblem]:
    """Read a folder of tables: ``bench.toml``'s entries, or every ``*.csv`` with its last column as the target.

    Parameters
    ----------
    folder : str or Path

    Returns
    -------
    list of TableProblem
        In manifest order, or by file name.

    Raises
    ------
    UnsafeTablePathError
        For a manifest path that is absolute, holds ``..`` or resolves
        outside the folder (also a CSV that is a symlink to outside).
    DataError
        For a bad manifest, a table ``symdescent fit`` would refuse, fewer
        than 8 rows, or two tables with the same name.
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise DataError(f"suite folder not found: {folder}")
    if (folder / MANIFEST).is_file():
        entries = _manifest_entries(folder)
        where = [f"{folder / MANIFEST}, table {i}" for i in range(1, len(entries) + 1)]
    else:
        entries = [{"file": p.name} for p in sorted(folder.glob("*.csv"))]
        where = [str(folder / e["file"]) for e in entries]
        if not entries:
            raise DataError(f"suite folder {folder} holds no *.csv file and no {MANIFEST}")
    problems = [_user_table(folder, e, w) for e, w in zip(entries, where)]
    seen: set[str] = set()
    for p in problems:
        if p.id in seen:
            raise DataError(f"suite folder {folder}: two tables are named {p.id!r}; give one a 'name' in {MANIFEST}")
        seen.add(p.id)
    return problems
