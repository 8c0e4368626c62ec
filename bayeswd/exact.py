"""The closed-form posterior of the gaussian-prior model (its evidence is in :mod:`bayeswd.evidence`).

With a gaussian prior ``w_j ~ Normal(0, tau^2)``, a flat intercept and a *known* noise sd
``sigma``, the posterior of ``theta = (w, b)`` is gaussian. These formulas are the oracle every
sampler is tested against (docs/mathematics.md, section 2) and the ``method="exact"`` of
:func:`bayeswd.sample_posterior`.
"""

from __future__ import annotations

from typing import NamedTuple

import torch

from bayeswd.stats import SufficientStats, sufficient_statistics

__all__ = [
    "GaussianPosterior",
    "cholesky_of_precision",
    "covariance_factor",
    "gaussian_posterior",
    "gaussian_posterior_from_stats",
    "precision_and_shift",
]


class GaussianPosterior(NamedTuple):
    """The conjugate gaussian posterior of ``theta = (w, b)`` (``b`` last, if fitted).

    Attributes
    ----------
    mean : torch.Tensor, shape (p,)
        Posterior mean, ``p = d + 1`` with an intercept, ``d`` without. Equals the ridge / MAP
        solution.
    cov : torch.Tensor, shape (p, p)
        Posterior covariance, the inverse of the precision.
    precision : torch.Tensor, shape (p, p)
        ``A^T A / sigma^2 + diag(1/tau^2, ..., 1/tau^2, 0)`` with ``A = [X 1]``.
    """

    mean: torch.Tensor
    cov: torch.Tensor
    precision: torch.Tensor


def cholesky_of_precision(precision: torch.Tensor) -> torch.Tensor:
    """Lower Cholesky factor of a posterior precision, or a ``ValueError`` naming ``X`` and ``tau``.

    ``X^T X / sigma^2 + I / tau^2`` is positive definite in exact arithmetic, but not in float64
    when ``1 / tau^2`` is below the rounding of ``X^T X / sigma^2`` on (nearly) collinear columns;
    torch's ``LinAlgError`` from deep inside the solver would not say what to change.
    """
    chol, info = torch.linalg.cholesky_ex(precision)
    if int(info) != 0:
        raise ValueError(
            "`X` and `tau` make the posterior precision X^T X / sigma^2 + I / tau^2 singular in "
            f"float64 (the Cholesky factorisation fails at column {int(info)} of {precision.shape[0]}): "
            "(nearly) collinear or constant columns of X at a scale where 1 / tau^2 is below the "
            "rounding of X^T X / sigma^2. Rescale or drop columns of `X`, or choose a smaller `tau`."
        )
    return chol


def precision_and_shift(
    stats: SufficientStats, sigma: float, tau: float
) -> tuple[torch.Tensor, torch.Tensor]:
    """Precision of ``theta`` and ``A^T y_c / sigma^2`` (the centred problem, see SufficientStats)."""
    prior_prec = stats.gram.new_zeros(stats.gram.shape[0])
    prior_prec[: stats.d] = 1.0 / tau**2
    precision = stats.gram / sigma**2 + torch.diag(prior_prec)
    return precision, stats.aty / sigma**2


def gaussian_posterior_from_stats(stats: SufficientStats, *, sigma: float, tau: float) -> GaussianPosterior:
    """:func:`gaussian_posterior` from precomputed :class:`SufficientStats`.

    With an intercept the mean and covariance are solved in the centred coordinates ``(w, b +
    mean(X) w)``, where the precision is block diagonal (``Xc^T Xc / sigma^2 + I / tau^2`` and
    ``n / sigma^2``), and mapped back: the uncentred precision's condition number grows with the
    square of a column's mean over its spread, the centred one does not.
    """
    precision, h = precision_and_shift(stats, sigma, tau)
    if not stats.fit_intercept:
        chol = cholesky_of_precision(precision)
        mean = torch.cholesky_solve(h.unsqueeze(-1), chol).squeeze(-1)
        cov = torch.cholesky_inverse(chol)
        return GaussianPosterior(mean=mean, cov=0.5 * (cov + cov.T), precision=precision)
    cs, d = stats.centred(), stats.d
    prec_w = cs.gram / sigma**2 + torch.eye(d, dtype=cs.gram.dtype, device=cs.gram.device) / tau**2
    chol = cholesky_of_precision(prec_w)
    w = torch.cholesky_solve((cs.xty / sigma**2).unsqueeze(-1), chol).squeeze(-1)
    cov_w = torch.cholesky_inverse(chol)
    cov_w = 0.5 * (cov_w + cov_w.T)
    m = cs.x_mean
    mean = torch.cat([w, (cs.y_mean - m @ w).reshape(1)])
    # theta = T (w, b_c) with b = b_c - m^T w; b_c ~ Normal(., sigma^2 / n) independent of w.
    cov_wb = -(cov_w @ m)
    cov = precision.new_empty(d + 1, d + 1)
    cov[:d, :d] = cov_w
    cov[:d, d] = cov_wb
    cov[d, :d] = cov_wb
    cov[d, d] = sigma**2 / stats.n + m @ cov_w @ m
    return GaussianPosterior(mean=mean, cov=cov, precision=precision)


def covariance_factor(stats: SufficientStats, *, sigma: float, tau: float) -> torch.Tensor:
    """A factor ``F`` with ``F F^T`` the posterior covariance, from the centred precision.

    For drawing when the covariance itself is too ill-conditioned for a Cholesky factorisation
    (an intercept next to a column whose mean is far larger than its spread): ``F = T diag(R^{-T},
    sigma / sqrt(n))`` with ``R`` the Cholesky factor of the centred precision of ``w`` and
    ``T = [[I, 0], [-mean(X)^T, 1]]``.
    """
    if stats.fit_intercept:
        cs = stats.centred()
        gram, m = cs.gram, cs.x_mean
    else:
        gram, m = stats.gram, None
    d = stats.d
    eye = torch.eye(d, dtype=gram.dtype, device=gram.device)
    chol = cholesky_of_precision(gram / sigma**2 + eye / tau**2)
    fw = torch.linalg.solve_triangular(chol, eye, upper=False).T
    if m is None:
        return fw
    factor = gram.new_zeros(d + 1, d + 1)
    factor[:d, :d] = fw
    factor[d, :d] = -(m @ fw)
    factor[d, d] = sigma / stats.n**0.5
    return factor


def gaussian_posterior(
    X: torch.Tensor, y: torch.Tensor, *, sigma: float, tau: float, fit_intercept: bool = True
) -> GaussianPosterior:
    r"""The exact posterior of the gaussian-prior model with ``sigma`` known.

    Computed from the sufficient statistics (no copy of ``X``), with ``y`` centred when the
    intercept is fitted (the flat intercept makes the result shift-invariant).

    Model: ``y ~ Normal(X w + b, sigma^2 I)``, ``w ~ Normal(0, tau^2 I)``, ``p(b) ∝ 1``.

    .. math::

        P = A^\top A / \sigma^2 + \mathrm{diag}(\tau^{-2}, \dots, \tau^{-2}, 0),\quad
        \mu = P^{-1} A^\top y / \sigma^2,\quad A = [X\ 1].

    Parameters
    ----------
    X : torch.Tensor, shape (n, d)
        Design matrix, float64 (validated by the caller).
    y : torch.Tensor, shape (n,)
        Targets.
    sigma : float
        Known noise sd.
    tau : float
        Prior sd of each weight.
    fit_intercept : bool, default True
        With ``False`` the intercept is fixed at 0 and ``A = X``.

    Returns
    -------
    GaussianPosterior
        Mean, covariance and precision of ``(w, b)``.
    """
    return gaussian_posterior_from_stats(
        sufficient_statistics(X, y, fit_intercept), sigma=sigma, tau=tau
    )
