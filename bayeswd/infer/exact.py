"""Independent draws from the conjugate gaussian posterior (:class:`bayeswd.infer.Exact`)."""

from __future__ import annotations

import torch

from bayeswd._validation import DTYPE
from bayeswd.exact import covariance_factor, gaussian_posterior_from_stats
from bayeswd.infer.options import Exact
from bayeswd.infer.start import InferenceProblem, MethodOutput

__all__ = ["check_exact", "sample_exact"]


def check_exact(problem_prior: str, sigma: object, tau: object) -> None:
    """Raise unless the conjugate closed form exists: gaussian prior, ``sigma`` and ``tau`` fixed."""
    if problem_prior != "gaussian":
        raise ValueError(
            "`method` 'exact' needs prior='gaussian' (the conjugate case); no closed form "
            f"exists for prior={problem_prior!r}: use method='nuts' or 'svi'."
        )
    unknown = [nm for nm, v in (("sigma", sigma), ("tau", tau)) if not isinstance(v, float)]
    if unknown:
        raise ValueError(
            f"`method` 'exact' needs fixed numbers for sigma and tau; {' and '.join(unknown)} "
            "would be sampled (no closed form): give their values or use method='nuts'."
        )


def sample_exact(
    problem: InferenceProblem, options: Exact, *, num_samples: int, num_chains: int, seed: int,
    progress_bar: bool,
) -> MethodOutput:
    """``num_chains x num_samples`` independent draws of ``(coef, intercept)``."""
    del options, progress_bar  # no settings; instant
    post = gaussian_posterior_from_stats(problem.stats, sigma=problem.sigma, tau=problem.tau)
    dev, d = problem.X.device, problem.X.shape[1]
    gen = torch.Generator(device=dev).manual_seed(int(seed))
    eps = torch.randn((num_chains, num_samples, post.mean.numel()), generator=gen, dtype=DTYPE,
                      device=dev)
    factor, info = torch.linalg.cholesky_ex(post.cov)
    if int(info) != 0:  # a covariance too ill-conditioned to factor: the centred factor instead
        factor = covariance_factor(problem.stats, sigma=problem.sigma, tau=problem.tau)
    theta = post.mean + eps @ factor.T
    samples = {"coef": theta[..., :d]}
    if problem.fit_intercept:
        samples["intercept"] = theta[..., d]
    return MethodOutput(samples=samples, sample_stats={}, info={})
