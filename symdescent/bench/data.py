"""Seeded data generation for benchmark problems, as SRBench does it.

For a problem, a seed and a noise level σ:

1. ``n_samples`` rows are drawn uniformly in each variable's range and the
   target is computed from the formula;
2. the rows are split at random into training (75 %) and test (25 %) sets;
3. when σ > 0, Gaussian noise with standard deviation ``σ · RMS(y_train)``
   is added to the training target only; the test target stays exact.

Inputs and split depend on (problem, seed) only, the noise on (problem,
seed, σ): the noise levels of one seed share the same inputs, so their
results differ by the noise alone.  SRBench's levels are 0, 0.001, 0.01
and 0.1.

A real table (:class:`~symdescent.bench.tables.TableProblem`, SRBench's
black-box track) skips step 1: all its rows are split the same way, seeded
by (table, seed), and ``n_samples`` does not apply.

Examples
--------
>>> from symdescent.bench.problems import load_suite, select
>>> p = select(load_suite("feynman"), ids=["I.12.1"])[0]
>>> d = make_dataset(p, seed=0, noise=0.01, n_samples=100)
>>> d.X_train.shape, d.X_test.shape
((75, 2), (25, 2))
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass

import numpy as np

from symdescent.bench.tables import TableProblem
from symdescent.errors import DataError

SRBENCH_NOISE_LEVELS = (0.0, 0.001, 0.01, 0.1)
TEST_FRACTION = 0.25


@dataclass(frozen=True, eq=False)
class Dataset:
    """The data of one run: training and test sets over the problem's variables."""

    problem_id: str
    seed: int
    noise: float
    names: tuple[str, ...]
    X_train: np.ndarray
    y_train: np.ndarray
    X_test: np.ndarray
    y_test: np.ndarray


def rms(y: np.ndarray) -> float:
    """Root mean square of ``y``."""
    return float(np.sqrt(np.mean(np.square(y))))


def _rng(problem_id: str, seed: int, *stream: int) -> np.random.Generator:
    if seed < 0:
        raise DataError(f"seeds must be non-negative, got {seed}")
    return np.random.default_rng([int(seed), zlib.crc32(problem_id.encode()), *stream])


def add_noise(y: np.ndarray, sigma: float, rng: np.random.Generator) -> np.ndarray:
    """Return ``y`` plus Gaussian noise of standard deviation ``sigma · RMS(y)``."""
    if sigma < 0:
        raise DataError(f"noise level must be >= 0, got {sigma}")
    if sigma == 0:
        return y.copy()
    return y + rng.normal(0.0, sigma * rms(y), size=y.shape)


def make_dataset(problem, seed: int = 0, noise: float = 0.0, n_samples: int = 1000,
                 test_fraction: float = TEST_FRACTION) -> Dataset:
    """Generate the data of one (problem, seed, noise) run.

    Parameters
    ----------
    problem : BenchmarkProblem or TableProblem
        A formula to sample, or a real table whose rows are split.
    seed : int
        Non-negative; the same (problem, seed, noise) always gives the same data.
    noise : float
        σ: the training target's noise is ``σ · RMS(y_train)``.
    n_samples : int
        Rows generated before the split (formulas only).
    test_fraction : float
        Share of rows held out for testing.

    Raises
    ------
    DataError
        When the formula is not finite somewhere in the sampled ranges.
    """
    if n_samples < 8:
        raise DataError(f"--samples must be at least 8, got {n_samples}")
    if not 0 < test_fraction < 1:
        raise DataError(f"test fraction must be in (0, 1), got {test_fraction}")
    rng = _rng(problem.id, seed, 0)
    if isinstance(problem, TableProblem):
        X, y = problem.X, problem.y
        n_samples = X.shape[0]
    else:
        low = np.array([v.low for v in problem.variables])
        high = np.array([v.high for v in problem.variables])
        X = rng.uniform(low, high, size=(n_samples, len(low)))
        y = problem.expression.evaluate(X)
    if not np.all(np.isfinite(y)):
        bad = int(np.count_nonzero(~np.isfinite(y)))
        raise DataError(f"problem {problem.id}: the formula is not finite on {bad} of {n_samples} sampled rows")
    order = rng.permutation(n_samples)
    n_test = max(1, int(round(test_fraction * n_samples)))
    test, train = order[:n_test], order[n_test:]
    noise_rng = _rng(problem.id, seed, 1, int(round(float(noise) * 1e9)))
    y_train = add_noise(y[train], float(noise), noise_rng)
    return Dataset(problem.id, int(seed), float(noise), problem.names, X[train], y_train, X[test], y[test])
