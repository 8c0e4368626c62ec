"""Choosing ``lam`` by a held-out validation set or by seeded k-fold cross-validation."""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from bayeswd._validation import check_bool, check_choice, check_grid, check_integer, check_positive_int
from bayeswd.conventions import PRIORS
from bayeswd.exceptions import ConvergenceWarning
from bayeswd.selection.paths import PathData, as_xy, mean_squared_errors
from bayeswd.selection.sweep import lam_sweep
from bayeswd.solvers.lasso import DEFAULT_MAX_ITER, DEFAULT_TOL

__all__ = ["SelectionResult", "cv_curve", "validation_curve"]


@dataclass(frozen=True)
class SelectionResult:
    """A validation or cross-validation curve of mean squared error against ``lam``.

    Attributes
    ----------
    method : {"validation", "cv"}
    prior : {"gaussian", "laplace"}
    lams : np.ndarray, shape (m,)
        Penalties, increasing, in :func:`bayeswd.map_fit`'s ``lam`` convention.
    mse : np.ndarray, shape (m,)
        Validation MSE ``mean((y_val - X_val w - b)^2)``, or for ``"cv"`` the mean over folds of
        each fold's held-out MSE.
    se : np.ndarray, shape (m,)
        Standard error of ``mse``: ``std(squared errors, ddof=1) / sqrt(n_val)`` across the
        validation rows, or ``std(fold MSEs, ddof=1) / sqrt(n_folds)`` across folds.
    lam_best : float
        The grid ``lam`` with the smallest ``mse``.
    lam_1se : float
        The largest grid ``lam`` whose ``mse`` is within one standard error of the minimum
        (the "one-standard-error rule").
    fold_mse : np.ndarray or None, shape (n_folds, m)
        Held-out MSE of each fold (``"cv"`` only).
    folds : np.ndarray of int or None, shape (n,)
        Fold of each training row (``"cv"`` only), from ``seed``.
    seed : int or None
        Seed of the fold assignment (``"cv"`` only).
    """

    method: str
    prior: str
    lams: np.ndarray
    mse: np.ndarray
    se: np.ndarray
    lam_best: float
    lam_1se: float
    fold_mse: np.ndarray | None = None
    folds: np.ndarray | None = None
    seed: int | None = None

    def __repr__(self) -> str:
        return (
            f"SelectionResult(method={self.method!r}, prior={self.prior!r}, m={self.lams.size}, "
            f"lam_best={self.lam_best:.6g}, lam_1se={self.lam_1se:.6g})"
        )


def _one_se(lams: np.ndarray, mse: np.ndarray, se: np.ndarray) -> tuple[float, float]:
    i = int(np.argmin(mse))
    within = np.flatnonzero(mse <= mse[i] + se[i])
    return float(lams[i]), float(lams[within.max()])


def validation_curve(
    X: Any,
    y: Any,
    X_val: Any,
    y_val: Any,
    *,
    prior: str = "gaussian",
    lams: Any = None,
    n_lams: int = 50,
    fit_intercept: bool = True,
) -> SelectionResult:
    r"""Choose ``lam`` by a held-out validation set.

    Fits the path of :func:`lam_sweep` on ``(X, y)`` and scores each penalty by the validation
    mean squared error ``mean((y_val - X_val w(lam) - b(lam))^2)``.

    Parameters
    ----------
    X, y : array_like, shapes (n, d) and (n,)
        Training rows.
    X_val, y_val : array_like, shapes (n_val, d) and (n_val,)
        Validation rows (``n_val >= 2``).
    prior : {"gaussian", "laplace"}, default "gaussian"
    lams : array_like, optional
        Penalties in :func:`bayeswd.map_fit`'s ``lam`` convention (``sigma^2/tau^2`` or
        ``2 sigma^2/tau``); default as :func:`lam_sweep`.
    n_lams : int, default 50
    fit_intercept : bool, default True

    Returns
    -------
    SelectionResult
        ``method="validation"``; ``se`` is the standard error of the mean of the per-row squared
        errors, ``std(ddof=1) / sqrt(n_val)``.
    """
    s = lam_sweep(
        X, y, prior=prior, lams=lams, n_lams=n_lams, X_test=X_val, y_test=y_val,
        fit_intercept=fit_intercept,
    )
    Xv, yv, _ = as_xy(X_val, y_val, "X_val", "y_val")
    Xv, yv = Xv.numpy(), yv.numpy()
    sq = (yv[None, :] - s.coef @ Xv.T - s.intercept[:, None]) ** 2
    mse = sq.mean(axis=1)
    se = sq.std(axis=1, ddof=1) / math.sqrt(yv.size)
    lam_best, lam_1se = _one_se(s.lams, mse, se)
    return SelectionResult("validation", s.prior, s.lams, mse, se, lam_best, lam_1se)


def cv_curve(
    X: Any,
    y: Any,
    *,
    prior: str = "gaussian",
    lams: Any = None,
    n_lams: int = 50,
    n_folds: int = 5,
    fit_intercept: bool = True,
    seed: int = 0,
) -> SelectionResult:
    r"""Choose ``lam`` by k-fold cross-validation with a seeded fold assignment.

    For each fold ``k`` the path of :func:`lam_sweep` is fitted on the other folds and scored by the
    held-out mean squared error ``MSE_k(lam)``. The curve is ``mean_k MSE_k(lam)`` and its standard
    error ``std_k(MSE_k(lam), ddof=1) / sqrt(n_folds)``.

    Parameters
    ----------
    X, y : array_like, shapes (n, d) and (n,)
    prior : {"gaussian", "laplace"}, default "gaussian"
    lams : array_like, optional
        Penalties in :func:`bayeswd.map_fit`'s ``lam`` convention. Default: the grid of
        :func:`lam_sweep` computed on all rows, shared by every fold. ``lam`` multiplies a *sum*
        of squares, so one prior is one ``lam = sigma^2/tau^2`` whatever the number of rows: the
        folds (fitted on ``(1 - 1/n_folds) n`` rows) and the full data share it. (Mean-scaled
        penalties such as ``weight_decay`` do depend on ``n``.)
    n_lams : int, default 50
    n_folds : int, default 5
        Number of folds, ``2 <= n_folds <= n``.
    fit_intercept : bool, default True
    seed : int, default 0
        Seed of the fold assignment (a random permutation, then rows dealt out in turn, so fold
        sizes differ by at most one).

    Returns
    -------
    SelectionResult
        ``method="cv"`` with ``fold_mse``, ``folds`` and ``seed``.
    """
    prior = check_choice(prior, "prior", PRIORS)
    fit_intercept = check_bool(fit_intercept, "fit_intercept")
    n_lams = check_positive_int(n_lams, "n_lams")
    Xt, yt, _ = as_xy(X, y)
    n = yt.numel()
    n_folds = check_positive_int(n_folds, "n_folds", minimum=2)
    if n_folds > n:
        raise ValueError(f"`n_folds` must be at most the number of rows {n}; got {n_folds}.")
    seed = check_integer(seed, "seed")
    if lams is None:
        grid = PathData(Xt, yt, prior, fit_intercept).default_grid(n_lams)
    else:
        grid = check_grid(lams, "lams")
    perm = np.random.default_rng(seed).permutation(n)
    folds = np.empty(n, dtype=np.int64)
    folds[perm] = np.arange(n) % n_folds
    fold_mse = np.empty((n_folds, grid.size))
    for k in range(n_folds):
        test = torch.from_numpy(folds == k)
        coef, intercept, _, ok = PathData(Xt[~test], yt[~test], prior, fit_intercept).fit(
            grid, DEFAULT_TOL, DEFAULT_MAX_ITER
        )
        if not ok.all():
            warnings.warn(
                f"cv_curve: the laplace path of fold {k} did not converge at {int((~ok).sum())} "
                "penalties.", ConvergenceWarning, stacklevel=2,
            )
        fold_mse[k] = mean_squared_errors(Xt[test].numpy(), yt[test].numpy(), coef, intercept)
    mse = fold_mse.mean(axis=0)
    se = fold_mse.std(axis=0, ddof=1) / math.sqrt(n_folds)
    lam_best, lam_1se = _one_se(grid, mse, se)
    return SelectionResult("cv", prior, grid, mse, se, lam_best, lam_1se, fold_mse, folds, seed)

