"""Validation of user data: arrays, DataFrames and CSV files.

Every problem is reported as a :class:`~symdescent.errors.DataError` that
names it (shape, NaN with its position, a non-numeric column), before any
search starts.
"""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

import numpy as np

from symdescent.errors import DataError, DataTypeError, ExpressionError
from symdescent.expr.parse import check_variable_names


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


def _as_float(a, what: str) -> np.ndarray:
    try:
        import pandas as pd

        if isinstance(a, (pd.DataFrame, pd.Series)):
            frame = a.to_frame() if isinstance(a, pd.Series) else a
            check_unique_columns(frame.columns, what)
            for col in frame.columns:
                if not (pd.api.types.is_numeric_dtype(frame[col]) or pd.api.types.is_bool_dtype(frame[col])):
                    raise DataError(f"{what} column {col!r} is not numeric (dtype {frame[col].dtype})")
            a = a.to_numpy()
    except ImportError:  # pragma: no cover - pandas is a dependency
        pass
    if hasattr(a, "toarray") and not isinstance(a, np.ndarray):
        raise DataError(f"{what} is a sparse matrix; pass a dense array")
    try:
        arr = np.asarray(a)
    except (ValueError, TypeError) as exc:
        raise DataError(f"{what} cannot be read as an array: {exc}") from None
    if arr.dtype.kind == "c" or (arr.dtype.kind == "O" and any(isinstance(v, complex) for v in arr.ravel()[:1000])):
        raise DataError(f"Complex data not supported: {what} contains complex numbers")
    if arr.dtype.kind in "OUSV":
        try:
            arr = arr.astype(float)
        except (ValueError, TypeError) as exc:
            raise DataTypeError(f"{what} contains non-numeric values (dtype {arr.dtype}): {exc}") from None
    elif arr.dtype.kind not in "biuf":
        raise DataError(f"{what} has unsupported dtype {arr.dtype}")
    return arr.astype(float)


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


def check_X(X, n_features: int | None = None, owner: str = "the model") -> np.ndarray:
    """Validate a feature matrix: 2-D, numeric, finite, non-empty."""
    arr = _as_float(X, "X")
    if arr.ndim != 2:
        hint = ". Reshape your data: X.reshape(-1, 1) for a single feature" if arr.ndim == 1 else ""
        raise DataError(f"X must be 2-D (n_samples, n_features), got shape {arr.shape}{hint}")
    if arr.shape[0] == 0:
        raise DataError(f"X is empty: 0 sample(s) (shape={arr.shape}) while a minimum of 2 is required.")
    if arr.shape[1] == 0:
        raise DataError(f"X has 0 feature(s) (shape={arr.shape}) while a minimum of 1 is required.")
    if n_features is not None and arr.shape[1] != n_features:
        raise DataError(f"X has {arr.shape[1]} features, but {owner} is expecting {n_features} features as input")
    if not np.isfinite(arr).all():
        raise DataError(f"X contains {_first_bad(arr)}; remove or impute non-finite values")
    return arr


def check_X_y(X, y, variable_names: Sequence[str] | None = None) -> tuple[np.ndarray, np.ndarray, tuple[str, ...]]:
    """Validate training data; return float arrays and the variable names.

    Raises
    ------
    DataError
        For wrong shapes, mismatched lengths, fewer than 2 samples, non-numeric
        or non-finite values, constant ``y``, bad variable names and data
        outside :data:`SCALE_RANGE` (see :func:`check_scale`).
    """
    names = list(variable_names) if variable_names is not None else frame_names(X)
    Xa = check_X(X)
    if y is None:
        raise DataError("SymbolicRegressor requires y to be passed, but the target y is None")
    ya = _as_float(y, "y")
    if ya.ndim == 2 and ya.shape[1] == 1:
        ya = ya[:, 0]
    if ya.ndim != 1:
        raise DataError(f"y must be 1-D (n_samples,), got shape {ya.shape}; one target at a time (SymbolicRegressor "
                        f"also takes (n_samples, n_outputs): one search per column)")
    if ya.shape[0] != Xa.shape[0]:
        raise DataError(f"X has {Xa.shape[0]} samples but y has {ya.shape[0]}")
    if Xa.shape[0] < 2:
        raise DataError(f"need at least 2 samples to fit, got n_samples={Xa.shape[0]}")
    if not np.isfinite(ya).all():
        raise DataError(f"y contains {_first_bad(ya)}; remove or impute non-finite values")
    if np.ptp(ya) == 0:
        raise DataError(f"y is constant (every value is {ya[0]!r}): there is nothing to explain")
    if names is None:
        names = [f"x{i}" for i in range(Xa.shape[1])]
    if len(names) != Xa.shape[1]:
        raise DataError(f"{len(names)} variable name(s) given for {Xa.shape[1]} column(s) of X")
    check_column_names(names)
    check_scale(Xa, ya, names)
    return Xa, ya, tuple(str(n) for n in names)


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
#: overflow to inf nor vanish to 0)
SCALE_RANGE = (1e-150, 1e150)


def check_scale(X: np.ndarray, y: np.ndarray, names: Sequence[str]) -> None:
    """Refuse data whose magnitude float64 arithmetic cannot fit in, naming the column and the fix.

    A column of X that is all zeros passes (it is merely uninformative); ``y``
    must also vary by enough that its variance is a normal float.

    Raises
    ------
    DataError
        Saying which column is out of :data:`SCALE_RANGE` and to rescale it
        (change its units) and scale the formula back.
    """
    lo, hi = SCALE_RANGE
    fix = "rescale it (change its units, e.g. divide by a power of ten) and scale the formula back"
    columns = [("y", float(np.max(np.abs(y))))]
    columns += [(f"X column {j} ({names[j]!r})", float(peak)) for j, peak in enumerate(np.max(np.abs(X), axis=0))]
    for what, peak in columns:
        if peak > hi:
            raise DataError(f"{what} reaches |value| {peak:.3g}, above {hi:g}: its squares overflow float64; {fix}")
        if 0 < peak < lo:
            raise DataError(f"{what} stays below |value| {lo:g} (largest {peak:.3g}): its squares vanish (underflow "
                            f"to 0) in float64; {fix}")
    if not np.var(y) >= np.finfo(float).tiny:
        raise DataError(f"y varies too little (variance {np.var(y):.3g}) for float64 to score a fit; {fix}")


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


def read_csv(path: str | Path, target: str) -> tuple[np.ndarray, np.ndarray, tuple[str, ...]]:
    """Read a CSV with a header; return X, y and the feature column names."""
    import pandas as pd

    p = Path(path)
    if not p.is_file():
        raise DataError(f"data file not found: {p}")
    header = _check_csv_shape(p)
    try:
        # index_col=False: never take a column as the index (pandas does when a row is one field longer)
        frame = pd.read_csv(p, index_col=False)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as exc:
        raise DataError(f"{p}: cannot read as CSV: {exc}") from None
    if header is not None and [str(c) for c in frame.columns] != header:
        raise DataError(f"{p}: the header reads as {header} but pandas read the columns {list(frame.columns)}")
    if target not in frame.columns:
        from symdescent.errors import did_you_mean

        raise DataError(
            f"{p}: no column {target!r}{did_you_mean(target, map(str, frame.columns))}; "
            f"columns: {', '.join(map(str, frame.columns))}"
        )
    if frame.empty:
        raise DataError(f"{p}: 0 sample(s) below the header; at least 2 are required")
    features = frame.drop(columns=[target])
    try:  # the same rule as for a DataFrame's or the API's names
        check_column_names([str(c) for c in features.columns])
    except DataError as exc:
        raise DataError(f"{p}: {exc}") from None
    X, y, names = check_X_y(features, frame[target], [str(c) for c in features.columns])
    return X, y, names
