"""Seeded data generation: determinism, the split, and the noise definition."""

import numpy as np
import pytest

from symdescent.bench.data import add_noise, make_dataset, rms
from symdescent.bench.problems import load_suite, select
from symdescent.errors import DataError


@pytest.fixture(scope="module")
def problem():
    return select(load_suite("feynman"), ids=["I.12.11"])[0]


def test_deterministic_in_problem_seed_and_noise(problem):
    a, b = make_dataset(problem, 3, 0.01), make_dataset(problem, 3, 0.01)
    for name in ("X_train", "y_train", "X_test", "y_test"):
        np.testing.assert_array_equal(getattr(a, name), getattr(b, name))
    c = make_dataset(problem, 4, 0.01)
    assert not np.array_equal(a.X_train, c.X_train)
    other = select(load_suite("feynman"), ids=["I.12.5"])[0]
    assert not np.array_equal(make_dataset(other, 3, 0.0).X_train, make_dataset(problem, 3, 0.0).X_train[:, :2])


def test_split_and_ranges(problem):
    d = make_dataset(problem, 0, 0.0, n_samples=1000)
    assert d.X_train.shape == (750, 5) and d.X_test.shape == (250, 5)
    assert d.names == problem.names
    lows = np.array([v.low for v in problem.variables])
    highs = np.array([v.high for v in problem.variables])
    assert np.all(d.X_train >= lows) and np.all(d.X_train <= highs)
    np.testing.assert_allclose(d.y_train, problem.expression.evaluate(d.X_train))
    assert len(make_dataset(problem, 0, 0.0, n_samples=40).y_train) == 30


def test_noise_only_on_training_target_with_sd_sigma_times_rms(problem):
    clean = make_dataset(problem, 1, 0.0, n_samples=20000)
    noisy = make_dataset(problem, 1, 0.1, n_samples=20000)
    np.testing.assert_array_equal(clean.X_train, noisy.X_train)  # noise levels share inputs
    np.testing.assert_array_equal(clean.y_test, noisy.y_test)  # the test target stays exact
    np.testing.assert_allclose(noisy.y_test, problem.expression.evaluate(noisy.X_test))
    residual = noisy.y_train - clean.y_train
    assert abs(np.mean(residual)) < 0.005 * rms(clean.y_train)
    assert np.std(residual) == pytest.approx(0.1 * rms(clean.y_train), rel=0.03)
    assert not np.array_equal(noisy.y_train, make_dataset(problem, 1, 0.01, n_samples=20000).y_train)


def test_add_noise():
    y = np.array([3.0, -4.0])
    assert rms(y) == pytest.approx(np.sqrt(12.5))
    out = add_noise(y, 0.0, np.random.default_rng(0))
    assert out is not y and np.array_equal(out, y)
    with pytest.raises(DataError):
        add_noise(y, -0.1, np.random.default_rng(0))


def test_bad_arguments(problem):
    with pytest.raises(DataError, match="seeds must be non-negative"):
        make_dataset(problem, -1)
    with pytest.raises(DataError, match="at least 8"):
        make_dataset(problem, 0, n_samples=3)
