r"""The marginal likelihood (evidence) of the gaussian-prior model, in closed form.

``log p(y | sigma, tau)`` with the weights (and a flat intercept) integrated out: the objective of
empirical Bayes (:func:`bayeswd.maximize_evidence`) and the centre of the ``(sigma, tau)``
posterior used to start NUTS on the hierarchical model.

The formula is written once, in :func:`log_marginal_from_parts`. With the intercept profiled out by
centring (``Xc``, ``yc``), ``lam = sigma^2 / tau^2`` and ``m`` the ridge solution at ``lam``,

.. math::

    \log p(y) = -n_\text{eff}\log\sigma - \frac{E}{2\sigma^2}
    - \tfrac12 \log\det\!\big(I + \tfrac{\tau^2}{\sigma^2} X_c^\top X_c\big)
    - \tfrac{n_\text{eff}}{2}\log 2\pi + c,\qquad
    E = \lVert y_c - X_c m\rVert^2 + \lambda \lVert m\rVert^2,

with ``n_eff = n - 1`` and ``c = -log(n) / 2`` when a flat intercept is integrated out
(:func:`flat_intercept_terms`), ``n_eff = n`` and ``c = 0`` otherwise. Two ways feed it ``E`` and the
log determinant: a Cholesky factor of the posterior precision from the centred Gram statistics
(:func:`gaussian_log_marginal_from_stats`, any ``sigma`` and ``tau``), and one SVD of ``Xc`` for a
whole grid of ``lam`` with ``sigma`` profiled out (:func:`profile_log_marginal`, the fast path of
:func:`bayeswd.maximize_evidence`). ``tests/test_selection.py`` ties the two.
"""

from __future__ import annotations

import math
from typing import Any, NamedTuple

import numpy as np
import torch

from bayeswd.stats import SufficientStats, sufficient_statistics

__all__ = [
    "EvidenceSpectrum",
    "evidence_spectrum",
    "flat_intercept_terms",
    "gaussian_log_marginal",
    "gaussian_log_marginal_from_stats",
    "log_marginal_from_parts",
    "profile_log_marginal",
]


def log_marginal_from_parts(n_eff: float, sigma: Any, fit: Any, log_det: Any, const: float = 0.0) -> Any:
    """The log evidence from its parts (the formula of the module docstring); vectorised.

    Parameters
    ----------
    n_eff : float
        Degrees of freedom of the centred data.
    sigma : float or np.ndarray
        Noise sd.
    fit : float or np.ndarray
        ``E = ||yc - Xc m||^2 + lam ||m||^2``.
    log_det : float or np.ndarray
        ``log det(I + tau^2 / sigma^2 Xc^T Xc)``.
    const : float
        The constant of the intercept's flat prior, see :func:`flat_intercept_terms`.
    """
    return (
        -n_eff * np.log(sigma) - fit / (2.0 * sigma**2) - 0.5 * log_det
        - 0.5 * n_eff * math.log(2.0 * math.pi) + const
    )


def flat_intercept_terms(n: int, fit_intercept: bool) -> tuple[int, float]:
    """``(n_eff, const)`` of :func:`log_marginal_from_parts` for ``n`` rows.

    A flat intercept integrated out spends one degree of freedom and adds ``-log(n) / 2`` (the
    determinant of ``1^T 1``); without an intercept ``(n, 0)``.
    """
    return (n - 1, -0.5 * math.log(n)) if fit_intercept else (n, 0.0)


def gaussian_log_marginal(
    X: torch.Tensor, y: torch.Tensor, *, sigma: float, tau: float, fit_intercept: bool = True
) -> float:
    r"""Log marginal likelihood ``log p(y | sigma, tau)`` with ``w`` (and ``b``) integrated out.

    See the module docstring for the formula. With a flat intercept the result is defined up to
    the (sigma- and tau-free) constant of the improper prior ``p(b) = 1``, so it is exact for
    comparing values of ``sigma`` and ``tau``.

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
    """:func:`gaussian_log_marginal` from precomputed :class:`SufficientStats`.

    From the centred statistics ``G = Xc^T Xc``, ``c = Xc^T yc``: the precision of ``w`` is
    ``P = G / sigma^2 + I / tau^2``, ``E = yc^T yc - c^T P^{-1} c / sigma^2`` and the log
    determinant is ``log det P + 2 d log tau``. Raises ``torch``'s ``LinAlgError`` (a
    ``RuntimeError``) when the Cholesky factorisation of ``P`` fails.
    """
    cs = stats.centred()
    d = stats.d
    precision = cs.gram / sigma**2 + torch.eye(d, dtype=cs.gram.dtype, device=cs.gram.device) / tau**2
    chol = torch.linalg.cholesky(precision)
    h = cs.xty / sigma**2
    quad = float(h @ torch.cholesky_solve(h.unsqueeze(-1), chol).squeeze(-1))
    log_det = 2.0 * float(torch.log(torch.diagonal(chol)).sum()) + 2.0 * d * math.log(tau)
    n_eff, const = flat_intercept_terms(stats.n, stats.fit_intercept)
    fit = cs.yty - sigma**2 * quad
    return float(log_marginal_from_parts(n_eff, sigma, fit, log_det, const))


class EvidenceSpectrum(NamedTuple):
    """What the evidence needs of ``(Xc, yc)`` for any ``lam``, from one thin SVD ``Xc = U S V^T``.

    ``e`` the non-zero eigenvalues ``s^2`` of ``Xc^T Xc`` (numerically zero ones dropped), ``uty``
    ``= U^T yc``, ``rest`` the squared norm of ``yc`` outside the column space of ``Xc``, ``Vt``.
    """

    e: np.ndarray
    uty: np.ndarray
    rest: float
    Vt: np.ndarray

    def ridge_coef(self, lam: float) -> np.ndarray:
        """The ridge solution (posterior mean) ``m`` at ``lam``."""
        return (np.sqrt(self.e) * self.uty / (self.e + lam)) @ self.Vt


def evidence_spectrum(Xc: np.ndarray, yc: np.ndarray) -> EvidenceSpectrum:
    """:class:`EvidenceSpectrum` of centred data (or raw data without an intercept)."""
    U, s, Vt = np.linalg.svd(Xc, full_matrices=False)
    keep = s > s.max() * max(Xc.shape) * np.finfo(float).eps if s.size and s.max() > 0 else s > 0
    U, s, Vt = U[:, keep], s[keep], Vt[keep]
    uty = U.T @ yc
    rest = max(float(yc @ yc - uty @ uty), 0.0)
    return EvidenceSpectrum(s**2, uty, rest, Vt)


def profile_log_marginal(
    lams: np.ndarray, spec: EvidenceSpectrum, n_eff: float, const: float,
    hyper: tuple[float, float, float, float] = (0.0, 0.0, 0.0, 0.0),
) -> tuple[np.ndarray, np.ndarray]:
    """Log evidence maximised over ``sigma`` at each ``lam``; returns (log evidence, sigma_hat).

    With ``alpha = 1/sigma^2`` and ``lambda = alpha lam``, optional Gamma hyperprior terms
    ``a1 log alpha - a2 alpha + l1 log lambda - l2 lambda`` (``hyper = (a1, a2, l1, l2)``) are
    added; the maximising ``alpha`` is ``(n_eff/2 + a1 + l1) / (E/2 + a2 + l2 lam)``.
    """
    a1, a2, l1, l2 = hyper
    e, uty = spec.e, spec.uty
    lam = np.atleast_1d(lams).astype(np.float64)[:, None]
    rss = np.sum((lam / (e + lam) * uty) ** 2, axis=1) + spec.rest
    wnorm2 = np.sum((np.sqrt(e) * uty / (e + lam)) ** 2, axis=1)
    lam = lam[:, 0]
    fit = rss + lam * wnorm2
    alpha = (0.5 * n_eff + a1 + l1) / (0.5 * fit + a2 + l2 * lam)
    sigma = 1.0 / np.sqrt(alpha)
    log_det = np.sum(np.log1p(e / lam[:, None]), axis=1)  # log det(I + Xc^T Xc / lam)
    logev = log_marginal_from_parts(n_eff, sigma, fit, log_det, const)
    logev = logev + a1 * np.log(alpha) - a2 * alpha + l1 * np.log(alpha * lam) - l2 * alpha * lam
    return logev, sigma
