"""The marginal likelihood (evidence) of the gaussian-prior model, in closed form.

``log p(y | sigma, tau)`` with the weights (and a flat intercept) integrated out: the objective of
empirical Bayes (:func:`bayeswd.maximize_evidence`) and the centre of the ``(sigma, tau)``
posterior used to start NUTS on the hierarchical model.
"""

from __future__ import annotations

import math

import torch

from bayeswd.exact import precision_and_shift
from bayeswd.stats import SufficientStats, sufficient_statistics

__all__ = ["gaussian_log_marginal", "gaussian_log_marginal_from_stats"]


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
    # log p(y) = log p(y - mean(y)) with a flat intercept
    return gaussian_log_marginal_from_stats(
        sufficient_statistics(X, y, fit_intercept), sigma=sigma, tau=tau
    )


def gaussian_log_marginal_from_stats(stats: SufficientStats, *, sigma: float, tau: float) -> float:
    """:func:`gaussian_log_marginal` from precomputed :class:`SufficientStats`."""
    n, d = stats.n, stats.d
    precision, h = precision_and_shift(stats, sigma, tau)
    chol = torch.linalg.cholesky(precision)
    quad = float(h @ torch.cholesky_solve(h.unsqueeze(-1), chol).squeeze(-1))
    logdet = 2.0 * float(torch.log(torch.diagonal(chol)).sum())
    k = precision.shape[0]
    log2pi = math.log(2.0 * math.pi)
    return (
        -n * math.log(sigma) - d * math.log(tau) - 0.5 * n * log2pi - 0.5 * d * log2pi
        + 0.5 * k * log2pi + 0.5 * quad - 0.5 * logdet - 0.5 * stats.yty / sigma**2
    )
