"""Data validation (symdescent.data): once per entry point, scikit-learn's check_array underneath, our named errors.

The estimator's ``fit`` and ``symdescent fit`` validate and hand a TrainingData to the search, which takes it as it
is; ``Search(X, y)`` with raw data validates it itself.  The spy below counts scikit-learn's ``check_array`` calls
on the caller's own objects: one each for X and y, wherever they enter.
"""

import warnings

import numpy as np
import pandas as pd
import pytest
import sklearn.utils.validation

from symdescent import SymbolicRegressor
from symdescent.cli import main
from symdescent.data import TrainingData, check_X, check_X_Y, check_X_y
from symdescent.errors import DataError, DataTypeError
from symdescent.search import Search

RNG = np.random.default_rng(0)
X = RNG.uniform(1, 3, size=(40, 2))
Y = X[:, 0] * X[:, 1]
QUICK = {"search": {"max_iterations": 1, "time_budget": None, "simplify": False},
         "plugins": {"descent": {"population_size": 20, "generations_per_iteration": 1}}}


@pytest.fixture
def converted(monkeypatch):
    """The first argument of every call of scikit-learn's check_array (what was read into an array)."""
    seen = []
    real = sklearn.utils.validation.check_array

    def spy(array, *args, **kwargs):
        seen.append(array)
        return real(array, *args, **kwargs)

    monkeypatch.setattr(sklearn.utils.validation, "check_array", spy)
    return seen


def _times(seen, obj) -> int:
    return sum(a is obj for a in seen)


def test_the_estimator_validates_once_and_the_search_not_again(converted):
    frame, target = pd.DataFrame(X, columns=["a", "b"]), pd.Series(Y, name="y")
    SymbolicRegressor(config=QUICK).fit(frame, target)
    assert _times(converted, frame) == 1 and _times(converted, target) == 1
    assert len(converted) == 3  # X and y read, X's size checked: the search adds no call


def test_several_outputs_read_x_once(converted):
    frame = pd.DataFrame(X, columns=["a", "b"])
    targets = np.c_[Y, X[:, 0] + X[:, 1], X[:, 1] ** 2]
    est = SymbolicRegressor(config=QUICK).fit(frame, targets)
    assert est.n_outputs_ == 3
    assert _times(converted, frame) == 1 and _times(converted, targets) == 1
    assert len(converted) == 3  # not once per output, nor again in each search


def test_search_takes_training_data_as_it_is(converted):
    data = check_X_y(X, Y, ["m", "v"])
    converted.clear()
    search = Search(data, None, config=QUICK)
    assert converted == []  # no second validation
    assert search.problem.variable_names == ("m", "v")
    np.testing.assert_array_equal(search.problem.X, data.X)
    with pytest.raises(TypeError, match="pass y=None"):
        Search(data, Y, config=QUICK)


def test_a_search_of_raw_data_validates_it(converted):
    Search(X, Y, config=QUICK)
    assert _times(converted, X) == 1 and _times(converted, Y) == 1 and len(converted) == 3
    with pytest.raises(DataError, match="X has 40 samples but y has 39"):
        Search(X, Y[:-1], config=QUICK)


def test_the_command_line_reads_the_csv_once(tmp_path, converted, capsys):
    path = tmp_path / "d.csv"
    pd.DataFrame({"a": X[:, 0], "b": X[:, 1], "y": Y}).to_csv(path, index=False)
    assert main(["fit", str(path), "--target", "y", "--max-iterations", "1", "--quiet"]) == 0
    frames = [a for a in converted if isinstance(a, (pd.DataFrame, pd.Series))]
    assert [type(a).__name__ for a in frames] == ["DataFrame", "Series"]  # the features and the target, once each
    assert len(converted) == 3  # and X's size check; the search adds no call


def test_training_data_unpacks_and_is_what_check_x_y_returns():
    data = check_X_y(pd.DataFrame(X, columns=["m", "v"]), Y)
    assert isinstance(data, TrainingData) and data.names == ("m", "v")
    X2, y2, names = data
    assert X2.dtype == y2.dtype == np.float64 and X2.shape == (40, 2) and names == ("m", "v")
    assert check_X_y(data) is data
    with pytest.raises(TypeError, match="pass y=None and no variable_names"):
        check_X_y(data, None, ["p", "q"])


def test_arrays_are_new_float64_copies_in_the_callers_layout():
    F = np.asfortranarray(X)
    Xa, ya, _ = check_X_y(F, Y)
    assert Xa.flags.f_contiguous and not np.shares_memory(Xa, F) and not np.shares_memory(ya, Y)
    assert check_X_y((X * 10).astype(int), Y).X.dtype == np.float64


@pytest.mark.parametrize("X_bad, kind, fragment", [
    # pandas' own dtypes are read by scikit-learn's check_array: a missing value is a NaN, with its place
    (pd.DataFrame({"a": pd.array([1, None, 3, 4], dtype="Int64"), "b": [1.0, 2, 3, 4]}), DataError,
     "X contains NaN at row 1, column 0"),
    (pd.DataFrame({"a": [1.0, 2, 3, 4], "b": pd.array([True, None, False, True], dtype="boolean")}), DataError,
     "X contains NaN at row 1, column 1"),
    (pd.DataFrame({"a": [1.0, 2, 3, 4], "c": np.arange(4) + 1j}), DataError,
     "Complex data not supported: X column 'c' holds complex numbers"),
    (pd.DataFrame({"a": [1.0, 2, 3, 4], "d": pd.to_datetime(["2020-01-01"] * 4)}), DataError,
     "X column 'd' is not numeric"),
    (np.array([["1", "2"], ["3", "x"], ["4", "5"], ["6", "7"]]), DataTypeError,
     "X contains non-numeric values (dtype <U1): could not convert string to float"),
    (np.array([[np.datetime64("2020-01-01")]] * 4), DataError, "X has unsupported dtype datetime64"),
    # too few rows or columns: scikit-learn's own messages (its check_estimator looks for them)
    (np.empty((0, 2)), DataError, "X: Found array with 0 sample(s) (shape=(0, 2)) while a minimum of 2 is required"),
    (np.ones((4, 0)), DataError, "X: Found array with 0 feature(s) (shape=(4, 0)) while a minimum of 1 is required"),
])
def test_what_x_cannot_be(X_bad, kind, fragment):
    with pytest.raises(kind) as info:
        check_X_y(X_bad, np.arange(len(X_bad), dtype=float))
    assert fragment in str(info.value)


def test_predict_needs_one_row_and_a_fit_two():
    assert check_X([[1.0, 2.0]]).shape == (1, 2)
    with pytest.raises(DataError, match=r"1 sample\(s\) \(shape=\(1, 2\)\) while a minimum of 2 is required"):
        check_X_y([[1.0, 2.0]], [1.0])


def test_several_targets_name_the_column_at_fault():
    bad = np.c_[Y, Y * 2]
    bad[3, 1] = np.nan
    with pytest.raises(DataError, match="y column 1 contains NaN at row 3"):
        check_X_Y(X, bad)
    with pytest.raises(DataError, match=r"y column 0 is constant \(every value is 2.0\)"):
        check_X_Y(X, np.c_[np.full(40, 2.0), Y])
    with pytest.raises(DataError, match="y has duplicate column names: 'y'"):
        check_X_Y(X, pd.DataFrame(np.c_[Y, Y], columns=["y", "y"]))
    with pytest.raises(DataError, match=r"y must be 1-D \(n_samples,\) or 2-D \(n_samples, n_outputs\)"):
        check_X_Y(X, np.zeros((40, 2, 2)))
    with pytest.raises(DataError, match="y must be 1-D .* one target at a time"):
        check_X_y(X, np.c_[Y, Y])


def test_a_column_vector_is_one_target_with_sklearns_warning():
    from sklearn.exceptions import DataConversionWarning

    with pytest.warns(DataConversionWarning, match="column-vector y"):
        (data,) = check_X_Y(X, Y[:, None])
    assert data.y.shape == (40,) and data.y.flags.c_contiguous
    with warnings.catch_warnings():
        warnings.simplefilter("error", DataConversionWarning)
        (one,) = check_X_Y(X, Y)  # a 1-D y: no warning
    np.testing.assert_array_equal(one.y, data.y)


def test_the_csv_reader_names_the_file_in_every_data_error(tmp_path):
    from symdescent.data import read_csv

    path = tmp_path / "d.csv"
    path.write_text("a,y\n1,2\n,3\n4,5\n")
    with pytest.raises(DataError, match=f"^{path}: X contains NaN at row 1, column 0"):
        read_csv(path, "y")
    path.write_text("a,b,y\n1,x,2\n2,y,3\n3,z,4\n")
    with pytest.raises(DataError, match=f"^{path}: X column 'b' is not numeric"):
        read_csv(path, "y")
