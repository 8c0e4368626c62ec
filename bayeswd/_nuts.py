"""bayeswd's own NUTS: the model's potential in plain torch and a lean sampler loop.

Pyro's NUTS re-traces the Pyro model and walks dicts of tensors at every leapfrog step: about
0.6 ms of Python per step, whatever the size of the problem. For the linear-regression model the
potential energy and its gradient have short closed forms, so this module

* writes the potential of :func:`bayeswd.model.linear_regression_model` in unconstrained
  coordinates directly in torch (:class:`LinearPotential`), on the design matrix when ``n <= d``
  and on the sufficient statistics ``A^T A``, ``A^T y``, ``y^T y`` (``A = [X 1]``) when ``n > d``,
  so that a gradient costs ``O(min(n, d) d)`` (the test suite checks value and gradient against
  the potential Pyro derives from the model, in every configuration);
* preconditions with the gaussian approximation of the posterior (``q = mu + L diag(s) x``: a
  dense, fixed factor ``L`` and a diagonal ``s`` adapted in Stan's windows during warm-up);
* runs the multinomial NUTS of Stan (Betancourt 2017: biased progressive sampling, the
  generalised no-U-turn criterion with the extra checks across merged subtrees, dual-averaging
  step size) in a loop with about a dozen torch operations per leapfrog step.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch.distributions import biject_to, transforms

from bayeswd.stats import SufficientStats, sufficient_statistics

__all__ = [
    "CollapsedLaplacePotential",
    "LaplaceMixturePotential",
    "LinearPotential",
    "one_thread_if_small",
    "run_chain",
]

_LOG_2PI = math.log(2.0 * math.pi)
_MAX_DELTA_H = 1000.0  # Stan's divergence threshold on the energy error
_ONE_THREAD_MAX = 2000  # latent coordinates up to which a CPU chain runs on one thread


class _Scale:
    """A sampled scale (``sigma`` or ``tau``) in its unconstrained coordinate.

    Holds its prior and the map from the real line; returns the log prior density plus log
    Jacobian with its derivative.
    """

    def __init__(self, prior: torch.distributions.Distribution, device: torch.device) -> None:
        self.prior = prior
        self.transform = biject_to(prior.support)
        self.device = device
        self._halfnormal = (
            isinstance(prior, torch.distributions.HalfNormal)
            and isinstance(self.transform, transforms.ExpTransform)
        )
        if self._halfnormal:
            c = float(prior.scale)
            self._c2 = c * c
            self._const = 0.5 * math.log(2.0 / math.pi) - math.log(c)

    def to_unconstrained(self, value: float) -> float:
        return float(self.transform.inv(torch.tensor(value, dtype=torch.float64, device=self.device)))

    def __call__(self, u: float) -> tuple[float, float, float, float]:
        """``(s, ds/du, log p(s) + log|ds/du|, d/du of that)`` at ``u``."""
        if self._halfnormal:  # the default hyperprior: closed form, no autograd
            s = math.exp(u)
            return s, s, self._const - 0.5 * s * s / self._c2 + u, 1.0 - s * s / self._c2
        ut = torch.tensor(u, dtype=torch.float64, device=self.device, requires_grad=True)
        s = self.transform(ut)
        logjac = self.transform.log_abs_det_jacobian(ut, s)
        lp = self.prior.log_prob(s) + logjac
        (g,) = torch.autograd.grad(lp, ut)
        return float(s.detach()), math.exp(float(logjac.detach())), float(lp.detach()), float(g)


class LinearPotential:
    """Potential energy ``-log p(y, latents)`` of the bayeswd model in unconstrained coordinates.

    The latent vector ``q`` is ``[coef (d), intercept (if fitted), log-ish sigma (if sampled),
    log-ish tau (if sampled)]``, with the scales mapped by ``biject_to(prior.support)`` exactly
    as Pyro does, so the value equals Pyro's potential energy of
    :func:`bayeswd.model.linear_regression_model` (constants included).

    Parameters
    ----------
    X, y : torch.Tensor
        Float64 data on the device inference runs on.
    prior : {"gaussian", "laplace"}
    sigma, tau : float or torch.distributions.Distribution
        Fixed value or prior of the scale.
    fit_intercept : bool
    stats : SufficientStats, optional
        Precomputed :func:`bayeswd.stats.sufficient_statistics` (used when ``n > d + 1``).
    """

    def __init__(
        self, X: torch.Tensor, y: torch.Tensor, *, prior: str, sigma: Any, tau: Any,
        fit_intercept: bool, stats: SufficientStats | None = None,
    ) -> None:
        n, d = X.shape
        self.n, self.d, self.prior, self.fit_intercept = n, d, prior, fit_intercept
        self.k = d + int(fit_intercept)  # regression coordinates: coef and intercept
        dev = X.device
        self.device = dev
        self.sigma = sigma if isinstance(sigma, torch.distributions.Distribution) else float(sigma)
        self.tau = tau if isinstance(tau, torch.distributions.Distribution) else float(tau)
        self.sigma_scale = _Scale(sigma, dev) if not isinstance(self.sigma, float) else None
        self.tau_scale = _Scale(tau, dev) if not isinstance(self.tau, float) else None
        idx = self.k
        self.i_sigma = idx if self.sigma_scale is not None else None
        idx += self.sigma_scale is not None
        self.i_tau = idx if self.tau_scale is not None else None
        idx += self.tau_scale is not None
        self.size = idx
        # mask: 1 on the weights, 0 on the intercept (which has a flat prior)
        self._wmask = X.new_ones(self.k)
        if fit_intercept:
            self._wmask[d] = 0.0
        # Sufficient statistics when they are cheaper than the design: O(k^2) against O(n k).
        self.use_stats = n > self.k
        if self.use_stats:
            # y is centred (the flat intercept absorbs the shift) to keep y^T y - 2 t.A^T y +
            # t.G t free of cancellation when y has a large offset; no copy of X is made.
            if stats is None:
                stats = sufficient_statistics(X, y, fit_intercept)
            self._shift = stats.shift
            self._G, self._Aty, self._yty = stats.gram, stats.aty, stats.yty
        else:
            self._shift = 0.0
            self._A = torch.cat([X, X.new_ones(n, 1)], 1) if fit_intercept else X
            self._AT = self._A.T.contiguous()
            self._y = y
        self._const = 0.5 * n * _LOG_2PI

    # -- coordinates ---------------------------------------------------------------------------

    def pack(self, values: dict[str, torch.Tensor]) -> torch.Tensor:
        """Unconstrained vector ``q`` of constrained site values."""
        parts = [values["coef"].reshape(-1)]
        if self.fit_intercept:
            parts.append(values["intercept"].reshape(1))
        for scale, name in ((self.sigma_scale, "sigma"), (self.tau_scale, "tau")):
            if scale is not None:
                parts.append(torch.tensor([scale.to_unconstrained(float(values[name]))],
                                          dtype=torch.float64, device=self.device))
        return torch.cat([p.to(self.device, torch.float64) for p in parts])

    def unpack(self, q: torch.Tensor) -> dict[str, torch.Tensor]:
        """Constrained site values of ``q`` (any leading batch shape)."""
        out = {"coef": q[..., : self.d]}
        if self.fit_intercept:
            out["intercept"] = q[..., self.d]
        scales = ((self.sigma_scale, self.i_sigma, "sigma"), (self.tau_scale, self.i_tau, "tau"))
        for scale, i, name in scales:
            if scale is not None:
                out[name] = scale.transform(q[..., i])
        return out

    # -- the potential ---------------------------------------------------------------------------

    def _sum_sq(self, theta: torch.Tensor) -> tuple[float, torch.Tensor]:
        """Residual sum of squares and ``A^T (A theta - y)``."""
        if self.use_stats:
            Gt = torch.mv(self._G, theta)
            grad = Gt - self._Aty
            ss = self._yty + float(theta.dot(grad - self._Aty))  # y'y - 2 t'A'y + t'Gt
            return max(ss, 0.0), grad
        r = torch.addmv(self._y, self._A, theta, alpha=-1.0)  # y - A theta
        return float(r.dot(r)), torch.mv(self._AT, r).neg_()

    def _gaussian_likelihood(
        self, q: torch.Tensor, ss: float, grad: torch.Tensor
    ) -> tuple[float, float, float]:
        """``(sigma, -log p(y | ...), log p(sigma) + log Jacobian)`` from the residual sum of squares.

        ``-log p(y | ...) = n log sigma + ss / (2 sigma^2) + n/2 log 2 pi``; with ``sigma`` sampled
        its coordinate's entry of ``grad`` is set.
        """
        if self.sigma_scale is None:
            sigma, lp = self.sigma, 0.0
        else:
            sigma, dsig, lp, dlp = self.sigma_scale(float(q[self.i_sigma]))
            grad[self.i_sigma] = (self.n / sigma - ss / sigma**3) * dsig - dlp
        return sigma, self._const + self.n * math.log(sigma) + 0.5 * ss / (sigma * sigma), lp

    def _tau_part(self, q: torch.Tensor) -> tuple[float, float, float, float]:
        """``(tau, dtau/du, log p(tau) + log Jacobian, its derivative)``; zeros for a fixed tau."""
        if self.tau_scale is None:
            return self.tau, 0.0, 0.0, 0.0
        return self.tau_scale(float(q[self.i_tau]))

    def __call__(self, q: torch.Tensor) -> tuple[float, torch.Tensor]:
        """``(U(q), dU/dq)``: potential energy (a float) and its gradient (a tensor like ``q``)."""
        theta = q[: self.k] if self.size != self.k else q
        if self._shift:
            theta = theta.clone()
            theta[self.d] -= self._shift
        ss, lik_grad = self._sum_sq(theta)
        grad = torch.empty_like(q)
        sigma, value, lp_sigma = self._gaussian_likelihood(q, ss, grad)
        inv_s2 = 1.0 / (sigma * sigma)
        # prior on the weights (coef only: the intercept's prior is flat)
        tau, dtau, lp_tau, dlp = self._tau_part(q)
        u_value = lp_sigma + lp_tau  # log priors + log Jacobians of the sampled scales
        coef = q[: self.k]
        if self.prior == "gaussian":
            wm = coef * self._wmask
            sq = float(wm.dot(coef))
            value += self.d * (math.log(tau) + 0.5 * _LOG_2PI) + 0.5 * sq / (tau * tau)
            torch.add(wm.mul_(1.0 / (tau * tau)), lik_grad, alpha=inv_s2, out=grad[: self.k])
            if self.tau_scale is not None:
                grad[self.i_tau] = (self.d / tau - sq / tau**3) * dtau - dlp
        else:
            l1 = float(coef.abs().dot(self._wmask))
            value += self.d * math.log(2.0 * tau) + l1 / tau
            sg = torch.sign(coef).mul_(self._wmask)
            torch.add(sg.mul_(1.0 / tau), lik_grad, alpha=inv_s2, out=grad[: self.k])
            if self.tau_scale is not None:
                grad[self.i_tau] = (self.d / tau - l1 / tau**2) * dtau - dlp
        return value - u_value, grad


class LaplaceMixturePotential(LinearPotential):
    """The laplace model written as a scale mixture of normals, non-centred, for NUTS.

    ``Laplace(0, tau)`` is the ``v``-mixture of ``Normal(0, v)`` with ``v ~ Exponential(rate
    lam = 1 / (2 tau^2))``. Each weight becomes ``w_j = a_j sqrt(v_j)`` with ``a_j ~ Normal(0,
    1)`` and ``u_j = log v_j`` as extra coordinates: the joint density of ``(a, u)`` is smooth,
    where the laplace density has a kink at ``w_j = 0`` that forces NUTS into tiny steps, and its
    marginal in ``w`` is exactly the laplace model's posterior. The latent vector is ``[a (d),
    intercept, sigma, tau (as in LinearPotential), u (d)]``; :meth:`unpack` returns ``coef = w``.
    """

    def __init__(self, X: torch.Tensor, y: torch.Tensor, **kwargs: Any) -> None:
        super().__init__(X, y, **kwargs)
        if self.prior != "laplace":
            raise ValueError("the scale-mixture form is the laplace prior's")
        self.i_aux = self.size
        self.size += self.d
        self._const_aux = 0.5 * self.d * _LOG_2PI

    def pack(self, values: dict[str, torch.Tensor]) -> torch.Tensor:
        """``q`` with ``v`` at its prior mean ``2 tau^2`` and ``a = w / sqrt(v)``."""
        tau = float(values["tau"]) if self.tau_scale is not None else self.tau
        v = 2.0 * tau * tau
        scaled = dict(values, coef=values["coef"] / math.sqrt(v))
        base = super().pack(scaled)
        return torch.cat([base, base.new_full((self.d,), math.log(v))])

    def unpack(self, q: torch.Tensor) -> dict[str, torch.Tensor]:
        """Constrained site values of ``q``; ``coef`` is ``a * sqrt(v)``."""
        out = super().unpack(q[..., : self.i_aux])
        out["coef"] = q[..., : self.d] * torch.exp(0.5 * q[..., self.i_aux:])
        return out

    def __call__(self, q: torch.Tensor) -> tuple[float, torch.Tensor]:
        """``(U(q), dU/dq)`` of the non-centred scale-mixture form."""
        d, k = self.d, self.k
        a, u = q[:d], q[self.i_aux:]
        e = torch.exp(0.5 * u)
        w = a * e
        theta = torch.cat([w, q[d:k]]) if self.fit_intercept else w
        if self._shift:
            theta[d] -= self._shift
        ss, lik_grad = self._sum_sq(theta)
        grad = torch.empty_like(q)
        sigma, value, lp_sigma = self._gaussian_likelihood(q, ss, grad)
        inv_s2 = 1.0 / (sigma * sigma)
        tau, dtau, lp_tau, dlp = self._tau_part(q)
        u_value = lp_sigma + lp_tau
        lam = 0.5 / (tau * tau)
        v = e * e
        sum_v = float(v.sum())
        value += (self._const_aux + 0.5 * float(a.dot(a))
                  + lam * sum_v - float(u.sum()) - d * math.log(lam))
        gw = lik_grad[:d].mul_(inv_s2)
        torch.addcmul(a, gw, e, out=grad[:d])
        if self.fit_intercept:
            grad[d] = lik_grad[d] * inv_s2
        # d/du_j: the likelihood through w_j = a_j e^{u_j/2}, then lam v_j - u_j
        torch.addcmul(v.mul_(lam).sub_(1.0), gw, w, value=0.5, out=grad[self.i_aux:])
        if self.tau_scale is not None:
            # d/dtau of lam sum(v) - d log(lam), lam = 1 / (2 tau^2)
            grad[self.i_tau] = (2.0 * d / tau - 2.0 * lam * sum_v / tau) * dtau - dlp
        return value - u_value, grad


class CollapsedLaplacePotential(LinearPotential):
    """The laplace model's scale mixture with the weights integrated out, for ``n <= d``.

    Given the mixing variances ``v`` (``w_j ~ Normal(0, v_j)``, ``v_j ~ Exponential(rate 1 / (2
    tau^2))``), the intercept ``b`` and ``sigma``, the weights are gaussian and integrate out in
    closed form: ``y ~ Normal(b, K)`` with ``K = sigma^2 I + X diag(v) X^T`` (``n x n``). NUTS
    runs on ``[u = log v (d), intercept, sigma, tau]`` (smooth, no kink, no ridge between ``w``
    and ``v``), and :meth:`conditional_coef` then draws ``w | v, b, sigma, y`` exactly for each
    kept state: together they are draws of the laplace model's posterior. A gradient costs
    ``O(n^2 d)``.
    """

    def __init__(self, X: torch.Tensor, y: torch.Tensor, **kwargs: Any) -> None:
        super().__init__(X, y, **kwargs)
        if self.prior != "laplace":
            raise ValueError("the collapsed form is the laplace prior's")
        n, d = X.shape
        self._X, self._XT, self._yv = X, X.T.contiguous(), y
        self._rhs = X.new_ones(n, d + 2)  # [X | r | 1] for one triangular solve
        self._rhs[:, :d] = X
        self._const_lik = 0.5 * n * _LOG_2PI

    def pack(self, values: dict[str, torch.Tensor]) -> torch.Tensor:
        """``q`` with ``u = log v`` at the prior mean ``v = 2 tau^2`` (the weights are integrated)."""
        tau = float(values["tau"]) if self.tau_scale is not None else self.tau
        base = super().pack(values)
        base[: self.d] = math.log(2.0 * tau * tau)
        return base

    def unpack(self, q: torch.Tensor) -> dict[str, torch.Tensor]:
        """Site values of ``q`` except ``coef`` (see :meth:`conditional_coef`), and ``v``."""
        out = super().unpack(q)
        out["v"] = torch.exp(out.pop("coef"))
        return out

    def _parts(self, q: torch.Tensor) -> tuple[Any, ...]:
        d = self.d
        b = float(q[d]) if self.fit_intercept else 0.0
        sig = self.sigma_scale(float(q[self.i_sigma])) if self.sigma_scale is not None else None
        sigma = sig[0] if sig is not None else self.sigma
        return b, sig, sigma

    def __call__(self, q: torch.Tensor) -> tuple[float, torch.Tensor]:
        """``(U(q), dU/dq)`` of the collapsed form."""
        d = self.d
        u = q[:d]
        v = torch.exp(u)
        b, sig, sigma = self._parts(q)
        b += self._shift
        K = torch.mm(self._X * v, self._XT)
        K.diagonal().add_(sigma * sigma)
        chol, info = torch.linalg.cholesky_ex(K)
        if int(info):  # K = sigma^2 I + X V X^T is positive definite unless v or sigma underflow
            return math.inf, torch.zeros_like(q)
        self._rhs[:, d] = self._yv - b
        W = torch.linalg.solve_triangular(chol, self._rhs, upper=False)  # L^-1 [X | r | 1]
        Wx, wr = W[:, :d], W[:, d]
        quad = float(wr.dot(wr))  # r' K^-1 r
        logdet = 2.0 * float(chol.diagonal().log().sum())
        xa = torch.mv(Wx.T, wr)  # x_j' K^-1 r
        xkx = (Wx * Wx).sum(0)  # x_j' K^-1 x_j
        grad = torch.empty_like(q)
        value = self._const_lik + 0.5 * logdet + 0.5 * quad
        tau, dtau, u_value, dlp = self._tau_part(q)
        lam = 0.5 / (tau * tau)
        sum_v = float(v.sum())
        value += lam * sum_v - float(u.sum()) - d * math.log(lam)
        # d/du_j = v_j (x_j'K^-1 x_j - (x_j'K^-1 r)^2) / 2 + lam v_j - 1
        torch.mul(xkx.sub_(xa.mul_(xa)).mul_(0.5).add_(lam), v, out=grad[:d]).sub_(1.0)
        if self.fit_intercept:
            grad[d] = -float(W[:, d + 1].dot(wr))  # -1' K^-1 r
        if sig is not None:
            _, dsig, lp_s, dlp_s = sig
            u_value += lp_s
            tr = float(torch.cholesky_inverse(chol).diagonal().sum())
            alpha = torch.linalg.solve_triangular(chol.T, wr.unsqueeze(-1), upper=True)
            grad[self.i_sigma] = sigma * (tr - float(alpha.pow(2).sum())) * dsig - dlp_s
        if self.tau_scale is not None:
            grad[self.i_tau] = (2.0 * d / tau - 2.0 * lam * sum_v / tau) * dtau - dlp
        return value - u_value, grad

    def conditional_coef(self, Q: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
        """One exact draw of ``w | v, b, sigma, y`` for each row of ``Q`` (shape (m, P)).

        ``w ~ Normal(m, S)``, ``S = (X^T X / sigma^2 + V^-1)^-1``, drawn in ``O(n^2 d)`` with the
        algorithm of Bhattacharya, Chakraborty and Mallick (2016): ``a ~ Normal(0, V)``,
        ``e ~ Normal(0, I_n)``, ``w = a + V X^T K^-1 (r - X a - sigma e)``.
        """
        n, d = self._X.shape
        chunk = max(1, (1 << 24) // (n * d))  # the (chunk, n, d) product stays ~128 MB
        if Q.shape[0] > chunk:
            return torch.cat([self.conditional_coef(Q[i:i + chunk], gen)
                              for i in range(0, Q.shape[0], chunk)])
        m = Q.shape[0]
        v = torch.exp(Q[:, :d])
        b = Q[:, d] if self.fit_intercept else Q.new_zeros(m)
        if self.sigma_scale is not None:
            sigma = self.sigma_scale.transform(Q[:, self.i_sigma])
        else:
            sigma = Q.new_full((m,), self.sigma)
        a = torch.randn((m, d), generator=gen, dtype=Q.dtype, device=Q.device) * v.sqrt()
        e = torch.randn((m, n), generator=gen, dtype=Q.dtype, device=Q.device)
        K = (self._X * v.unsqueeze(1)) @ self._XT  # (m, n, n)
        K.diagonal(dim1=-2, dim2=-1).add_((sigma * sigma).unsqueeze(-1))
        r = self._yv - b.unsqueeze(-1) - (self._shift if self.use_stats else 0.0)
        rhs = r - a @ self._XT - sigma.unsqueeze(-1) * e
        omega = torch.cholesky_solve(rhs.unsqueeze(-1), torch.linalg.cholesky(K)).squeeze(-1)
        return a + v * (omega @ self._X)


# --------------------------------------------------------------------------------------------
# the sampler


@dataclass
class ChainResult:
    """Draws (unconstrained, shape (num_samples, P)) and per-draw statistics of one chain."""

    draws: torch.Tensor
    diverging: np.ndarray
    tree_depth: np.ndarray
    step_size: np.ndarray
    acceptance_rate: np.ndarray
    num_steps: np.ndarray
    inv_metric: torch.Tensor


def _windows(num_warmup: int) -> tuple[int, int, list[int]]:
    """Stan's warm-up schedule: (init buffer, term buffer, ends of the metric windows)."""
    init, term, base = 75, 50, 25
    if num_warmup < 20:
        return num_warmup, 0, []
    if init + term + base > num_warmup:
        init, term = int(0.15 * num_warmup), int(0.1 * num_warmup)
        base = num_warmup - init - term
    ends, start, size = [], init, base
    while True:
        end = start + size
        if end + 2 * size > num_warmup - term:  # the next window would not fit: stretch this one
            ends.append(num_warmup - term)
            break
        ends.append(end)
        start, size = end, 2 * size
    return init, term, ends


class _DualAveraging:
    """Nesterov dual averaging of the log step size (Hoffman and Gelman 2014; Stan's constants)."""

    def __init__(self, step: float, target: float) -> None:
        self.target = target
        self.restart(step)

    def restart(self, step: float) -> None:
        self.mu, self.t, self.h_bar, self.log_bar = math.log(10.0 * step), 0, 0.0, 0.0

    def update(self, accept: float) -> float:
        gamma, t0, kappa = 0.05, 10.0, 0.75
        self.t += 1
        eta = 1.0 / (self.t + t0)
        self.h_bar = (1.0 - eta) * self.h_bar + eta * (self.target - accept)
        log_step = self.mu - math.sqrt(self.t) / gamma * self.h_bar
        w = self.t ** (-kappa)
        self.log_bar = w * log_step + (1.0 - w) * self.log_bar
        return math.exp(log_step)

    @property
    def final(self) -> float:
        return math.exp(self.log_bar)


class _Sampler:
    """Multinomial NUTS on ``U(mu + L diag(s) x)`` with identity mass in ``x``."""

    def __init__(
        self, potential: Callable[[torch.Tensor], tuple[float, torch.Tensor]], mu: torch.Tensor,
        L: torch.Tensor, gen: torch.Generator, rng: np.random.Generator, max_tree_depth: int,
    ) -> None:
        self.potential, self.mu, self.L = potential, mu, L
        self.gen, self.rng, self.max_depth = gen, rng, max_tree_depth
        # a diagonal factor (e.g. the laplace scale mixture) is applied elementwise: a dense
        # matrix-vector product over a few hundred coordinates costs more than the potential
        self.diagonal = bool(torch.equal(L, torch.diag(L.diagonal())))
        self.set_scale(torch.ones_like(mu))

    def set_scale(self, s: torch.Tensor) -> None:
        self.s = s
        if self.diagonal:
            self.Ls = self.L.diagonal() * s
            return
        self.Ls = self.L * s  # scales the columns
        self.LsT = self.Ls.T.contiguous()

    def to_q(self, x: torch.Tensor) -> torch.Tensor:
        if self.diagonal:
            return torch.addcmul(self.mu, self.Ls, x)
        return torch.addmv(self.mu, self.Ls, x)

    def energy_grad(self, x: torch.Tensor) -> tuple[float, torch.Tensor]:
        U, g = self.potential(self.to_q(x))
        return U, (g.mul_(self.Ls) if self.diagonal else torch.mv(self.LsT, g))

    def leapfrog(self, x, p, g, eps):  # noqa: ANN001, ANN202 - hot path
        p = torch.add(p, g, alpha=-0.5 * eps)
        x = torch.add(x, p, alpha=eps)
        U, g = self.energy_grad(x)
        p = p.add_(g, alpha=-0.5 * eps)
        return x, p, g, U

    def find_step(self, x: torch.Tensor, U: float, g: torch.Tensor, eps: float) -> float:
        """Stan's heuristic: double or halve ``eps`` until one step's acceptance crosses 0.8."""
        direction = 0
        for _ in range(100):
            p = torch.randn(x.shape, generator=self.gen, dtype=x.dtype, device=x.device)
            H0 = U + 0.5 * float(p.dot(p))
            _, p1, _, U1 = self.leapfrog(x, p, g, eps)
            H1 = U1 + 0.5 * float(p1.dot(p1))
            delta = H0 - H1 if math.isfinite(H1) else -math.inf
            step_dir = 1 if delta > math.log(0.8) else -1
            if direction == 0:
                direction = step_dir
            elif step_dir != direction:
                break
            eps = eps * 2.0 if direction == 1 else eps * 0.5
            if eps > 1e7 or eps < 1e-12:
                break
        return eps

    def transition(self, x: torch.Tensor, U: float, g: torch.Tensor, eps: float):  # noqa: ANN201
        """One NUTS transition from ``x``; returns the new state and its statistics."""
        p = torch.randn(x.shape, generator=self.gen, dtype=x.dtype, device=x.device)
        H0 = U + 0.5 * float(p.dot(p))
        # the two ends of the trajectory: (x, p, g, U)
        fwd = bck = (x, p, g, U)
        p_fwd_fwd = p_fwd_bck = p_bck_fwd = p_bck_bck = p
        rho = p.clone()
        sample = (x, U, g)
        log_w = 0.0
        depth, self.n_leap, self.sum_metro, self.divergent = 0, 0, 0.0, False
        while depth < self.max_depth:
            if self.rng.random() > 0.5:
                rho_bck = rho  # the trajectory so far becomes the backward subtree
                p_bck_fwd = p_fwd_fwd
                ok, end, prop, lw_sub, p_fwd_bck, p_fwd_fwd, rho_fwd = self._build(
                    fwd, depth, eps, H0)
                fwd = end
            else:
                rho_fwd = rho
                p_fwd_bck = p_bck_bck
                ok, end, prop, lw_sub, p_bck_fwd, p_bck_bck, rho_bck = self._build(
                    bck, depth, -eps, H0)
                bck = end
            if not ok:
                break
            depth += 1
            if lw_sub > log_w or self.rng.random() < math.exp(lw_sub - log_w):
                sample = prop
            log_w = float(np.logaddexp(log_w, lw_sub))
            rho = rho_bck + rho_fwd
            if not (self._uturn_ok(p_bck_bck, p_fwd_fwd, rho)
                    and self._uturn_ok(p_bck_bck, p_fwd_bck, rho_bck + p_fwd_bck)
                    and self._uturn_ok(p_bck_fwd, p_fwd_fwd, rho_fwd + p_bck_fwd)):
                break
        accept = self.sum_metro / max(self.n_leap, 1)
        return sample, depth, accept, self.divergent, self.n_leap

    @staticmethod
    def _uturn_ok(p_minus: torch.Tensor, p_plus: torch.Tensor, rho: torch.Tensor) -> bool:
        return float(p_plus.dot(rho)) > 0.0 and float(p_minus.dot(rho)) > 0.0

    def _build(self, start, depth: int, eps: float, H0: float):  # noqa: ANN001, ANN202
        """Subtree of ``2**depth`` steps from ``start``.

        Returns (valid, end state, proposal, log weight, p at its first step, p at its last
        step, sum of its p).
        """
        if depth == 0:
            x, p, g, _ = start
            x, p, g, U = self.leapfrog(x, p, g, eps)
            self.n_leap += 1
            H = U + 0.5 * float(p.dot(p))
            if not math.isfinite(H):
                H = math.inf
            if H - H0 > _MAX_DELTA_H:
                self.divergent = True
            lw = H0 - H
            self.sum_metro += 1.0 if lw > 0 else math.exp(lw)
            return not self.divergent, (x, p, g, U), (x, U, g), lw, p, p, p
        ok, mid, prop, lw_init, p_beg, p_init_end, rho_init = self._build(start, depth - 1, eps, H0)
        if not ok:
            return False, mid, prop, lw_init, p_beg, p_init_end, rho_init
        ok, end, prop_final, lw_final, p_final_beg, p_end, rho_final = self._build(
            mid, depth - 1, eps, H0)
        if not ok:
            return False, end, prop, lw_init, p_beg, p_end, rho_init
        lw = float(np.logaddexp(lw_init, lw_final))
        if self.rng.random() < math.exp(lw_final - lw):
            prop = prop_final
        rho = rho_init + rho_final
        ok = (self._uturn_ok(p_beg, p_end, rho)
              and self._uturn_ok(p_beg, p_final_beg, rho_init + p_final_beg)
              and self._uturn_ok(p_init_end, p_end, rho_final + p_init_end))
        return ok, end, prop, lw, p_beg, p_end, rho


def run_chain(
    potential: Callable[[torch.Tensor], tuple[float, torch.Tensor]],
    q0: torch.Tensor, mu: torch.Tensor, L: torch.Tensor, *,
    num_warmup: int, num_samples: int, seed: int, target_accept_prob: float = 0.8,
    max_tree_depth: int = 10, progress: Any = None,
) -> ChainResult:
    """One NUTS chain on ``potential`` preconditioned by ``q = mu + L diag(s) x``.

    ``L`` is a fixed factor (e.g. the Cholesky factor of an approximate posterior covariance);
    ``s`` starts at ones and is set from the variance of ``L^{-1}(q - mu)`` over Stan's slow
    warm-up windows (regularised towards 1 as Stan regularises towards its initial metric).
    ``progress`` is an optional callable called once per iteration.

    On the CPU, problems of up to ``_ONE_THREAD_MAX`` coordinates run on one torch thread:
    every operation of a leapfrog step is small, and torch's intra-op threads then cost far
    more than they save (the collapsed laplace potential: 3.8 ms a call on 2 threads, 0.11 ms
    on one; the caller's setting is restored).
    """
    with one_thread_if_small(q0.device, q0.numel()):
        return _run_chain(potential, q0, mu, L, num_warmup=num_warmup, num_samples=num_samples,
                          seed=seed, target_accept_prob=target_accept_prob,
                          max_tree_depth=max_tree_depth, progress=progress)


@contextmanager
def one_thread_if_small(device: torch.device, size: int) -> Iterator[None]:
    """Run torch on one CPU thread inside, for problems of up to ``_ONE_THREAD_MAX`` coordinates.

    Loops of many small operations (a sampler, an optimiser) lose to torch's intra-op threads:
    synchronising them costs more than the work, and on a busy machine far more (measured:
    full-rank SVI on the seed problem 3.5 s alone, 134 s beside another process, on 2 threads).
    The caller's setting is restored.
    """
    if torch.device(device).type != "cpu" or size > _ONE_THREAD_MAX:
        yield
        return
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(threads)


def _run_chain(
    potential: Callable[[torch.Tensor], tuple[float, torch.Tensor]],
    q0: torch.Tensor, mu: torch.Tensor, L: torch.Tensor, *,
    num_warmup: int, num_samples: int, seed: int, target_accept_prob: float,
    max_tree_depth: int, progress: Any,
) -> ChainResult:
    dev = q0.device
    gen = torch.Generator(device=dev).manual_seed(int(seed))
    rng = np.random.default_rng(int(seed))
    smp = _Sampler(potential, mu, L, gen, rng, max_tree_depth)
    x = torch.linalg.solve_triangular(L, (q0 - mu).unsqueeze(-1), upper=False).squeeze(-1)
    U, g = smp.energy_grad(x)
    if not math.isfinite(U):
        raise ValueError("the starting point has a non-finite potential energy")
    eps = smp.find_step(x, U, g, 1.0)
    adapt = _DualAveraging(eps, target_accept_prob)
    init, term, ends = _windows(num_warmup)
    ends_set = set(ends)
    w_mean = torch.zeros_like(x)
    w_m2 = torch.zeros_like(x)
    w_n = 0
    P = x.numel()
    draws = torch.empty((num_samples, P), dtype=x.dtype, device=dev)
    stats = np.zeros((num_samples, 4))
    diverging = np.zeros(num_samples, dtype=bool)
    for it in range(num_warmup + num_samples):
        (x, U, g), depth, accept, divergent, n_leap = smp.transition(x, U, g, eps)
        if it < num_warmup:
            eps = adapt.update(accept)
            if init <= it < (ends[-1] if ends else init):
                w = x * smp.s  # the coordinates L^{-1}(q - mu) whose variance sets s
                w_n += 1
                delta = w - w_mean
                w_mean += delta / w_n
                w_m2 += delta * (w - w_mean)
            if it + 1 in ends_set and w_n > 1:
                var = w_m2 / (w_n - 1)
                var = (w_n / (w_n + 5.0)) * var + 5.0 / (w_n + 5.0)  # shrink towards the start
                s_new = var.sqrt()
                x = x * smp.s / s_new
                smp.set_scale(s_new)
                U, g = smp.energy_grad(x)
                eps = smp.find_step(x, U, g, eps)
                adapt.restart(eps)
                w_mean.zero_()
                w_m2.zero_()
                w_n = 0
            if it + 1 == num_warmup:
                eps = adapt.final
        else:
            j = it - num_warmup
            draws[j] = smp.to_q(x)
            stats[j] = (depth, eps, accept, n_leap)
            diverging[j] = divergent
        if progress is not None:
            progress()
    return ChainResult(
        draws=draws, diverging=diverging, tree_depth=stats[:, 0].astype(np.int64),
        step_size=stats[:, 1].copy(), acceptance_rate=stats[:, 2].copy(),
        num_steps=stats[:, 3].astype(np.int64), inv_metric=(smp.s**2).cpu(),
    )
