"""The Pyro model: the one definition of likelihood and priors that every method starts from.

``y_i ~ Normal(x_i . w + b, sigma^2)``, a gaussian or laplace prior on the weights ``w`` (site
``"coef"``), a flat (improper uniform) prior on the intercept ``b`` (site ``"intercept"``), and
``sigma`` and ``tau`` either fixed numbers or sampled (sites ``"sigma"`` and ``"tau"``) when given as
distributions. MAP (:func:`bayeswd.map_fit`) and the samplers all evaluate this function's log density.
The model and its log densities: docs/mathematics.md, section 2.1.
"""

from __future__ import annotations

from typing import Any

import pyro
import pyro.distributions as dist
import torch
from pyro import poutine
from torch.distributions import constraints

__all__ = ["linear_regression_model", "log_density"]

ScaleArg = float | torch.Tensor | dist.Distribution


def _scale(value: ScaleArg, site: str) -> Any:
    if isinstance(value, torch.distributions.Distribution):
        return pyro.sample(site, value)
    return value


def linear_regression_model(
    X: torch.Tensor,
    y: torch.Tensor | None = None,
    *,
    prior: str = "gaussian",
    sigma: ScaleArg,
    tau: ScaleArg,
    fit_intercept: bool = True,
    intercept: float | None = None,
) -> torch.Tensor:
    r"""Bayesian linear regression with a gaussian (L2) or laplace (L1) prior on the weights.

    .. math::

        y_i \sim \mathcal N(x_i^\top w + b, \sigma^2),\quad
        w_j \sim \mathcal N(0, \tau^2) \text{ or } \mathrm{Laplace}(0, \tau),\quad
        p(b) \propto 1.

    Parameters
    ----------
    X : torch.Tensor, shape (n, d)
        Design matrix (float64, on the device inference runs on).
    y : torch.Tensor, shape (n,), optional
        Observed targets; ``None`` samples them (prior or posterior predictive).
    prior : {"gaussian", "laplace"}
        Gaussian: ``w_j ~ Normal(0, tau^2)`` (weight decay / ridge). Laplace:
        ``w_j ~ Laplace(0, tau)``, density ``exp(-|w|/tau) / (2 tau)``, variance ``2 tau^2`` (lasso).
    sigma : float or Distribution
        Noise sd; a distribution makes ``"sigma"`` a latent site with that prior.
    tau : float or Distribution
        Prior scale of the weights; a distribution makes ``"tau"`` a latent site (full Bayes over
        the regularisation strength ``lam = sigma^2 / tau^2``).
    fit_intercept : bool, default True
        Sample an intercept with a flat prior (it is not regularised). ``False`` fixes it.
    intercept : float, optional
        With ``fit_intercept=False``, the fixed value of the intercept (default 0).

    Returns
    -------
    torch.Tensor, shape (n,)
        The mean ``X w + b``.
    """
    n, d = X.shape
    tau_v = _scale(tau, "tau")
    sigma_v = _scale(sigma, "sigma")
    zeros = X.new_zeros(d)
    if prior == "gaussian":
        w_prior: dist.Distribution = dist.Normal(zeros, tau_v)
    elif prior == "laplace":
        w_prior = dist.Laplace(zeros, tau_v)
    else:
        raise ValueError(f"`prior` must be one of 'gaussian', 'laplace'; got {prior!r}.")
    coef = pyro.sample("coef", w_prior.to_event(1))
    if fit_intercept:
        b = pyro.sample("intercept", dist.ImproperUniform(constraints.real, (), ()))
    else:
        b = 0.0 if intercept is None else intercept
    mean = X @ coef + b
    with pyro.plate("data", n):
        pyro.sample("obs", dist.Normal(mean, sigma_v), obs=y)
    return mean


def log_density(
    values: dict[str, torch.Tensor],
    X: torch.Tensor,
    y: torch.Tensor,
    *,
    part: str = "joint",
    **model_kwargs: Any,
) -> torch.Tensor:
    """Log density of :func:`linear_regression_model` at the latent ``values``.

    Parameters
    ----------
    values : dict
        Site name -> value for every latent site (``"coef"``, and ``"intercept"``, ``"sigma"``,
        ``"tau"`` where the model samples them).
    X, y : torch.Tensor
        Data.
    part : {"joint", "likelihood", "prior"}, default "joint"
        ``"joint"``: ``log p(y, latents)``; ``"likelihood"``: ``log p(y | latents)`` (the ``"obs"``
        site); ``"prior"``: every latent site's log prior density.
    **model_kwargs
        Passed to the model (``prior``, ``sigma``, ``tau``, ``fit_intercept``, ``intercept``).

    Returns
    -------
    torch.Tensor
        A scalar, differentiable in ``values``.
    """
    if part not in ("joint", "likelihood", "prior"):
        raise ValueError(f"`part` must be one of 'joint', 'likelihood', 'prior'; got {part!r}.")
    conditioned = poutine.condition(linear_regression_model, data=values)
    if part == "prior":  # the likelihood's log density is not computed or differentiated
        conditioned = poutine.block(conditioned, hide=["obs"])
    trace = poutine.trace(conditioned).get_trace(X, y, **model_kwargs)
    if part == "likelihood":
        site = trace.nodes["obs"]
        return site["fn"].log_prob(site["value"]).sum()
    if part == "prior":
        return sum(
            (site["fn"].log_prob(site["value"]).sum() for name, site in trace.nodes.items()
             if site["type"] == "sample" and name != "obs"),
            X.new_zeros(()),
        )
    return trace.log_prob_sum()
