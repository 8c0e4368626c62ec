"""SVI for logistic and softmax regression (``method="svi"`` of :func:`sample_classifier_posterior`).

A Pyro autoguide on :func:`bayeswd.model.linear_regression_model` with ``family="bernoulli"`` or
``"categorical"``, fitted by maximising the ELBO with Adam and the plateau stopping rule of the
regression SVI (:class:`bayeswd.infer.svi.PlateauSchedule`: halve the rates at each plateau of the
smoothed ELBO, average the iterates of a final window). The guide starts at the Laplace
approximation ``N(MAP, H^{-1})`` of
:func:`~bayeswd.classification.potential.gaussian_approximation` (with ``tau`` sampled: at the prior
median of ``tau``, and ``log tau`` with the variance of
:func:`~bayeswd.classification.potential.tau_variance`); the mean-field guide starts at the best
mean-field fit to that gaussian (the conditional sds ``1 / sqrt(H_ii)``).

No classifier posterior is gaussian, so the guide has to travel from its start: the default rate
and window are the regression SVI's for a non-gaussian posterior (``lr = 0.05``, ``window = 500``).

Coordinates: ``theta`` (:class:`~bayeswd.classification.problem.GLMProblem`) stores the softmax's
weights class after class (``W[:, 0], W[:, 1], ...``); Pyro's ``"coef"`` site is the ``(d, K)``
matrix, flattened row after row in the guide's latent vector. :func:`latent_index` maps one to the
other.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple

import numpy as np
import pyro
import torch

from bayeswd.classification.potential import GaussianApproximation, tau_variance
from bayeswd.classification.problem import GLMProblem
from bayeswd.infer.options import SVI
from bayeswd.infer.pyro_internals import latent_sites, meanfield_loc_scale, quiet_jit_tracing
from bayeswd.infer.runtime import one_thread_if_small, private_rng
from bayeswd.infer.start import MethodOutput
from bayeswd.infer.svi import (
    _SVI_LR,
    _SVI_WINDOW,
    FULLRANK_MAX_PARAMS,
    PlateauSchedule,
    _adam,
    _guide_draws,
    _make_guide,
    _optimise,
    as_pyro_distribution,
    set_guide_covariance,
)
from bayeswd.model import linear_regression_model

__all__ = ["GuideFit", "build_guide", "fit_classifier_svi", "fit_guide", "latent_index"]


class GuideFit(NamedTuple):
    """A fitted guide, as a gaussian in ``q = (theta, u_tau)`` and as draws.

    Attributes
    ----------
    guide : str
        ``"fullrank"``, ``"lowrank"`` or ``"meanfield"``.
    mean : torch.Tensor, shape (Q,)
        The guide's location in ``q``: ``theta`` (class-major, :class:`GLMProblem`'s packing), then
        the unconstrained ``tau`` (``log tau`` for the usual priors) when sampled.
    cov : torch.Tensor, shape (Q, Q)
        The guide's covariance in ``q`` (diagonal for the mean-field guide).
    draws : dict of str to torch.Tensor
        Independent draws of every latent site (constrained, leading axis the draw).
    losses : numpy.ndarray
        The loss (negative one-sample ELBO) at every step.
    converged : bool
        The stopping rule was met within ``max_steps``.
    jit : bool
        The traced ELBO ran.
    lr, window : float, int
        The learning rate and window used.
    """

    guide: str
    mean: torch.Tensor
    cov: torch.Tensor
    draws: dict[str, torch.Tensor]
    losses: np.ndarray
    converged: bool
    jit: bool
    lr: float
    window: int


def latent_index(prob: GLMProblem, sampled_tau: bool) -> dict[str, torch.Tensor]:
    """For each latent site, the index in ``q`` of each entry of the site flattened row-major.

    ``"coef"``: the bernoulli's ``w_j`` is ``theta[j]``; the softmax's ``W[j, k]`` (flat entry
    ``j K + k`` of the site) is ``theta[k d + j]``. ``"intercept"``: ``theta[d m:]``. ``"tau"``:
    the last entry of ``q``.
    """
    idx = {"coef": torch.arange(prob.n_weights).reshape(prob.m, prob.d).T.reshape(-1)}
    if prob.fit_intercept:
        idx["intercept"] = torch.arange(prob.n_weights, prob.size)
    if sampled_tau:
        idx["tau"] = torch.tensor([prob.size])
    return idx


def _start(prob: GLMProblem, tau_prior: Any, approx: GaussianApproximation
           ) -> tuple[dict[str, torch.Tensor], torch.Tensor]:
    """Constrained starting values of the sites and the covariance of the start in ``q``."""
    values = {k: v.detach().clone().contiguous() for k, v in prob.model_values(approx.mean).items()}
    cov = approx.chol @ approx.chol.T
    if tau_prior is not None:
        values["tau"] = prob.X.new_tensor(prob.tau)
        cov = torch.block_diag(cov, cov.new_tensor([[tau_variance(prob)]]))
    return values, 0.5 * (cov + cov.T)


def _permutation(guide: Any, index: dict[str, torch.Tensor]) -> torch.Tensor:
    """``perm`` with ``latent = q[perm]``: the guide's latent vector in its own site order."""
    parts = []
    for name, site in latent_sites(guide):
        size = site["value"].numel()  # every site here is real or positive: same size unconstrained
        if name not in index or index[name].numel() != size:
            raise RuntimeError(f"the guide's site {name!r} ({size} entries) does not match the problem")
        parts.append(index[name])
    return torch.cat(parts)


def _init_scales(guide: Any, name: str, S: torch.Tensor, perm: torch.Tensor) -> None:
    """Start the guide's scale at the gaussian ``S`` (covariance in ``q``).

    Full rank: ``S`` itself. Mean field: the best mean-field fit to ``N(., S)`` in KL(q || p), the
    conditional sds ``1 / sqrt((S^{-1})_ii)``. Low rank: the leading eigenvectors carry half their
    variance, the diagonal the rest (as :mod:`bayeswd.infer.svi` does).
    """
    if name == "meanfield":
        cond = 1.0 / torch.linalg.inv(S).diagonal().sqrt()
        offset = 0
        for site, _ in latent_sites(guide):
            shape = getattr(guide.scales, site).shape
            k = int(np.prod(shape)) if len(shape) else 1
            sds = cond[perm[offset:offset + k]]
            setattr(guide.scales, site, sds.reshape(shape).clone())
            offset += k
        return
    set_guide_covariance(guide, name, S[perm][:, perm])


def _model(prob: GLMProblem, tau_prior: Any) -> Callable[[torch.Tensor, torch.Tensor], torch.Tensor]:
    kwargs = prob.model_kwargs
    if tau_prior is not None:
        kwargs["tau"] = as_pyro_distribution(tau_prior)

    def model(X_: torch.Tensor, y_: torch.Tensor) -> torch.Tensor:
        return linear_regression_model(X_, y_, **kwargs)

    return model


def _guide_name(options: SVI, num_latent: int) -> str:
    if options.guide == "auto":
        return "fullrank" if num_latent <= FULLRANK_MAX_PARAMS else "lowrank"
    return options.guide


def build_guide(prob: GLMProblem, tau_prior: Any, approx: GaussianApproximation, guide_name: str,
                model: Callable | None = None) -> tuple[Any, torch.Tensor, torch.Tensor]:
    """The guide at its start, ``perm`` (``latent = q[perm]``) and the start's covariance in ``q``.

    Creates the guide's parameters in the current Pyro param store (call inside a scope).
    """
    model = model or _model(prob, tau_prior)
    init, S = _start(prob, tau_prior, approx)
    num_latent = S.shape[0]
    guide = _make_guide(guide_name, model, init, num_latent)
    guide(prob.X, prob.model_y())  # creates the parameters
    perm = _permutation(guide, latent_index(prob, tau_prior is not None))
    _init_scales(guide, guide_name, S, perm)
    return guide, perm, S


def guide_gaussian(guide: Any, name: str, perm: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """The guide's mean and covariance in ``q`` (unconstrained coordinates)."""
    with torch.no_grad():
        if name == "meanfield":
            locs, scales = [], []
            for site, _ in latent_sites(guide):
                loc, scale = meanfield_loc_scale(guide, site)
                locs.append(loc.reshape(-1))
                scales.append(scale.reshape(-1))
            loc_lat, cov_lat = torch.cat(locs), torch.diag(torch.cat(scales) ** 2)
        else:
            post = guide.get_posterior()
            loc_lat, cov_lat = post.loc, post.covariance_matrix
        mean = torch.empty_like(loc_lat)
        mean[perm] = loc_lat
        cov = torch.empty_like(cov_lat)
        cov[perm.unsqueeze(1), perm.unsqueeze(0)] = cov_lat
    return mean.detach().clone(), cov.detach().clone()


def fit_guide(prob: GLMProblem, tau_prior: Any, options: SVI, *, num_draws: int, seed: int,
              progress_bar: bool, approx: GaussianApproximation) -> GuideFit:
    """Fit the guide of ``options`` to the classifier's posterior, with ``num_draws`` draws of it.

    Seeded by ``seed`` (the caller's random state and Pyro param store are left as they were).
    """
    num_latent = prob.size + int(tau_prior is not None)
    guide_name = _guide_name(options, num_latent)
    lr = _SVI_LR[True] if options.lr is None else options.lr
    window = _SVI_WINDOW[True] if options.window is None else options.window
    model = _model(prob, tau_prior)
    args = (prob.X, prob.model_y())
    with pyro.get_param_store().scope(), private_rng(seed), quiet_jit_tracing(), \
            one_thread_if_small(prob.X.device, num_latent):
        guide, perm, S = build_guide(prob, tau_prior, approx, guide_name, model)
        # Adam's location rate is lr times the median weight sd of the start (``_adam`` reads
        # the first ``n_weights`` diagonal entries of "theta": all the weights, every class)
        optimiser = _adam(guide, {"theta": S}, lr, num_latent, prob.n_weights, prob.fit_intercept)
        schedule = PlateauSchedule(window, options.rtol, options.num_decays)
        losses, jit_used = _optimise(model, guide, optimiser, schedule, args, options,
                                     f"SVI ({guide_name})", progress_bar)
        mean, cov = guide_gaussian(guide, guide_name, perm)
        draws = _guide_draws(guide, guide_name, num_draws)
    return GuideFit(guide_name, mean, cov, draws, np.asarray(losses), schedule.converged, jit_used,
                    lr, window)


def fit_classifier_svi(prob: GLMProblem, tau_prior: Any, options: SVI, *, num_samples: int,
                       num_chains: int, seed: int, progress_bar: bool,
                       approx: GaussianApproximation) -> MethodOutput:
    """SVI on the classifier's Pyro model; ``num_chains * num_samples`` draws of the fitted guide.

    The draws come back as ``(chain, draw)`` sites: ``"coef"`` (C, S, d) or (C, S, d, K),
    ``"intercept"`` (C, S) or (C, S, K - 1) when fitted, ``"tau"`` (C, S) when sampled. The
    ``elbo`` is the negative loss of every step; ``converged`` says whether the stopping rule was
    met.
    """
    fit = fit_guide(prob, tau_prior, options, num_draws=num_chains * num_samples, seed=seed,
                    progress_bar=progress_bar, approx=approx)
    samples = {k: v.reshape(num_chains, num_samples, *v.shape[1:]) for k, v in fit.draws.items()}
    info = {"guide": fit.guide, "svi_steps": int(fit.losses.shape[0]), "lr": fit.lr,
            "svi_window": fit.window, "svi_rtol": options.rtol, "num_particles": options.num_particles,
            "jit": fit.jit, "max_steps": options.max_steps, "num_decays": options.num_decays,
            "map_iterations": approx.n_iter}
    return MethodOutput(samples=samples, sample_stats={}, info=info, elbo=-fit.losses,
                        converged=fit.converged)
