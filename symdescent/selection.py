"""Variable selection: which columns of ``X`` carry information about ``y``.

A step any strategy can share (through :meth:`symdescent.types.Problem.relevant_features`)
when it can only take some of the columns: a learned proposer with a fixed
number of inputs, or a strategy that wants to spend its effort where the signal is.
"""

from __future__ import annotations

import numpy as np


def relevant_features(X: np.ndarray, y: np.ndarray, k: int, seed: int = 0, max_rows: int = 2000) -> tuple[int, ...]:
    """Indices of the (at most) ``k`` columns of ``X`` most informative about ``y``, in column order.

    Columns are ranked by their mutual information with ``y`` (scikit-learn's
    nearest-neighbour estimate, which sees non-linear and non-monotonic
    dependence that a correlation misses), on a seeded subsample of at most
    ``max_rows`` rows.  Constant columns are never selected; ties go to the
    earlier column.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> X = rng.uniform(-2, 2, size=(500, 4))
    >>> relevant_features(X, X[:, 3] ** 2 + np.sin(X[:, 1]), k=2)
    (1, 3)
    """
    from sklearn.feature_selection import mutual_info_regression

    X = np.asarray(X, dtype=float)
    y = np.asarray(y, dtype=float)
    varying = np.flatnonzero(np.ptp(X, axis=0) > 0)
    if k >= varying.size:
        return tuple(int(i) for i in varying)
    rng = np.random.default_rng(seed)
    rows = np.sort(rng.choice(X.shape[0], size=max_rows, replace=False)) if X.shape[0] > max_rows else slice(None)
    mi = mutual_info_regression(X[rows][:, varying], y[rows], random_state=seed)
    order = np.lexsort((varying, -mi))  # highest information first, then column order
    return tuple(sorted(int(varying[i]) for i in order[:k]))
