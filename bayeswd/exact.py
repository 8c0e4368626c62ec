"""Closed forms of the gaussian-prior model: the conjugate posterior and the marginal likelihood.

With a gaussian prior ``w_j ~ Normal(0, tau^2)``, a flat intercept and a *known* noise sd
``sigma``, the posterior of ``theta = (w, b)`` is gaussian. These formulas are the oracle every
sampler is tested against (DESIGN.md section 2) and the ``method="exact"`` of
:func:`bayeswd.sample_posterior`.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import torch

__all__ = ["GaussianPosterior", "gaussian_log_marginal", "gaussian_posterior"]


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


def _design(X: torch.Tensor, fit_intercept: bool) -> torch.Tensor:
    return torch.cat([X, X.new_ones(X.shape[0], 1)], dim=1) if fit_intercept else X


def _precision_and_shift(
    X: torch.Tensor, y: torch.Tensor, sigma: float, tau: float, fit_intercept: bool
) -> tuple[torch.Tensor, torch.Tensor]:
    A = _design(X, fit_intercept)
    d = X.shape[1]
    prior_prec = X.new_zeros(A.shape[1])
    prior_prec[:d] = 1.0 / tau**2
    precision = A.T @ A / sigma**2 + torch.diag(prior_prec)
    return precision, A.T @ y / sigma**2


def gaussian_posterior(
    X: torch.Tensor, y: torch.Tensor, *, sigma: float, tau: float, fit_intercept: bool = True
) -> GaussianPosterior:
    r"""The exact posterior of the gaussian-prior model with ``sigma`` known.

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
    precision, shift = _precision_and_shift(X, y, sigma, tau, fit_intercept)
    chol = torch.linalg.cholesky(precision)
    mean = torch.cholesky_solve(shift.unsqueeze(-1), chol).squeeze(-1)
    cov = torch.cholesky_inverse(chol)
    return GaussianPosterior(mean=mean, cov=0.5 * (cov + cov.T), precision=precision)


def gaussian_log_marginal(
    X: torch.Tensor, y: torch.Tensor, *, sigma: float, tau: float, fit_intercept: bool = True
) -> float:
    r"""Log marginal likelihood ``log p(y | sigma, tau)`` with ``w`` (and ``b``) integrated out.

    .. math::

        \log p(y) = -n\log\sigma - d\log\tau - \tfrac{n}{2}\log 2\pi
        + \tfrac12 h^\top P^{-1} h - \tfrac12 \log\det P - \tfrac{\lVert y\rVert^2}{2\sigma^2}
        + \tfrac{k}{2}\log 2\pi - \tfrac d2 \log 2\pi,

    with ``h = A^T y / sigma^2`` and ``k`` the number of integrated coordinates. With a flat
    intercept the result is defined up to the (sigma- and tau-free) constant of the improper prior
    ``p(b) = 1``, so it is exact for comparing values of ``sigma`` and ``tau``.

    Parameters
    ----------
    X, y : torch.Tensor
        Data, shapes (n, d) and (n,).
    sigma, tau : float
        Noise sd and prior sd.
    fit_intercept : bool, default True
        Integrate a flat intercept out too.

    Returns
    -------
    float
    """
    n, d = X.shape
    precision, h = _precision_and_shift(X, y, sigma, tau, fit_intercept)
    chol = torch.linalg.cholesky(precision)
    quad = float(h @ torch.cholesky_solve(h.unsqueeze(-1), chol).squeeze(-1))
    logdet = 2.0 * float(torch.log(torch.diagonal(chol)).sum())
    k = precision.shape[0]
    log2pi = math.log(2.0 * math.pi)
    return (
        -n * math.log(sigma) - d * math.log(tau) - 0.5 * n * log2pi - 0.5 * d * log2pi
        + 0.5 * k * log2pi + 0.5 * quad - 0.5 * logdet - 0.5 * float(y @ y) / sigma**2
    )
