"""The per-partition work of the Dask pass, in numpy alone: it runs on the workers.

:mod:`bayeswd._dask` sends these functions to the workers *by value* (cloudpickle), so a worker
needs numpy, pandas and dask but not bayeswd, torch or Pyro: nothing here may import them. A
partial result is the plain tuple ``(n, x_mean, y_mean, xx, xy, yy, nonfinite_x, nonfinite_y)``
(:class:`bayeswd._dask.Moments` on the client): the row count, the means, the cross-products
centred at those means, and the NaN / inf entries met.
"""

from __future__ import annotations

from typing import Any

import numpy as np

#: The column of ``y`` in the one frame that carries ``X`` and ``y``.
TARGET = "__bayeswd_target__"


def empty(d: int, bad_x: int = 0, bad_y: int = 0) -> tuple[Any, ...]:
    """The partial result of no rows."""
    return (0, np.zeros(d), 0.0, np.zeros((d, d)), np.zeros(d), 0.0, bad_x, bad_y)


def nonfinite(a: np.ndarray) -> int:
    """NaN and inf entries of ``a`` (the sum is the fast path, as in bayeswd._validation)."""
    if a.size == 0 or np.isfinite(a.sum()):
        return 0
    return int(np.count_nonzero(~np.isfinite(a)))


def as_float(block: Any, ndim: int) -> np.ndarray:
    """A partition (numpy block, pandas DataFrame or Series) as a float64 array."""
    if hasattr(block, "to_numpy"):  # pandas: nullable missing values become NaN
        if ndim == 1 and getattr(block, "ndim", 1) == 2:
            block = block.iloc[:, 0]
        return block.to_numpy(dtype=np.float64, na_value=np.nan)
    return np.asarray(block, dtype=np.float64)


def split(xb: Any, yb: Any) -> tuple[np.ndarray, np.ndarray]:
    """A partition as float64 ``(X, y)``; ``yb`` None: ``xb`` is the frame carrying both."""
    if yb is None:
        yb, xb = xb[TARGET], xb.drop(columns=TARGET)
    return as_float(xb, 2), as_float(yb, 1).reshape(-1)


def rows(X: np.ndarray, y: np.ndarray, index: int) -> tuple[Any, ...]:
    """The partial result of the rows ``X``, ``y``, centred at their own means."""
    if X.ndim != 2:
        raise ValueError(f"`X` must be 2-D; partition {index} has shape {X.shape}.")
    if X.shape[0] != y.shape[0]:
        raise ValueError(
            f"`y` must have the rows of `X`: partition {index} of `X` has {X.shape[0]} rows and of `y` "
            f"{y.shape[0]}; derive both from one collection, e.g. X = df[features], y = df[target]."
        )
    n, d = X.shape
    bad_x, bad_y = nonfinite(X), nonfinite(y)
    if n == 0 or bad_x or bad_y:
        return empty(d, bad_x, bad_y)
    m, my = X.mean(axis=0), float(y.mean())
    Xc, yc = X - m, y - my
    xx = Xc.T @ Xc
    return (n, m, my, 0.5 * (xx + xx.T), Xc.T @ yc, float(yc @ yc), 0, 0)


def block_moments(xb: Any, yb: Any, index: int = 0) -> tuple[Any, ...]:
    """The partial result of one partition (``yb`` None: ``xb`` carries ``y``)."""
    X, y = split(xb, yb)
    return rows(X, y, index)


def merge(*parts: tuple[Any, ...]) -> tuple[Any, ...]:
    """The partial result of the union of disjoint row sets (Chan, Golub and LeVeque's update).

    With ``delta = mean_b - mean_a``: ``M = M_a + M_b + delta delta^T n_a n_b / n``.
    """
    out = parts[0]
    for b in parts[1:]:
        bad = (out[6] + b[6], out[7] + b[7])
        if b[0] == 0 or out[0] == 0:
            out = (*(out if b[0] == 0 else b)[:6], *bad)
            continue
        n = out[0] + b[0]
        w = out[0] * b[0] / n
        dx, dy = b[1] - out[1], b[2] - out[2]
        out = (
            n,
            out[1] + dx * (b[0] / n),
            out[2] + dy * (b[0] / n),
            out[3] + b[3] + np.outer(dx, dx) * w,
            out[4] + b[4] + dx * (dy * w),
            out[5] + b[5] + dy * dy * w,
            *bad,
        )
    return out


def split_block_moments(xb: Any, yb: Any, index: int, fraction: float, seed: int) -> tuple[Any, Any]:
    """Training and test partial results of one partition.

    Row ``i`` is a test row when ``u_i < fraction``, ``u`` drawn by ``numpy.random.default_rng((seed,
    index))`` (the partition's own stream: the split depends on the seed and the partitioning only).
    """
    X, y = split(xb, yb)
    test = np.random.default_rng((seed, index)).random(X.shape[0]) < fraction
    return rows(X[~test], y[~test], index), rows(X[test], y[test], index)


def merge_pairs(*pairs: tuple[Any, Any]) -> tuple[Any, Any]:
    """:func:`merge` of the training and of the test partial results of several partitions."""
    return merge(*(p[0] for p in pairs)), merge(*(p[1] for p in pairs))
