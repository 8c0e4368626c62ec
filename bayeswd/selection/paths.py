"""The data of a regularisation path, its default grid, and its solution on a grid.

A path is fitted on the centred problem: for the gaussian prior one SVD of the centred design
(:class:`bayeswd.solvers.ridge.RidgeSVD`), for the laplace prior the centred Gram statistics of one
pass over ``X`` (:class:`bayeswd.solvers.lasso.LassoGram`, the solver of ``map_fit`` too). The
centring itself is :mod:`bayeswd.stats`'.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import numpy as np
import torch

from bayeswd._validation import as_design, as_target, check_grid, check_positive
from bayeswd.solvers.lasso import LassoGram
from bayeswd.solvers.ridge import RidgeSVD
from bayeswd.stats import CentredData, CentredStats, centre, centred_statistics, intercept_from_centred

__all__ = ["PathData", "PathFit", "as_xy", "mean_squared_errors", "resolve_lams"]


def as_xy(X: Any, y: Any, xname: str = "X", yname: str = "y") -> tuple[torch.Tensor, torch.Tensor, list[str]]:
    """Validated float64 CPU tensors ``X``, ``y`` and the feature names."""
    Xt, names = as_design(X, name=xname)
    return Xt, as_target(y, Xt.shape[0], name=yname), names


class PathFit(NamedTuple):
    """Weights (m, d), intercepts (m,), FISTA iterations (m,) and convergence (m,) along a grid."""

    coef: np.ndarray
    intercept: np.ndarray
    n_iter: np.ndarray
    converged: np.ndarray


class PathData:
    """One training set prepared for its path: centred data (gaussian) or statistics (laplace)."""

    def __init__(self, X: torch.Tensor, y: torch.Tensor, prior: str, fit_intercept: bool) -> None:
        self.prior = prior
        self.centred: CentredData | CentredStats
        if prior == "gaussian":
            self.centred = centre(X, y, fit_intercept)
            self.solver: RidgeSVD | LassoGram = RidgeSVD(self.centred.X.numpy(), self.centred.y.numpy())
        else:
            self.centred = centred_statistics(X, y, fit_intercept)
            self.solver = LassoGram.from_stats(self.centred)

    def default_grid(self, n_lams: int) -> np.ndarray:
        """Default log-spaced grid.

        Gaussian: ``s_max^2 * [1e-6, 1e2]`` (``s_max`` the largest singular value of ``Xc``).
        Laplace: ``lam1_max * [1e-4, 1]`` where ``lam1_max = 2 max|Xc^T yc|`` is the smallest
        penalty whose MAP is ``w = 0``.
        """
        if isinstance(self.solver, RidgeSVD):
            top = self.solver.top_eigenvalue
            top = top if top > 0 else 1.0
            return np.geomspace(top * 1e-6, top * 1e2, n_lams)
        lam_max = self.solver.lam_max
        lam_max = lam_max if lam_max > 0 else 1.0
        return np.geomspace(lam_max * 1e-4, lam_max, n_lams)

    def fit(self, lams: np.ndarray, tol: float, max_iter: int) -> PathFit:
        """The path on ``lams`` (increasing); ``tol`` and ``max_iter`` apply to the laplace prior."""
        if isinstance(self.solver, RidgeSVD):
            coef = self.solver.path(lams)
            n_iter, ok = np.zeros(lams.size, dtype=np.int64), np.ones(lams.size, dtype=bool)
        else:
            coef, n_iter, ok = self.solver.path(lams, tol=tol, max_iter=max_iter)
        return PathFit(coef, intercept_from_centred(self.centred, coef), n_iter, ok)


def resolve_lams(lams: Any, taus: Any, sigma: Any, n_lams: int, data: PathData) -> np.ndarray:
    """The grid: ``lams``, or ``taus`` converted with ``sigma``, or the default grid of ``data``."""
    if lams is not None and taus is not None:
        raise ValueError("give `lams` or `taus`, not both; got both.")
    if taus is not None:
        if sigma is None:
            raise ValueError(
                "`sigma` is required with `taus` (lam = sigma^2/tau^2 or 2 sigma^2/tau); got None."
            )
        sigma = check_positive(sigma, "sigma")
        t = check_grid(taus, "taus")
        return np.unique(sigma**2 / t**2 if data.prior == "gaussian" else 2.0 * sigma**2 / t)
    if lams is not None:
        return check_grid(lams, "lams")
    return data.default_grid(n_lams)


def mean_squared_errors(X: np.ndarray, y: np.ndarray, coef: np.ndarray, intercept: np.ndarray) -> np.ndarray:
    """``mean((y - X w_i - b_i)^2)`` for each row ``i`` of the path."""
    resid = y[None, :] - coef @ X.T - intercept[:, None]
    return np.mean(resid**2, axis=1)
