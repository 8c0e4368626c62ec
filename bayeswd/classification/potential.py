"""The potential energy of the classification model in plain torch, and its gaussian approximation.

:func:`bayeswd.model.linear_regression_model` with ``family="bernoulli"`` or ``"categorical"`` defines
the model; :class:`ClassifierPotential` writes ``U(q) = -log p(y, latents)`` in unconstrained
coordinates ``q = (theta, u_tau)`` with its gradient in closed form (the log loss and its gradient
of :class:`~bayeswd.classification.problem.GLMProblem`, the prior's terms, and ``tau = T(u_tau)``
with Pyro's ``biject_to`` when ``tau`` is sampled). ``tests/test_classification_posterior.py``
checks value and gradient against the potential Pyro derives from the model, constants included.

:func:`gaussian_approximation` is the Laplace approximation of the posterior at the MAP: the
starting point and the metric of NUTS, and the draws of ``method="laplace_approx"``.
"""

from __future__ import annotations

import math
from typing import Any, NamedTuple

import numpy as np
import torch

from bayeswd.classification.problem import GLMProblem, row_sums, softplus
from bayeswd.classification.solvers import newton, proximal_newton
from bayeswd.infer.potentials import Scale, numpy_twin_of

__all__ = ["ClassifierPotential", "GaussianApproximation", "batched_log_density", "gaussian_approximation",
           "site_draws", "tau_variance"]

_HALF_LOG_2PI = 0.5 * math.log(2.0 * math.pi)


def _row_max(eta: np.ndarray) -> np.ndarray:
    """``eta.max(1, keepdims=True)`` for an ``(n, K)`` array, column against column for small ``K``.

    NumPy's reduction over a short last axis is slow: 41 us against 3 us on 1000 x 3.
    """
    K = eta.shape[1]
    if K > 8:
        return eta.max(1, keepdims=True)
    top = eta[:, :1].copy()
    for k in range(1, K):
        np.maximum(top, eta[:, k:k + 1], out=top)
    return top


class ClassifierPotential:
    """``U(q) = -log p(y, W, b, tau)`` of logistic or softmax regression, with its gradient.

    ``q`` is ``theta`` (the packing of :class:`GLMProblem`: the weights class after class, then
    the free intercepts), followed by the unconstrained coordinate of ``tau`` when it is sampled.
    The value is Pyro's potential energy of the model: every normalising constant of the prior
    (``-log Normal(w; 0, tau)`` or ``-log Laplace(w; 0, tau)``) and of the hyperprior with its log
    Jacobian included; the flat intercepts contribute nothing.

    Parameters
    ----------
    prob : GLMProblem
        Data and settings; ``prob.tau`` is the fixed prior scale when ``tau_prior`` is ``None``.
    tau_prior : torch.distributions.Distribution, optional
        Prior of a sampled ``tau`` (positive support).
    noncentred : bool, default False
        With ``tau`` sampled, run on ``z = w / tau`` instead of ``w`` (``z ~ Normal(0, 1)`` or
        ``Laplace(0, 1)`` a priori): ``U_nc(z, b, u) = U(tau z, b, u) - P log tau``, the funnel of
        small ``tau`` straightened where the data say little about each weight.
    """

    def __init__(self, prob: GLMProblem, tau_prior: torch.distributions.Distribution | None = None,
                 *, noncentred: bool = False) -> None:
        self.prob = prob
        self.nw = prob.n_weights
        self.size = prob.size + int(tau_prior is not None)
        self.scale = None if tau_prior is None else Scale(tau_prior, prob.X.device)
        self.noncentred = bool(noncentred) and tau_prior is not None
        # the log loss and its gradient in few torch operations (a leapfrog step is dominated by
        # the per-operation overhead on small problems): logits A Theta in one product
        self._xp: Any = torch  # the array module of q: torch, or NumPy in the twin
        self._A = prob.A
        self._AT = prob.A.T.contiguous()
        if prob.family == "bernoulli":
            self._yf = prob.y.to(prob.X.dtype)
        else:
            K, p = prob.num_classes, self._A.shape[1]
            self._Y = torch.nn.functional.one_hot(prob.y, K).to(prob.X.dtype)
            self._M = prob.X.new_zeros(p, K)  # Theta = [W; b] with b_0 = 0
            self._ones = prob.X.new_ones(K, 1)  # row sums as a product (problem.row_sums)

    def numpy_twin(self) -> ClassifierPotential:
        """The same potential on NumPy arrays: ``q`` a float64 array, the gradient an array.

        The CPU's fast path of :func:`bayeswd.infer.nuts.run_chain` (a NumPy operation on the
        vectors of a leapfrog step costs a third to a half of torch's dispatch); tested equal to
        this one. Data on a GPU stay with torch: no twin then.
        """
        return numpy_twin_of(self, ("_A", "_AT", "_yf", "_Y", "_M", "_ones"), writable=("_M",))

    def log_loss(self, theta: torch.Tensor) -> tuple[float, torch.Tensor]:
        """``(sum CE, its gradient in theta)``: :meth:`GLMProblem.value_grad` in fewer operations."""
        prob = self.prob
        if self._xp is np:
            return self._log_loss_numpy(theta)
        if prob.family == "bernoulli":
            eta = self._A @ theta
            f = float(softplus(eta).sum() - eta @ self._yf)
            return f, self._AT @ (torch.sigmoid(eta) - self._yf)
        d, K, nw = prob.d, prob.num_classes, prob.n_weights
        M = self._M
        M[:d] = theta[:nw].view(K, d).T
        if prob.fit_intercept:
            M[d, 1:] = theta[nw:]
        eta = self._A @ M
        top = eta.amax(1, keepdim=True)
        E = torch.exp(eta - top)  # one exp for the log normaliser and the softmax
        total = row_sums(E)
        f = float(top.sum() + torch.log(total).sum() - (eta * self._Y).sum())  # sum_i lse_i - eta_i,y_i
        G = self._AT @ (E / total - self._Y)
        g = G[:d].T.reshape(-1)
        return f, torch.cat([g, G[d, 1:]]) if prob.fit_intercept else g

    def _log_loss_numpy(self, theta: np.ndarray) -> tuple[float, np.ndarray]:
        prob = self.prob
        if prob.family == "bernoulli":
            eta = self._A @ theta
            a = np.abs(eta)
            e = np.exp(-a)
            # sum log(1 + e^eta) = sum max(eta, 0) + log1p(e^-|eta|), stable both ways (NumPy's
            # logaddexp costs 4x these operations together)
            f = 0.5 * float(eta.sum() + a.sum()) + float(np.log1p(e).sum()) - float(eta @ self._yf)
            sigmoid = np.where(eta >= 0.0, 1.0, e) / (1.0 + e)
            return f, self._AT @ (sigmoid - self._yf)
        d, K, nw = prob.d, prob.num_classes, prob.n_weights
        M = self._M
        M[:d] = theta[:nw].reshape(K, d).T
        if prob.fit_intercept:
            M[d, 1:] = theta[nw:]
        eta = self._A @ M
        top = _row_max(eta)
        E = np.exp(eta - top)
        total = E @ self._ones
        f = float(top.sum() + np.log(total).sum() - (eta * self._Y).sum())  # sum_i lse_i - eta_i,y_i
        G = self._AT @ (E / total - self._Y)
        g = G[:d].T.reshape(-1)
        return f, np.concatenate([g, G[d, 1:]]) if prob.fit_intercept else g

    def split(self, q: torch.Tensor) -> tuple[torch.Tensor, float]:
        """``(theta, tau)`` at ``q``."""
        if self.scale is None:
            return q, self.prob.tau
        return q[:-1], self.scale.transform(q[-1]).item()

    def __call__(self, q: torch.Tensor) -> tuple[float, torch.Tensor]:
        """``(U(q), grad U(q))``."""
        if self.noncentred:
            return self._noncentred(q)
        prob, nw = self.prob, self.nw
        theta = q if self.scale is None else q[:-1]
        f, g = self.log_loss(theta)
        w = theta[:nw]
        grad = self._xp.empty_like(q)
        grad[: prob.size] = g
        if self.scale is None:
            tau, ds, lp, dlp = prob.tau, 0.0, 0.0, 0.0
        else:
            tau, ds, lp, dlp = self.scale(float(q[-1]))
        if prob.prior == "gaussian":
            ss = float(w @ w)
            U = f + ss / (2.0 * tau * tau) + nw * (_HALF_LOG_2PI + math.log(tau))
            grad[:nw] += w / (tau * tau)
            dtau = -ss / tau**3 + nw / tau
        else:
            sa = float(abs(w).sum())
            U = f + sa / tau + nw * math.log(2.0 * tau)
            grad[:nw] += self._xp.sign(w) / tau
            dtau = -sa / (tau * tau) + nw / tau
        if self.scale is not None:
            U -= lp
            grad[-1] = dtau * ds - dlp
        return U, grad

    def _noncentred(self, q: torch.Tensor) -> tuple[float, torch.Tensor]:
        prob, nw = self.prob, self.nw
        tau, ds, lp, dlp = self.scale(float(q[-1]))
        z = q[:nw]
        theta = q[:-1] * 1.0  # a copy, of either array kind
        theta[:nw] = tau * z
        f, g = self.log_loss(theta)
        grad = self._xp.empty_like(q)
        grad[: prob.size] = g
        grad[:nw] = tau * g[:nw]
        if prob.prior == "gaussian":
            U = f + 0.5 * float(z @ z) + nw * _HALF_LOG_2PI - lp
            grad[:nw] += z
        else:
            U = f + float(abs(z).sum()) + nw * math.log(2.0) - lp
            grad[:nw] += self._xp.sign(z)
        grad[-1] = float(g[:nw] @ z) * ds - dlp
        return U, grad

    def pack(self, theta: torch.Tensor, tau: float | None = None) -> torch.Tensor:
        """``q`` from ``theta`` and (when sampled) ``tau``."""
        if self.scale is None:
            return theta.clone()
        u = self.scale.to_unconstrained(float(tau))
        theta = theta.clone()
        if self.noncentred:
            theta[: self.nw] /= float(tau)
        return torch.cat([theta, theta.new_tensor([u])])

    def metric_factor(self, chol: torch.Tensor, tau: float) -> torch.Tensor:
        """A factor of the metric in ``q`` from ``chol``, a factor of the covariance of ``theta``.

        The non-centred weights' rows are divided by ``tau``; ``log tau`` gets the scale of its
        conditional given the weights (:func:`tau_variance`).
        """
        if self.scale is None:
            return chol
        if self.noncentred:
            chol = chol.clone()
            chol[: self.nw] /= tau
        return torch.block_diag(chol, chol.new_tensor([[math.sqrt(tau_variance(self.prob))]]))

    def unpack_draws(self, draws: torch.Tensor) -> dict[str, torch.Tensor]:
        """Site draws (``"coef"``, ``"intercept"``, ``"tau"``) from ``q`` draws of shape (..., size).

        ``coef`` has shape (..., d) (bernoulli) or (..., d, K) (categorical); ``intercept`` (...)
        or (..., K - 1) (the free intercepts, class 0's is 0).
        """
        theta = draws[..., : self.prob.size]
        if self.scale is not None:
            tau = self.scale.transform(draws[..., -1])
            if self.noncentred:
                theta = theta.clone()
                theta[..., : self.nw] *= tau.unsqueeze(-1)
        out = site_draws(self.prob, theta)
        if self.scale is not None:
            out["tau"] = tau
        return out


def site_draws(prob: GLMProblem, theta: torch.Tensor) -> dict[str, torch.Tensor]:
    """The model's sites from ``theta`` draws of shape (..., prob.size)."""
    lead = theta.shape[:-1]
    W = theta[..., : prob.n_weights].reshape(*lead, prob.m, prob.d).transpose(-1, -2)
    out = {"coef": W[..., 0] if prob.family == "bernoulli" else W}
    if prob.fit_intercept:
        b = theta[..., prob.n_weights:]
        out["intercept"] = b[..., 0] if prob.family == "bernoulli" else b
    return out


def batched_log_density(prob: GLMProblem, theta: torch.Tensor) -> torch.Tensor:
    """``log p(y, theta)`` (``= -U``, every constant included, ``tau`` fixed) at draws ``(S, P)``.

    One batched product for the logits of every draw and row (``(S, d + 1) x (d + 1, n)`` for the
    bernoulli family, ``(S, K, d) x (n, d)`` for the categorical one).
    """
    S, nw = theta.shape[0], prob.n_weights
    if prob.family == "bernoulli":
        # theta = (w, b) is the layout of A = [X 1]: the logits in one product, and
        # sum_i y_i eta_i = theta . (A^T y) without a pass over the (S, n) logits
        A = prob.A
        ll = theta @ (A.T @ prob.y.to(A.dtype)) - softplus(theta @ A.T).sum(1)
    else:
        W = theta[:, :nw].reshape(S, prob.m, prob.d)
        eta = torch.einsum("nd,smd->snm", prob.X, W)
        if prob.fit_intercept:
            b = torch.cat([theta.new_zeros(S, 1), theta[:, nw:]], 1)
            eta = eta + b[:, None, :]
        picked = eta.gather(2, prob.y.view(1, -1, 1).expand(S, -1, 1)).sum((1, 2))
        ll = picked - torch.logsumexp(eta, -1).sum(1)
    w = theta[:, :nw]
    tau = prob.tau
    if prob.prior == "gaussian":
        return ll - (w * w).sum(1) / (2.0 * tau * tau) - nw * (_HALF_LOG_2PI + math.log(tau))
    return ll - w.abs().sum(1) / tau - nw * math.log(2.0 * tau)


class GaussianApproximation(NamedTuple):
    """The Laplace approximation ``Normal(mean, cov)`` of the posterior of ``theta`` at a MAP.

    Attributes
    ----------
    mean : torch.Tensor, shape (P,)
        The MAP.
    chol : torch.Tensor, shape (P, P)
        Lower Cholesky factor of ``cov = H^{-1}``, ``H`` the Hessian of ``U`` at the MAP.
    log_det_hessian : float
        ``log det H``.
    n_iter : int
        Steps of the MAP solver.
    converged : bool
    """

    mean: torch.Tensor
    chol: torch.Tensor
    log_det_hessian: float
    n_iter: int
    converged: bool


def gaussian_approximation(prob: GLMProblem, *, max_iter: int | None = None, tol: float = 1e-10
                           ) -> GaussianApproximation:
    """MAP of ``prob`` and the Hessian of ``U`` there (Newton / proximal Newton, closed forms).

    Gaussian prior: ``H = A^T diag(p (1 - p)) A + I / tau^2`` on the weights (the softmax's block
    form for the categorical family), exact. Laplace prior: the density has a kink at every zero of
    the sparse MAP, so the prior's curvature is taken from the gaussian of the same variance
    ``2 tau^2`` (as for regression): a metric and a start for NUTS, not an approximation offered
    as a posterior. A tiny ridge (``1e-10`` times the largest diagonal entry) on the flat
    intercepts keeps ``H`` positive definite when a class is separated.
    """
    if prob.prior == "gaussian":
        theta, n_iter, converged, _ = newton(prob, max_iter or 100, tol)
        prior_prec = 1.0 / prob.tau**2
    else:
        theta, n_iter, converged, _ = proximal_newton(prob, max_iter or 500, tol)
        prior_prec = 1.0 / (2.0 * prob.tau**2)
    _, _, probs = prob.value_grad(theta)
    H = prob.hessian(probs)
    idx = torch.arange(prob.size, device=H.device)
    H[idx[: prob.n_weights], idx[: prob.n_weights]] += prior_prec
    if prob.size > prob.n_weights:
        jitter = 1e-10 * float(H.diagonal().max())
        H[idx[prob.n_weights:], idx[prob.n_weights:]] += jitter
    L_H = torch.linalg.cholesky(H)
    inv = torch.cholesky_inverse(L_H)
    chol = torch.linalg.cholesky(0.5 * (inv + inv.T))
    log_det = 2.0 * float(torch.log(L_H.diagonal()).sum())
    return GaussianApproximation(theta, chol, log_det, n_iter, converged)


def tau_variance(prob: GLMProblem) -> float:
    """An approximate posterior variance of ``log tau`` given the weights: ``1/(2 dm)`` or ``1/(dm)``.

    ``p(tau | w) ~ tau^{-P} exp(-S/(2 tau^2))`` (gaussian) has curvature ``2P`` in ``log tau`` at its
    mode; ``tau^{-P} exp(-S_1/tau)`` (laplace) has ``P``. A metric's starting scale only.
    """
    P = max(prob.n_weights, 1)
    return 1.0 / (2.0 * P) if prob.prior == "gaussian" else 1.0 / P
