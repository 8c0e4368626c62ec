r"""Choosing lambda: regularisation paths, validation, cross-validation, evidence, full Bayes.

Every function here speaks the penalty ``lam`` of :func:`bayeswd.map_fit`, the sum-of-squares form
of the negative log posterior times ``2 sigma^2``:

.. math::

    \text{gaussian:}\ \lVert y - Xw - b\rVert_2^2 + \lambda \lVert w\rVert_2^2,\quad
    \lambda = \sigma^2/\tau^2;\qquad
    \text{laplace:}\ \lVert y - Xw - b\rVert_2^2 + \lambda_1 \lVert w\rVert_1,\quad
    \lambda_1 = 2\sigma^2/\tau,

with an unpenalised intercept ``b``. The MAP depends on ``(sigma, tau)`` through ``lam`` only, so a
sweep needs no ``sigma``. Errors are mean squared errors ``mean((y - Xw - b)^2)`` (no 1/2).

- :func:`lam_sweep`: the whole path for a grid of ``lam`` (or ``tau``): one SVD of the centred design
  gives the gaussian path exactly; the laplace path is warm-started proximal gradient with an exact
  active-set solve, from the largest ``lam`` down.
- :func:`validation_curve`, :func:`cv_curve`: choose ``lam`` by a held-out set or by seeded k-fold
  cross-validation (curve, standard error, minimum and one-standard-error choice).
- :func:`maximize_evidence`: empirical Bayes, the closed-form gaussian marginal likelihood maximised
  over ``(sigma, tau)``; the same optimum as scikit-learn's ``BayesianRidge``.
- :func:`lam_from_draws`: full Bayes, posterior draws of ``tau`` (and ``sigma``) turned into draws of
  ``lam``.
- :func:`compare_priors`: an ArviZ LOO comparison table between posteriors.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import scipy.linalg
import scipy.optimize
import torch

from bayeswd._validation import (
    _describe,
    as_design,
    as_target,
    check_choice,
    check_positive,
    check_positive_int,
)
from bayeswd.conventions import PRIORS
from bayeswd.exceptions import BayeswdWarning, ConvergenceWarning

__all__ = [
    "EvidenceResult",
    "SelectionResult",
    "SweepResult",
    "compare_priors",
    "cv_curve",
    "lam_from_draws",
    "lam_sweep",
    "maximize_evidence",
    "validation_curve",
]

_LASSO_TOL = 1e-10
_LASSO_MAX_ITER = 100_000


# --------------------------------------------------------------------------------------------
# results


@dataclass(frozen=True)
class SweepResult:
    """MAP fits along a grid of penalties: the regularisation path and its errors.

    All arrays are float64 numpy arrays ordered by increasing ``lams``; row ``i`` is the MAP
    (:func:`bayeswd.map_fit` with ``lam=lams[i]``).

    Attributes
    ----------
    prior : {"gaussian", "laplace"}
    lams : np.ndarray, shape (m,)
        Penalties, increasing: ``lam`` in ``||r||^2 + lam ||w||_2^2`` (gaussian, ``sigma^2/tau^2``)
        or ``lam1`` in ``||r||^2 + lam1 ||w||_1`` (laplace, ``2 sigma^2/tau``).
    coef : np.ndarray, shape (m, d)
        The regularisation path: weights at each penalty.
    intercept : np.ndarray, shape (m,)
        Intercepts (unpenalised; zeros when ``fit_intercept=False``).
    train_mse : np.ndarray, shape (m,)
        ``mean((y - X w - b)^2)`` on the training rows.
    test_mse : np.ndarray or None, shape (m,)
        The same on the test rows, when they were given.
    weight_norm : np.ndarray, shape (m,)
        Euclidean norm ``||w||_2``.
    l1_norm : np.ndarray, shape (m,)
        ``||w||_1``.
    n_nonzero : np.ndarray of int, shape (m,)
        Number of non-zero weights (``w_j != 0``; the laplace MAP has exact zeros).
    n_iter : np.ndarray of int, shape (m,)
        Proximal-gradient iterations spent at each penalty (0 for the closed-form gaussian path
        and for laplace penalties solved by the active-set step alone).
    fit_intercept : bool
    feature_names : tuple of str
    """

    prior: str
    lams: np.ndarray
    coef: np.ndarray
    intercept: np.ndarray
    train_mse: np.ndarray
    test_mse: np.ndarray | None
    weight_norm: np.ndarray
    l1_norm: np.ndarray
    n_nonzero: np.ndarray
    n_iter: np.ndarray
    fit_intercept: bool
    feature_names: tuple[str, ...] = field(default=())

    def __repr__(self) -> str:
        best = "" if self.test_mse is None else f", best test lam={self.lams[np.argmin(self.test_mse)]:.4g}"
        return (
            f"SweepResult(prior={self.prior!r}, m={self.lams.size}, d={self.coef.shape[1]}, "
            f"lams=[{self.lams[0]:.4g} .. {self.lams[-1]:.4g}]{best})"
        )


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


@dataclass(frozen=True)
class EvidenceResult:
    r"""The gaussian model's marginal likelihood, maximised over ``sigma`` and ``tau``.

    Attributes
    ----------
    lam : float
        ``sigma^2 / tau^2`` at the maximum (the ridge penalty that empirical Bayes picks).
    sigma, tau : float
        Maximising noise sd and prior sd.
    alpha_, lambda_ : float
        The same as precisions, ``1/sigma^2`` and ``1/tau^2`` (scikit-learn ``BayesianRidge``).
    log_evidence : float
        Maximum of ``log p(y | sigma, tau)`` (see :func:`maximize_evidence` for the exact form).
    coef : np.ndarray, shape (d,)
        Posterior mean (= MAP = ridge) weights at the maximum.
    intercept : float
        The intercept ``mean(y) - mean(X) @ coef`` (0 when ``fit_intercept=False``).
    lams : np.ndarray, shape (m,)
        Grid of ``lam`` for the profile curve.
    log_evidence_curve : np.ndarray, shape (m,)
        ``max over sigma of log p(y | sigma, tau = sigma / sqrt(lam))`` on ``lams``.
    sigma_curve : np.ndarray, shape (m,)
        The maximising ``sigma`` at each grid ``lam``.
    intercept_mode : {"centre", "integrate"}
        How the intercept was handled (see :func:`maximize_evidence`).
    """

    lam: float
    sigma: float
    tau: float
    alpha_: float
    lambda_: float
    log_evidence: float
    coef: np.ndarray
    intercept: float
    lams: np.ndarray
    log_evidence_curve: np.ndarray
    sigma_curve: np.ndarray
    intercept_mode: str

    def __repr__(self) -> str:
        return (
            f"EvidenceResult(lam={self.lam:.6g}, sigma={self.sigma:.6g}, tau={self.tau:.6g}, "
            f"log_evidence={self.log_evidence:.6g}, intercept_mode={self.intercept_mode!r})"
        )


# --------------------------------------------------------------------------------------------
# boundary helpers


def _as_numpy_xy(
    X: Any, y: Any, xname: str = "X", yname: str = "y"
) -> tuple[np.ndarray, np.ndarray, list[str]]:
    Xt, names = as_design(X, name=xname)
    yt = as_target(y, Xt.shape[0], name=yname)
    return Xt.numpy(), yt.numpy(), names


def _check_bool(value: Any, name: str) -> bool:
    if not isinstance(value, bool):
        raise TypeError(f"`{name}` must be True or False; got {_describe(value)}.")
    return value


def _check_nonnegative(value: Any, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise TypeError(f"`{name}` must be a non-negative finite number; got {_describe(value)}.")
    if not math.isfinite(float(value)) or value < 0:
        raise ValueError(f"`{name}` must be a non-negative finite number; got {float(value)!r}.")
    return float(value)


def _check_grid(values: Any, name: str) -> np.ndarray:
    """A 1-D grid of positive finite numbers, returned sorted increasing and de-duplicated."""
    if isinstance(values, torch.Tensor):
        values = values.detach().cpu().numpy()
    try:
        arr = np.asarray(values, dtype=np.float64)
    except (TypeError, ValueError):
        raise TypeError(
            f"`{name}` must be a 1-D array of positive numbers; got {_describe(values)}."
        ) from None
    if arr.ndim != 1 or arr.size == 0:
        raise ValueError(
            f"`{name}` must be a non-empty 1-D array of positive numbers; got shape {arr.shape}."
        )
    if not np.all(np.isfinite(arr)) or np.any(arr <= 0):
        bad = float(arr[~(np.isfinite(arr) & (arr > 0))][0])
        raise ValueError(f"`{name}` must contain positive finite numbers only; got {bad!r}.")
    return np.unique(arr)


def _centre(
    X: np.ndarray, y: np.ndarray, fit_intercept: bool
) -> tuple[np.ndarray, np.ndarray, np.ndarray, float]:
    if not fit_intercept:
        return X, y, np.zeros(X.shape[1]), 0.0
    x_mean, y_mean = X.mean(axis=0), float(y.mean())
    return X - x_mean, y - y_mean, x_mean, y_mean


def _resolve_lams(
    lams: Any, taus: Any, sigma: Any, n_lams: int, prior: str, Xc: np.ndarray, yc: np.ndarray
) -> np.ndarray:
    if lams is not None and taus is not None:
        raise ValueError("give `lams` or `taus`, not both; got both.")
    if taus is not None:
        if sigma is None:
            raise ValueError(
                "`sigma` is required with `taus` (lam = sigma^2/tau^2 or 2 sigma^2/tau); got None."
            )
        sigma = check_positive(sigma, "sigma")
        t = _check_grid(taus, "taus")
        return np.unique(sigma**2 / t**2 if prior == "gaussian" else 2.0 * sigma**2 / t)
    if lams is not None:
        return _check_grid(lams, "lams")
    return _default_lam_grid(Xc, yc, prior, n_lams)


def _default_lam_grid(Xc: np.ndarray, yc: np.ndarray, prior: str, n_lams: int = 50) -> np.ndarray:
    """Default log-spaced grid for centred data ``(Xc, yc)``.

    Gaussian: ``s_max^2 * [1e-6, 1e2]`` (``s_max`` the largest singular value of ``Xc``).
    Laplace: ``lam1_max * [1e-4, 1]`` where ``lam1_max = 2 max|Xc^T yc|`` is the smallest
    penalty whose MAP is ``w = 0``.
    """
    if prior == "gaussian":
        top = float(np.linalg.norm(Xc, 2)) ** 2
        top = top if top > 0 else 1.0
        return np.geomspace(top * 1e-6, top * 1e2, n_lams)
    lam_max = 2.0 * float(np.abs(Xc.T @ yc).max())
    lam_max = lam_max if lam_max > 0 else 1.0
    return np.geomspace(lam_max * 1e-4, lam_max, n_lams)


# --------------------------------------------------------------------------------------------
# paths


def _ridge_path(Xc: np.ndarray, yc: np.ndarray, lams: np.ndarray) -> np.ndarray:
    """Exact ridge path ``w(lam) = V diag(s / (s^2 + lam)) U^T yc`` from one thin SVD."""
    U, s, Vt = np.linalg.svd(Xc, full_matrices=False)
    uty = U.T @ yc
    filt = s / (s**2 + lams[:, None])  # (m, k)
    return (filt * uty) @ Vt


def _lasso_kkt(g: np.ndarray, w: np.ndarray, lam: float) -> float:
    """Largest violation of ``0 in g + lam d||w||_1``, divided by ``lam``."""
    nz = w != 0
    viol = np.where(nz, np.abs(g + lam * np.sign(w)), np.maximum(np.abs(g) - lam, 0.0))
    return float(viol.max()) / lam if viol.size else 0.0


def _lasso_active_set(
    Xc: np.ndarray, yc: np.ndarray, c: np.ndarray, lam: float, idx: np.ndarray, signs: np.ndarray, tol: float
) -> tuple[np.ndarray | None, np.ndarray]:
    """Solve the optimality system on a fixed support and signs; return (solution or None, grad)."""
    d = Xc.shape[1]
    cand = np.zeros(d)
    if idx.size:
        A = Xc[:, idx]
        try:
            cho = scipy.linalg.cho_factor(A.T @ A, check_finite=False)
        except np.linalg.LinAlgError:
            return None, np.empty(0)
        sol = scipy.linalg.cho_solve(cho, c[idx] - 0.5 * lam * signs, check_finite=False)
        if np.any(np.sign(sol) != signs):
            return None, np.empty(0)
        cand[idx] = sol
    g = 2.0 * (Xc.T @ (Xc @ cand) - c)
    return (cand if _lasso_kkt(g, cand, lam) <= tol else None), g


def _lasso_one(
    Xc: np.ndarray, yc: np.ndarray, c: np.ndarray, lam: float, w0: np.ndarray, L: float,
    tol: float, max_iter: int,
) -> tuple[np.ndarray, int, bool]:
    """Minimise ``||yc - Xc w||^2 + lam ||w||_1`` from the warm start ``w0``.

    First the active-set step: keep the warm start's support and signs, add the coordinates that
    violate the optimality condition, solve exactly. If that fails, FISTA (adaptive restart) in
    chunks of 25 iterations, each followed by the active-set solve on the current support.
    Converged when the scaled KKT violation ``max viol / lam <= tol`` (the criterion of
    :func:`bayeswd.map_fit`'s proximal method, which is ``tau`` times the violation in ``U``).
    """
    idx = np.flatnonzero(w0)
    sol, g = _lasso_active_set(Xc, yc, c, lam, idx, np.sign(w0[idx]), tol)
    if sol is not None:
        return sol, 0, True
    if g.size == 0:
        g = 2.0 * (Xc.T @ (Xc @ w0) - c)
    enter = np.flatnonzero((w0 == 0) & (np.abs(g) > lam))
    if enter.size:
        idx2 = np.concatenate([idx, enter])
        signs2 = np.concatenate([np.sign(w0[idx]), -np.sign(g[enter])])
        order = np.argsort(idx2)
        sol, _ = _lasso_active_set(Xc, yc, c, lam, idx2[order], signs2[order], tol)
        if sol is not None:
            return sol, 0, True
    step, thr = 1.0 / L, lam / L
    x = z = w0.copy()

    def obj(w: np.ndarray) -> float:
        r = yc - Xc @ w
        return float(r @ r + lam * np.abs(w).sum())

    def prox_step(v: np.ndarray) -> np.ndarray:
        u = v - step * 2.0 * (Xc.T @ (Xc @ v) - c)
        return np.sign(u) * np.maximum(np.abs(u) - thr, 0.0)

    t_k, f_prev = 1.0, obj(x)
    for it in range(1, max_iter + 1):
        x_new = prox_step(z)
        f_new = obj(x_new)
        if f_new > f_prev:  # adaptive restart (O'Donoghue & Candes, 2015)
            t_k = 1.0
            x_new = prox_step(x)
            f_new = obj(x_new)
        t_next = 0.5 * (1.0 + math.sqrt(1.0 + 4.0 * t_k**2))
        z = x_new + ((t_k - 1.0) / t_next) * (x_new - x)
        x, t_k, f_prev = x_new, t_next, f_new
        if it % 25 == 0:
            idx = np.flatnonzero(x)
            sol, _ = _lasso_active_set(Xc, yc, c, lam, idx, np.sign(x[idx]), tol)
            if sol is not None:
                return sol, it, True
    g = 2.0 * (Xc.T @ (Xc @ x) - c)
    return x, max_iter, _lasso_kkt(g, x, lam) <= tol


def _lasso_path(
    Xc: np.ndarray, yc: np.ndarray, lams: np.ndarray, tol: float, max_iter: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Warm-started path from the largest ``lam`` down; returns (coef, n_iter, converged)."""
    m, d = lams.size, Xc.shape[1]
    c = Xc.T @ yc
    L = 2.0 * float(np.linalg.norm(Xc, 2)) ** 2
    L = L if L > 0 else 1.0
    coef = np.zeros((m, d))
    n_iter = np.zeros(m, dtype=np.int64)
    ok = np.ones(m, dtype=bool)
    w = np.zeros(d)
    for i in range(m - 1, -1, -1):
        w, n_iter[i], ok[i] = _lasso_one(Xc, yc, c, float(lams[i]), w, L, tol, max_iter)
        coef[i] = w
    return coef, n_iter, ok


def _path(
    X: np.ndarray, y: np.ndarray, prior: str, lams: np.ndarray, fit_intercept: bool,
    tol: float, max_iter: int,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    Xc, yc, x_mean, y_mean = _centre(X, y, fit_intercept)
    if prior == "gaussian":
        coef = _ridge_path(Xc, yc, lams)
        n_iter, ok = np.zeros(lams.size, dtype=np.int64), np.ones(lams.size, dtype=bool)
    else:
        coef, n_iter, ok = _lasso_path(Xc, yc, lams, tol, max_iter)
    intercept = y_mean - coef @ x_mean if fit_intercept else np.zeros(lams.size)
    return coef, intercept, n_iter, ok


def _mse(X: np.ndarray, y: np.ndarray, coef: np.ndarray, intercept: np.ndarray) -> np.ndarray:
    resid = y[None, :] - coef @ X.T - intercept[:, None]
    return np.mean(resid**2, axis=1)


def lam_sweep(
    X: Any,
    y: Any,
    *,
    prior: str = "gaussian",
    lams: Any = None,
    taus: Any = None,
    sigma: float | None = None,
    n_lams: int = 50,
    X_test: Any = None,
    y_test: Any = None,
    fit_intercept: bool = True,
    tol: float = _LASSO_TOL,
    max_iter: int = _LASSO_MAX_ITER,
) -> SweepResult:
    r"""MAP fits over a grid of penalties: the regularisation path with train and test error.

    At each ``lam`` the result is the minimiser of (``2 sigma^2`` times the negative log posterior)

    .. math::

        \lVert y - Xw - b\rVert_2^2 + \lambda\lVert w\rVert_2^2\ \text{(gaussian)},\qquad
        \lVert y - Xw - b\rVert_2^2 + \lambda_1\lVert w\rVert_1\ \text{(laplace)},

    the same as :func:`bayeswd.map_fit` with ``lam=lams[i]`` (any ``sigma``). The intercept is
    unpenalised and removed exactly by centring ``X`` and ``y``.

    Parameters
    ----------
    X : array_like, shape (n, d)
    y : array_like, shape (n,)
    prior : {"gaussian", "laplace"}, default "gaussian"
    lams : array_like, shape (m,), optional
        Penalties (sorted increasing in the result): ``lam = sigma^2/tau^2`` (gaussian, the
        scikit-learn ``Ridge`` alpha) or ``lam1 = 2 sigma^2/tau`` (laplace; scikit-learn
        ``Lasso(alpha=lam1 / (2 n))``). Default: ``n_lams`` log-spaced values, for the gaussian
        ``s_max^2 [1e-6, 1e2]`` (``s_max`` the largest singular value of the centred ``X``), for the
        laplace ``lam1_max [1e-4, 1]`` with ``lam1_max = 2 max |Xc^T yc|`` (where ``w`` becomes 0).
    taus : array_like, optional
        Prior scales instead of ``lams`` (needs ``sigma``).
    sigma : float, optional
        Noise sd, only to convert ``taus``.
    n_lams : int, default 50
        Size of the default grid.
    X_test, y_test : array_like, optional
        Test rows for ``test_mse``.
    fit_intercept : bool, default True
        Estimate the (unpenalised) intercept; ``False`` fixes it at 0.
    tol : float, default 1e-10
        Laplace only: tolerance on the KKT violation divided by ``lam1`` (as ``map_fit``).
    max_iter : int, default 100000
        Laplace only: proximal-gradient budget per penalty.

    Returns
    -------
    SweepResult

    Raises
    ------
    ValueError, TypeError
        For invalid data or settings; the message names the argument.

    Warns
    -----
    ConvergenceWarning
        When a laplace penalty exhausts ``max_iter``.

    Notes
    -----
    Gaussian: one thin SVD ``Xc = U S V^T`` of the centred design gives every point of the path
    exactly, ``w(lam) = V diag(s / (s^2 + lam)) U^T yc`` (vectorised over the grid). Laplace: from
    the largest ``lam1`` down, each fit starts from the previous one; an active-set step (solve the
    optimality system on the warm start's support and signs, plus the violating coordinates)
    usually finishes it, otherwise FISTA iterations run until the same step succeeds.

    Examples
    --------
    >>> from bayeswd import seed_problem
    >>> p = seed_problem()
    >>> s = lam_sweep(p.train.X, p.train.y, X_test=p.test.X, y_test=p.test.y)
    >>> s.coef.shape
    (50, 200)
    """
    prior = check_choice(prior, "prior", PRIORS)
    fit_intercept = _check_bool(fit_intercept, "fit_intercept")
    n_lams = check_positive_int(n_lams, "n_lams")
    tol = check_positive(tol, "tol")
    max_iter = check_positive_int(max_iter, "max_iter")
    Xn, yn, names = _as_numpy_xy(X, y)
    if (X_test is None) != (y_test is None):
        raise ValueError("`X_test` and `y_test` must be given together; got only one of them.")
    Xtest = ytest = None
    if X_test is not None:
        Xtest, ytest, _ = _as_numpy_xy(X_test, y_test, "X_test", "y_test")
        if Xtest.shape[1] != Xn.shape[1]:
            raise ValueError(
                f"`X_test` must have {Xn.shape[1]} columns like `X`; got {Xtest.shape[1]}."
            )
    Xc, yc, _, _ = _centre(Xn, yn, fit_intercept)
    grid = _resolve_lams(lams, taus, sigma, n_lams, prior, Xc, yc)
    coef, intercept, n_iter, ok = _path(Xn, yn, prior, grid, fit_intercept, tol, max_iter)
    if not ok.all():
        bad = grid[~ok]
        warnings.warn(
            f"lam_sweep(prior='laplace') did not meet tol={tol:g} within max_iter={max_iter} at "
            f"{bad.size} penalties (smallest {bad.min():.4g}); increase `max_iter`.",
            ConvergenceWarning,
            stacklevel=2,
        )
    return SweepResult(
        prior=prior,
        lams=grid,
        coef=coef,
        intercept=intercept,
        train_mse=_mse(Xn, yn, coef, intercept),
        test_mse=None if Xtest is None else _mse(Xtest, ytest, coef, intercept),
        weight_norm=np.linalg.norm(coef, axis=1),
        l1_norm=np.abs(coef).sum(axis=1),
        n_nonzero=np.count_nonzero(coef, axis=1),
        n_iter=n_iter,
        fit_intercept=fit_intercept,
        feature_names=tuple(names),
    )


# --------------------------------------------------------------------------------------------
# validation and cross-validation


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
    Xv, yv, _ = _as_numpy_xy(X_val, y_val, "X_val", "y_val")
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
    fit_intercept = _check_bool(fit_intercept, "fit_intercept")
    n_lams = check_positive_int(n_lams, "n_lams")
    Xn, yn, _ = _as_numpy_xy(X, y)
    n = yn.size
    n_folds = check_positive_int(n_folds, "n_folds", minimum=2)
    if n_folds > n:
        raise ValueError(f"`n_folds` must be at most the number of rows {n}; got {n_folds}.")
    if not isinstance(seed, (int, np.integer)) or isinstance(seed, bool):
        raise TypeError(f"`seed` must be an integer; got {_describe(seed)}.")
    Xc, yc, _, _ = _centre(Xn, yn, fit_intercept)
    grid = _resolve_lams(lams, None, None, n_lams, prior, Xc, yc)
    perm = np.random.default_rng(int(seed)).permutation(n)
    folds = np.empty(n, dtype=np.int64)
    folds[perm] = np.arange(n) % n_folds
    fold_mse = np.empty((n_folds, grid.size))
    for k in range(n_folds):
        test = folds == k
        coef, intercept, _, ok = _path(
            Xn[~test], yn[~test], prior, grid, fit_intercept, _LASSO_TOL, _LASSO_MAX_ITER
        )
        if not ok.all():
            warnings.warn(
                f"cv_curve: the laplace path of fold {k} did not converge at {int((~ok).sum())} "
                "penalties.", ConvergenceWarning, stacklevel=2,
            )
        fold_mse[k] = _mse(Xn[test], yn[test], coef, intercept)
    mse = fold_mse.mean(axis=0)
    se = fold_mse.std(axis=0, ddof=1) / math.sqrt(n_folds)
    lam_best, lam_1se = _one_se(grid, mse, se)
    return SelectionResult("cv", prior, grid, mse, se, lam_best, lam_1se, fold_mse, folds, int(seed))


# --------------------------------------------------------------------------------------------
# evidence


_INTERCEPT_MODES = ("centre", "integrate")


def _evidence_parts(Xc: np.ndarray, yc: np.ndarray) -> tuple[np.ndarray, np.ndarray, float, np.ndarray]:
    U, s, Vt = np.linalg.svd(Xc, full_matrices=False)
    keep = s > s.max() * max(Xc.shape) * np.finfo(float).eps if s.size and s.max() > 0 else s > 0
    U, s, Vt = U[:, keep], s[keep], Vt[keep]
    uty = U.T @ yc
    rest = max(float(yc @ yc - uty @ uty), 0.0)  # part of yc outside the column space of Xc
    return s**2, uty, rest, Vt


def _profile(
    lams: np.ndarray, e: np.ndarray, uty: np.ndarray, rest: float, n_eff: int, const: float,
    hyper: tuple[float, float, float, float] = (0.0, 0.0, 0.0, 0.0),
) -> tuple[np.ndarray, np.ndarray]:
    """Profile log evidence over sigma at each lam; returns (log evidence, sigma_hat).

    With ``alpha = 1/sigma^2`` and ``lambda = alpha lam`` the log evidence is
    ``(n_eff log alpha - alpha E + k log lam - sum log(lam + e) - n_eff log 2 pi) / 2
    + a1 log alpha - a2 alpha + l1 log lambda - l2 lambda + const``, ``E = rss + lam ||m||^2``,
    maximised over alpha by ``(n_eff/2 + a1 + l1) / (E/2 + a2 + l2 lam)``.
    """
    a1, a2, l1, l2 = hyper
    lam = np.atleast_1d(lams).astype(np.float64)
    shrink = lam[:, None] / (e + lam[:, None])  # (m, k)
    rss = np.sum((shrink * uty) ** 2, axis=1) + rest
    wnorm2 = np.sum((np.sqrt(e) * uty / (e + lam[:, None])) ** 2, axis=1)
    E = rss + lam * wnorm2
    alpha = (0.5 * n_eff + a1 + l1) / (0.5 * E + a2 + l2 * lam)
    lambda_ = alpha * lam
    logev = 0.5 * (
        n_eff * np.log(alpha) - alpha * E + e.size * np.log(lam) - np.sum(np.log(e + lam[:, None]), axis=1)
        - n_eff * math.log(2 * math.pi)
    ) + a1 * np.log(alpha) - a2 * alpha + l1 * np.log(lambda_) - l2 * lambda_ + const
    return logev, 1.0 / np.sqrt(alpha)


def maximize_evidence(
    X: Any,
    y: Any,
    *,
    fit_intercept: bool = True,
    intercept: str = "centre",
    lams: Any = None,
    n_lams: int = 200,
    alpha_1: float = 0.0,
    alpha_2: float = 0.0,
    lambda_1: float = 0.0,
    lambda_2: float = 0.0,
) -> EvidenceResult:
    r"""Empirical Bayes: maximise the gaussian model's marginal likelihood over ``sigma`` and ``tau``.

    The evidence of ``y ~ Normal(X w + b, sigma^2 I)``, ``w ~ Normal(0, tau^2 I)`` with
    ``alpha = 1/sigma^2`` and ``lambda = 1/tau^2`` (``Xc``, ``yc`` centred, ``n`` rows, ``d``
    features) is

    .. math::

        \log p(y\mid\alpha,\lambda) = \tfrac12\Big[d\log\lambda + n_\text{eff}\log\alpha
        - \alpha\lVert y_c - X_c m\rVert^2 - \lambda\lVert m\rVert^2 - \log\lvert A\rvert
        - n_\text{eff}\log 2\pi\Big] + c,

    with ``A = lambda I + alpha Xc^T Xc`` and ``m = alpha A^{-1} Xc^T yc`` (the posterior mean, the
    ridge solution with ``lam = lambda/alpha = sigma^2/tau^2``). For fixed ``lam`` it is maximised
    by ``alpha = n_eff / (||yc - Xc m||^2 + lam ||m||^2)``, which leaves a one-dimensional profile in
    ``log lam``: evaluated on a grid (``log_evidence_curve``) and refined by bounded Brent search
    around the best grid point, all from one SVD of ``Xc``.

    Parameters
    ----------
    X : array_like, shape (n, d)
    y : array_like, shape (n,)
    fit_intercept : bool, default True
        Centre ``X`` and ``y`` (the unpenalised intercept). ``False``: no intercept, no centring,
        ``n_eff = n``, ``c = 0``.
    intercept : {"centre", "integrate"}, default "centre"
        ``"centre"``: the centred data are treated as ``n`` independent rows, ``n_eff = n``,
        ``c = 0`` -- exactly the objective of scikit-learn's ``BayesianRidge`` (with its Gamma
        hyperpriors switched off, ``alpha_1 = alpha_2 = lambda_1 = lambda_2 = 0``), whose
        fixed-point updates are the stationarity conditions of this function.
        ``"integrate"``: the exact evidence of the bayeswd model, the flat intercept integrated out
        (``int db``, improper): one degree of freedom is spent on ``b``, ``n_eff = n - 1``,
        ``c = -log(n) / 2``.
    lams : array_like, optional
        Grid of ``lam = sigma^2/tau^2`` for the curve and the search. Default: ``n_lams`` values
        log-spaced over ``e_max [1e-10, 1e4]`` (``e_max`` the largest eigenvalue of ``Xc^T Xc``).
    n_lams : int, default 200
    alpha_1, alpha_2, lambda_1, lambda_2 : float, default 0
        Optional hyperprior terms added to the log evidence exactly as ``BayesianRidge`` adds them
        to its objective: ``alpha_1 log alpha - alpha_2 alpha + lambda_1 log lambda
        - lambda_2 lambda`` (Gamma densities on the precisions, up to constants). 0 (the default)
        is plain evidence maximisation; ``1e-6`` each reproduces ``BayesianRidge()``'s defaults.
        For fixed ``lam`` the maximising ``alpha`` stays closed form,
        ``(n_eff/2 + alpha_1 + lambda_1) / (E/2 + alpha_2 + lambda_2 lam)``.

    Returns
    -------
    EvidenceResult

    Warns
    -----
    BayeswdWarning
        When the maximum is at an end of the grid (the evidence may keep increasing beyond it).

    Notes
    -----
    ``BayesianRidge`` reports ``alpha_ = 1/sigma^2`` and ``lambda_ = 1/tau^2``; this function
    returns the same numbers (and ``sigma``, ``tau``, ``lam``). It reaches the optimum by its
    MacKay fixed-point iteration, ``lambda = (gamma + 2 lambda_1)/(||m||^2 + 2 lambda_2)``,
    ``alpha = (n - gamma + 2 alpha_1)/(rss + 2 alpha_2)``, ``gamma = sum alpha e_i/(lambda + alpha e_i)``,
    which are the stationarity conditions of the ``"centre"`` objective above (with ``n``, not
    ``n - 1``); here the same objective is maximised directly. Its default hyperpriors
    (``1e-6`` each) move the optimum by a relative amount of order ``1e-6 / n``.

    With ``n <= d`` and an intercept, the ``"centre"`` objective is unbounded: the centred rows
    span ``n - 1`` dimensions, the data are fitted exactly and the evidence grows without limit as
    ``sigma -> 0`` (``BayesianRidge`` drifts the same way). Use ``intercept="integrate"`` there.

    Examples
    --------
    >>> from bayeswd import seed_problem
    >>> p = seed_problem()
    >>> ev = maximize_evidence(p.train.X, p.train.y, intercept="integrate")  # n <= d: see Notes
    >>> round(ev.lam, 2)
    15.81
    """
    fit_intercept = _check_bool(fit_intercept, "fit_intercept")
    intercept = check_choice(intercept, "intercept", _INTERCEPT_MODES)
    n_lams = check_positive_int(n_lams, "n_lams", minimum=3)
    hyper = tuple(_check_nonnegative(v, name) for v, name in (
        (alpha_1, "alpha_1"), (alpha_2, "alpha_2"), (lambda_1, "lambda_1"), (lambda_2, "lambda_2")))
    Xn, yn, _ = _as_numpy_xy(X, y)
    n = yn.size
    Xc, yc, x_mean, y_mean = _centre(Xn, yn, fit_intercept)
    if not float(yc @ yc) > 0:
        raise ValueError("`y` must not be constant (after centring): the evidence has no maximum.")
    e, uty, rest, Vt = _evidence_parts(Xc, yc)
    if fit_intercept and intercept == "integrate":
        n_eff, const = n - 1, -0.5 * math.log(n)
    else:
        n_eff, const = n, 0.0
    if lams is None:
        top = float(e.max()) if e.size else 1.0
        grid = np.geomspace(top * 1e-10, top * 1e4, n_lams)
    else:
        grid = _check_grid(lams, "lams")
        if grid.size < 3:
            raise ValueError(f"`lams` must hold at least 3 distinct values; got {grid.size}.")
    curve, sig = _profile(grid, e, uty, rest, n_eff, const, hyper)
    i = int(np.argmax(curve))
    if i in (0, grid.size - 1):
        warnings.warn(
            f"maximize_evidence: the evidence is largest at the end of the lam grid "
            f"(lam={grid[i]:.4g}); it may increase beyond it.", BayeswdWarning, stacklevel=2,
        )
        t_best = math.log(grid[i])
    else:
        res = scipy.optimize.minimize_scalar(
            lambda t: -float(_profile(np.array([math.exp(t)]), e, uty, rest, n_eff, const, hyper)[0][0]),
            bounds=(math.log(grid[i - 1]), math.log(grid[i + 1])),
            method="bounded",
            options={"xatol": 1e-12, "maxiter": 500},
        )
        t_best = float(res.x)
    lam = math.exp(t_best)
    logev, sigma_arr = _profile(np.array([lam]), e, uty, rest, n_eff, const, hyper)
    sigma = float(sigma_arr[0])
    tau = sigma / math.sqrt(lam)
    coef = (np.sqrt(e) * uty / (e + lam)) @ Vt
    b = float(y_mean - x_mean @ coef) if fit_intercept else 0.0
    return EvidenceResult(
        lam=lam, sigma=sigma, tau=tau, alpha_=1.0 / sigma**2, lambda_=1.0 / tau**2,
        log_evidence=float(logev[0]), coef=coef, intercept=b, lams=grid,
        log_evidence_curve=curve, sigma_curve=sig, intercept_mode=intercept,
    )


# --------------------------------------------------------------------------------------------
# full Bayes


def _as_float_array(value: Any, name: str) -> np.ndarray:
    if isinstance(value, torch.Tensor):
        value = value.detach().cpu().numpy()
    try:
        arr = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError):
        raise TypeError(f"`{name}` must be an array of positive numbers; got {_describe(value)}.") from None
    if arr.size == 0 or not np.all(np.isfinite(arr)) or np.any(arr <= 0):
        raise ValueError(
            f"`{name}` must be a non-empty array of positive finite numbers; got {_describe(value)}."
        )
    return arr


def lam_from_draws(tau: Any, sigma: Any, *, prior: str = "gaussian") -> np.ndarray:
    r"""Posterior draws of the penalty from draws of ``tau`` (and ``sigma``).

    Full Bayes puts a prior on ``tau`` (and ``sigma``) instead of choosing them; each posterior draw
    then implies a penalty of :func:`bayeswd.map_fit`'s objective:
    ``lam = sigma^2 / tau^2`` (gaussian, in ``||r||^2 + lam ||w||_2^2``) or
    ``lam1 = 2 sigma^2 / tau`` (laplace, in ``||r||^2 + lam1 ||w||_1``).

    Parameters
    ----------
    tau : array_like
        Draws of the prior scale, any shape, e.g. ``posterior.samples["tau"]`` with shape
        ``(chain, draw)`` (numpy array or torch tensor).
    sigma : float or array_like
        The fixed noise sd, or draws of it with the same shape as ``tau`` (paired draw by draw).
    prior : {"gaussian", "laplace"}, default "gaussian"

    Returns
    -------
    np.ndarray
        Draws of ``lam`` with the broadcast shape of ``tau`` and ``sigma``.

    Examples
    --------
    >>> lam_from_draws([1.0, 2.0], 1.0)
    array([1.  , 0.25])
    """
    prior = check_choice(prior, "prior", PRIORS)
    t = _as_float_array(tau, "tau")
    s = _as_float_array(sigma, "sigma")
    if s.ndim and s.shape != t.shape:
        raise ValueError(
            f"`sigma` must be a number or have the shape of `tau` {t.shape}; got shape {s.shape}."
        )
    return s**2 / t**2 if prior == "gaussian" else 2.0 * s**2 / t


# --------------------------------------------------------------------------------------------
# comparing posteriors


def _to_idata(obj: Any, name: str) -> Any:
    import arviz as az

    if isinstance(obj, az.InferenceData):
        return obj
    if hasattr(obj, "to_inference_data"):
        return obj.to_inference_data()
    raise TypeError(
        f"`{name}` must be an arviz.InferenceData or have a to_inference_data() method; "
        f"got {_describe(obj)}."
    )


def compare_priors(
    posteriors: Mapping[str, Any], *, ic: str = "loo", scale: str = "log", var_name: str = "obs"
) -> Any:
    """Compare posteriors by expected log pointwise predictive density (``arviz.compare``).

    Parameters
    ----------
    posteriors : mapping of str to InferenceData or posterior result
        Name -> an ``arviz.InferenceData`` with a ``log_likelihood`` group holding the pointwise
        ``var_name`` (``(chain, draw, n)``), or anything with a ``to_inference_data()`` method.
        At least two entries.
    ic : {"loo", "waic"}, default "loo"
        Pareto-smoothed importance-sampling leave-one-out or WAIC.
    scale : {"log", "negative_log", "deviance"}, default "log"
        ArviZ's scale: ``"log"`` means higher ``elpd`` is better.
    var_name : str, default "obs"
        The log-likelihood variable.

    Returns
    -------
    pandas.DataFrame
        ArviZ's comparison table, one row per model, best first (``rank``, ``elpd_loo``, ``p_loo``,
        ``elpd_diff``, ``weight``, ``se``, ``dse``, ``warning``, ``scale``).

    Warns
    -----
    UserWarning
        From ArviZ, when Pareto ``k`` diagnostics are high (common when ``d > n``: the LOO estimate
        is then unreliable, as the ``warning`` column says).
    """
    import arviz as az

    if not isinstance(posteriors, Mapping) or len(posteriors) < 2:
        raise ValueError(
            "`posteriors` must be a mapping of at least two names to posteriors; "
            f"got {_describe(posteriors)}."
        )
    ic = check_choice(ic, "ic", ("loo", "waic"))
    scale = check_choice(scale, "scale", ("log", "negative_log", "deviance"))
    data = {}
    for name, obj in posteriors.items():
        idata = _to_idata(obj, f"posteriors[{name!r}]")
        if "log_likelihood" not in idata.groups() or var_name not in idata.log_likelihood:
            raise ValueError(
                f"`posteriors[{name!r}]` must have a log_likelihood group with variable {var_name!r}; "
                f"got groups {list(idata.groups())}."
            )
        data[str(name)] = idata
    with warnings.catch_warnings():
        # arviz 0.23 calls DataFrame.sort_values(inplace=True), deprecated in pandas 3.1; not
        # actionable by our users, and turned into an error by a warnings-as-errors setting.
        warnings.filterwarnings("ignore", message=".*inplace keyword.*", category=DeprecationWarning)
        return az.compare(data, ic=ic, scale=scale, var_name=var_name)

