"""Where inference starts: the default hyperpriors and the gaussian approximation of the posterior.

Every sampler and SVI start from the same place: the MAP (or, for sampled scales, the evidence
mode) and the conjugate gaussian posterior at the starting scales, which also preconditions
bayeswd's NUTS and initialises the SVI guides.
"""

from __future__ import annotations

import math
import warnings
from typing import Any, NamedTuple

import numpy as np
import pyro.distributions as dist
import torch
from torch.distributions import constraints

from bayeswd._validation import DTYPE
from bayeswd.evidence import gaussian_log_marginal_from_stats
from bayeswd.exact import gaussian_posterior_from_stats
from bayeswd.exceptions import ConvergenceWarning
from bayeswd.stats import SufficientStats

__all__ = [
    "InferenceProblem",
    "MethodOutput",
    "check_scale_prior",
    "default_hyperpriors",
    "gaussian_start",
    "rms_column_sd",
    "site_sds",
]

class InferenceProblem(NamedTuple):
    """The data and the model of one :func:`bayeswd.sample_posterior` call, validated.

    Attributes
    ----------
    X, y : torch.Tensor
        Float64 data on the device inference runs on, shapes (n, d) and (n,).
    stats : SufficientStats
        The one pass of :func:`bayeswd.stats.sufficient_statistics` over ``X``.
    prior : {"gaussian", "laplace"}
    sigma, tau : float or torch.distributions.Distribution
        A fixed value, or the prior of a sampled scale (defaults already filled in).
    fit_intercept : bool
    hyperpriors : dict of str to str
        Descriptions of the priors of the sampled scales.
    """

    X: torch.Tensor
    y: torch.Tensor
    stats: SufficientStats
    prior: str
    sigma: Any
    tau: Any
    fit_intercept: bool
    hyperpriors: dict[str, str]

    @property
    def model_kwargs(self) -> dict[str, Any]:
        """Keyword arguments of :func:`bayeswd.model.linear_regression_model` for this problem."""
        return {"prior": self.prior, "sigma": self.sigma, "tau": self.tau,
                "fit_intercept": self.fit_intercept}

    @property
    def sampled_scales(self) -> tuple[str, ...]:
        """Names of the scales that are sampled (``"sigma"``, ``"tau"``), in that order."""
        return tuple(nm for nm, v in (("sigma", self.sigma), ("tau", self.tau))
                     if isinstance(v, torch.distributions.Distribution))

    @property
    def num_latent(self) -> int:
        """Number of unconstrained latent coordinates: weights, intercept, sampled scales."""
        return self.X.shape[1] + int(self.fit_intercept) + len(self.sampled_scales)


class MethodOutput(NamedTuple):
    """What an inference method returns to :func:`bayeswd.sample_posterior`.

    Attributes
    ----------
    samples : dict of str to torch.Tensor
        Draws of each site with leading ``(chain, draw)`` axes, on the inference device.
    sample_stats : dict of str to numpy.ndarray
        Per-draw statistics, shape (chain, draw) (empty for SVI and exact draws).
    info : dict
        Settings and facts of the run, kept in :attr:`bayeswd.Posterior.settings`.
    elbo : numpy.ndarray or None
        SVI only: the ELBO at every step.
    converged : bool
        SVI: its stopping rule was met; ``True`` for the other methods.
    """

    samples: dict[str, torch.Tensor]
    sample_stats: dict[str, np.ndarray]
    info: dict[str, Any]
    elbo: np.ndarray | None = None
    converged: bool = True


def check_scale_prior(prior: torch.distributions.Distribution, name: str) -> None:
    """A prior for ``sigma`` or ``tau`` must be scalar and live on the positive reals."""
    if prior.batch_shape != torch.Size() or prior.event_shape != torch.Size():
        raise ValueError(
            f"`{name}` as a prior must be a scalar distribution (batch and event shape ()); got "
            f"{type(prior).__name__} with batch shape {tuple(prior.batch_shape)}."
        )
    support = prior.support
    # HalfNormal, HalfCauchy, Gamma, Exponential: support [0, inf) (greater_than_eq(0)) in torch;
    # LogNormal, InverseGamma: (0, inf) (greater_than(0)). Both are priors on a positive scale.
    bounded_below = (constraints.greater_than, constraints.greater_than_eq)
    if not (support is constraints.positive or isinstance(support, bounded_below)
            and float(support.lower_bound) >= 0.0):
        raise ValueError(
            f"`{name}` as a prior must have positive support (e.g. HalfNormal, HalfCauchy, "
            f"LogNormal, Gamma); got {type(prior).__name__} with support {support}."
        )


def default_hyperpriors(
    X: torch.Tensor, y: torch.Tensor, sigma: Any, tau: Any, stats: SufficientStats | None = None
) -> tuple[Any, Any, dict[str, str]]:
    """Replace ``None`` by the documented weakly informative priors.

    ``sigma ~ HalfNormal(scale = sd(y))`` and ``tau ~ HalfNormal(scale = sd(y) / s_x)`` with
    ``s_x`` the root mean column variance of ``X``; a given Distribution is kept. Returns
    ``(sigma, tau, descriptions)``, the descriptions keyed by the sampled scales' names.
    """
    sd_y = float(y.std()) if y.numel() > 1 else 0.0
    if not math.isfinite(sd_y) or sd_y <= 0.0:
        sd_y = 1.0
    sd_x = rms_column_sd(X, stats)
    hyper: dict[str, str] = {}
    if sigma is None:
        sigma = dist.HalfNormal(torch.tensor(sd_y, dtype=DTYPE, device=X.device))
        hyper["sigma"] = f"HalfNormal(scale={sd_y:.6g})"
    elif isinstance(sigma, torch.distributions.Distribution):
        hyper["sigma"] = repr(sigma)
    if tau is None:
        scale = sd_y / sd_x
        tau = dist.HalfNormal(torch.tensor(scale, dtype=DTYPE, device=X.device))
        hyper["tau"] = f"HalfNormal(scale={scale:.6g})"
    elif isinstance(tau, torch.distributions.Distribution):
        hyper["tau"] = repr(tau)
    return sigma, tau, hyper


def _scale_start(value: Any, fallback: float) -> float:
    """A starting value for a scale: the fixed value, else the prior's median-ish ``fallback``."""
    return float(value) if not isinstance(value, torch.distributions.Distribution) else fallback


def rms_column_sd(X: torch.Tensor, stats: SufficientStats | None = None) -> float:
    """Root mean column variance of ``X`` (from the statistics when they hold the column sums)."""
    n = X.shape[0]
    if stats is not None and stats.fit_intercept and n > 1:
        d = stats.d
        colsum = stats.gram[:d, d]
        var = (stats.gram.diagonal()[:d] - colsum * colsum / n) / (n - 1)
    else:
        var = X.var(0)
    sd_x = float(var.clamp(min=0.0).mean().sqrt())
    return sd_x if math.isfinite(sd_x) and sd_x > 0.0 else 1.0


def _evidence_mode(
    stats: SufficientStats, sigma: Any, tau: torch.distributions.Distribution, sig0: float, tau0: float
) -> tuple[float, float]:
    """Mode of ``p(log sigma, log tau | y)`` of the gaussian model (weights integrated out).

    The centre of the ``(sigma, tau)`` marginal, from the closed-form evidence plus the log
    hyperprior densities and log Jacobians: a starting point and a preconditioner for NUTS on the
    hierarchical model (a fixed ``sigma`` stays fixed). Falls back to the given start on failure.
    """
    from scipy.optimize import minimize

    free_sigma = isinstance(sigma, torch.distributions.Distribution)

    def neg_log_post(z: np.ndarray) -> float:
        ls, lt = (z[0], z[1]) if free_sigma else (math.log(sig0), z[0])
        s_, t_ = math.exp(ls), math.exp(lt)
        try:
            val = gaussian_log_marginal_from_stats(stats, sigma=s_, tau=t_)
        except RuntimeError:  # a Cholesky failure far out: not the mode
            return math.inf
        val += float(tau.log_prob(torch.tensor(t_, dtype=DTYPE))) + lt
        if free_sigma:
            val += float(sigma.log_prob(torch.tensor(s_, dtype=DTYPE))) + ls
        return -val if math.isfinite(val) else math.inf

    z0 = np.array([math.log(sig0), math.log(tau0)] if free_sigma else [math.log(tau0)])
    res = minimize(neg_log_post, z0, method="Nelder-Mead", options={"xatol": 1e-3, "fatol": 1e-6})
    if not np.all(np.isfinite(res.x)) or not math.isfinite(res.fun) or res.fun > neg_log_post(z0):
        return sig0, tau0
    return (math.exp(res.x[0]), math.exp(res.x[1])) if free_sigma else (sig0, math.exp(res.x[0]))


def gaussian_start(problem: InferenceProblem) -> tuple[dict[str, torch.Tensor], dict[str, torch.Tensor]]:
    """Starting point (MAP) and gaussian approximation of every latent site of ``problem``.

    Returns ``(values, cov)``: constrained starting values, and the covariance of the gaussian
    approximation in the *unconstrained* coordinates: ``"theta"`` for ``(coef, intercept)``
    (and its inverse ``"theta_precision"``)
    (the exact conjugate covariance at the starting scales; for the laplace prior the gaussian
    prior with the same variance ``2 tau^2``) and a variance for ``log sigma`` and ``log tau``.
    """
    X, y, stats, prior = problem.X, problem.y, problem.stats, problem.prior
    sigma, tau, fit_intercept = problem.sigma, problem.tau, problem.fit_intercept
    n, d = X.shape
    sd_y = float(y.std()) if n > 1 else 1.0
    sd_y = sd_y if math.isfinite(sd_y) and sd_y > 0 else 1.0
    sd_x = rms_column_sd(X, stats)
    sig0 = _scale_start(sigma, 0.5 * sd_y)
    tau0 = _scale_start(tau, 0.5 * sd_y / sd_x)
    if prior == "gaussian" and isinstance(tau, torch.distributions.Distribution):
        sig0, tau0 = _evidence_mode(stats, sigma, tau, sig0, tau0)
    var_tau = tau0**2 if prior == "gaussian" else 2.0 * tau0**2
    approx = gaussian_posterior_from_stats(stats, sigma=sig0, tau=math.sqrt(var_tau))
    theta = approx.mean
    if isinstance(sigma, torch.distributions.Distribution):
        # one refinement of sigma from the residuals of the first fit, floored (n < d fits well)
        t = theta.clone()
        if fit_intercept:
            t[d] -= stats.shift
        ss = stats.yty - 2.0 * float(t @ stats.aty) + float(t @ stats.gram @ t)
        sig0 = max(math.sqrt(max(ss, 0.0) / n), 0.05 * sd_y)
        approx = gaussian_posterior_from_stats(stats, sigma=sig0, tau=math.sqrt(var_tau))
        theta = approx.mean
    if prior == "laplace" and not isinstance(sigma, torch.distributions.Distribution) and not (
        isinstance(tau, torch.distributions.Distribution)
    ):
        from bayeswd.map import map_fit  # the MAP of the laplace model is sparse, not ridge

        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)  # only a starting point
            fit = map_fit(X, y, prior="laplace", sigma=sig0, tau=tau0,
                          fit_intercept=fit_intercept, device=X.device)
        theta = torch.cat([fit.coef.to(X.device), X.new_tensor([fit.intercept])])[: theta.numel()]
    values = {"coef": theta[:d].clone()}
    if fit_intercept:
        values["intercept"] = theta[d].clone()
    cov = {"theta": approx.cov, "theta_precision": approx.precision}
    if isinstance(sigma, torch.distributions.Distribution):
        values["sigma"] = X.new_tensor(sig0)
        cov["sigma"] = X.new_tensor(1.0 / (2.0 * n))  # sd of log sigma ~ 1/sqrt(2n)
    if isinstance(tau, torch.distributions.Distribution):
        values["tau"] = X.new_tensor(tau0)
        cov["tau"] = X.new_tensor(1.0 / (2.0 * d))
    return values, cov


def site_sds(cov: dict[str, torch.Tensor], d: int, fit_intercept: bool) -> dict[str, torch.Tensor]:
    """Marginal sds of every latent site (unconstrained) under the gaussian approximation ``cov``."""
    sd_theta = cov["theta"].diagonal().sqrt()
    sds = {"coef": sd_theta[:d]}
    if fit_intercept:
        sds["intercept"] = sd_theta[d]
    for name in ("sigma", "tau"):
        if name in cov:
            sds[name] = cov[name].sqrt()
    return sds

