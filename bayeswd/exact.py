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


def precision_and_shift(
    stats: SufficientStats, sigma: float, tau: float
) -> tuple[torch.Tensor, torch.Tensor]:
    """Precision of ``theta`` and ``A^T y_c / sigma^2`` (the centred problem, see SufficientStats)."""
    prior_prec = stats.gram.new_zeros(stats.gram.shape[0])
    prior_prec[: stats.d] = 1.0 / tau**2
    precision = stats.gram / sigma**2 + torch.diag(prior_prec)
    return precision, stats.aty / sigma**2


def gaussian_posterior_from_stats(stats: SufficientStats, *, sigma: float, tau: float) -> GaussianPosterior:
    """:func:`gaussian_posterior` from precomputed :class:`SufficientStats`."""
    precision, h = precision_and_shift(stats, sigma, tau)
    chol = torch.linalg.cholesky(precision)
    mean = torch.cholesky_solve(h.unsqueeze(-1), chol).squeeze(-1)
    if stats.fit_intercept:
        mean[stats.d] += stats.shift  # the centred problem's intercept is b - mean(y)
    cov = torch.cholesky_inverse(chol)
    return GaussianPosterior(mean=mean, cov=0.5 * (cov + cov.T), precision=precision)


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
