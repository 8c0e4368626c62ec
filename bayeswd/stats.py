"""The sufficient statistics of the gaussian likelihood, and centring, from one blocked pass over ``X``.

Every method that needs ``X`` only through ``X^T X``, ``X^T y`` and ``y^T y`` (the exact posterior,
the evidence, the MAP solvers, the lasso paths, bayeswd's NUTS when ``n > d``) takes them from here,
computed once with ``y`` centred when the intercept is fitted (see :class:`SufficientStats`).

This module also owns centring, the way every solver removes the flat intercept: the centred Gram
statistics (:meth:`SufficientStats.centred`, the Schur complement of the intercept in ``[X 1]^T
[X 1]``), the centred data for the SVD-based paths (:func:`centre`), and the intercept recovered
from the centred solution (:func:`intercept_from_centred`).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import NamedTuple

import numpy as np
import torch

from bayeswd._validation import is_dask_input

__all__ = [
    "BLOCK_BYTES",
    "CentredData",
    "CentredStats",
    "SufficientStats",
    "centre",
    "centred_statistics",
    "intercept_from_centred",
    "sufficient_statistics",
]


class CentredStats(NamedTuple):
    """The Gram statistics of the centred data ``Xc = X - mean(X)``, ``yc = y - mean(y)``.

    Without an intercept nothing is centred (the means are 0). The lasso and the evidence work on
    these: with the flat intercept profiled out, ``||y - Xw - b||^2`` minimised over ``b`` is
    ``||yc - Xc w||^2 = w^T G w - 2 c^T w + yty``.

    Attributes
    ----------
    gram : torch.Tensor, shape (d, d)
        ``G = Xc^T Xc``.
    xty : torch.Tensor, shape (d,)
        ``c = Xc^T yc``.
    yty : float
        ``yc^T yc``.
    x_mean : torch.Tensor, shape (d,)
        Column means of ``X`` (zeros without an intercept).
    y_mean : float
        ``mean(y)`` (0 without an intercept).
    n : int
    fit_intercept : bool
    """

    gram: torch.Tensor
    xty: torch.Tensor
    yty: float
    x_mean: torch.Tensor
    y_mean: float
    n: int
    fit_intercept: bool


class SufficientStats(NamedTuple):
    """What the gaussian likelihood needs of the data, from one pass over ``X``.

    With ``A = [X 1]`` (``A = X`` without an intercept) and ``y_c = y - shift``:

    Attributes
    ----------
    gram : torch.Tensor, shape (k, k)
        ``A^T A``; with an intercept its last row and column are ``X^T 1`` and ``n``.
    aty : torch.Tensor, shape (k,)
        ``A^T y_c``.
    yty : float
        ``y_c^T y_c``.
    shift : float
        ``mean(y)`` with an intercept (the flat intercept absorbs it, so every formula is the
        same for ``y`` and ``y_c`` and centring removes the cancellation in
        ``y^T y - 2 t^T A^T y + t^T A^T A t`` when ``y`` sits far from 0), else 0.
    n, d : int
    fit_intercept : bool
    centred_gram, centred_xty : torch.Tensor or None
        ``Xc^T Xc`` and ``Xc^T y_c`` accumulated from the centred blocks ``X_B - mean(X)`` (with an
        intercept): the Schur complement ``X^T X - s s^T / n`` cancels catastrophically when a
        column's mean is large against its spread (an offset of 1e6 on a column of scale 1e-6).
    """

    gram: torch.Tensor
    aty: torch.Tensor
    yty: float
    shift: float
    n: int
    d: int
    fit_intercept: bool
    centred_gram: torch.Tensor | None = None
    centred_xty: torch.Tensor | None = None

    def centred(self) -> CentredStats:
        """The centred statistics: the intercept eliminated from ``A^T A`` by its Schur complement.

        ``Xc^T Xc = X^T X - s s^T / n`` with ``s = X^T 1``, ``Xc^T yc = X^T y_c - s (1^T y_c) / n``
        and ``yc^T yc = y_c^T y_c - (1^T y_c)^2 / n``: no second pass over ``X``. The Gram parts
        come from the centred blocks (``centred_gram``, ``centred_xty``) when the pass kept them.
        """
        d = self.d
        if not self.fit_intercept:
            return CentredStats(self.gram, self.aty, self.yty, self.gram.new_zeros(d), 0.0, self.n, False)
        colsum, ysum, n = self.gram[d, :d], float(self.aty[d]), self.n
        if self.centred_gram is not None and self.centred_xty is not None:
            gram, xty = self.centred_gram, self.centred_xty
        else:
            gram = self.gram[:d, :d] - torch.outer(colsum, colsum) / n  # exactly symmetric
            xty = self.aty[:d] - colsum * (ysum / n)
        return CentredStats(gram, xty, self.yty - ysum**2 / n, colsum / n, self.shift + ysum / n, n, True)


class CentredData(NamedTuple):
    """Centred data for the methods that need ``Xc`` itself (an SVD): see :func:`centre`."""

    X: torch.Tensor
    y: torch.Tensor
    x_mean: torch.Tensor
    y_mean: float
    fit_intercept: bool


#: Rows of ``X`` per block in :func:`sufficient_statistics`: about 4 MB, so that a block read
#: for ``X^T X`` is still in cache for ``X^T y`` and ``X^T 1`` (one pass over memory; see
#: docs/benchmarks.md, "Measurements behind the solver defaults").
BLOCK_BYTES = 1 << 22


#: Below this many multiply-adds (``n d^2``) the statistics are computed on one torch thread: the
#: work is too small to share, and idle worker threads left spinning slow the numpy code (the
#: lasso path) that follows on a machine with few cores (docs/benchmarks.md, "Measurements behind
#: the solver defaults").
SERIAL_WORK = 1 << 24


@contextmanager
def _serial_if_small(work: int) -> Iterator[None]:
    """One torch thread for ``work`` below :data:`SERIAL_WORK`; the caller's setting is restored."""
    threads = torch.get_num_threads()
    if work >= SERIAL_WORK or threads == 1:
        yield
        return
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(threads)


def _target_shift(y: torch.Tensor, fit_intercept: bool) -> float:
    """``mean(y)`` when the flat intercept absorbs it, else 0: the one centring of ``y``."""
    return float(y.mean()) if fit_intercept else 0.0


def centre(X: torch.Tensor, y: torch.Tensor, fit_intercept: bool) -> CentredData:
    """``X - mean(X)`` and ``y - mean(y)`` (a copy of ``X``), or the data as given without an intercept."""
    if not fit_intercept:
        return CentredData(X, y, X.new_zeros(X.shape[1]), 0.0, False)
    x_mean, y_mean = X.mean(0), _target_shift(y, True)
    return CentredData(X - x_mean, y - y_mean, x_mean, y_mean, True)


def intercept_from_centred(centred: CentredStats | CentredData, coef: np.ndarray) -> np.ndarray | float:
    """The intercept ``mean(y) - mean(X) @ w`` of centred solutions ``coef`` (shape (d,) or (m, d)).

    Zeros without an intercept (the caller adds a frozen one).
    """
    if not centred.fit_intercept:
        return 0.0 if coef.ndim == 1 else np.zeros(coef.shape[0])
    return centred.y_mean - coef @ centred.x_mean.cpu().numpy()


def sufficient_statistics(X: torch.Tensor, y: torch.Tensor, fit_intercept: bool = True) -> SufficientStats:
    """``A^T A``, ``A^T y_c`` and ``y_c^T y_c`` in one pass, without ``A = [X 1]`` or a copy of ``X``.

    ``X`` is read once, in blocks of rows; the extra memory is ``O(d^2)`` plus one block. Small
    problems (``n d^2`` below :data:`SERIAL_WORK`) run on one torch thread, whoever calls, so that
    every caller gets the same numbers.

    ``X`` and ``y`` may also be a ``dask.array`` / ``dask.dataframe`` pair (or bayeswd's stand-in for
    one): the pass is then a Dask reduction over their partitions on the active scheduler, and only
    the statistics come back (:mod:`bayeswd._dask`, docs/dask.md).

    Parameters
    ----------
    X : torch.Tensor, shape (n, d)
    y : torch.Tensor, shape (n,)
    fit_intercept : bool, default True

    Returns
    -------
    SufficientStats
    """
    if is_dask_input(X, y):
        from bayeswd._dask import statistics

        return statistics(X, y, fit_intercept)
    with _serial_if_small(X.shape[0] * X.shape[1] ** 2):
        return _one_pass(X, y, fit_intercept)


def _one_pass(X: torch.Tensor, y: torch.Tensor, fit_intercept: bool) -> SufficientStats:
    """The statistics; with an intercept, accumulated from blocks centred at the column means.

    Centring each block before the products keeps ``Xc^T Xc`` accurate when a column's mean is far
    larger than its spread; ``A^T A`` and ``A^T y_c`` are then rebuilt from the centred sums
    exactly (``X = Xc + 1 m^T``), so both forms are as accurate as the data allow. The means cost
    one extra ``O(n d)`` read of ``X``.
    """
    n, d = X.shape
    shift = _target_shift(y, fit_intercept)
    k = d + int(fit_intercept)
    gram = X.new_zeros(k, k)
    aty = X.new_zeros(k)
    xx, xy = X.new_zeros(d, d), X.new_zeros(d)
    m = X.mean(0) if fit_intercept else None
    csum = X.new_zeros(d)  # sum of the centred rows: zero up to the rounding of m
    yc = y - shift if fit_intercept else y
    rows = max(1, BLOCK_BYTES // (X.element_size() * d))
    for start in range(0, n, rows):
        Xb = X[start:start + rows] if m is None else X[start:start + rows] - m
        xx.addmm_(Xb.T, Xb)
        xy.addmv_(Xb.T, yc[start:start + rows])
        if m is not None:
            csum += Xb.sum(0)
    if m is None:
        return SufficientStats(xx, xy, float(yc @ yc), shift, n, d, fit_intercept)
    ysum = float(yc.sum())
    # X^T X = Xc^T Xc + s m^T + m s^T + n m m^T with s = Xc^T 1 (exactly symmetric).
    sm = torch.outer(csum, m)
    gram[:d, :d] = xx + (sm + sm.T) + n * torch.outer(m, m)
    aty[:d] = xy + m * ysum
    colsum = csum + n * m
    gram[:d, d] = colsum
    gram[d, :d] = colsum
    gram[d, d] = float(n)
    aty[d] = ysum
    # The exact centring about the rounded mean m: remove the (tiny) remaining means s / n.
    centred_gram = xx - torch.outer(csum, csum) / n
    centred_xty = xy - csum * (ysum / n)
    return SufficientStats(gram, aty, float(yc @ yc), shift, n, d, fit_intercept, centred_gram, centred_xty)


def centred_statistics(X: torch.Tensor, y: torch.Tensor, fit_intercept: bool = True) -> CentredStats:
    """:meth:`SufficientStats.centred` of :func:`sufficient_statistics`: one pass over ``X``."""
    return sufficient_statistics(X, y, fit_intercept).centred()
