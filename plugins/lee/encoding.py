"""Numeric encoding of observations for the LEE encoder (numpy only).

An affine normalisation of ``x`` changes the formula that explains the data, so
values are not standardised away.  Each scalar is encoded by features that
keep its scale: its sign, its decimal exponent and its mantissa, plus one
standardised copy that carries the shape of the point cloud.  The same code
builds training batches and inference inputs, so the two cannot drift apart.
"""

from __future__ import annotations

import numpy as np

MAX_VARS = 10
SCALAR_FEATURES = 4
X_FEATURES = MAX_VARS * SCALAR_FEATURES + MAX_VARS  # values + presence mask
Y_FEATURES = SCALAR_FEATURES
CAND_FEATURES = SCALAR_FEATURES + 2  # candidate prediction, residual, presence flag
POINT_FEATURES = X_FEATURES + Y_FEATURES + CAND_FEATURES
STD_CLIP = 5.0


def scale_features(v: np.ndarray) -> np.ndarray:
    """Sign, exponent and mantissa features of ``v``; shape ``v.shape + (3,)``."""
    v = np.asarray(v, dtype=np.float64)
    a = np.abs(v)
    with np.errstate(divide="ignore", invalid="ignore"):
        lg = np.log10(np.where(a > 0, a, 1.0))
    lg = np.clip(lg, -10.0, 10.0)
    e = np.floor(lg)
    mant = np.where(a > 0, a / 10.0**e, 0.0)
    zero = a == 0
    out = np.stack(
        [np.sign(v), np.where(zero, -2.0, lg / 5.0), np.where(zero, 0.0, (mant - 5.5) / 4.5)], axis=-1
    )
    return out


def standardise(v: np.ndarray, mean: np.ndarray, std: np.ndarray) -> np.ndarray:
    return np.clip((v - mean) / std, -STD_CLIP, STD_CLIP) / 2.0


def stats(v: np.ndarray, axis: int) -> tuple[np.ndarray, np.ndarray]:
    """Mean and (floored) standard deviation along the points axis."""
    mean = v.mean(axis=axis, keepdims=True)
    std = v.std(axis=axis, keepdims=True)
    floor = 1e-8 * (np.abs(mean) + 1e-30)
    return mean, np.maximum(std, np.maximum(floor, 1e-30))


def encode_x(X: np.ndarray, n_vars: np.ndarray, x_mean: np.ndarray, x_std: np.ndarray) -> np.ndarray:
    """Encode inputs ``X`` of shape ``(B, n, MAX_VARS)`` (zero-padded columns).

    ``n_vars`` (``(B,)``) says how many columns are real; padded columns get
    all-zero features and a zero presence mask.
    """
    B, n, _ = X.shape
    present = (np.arange(MAX_VARS)[None, :] < np.asarray(n_vars)[:, None]).astype(np.float64)  # (B, V)
    f = scale_features(X)  # (B, n, V, 3)
    s = standardise(X, x_mean, x_std)[..., None]  # (B, n, V, 1)
    feats = np.concatenate([f, s], axis=-1) * present[:, None, :, None]
    mask = np.broadcast_to(present[:, None, :], (B, n, MAX_VARS))
    return np.concatenate([feats.reshape(B, n, -1), mask], axis=-1).astype(np.float32)


def encode_y(y: np.ndarray, y_mean: np.ndarray, y_std: np.ndarray) -> np.ndarray:
    """Encode targets ``y`` of shape ``(B, n)``."""
    f = scale_features(y)
    s = standardise(y, y_mean, y_std)[..., None]
    return np.concatenate([f, s], axis=-1).astype(np.float32)


def encode_candidate(yhat: np.ndarray | None, y: np.ndarray, y_mean, y_std, has: np.ndarray | None = None) -> np.ndarray:
    """Encode a candidate's predictions beside the data: ``(B, n, CAND_FEATURES)``.

    ``yhat`` is None (or ``has`` False for a row) when there is no candidate;
    the features are then all zero.
    """
    B, n = y.shape
    if yhat is None:
        return np.zeros((B, n, CAND_FEATURES), dtype=np.float32)
    yhat = np.where(np.isfinite(yhat), yhat, 0.0)
    f = scale_features(yhat)
    s = standardise(yhat, y_mean, y_std)[..., None]
    r = standardise(y - yhat, 0.0, y_std)[..., None]
    flag = np.ones((B, n, 1))
    out = np.concatenate([f, s, r, flag], axis=-1)
    if has is not None:
        out = out * np.asarray(has, dtype=np.float64)[:, None, None]
    return out.astype(np.float32)


def scaled_prediction(f: np.ndarray, y: np.ndarray) -> np.ndarray:
    """A candidate's values ``f`` at the points, fitted to ``y`` by least squares as ``a * f + b``.

    This is the prediction :func:`encode_candidate` encodes, in training and at
    inference alike; a constant ``f`` predicts the mean of ``y``.

    >>> scaled_prediction(np.array([0.0, 1.0, 2.0]), np.array([1.0, 3.0, 5.0])).tolist()
    [1.0, 3.0, 5.0]
    >>> scaled_prediction(np.ones(3), np.array([1.0, 2.0, 6.0])).tolist()
    [3.0, 3.0, 3.0]
    """
    fc = f - f.mean()
    with np.errstate(all="ignore"):
        denom = float(fc @ fc)
    if not np.isfinite(denom) or denom <= 1e-300:
        return np.full_like(y, y.mean())
    a = float(fc @ (y - y.mean())) / denom
    return a * f + (y.mean() - a * f.mean())


def target_y(y: np.ndarray, y_mean, y_std) -> np.ndarray:
    """The evaluation decoder's target: standardised ``y`` (clipped)."""
    return np.clip((y - y_mean) / y_std, -10.0, 10.0).astype(np.float32)


def pad_columns(X: np.ndarray) -> np.ndarray:
    """Zero-pad ``(..., n, d)`` to ``(..., n, MAX_VARS)``."""
    d = X.shape[-1]
    if d > MAX_VARS:
        raise ValueError(f"LEE supports at most {MAX_VARS} variables, got {d}")
    pad = [(0, 0)] * (X.ndim - 1) + [(0, MAX_VARS - d)]
    return np.pad(X, pad)
