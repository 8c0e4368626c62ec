r"""Binary logistic regression by Pólya–Gamma data augmentation: an exact blocked Gibbs sampler.

The posterior of :func:`bayeswd.model.linear_regression_model` with ``family="bernoulli"``,

.. math::

    p(w, b, \tau \mid y) \propto \prod_i \frac{e^{y_i\psi_i}}{1 + e^{\psi_i}}
    \prod_j p(w_j \mid \tau)\; p(\tau),\qquad \psi = Xw + b\mathbf 1 = A\theta,

(``w_j ~ Normal(0, tau^2)`` or ``Laplace(0, tau)``, the intercept ``b`` flat, ``tau`` fixed or
sampled), is sampled exactly (no tuning, no approximation) through the identity of Polson, Scott and
Windle (2013),

.. math::

    \frac{e^{y\psi}}{1 + e^{\psi}} = \tfrac12 e^{\kappa\psi}\int_0^\infty e^{-\omega\psi^2/2}\,
    \mathrm{PG}(\omega \mid 1, 0)\,d\omega,\qquad \kappa = y - \tfrac12:

given the Pólya–Gamma variables ``omega`` the likelihood is gaussian in ``theta``. One iteration,
every chain at once (the chain is the leading axis of every tensor):

1. ``tau`` (when sampled): one slice update of ``log tau`` from ``p(tau | w)`` (the laplace mixing
   variances integrated out), then one from ``p(tau | w / tau, b, y)``, the logistic likelihood
   itself along the ray ``psi = tau X (w / tau) + b`` (``omega`` integrated out), with the weights
   rescaled with it: the interweaving of centred and non-centred forms of Yu and Meng (2011), as in
   :mod:`bayeswd.infer.gibbs`;
2. ``omega_i | theta ~ PG(1, a_i^T theta)``, ``n x chains`` draws in one call of the ``polyagamma``
   package (Devroye's exact rejection sampler);
3. laplace prior: the mixing variances of Park and Casella (2008), ``w_j | v_j ~ Normal(0, v_j)``,
   ``v_j ~ Exponential(rate 1 / (2 tau^2))``, drawn as ``1 / v_j | w_j, tau ~ InverseGaussian(mean
   1 / (tau |w_j|), shape 1 / tau^2)``
   (:func:`bayeswd.infer.gibbs.reciprocal_inverse_gaussian`);
4. ``theta | omega, v, tau ~ Normal(P^{-1} A^T kappa, P^{-1})``, ``P = A^T Omega A + D^{-1}``,
   ``D^{-1}`` the prior precision (``1 / tau^2`` or ``1 / v_j`` on the weights, 0 on the
   intercept). The flat intercept is integrated out first (``omega``-weighted centring of ``X``),
   then ``w`` is drawn by one batched Cholesky factor of the ``d x d`` matrix
   ``I + D^{1/2} X_c^T Omega X_c D^{1/2}`` when ``n > d``, or by the algorithm of Bhattacharya,
   Chakraborty and Mallick (2016) with a Cholesky factor of the ``n x n`` matrix
   ``I + Omega^{1/2} X_c D X_c^T Omega^{1/2}`` when ``n <= d``; then ``b | w, omega`` (gaussian).

The derivation and why each step leaves the posterior invariant: docs/mathematics.md, section 2.13.

References
----------
Polson, N. G., Scott, J. G. and Windle, J. (2013). Bayesian inference for logistic models using
Pólya–Gamma latent variables. *JASA* 108, 1339–1349.
Park, T. and Casella, G. (2008). The Bayesian lasso. *JASA* 103, 681–686.
Bhattacharya, A., Chakraborty, A. and Mallick, B. K. (2016). Fast sampling with Gaussian scale
mixture priors in high-dimensional regression. *Biometrika* 103, 985–991.
Yu, Y. and Meng, X.-L. (2011). To center or not to center: that is not the question. *JCGS* 20,
531–570.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import torch
from polyagamma import random_polyagamma

from bayeswd._validation import DTYPE, check_positive_int, check_seed
from bayeswd.classification.problem import GLMProblem, softplus
from bayeswd.classification.solvers import newton, proximal_newton
from bayeswd.infer.gibbs import (
    Progress,
    ThinPilot,
    _adapt_width,
    log_scale_prior,
    reciprocal_inverse_gaussian,
    slice_update,
    thin_choice,
    uses_design,
)
from bayeswd.infer.options import Gibbs
from bayeswd.infer.runtime import one_thread_if_small
from bayeswd.infer.start import MethodOutput, check_scale_prior

__all__ = ["ThetaBlock", "sample_pg_gibbs"]

#: Newton / proximal-Newton settings of the MAP every chain starts near (a start, not a result).
_START_TOL, _START_ITER = 1e-8, 200


class ThetaBlock:
    r"""Exact draws of ``theta | omega, D`` for a batch of chains (the gaussian block of the sampler).

    Given the Pólya–Gamma variables ``omega`` (shape (C, n)) and the prior variances of the weights
    ``D = diag(scale^2)`` (``scale`` of shape (C, d): ``tau`` for the gaussian prior, ``sqrt(v_j)``
    for the laplace mixture), ``theta = (w, b)`` is gaussian with precision ``A^T Omega A +
    diag(1 / scale^2, 0)`` and mean ``P^{-1} A^T kappa``. The flat intercept is integrated out by
    centring ``X`` at its ``omega``-weighted mean ``xbar = X^T omega / s``, ``s = sum omega``:

    ``w | omega ~ Normal(S X_c^T kappa, S)``, ``S^{-1} = X_c^T Omega X_c + D^{-1}``, and
    ``b | w, omega ~ Normal(sum(kappa) / s - xbar . w, 1 / s)``.

    ``n > d``: one Cholesky factor ``L L^T = I + D^{1/2} X_c^T Omega X_c D^{1/2}`` (every eigenvalue
    at least 1, however small a mixing variance gets) and ``w = D^{1/2} L^{-T} (L^{-1} D^{1/2} X_c^T
    kappa + z)``. ``n <= d``: Bhattacharya et al. (2016) with ``Phi = Omega^{1/2} X_c`` and ``alpha
    = kappa / sqrt(omega)``: ``u ~ Normal(0, D)``, ``delta ~ Normal(0, I_n)``, ``w = u + D Phi^T (Phi
    D Phi^T + I_n)^{-1} (alpha - Phi u - delta)``, ``O(n^2 d)``.

    Parameters
    ----------
    X : torch.Tensor, shape (n, d)
    kappa : torch.Tensor, shape (C, n) or (n,)
        ``y - 1/2`` (one row per chain when every chain has its own data set).
    fit_intercept : bool
    design : bool, optional
        Use the ``n x n`` algorithm; default :func:`bayeswd.infer.gibbs.uses_design` (``n <= d``).
    """

    def __init__(self, X: torch.Tensor, kappa: torch.Tensor, fit_intercept: bool,
                 design: bool | None = None) -> None:
        self.X, self.n, self.d = X, X.shape[0], X.shape[1]
        self.kappa = kappa
        self.fit_intercept = fit_intercept
        self.design = uses_design(self.n, self.d) if design is None else bool(design)
        self.kappa_sum = kappa.sum(-1)
        self.Xt_kappa = kappa @ X  # (C, d) or (d,)

    def _randn(self, shape: tuple[int, ...], gen: torch.Generator) -> torch.Tensor:
        return torch.randn(shape, generator=gen, dtype=self.X.dtype, device=self.X.device)

    def draw(self, omega: torch.Tensor, scale: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
        """One draw of ``theta`` per chain: shape (C, d + 1) with an intercept, else (C, d).

        Parameters
        ----------
        omega : torch.Tensor, shape (C, n)
            Positive Pólya–Gamma variables.
        scale : torch.Tensor, shape (C, d)
            Prior sd of each weight given the mixing variables (``tau`` or ``sqrt(v_j)``).
        gen : torch.Generator
        """
        C, X = omega.shape[0], self.X
        if self.fit_intercept:
            s = omega.sum(-1)  # (C,)
            xbar = (omega @ X) / s.unsqueeze(-1)  # (C, d)
            Xc = X - xbar.unsqueeze(-2)  # (C, n, d)
            c = self.Xt_kappa - xbar * self.kappa_sum.unsqueeze(-1)  # X_c^T kappa, (C, d)
        else:
            Xc, c = X, self.Xt_kappa.expand(C, self.d)
        if self.design:
            sq = omega.sqrt()
            Phi = sq.unsqueeze(-1) * Xc  # (C, n, d)
            D = scale * scale
            M = (Phi * D.unsqueeze(-2)) @ Phi.mT
            M.diagonal(dim1=-2, dim2=-1).add_(1.0)
            L = torch.linalg.cholesky(M)
            u = scale * self._randn((C, self.d), gen)
            rhs = self.kappa / sq - (Phi @ u.unsqueeze(-1)).squeeze(-1) - self._randn((C, self.n), gen)
            r = torch.cholesky_solve(rhs.unsqueeze(-1), L)
            w = u + D * (Phi.mT @ r).squeeze(-1)
        else:
            G = (Xc * omega.unsqueeze(-1)).mT @ Xc  # X_c^T Omega X_c, (C, d, d)
            M = scale.unsqueeze(-1) * G * scale.unsqueeze(-2)
            M.diagonal(dim1=-2, dim2=-1).add_(1.0)
            L = torch.linalg.cholesky(M)
            half = torch.linalg.solve_triangular(L, (scale * c).unsqueeze(-1), upper=False)
            t = half + self._randn((C, self.d), gen).unsqueeze(-1)
            w = scale * torch.linalg.solve_triangular(L.mT, t, upper=True).squeeze(-1)
        if not self.fit_intercept:
            return w
        b = self.kappa_sum / s - (xbar * w).sum(-1) + self._randn((C,), gen) / s.sqrt()
        return torch.cat([w, b.unsqueeze(-1)], -1)


def _check(prob: GLMProblem, tau_prior: Any, options: Any) -> None:
    if not isinstance(prob, GLMProblem):
        raise TypeError(f"`prob` must be a GLMProblem; got {type(prob).__name__}.")
    if prob.family != "bernoulli":
        raise ValueError(
            "the Polya-Gamma Gibbs sampler covers the bernoulli family (binary logistic regression); "
            f"got family={prob.family!r}: use method='nuts'."
        )
    if prob.prior not in ("gaussian", "laplace"):
        raise ValueError(f"`prior` must be 'gaussian' or 'laplace'; got {prob.prior!r}.")
    if not isinstance(options, Gibbs):
        raise TypeError(f"`options` must be a bayeswd.infer.Gibbs; got {type(options).__name__}.")
    if tau_prior is not None:
        if not isinstance(tau_prior, torch.distributions.Distribution):
            raise TypeError(
                f"`tau_prior` must be a torch Distribution on the positive reals or None; got "
                f"{type(tau_prior).__name__}."
            )
        check_scale_prior(tau_prior, "tau_prior")


def _start(prob: GLMProblem, C: int, gen: torch.Generator) -> torch.Tensor:
    """The MAP at ``prob.tau`` plus one approximate posterior sd of gaussian noise per chain.

    The sd is that of the gaussian approximation at the MAP: the inverse of the log loss's Hessian
    plus the prior precision ``1 / tau^2`` (gaussian) or ``1 / (2 tau^2)`` (laplace, the precision
    of its variance ``2 tau^2``) on the weights.
    """
    solver = newton if prob.prior == "gaussian" else proximal_newton
    theta, *_ = solver(prob, _START_ITER, _START_TOL)
    _, _, probs = prob.value_grad(theta)
    H = prob.hessian(probs)
    H.diagonal()[: prob.d].add_(1.0 / (prob.tau**2 * (1.0 if prob.prior == "gaussian" else 2.0)))
    L, info = torch.linalg.cholesky_ex(H)
    if int(info) == 0:
        sd = torch.cholesky_inverse(L).diagonal().sqrt()
    else:  # numerically singular (a separated intercept): start at the MAP itself
        sd = torch.zeros_like(theta)
    noise = torch.randn((C, prob.size), generator=gen, dtype=theta.dtype, device=theta.device)
    return theta + sd * noise


def _log_density(prob: GLMProblem, theta: torch.Tensor, y: torch.Tensor, tau: torch.Tensor,
                 tau_prior: torch.distributions.Distribution | None) -> torch.Tensor:
    """The model's joint log density ``log p(y, coef, intercept[, tau])`` per chain, shape (C,).

    The same number as :func:`bayeswd.model.log_density` (every normalising constant kept; the flat
    intercept contributes 0).
    """
    d = prob.d
    eta = theta @ prob.A.T  # (C, n)
    loglik = (y * eta - softplus(eta)).sum(-1)
    w = theta[:, :d]
    if prob.prior == "gaussian":
        logp = -0.5 * d * math.log(2 * math.pi) - d * tau.log() - (w * w).sum(-1) / (2 * tau * tau)
    else:
        logp = -d * (2 * tau).log() - w.abs().sum(-1) / tau
    if tau_prior is not None:
        logp = logp + tau_prior.log_prob(tau)
    return loglik + logp


def _run(prob: GLMProblem, tau_prior: torch.distributions.Distribution | None, options: Gibbs,
         num_samples: int, num_chains: int, seed: int, progress: Progress | None = None, *,
         targets: torch.Tensor | None = None,
         start: tuple[torch.Tensor, np.ndarray] | None = None, interweave: bool = True,
         ) -> tuple[dict[str, torch.Tensor], dict[str, np.ndarray], dict[str, Any]]:
    """The sampler's loop, every chain at once: ``(samples, sample_stats, info)``.

    ``targets`` (shape (num_chains, n), 0/1) gives each chain its own data set in place of
    ``prob.y`` (the test suite's SBC runs hundreds of simulated data sets as the chains of one
    run). ``start`` is ``(theta (C, size), log tau (C,))`` (the second ignored when ``tau`` is
    fixed); default :func:`_start` and ``log(prob.tau)``. ``interweave=False`` skips the second
    update of ``tau`` (for measurements). ``options.thin = None``: chosen at the end of the
    warm-up (:class:`bayeswd.infer.gibbs.ThinPilot`).
    """
    X, d, C = prob.X, prob.d, num_chains
    dev = X.device
    gen = torch.Generator(device=dev).manual_seed(int(seed))
    rng_slice = np.random.default_rng([int(seed), 1])
    rng_pg = np.random.default_rng([int(seed), 2])
    y = (prob.y.to(DTYPE) if targets is None else targets.to(DTYPE)).expand(C, prob.X.shape[0])
    y = y.to(dev).contiguous()
    kappa = y - 0.5
    block = ThetaBlock(X, kappa, prob.fit_intercept)
    A_T = prob.A.T.contiguous()
    laplace = prob.prior == "laplace"
    log_tau = np.full(C, math.log(prob.tau))
    if start is None:
        theta = _start(prob, C, gen)
    else:
        theta = start[0].to(device=dev, dtype=DTYPE).clone()
        if tau_prior is not None:
            log_tau = np.asarray(start[1], dtype=np.float64).copy()
    lp_tau = None if tau_prior is None else log_scale_prior(tau_prior)

    def as_tensor(u: np.ndarray) -> torch.Tensor:
        return torch.as_tensor(np.exp(u), dtype=DTYPE).to(dev)

    tau = as_tensor(log_tau)
    width = 1.0  # slice width in log tau, adapted during warm-up
    warm, thin = options.num_warmup, options.thin
    hist = np.empty((warm, C))
    adapt_at = {25 * 2**k for k in range(40) if 25 * 2**k <= warm}
    out = {"theta": torch.empty((C, num_samples, prob.size), dtype=DTYPE, device=dev)}
    if tau_prior is not None:
        out["tau"] = torch.empty((C, num_samples), dtype=DTYPE, device=dev)
    lp = torch.empty((C, num_samples), dtype=DTYPE, device=dev)
    omega_np = np.empty((C, prob.X.shape[0]))

    y_np = y.cpu().numpy()
    pilot = None
    if thin is None:
        pilot = ThinPilot(warm, C, prob.size + int(tau_prior is not None))
        if not pilot.active:
            thin, pilot = 1, None
    it = 0
    while thin is None or it < warm + num_samples * thin:
        w = theta[:, :d]
        eta_np = None  # the logits at theta, when an update already has them
        if lp_tau is not None:
            # tau | w (the mixing variances integrated out), one slice update of log tau
            if laplace:
                l1 = w.abs().sum(-1).cpu().numpy()

                def centred(u: np.ndarray, l1: np.ndarray = l1) -> np.ndarray:
                    return lp_tau(u) - d * u - l1 * np.exp(-u)
            else:
                l2 = (w * w).sum(-1).cpu().numpy()

                def centred(u: np.ndarray, l2: np.ndarray = l2) -> np.ndarray:
                    return lp_tau(u) - d * u - 0.5 * l2 * np.exp(-2.0 * u)

            with np.errstate(over="ignore"):  # exp at the +-LOG_BOUND ends: -inf, outside
                log_tau = slice_update(centred, log_tau, width, rng_slice)
            if interweave:
                # tau | w / tau, b, y (omega integrated out): the logistic likelihood along the
                # ray eta = e^u X (w / tau) + b, O(n) per point
                a = ((w / as_tensor(log_tau).unsqueeze(-1)) @ A_T[:d]).cpu().numpy()  # (C, n)
                b0 = theta[:, d:].cpu().numpy() if prob.fit_intercept else np.zeros((C, 1))

                def ancillary(u: np.ndarray, a: np.ndarray = a, b0: np.ndarray = b0) -> np.ndarray:
                    eta = np.exp(u)[:, None] * a + b0
                    return lp_tau(u) + (y_np * eta - np.logaddexp(0.0, eta)).sum(-1)

                with np.errstate(over="ignore", invalid="ignore"):  # +-inf, NaN: outside the slice
                    moved = slice_update(ancillary, log_tau, width, rng_slice)
                theta = theta.clone()
                theta[:, :d] *= as_tensor(moved - log_tau).unsqueeze(-1)
                log_tau = moved
                w = theta[:, :d]
                eta_np = np.exp(log_tau)[:, None] * a + b0  # the logits at the new theta
            tau = as_tensor(log_tau)
        # omega | theta: Polya-Gamma, one vectorised call over chains x rows
        if eta_np is None:
            eta_np = (theta @ A_T).cpu().numpy()
        random_polyagamma(1.0, eta_np, out=omega_np, random_state=rng_pg)
        omega = torch.as_tensor(omega_np, dtype=DTYPE).to(dev)
        tcol = tau.unsqueeze(-1)
        if laplace:  # v | w, tau: 1 / v_j ~ InverseGaussian(1 / (tau |w_j|), 1 / tau^2)
            scale = reciprocal_inverse_gaussian(tcol * w.abs(), 1.0 / (tcol * tcol), gen).sqrt()
        else:
            scale = tcol.expand(C, d)
        theta = block.draw(omega, scale, gen)
        if it < warm:
            hist[it] = log_tau
            if lp_tau is not None and it + 1 in adapt_at:
                width = _adapt_width(hist, it + 1, width)
            if pilot is not None and pilot.wants(it):
                logs = [log_tau] if tau_prior is not None else []
                chosen = pilot.observe(it, np.column_stack([theta.cpu().numpy(), *logs]))
                if chosen is not None:
                    thin = chosen
                    if progress is not None:
                        progress.set_thin(thin)
        else:
            j, r = divmod(it - warm, thin)
            if r == thin - 1:
                out["theta"][:, j] = theta
                if tau_prior is not None:
                    out["tau"][:, j] = tau
                lp[:, j] = _log_density(prob, theta, y, tau, tau_prior)
        if progress is not None:
            progress.tick()
        it += 1
    info: dict[str, Any] = {
        "num_warmup": warm,
        "thin": thin,
        "thin_choice": thin_choice(options.thin, pilot),
        "augmentation": "Polya-Gamma (Polson, Scott and Windle 2013)",
        "theta_draw": ("Bhattacharya et al. 2016, n x n Cholesky" if block.design
                       else "d x d Cholesky"),
        "start": "MAP + gaussian noise" if start is None else "given",
    }
    if laplace:
        info["parameterisation"] = "laplace prior as a scale mixture of normals (Park and Casella 2008)"
    if tau_prior is not None:
        info["tau_update"] = ("slice on log tau given coef" + (", then given coef / tau (interweaved, "
                              "omega integrated out)" if interweave else ""))
        info["slice_width_log_tau"] = width
    samples = {k: v.cpu() for k, v in out.items()}
    return samples, {"lp": lp.cpu().numpy()}, info


def sample_pg_gibbs(
    prob: GLMProblem, *, tau_prior: torch.distributions.Distribution | None, options: Gibbs,
    num_samples: int, num_chains: int, seed: int, progress_bar: bool = False,
) -> MethodOutput:
    r"""Draws of the posterior of binary logistic regression by Pólya–Gamma Gibbs sampling.

    Exact (the chains leave the posterior invariant with no approximation and no tuning) for the
    gaussian and the laplace prior on the weights, the flat intercept, and ``tau`` fixed at
    ``prob.tau`` or sampled under ``tau_prior``. The algorithm is in the module docstring and in
    docs/mathematics.md, section 2.13.

    Parameters
    ----------
    prob : GLMProblem
        A ``family="bernoulli"`` problem (``y`` of 0 and 1). Its ``tau`` is the fixed prior scale,
        or with ``tau_prior`` the starting value of ``tau`` (and the scale of the MAP the chains
        start near).
    tau_prior : torch.distributions.Distribution or None
        ``None`` fixes ``tau = prob.tau``; a scalar distribution on the positive reals (e.g.
        ``HalfNormal``) samples ``tau`` under it (slice updates of ``log tau``).
    options : bayeswd.infer.Gibbs
        ``num_warmup`` iterations discarded, then every ``thin``-th iteration kept (``thin=None``:
        chosen from the warm-up, as for the regression sampler).
    num_samples : int
        Draws kept per chain.
    num_chains : int
        Chains, advanced together as batched tensor operations.
    seed : int
        Seeds one ``torch.Generator`` (normals, inverse gaussians, start) and two numpy
        ``Generator`` streams (Pólya–Gamma draws, slice updates): equal seeds give equal draws (on
        one device and torch version). The draws of a chain depend on ``num_chains``.
    progress_bar : bool, default False
        A tqdm bar over the iterations.

    Returns
    -------
    MethodOutput
        ``samples["theta"]``: shape ``(num_chains, num_samples, prob.size)``, float64 on the CPU,
        in :class:`GLMProblem`'s packing (weights, then the intercept); ``samples["tau"]``:
        ``(num_chains, num_samples)``, only with ``tau_prior``. ``sample_stats["lp"]``: the
        model's joint log density ``log p(y, coef, intercept[, tau])`` at each kept draw, numpy
        ``(num_chains, num_samples)``. ``info``: the settings and the algorithm's choices
        (``"theta_draw"``: the ``d x d`` Cholesky path when ``n > d``, Bhattacharya et al.'s
        ``n x n`` one when ``n <= d``; ``"slice_width_log_tau"``).

    Raises
    ------
    ValueError
        For the categorical family (``"use method='nuts'"``) or a ``tau_prior`` not on the positive
        reals.
    TypeError
        For ``options`` other than :class:`bayeswd.infer.Gibbs` or a ``tau_prior`` that is not a
        distribution.

    Notes
    -----
    Each chain starts at the MAP at ``prob.tau`` (Newton for the gaussian prior, proximal Newton for
    the laplace prior) plus one sd of the gaussian approximation there as seeded noise, and at
    ``tau = prob.tau``. The cost of an iteration is ``n C`` Pólya–Gamma draws plus
    ``O(C (n d^2 + d^3))`` (``n > d``) or ``O(C n^2 d)`` (``n <= d``). On the CPU, problems of up to
    :data:`bayeswd.infer.runtime.ONE_THREAD_MAX` numbers per iteration run on one torch thread.
    """
    _check(prob, tau_prior, options)
    num_samples = check_positive_int(num_samples, "num_samples")
    num_chains = check_positive_int(num_chains, "num_chains")
    seed = check_seed(seed)
    y = prob.y
    if not bool(((y == 0) | (y == 1)).all()):
        raise ValueError("`prob.y` must hold the class codes 0 and 1 for the bernoulli family.")
    progress = Progress(progress_bar, options.num_warmup, num_samples, options.thin,
                        f"Polya-Gamma Gibbs ({num_chains} chains)")
    try:
        with one_thread_if_small(prob.X.device, num_chains * prob.size):
            samples, stats, info = _run(prob, tau_prior, options, num_samples, num_chains, seed,
                                        progress if progress_bar else None)
    finally:
        progress.close()
    return MethodOutput(samples=samples, sample_stats=stats, info=info)
