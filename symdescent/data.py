"""Validation of user data: arrays, DataFrames and CSV files.

Every problem is reported as a :class:`~symdescent.errors.DataError` that
names it (shape, NaN with its position, a non-numeric column), before any
search starts.

Data is validated once per entry point.  :func:`check_X_y` (one target),
:func:`check_X_Y` (one or several) and :func:`read_csv` return
:class:`TrainingData`, which :class:`~symdescent.search.Search` takes as it
is (``Search(data, None)``): the estimator's ``fit`` and ``symdescent fit``
validate and hand it on, while ``Search(X, y)`` given raw data validates it
itself.

scikit-learn's :func:`~sklearn.utils.validation.check_array` reads the
arrays (NumPy, lists, DataFrames with pandas' own dtypes) into float64 and
checks the minimum numbers of samples and features, with its messages; the
checks here add what it does not tell or does not place: the column that is
not numeric, the row and column of a NaN, shapes, a constant ``y``, variable
names and the float64 range.
"""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import NamedTuple, Sequence

import numpy as np

from symdescent.errors import DataError, DataTypeError, ExpressionError
from symdescent.expr.parse import check_variable_names


class TrainingData(NamedTuple):
    """Validated training data: float64 ``X`` (n, d) and ``y`` (n,), and the variable names of ``X``'s columns.

    Made by :func:`check_X_y`, :func:`check_X_Y` and :func:`read_csv`;
    :class:`~symdescent.search.Search` takes one in place of ``X`` (with
    ``y=None``) without validating it again, so build it only with them.
    It unpacks as ``X, y, names = data``.
    """

    X: np.ndarray
    y: np.ndarray
    names: tuple[str, ...]


def check_column_names(names: Sequence[str]) -> dict[str, int]:
    """:func:`~symdescent.expr.parse.check_variable_names` for columns of data: a refused name is a DataError."""
    try:
        return check_variable_names(names)
    except ExpressionError as exc:
        raise DataError(str(exc)) from None


def _first_bad(a: np.ndarray) -> str:
    bad = np.argwhere(~np.isfinite(a))[0]
    kind = "NaN" if np.isnan(a[tuple(bad)]) else "inf"
    where = f"row {bad[0]}" + (f", column {bad[1]}" if a.ndim == 2 else "")
    return f"{kind} at {where}"


def _check_frame(a, what: str) -> bool:
    """For a DataFrame or Series: refuse repeated column names and name a column that is not numeric.

    Returns whether ``a`` is one (scikit-learn's ``check_array`` then reads it, with pandas' own dtypes).
    """
    import pandas as pd

    if not isinstance(a, (pd.DataFrame, pd.Series)):
        return False
    frame = a.to_frame() if isinstance(a, pd.Series) else a
    check_unique_columns(frame.columns, what)
    for col in frame.columns:
        dtype = frame[col].dtype
        if pd.api.types.is_complex_dtype(dtype):
            raise DataError(f"Complex data not supported: {what} column {col!r} holds complex numbers")
        if not (pd.api.types.is_numeric_dtype(dtype) or pd.api.types.is_bool_dtype(dtype)):
            raise DataError(f"{what} column {col!r} is not numeric (dtype {dtype})")
    return True


def _as_float(a, what: str) -> np.ndarray:
    """``a`` as a new float64 array of its own shape, read by scikit-learn's ``check_array``.

    What cannot be read is a DataError saying why: a sparse matrix, ragged
    rows, complex numbers, dates, or values that are not numbers (a
    :class:`~symdescent.errors.DataTypeError`, with the value).
    """
    from scipy.sparse import issparse
    from sklearn.utils.validation import check_array

    if issparse(a):
        raise DataError(f"{what} is a sparse matrix; pass a dense array")
    if not _check_frame(a, what):
        try:
            a = np.asarray(a)
        except (ValueError, TypeError) as exc:
            raise DataError(f"{what} cannot be read as an array: {exc}") from None
        if a.dtype.kind == "c" or (a.dtype.kind == "O" and any(isinstance(v, complex) for v in a.ravel()[:1000])):
            raise DataError(f"Complex data not supported: {what} contains complex numbers")
        if a.dtype.kind not in "biufOUSV":
            raise DataError(f"{what} has unsupported dtype {a.dtype}")
    try:  # shapes and sizes are checked by the callers, with their own messages
        return check_array(a, dtype=np.float64, copy=True, ensure_2d=False, allow_nd=True, ensure_all_finite=False,
                           ensure_min_samples=0, ensure_min_features=0, input_name=what)
    except (ValueError, TypeError) as exc:
        dtype = f" (dtype {a.dtype})" if hasattr(a, "dtype") else ""
        raise DataTypeError(f"{what} contains non-numeric values{dtype}: {exc}") from None


def check_unique_columns(columns, what: str) -> None:
    """A DataFrame whose column names repeat cannot be matched by name: refuse it."""
    names = list(columns)
    seen: dict = {}
    for i, c in enumerate(names):
        seen.setdefault(c, []).append(i)
    repeated = {c: where for c, where in seen.items() if len(where) > 1}
    if repeated:
        c, where = next(iter(repeated.items()))
        more = f" (and {len(repeated) - 1} more repeated name(s))" if len(repeated) > 1 else ""
        raise DataError(f"{what} has duplicate column names: {c!r} is the name of columns "
                        f"{', '.join(map(str, where))}{more}; give each column its own name")


def frame_names(X) -> list[str] | None:
    """Column names of a DataFrame when every one is a string (scikit-learn's rule), else None.

    The names are used as they are, whatever their text (``mass (kg)``): they
    are checked by :func:`~symdescent.expr.parse.check_variable_names`, as the
    CSV reader's are, and never silently replaced by ``x0``, ``x1``, ...
    Integer column labels (a frame made from an array) give None: ``x0``, ``x1``, ...
    """
    cols = getattr(X, "columns", None)
    if cols is None or not all(isinstance(c, str) for c in cols):
        return None
    return list(cols)


def check_X(X, min_samples: int = 1) -> np.ndarray:
    """Validate a feature matrix: 2-D, numeric, finite, at least ``min_samples`` rows and one column.

    Returns a new float64 array.  Too few rows or columns are scikit-learn's
    ``check_array`` messages (those its estimator checks look for), in a
    :class:`~symdescent.errors.DataError`.

    Examples
    --------
    >>> check_X([[1, 2], [3, 4]]).dtype
    dtype('float64')
    >>> check_X([[1.0, float("nan")]])
    Traceback (most recent call last):
    ...
    symdescent.errors.DataError: X contains NaN at row 0, column 1; remove or impute non-finite values
    """
    from sklearn.utils.validation import check_array

    arr = _as_float(X, "X")
    if arr.ndim != 2:
        hint = ". Reshape your data: X.reshape(-1, 1) for a single feature" if arr.ndim == 1 else ""
        raise DataError(f"X must be 2-D (n_samples, n_features), got shape {arr.shape}{hint}")
    try:
        check_array(arr, dtype=None, copy=False, ensure_all_finite=False, ensure_min_samples=min_samples,
                    ensure_min_features=1)
    except ValueError as exc:
        raise DataError(f"X: {exc}") from None
    if not np.isfinite(arr).all():
        raise DataError(f"X contains {_first_bad(arr)}; remove or impute non-finite values")
    return arr


def _features(X, variable_names: Sequence[str] | None) -> tuple[np.ndarray, tuple[str, ...]]:
    """``X`` checked for a fit (at least 2 rows), and its variable names, checked."""
    names = list(variable_names) if variable_names is not None else frame_names(X)
    Xa = check_X(X, min_samples=2)
    if names is None:
        names = [f"x{i}" for i in range(Xa.shape[1])]
    if len(names) != Xa.shape[1]:
        raise DataError(f"{len(names)} variable name(s) given for {Xa.shape[1]} column(s) of X")
    check_column_names(names)
    _check_range([(f"X column {j} ({names[j]!r})", peak) for j, peak in enumerate(np.max(np.abs(Xa), axis=0))])
    return Xa, tuple(str(n) for n in names)


def _targets(y, n_samples: int, *, several: bool) -> tuple[list[np.ndarray], tuple[int, ...]]:
    """The target's columns as float64 vectors, and the target's shape.

    One column for ``y`` of shape (n,) or (n, 1); k for (n, k) when ``several``.
    """
    if y is None:  # the words scikit-learn's estimator check (check_requires_y_none) looks for
        raise DataError("a fit requires y to be passed, but the target y is None")
    ya = _as_float(y, "y")
    if ya.ndim == 1:
        columns = [ya]
    elif ya.ndim == 2 and (ya.shape[1] == 1 or several):
        columns = [np.ascontiguousarray(ya[:, j]) for j in range(ya.shape[1])]
    elif several:
        raise DataError(f"y must be 1-D (n_samples,) or 2-D (n_samples, n_outputs), got shape {ya.shape}")
    else:
        raise DataError(f"y must be 1-D (n_samples,), got shape {ya.shape}; one target at a time (SymbolicRegressor "
                        f"also takes (n_samples, n_outputs): one search per column)")
    if ya.shape[0] != n_samples:
        raise DataError(f"X has {n_samples} samples but y has {ya.shape[0]}")
    if not columns:
        raise DataError(f"y has no column (shape {ya.shape}): give at least one target")
    for j, col in enumerate(columns):
        what = "y" if len(columns) == 1 else f"y column {j}"
        if not np.isfinite(col).all():
            raise DataError(f"{what} contains {_first_bad(col)}; remove or impute non-finite values")
        if np.ptp(col) == 0:
            raise DataError(f"{what} is constant (every value is {float(col[0])!r}): there is nothing to explain")
        _check_range([(what, float(np.max(np.abs(col))))])
        if not np.var(col) >= np.finfo(float).tiny:
            raise DataError(f"{what} varies too little (variance {np.var(col):.3g}) for float64 to score a fit; "
                            f"{_RESCALE}")
    return columns, ya.shape


def check_X_y(X, y=None, variable_names: Sequence[str] | None = None) -> TrainingData:
    """Validate training data with one target; return float arrays and the variable names.

    ``X`` may be a :class:`TrainingData` (``y`` and ``variable_names`` then
    None): it is returned as it is, validated already.

    Raises
    ------
    DataError
        For wrong shapes, mismatched lengths, fewer than 2 samples, non-numeric
        or non-finite values, constant ``y``, bad variable names and data
        outside :data:`SCALE_RANGE`.

    Examples
    --------
    >>> X, y, names = check_X_y([[1, 2], [2, 3], [3, 5]], [3, 5, 8], ["a", "b"])
    >>> X.shape, y.tolist(), names
    ((3, 2), [3.0, 5.0, 8.0], ('a', 'b'))
    >>> data = check_X_y([[1.0], [2.0]], [1.0, 3.0])
    >>> check_X_y(data) is data
    True
    """
    if isinstance(X, TrainingData):
        if y is not None or variable_names is not None:
            raise TypeError("a TrainingData holds y and the variable names: pass y=None and no variable_names")
        return X
    Xa, names = _features(X, variable_names)
    (ya,), _ = _targets(y, Xa.shape[0], several=False)
    return TrainingData(Xa, ya, names)


def check_X_Y(X, Y, variable_names: Sequence[str] | None = None) -> list[TrainingData]:
    """Validate training data with one target or several: a :class:`TrainingData` per column of ``Y``.

    ``Y`` of shape (n,) or (n, 1) is one target, (n, k) k targets; ``X`` is
    validated once, and every column before any search starts.  A column
    vector (n, 1) gets scikit-learn's ``DataConversionWarning`` (it is
    raveled), as a scikit-learn estimator's ``fit`` gives it.

    Examples
    --------
    >>> X = [[1.0, 2.0], [2.0, 1.0], [3.0, 3.0]]
    >>> [d.y.tolist() for d in check_X_Y(X, [[1, 3], [2, 2], [4, 9]])]
    [[1.0, 2.0, 4.0], [3.0, 2.0, 9.0]]
    """
    Xa, names = _features(X, variable_names)
    columns, shape = _targets(Y, Xa.shape[0], several=True)
    if len(shape) == 2 and shape[1] == 1:
        from sklearn.exceptions import DataConversionWarning

        warnings.warn("A column-vector y was passed when a 1d array was expected; it is raveled to shape "
                      "(n_samples,)", DataConversionWarning, stacklevel=3)
    return [TrainingData(Xa, ya, names) for ya in columns]


def check_sample_weight(sample_weight, n_samples: int) -> np.ndarray | None:
    """Validate row weights; return them scaled to mean 1, or None for an unweighted fit.

    ``sample_weight`` is None, a number (the same weight for every row) or one
    non-negative finite weight per row, not all zero.  Weights are relative:
    they are divided by their mean, and uniform weights (all equal, or a
    number) are the unweighted problem and return None, so that they take
    its code path and give its model bit for bit.

    Raises
    ------
    DataError
        Naming what is wrong: the shape or length, a NaN or inf (with its row),
        a negative weight (with its row), or weights that are all zero.

    Examples
    --------
    >>> check_sample_weight([1, 1, 2], 3).tolist()
    [0.75, 0.75, 1.5]
    >>> check_sample_weight([2.0, 2.0], 2) is None
    True
    """
    if sample_weight is None:
        return None
    w = _as_float(sample_weight, "sample_weight")
    if w.ndim == 0:
        if not (np.isfinite(w) and w > 0):
            raise DataError(f"sample_weight must be a positive finite number or one weight per row, got {float(w)}")
        return None
    if w.ndim == 2 and w.shape[1] == 1:
        w = w[:, 0]
    if w.ndim != 1:
        raise DataError(f"sample_weight must be 1-D, one weight per row (shape ({n_samples},)), got shape {w.shape}")
    if w.shape[0] != n_samples:
        raise DataError(f"sample_weight has {w.shape[0]} weight(s) but X has {n_samples} row(s)")
    if not np.isfinite(w).all():
        raise DataError(f"sample_weight contains {_first_bad(w)}; every weight must be a finite number")
    if (w < 0).any():
        row = int(np.argmax(w < 0))
        raise DataError(f"sample_weight must be non-negative; row {row} has weight {float(w[row])!r}")
    if not (w > 0).any():
        raise DataError("sample_weight is zero for every row: there is nothing to fit")
    if (w == w[0]).all():
        return None
    with np.errstate(over="ignore"):
        mean = float(np.mean(w / w.max()))  # relative to the largest: no overflow for huge weights
    return w / w.max() / mean


#: the magnitudes a fit works in: the largest |value| of y and of each column of X must lie in this range, so that
#: squares and products of two values stay normal float64 numbers (losses, variances and constants neither
#: overflow to inf nor vanish to 0); y must also vary by enough that its variance is a normal float
SCALE_RANGE = (1e-150, 1e150)

_RESCALE = "rescale it (change its units, e.g. divide by a power of ten) and scale the formula back"


def _check_range(peaks: Sequence[tuple[str, float]]) -> None:
    """Refuse a column whose largest |value| is outside :data:`SCALE_RANGE`, naming it and the fix.

    ``peaks`` holds ``(what, largest |value|)`` for each column; a column that
    is all zeros passes (it is merely uninformative).
    """
    lo, hi = SCALE_RANGE
    for what, peak in peaks:
        if peak > hi:
            raise DataError(f"{what} reaches |value| {peak:.3g}, above {hi:g}: its squares overflow float64; "
                            f"{_RESCALE}")
        if 0 < peak < lo:
            raise DataError(f"{what} stays below |value| {lo:g} (largest {peak:.3g}): its squares vanish (underflow "
                            f"to 0) in float64; {_RESCALE}")


def _check_csv_shape(p: Path) -> list[str] | None:
    """Check that every row has as many fields as the header and the header's names are distinct.

    Returns the header's names (None for a file without one, which pandas then
    reports).  Raises :class:`DataError` with the line number of the first row
    that is longer or shorter than the header: pandas would silently take the
    first field of over-long rows as an index (shifting every column) and pad
    short rows with NaN.  Blank lines are skipped, as pandas does.
    """
    import csv

    def blank(row: list[str]) -> bool:
        return not row or (len(row) == 1 and not row[0].strip())

    try:
        with p.open(newline="", encoding="utf-8-sig") as fh:
            reader = csv.reader(fh)
            header = None
            for row in reader:
                if not blank(row):
                    header = row
                    break
            if header is None:
                return None
            names = [h.strip() for h in header]
            for i, name in enumerate(names, start=1):
                if not name:
                    hint = (" (a row index written by pandas' to_csv? write with index=False)"
                            if i == 1 else "")
                    raise DataError(f"{p}: column {i} of the header has no name{hint}")
            seen: dict[str, list[int]] = {}
            for i, name in enumerate(header, start=1):
                seen.setdefault(name, []).append(i)
            for name, where in seen.items():
                if len(where) > 1:
                    raise DataError(f"{p}: column name {name!r} appears {len(where)} times in the header "
                                    f"(columns {', '.join(map(str, where))}); give each column its own name")
            n = len(header)
            for row in reader:
                if len(row) != n and not blank(row):
                    what = "more" if len(row) > n else "fewer"
                    hint = (": an unquoted decimal comma or a stray delimiter? Quote such fields or use '.' "
                            "for decimals" if len(row) > n else "")
                    raise DataError(f"{p}: line {reader.line_num} has {len(row)} fields, {what} than the "
                                    f"{n} of the header ({','.join(header)}){hint}")
    except UnicodeDecodeError as exc:
        raise DataError(f"{p}: cannot read as CSV: not UTF-8 text ({exc.reason} at byte {exc.start})") from None
    except csv.Error as exc:
        raise DataError(f"{p}: cannot read as CSV: {exc}") from None
    return header


def read_units_row(path: str | Path) -> dict[str, str]:
    """The units row of a CSV: the line right after the header, one unit string per column.

    ``symdescent fit --units-row`` reads it (and :func:`read_frame` with
    ``units_row=True`` skips it).  Each unit is checked
    (:func:`symdescent.units.parse_unit`; an empty field is dimensionless);
    a :class:`~symdescent.errors.DataError` names the file, the line and the
    column.  Returns ``{column name: unit}`` for every column.
    """
    from symdescent.units import parse_unit

    p = Path(path)
    if not p.is_file():
        raise DataError(f"data file not found: {p}")
    _check_csv_shape(p)
    header, row, line = _units_row(p)
    for name, unit in zip(header, row):
        try:
            number = float(unit)
        except ValueError:
            number = None
        if number is not None and unit.strip() != "1":  # a data row, most likely: refuse to lose it silently
            raise DataError(f"{p}, line {line}, column {name!r}: {unit.strip()!r} is a number, not a unit; with "
                            f"--units-row the line after the header gives the units (m,s,m/s; 1 for none)")
        parse_unit(unit.strip(), f"{p}, line {line}, the unit of column {name!r}")
    return {name: unit.strip() for name, unit in zip(header, row)}


def _units_row(p: Path) -> tuple[list[str], list[str], int]:
    """The header, the units row and its line number (counting from 1), of a file of checked shape."""
    import csv

    with p.open(newline="", encoding="utf-8-sig") as fh:
        reader = csv.reader(fh)
        header = next((r for r in reader if r and any(f.strip() for f in r)), None)
        row = next(reader, None)
        if header is None or row is None or not any(f.strip() for f in row):
            raise DataError(f"{p}: no units row: with --units-row the line after the header gives each column's "
                            f"unit, e.g. m,s,m/s")
        return header, row, reader.line_num


def read_frame(path: str | Path, units_row: bool = False):
    """Read a CSV with a header row into a DataFrame, every row checked against the header.

    Nothing is converted or validated beyond the file's shape (see
    :func:`read_csv` for training data); every :class:`~symdescent.errors.DataError`
    names the file.  ``symdescent predict`` reads its data with it.
    ``units_row``: the line after the header holds units (:func:`read_units_row`), not data.
    """
    import pandas as pd

    p = Path(path)
    if not p.is_file():
        raise DataError(f"data file not found: {p}")
    header = _check_csv_shape(p)
    skip = [_units_row(p)[2] - 1] if units_row else None
    try:
        # index_col=False: never take a column as the index (pandas does when a row is one field longer)
        frame = pd.read_csv(p, index_col=False, skiprows=skip)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as exc:
        raise DataError(f"{p}: cannot read as CSV: {exc}") from None
    if header is not None and [str(c) for c in frame.columns] != header:
        raise DataError(f"{p}: the header reads as {header} but pandas read the columns {list(frame.columns)}")
    return frame


def read_csv(path: str | Path, target: str) -> TrainingData:
    """Read a CSV with a header; return X, y and the feature column names, validated (:func:`check_X_y`).

    Every :class:`~symdescent.errors.DataError` names the file.
    """
    (data,), _ = read_csv_table(path, [target])
    return data


def read_csv_table(path: str | Path, targets: Sequence[str], weights: str | None = None,
                   units_row: bool = False) -> tuple[list[TrainingData], np.ndarray | None]:
    """Read a CSV for one target or several, and a column of row weights; ``symdescent fit`` reads with it.

    The features are the other columns, in the file's order.  ``X`` is
    validated once and every target before any search (:func:`check_X_Y`:
    one :class:`TrainingData` per target).  The ``weights`` column, left out
    of ``X``, is checked as :func:`check_sample_weight` checks
    ``sample_weight`` (a NaN, a negative weight: a DataError naming the
    column) and returned as read (None without one): the search normalises
    it, as it does ``fit(X, y, sample_weight=w)``'s.  ``units_row``: the
    line after the header holds units (:func:`read_units_row`) and is
    skipped.  Every :class:`~symdescent.errors.DataError` names the file.
    """
    p = Path(path)
    frame = read_frame(p, units_row)
    targets = list(targets)
    if not targets:
        raise DataError(f"{p}: no target column given")
    wanted = targets + ([weights] if weights is not None else [])
    for name in wanted:
        if name not in frame.columns:
            from symdescent.errors import did_you_mean

            raise DataError(
                f"{p}: no column {name!r}{did_you_mean(name, map(str, frame.columns))}; "
                f"columns: {', '.join(map(str, frame.columns))}"
            )
    twice = next((name for name in wanted if wanted.count(name) > 1), None)
    if twice is not None:
        role = "a target and the weights" if twice == weights else "a target twice"
        raise DataError(f"{p}: column {twice!r} is named as {role}; each column plays one part")
    if frame.empty:
        raise DataError(f"{p}: 0 sample(s) below the header; at least 2 are required")
    features = frame.drop(columns=wanted)
    try:  # the names by the same rule as a DataFrame's or the API's
        datasets = check_X_Y(features, frame[targets[0]] if len(targets) == 1 else frame[targets],
                             [str(c) for c in features.columns])
        if weights is None:
            return datasets, None
        try:
            check_sample_weight(frame[weights], len(frame))
        except DataError as exc:
            raise type(exc)(f"weights column {weights!r}: {exc}") from None
        return datasets, frame[weights].to_numpy(dtype=np.float64)
    except DataError as exc:
        raise type(exc)(f"{p}: {exc}") from None
