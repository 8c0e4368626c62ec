"""The potential energy of the bayeswd model in plain torch, in closed form.

:func:`bayeswd.model.linear_regression_model` defines the model; these classes write its potential
energy ``U(q) = -log p(y, latents)`` in unconstrained coordinates ``q`` and its gradient directly,
so that a leapfrog step costs a dozen torch operations instead of a trace of the Pyro model
(``tests/test_nuts.py`` checks value and gradient against the potential Pyro derives from the
model, in every configuration):

* :class:`LinearPotential`: the model as written, on the design matrix when ``n <= d`` and on
  the sufficient statistics ``A^T A``, ``A^T y``, ``y^T y`` (``A = [X 1]``) when ``n > d``, so a
  gradient costs ``O(min(n, d) d)``;
* :class:`LaplaceMixturePotential`: the laplace prior as a non-centred scale mixture of normals;
* :class:`CollapsedLaplacePotential`: the same with the weights integrated out (``n <= d``).

The mathematics is in ``docs/mathematics.md`` (the laplace scale mixture and the collapsed form).
"""

from __future__ import annotations

import copy
import math
from typing import Any

import numpy as np
import torch
from scipy.linalg import lapack as _lapack
from torch.distributions import biject_to, transforms

from bayeswd.stats import SufficientStats, sufficient_statistics

__all__ = ["CollapsedLaplacePotential", "LaplaceMixturePotential", "LinearPotential", "Scale",
           "batched_scales", "numpy_twin_of"]

_LOG_2PI = math.log(2.0 * math.pi)



def _is_exp(transform: transforms.Transform) -> bool:
    """Whether ``transform`` is ``exp``.

    torch's ``biject_to(positive)`` is exp followed by the identity affine map ``0 + 1 * x``,
    which must not hide the closed form of :class:`Scale`.
    """
    if isinstance(transform, transforms.ExpTransform):
        return True
    if not isinstance(transform, transforms.ComposeTransform) or not transform.parts:
        return False
    first, *rest = transform.parts
    return isinstance(first, transforms.ExpTransform) and all(
        isinstance(t, transforms.AffineTransform)
        and float(torch.as_tensor(t.loc)) == 0.0 and float(torch.as_tensor(t.scale)) == 1.0
        for t in rest
    )


class Scale:
    """A sampled scale (``sigma`` or ``tau``) in its unconstrained coordinate.

    Holds its prior and the map from the real line; returns the log prior density plus log
    Jacobian with its derivative.
    """

    def __init__(self, prior: torch.distributions.Distribution, device: torch.device) -> None:
        self.prior = prior
        self.transform = biject_to(prior.support)
        self.device = device
        self._halfnormal = isinstance(prior, torch.distributions.HalfNormal) and _is_exp(self.transform)
        if self._halfnormal:
            c = float(prior.scale)
            self._c2 = c * c
            self._const = 0.5 * math.log(2.0 / math.pi) - math.log(c)

    def to_unconstrained(self, value: float) -> float:
        """The unconstrained coordinate of the scale's value."""
        return float(self.transform.inv(torch.tensor(value, dtype=torch.float64, device=self.device)))

    def log_density(self, u: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``(log p(s) + log|ds/du|, s)`` at every element of ``u`` (batched, no gradient)."""
        with torch.no_grad():
            s = self.transform(u)
            lp = self.prior.log_prob(s) + self.transform.log_abs_det_jacobian(u, s)
        return lp, s

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


def batched_scales(pot: Any, q: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """``(log p(sigma) + log p(tau) + log Jacobians, sigma, tau)`` at every row of ``q``.

    For a potential with ``sigma_scale``/``i_sigma``/``sigma`` and ``tau_scale``/``i_tau``/``tau``
    (a fixed scale: its value in every row, nothing added to the log density).
    """
    lp = q.new_zeros(q.shape[0])
    scales = {}
    for scale, i, name, fixed in ((pot.sigma_scale, pot.i_sigma, "sigma", pot.sigma),
                                  (pot.tau_scale, pot.i_tau, "tau", pot.tau)):
        if scale is None:
            scales[name] = q.new_full((q.shape[0],), fixed)
            continue
        lp_i, scales[name] = scale.log_density(q[:, i])
        lp = lp + lp_i
    return lp, scales["sigma"], scales["tau"]


def numpy_twin_of(potential: Any, names: tuple[str, ...], writable: tuple[str, ...] = ()) -> Any:
    """A copy of ``potential`` that computes on NumPy arrays (made once, then kept).

    Its array module ``_xp`` is NumPy and its tensors ``names`` (those it has) are NumPy views of
    the CPU tensors; the ``writable`` ones, buffers it fills on every call, are copies.
    """
    twin = potential.__dict__.get("_numpy_twin")
    if twin is None:
        twin = copy.copy(potential)
        twin._xp = np
        for name in names:
            if hasattr(potential, name):
                arr = getattr(potential, name).cpu().numpy()
                setattr(twin, name, arr.copy() if name in writable else arr)
        potential._numpy_twin = twin
    return twin


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
        self.sigma_scale = Scale(sigma, dev) if not isinstance(self.sigma, float) else None
        self.tau_scale = Scale(tau, dev) if not isinstance(self.tau, float) else None
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
        self._xp: Any = torch  # the array module of q: torch, or NumPy in the twin

    def numpy_twin(self) -> LinearPotential | None:
        """The same potential on NumPy arrays (``q`` and the gradient float64 arrays), or ``None``.

        The CPU's fast path of :func:`bayeswd.infer.nuts.run_chain`: a NumPy operation on the
        vectors of a leapfrog step costs a third to a half of torch's dispatch. Tested equal to
        this one. The non-centred scale mixture has none (it runs on torch); the collapsed form
        has its own.
        """
        if type(self) is not LinearPotential:
            return None
        return numpy_twin_of(self, ("_G", "_Aty", "_A", "_AT", "_y", "_wmask"))

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

    def draws(self, Q: torch.Tensor, gen: torch.Generator) -> dict[str, torch.Tensor]:
        """Every site of the model for each kept state (rows of ``Q``); ``gen`` is unused here."""
        del gen
        return self.unpack(Q)

    # -- the potential ---------------------------------------------------------------------------

    def _sum_sq(self, theta: torch.Tensor) -> tuple[float, torch.Tensor]:
        """Residual sum of squares and ``A^T (A theta - y)``."""
        if self.use_stats:
            grad = self._G @ theta - self._Aty
            ss = self._yty + float(theta @ (grad - self._Aty))  # y'y - 2 t'A'y + t'Gt
            return max(ss, 0.0), grad
        r = self._y - self._A @ theta
        return float(r @ r), -(self._AT @ r)

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

    def log_density(self, Q: torch.Tensor, chunk: int | None = None) -> torch.Tensor:
        """``-U`` at every row of ``Q`` (shape (m, size)): the batched form, without gradients.

        The same value as :meth:`__call__` (up to rounding) for many points at once, in a few
        matrix products (the independence sampler of :mod:`bayeswd.infer.imh` evaluates its
        proposals through it). Rows are taken ``chunk`` at a time (default: about four million
        numbers of intermediate results). Points where the value is not finite give ``-inf``.
        """
        if type(self) is not LinearPotential:
            raise NotImplementedError(f"{type(self).__name__} has no batched log density")
        width = self.k if self.use_stats else self.n
        chunk = chunk or max(256, int(4e6 // max(width, 1)))
        out = Q.new_empty(Q.shape[0])
        for lo in range(0, Q.shape[0], chunk):
            q = Q[lo:lo + chunk]
            theta = q[:, : self.k]
            if self.use_stats:
                if self._shift:
                    theta = theta.clone()
                    theta[:, self.d] -= self._shift
                ss = self._yty - 2.0 * (theta @ self._Aty) + ((theta @ self._G) * theta).sum(-1)
                ss = ss.clamp_min(0.0)
            else:
                r = self._y - theta @ self._AT
                ss = (r * r).sum(-1)
            lp, sigma, tau = batched_scales(self, q)
            value = -(self._const + self.n * sigma.log() + 0.5 * ss / (sigma * sigma))
            coef = q[:, : self.k]
            if self.prior == "gaussian":
                sq = (coef * coef) @ self._wmask
                value = value - (self.d * (tau.log() + 0.5 * _LOG_2PI) + 0.5 * sq / (tau * tau))
            else:
                value = value - (self.d * torch.log(2.0 * tau) + (coef.abs() @ self._wmask) / tau)
            total = value + lp
            out[lo:lo + chunk] = torch.where(torch.isfinite(total), total, total.new_tensor(-math.inf))
        return out

    def __call__(self, q: torch.Tensor) -> tuple[float, torch.Tensor]:
        """``(U(q), dU/dq)``: potential energy (a float) and its gradient (a tensor like ``q``)."""
        theta = q[: self.k] if self.size != self.k else q
        if self._shift:
            theta = theta * 1.0  # a copy, of either array kind
            theta[self.d] -= self._shift
        ss, lik_grad = self._sum_sq(theta)
        grad = self._xp.empty_like(q)
        sigma, value, lp_sigma = self._gaussian_likelihood(q, ss, grad)
        inv_s2 = 1.0 / (sigma * sigma)
        # prior on the weights (coef only: the intercept's prior is flat)
        tau, dtau, lp_tau, dlp = self._tau_part(q)
        u_value = lp_sigma + lp_tau  # log priors + log Jacobians of the sampled scales
        coef = q[: self.k]
        if self.prior == "gaussian":
            wm = coef * self._wmask
            sq = float(wm @ coef)
            value += self.d * (math.log(tau) + 0.5 * _LOG_2PI) + 0.5 * sq / (tau * tau)
            grad[: self.k] = wm * (1.0 / (tau * tau)) + inv_s2 * lik_grad
            if self.tau_scale is not None:
                grad[self.i_tau] = (self.d / tau - sq / tau**3) * dtau - dlp
        else:
            l1 = float(abs(coef) @ self._wmask)
            value += self.d * math.log(2.0 * tau) + l1 / tau
            grad[: self.k] = self._xp.sign(coef) * self._wmask * (1.0 / tau) + inv_s2 * lik_grad
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

    def numpy_twin(self) -> CollapsedLaplacePotential:
        """The same potential on NumPy arrays, through LAPACK directly: NUTS's CPU path.

        A gradient here is a dozen small dense operations on ``n x n`` and ``n x d`` arrays (the
        factor of ``K``, one triangular solve with ``d + 2`` right-hand sides); calling LAPACK's
        ``potrf``/``trtrs`` through SciPy costs a fraction of torch's dispatch for each.
        Tested equal to this one.
        """
        twin = numpy_twin_of(self, ("_X", "_XT", "_yv"))
        if "_rhsT" not in twin.__dict__:
            n, d = twin._X.shape
            twin._rhsT = np.ones((d + 2, n))  # [X | r | 1]^T: its transpose is Fortran-ordered
            twin._rhsT[:d] = twin._XT
        return twin

    def _parts(self, q: torch.Tensor) -> tuple[Any, ...]:
        d = self.d
        b = float(q[d]) if self.fit_intercept else 0.0
        sig = self.sigma_scale(float(q[self.i_sigma])) if self.sigma_scale is not None else None
        sigma = sig[0] if sig is not None else self.sigma
        return b, sig, sigma

    def _mixing_prior(self, q: Any, u: Any, v: Any, grad: Any) -> tuple[float, float, float]:
        """``(lam, -log prod_j Exp(v_j; lam) v_j, log p(tau) + log Jacobian)``; sets ``grad``'s ``tau`` entry.

        ``lam = 1 / (2 tau^2)``, ``u = log v`` (the ``v_j`` is the Jacobian of ``u``); either array kind.
        """
        d = self.d
        tau, dtau, lp_tau, dlp = self._tau_part(q)
        lam = 0.5 / (tau * tau)
        sum_v = float(v.sum())
        if self.tau_scale is not None:
            # d/dtau of lam sum(v) - d log(lam), lam = 1 / (2 tau^2)
            grad[self.i_tau] = (2.0 * d / tau - 2.0 * lam * sum_v / tau) * dtau - dlp
        return lam, lam * sum_v - float(u.sum()) - d * math.log(lam), lp_tau

    def __call__(self, q: torch.Tensor) -> tuple[float, torch.Tensor]:
        """``(U(q), dU/dq)`` of the collapsed form."""
        if self._xp is np:
            return self._call_numpy(q)
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
        lam, prior_value, u_value = self._mixing_prior(q, u, v, grad)
        value += prior_value
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
        return value - u_value, grad

    def _call_numpy(self, q: np.ndarray) -> tuple[float, np.ndarray]:
        """:meth:`__call__` of the NumPy twin (the same steps, LAPACK called directly)."""
        d, n = self.d, self._X.shape[0]
        u = q[:d]
        v = np.exp(u)
        b, sig, sigma = self._parts(q)
        b += self._shift
        K = (self._X * v) @ self._XT
        K.flat[:: n + 1] += sigma * sigma
        chol, info = _lapack.dpotrf(K.T, lower=1, clean=1, overwrite_a=1)  # K is symmetric
        if info:  # K = sigma^2 I + X V X^T is positive definite unless v or sigma underflow
            return math.inf, np.zeros_like(q)
        self._rhsT[d] = self._yv - b
        W, _ = _lapack.dtrtrs(chol, self._rhsT.T, lower=1)  # L^-1 [X | r | 1], Fortran-ordered
        WT = W.T  # rows: L^-1 x_j, L^-1 r, L^-1 1
        Wx, wr = WT[:d], WT[d]
        quad = float(wr @ wr)
        logdet = 2.0 * float(np.log(chol.diagonal()).sum())
        xa = Wx @ wr
        xkx = np.einsum("ij,ij->i", Wx, Wx)
        grad = np.empty_like(q)
        value = self._const_lik + 0.5 * logdet + 0.5 * quad
        lam, prior_value, u_value = self._mixing_prior(q, u, v, grad)
        value += prior_value
        grad[:d] = (0.5 * (xkx - xa * xa) + lam) * v - 1.0
        if self.fit_intercept:
            grad[d] = -float(WT[d + 1] @ wr)
        if sig is not None:
            _, dsig, lp_s, dlp_s = sig
            u_value += lp_s
            inv_chol, _ = _lapack.dtrtri(chol, lower=1)
            alpha, _ = _lapack.dtrtrs(chol, wr, lower=1, trans=1)
            tr = float(np.einsum("ij,ij->", inv_chol, inv_chol))  # tr K^-1 = |L^-1|_F^2
            grad[self.i_sigma] = sigma * (tr - float(alpha @ alpha)) * dsig - dlp_s
        return value - u_value, grad

    def draws(self, Q: torch.Tensor, gen: torch.Generator) -> dict[str, torch.Tensor]:
        """Every site for each kept state, the weights drawn exactly given it (:meth:`conditional_coef`)."""
        out = self.unpack(Q)
        del out["v"]
        return {"coef": self.conditional_coef(Q, gen), **out}

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
