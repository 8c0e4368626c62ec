"""The Pyro model: the one definition of likelihood and priors that every method starts from.

``y_i ~ Normal(x_i . w + b, sigma^2)``, a gaussian or laplace prior on the weights ``w`` (site
``"coef"``), a flat (improper uniform) prior on the intercept ``b`` (site ``"intercept"``), and
``sigma`` and ``tau`` either fixed numbers or sampled (sites ``"sigma"`` and ``"tau"``) when given as
distributions. MAP (:func:`bayeswd.map_fit`) and the samplers all evaluate this function's log density.
The model and its log densities: docs/mathematics.md, section 2.1.

The same model has two classification likelihoods (``family=``): ``"bernoulli"`` (logistic
regression, ``y_i ~ Bernoulli(sigmoid(x_i . w + b))``) and ``"categorical"`` (softmax regression,
``y_i ~ Categorical(softmax(x_i^T W + b))`` with a ``(d, K)`` weight matrix, the prior on every entry,
and the intercept of class 0 fixed at 0); :func:`bayeswd.classification.map_classifier` finds their
MAP. The classification model and its identifiability: docs/classification.md.
"""

from __future__ import annotations

from numbers import Integral
from typing import Any

import pyro
import pyro.distributions as dist
import torch
from pyro import poutine
from torch.distributions import constraints

__all__ = ["FAMILIES", "linear_regression_model", "log_density"]

ScaleArg = float | torch.Tensor | dist.Distribution

#: Likelihoods of :func:`linear_regression_model`: the gaussian linear regression, logistic
#: regression (Bernoulli with the logit link) and softmax regression (categorical, multinomial logit).
FAMILIES = ("gaussian", "bernoulli", "categorical")


def _scale(value: ScaleArg, site: str) -> Any:
    if isinstance(value, torch.distributions.Distribution):
        return pyro.sample(site, value)
    return value


def linear_regression_model(
    X: torch.Tensor,
    y: torch.Tensor | None = None,
    *,
    prior: str = "gaussian",
    sigma: ScaleArg | None = None,
    tau: ScaleArg,
    fit_intercept: bool = True,
    intercept: float | torch.Tensor | None = None,
    family: str = "gaussian",
    num_classes: int | None = None,
) -> torch.Tensor:
    r"""Bayesian linear regression (or logistic / softmax regression) with a gaussian or laplace prior.

    .. math::

        y_i \sim \mathcal N(x_i^\top w + b, \sigma^2),\quad
        w_j \sim \mathcal N(0, \tau^2) \text{ or } \mathrm{Laplace}(0, \tau),\quad
        p(b) \propto 1.

    With ``family="bernoulli"`` the likelihood is ``y_i ~ Bernoulli(sigmoid(x_i^T w + b))`` (logistic
    regression; ``y`` holds 0.0 and 1.0). With ``family="categorical"`` it is
    ``y_i ~ Categorical(softmax(x_i^T W + b))`` (softmax / multinomial logistic regression; ``y``
    holds class indices ``0..K-1``), ``W`` a ``(d, K)`` matrix with the prior on **every** entry (the
    symmetric parameterisation of scikit-learn's multinomial ``LogisticRegression`` and of
    ``nn.Linear(d, K)`` trained with ``CrossEntropyLoss`` and weight decay), and ``b`` a ``K``-vector
    whose entry for class 0 is fixed at 0 (site ``"intercept"`` holds ``b_1 .. b_{K-1}``, flat).

    Identifiability of the categorical model: adding a vector ``c`` to every column of ``W`` and a
    number to every ``b_k`` leaves the likelihood unchanged. The proper prior on all of ``W`` picks
    one ``W`` (for the gaussian prior the posterior of ``W`` is proper and its MAP has rows that sum
    to zero); a flat prior cannot do the same for ``b``, so ``b_0 = 0`` (class 0 is the reference).
    Any other choice (sum-to-zero intercepts, as scikit-learn reports them) is a shift of ``b`` by a
    constant and gives the same probabilities and the same posterior of ``W`` and of ``b_k - b_0``.

    Parameters
    ----------
    X : torch.Tensor, shape (n, d)
        Design matrix (float64, on the device inference runs on).
    y : torch.Tensor, shape (n,), optional
        Observed targets; ``None`` samples them (prior or posterior predictive). Bernoulli: 0.0 /
        1.0; categorical: class indices in ``0..num_classes-1`` (integer or float dtype).
    prior : {"gaussian", "laplace"}
        Gaussian: ``w_j ~ Normal(0, tau^2)`` (weight decay / ridge). Laplace:
        ``w_j ~ Laplace(0, tau)``, density ``exp(-|w|/tau) / (2 tau)``, variance ``2 tau^2`` (lasso).
    sigma : float or Distribution
        Noise sd; a distribution makes ``"sigma"`` a latent site with that prior. Required for the
        gaussian family, and must be left at ``None`` for the classification families (they have no
        noise scale).
    tau : float or Distribution
        Prior scale of the weights; a distribution makes ``"tau"`` a latent site (full Bayes over
        the regularisation strength ``lam = sigma^2 / tau^2``).
    fit_intercept : bool, default True
        Sample an intercept with a flat prior (it is not regularised). ``False`` fixes it.
    intercept : float or torch.Tensor, optional
        With ``fit_intercept=False``, the fixed value of the intercept (default 0); for the
        categorical family a number (every class) or a ``(K,)`` tensor.
    family : {"gaussian", "bernoulli", "categorical"}, default "gaussian"
        The likelihood.
    num_classes : int, optional
        ``K >= 2``, required for (and only for) ``family="categorical"``.

    Returns
    -------
    torch.Tensor
        The linear predictor: the mean ``X w + b`` (gaussian, shape ``(n,)``), the logits
        ``X w + b`` (bernoulli, ``(n,)``) or the ``(n, K)`` logits ``X W + b`` (categorical).
    """
    n, d = X.shape
    if family not in FAMILIES:
        raise ValueError(f"`family` must be one of {', '.join(map(repr, FAMILIES))}; got {family!r}.")
    if family == "gaussian" and sigma is None:
        raise ValueError("`sigma` is required for family='gaussian' (the noise sd); got None.")
    if family != "gaussian" and sigma is not None:
        raise ValueError(f"`sigma` has no meaning for family={family!r} and must be None; got {sigma!r}.")
    if family == "categorical":
        if isinstance(num_classes, bool) or not isinstance(num_classes, Integral) or num_classes < 2:
            raise ValueError(
                f"`num_classes` must be an integer >= 2 for family='categorical'; got {num_classes!r}."
            )
    elif num_classes is not None:
        raise ValueError(
            f"`num_classes` is for family='categorical' only; got num_classes={num_classes!r} "
            f"with family={family!r}."
        )
    tau_v = _scale(tau, "tau")
    sigma_v = _scale(sigma, "sigma") if family == "gaussian" else None
    shape = (d, num_classes) if family == "categorical" else (d,)
    zeros = X.new_zeros(shape)
    if prior == "gaussian":
        w_prior: dist.Distribution = dist.Normal(zeros, tau_v)
    elif prior == "laplace":
        w_prior = dist.Laplace(zeros, tau_v)
    else:
        raise ValueError(f"`prior` must be one of 'gaussian', 'laplace'; got {prior!r}.")
    coef = pyro.sample("coef", w_prior.to_event(len(shape)))
    if family == "categorical":
        b = _class_intercepts(X, num_classes, fit_intercept, intercept)
    elif fit_intercept:
        b = pyro.sample("intercept", dist.ImproperUniform(constraints.real, (), ()))
    else:
        b = 0.0 if intercept is None else intercept
    mean = X @ coef + b
    with pyro.plate("data", n):
        if family == "gaussian":
            pyro.sample("obs", dist.Normal(mean, sigma_v), obs=y)
        elif family == "bernoulli":
            pyro.sample("obs", dist.Bernoulli(logits=mean), obs=y)
        else:
            pyro.sample("obs", dist.Categorical(logits=mean), obs=y)
    return mean


def _class_intercepts(
    X: torch.Tensor, num_classes: int, fit_intercept: bool, intercept: float | torch.Tensor | None
) -> torch.Tensor:
    """The ``(K,)`` intercepts of the categorical family: ``(0, b_1, ..., b_{K-1})`` or fixed."""
    if fit_intercept:
        free = pyro.sample(
            "intercept", dist.ImproperUniform(constraints.real, (), (num_classes - 1,))
        )
        return torch.cat([X.new_zeros(1), torch.as_tensor(free, dtype=X.dtype, device=X.device)])
    if intercept is None:
        return X.new_zeros(num_classes)
    return torch.as_tensor(intercept, dtype=X.dtype, device=X.device).expand(num_classes)


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
        Passed to the model (``prior``, ``sigma``, ``tau``, ``fit_intercept``, ``intercept``,
        ``family``, ``num_classes``).

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
