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


def bounded_between_rows(expression, X: np.ndarray, y: np.ndarray, *, seed: int = 0, n_points: int = 4096,
                         margin: float = 1.0) -> bool:
    """Whether ``expression`` stays finite and within ``margin`` times the range of ``y`` beyond that range at
    points between the rows of ``X``: ``n_points`` random points on the segments between random pairs of
    rows (a seeded draw).

    A formula fitted to a few hundred rows can hide a pole, or a log of a negative number, between them:
    ``a*x + a*x/(b*x - c)`` with no row near ``x = c/b`` fits as well as the line and predicts nonsense there.
    Points between rows are where a user will ask for predictions; a smooth model of the data passes (a
    linear one always does: its values there lie between its values at the rows), a true formula sampled on
    a box passes (its rows already cover the box).

    >>> from symdescent.expr import parse
    >>> X = np.array([[1.0], [2.0], [4.0], [5.0]])
    >>> bounded_between_rows(parse("2.0 * x0"), X, 2 * X[:, 0]), bounded_between_rows(parse("1.0 / (x0 - 3.0)"), X, 2 * X[:, 0])
    (True, False)
    """
    X = np.asarray(X, dtype=float)
    n = X.shape[0]
    lo, hi = float(np.min(y)), float(np.max(y))
    span = max(hi - lo, 1e-12 * max(abs(lo), abs(hi), 1.0))
    rng = np.random.default_rng(seed)
    i, j = rng.integers(n, size=n_points), rng.integers(n, size=n_points)
    t = rng.uniform(size=(n_points, 1))
    points = X[i] + t * (X[j] - X[i])
    with np.errstate(all="ignore"):
        pred = np.asarray(expression.evaluate(points), dtype=float) * np.ones(len(points))
    return bool(np.all(np.isfinite(pred)) and pred.min() >= lo - margin * span and pred.max() <= hi + margin * span)


#: cross-validated errors below this fraction of the variance of ``y`` count as equal (exact fits at rounding
#: level differ only by rounding): among them the simplest wins
CV_FLOOR = 1e-20


def cross_validated_choice(members, X: np.ndarray, y: np.ndarray, sample_weight: np.ndarray | None = None, *,
                           folds: int = 5, seed: int = 0, max_rows: int = 2000, operators=None,
                           until: float | None = None, one_se: bool = True):
    """The simplest of ``members`` (scored candidates) whose K-fold cross-validated error is within one standard
    error of the lowest (the one-standard-error rule of Breiman et al. and Hastie, Tibshirani & Friedman);
    None when there is nothing to choose from or the time ran out (``until``: ``time.monotonic()``).

    Each member's constants are refitted on each training fold from their fitted values
    (:func:`symdescent.expr.fit.fit_expression`) and its weighted mean squared error is measured on the held-out
    fold; folds are a seeded split (scikit-learn's ``KFold``) of at most ``max_rows`` rows. A form that fits
    the noise of a few hundred rows has a low training loss but no lower held-out error than a simpler one, so
    this rule picks what generalises; on noiseless data every exact formula's error is at rounding level
    (below :data:`CV_FLOOR` of the variance), and the simplest of them wins. ``one_se=False``: the member with
    the lowest cross-validated error (ties: the simplest).
    """
    import time

    from sklearn.model_selection import KFold

    from symdescent.expr.fit import fit_expression, weighted_var

    cands = [c for c in members if c.valid]
    n = len(y)
    if len(cands) < 2 or n < 4:
        return None
    rng = np.random.default_rng(seed)
    rows = np.sort(rng.choice(n, size=max_rows, replace=False)) if n > max_rows else np.arange(n)
    X, y = X[rows], y[rows]
    w = None if sample_weight is None else sample_weight[rows]
    floor = CV_FLOOR * max(weighted_var(y, w), 1e-300)
    splits = list(KFold(n_splits=min(folds, len(y)), shuffle=True, random_state=seed).split(X))
    errors = []
    for cand in cands:
        per_fold = []
        for train, test in splits:
            if until is not None and time.monotonic() >= until:
                return None
            wt = None if w is None else w[train]
            res = fit_expression(cand.expression, X[train], y[train], operators=operators, sample_weight=wt,
                                 score=(X[test], y[test], None if w is None else w[test]))
            per_fold.append(res.score_mse if res.valid and np.isfinite(res.score_mse) else np.inf)
        errors.append(np.maximum(np.array(per_fold), floor))
    mean = np.array([e.mean() for e in errors])
    if not np.isfinite(mean).any():
        return None
    best = int(np.nanargmin(np.where(np.isfinite(mean), mean, np.inf)))
    se = errors[best].std(ddof=1) / np.sqrt(len(splits)) if len(splits) > 1 and one_se else 0.0
    ok = [i for i in range(len(cands)) if mean[i] <= mean[best] + se]
    return min((cands[i] for i in ok), key=lambda c: (c.complexity, c.value))
