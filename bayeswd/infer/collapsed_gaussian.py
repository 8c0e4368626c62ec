r"""The gaussian model with ``sigma`` or ``tau`` sampled, the weights and intercept integrated out.

With a gaussian prior the weights (and a flat intercept) integrate out in closed form: what is left
for NUTS is the posterior of the one or two scales,

.. math::

    p(\sigma, \tau \mid y) \propto p(y \mid \sigma, \tau)\, p(\sigma)\, p(\tau),

whose log evidence, in the eigenbasis of ``Xc Xc^T`` (``n <= d``) or ``Xc^T Xc`` (``n > d``) with
eigenvalues ``lambda_i`` and ``c_i`` the components of ``yc`` along the eigenvectors, is a sum of
scalar terms (``s = sigma^2``, ``t = tau^2``; ``docs/mathematics.md``, sections 2.6 and 2.8):

.. math::

    \log p(y) = -\tfrac12\sum_i\Big[\log(s + t\lambda_i) + \frac{c_i^2}{s + t\lambda_i}\Big]
    - \frac{m}{2}\log s - \frac{\rho}{2s} + \text{const}
    \;\big(+\tfrac12\log s\ \text{with a flat intercept}\big),

``m`` the directions of pure noise and ``rho`` the part of ``||yc||^2`` in them. A value and its
gradient cost ``O(min(n, d))``, and NUTS runs in one or two dimensions, where it mixes in a few
leapfrog steps. The weights are then drawn exactly given each kept ``(sigma, tau)``
(:meth:`CollapsedGaussianPotential.draws`), and the intercept given the weights: together, exact
draws of the joint posterior.
"""

from __future__ import annotations

import math
from typing import Any

import torch

from bayeswd.infer.potentials import Scale, batched_scales, numpy_twin_of
from bayeswd.stats import SufficientStats, sufficient_statistics

__all__ = ["CollapsedGaussianPotential"]


class CollapsedGaussianPotential:
    """Potential energy of ``(sigma, tau)`` of the gaussian model, weights and intercept integrated out.

    The latent vector ``q`` holds the unconstrained coordinates of the sampled scales (``sigma``
    first), mapped by ``biject_to(prior.support)`` as Pyro maps them. At least one scale must be
    sampled (with both fixed the posterior is the conjugate gaussian: ``method="exact"``).

    Parameters
    ----------
    X, y : torch.Tensor
        Float64 data on the device inference runs on.
    sigma, tau : float or torch.distributions.Distribution
        Fixed value or prior of the scale.
    fit_intercept : bool
    stats : SufficientStats, optional
        Precomputed :func:`bayeswd.stats.sufficient_statistics` (used when ``n > d``).

    Notes
    -----
    NUTS in one or two dimensions makes short trajectories (most stop after one or two leapfrog
    steps at the U-turn), and its successive draws are correlated (the ESS per draw measured on
    ``log tau`` is in ``docs/benchmarks.md``). A transition here costs microseconds, so NUTS keeps
    every :attr:`thin`-th state
    (:func:`bayeswd.infer.nuts.run_chain`).
    """

    #: NUTS keeps every ``thin``-th state of this potential (cheap, low-dimensional transitions).
    thin = 5

    def __init__(
        self, X: torch.Tensor, y: torch.Tensor, *, sigma: Any, tau: Any, fit_intercept: bool,
        stats: SufficientStats | None = None, prior: str = "gaussian",
    ) -> None:
        if prior != "gaussian":
            raise ValueError("the weights integrate out in closed form under the gaussian prior only")
        n, d = X.shape
        self.n, self.d, self.fit_intercept, self.device = n, d, fit_intercept, X.device
        dist_type = torch.distributions.Distribution
        self.sigma_scale = Scale(sigma, X.device) if isinstance(sigma, dist_type) else None
        self.tau_scale = Scale(tau, X.device) if isinstance(tau, dist_type) else None
        if self.sigma_scale is None and self.tau_scale is None:
            raise ValueError("the collapsed form needs sigma or tau sampled")
        self.sigma = None if self.sigma_scale else float(sigma)
        self.tau = None if self.tau_scale else float(tau)
        self.i_sigma = 0 if self.sigma_scale else None
        self.i_tau = int(self.sigma_scale is not None) if self.tau_scale else None
        self.size = int(self.sigma_scale is not None) + int(self.tau_scale is not None)
        self.use_stats = n > d
        self._xp: Any = torch  # the array module of q: torch, or NumPy in the twin
        self._spectrum(X, y, stats)

    def _spectrum(self, X: torch.Tensor, y: torch.Tensor, stats: SufficientStats | None) -> None:
        """Eigenvalues ``lambda``, components ``c`` and the bases the draws need."""
        n, d = X.shape
        if self.use_stats:
            cs = (stats if stats is not None else sufficient_statistics(X, y, self.fit_intercept)).centred()
            lam, V = torch.linalg.eigh(cs.gram)
            lam = lam.clamp(min=0.0)
            tol = float(lam.max()) * max(n, d) * torch.finfo(lam.dtype).eps if lam.numel() else 0.0
            keep = lam > tol
            proj = V.T @ cs.xty  # sqrt(lambda_i) c_i
            safe = lam.clamp(min=tol if tol > 0 else 1.0)
            c = torch.where(keep, proj / safe.sqrt(), torch.zeros_like(proj))
            self._lam_all, self._V, self._xty = lam, V, cs.xty
            self._lam, self._c = lam[keep], c[keep]
            self._rest = max(cs.yty - float((self._c * self._c).sum()), 0.0)
            self._noise_dims = n - int(keep.sum())
            self._x_mean, self._y_mean = cs.x_mean, cs.y_mean
        else:
            x_mean = X.mean(0) if self.fit_intercept else X.new_zeros(d)
            y_mean = float(y.mean()) if self.fit_intercept else 0.0
            Xc = X - x_mean
            yc = y - y_mean
            lam, U = torch.linalg.eigh(Xc @ Xc.T)
            self._lam = lam.clamp(min=0.0)
            self._U, self._Xc, self._yc = U, Xc, yc
            self._c = U.T @ yc
            self._rest, self._noise_dims = 0.0, 0
            self._x_mean, self._y_mean = x_mean, y_mean
        self._c2 = self._c * self._c

    def numpy_twin(self) -> CollapsedGaussianPotential:
        """The same potential on NumPy arrays: the CPU's fast path of :func:`bayeswd.infer.nuts.run_chain`.

        A leapfrog step in one or two coordinates is all dispatch: its sums over ``min(n, d)``
        eigenvalues cost about a third of torch's in NumPy (docs/benchmarks.md). Tested equal to
        this one.
        """
        return numpy_twin_of(self, ("_lam", "_c2"))

    @property
    def num_terms(self) -> int:
        """Number of eigenvalue terms in a log-density evaluation (at most ``min(n, d)``)."""
        return int(self._lam.numel())

    # -- coordinates -----------------------------------------------------------------------------

    def pack(self, values: dict[str, torch.Tensor]) -> torch.Tensor:
        """Unconstrained vector ``q`` of the sampled scales' values."""
        parts = [scale.to_unconstrained(float(values[name]))
                 for scale, name in ((self.sigma_scale, "sigma"), (self.tau_scale, "tau")) if scale]
        return torch.tensor(parts, dtype=torch.float64, device=self.device)

    def unpack(self, q: torch.Tensor) -> dict[str, torch.Tensor]:
        """Constrained values of the sampled scales (any leading batch shape)."""
        out = {}
        sites = ((self.sigma_scale, self.i_sigma, "sigma"), (self.tau_scale, self.i_tau, "tau"))
        for scale, i, name in sites:
            if scale is not None:
                out[name] = scale.transform(q[..., i])
        return out

    # -- the potential ---------------------------------------------------------------------------

    def log_evidence(self, s: float, t: float) -> tuple[float, float, float]:
        """``log p(y | sigma^2 = s, tau^2 = t)`` (up to a constant) and its derivatives in ``s``, ``t``."""
        den = self._lam * t + s
        inv = 1.0 / den
        q = self._c2 * inv
        m = self._noise_dims - (1 if self.fit_intercept else 0)  # a flat intercept adds (1/2) log s
        value = -0.5 * float(self._xp.log(den).sum() + q.sum()) - 0.5 * m * math.log(s) - 0.5 * self._rest / s
        r = inv - q * inv
        d_s = -0.5 * float(r.sum()) - 0.5 * m / s + 0.5 * self._rest / (s * s)
        d_t = -0.5 * float(self._lam @ r)
        return value, d_s, d_t

    def log_density(self, Q: torch.Tensor, chunk: int | None = None) -> torch.Tensor:
        """``-U`` at every row of ``Q`` (shape (m, size)): the batched form, without gradients.

        The same value as :meth:`__call__` (up to rounding), for many points at once: the
        independence sampler of :mod:`bayeswd.infer.collapsed` evaluates its grid and its
        proposals through it. Rows are taken ``chunk`` at a time (default: about a million numbers,
        ``chunk x min(n, d)``). Points where the value is not finite give ``-inf``.
        """
        chunk = chunk or max(1024, int(1e6 // max(self.num_terms, 1)))
        out = Q.new_empty(Q.shape[0])
        m_noise = self._noise_dims - (1 if self.fit_intercept else 0)
        for lo in range(0, Q.shape[0], chunk):
            q = Q[lo:lo + chunk]
            lp, sigma, tau = batched_scales(self, q)
            s, t = sigma**2, tau**2
            den = self._lam * t.unsqueeze(-1) + s.unsqueeze(-1)
            value = -0.5 * (den.log().sum(-1) + (self._c2 / den).sum(-1))
            value = value - 0.5 * m_noise * s.log() - 0.5 * self._rest / s
            total = value + lp
            out[lo:lo + chunk] = torch.where(torch.isfinite(total), total, total.new_tensor(-math.inf))
        return out

    def __call__(self, q: torch.Tensor) -> tuple[float, torch.Tensor]:
        """``(U(q), dU/dq)``."""
        grad = self._xp.zeros_like(q)
        lp = 0.0
        if self.sigma_scale is not None:
            sigma, dsig, lp_s, dlp_s = self.sigma_scale(float(q[self.i_sigma]))
            lp += lp_s
        else:
            sigma, dsig, dlp_s = self.sigma, 0.0, 0.0
        if self.tau_scale is not None:
            tau, dtau, lp_t, dlp_t = self.tau_scale(float(q[self.i_tau]))
            lp += lp_t
        else:
            tau, dtau, dlp_t = self.tau, 0.0, 0.0
        value, d_s, d_t = self.log_evidence(sigma * sigma, tau * tau)
        if not math.isfinite(value):
            return math.inf, grad
        if self.sigma_scale is not None:
            grad[self.i_sigma] = -(d_s * 2.0 * sigma * dsig + dlp_s)
        if self.tau_scale is not None:
            grad[self.i_tau] = -(d_t * 2.0 * tau * dtau + dlp_t)
        return -(value + lp), grad

    def curvature_factor(self, q: torch.Tensor) -> torch.Tensor | None:
        """Cholesky factor of the inverse Hessian of ``U`` at ``q``, or ``None`` where it is not positive.

        The Hessian comes from central differences of the closed-form gradient (one or two
        coordinates: two or four gradient calls). At the mode of ``U`` (where the start is) this is
        the Laplace approximation of the scales' posterior: NUTS's preconditioner, so that short
        warm-ups start with the right scale.
        """
        size, h = q.numel(), 1e-4
        H = q.new_empty(size, size)
        for j in range(size):
            e = torch.zeros_like(q)
            e[j] = h
            H[:, j] = (self(q + e)[1] - self(q - e)[1]) / (2.0 * h)
        H = 0.5 * (H + H.T)
        if not bool(torch.isfinite(H).all()):
            return None
        L, info = torch.linalg.cholesky_ex(torch.linalg.inv(H)) if bool(
            (torch.linalg.eigvalsh(H) > 0).all()) else (None, 1)
        return L if int(info) == 0 else None

    # -- exact draws of what was integrated out --------------------------------------------------

    def draws(self, Q: torch.Tensor, gen: torch.Generator) -> dict[str, torch.Tensor]:
        """Every site for each row of ``Q`` (shape (m, size)): the scales, then exact draws of the rest.

        ``w | sigma, tau, y`` is gaussian with precision ``Xc^T Xc / s + I / t`` and mean its ridge
        solution; ``b | w, sigma, y ~ Normal(mean(y) - mean(X) . w, s / n)``.
        """
        out = self.unpack(Q)
        m = Q.shape[0]
        s = (out["sigma"] if "sigma" in out else Q.new_full((m,), self.sigma)) ** 2
        t = (out["tau"] if "tau" in out else Q.new_full((m,), self.tau)) ** 2
        w = self._coef_given_scales(s, t, gen)
        draws = {"coef": w}
        if self.fit_intercept:
            z = torch.randn(m, generator=gen, dtype=Q.dtype, device=Q.device)
            draws["intercept"] = self._y_mean - w @ self._x_mean + (s / self.n).sqrt() * z
        draws.update(out)
        return draws

    def _coef_given_scales(self, s: torch.Tensor, t: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
        m, d = s.shape[0], self.d
        if self.use_stats:  # in the eigenbasis of Xc^T Xc: independent coordinates
            prec = self._lam_all / s.unsqueeze(-1) + 1.0 / t.unsqueeze(-1)  # (m, d)
            mean = (self._V.T @ self._xty) / s.unsqueeze(-1) / prec
            z = torch.randn((m, d), generator=gen, dtype=s.dtype, device=s.device)
            return (mean + z / prec.sqrt()) @ self._V.T
        # n <= d: Bhattacharya, Chakraborty and Mallick (2016), with C = s I + t Xc Xc^T = U diag U^T
        n = self._Xc.shape[0]
        a = torch.randn((m, d), generator=gen, dtype=s.dtype, device=s.device) * t.sqrt().unsqueeze(-1)
        e = torch.randn((m, n), generator=gen, dtype=s.dtype, device=s.device)
        r = self._yc - a @ self._Xc.T - s.sqrt().unsqueeze(-1) * e
        den = self._lam * t.unsqueeze(-1) + s.unsqueeze(-1)  # (m, n)
        omega = ((r @ self._U) / den) @ self._U.T
        return a + t.unsqueeze(-1) * (omega @ self._Xc)
