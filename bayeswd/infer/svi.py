"""SVI: a Pyro autoguide fitted by maximising the ELBO, with a plateau-based stopping rule.

The guide starts at the gaussian approximation of the posterior (:mod:`bayeswd.infer.start`);
Adam steps each parameter at a rate on its own scale; every ``window`` steps a plateau of the
smoothed ELBO halves the rates, and after the last one the iterates of a final window are
averaged (:class:`PlateauSchedule`). See :class:`bayeswd.infer.SVI` for the settings.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Callable
from typing import Any

import numpy as np
import pyro
import torch
from pyro.distributions.torch_distribution import TorchDistributionMixin
from pyro.infer import JitTrace_ELBO, Trace_ELBO
from pyro.infer.autoguide import (
    AutoLowRankMultivariateNormal,
    AutoMultivariateNormal,
    AutoNormal,
)
from pyro.infer.autoguide.initialization import init_to_value
from torch.distributions import biject_to

from bayeswd.infer.options import SVI
from bayeswd.infer.pyro_internals import (
    JIT_FAILURES,
    guide_unpack_latent,
    latent_sites,
    meanfield_loc_scale,
    quiet_jit_tracing,
)
from bayeswd.infer.runtime import one_thread_if_small, private_rng
from bayeswd.infer.start import InferenceProblem, MethodOutput, gaussian_start, site_sds
from bayeswd.model import linear_regression_model

__all__ = ["FULLRANK_MAX_PARAMS", "PlateauSchedule", "as_pyro_distribution", "fit_svi",
           "set_guide_covariance"]

#: ``guide="auto"`` is full-rank up to this many latent coordinates, low-rank above.
FULLRANK_MAX_PARAMS = 500
_LOWRANK_RANK = 20
#: ``lr`` and ``window`` when ``None``: (the guide starts at the answer, it has to travel)
_SVI_LR = (0.002, 0.05)
_SVI_WINDOW = (100, 500)


def as_pyro_distribution(prior: Any) -> Any:
    """``prior`` as a Pyro distribution (the same object's state, Pyro's class); others unchanged.

    A plain ``torch.distributions`` prior of a scale lacks what Pyro's autoguides read
    (``event_dim``, ...). Pyro's wrapper of a torch class (``pyro.distributions.HalfNormal``, ...)
    subclasses it and only adds methods, so a shallow copy with its class swapped is the same
    distribution; a class Pyro does not wrap gets the mixin. Numbers pass through.
    """
    if not isinstance(prior, torch.distributions.Distribution) or isinstance(prior, TorchDistributionMixin):
        return prior
    cls = type(prior)
    wrapped = getattr(pyro.distributions, cls.__name__, None)
    if not (isinstance(wrapped, type) and issubclass(wrapped, cls)
            and issubclass(wrapped, TorchDistributionMixin)):
        wrapped = type(cls.__name__, (cls, TorchDistributionMixin), {})
    out = copy.copy(prior)
    out.__class__ = wrapped
    return out


def _make_guide(name: str, model: Callable, init: dict[str, torch.Tensor], p: int) -> Any:
    loc_fn = init_to_value(values=init)
    if name == "meanfield":
        return AutoNormal(model, init_loc_fn=loc_fn)
    if name == "fullrank":
        return AutoMultivariateNormal(model, init_loc_fn=loc_fn)
    return AutoLowRankMultivariateNormal(model, init_loc_fn=loc_fn, rank=min(_LOWRANK_RANK, p))


def _unconstrained_cov(
    guide: Any, cov: dict[str, torch.Tensor], d: int, fit_intercept: bool
) -> torch.Tensor:
    """Joint covariance of the guide's latent vector (sites in the guide's order)."""
    blocks: list[tuple[str, torch.Tensor]] = []
    for name, _site in latent_sites(guide):
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
        sds = site_sds(cond, d, fit_intercept)
        for site, _ in latent_sites(guide):
            setattr(guide.scales, site, sds[site].reshape(getattr(guide.scales, site).shape))
        return
    set_guide_covariance(guide, name, _unconstrained_cov(guide, cov, d, fit_intercept))


def set_guide_covariance(guide: Any, name: str, S: torch.Tensor) -> None:
    """Start a full-rank or low-rank guide's scale at the covariance ``S`` (its latent order).

    Full rank: ``S`` itself. Low rank: the leading eigenvectors carry half their variance, the
    diagonal the rest (at least a tenth of each variance).
    """
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
            for site_name, site in latent_sites(guide):
                loc, scale = meanfield_loc_scale(guide, site_name)
                z = loc + scale * torch.randn((num, *loc.shape), dtype=loc.dtype, device=loc.device)
                out[site_name] = biject_to(site["fn"].support)(z)
            return out
        latent = guide.get_posterior().sample((num,))
        for site, value in guide_unpack_latent(guide, latent):
            out[site["name"]] = biject_to(site["fn"].support)(value)
    return out


def _starts_at_answer(problem: InferenceProblem) -> bool:
    """Gaussian prior with ``sigma`` and ``tau`` fixed: the posterior is the conjugate gaussian.

    The full-rank guide then starts at the exact posterior and the mean-field one at its best
    mean-field fit, so SVI only has to stay put (the low-rank start is a truncation of it, kept in
    this class so that its behaviour does not change). Every other posterior (laplace prior,
    sampled scales) is not gaussian, and the guide starts at a gaussian approximation of it.
    """
    return problem.prior == "gaussian" and not problem.sampled_scales


def _adam(
    guide: Any, cov: dict[str, torch.Tensor], lr: float, p: int, d: int, fit_intercept: bool
) -> torch.optim.Adam:
    """Adam with one learning rate per guide parameter, on that parameter's scale.

    Adam moves each coordinate by about its rate per step: the locations (and low-rank factors)
    live on the scale of the posterior sds, so their rate is ``lr`` times that scale. The
    ``p(p-1)/2`` free entries of the unit triangular factor each random-walk under the gradient
    noise, and a row's variance sums ``p`` of them: their rate is ``lr / sqrt(p)``.
    """
    loc_scale = float(site_sds(cov, d, fit_intercept)["coef"].median())
    scaled = ("loc", "cov_factor")
    groups = []
    for nm, prm in guide.named_parameters():
        rate = lr * (loc_scale if any(s in nm for s in scaled) else 1.0)
        rate /= math.sqrt(p) if "scale_tril" in nm else 1.0
        groups.append({"params": [prm], "lr": rate})
    return torch.optim.Adam(groups)


class PlateauSchedule:
    """The SVI stopping rule: halve the rates at each plateau, average a last window, stop.

    Every ``window`` steps the mean loss of the last window is compared with the window before:
    an improvement below ``max(rtol * |loss|, 2 standard errors)`` is a plateau, which halves
    every learning rate. After the ``num_decays``-th plateau one more window is run at the final
    rate with its iterates averaged (Polyak-Ruppert: removes the jitter the gradient noise leaves
    in them), and the run has converged.
    """

    def __init__(self, window: int, rtol: float, num_decays: int) -> None:
        self.window, self.rtol, self.num_decays = window, rtol, num_decays
        self.decays, self.converged, self.averaging = 0, False, False
        self._sum: dict[str, torch.Tensor] = {}
        self._count = 0

    def step(self, losses: list[float], optimiser: torch.optim.Optimizer, guide: Any) -> bool:
        """Account for the step just taken; ``True`` when the run should stop."""
        w, step = self.window, len(losses)
        if step >= 2 * w and step % w == 0:
            if self.averaging:  # the final window has been averaged: stop
                self.converged = True
                return True
            cur, prev = np.asarray(losses[-w:]), np.asarray(losses[-2 * w:-w])
            se = math.sqrt((cur.var() + prev.var()) / w)
            if float(prev.mean() - cur.mean()) <= max(self.rtol * abs(float(cur.mean())), 2.0 * se):
                self.decays += 1
                for g in optimiser.param_groups:
                    g["lr"] *= 0.5
                if self.decays >= self.num_decays:
                    self.averaging = True
                    self._sum = {nm: torch.zeros_like(prm) for nm, prm in guide.named_parameters()}
        if self.averaging:
            with torch.no_grad():
                for nm, prm in guide.named_parameters():
                    self._sum[nm].add_(prm)
            self._count += 1
        return False

    def finish(self, guide: Any) -> None:
        """Set the guide's parameters to the average of the final window's iterates."""
        if self.averaging and self._count:
            with torch.no_grad():
                for nm, prm in guide.named_parameters():
                    prm.copy_(self._sum[nm] / self._count)


def _optimise(
    model: Callable, guide: Any, optimiser: torch.optim.Adam, schedule: PlateauSchedule,
    args: tuple[torch.Tensor, torch.Tensor], options: SVI, desc: str, progress_bar: bool,
) -> tuple[list[float], bool]:
    """Adam steps on the ELBO until ``schedule`` stops them or the budget runs out.

    The ELBO is traced once with ``torch.jit`` (``JitTrace_ELBO``, faster steps) unless
    ``options.jit_compile`` is off or the first traced step fails; returns the losses and whether
    the traced ELBO ran.
    """
    plain = Trace_ELBO(num_particles=options.num_particles, vectorize_particles=False)
    elbo = JitTrace_ELBO(num_particles=options.num_particles, vectorize_particles=False,
                         ignore_jit_warnings=True) if options.jit_compile else plain
    jit_used = options.jit_compile
    losses: list[float] = []
    bar = None
    if progress_bar:
        from tqdm.auto import tqdm

        bar = tqdm(total=options.max_steps, desc=desc)
    try:
        for step in range(1, options.max_steps + 1):
            optimiser.zero_grad()
            try:
                loss = elbo.differentiable_loss(model, guide, *args)
            except JIT_FAILURES:
                if not (step == 1 and jit_used):
                    raise
                elbo, jit_used = plain, False  # tracing can fail on exotic priors
                loss = elbo.differentiable_loss(model, guide, *args)
            loss.backward()
            optimiser.step()
            losses.append(float(loss.detach()))
            if bar is not None:
                bar.update(1)
                if step % 50 == 0:
                    bar.set_postfix(elbo=f"{-np.mean(losses[-50:]):.4g}", lr_decays=schedule.decays)
            if schedule.step(losses, optimiser, guide):
                break
    finally:
        if bar is not None:
            bar.close()
    schedule.finish(guide)
    return losses, jit_used


def fit_svi(
    problem: InferenceProblem, options: SVI, *, num_samples: int, num_chains: int, seed: int,
    progress_bar: bool,
) -> MethodOutput:
    """Fit the guide of ``options`` to ``problem``'s posterior; ``num_chains * num_samples`` draws of it."""
    X, y = problem.X, problem.y
    d, fit_intercept, p = X.shape[1], problem.fit_intercept, problem.num_latent
    guide_name = options.guide
    if guide_name == "auto":
        guide_name = "fullrank" if p <= FULLRANK_MAX_PARAMS else "lowrank"
    far = not _starts_at_answer(problem)
    lr = _SVI_LR[far] if options.lr is None else options.lr
    window = _SVI_WINDOW[far] if options.window is None else options.window
    init, cov = gaussian_start(problem)
    # a plain torch prior of sigma or tau becomes Pyro's class: the autoguides need its event_dim
    model_kwargs = {k: as_pyro_distribution(v) for k, v in problem.model_kwargs.items()}

    def model(X_: torch.Tensor, y_: torch.Tensor) -> torch.Tensor:
        return linear_regression_model(X_, y_, **model_kwargs)

    with pyro.get_param_store().scope(), private_rng(seed), quiet_jit_tracing(), \
            one_thread_if_small(X.device, p):
        guide = _make_guide(guide_name, model, init, p)
        guide(X, y)  # creates the parameters
        _init_guide_scales(guide, guide_name, cov, d, fit_intercept)
        optimiser = _adam(guide, cov, lr, p, d, fit_intercept)
        schedule = PlateauSchedule(window, options.rtol, options.num_decays)
        losses, jit_used = _optimise(model, guide, optimiser, schedule, (X, y), options,
                                     f"SVI ({guide_name})", progress_bar)
        flat = _guide_draws(guide, guide_name, num_chains * num_samples)
    samples = {k: v.reshape(num_chains, num_samples, *v.shape[1:]) for k, v in flat.items()}
    info = {"guide": guide_name, "svi_steps": len(losses), "lr": lr, "svi_window": window,
            "svi_rtol": options.rtol, "num_particles": options.num_particles, "jit": jit_used,
            "max_steps": options.max_steps, "num_decays": options.num_decays}
    return MethodOutput(samples=samples, sample_stats={}, info=info, elbo=-np.asarray(losses),
                        converged=schedule.converged)
