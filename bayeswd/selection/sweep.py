"""The regularisation path: MAP fits over a grid of penalties, with train and test error."""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from bayeswd._validation import check_bool, check_choice, check_positive, check_positive_int, is_dask_input
from bayeswd.conventions import PRIORS
from bayeswd.exceptions import ConvergenceWarning
from bayeswd.selection.paths import PathData, as_xy, mean_squared_errors, resolve_lams
from bayeswd.solvers.lasso import DEFAULT_MAX_ITER, DEFAULT_TOL

__all__ = ["SweepResult", "lam_sweep"]


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



def _errors(rows: Any, coef: np.ndarray, intercept: np.ndarray) -> np.ndarray:
    """Mean squared errors along the path: on rows ``(X, y)`` in memory, or from Dask moments."""
    if hasattr(rows, "mse"):  # bayeswd._dask.Moments
        return rows.mse(coef, intercept)
    return mean_squared_errors(*rows, coef, intercept)


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
    tol: float = DEFAULT_TOL,
    max_iter: int = DEFAULT_MAX_ITER,
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
        In memory, or a ``dask.array`` / ``dask.dataframe`` (with ``y`` of the same partitions):
        then one Dask pass gives the centred Gram statistics, the gaussian path comes from their
        eigendecomposition instead of the SVD, and the errors from the moments (docs/dask.md).
        ``X_test`` may be Dask too (one more pass).
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
    usually finishes it, otherwise FISTA iterations run until the same step succeeds. It works on
    the centred Gram statistics (``O(d^2)`` per iteration) with the solver of
    :func:`bayeswd.map_fit`'s proximal method, :class:`bayeswd.solvers.lasso.LassoGram`: at the same
    ``lam`` the two give the same coefficients.

    Examples
    --------
    >>> from bayeswd import seed_problem
    >>> p = seed_problem()
    >>> s = lam_sweep(p.train.X, p.train.y, X_test=p.test.X, y_test=p.test.y)
    >>> s.coef.shape
    (50, 200)
    """
    prior = check_choice(prior, "prior", PRIORS)
    fit_intercept = check_bool(fit_intercept, "fit_intercept")
    n_lams = check_positive_int(n_lams, "n_lams")
    tol = check_positive(tol, "tol")
    max_iter = check_positive_int(max_iter, "max_iter")
    data: Any = None
    if is_dask_input(X, y):  # one Dask pass; the path and its errors come from its statistics
        from bayeswd._dask import path_data

        data, train, names = path_data(X, y, prior, fit_intercept)
        d = train.d
    else:
        Xt, yt, names = as_xy(X, y)
        train, d = (Xt.numpy(), yt.numpy()), Xt.shape[1]
    if (X_test is None) != (y_test is None):
        raise ValueError("`X_test` and `y_test` must be given together; got only one of them.")
    test = None
    if X_test is not None and is_dask_input(X_test, y_test):
        from bayeswd._dask import held_out_moments

        test = held_out_moments(X_test, y_test, d)
    elif X_test is not None:
        Xtest, ytest, _ = as_xy(X_test, y_test, "X_test", "y_test")
        if Xtest.shape[1] != d:
            raise ValueError(
                f"`X_test` must have {d} columns like `X`; got {Xtest.shape[1]}."
            )
        test = (Xtest.numpy(), ytest.numpy())
    if data is None:
        data = PathData(Xt, yt, prior, fit_intercept)
    grid = resolve_lams(lams, taus, sigma, n_lams, data)
    coef, intercept, n_iter, ok = data.fit(grid, tol, max_iter)
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
        train_mse=_errors(train, coef, intercept),
        test_mse=None if test is None else _errors(test, coef, intercept),
        weight_norm=np.linalg.norm(coef, axis=1),
        l1_norm=np.abs(coef).sum(axis=1),
        n_nonzero=np.count_nonzero(coef, axis=1),
        n_iter=n_iter,
        fit_intercept=fit_intercept,
        feature_names=tuple(names),
    )
