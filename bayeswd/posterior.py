"""Full posteriors of the bayeswd model: NUTS, SVI and the exact conjugate posterior.

Every method answers the same question about :func:`bayeswd.model.linear_regression_model`:
NUTS and SVI run on the Pyro model itself (through the potential energy Pyro derives from it),
``method="exact"`` uses the closed form of :mod:`bayeswd.exact`, which exists for the gaussian
prior with ``sigma`` and ``tau`` fixed. The result is a :class:`Posterior` with draws laid out
``(chain, draw, ...)``.
"""

from __future__ import annotations

import math
import time
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, NamedTuple

import arviz as az
import numpy as np
import pandas as pd
import pyro
import pyro.distributions as dist
import torch
from pyro.infer import JitTrace_ELBO, Trace_ELBO
from pyro.infer.autoguide import (
    AutoLowRankMultivariateNormal,
    AutoMultivariateNormal,
    AutoNormal,
)
from pyro.infer.autoguide.initialization import init_to_value
from pyro.infer.mcmc import NUTS
from pyro.infer.mcmc.util import initialize_model
from pyro.util import get_rng_state, set_rng_state
from torch.distributions import biject_to, constraints

from bayeswd._arviz import build_inference_data, posterior_dims
from bayeswd._nuts import (
    CollapsedLaplacePotential,
    LaplaceMixturePotential,
    LinearPotential,
    one_thread_if_small,
    run_chain,
)
from bayeswd._validation import (
    DTYPE,
    as_design,
    as_target,
    check_bool,
    check_choice,
    check_positive,
    check_positive_int,
    check_seed,
    resolve_device,
)
from bayeswd.conventions import PRIORS
from bayeswd.exact import gaussian_posterior_from_stats
from bayeswd.exceptions import ConvergenceWarning, DiagnosticWarning
from bayeswd.model import linear_regression_model
from bayeswd.stats import SufficientStats, sufficient_statistics

__all__ = [
    "FULLRANK_MAX_PARAMS",
    "METHODS",
    "NUTS_BACKENDS",
    "SVI_GUIDES",
    "Posterior",
    "PredictiveInterval",
    "sample_posterior",
]

METHODS = ("nuts", "svi", "exact")
NUTS_BACKENDS = ("bayeswd", "pyro")
SVI_GUIDES = ("auto", "fullrank", "lowrank", "meanfield")
#: ``guide="auto"`` is full-rank up to this many latent coordinates, low-rank above it.
FULLRANK_MAX_PARAMS = 500
_LOWRANK_RANK = 20
_RHAT_MAX = 1.01
_ESS_PER_CHAIN_MIN = 100


class PredictiveInterval(NamedTuple):
    """Posterior (predictive) mean and an equal-tailed credible interval at each new row.

    Attributes
    ----------
    mean : torch.Tensor, shape (m,)
        Posterior mean of ``x . w + b`` (the noise has mean zero, so it is the same with noise).
    lower, upper : torch.Tensor, shape (m,)
        ``(1 - prob)/2`` and ``(1 + prob)/2`` quantiles over the draws.
    """

    mean: torch.Tensor
    lower: torch.Tensor
    upper: torch.Tensor


@dataclass(frozen=True, eq=False)  # fields hold tensors: identity, not ==
class Posterior:
    """Draws from the posterior of the bayeswd regression model, with diagnostics and settings.

    The model is ``y_i ~ Normal(x_i . w + b, sigma^2)`` with a gaussian (``w_j ~ Normal(0,
    tau^2)``) or laplace (``w_j ~ Laplace(0, tau)``) prior and a flat prior on ``b``
    (:func:`bayeswd.model.linear_regression_model`).

    Attributes
    ----------
    samples : dict of str to torch.Tensor
        CPU float64 draws with leading ``(chain, draw)`` axes: ``"coef"`` (chain, draw, d),
        ``"intercept"`` (chain, draw) when fitted, ``"sigma"`` and ``"tau"`` (chain, draw) when
        they were sampled.
    method : {"nuts", "svi", "exact"}
    prior : {"gaussian", "laplace"}
    sigma, tau : float or None
        The fixed values used; ``None`` where the parameter was sampled under ``hyperpriors``.
    hyperpriors : dict of str to str
        Description of the prior of each sampled scale (e.g. ``{"sigma": "HalfNormal(scale=0.14)"}``).
    fit_intercept : bool
    feature_names : tuple of str
        Names of the columns of ``X`` (the ``feature`` coordinate of the ArviZ output).
    X, y : torch.Tensor
        Training data on the CPU (used by ``to_inference_data``' log-likelihood and predictive):
        a copy, or for data of more than 10 million numbers a view of the caller's array (no
        second copy of a large ``X``).
    diagnostics : dict
        ``"rhat"``, ``"ess_bulk"``, ``"ess_tail"``: dicts of variable name to numpy array (one value
        per scalar parameter), computed with ArviZ (rank-normalised split R-hat, bulk and tail
        ESS). For NUTS also ``"num_divergent"`` (int), ``"max_tree_depth_hits"`` (int) and
        ``"step_size"`` (per chain).
    sample_stats : dict of str to numpy.ndarray
        Per-draw statistics, shape (chain, draw): for NUTS ``diverging``, ``tree_depth``,
        ``step_size``, ``acceptance_rate`` (and ``n_steps``, the leapfrog steps of the draw, with
        ``backend="bayeswd"``). Empty for SVI and exact draws.
    wall_time : float
        Seconds spent inferring (warm-up, compilation, optimisation and drawing included).
    seed : int
    device : str
        Where inference ran.
    elbo : numpy.ndarray or None
        SVI only: the ELBO (``-loss``) at every optimisation step.
    guide : str or None
        SVI only: ``"fullrank"``, ``"lowrank"`` or ``"meanfield"``.
    converged : bool
        SVI: the ELBO stopping rule was met. NUTS and exact: always ``True`` (see diagnostics).
    settings : dict
        Remaining settings (num_samples, num_warmup, num_chains, jit, ...).
    """

    samples: dict[str, torch.Tensor]
    method: str
    prior: str
    sigma: float | None
    tau: float | None
    hyperpriors: dict[str, str]
    fit_intercept: bool
    feature_names: tuple[str, ...]
    X: torch.Tensor
    y: torch.Tensor
    diagnostics: dict[str, Any]
    sample_stats: dict[str, np.ndarray]
    wall_time: float
    seed: int
    device: str
    elbo: np.ndarray | None = None
    guide: str | None = None
    converged: bool = True
    settings: dict[str, Any] = field(default_factory=dict)

    @property
    def num_chains(self) -> int:
        """Number of chains (leading axis of every draw)."""
        return int(self.samples["coef"].shape[0])

    @property
    def num_draws(self) -> int:
        """Draws per chain (second axis)."""
        return int(self.samples["coef"].shape[1])

    def _flat(self, name: str) -> torch.Tensor:
        value = self.samples[name]
        return value.reshape(-1, *value.shape[2:])

    def _sigma_draws(self) -> torch.Tensor:
        if "sigma" in self.samples:
            return self._flat("sigma")
        return torch.full((self.num_chains * self.num_draws,), float(self.sigma), dtype=DTYPE)

    def _mean_draws(self, X: torch.Tensor) -> torch.Tensor:
        """``x . w + b`` for every draw: shape (chain * draw, m)."""
        mean = self._flat("coef") @ X.T
        if self.fit_intercept:
            mean = mean + self._flat("intercept").unsqueeze(-1)
        return mean

    def predict(
        self, X_new: Any, *, prob: float = 0.9, include_noise: bool = False, seed: int = 0
    ) -> PredictiveInterval:
        """Posterior mean and equal-tailed credible interval of the regression at new rows.

        Without noise the interval is over ``mu(x) = x . w + b``; with ``include_noise=True`` it
        is the posterior predictive interval of a new ``y = mu(x) + sigma * eps``.

        Parameters
        ----------
        X_new : array_like, shape (m, d)
            New rows (numpy, torch or pandas).
        prob : float, default 0.9
            Probability mass of the interval, in (0, 1).
        include_noise : bool, default False
            Add observation noise ``Normal(0, sigma^2)`` (sigma from each draw when sampled).
        seed : int, default 0
            Seed of the noise draws (a private generator).

        Returns
        -------
        PredictiveInterval
            ``mean``, ``lower``, ``upper``, each a CPU float64 tensor of shape (m,).
        """
        Xn, _ = as_design(X_new, name="X_new", min_rows=1)
        if Xn.shape[1] != len(self.feature_names):
            raise ValueError(
                f"`X_new` must have {len(self.feature_names)} columns like the training X; "
                f"got {Xn.shape[1]}."
            )
        prob = check_positive(prob, "prob")
        if prob >= 1.0:
            raise ValueError(f"`prob` must lie in (0, 1); got {prob!r}.")
        draws = self._mean_draws(Xn)
        mean = draws.mean(0)
        if include_noise:
            gen = torch.Generator().manual_seed(check_seed(seed))
            eps = torch.randn(draws.shape, generator=gen, dtype=DTYPE)
            draws = draws + self._sigma_draws().unsqueeze(-1) * eps
        q = torch.tensor([(1.0 - prob) / 2.0, (1.0 + prob) / 2.0], dtype=DTYPE)
        lower, upper = torch.quantile(draws, q, dim=0)
        return PredictiveInterval(mean=mean, lower=lower, upper=upper)

    def log_likelihood(self) -> torch.Tensor:
        """Pointwise log-likelihood ``log Normal(y_i | x_i . w + b, sigma^2)``, shape (chain, draw, n)."""
        mean = self._mean_draws(self.X)
        sig = self._sigma_draws().unsqueeze(-1)
        ll = dist.Normal(mean, sig).log_prob(self.y)
        return ll.reshape(self.num_chains, self.num_draws, -1)

    def _posterior_numpy(self) -> dict[str, np.ndarray]:
        return {k: v.numpy() for k, v in self.samples.items()}

    def summary(self, **kwargs: Any) -> pd.DataFrame:
        """ArviZ summary (mean, sd, HDI, MCSE, ESS, R-hat) of every parameter.

        Parameters
        ----------
        **kwargs
            Passed to :func:`arviz.summary` (e.g. ``hdi_prob=0.9``, ``kind="stats"``).

        Returns
        -------
        pandas.DataFrame
            One row per scalar parameter, ``coef[<feature name>]`` for the weights.
        """
        dims, coords = posterior_dims(self.feature_names)
        data = az.from_dict(posterior=self._posterior_numpy(), coords=coords, dims=dims)
        return az.summary(data, **kwargs)

    def to_inference_data(self, *, seed: int | None = None) -> az.InferenceData:
        """ArviZ InferenceData built with :func:`arviz.from_dict`.

        Groups: ``posterior`` (``coef`` over the ``feature`` coordinate, ``intercept``, ``sigma``
        and ``tau`` when sampled), ``posterior_predictive`` (``obs``: one replicated data set per
        draw), ``log_likelihood`` (``obs``, pointwise per observation: ``az.loo`` works),
        ``observed_data`` (``obs``), ``sample_stats`` (NUTS: ``diverging``, ``tree_depth``,
        ``step_size``, ``acceptance_rate``; omitted for SVI and exact draws, which have no
        per-draw statistics). The settings (method, prior, fixed sigma and tau or ``"none"``,
        hyperpriors, wall time, seed, device, guide, ...) are the attributes of every group;
        for SVI the posterior group also carries ``elbo_final`` and ``elbo_steps``.

        Parameters
        ----------
        seed : int, optional
            Seed of the replicated data (default: the posterior's seed).

        Returns
        -------
        arviz.InferenceData
        """
        gen = torch.Generator().manual_seed(self.seed if seed is None else check_seed(seed))
        mean = self._mean_draws(self.X)
        y_rep = mean + self._sigma_draws().unsqueeze(-1) * torch.randn(
            mean.shape, generator=gen, dtype=DTYPE
        )
        shape = (self.num_chains, self.num_draws, -1)
        attrs: dict[str, Any] = {
            "inference_library": "bayeswd",
            "method": self.method,
            "prior": self.prior,
            "sigma": self.sigma,
            "tau": self.tau,
            "fit_intercept": self.fit_intercept,
            "wall_time": self.wall_time,
            "seed": self.seed,
            "device": self.device,
            "guide": self.guide,
            "converged": self.converged,
        }
        attrs.update({f"hyperprior_{k}": v for k, v in self.hyperpriors.items()})
        attrs.update({k: v for k, v in self.settings.items()})
        idata = build_inference_data(
            posterior=self._posterior_numpy(),
            posterior_predictive={"obs": y_rep.reshape(shape).numpy()},
            log_likelihood={"obs": self.log_likelihood().numpy()},
            observed_data={"obs": self.y.numpy()},
            sample_stats=dict(self.sample_stats),
            feature_names=self.feature_names,
            attrs=attrs,
        )
        if self.elbo is not None:
            idata.posterior.attrs["elbo_final"] = float(self.elbo[-1])
            idata.posterior.attrs["elbo_steps"] = int(self.elbo.shape[0])
        return idata


# --------------------------------------------------------------------------------------------
# helpers


def _check_scale_prior(prior: torch.distributions.Distribution, name: str) -> None:
    """A prior for ``sigma`` or ``tau`` must be scalar and live on the positive reals."""
    if prior.batch_shape != torch.Size() or prior.event_shape != torch.Size():
        raise ValueError(
            f"`{name}` as a prior must be a scalar distribution (batch and event shape ()); got "
            f"{type(prior).__name__} with batch shape {tuple(prior.batch_shape)}."
        )
    support = prior.support
    if not (support is constraints.positive or isinstance(support, constraints.greater_than)
            and float(support.lower_bound) >= 0.0):
        raise ValueError(
            f"`{name}` as a prior must have positive support (e.g. HalfNormal, HalfCauchy, "
            f"LogNormal, Gamma); got {type(prior).__name__} with support {support}."
        )


#: Data up to this many numbers is copied into the result; larger data is kept by reference.
_COPY_MAX_ELEMENTS = 10_000_000


def _own(t: torch.Tensor) -> torch.Tensor:
    """The result's CPU copy of the data, or a view for data over ``_COPY_MAX_ELEMENTS``.

    Copies keep the result independent of later changes to the caller's array; a large ``X``
    (the 800 MB tall problem) is not duplicated.
    """
    t = t.detach().to("cpu")
    return t.clone() if t.numel() <= _COPY_MAX_ELEMENTS else t


def _chain_seed(seed: int, chain: int) -> int:
    """Independent, reproducible seed for chain ``chain`` of a run seeded with ``seed``."""
    return int(np.random.SeedSequence([int(seed), int(chain)]).generate_state(1)[0])


@contextmanager
def _private_rng(device: torch.device, seed: int) -> Iterator[None]:
    """Seed torch's (and Pyro's) global generators inside, restore the caller's state after."""
    devices = list(range(torch.cuda.device_count())) if torch.cuda.is_available() else []
    state = get_rng_state()  # torch, numpy and python's random: pyro.set_rng_seed sets all three
    with torch.random.fork_rng(devices=devices):
        try:
            pyro.set_rng_seed(int(seed) % (2**32))
            yield
        finally:
            set_rng_state(state)


@contextmanager
def _quiet_pyro() -> Iterator[None]:
    """Silence the tracer warnings that ``torch.jit.trace`` raises on Pyro's potential energy."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", category=torch.jit.TracerWarning)
        # torch >= 2.10 deprecates torch.jit.trace, which Pyro's jit_compile still uses
        warnings.filterwarnings("ignore", message=".*torch.jit.trace.*", category=DeprecationWarning)
        yield


def _default_hyperpriors(
    X: torch.Tensor, y: torch.Tensor, sigma: Any, tau: Any, stats: SufficientStats | None = None
) -> tuple[Any, Any, dict[str, str]]:
    """Replace ``None`` by the documented weakly informative priors (see ``sample_posterior``)."""
    sd_y = float(y.std()) if y.numel() > 1 else 0.0
    if not math.isfinite(sd_y) or sd_y <= 0.0:
        sd_y = 1.0
    sd_x = _rms_column_sd(X, stats)
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


def _rms_column_sd(X: torch.Tensor, stats: SufficientStats | None = None) -> float:
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

    from bayeswd.evidence import gaussian_log_marginal_from_stats

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


def _gaussian_start(
    X: torch.Tensor, y: torch.Tensor, prior: str, sigma: Any, tau: Any, fit_intercept: bool,
    stats: SufficientStats | None = None,
) -> tuple[dict[str, torch.Tensor], dict[str, torch.Tensor]]:
    """Starting point (MAP) and gaussian approximation of every latent site.

    Returns ``(values, cov)``: constrained starting values, and the covariance of the gaussian
    approximation in the *unconstrained* coordinates: ``"theta"`` for ``(coef, intercept)``
    (and its inverse ``"theta_precision"``)
    (the exact conjugate covariance at the starting scales; for the laplace prior the gaussian
    prior with the same variance ``2 tau^2``) and a variance for ``log sigma`` and ``log tau``.
    ``stats`` (:func:`bayeswd.stats.sufficient_statistics`) saves a pass over ``X``.
    """
    if stats is None:
        stats = sufficient_statistics(X, y, fit_intercept)
    n, d = X.shape
    sd_y = float(y.std()) if n > 1 else 1.0
    sd_y = sd_y if math.isfinite(sd_y) and sd_y > 0 else 1.0
    sd_x = _rms_column_sd(X, stats)
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


def _site_sds(cov: dict[str, torch.Tensor], d: int, fit_intercept: bool) -> dict[str, torch.Tensor]:
    sd_theta = cov["theta"].diagonal().sqrt()
    sds = {"coef": sd_theta[:d]}
    if fit_intercept:
        sds["intercept"] = sd_theta[d]
    for name in ("sigma", "tau"):
        if name in cov:
            sds[name] = cov[name].sqrt()
    return sds


# --------------------------------------------------------------------------------------------
# NUTS


class _RecordingNUTS(NUTS):
    """Pyro's NUTS, recording the depth of each trajectory (top-level doublings)."""

    def sample(self, params: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        self._depth_now = 0
        return super().sample(params)

    def _build_tree(self, z, r, z_grads, log_slice, direction, tree_depth, energy_current):  # noqa: D102
        self._depth_now = max(getattr(self, "_depth_now", 0), int(tree_depth) + 1)
        return super()._build_tree(z, r, z_grads, log_slice, direction, tree_depth, energy_current)


def _potential(
    model_kwargs: dict[str, Any], X: torch.Tensor, y: torch.Tensor,
    init: dict[str, torch.Tensor], jit: bool,
) -> tuple[dict[str, torch.Tensor], Callable, dict[str, Any], bool]:
    """Potential energy of the Pyro model in unconstrained coordinates (traced once if ``jit``)."""
    from pyro.ops.integrator import potential_grad

    def make(jit_compile: bool) -> tuple[dict[str, torch.Tensor], Callable, dict[str, Any]]:
        params, pe, transforms, _ = initialize_model(
            linear_regression_model,
            model_args=(X, y),
            model_kwargs=model_kwargs,
            max_plate_nesting=1,
            jit_compile=jit_compile,
            skip_jit_warnings=True,
            init_strategy=init_to_value(values=init),
        )
        return params, pe, transforms

    if jit:
        try:
            params, pe, transforms = make(True)
            with _quiet_pyro():
                potential_grad(pe, {k: v.detach() for k, v in params.items()})
            return params, pe, transforms, True
        except Exception:  # noqa: BLE001  tracing can fail on exotic priors; plain autograd works
            pass
    params, pe, transforms = make(False)
    return params, pe, transforms, False


def _run_nuts(
    model_kwargs: dict[str, Any], X: torch.Tensor, y: torch.Tensor,
    init: dict[str, torch.Tensor], sds: dict[str, torch.Tensor], *,
    num_samples: int, num_warmup: int, num_chains: int, seed: int, jit: bool,
    progress_bar: bool, target_accept_prob: float, max_tree_depth: int, dense_mass: bool,
) -> tuple[dict[str, torch.Tensor], dict[str, np.ndarray], dict[str, Any]]:
    params0, pe, transforms, jit_used = _potential(model_kwargs, X, y, init, jit)
    names = list(params0)
    draws: dict[str, list[torch.Tensor]] = {k: [] for k in names}
    stats: dict[str, list[np.ndarray]] = {
        "diverging": [], "tree_depth": [], "step_size": [], "acceptance_rate": []
    }
    for chain in range(num_chains):
        cseed = _chain_seed(seed, chain)
        with _private_rng(X.device, cseed), _quiet_pyro():
            gen = torch.Generator(device=X.device).manual_seed(cseed)
            # over-dispersed start: the MAP plus one approximate posterior sd of noise
            z = {
                k: (v + sds[k] * torch.randn(v.shape, generator=gen, dtype=DTYPE, device=X.device)
                    ).detach()
                for k, v in params0.items()
            }
            kernel = _RecordingNUTS(
                potential_fn=pe, target_accept_prob=target_accept_prob,
                max_tree_depth=max_tree_depth, full_mass=dense_mass,
            )
            kernel.initial_params = z
            kernel.setup(num_warmup)
            chain_draws: dict[str, list[torch.Tensor]] = {k: [] for k in names}
            div, depth, step, acc = [], [], [], []
            total = num_warmup + num_samples
            iterator: Any = range(total)
            if progress_bar:
                from tqdm.auto import tqdm

                iterator = tqdm(iterator, desc=f"NUTS chain {chain + 1}/{num_chains}")
            for t in iterator:
                n_div = len(kernel._divergences)
                acc_before = kernel._mean_accept_prob
                z = kernel.sample(z)
                if t >= num_warmup:
                    n = t - num_warmup + 1
                    for k in names:
                        chain_draws[k].append(z[k].detach())
                    div.append(len(kernel._divergences) > n_div)
                    depth.append(kernel._depth_now)
                    step.append(float(kernel.step_size))
                    acc.append(acc_before + n * (kernel._mean_accept_prob - acc_before))
            for k in names:
                draws[k].append(torch.stack(chain_draws[k]))
            stats["diverging"].append(np.asarray(div, dtype=bool))
            stats["tree_depth"].append(np.asarray(depth, dtype=np.int64))
            stats["step_size"].append(np.asarray(step, dtype=np.float64))
            stats["acceptance_rate"].append(np.clip(np.asarray(acc, dtype=np.float64), 0, 1))
            kernel.cleanup()
    samples = {}
    for k in names:
        unconstrained = torch.stack(draws[k])
        tr = transforms.get(k)  # Pyro's transforms map constrained -> unconstrained
        samples[k] = (tr.inv(unconstrained) if tr is not None else unconstrained).detach()
    info = {"backend": "pyro", "jit": jit_used, "max_tree_depth": max_tree_depth,
            "target_accept_prob": target_accept_prob, "dense_mass": int(dense_mass)}
    return samples, {k: np.stack(v) for k, v in stats.items()}, info


def _base_factor(cov: dict[str, torch.Tensor], pot: LinearPotential) -> torch.Tensor:
    """Cholesky factor of the gaussian approximation's covariance, in the potential's layout.

    For the laplace scale mixture the weights' coordinates ``a`` and ``u = log v`` (and for the
    collapsed form ``u``) start with unit scales instead (``a ~ Normal(0, 1)`` a priori; the
    dense factor of the ``w``-space approximation was measured to cut the steps per draw in half
    but the ESS by four).
    """
    theta = cov["theta"][: pot.k, : pot.k]
    if isinstance(pot, (LaplaceMixturePotential, CollapsedLaplacePotential)):
        theta = torch.eye(pot.k, dtype=theta.dtype, device=theta.device)
        if pot.fit_intercept:
            theta[pot.d, pot.d] = cov["theta"][pot.d, pot.d]
    blocks = [theta]
    for name, idx in (("sigma", pot.i_sigma), ("tau", pot.i_tau)):
        if idx is not None:
            blocks.append(cov[name].reshape(1, 1))
    if isinstance(pot, LaplaceMixturePotential):
        blocks.append(torch.eye(pot.d, dtype=theta.dtype, device=theta.device))
    return torch.linalg.cholesky(torch.block_diag(*blocks))


def _run_bayeswd_nuts(
    model_kwargs: dict[str, Any], X: torch.Tensor, y: torch.Tensor,
    init: dict[str, torch.Tensor], cov: dict[str, torch.Tensor], suff: SufficientStats, *,
    num_samples: int, num_warmup: int, num_chains: int, seed: int, progress_bar: bool,
    target_accept_prob: float, max_tree_depth: int,
) -> tuple[dict[str, torch.Tensor], dict[str, np.ndarray], dict[str, Any]]:
    """NUTS chains of :mod:`bayeswd._nuts` on the model's potential written in torch."""
    # The gaussian model with tau sampled stays centred: on the seed problem the non-centred
    # form (w = tau a) was measured 2-3x slower per effective draw of tau, with either a unit
    # or the evidence-mode preconditioner, than the centred one started at the evidence mode.
    # The laplace model: with n <= d the weights are integrated out (NUTS on the mixing scales,
    # then exact conditional draws of the weights); with n > d the K = X V X' + sigma^2 I of
    # that form is the larger matrix, and NUTS runs on the non-centred scale mixture instead.
    kind: type[LinearPotential] = LinearPotential
    if model_kwargs["prior"] == "laplace":
        kind = CollapsedLaplacePotential if X.shape[0] <= X.shape[1] else LaplaceMixturePotential
    pot = kind(X, y, stats=suff, **model_kwargs)
    mu = pot.pack(init)
    L = _base_factor(cov, pot)
    chains, stats = [], {"diverging": [], "tree_depth": [], "step_size": [], "acceptance_rate": [],
                         "n_steps": []}
    bar = None
    if progress_bar:
        from tqdm.auto import tqdm

        bar = tqdm(total=num_chains * (num_warmup + num_samples), desc="NUTS")
    try:
        for chain in range(num_chains):
            cseed = _chain_seed(seed, chain)
            gen = torch.Generator(device=X.device).manual_seed(cseed)
            # over-dispersed start: the MAP plus one approximate posterior sd of seeded noise
            q0 = mu + L @ torch.randn(mu.shape, generator=gen, dtype=DTYPE, device=X.device)
            if bar is not None:
                bar.set_description(f"NUTS chain {chain + 1}/{num_chains}")
            res = run_chain(
                pot, q0, mu, L, num_warmup=num_warmup, num_samples=num_samples, seed=cseed,
                target_accept_prob=target_accept_prob, max_tree_depth=max_tree_depth,
                progress=None if bar is None else (lambda: bar.update(1)),
            )
            draws = pot.unpack(res.draws)
            if isinstance(pot, CollapsedLaplacePotential):
                del draws["v"]
                cgen = torch.Generator(device=X.device).manual_seed(_chain_seed(seed, chain) + 1)
                draws["coef"] = pot.conditional_coef(res.draws, cgen)
            chains.append(draws)
            stats["diverging"].append(res.diverging)
            stats["tree_depth"].append(res.tree_depth)
            stats["step_size"].append(res.step_size)
            stats["acceptance_rate"].append(res.acceptance_rate)
            stats["n_steps"].append(res.num_steps)
    finally:
        if bar is not None:
            bar.close()
    samples = {k: torch.stack([c[k] for c in chains]).detach() for k in chains[0]}
    info = {"backend": "bayeswd", "max_tree_depth": max_tree_depth,
            "target_accept_prob": target_accept_prob,
            "likelihood": "sufficient statistics" if pot.use_stats else "design matrix",
            "parameterisation": {LaplaceMixturePotential: "scale mixture",
                                 CollapsedLaplacePotential: "scale mixture, weights integrated out"
                                 }.get(kind, "direct")}
    return samples, {k: np.stack(v) for k, v in stats.items()}, info


# --------------------------------------------------------------------------------------------
# SVI


def _make_guide(name: str, model: Callable, init: dict[str, torch.Tensor], p: int) -> Any:
    loc_fn = init_to_value(values=init)
    if name == "meanfield":
        return AutoNormal(model, init_loc_fn=loc_fn)
    if name == "fullrank":
        return AutoMultivariateNormal(model, init_loc_fn=loc_fn)
    return AutoLowRankMultivariateNormal(model, init_loc_fn=loc_fn, rank=min(_LOWRANK_RANK, p))


def _latent_sites(guide: Any) -> list[tuple[str, dict[str, Any]]]:
    return [
        (name, site) for name, site in guide.prototype_trace.iter_stochastic_nodes()
        if not site["is_observed"]
    ]


def _unconstrained_cov(
    guide: Any, cov: dict[str, torch.Tensor], d: int, fit_intercept: bool
) -> torch.Tensor:
    """Joint covariance of the guide's latent vector (sites in the guide's order)."""
    blocks: list[tuple[str, torch.Tensor]] = []
    for name, _site in _latent_sites(guide):
        if name == "coef":
            idx = slice(0, d)
        elif name == "intercept":
            idx = slice(d, d + 1)
        else:
            blocks.append((name, cov[name].reshape(1, 1)))
            continue
        blocks.append((name, cov["theta"][idx, :][:, idx]))
    sizes = [b.shape[0] for _, b in blocks]
    out = cov["theta"].new_zeros(sum(sizes), sum(sizes))
    # cross-covariance between coef and intercept is kept; scales are treated as independent
    offs = np.cumsum([0, *sizes])
    order = [name for name, _ in blocks]
    for i, (_, block) in enumerate(blocks):
        out[offs[i]:offs[i + 1], offs[i]:offs[i + 1]] = block
    if "coef" in order and "intercept" in order:
        i, j = order.index("coef"), order.index("intercept")
        out[offs[i]:offs[i + 1], offs[j]:offs[j + 1]] = cov["theta"][:d, d:d + 1]
        out[offs[j]:offs[j + 1], offs[i]:offs[i + 1]] = cov["theta"][d:d + 1, :d]
    return out


def _init_guide_scales(
    guide: Any, name: str, cov: dict[str, torch.Tensor], d: int, fit_intercept: bool
) -> None:
    """Start the guide's scale at the gaussian approximation (exact for the gaussian prior)."""
    if name == "meanfield":
        # the best mean-field fit (in KL(q || p)) to a gaussian with precision P has the
        # conditional sds 1 / sqrt(P_ii), not the marginal ones
        cond = {**cov, "theta": torch.diag(1.0 / cov["theta_precision"].diagonal())}
        sds = _site_sds(cond, d, fit_intercept)
        for site, _ in _latent_sites(guide):
            setattr(guide.scales, site, sds[site].reshape(getattr(guide.scales, site).shape))
        return
    S = _unconstrained_cov(guide, cov, d, fit_intercept)
    if name == "fullrank":
        L = torch.linalg.cholesky(S)
        diag = L.diagonal()
        guide.scale = diag.clone()
        guide.scale_tril = L / diag.unsqueeze(-1)
        return
    rank = guide.cov_factor.shape[-1]
    evals, evecs = torch.linalg.eigh(S)
    top_vals, top_vecs = evals[-rank:].clamp(min=0.0), evecs[:, -rank:]
    W = top_vecs * (0.5 * top_vals).sqrt()
    rest = (S.diagonal() - (W * W).sum(-1)).clamp(min=0.0)
    with torch.no_grad():  # a plain nn.Parameter in this guide
        guide.cov_factor.copy_(W)
    guide.scale = torch.maximum(rest, 0.1 * S.diagonal()).sqrt()


def _guide_draws(guide: Any, name: str, num: int) -> dict[str, torch.Tensor]:
    """``num`` independent draws of every latent site from the fitted guide (constrained)."""
    out: dict[str, torch.Tensor] = {}
    with torch.no_grad():
        if name == "meanfield":
            for site_name, site in _latent_sites(guide):
                loc, scale = guide._get_loc_and_scale(site_name)
                z = loc + scale * torch.randn((num, *loc.shape), dtype=loc.dtype, device=loc.device)
                out[site_name] = biject_to(site["fn"].support)(z)
            return out
        latent = guide.get_posterior().sample((num,))
        for site, value in guide._unpack_latent(latent):
            out[site["name"]] = biject_to(site["fn"].support)(value)
    return out


#: SVI ``lr`` and ``window`` when ``None``: (gaussian posterior, anything else)
_SVI_LR = (0.002, 0.05)
_SVI_WINDOW = (100, 500)


def _svi_starts_at_gaussian_answer(model_kwargs: dict[str, Any], cov: dict[str, torch.Tensor]) -> bool:
    """Gaussian prior with ``sigma`` and ``tau`` fixed: the posterior is the conjugate gaussian.

    The full-rank guide then starts at the exact posterior and the mean-field one at its best
    mean-field fit, so SVI only has to stay put (the low-rank start is a truncation of it, kept in
    this class so that its behaviour does not change). Every other posterior (laplace prior,
    sampled scales) is not gaussian, and the guide starts at a gaussian approximation of it.
    """
    return model_kwargs["prior"] == "gaussian" and "sigma" not in cov and "tau" not in cov


def _run_svi(
    model_kwargs: dict[str, Any], X: torch.Tensor, y: torch.Tensor,
    init: dict[str, torch.Tensor], cov: dict[str, torch.Tensor], *, guide_name: str,
    num_draws: int, seed: int, lr: float | None, max_steps: int, window: int | None,
    rtol: float, num_decays: int, num_particles: int, progress_bar: bool, jit: bool = True,
) -> tuple[dict[str, torch.Tensor], np.ndarray, bool, dict[str, Any]]:
    d = X.shape[1]
    fit_intercept = bool(model_kwargs["fit_intercept"])
    # None: a small rate and short windows where the guide only has to stay put, a larger rate
    # and longer windows (the stopping rule sees progress through the gradient noise) where it
    # has to travel from the gaussian approximation (see sample_posterior's docstring)
    far = not _svi_starts_at_gaussian_answer(model_kwargs, cov)
    lr = _SVI_LR[far] if lr is None else lr
    window = _SVI_WINDOW[far] if window is None else window

    def model(X_: torch.Tensor, y_: torch.Tensor) -> torch.Tensor:
        return linear_regression_model(X_, y_, **model_kwargs)

    p = d + int(fit_intercept) + sum(k in cov for k in ("sigma", "tau"))
    with pyro.get_param_store().scope(), _private_rng(X.device, seed), _quiet_pyro(), \
            one_thread_if_small(X.device, p):
        guide = _make_guide(guide_name, model, init, p)
        guide(X, y)  # creates the parameters
        _init_guide_scales(guide, guide_name, cov, d, fit_intercept)
        # Adam moves each coordinate by about ``lr`` per step: the locations (and low-rank
        # factors) live on the scale of the posterior sds, so their rate is lr * that scale.
        loc_scale = float(_site_sds(cov, d, fit_intercept)["coef"].median())
        scaled = ("loc", "cov_factor")
        # The p(p-1)/2 free entries of the unit triangular factor each random-walk under the
        # gradient noise, and a row's variance sums p of them: their rate is lr / sqrt(p).
        lr_of = {
            nm: lr * (loc_scale if any(s in nm for s in scaled) else 1.0)
            / (math.sqrt(p) if "scale_tril" in nm else 1.0)
            for nm, _ in guide.named_parameters()
        }
        groups = [{"params": [prm], "lr": lr_of[nm]} for nm, prm in guide.named_parameters()]
        optimiser = torch.optim.Adam(groups)
        plain_elbo = Trace_ELBO(num_particles=num_particles, vectorize_particles=False)
        # the ELBO traced once with torch.jit: ~1.6x faster steps on the seed problem; plain
        # Trace_ELBO if tracing fails (the first step tells)
        elbo_fn = JitTrace_ELBO(num_particles=num_particles, vectorize_particles=False,
                                ignore_jit_warnings=True) if jit else plain_elbo
        jit_used = jit
        losses: list[float] = []
        decays, converged, averaging = 0, False, False
        avg: dict[str, torch.Tensor] = {}
        n_avg = 0
        bar = None
        if progress_bar:
            from tqdm.auto import tqdm

            bar = tqdm(total=max_steps, desc=f"SVI ({guide_name})")
        for step in range(1, max_steps + 1):
            optimiser.zero_grad()
            if step == 1 and jit_used:
                try:
                    loss = elbo_fn.differentiable_loss(model, guide, X, y)
                except Exception:  # noqa: BLE001  tracing can fail on exotic priors
                    elbo_fn, jit_used = plain_elbo, False
                    loss = elbo_fn.differentiable_loss(model, guide, X, y)
            else:
                loss = elbo_fn.differentiable_loss(model, guide, X, y)
            loss.backward()
            optimiser.step()
            losses.append(float(loss.detach()))
            if bar is not None:
                bar.update(1)
                if step % 50 == 0:
                    bar.set_postfix(elbo=f"{-np.mean(losses[-50:]):.4g}", lr_decays=decays)
            if step >= 2 * window and step % window == 0:
                cur = np.asarray(losses[-window:])
                prev = np.asarray(losses[-2 * window:-window])
                se = math.sqrt((cur.var() + prev.var()) / window)
                improvement = float(prev.mean() - cur.mean())
                if averaging:  # the final window has been averaged: stop
                    converged = True
                    break
                if improvement <= max(rtol * abs(float(cur.mean())), 2.0 * se):
                    decays += 1  # plateau of the smoothed ELBO: halve every learning rate
                    for g in optimiser.param_groups:
                        g["lr"] *= 0.5
                    if decays >= num_decays:
                        # one last window at the final rate, averaging the iterates (Polyak-
                        # Ruppert): removes the jitter the gradient noise leaves in them
                        averaging = True
                        avg = {nm: torch.zeros_like(prm) for nm, prm in guide.named_parameters()}
                        n_avg = 0
            if averaging:
                with torch.no_grad():
                    for nm, prm in guide.named_parameters():
                        avg[nm].add_(prm)
                n_avg += 1
        if averaging and n_avg:
            with torch.no_grad():
                for nm, prm in guide.named_parameters():
                    prm.copy_(avg[nm] / n_avg)
        if bar is not None:
            bar.close()
        draws = _guide_draws(guide, guide_name, num_draws)
    info = {"guide": guide_name, "svi_steps": len(losses), "lr": lr, "svi_window": window,
            "svi_rtol": rtol, "num_particles": num_particles, "jit": jit_used}
    return draws, -np.asarray(losses), converged, info


# --------------------------------------------------------------------------------------------
# diagnostics


def _diagnose(samples: dict[str, torch.Tensor]) -> dict[str, Any]:
    data = az.convert_to_dataset({k: v.numpy() for k, v in samples.items()})
    with warnings.catch_warnings():
        # arviz warns (RuntimeWarning) on degenerate chains, e.g. a single draw; the numbers say it
        warnings.simplefilter("ignore", RuntimeWarning)
        rhat = az.rhat(data)
        ess_bulk = az.ess(data, method="bulk")
        ess_tail = az.ess(data, method="tail")
    return {
        "rhat": {k: np.atleast_1d(rhat[k].values) for k in samples},
        "ess_bulk": {k: np.atleast_1d(ess_bulk[k].values) for k in samples},
        "ess_tail": {k: np.atleast_1d(ess_tail[k].values) for k in samples},
    }


def _warn_diagnostics(diag: dict[str, Any], stats: dict[str, np.ndarray], num_chains: int) -> None:
    """Warn (stacklevel: the caller of ``sample_posterior``) about untrustworthy NUTS runs."""
    stack = 3  # warnings.warn here <- sample_posterior <- the user's call
    problems = []
    rhat_max = max(float(np.max(v)) for v in diag["rhat"].values()) if num_chains > 1 else 1.0
    if not rhat_max <= _RHAT_MAX:
        problems.append(f"max R-hat {rhat_max:.4f} > {_RHAT_MAX}")
    ess = np.concatenate([np.ravel(v) for v in diag["ess_bulk"].values()])
    if np.isnan(ess).any():
        problems.append("bulk ESS undefined for some parameters (constant or non-finite draws)")
    ess_min = float(ess[~np.isnan(ess)].min()) if (~np.isnan(ess)).any() else float("nan")
    if ess_min == ess_min and not ess_min >= _ESS_PER_CHAIN_MIN * num_chains:
        problems.append(
            f"min bulk ESS {ess_min:.0f} < {_ESS_PER_CHAIN_MIN} per chain ({num_chains} chains)"
        )
    n_div = int(stats["diverging"].sum())
    if n_div:
        problems.append(f"{n_div} divergent transition(s) after warm-up")
    if problems:
        warnings.warn(
            "NUTS diagnostics: " + "; ".join(problems)
            + ". Run more warm-up and draws, or raise target_accept_prob.",
            DiagnosticWarning,
            stacklevel=stack,
        )


# --------------------------------------------------------------------------------------------
# public entry point


def sample_posterior(
    X: Any,
    y: Any,
    *,
    prior: str = "gaussian",
    sigma: float | torch.distributions.Distribution | None = None,
    tau: float | torch.distributions.Distribution | None = None,
    method: str = "nuts",
    num_samples: int = 1000,
    num_warmup: int = 1000,
    num_chains: int = 4,
    seed: int = 0,
    device: str | torch.device = "auto",
    fit_intercept: bool = True,
    progress_bar: bool = True,
    backend: str = "bayeswd",
    jit_compile: bool = True,
    target_accept_prob: float = 0.8,
    max_tree_depth: int = 10,
    dense_mass: bool | None = None,
    guide: str = "auto",
    lr: float | None = None,
    max_steps: int = 20_000,
    window: int | None = None,
    rtol: float = 1e-4,
    num_decays: int = 4,
    num_particles: int = 1,
) -> Posterior:
    r"""Draw from the posterior of Bayesian linear regression with a gaussian or laplace prior.

    The model (:func:`bayeswd.model.linear_regression_model`) is

    .. math::

        y_i \sim \mathcal N(x_i^\top w + b, \sigma^2),\quad
        w_j \sim \mathcal N(0, \tau^2)\ \text{(gaussian)}\ \text{or}\
        \mathrm{Laplace}(0, \tau)\ \text{(density } e^{-|w|/\tau}/(2\tau)),\quad p(b) \propto 1,

    the posterior whose mode is the weight-decay / ridge (or lasso) solution of
    :func:`bayeswd.map_fit` with ``lam = sigma^2 / tau^2`` (``2 sigma^2 / tau`` for laplace).

    Parameters
    ----------
    X : array_like, shape (n, d)
        numpy array, torch tensor or pandas DataFrame (column names become the ``feature``
        coordinate).
    y : array_like, shape (n,)
    prior : {"gaussian", "laplace"}, default "gaussian"
    sigma : float, Distribution or None, default None
        Noise sd. A number fixes it. ``None`` samples it under the weakly informative default
        ``sigma ~ HalfNormal(scale = sd(y))`` (the noise cannot exceed the spread of ``y`` by much);
        a ``torch.distributions.Distribution`` on the positive reals is used as its prior.
    tau : float, Distribution or None, default None
        Prior scale of the weights. A number fixes it. ``None`` is full Bayes over the
        regularisation strength: ``tau ~ HalfNormal(scale = sd(y) / s_x)`` with ``s_x`` the root
        mean column variance of ``X`` (the weight one feature needs to explain all of ``y``);
        a Distribution is used as its prior.
    method : {"nuts", "svi", "exact"}, default "nuts"
        ``"nuts"``: the no-U-turn sampler on the model's potential energy (``backend`` says whose;
        chains run one after the other in this process, each with its own seed, started at the
        MAP plus one approximate posterior sd of seeded noise).
        ``"svi"``: stochastic variational inference with a Pyro autoguide (``guide``) maximising
        the ELBO ``E_q[log p(y, w, b, ...) - log q(w, b, ...)]``. ``"exact"``: independent draws
        from the conjugate gaussian posterior (gaussian prior, ``sigma`` and ``tau`` fixed only;
        see :func:`bayeswd.exact.gaussian_posterior`).
    num_samples : int, default 1000
        Draws per chain kept (for SVI and exact: independent draws per "chain").
    num_warmup : int, default 1000
        NUTS warm-up (adaptation) iterations per chain, discarded.
    num_chains : int, default 4
        Number of chains; several make R-hat meaningful.
    seed : int, default 0
        Seeds everything (chain ``c`` uses a seed derived from ``(seed, c)``). The caller's global
        torch and Pyro random state and Pyro param store are left as they were.
    device : {"auto", "cpu", "cuda"} or torch.device, default "auto"
        Where inference runs (``"auto"``: CUDA when available). Draws are returned on the CPU.
    fit_intercept : bool, default True
        Sample a flat-prior intercept; ``False`` fixes it at 0.
    progress_bar : bool, default True
        Show a tqdm progress bar (NUTS, SVI).
    backend : {"bayeswd", "pyro"}, default "bayeswd"
        NUTS implementation. ``"bayeswd"``: bayeswd's own multinomial NUTS (Stan's algorithm) on
        the model's potential written in torch, equal to the one Pyro derives from the model
        (tested in every configuration), on the sufficient statistics ``X^T X``, ``X^T y`` when
        ``n > d``; preconditioned by the gaussian approximation of the posterior (a dense factor)
        times a diagonal adapted in Stan's warm-up windows. The laplace prior runs as its scale
        mixture of normals (the density's kink at 0 would force tiny steps): with ``n <= d`` the
        weights are integrated out, NUTS samples the mixing scales and the weights are drawn
        exactly given them (``settings["parameterisation"]`` says which form ran). Many times
        faster than ``"pyro"`` (see ``docs/benchmarks.md``). ``"pyro"``: ``pyro.infer.NUTS`` on
        the Pyro model itself (``dense_mass`` applies to it only).
    jit_compile : bool, default True
        NUTS with ``backend="pyro"``: trace the potential energy with ``torch.jit`` once and
        reuse it in every chain. SVI: trace the ELBO once (``pyro.infer.JitTrace_ELBO``). Both
        fall back to plain autograd if tracing fails; ``settings["jit"]`` says which ran.
    target_accept_prob : float, default 0.8
        NUTS step-size adaptation target.
    max_tree_depth : int, default 10
        NUTS maximum number of trajectory doublings.
    dense_mass : bool, optional
        NUTS (``backend="pyro"``): adapt a dense mass matrix (learns correlations; costs
        ``O(p^2)`` a step and needs enough warm-up to estimate ``p^2 / 2`` entries) instead of
        a diagonal one. Default: dense up to 100 latent coordinates, diagonal above.
    guide : {"auto", "fullrank", "lowrank", "meanfield"}, default "auto"
        SVI family: ``AutoMultivariateNormal``, ``AutoLowRankMultivariateNormal`` (rank 20),
        ``AutoNormal``. ``"auto"`` is full-rank up to ``FULLRANK_MAX_PARAMS`` = 500 latent
        coordinates (the full-rank gaussian family contains the exact posterior of the gaussian
        model), low-rank above.
    lr : float, optional
        SVI Adam learning rate. The guide's locations are stepped at ``lr`` times the median
        approximate posterior sd (Adam moves each coordinate by about its rate per step), the log
        scales and correlations at ``lr``. Default: 0.002 for the gaussian prior with ``sigma``
        and ``tau`` fixed, 0.05 otherwise (laplace prior, sampled scales). In the gaussian case
        the guide starts at the answer (see Notes) and only has to keep it; the gradient noise
        makes the iterates random-walk by about ``sqrt(lr)`` posterior sds, and 0.002 keeps the
        full-rank answer within ~0.06 sd (means) and ~5 % (sds) of the exact one (0.05 with
        ``window=500`` gives up to 0.14 sd at d = 200). Otherwise the guide starts at a gaussian
        approximation and has to travel: on the laplace seed problem (n = 20, d = 200) lr=0.002
        with 100-step windows stops ~25 nats of ELBO short of the best full-rank gaussian, means
        up to 3.5 posterior sds from it; the defaults (~6500 steps) stop ~5 nats short, means
        within 0.6 sd of it, and leave mostly the error of the gaussian family itself (sds ~15 % too small).
    max_steps : int, default 20000
        SVI step budget.
    window : int, optional
        SVI stopping rule: every ``window`` steps the mean loss of the last window is compared
        with the window before. Default: 100 for the gaussian prior with ``sigma`` and ``tau``
        fixed, 500 otherwise. The one-draw ELBO of a non-gaussian posterior is noisy (sd ~12 nats
        a step on the laplace seed problem), and over short windows slow progress looks like a
        plateau: every ``lr`` from 0.002 to 0.05 stopped after 1000-1200 steps with 100-step
        windows. The number of steps grows about in proportion to ``window``.
    rtol : float, default 1e-4
        SVI stopping rule: a window whose smoothed ELBO improved by less than
        ``max(rtol * |ELBO|, 2 standard errors)`` is a plateau; each plateau halves the learning
        rate; after the ``num_decays``-th plateau one more window is run and its iterates are
        averaged (Polyak-Ruppert averaging), and the run has converged.
    num_decays : int, default 4
        See ``rtol``.
    num_particles : int, default 1
        SVI: Monte Carlo particles per ELBO gradient.

    Returns
    -------
    Posterior
        Draws with leading ``(chain, draw)`` axes, diagnostics and settings.

    Raises
    ------
    ValueError, TypeError
        For invalid data or settings (the message names the argument), and for
        ``method="exact"`` where no closed form exists (laplace prior, ``sigma`` or ``tau``
        sampled).

    Warns
    -----
    DiagnosticWarning
        NUTS: max R-hat > 1.01, min bulk ESS < 100 per chain, or any divergent transition.
    ConvergenceWarning
        SVI: the step budget ran out before the ELBO stopping rule was met.

    Notes
    -----
    The starting point of NUTS and the initial SVI guide come from the gaussian approximation at
    the starting scales: the conjugate posterior (laplace: the gaussian prior of the same
    variance ``2 tau^2``, centred at the sparse laplace MAP). For the gaussian model with fixed
    scales the full-rank guide therefore starts at the exact answer, and SVI only has to keep it;
    the mean-field guide starts at the best mean-field fit of that gaussian (sds
    ``1/sqrt(P_ii)``), which is *smaller* than the exact marginal sds: mean-field VI is
    underdispersed for correlated posteriors (measured in the test suite).

    The SVI stopping rule compares window means of the loss, so a change of the ELBO smaller than
    its Monte Carlo noise counts as a plateau: it detects when the optimiser no longer makes
    measurable progress, not that the optimum has been reached to a given accuracy.

    Examples
    --------
    >>> from bayeswd import sample_posterior, seed_problem
    >>> p = seed_problem()
    >>> post = sample_posterior(p.train.X, p.train.y, sigma=p.sigma, tau=p.tau, method="exact")
    >>> post.samples["coef"].shape
    torch.Size([4, 1000, 200])
    """
    prior = check_choice(prior, "prior", PRIORS)
    method = check_choice(method, "method", METHODS)
    backend = check_choice(backend, "backend", NUTS_BACKENDS)
    guide = check_choice(guide, "guide", SVI_GUIDES)
    num_samples = check_positive_int(num_samples, "num_samples")
    num_warmup = check_positive_int(num_warmup, "num_warmup", minimum=0)
    num_chains = check_positive_int(num_chains, "num_chains")
    for name, value in (("sigma", sigma), ("tau", tau)):
        if value is not None and not isinstance(value, torch.distributions.Distribution):
            check_positive(value, name)
    sigma = None if sigma is None else (
        sigma if isinstance(sigma, torch.distributions.Distribution) else float(sigma)
    )
    tau = None if tau is None else (
        tau if isinstance(tau, torch.distributions.Distribution) else float(tau)
    )
    for name, value in (("sigma", sigma), ("tau", tau)):
        if isinstance(value, torch.distributions.Distribution):
            _check_scale_prior(value, name)
    fit_intercept = check_bool(fit_intercept, "fit_intercept")
    progress_bar = check_bool(progress_bar, "progress_bar")
    jit_compile = check_bool(jit_compile, "jit_compile")
    if dense_mass is not None:
        dense_mass = check_bool(dense_mass, "dense_mass")
    seed = check_seed(seed)
    target_accept_prob = check_positive(target_accept_prob, "target_accept_prob")
    if target_accept_prob >= 1.0:
        raise ValueError(f"`target_accept_prob` must lie in (0, 1); got {target_accept_prob!r}.")
    max_tree_depth = check_positive_int(max_tree_depth, "max_tree_depth")
    lr = None if lr is None else check_positive(lr, "lr")
    max_steps = check_positive_int(max_steps, "max_steps")
    window = None if window is None else check_positive_int(window, "window", minimum=2)
    rtol = check_positive(rtol, "rtol")
    num_decays = check_positive_int(num_decays, "num_decays")
    num_particles = check_positive_int(num_particles, "num_particles")
    if method == "exact":
        if prior != "gaussian":
            raise ValueError(
                "`method` 'exact' needs prior='gaussian' (the conjugate case); no closed form "
                f"exists for prior={prior!r}: use method='nuts' or 'svi'."
            )
        unknown = [nm for nm, v in (("sigma", sigma), ("tau", tau)) if not isinstance(v, float)]
        if unknown:
            raise ValueError(
                f"`method` 'exact' needs fixed numbers for sigma and tau; {' and '.join(unknown)} "
                "would be sampled (no closed form): give their values or use method='nuts'."
            )
    dev = resolve_device(device)
    Xt, names = as_design(X, device=dev)
    yt = as_target(y, Xt.shape[0], device=dev)
    n, d = Xt.shape

    start = time.perf_counter()
    suff = sufficient_statistics(Xt, yt, fit_intercept)  # the one pass over X that NUTS needs
    sigma_arg, tau_arg, hyper = _default_hyperpriors(Xt, yt, sigma, tau, suff)
    model_kwargs = {"prior": prior, "sigma": sigma_arg, "tau": tau_arg,
                    "fit_intercept": fit_intercept}
    settings: dict[str, Any] = {"num_samples": num_samples, "num_chains": num_chains}
    stats: dict[str, np.ndarray] = {}
    elbo, guide_used, converged = None, None, True
    if method == "exact":
        post = gaussian_posterior_from_stats(suff, sigma=float(sigma), tau=float(tau))  # type: ignore[arg-type]
        gen = torch.Generator(device=dev).manual_seed(int(seed))
        eps = torch.randn((num_chains, num_samples, post.mean.numel()), generator=gen,
                          dtype=DTYPE, device=dev)
        theta = post.mean + eps @ torch.linalg.cholesky(post.cov).T
        raw = {"coef": theta[..., :d]}
        if fit_intercept:
            raw["intercept"] = theta[..., d]
    else:
        init, cov = _gaussian_start(Xt, yt, prior, sigma_arg, tau_arg, fit_intercept, suff)
        if method == "nuts":
            settings["num_warmup"] = num_warmup
            if backend == "bayeswd":
                raw, stats, info = _run_bayeswd_nuts(
                    model_kwargs, Xt, yt, init, cov, suff, num_samples=num_samples,
                    num_warmup=num_warmup, num_chains=num_chains, seed=seed,
                    progress_bar=progress_bar, target_accept_prob=target_accept_prob,
                    max_tree_depth=max_tree_depth,
                )
            else:
                if dense_mass is None:
                    dense_mass = d + int(fit_intercept) + len(hyper) <= 100
                raw, stats, info = _run_nuts(
                    model_kwargs, Xt, yt, init, _site_sds(cov, d, fit_intercept),
                    num_samples=num_samples, num_warmup=num_warmup, num_chains=num_chains,
                    seed=seed, jit=jit_compile, progress_bar=progress_bar,
                    target_accept_prob=target_accept_prob, max_tree_depth=max_tree_depth,
                    dense_mass=dense_mass,
                )
        else:
            p = d + int(fit_intercept) + sum(nm in cov for nm in ("sigma", "tau"))
            guide_used = guide if guide != "auto" else (
                "fullrank" if p <= FULLRANK_MAX_PARAMS else "lowrank"
            )
            flat, elbo, converged, info = _run_svi(
                model_kwargs, Xt, yt, init, cov, guide_name=guide_used,
                num_draws=num_chains * num_samples, seed=seed, lr=lr, max_steps=max_steps,
                window=window, rtol=rtol, num_decays=num_decays, num_particles=num_particles,
                progress_bar=progress_bar, jit=jit_compile,
            )
            raw = {k: v.reshape(num_chains, num_samples, *v.shape[1:]) for k, v in flat.items()}
        settings.update(info)
    order = [k for k in ("coef", "intercept", "sigma", "tau") if k in raw]
    samples = {k: raw[k].detach().to("cpu", DTYPE).contiguous() for k in order}
    wall = time.perf_counter() - start
    diag = _diagnose(samples)
    if method == "nuts":
        diag["num_divergent"] = int(stats["diverging"].sum())
        diag["max_tree_depth_hits"] = int((stats["tree_depth"] >= max_tree_depth).sum())
        diag["step_size"] = stats["step_size"][:, -1].copy()
        _warn_diagnostics(diag, stats, num_chains)
    if method == "svi" and not converged:
        warnings.warn(
            f"SVI stopped after {max_steps} steps before its ELBO stopping rule was met "
            f"({num_decays} plateaus); raise `max_steps` or `lr`.",
            ConvergenceWarning,
            stacklevel=2,
        )
    return Posterior(
        samples=samples,
        method=method,
        prior=prior,
        sigma=sigma if isinstance(sigma, float) else None,
        tau=tau if isinstance(tau, float) else None,
        hyperpriors=hyper,
        fit_intercept=fit_intercept,
        feature_names=tuple(names),
        X=_own(Xt),
        y=_own(yt),
        diagnostics=diag,
        sample_stats=stats,
        wall_time=wall,
        seed=int(seed),
        device=str(dev),
        elbo=elbo,
        guide=guide_used,
        converged=converged,
        settings=settings,
    )
