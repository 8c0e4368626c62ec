"""bayeswd's NUTS: one chain (:func:`run_chain`) and the method's driver (:func:`sample_nuts`).

The driver picks the potential for the problem (:mod:`bayeswd.infer.potentials`), its
preconditioner (the gaussian approximation of the posterior, :mod:`bayeswd.infer.start`), and
runs the chains; a chain runs the transition of :mod:`bayeswd.infer.kernel` with the warm-up of
:mod:`bayeswd.infer.adaptation`.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any, NamedTuple

import numpy as np
import torch

from bayeswd._validation import DTYPE
from bayeswd.infer.adaptation import DualAveraging, WelfordVariance, windows
from bayeswd.infer.chains import run_chains
from bayeswd.infer.collapsed_gaussian import CollapsedGaussianPotential
from bayeswd.infer.kernel import NUTSKernel, NUTSState
from bayeswd.infer.options import NUTS
from bayeswd.infer.potentials import (
    CollapsedLaplacePotential,
    LaplaceMixturePotential,
    LinearPotential,
)
from bayeswd.infer.runtime import one_thread_if_small
from bayeswd.infer.start import InferenceProblem, MethodOutput, gaussian_start

__all__ = ["LAPLACE_NUTS_MAX_COND", "ChainResult", "correlation_condition", "laplace_prefers_nuts",
           "run_chain", "sample_nuts"]

#: Condition number of the features' correlation matrix up to which ``method="auto"`` runs NUTS
#: (on the plain laplace density) instead of the Gibbs sampler for the laplace prior with ``n > d + 1``
#: and ``sigma`` sampled (:func:`laplace_prefers_nuts`).
LAPLACE_NUTS_MAX_COND = 1e3

Potential = Callable[[torch.Tensor], tuple[float, torch.Tensor]]


class ChainResult(NamedTuple):
    """Draws (unconstrained, shape (num_samples, P)) and per-draw statistics of one chain."""

    draws: torch.Tensor
    diverging: np.ndarray
    tree_depth: np.ndarray
    step_size: np.ndarray
    acceptance_rate: np.ndarray
    num_steps: np.ndarray
    inv_metric: torch.Tensor


def run_chain(
    potential: Potential, q0: torch.Tensor, mu: torch.Tensor, L: torch.Tensor, *,
    num_warmup: int, num_samples: int, seed: int, target_accept_prob: float = 0.8,
    max_tree_depth: int = 10, progress: Any = None, thin: int = 1,
) -> ChainResult:
    """One NUTS chain on ``potential`` preconditioned by ``q = mu + L diag(s) x``.

    ``L`` is a fixed factor (e.g. the Cholesky factor of an approximate posterior covariance);
    ``s`` starts at ones and is set from the variance of ``L^{-1}(q - mu)`` over Stan's slow
    warm-up windows (regularised towards 1 as Stan regularises towards its initial metric).
    ``progress`` is an optional callable called once per iteration. After warm-up every
    ``thin``-th state is kept (``num_samples`` kept in all); the statistics of a kept draw are
    those of its transition, with the leapfrog steps and divergences of the ``thin`` transitions
    since the previous one.

    On the CPU, small problems run on one torch thread
    (:func:`bayeswd.infer.runtime.one_thread_if_small`): every operation of a leapfrog step is
    small, and torch's intra-op threads then cost far more than they save. NumPy's floating-point
    warnings are silenced on the NumPy path, as torch has none: a trajectory that overflows has an
    infinite energy and is a divergence, counted and reported as such.
    """
    with one_thread_if_small(q0.device, q0.numel()), np.errstate(over="ignore", invalid="ignore",
                                                                 divide="ignore"):
        return _run_chain(potential, q0, mu, L, num_warmup=num_warmup, num_samples=num_samples,
                          seed=seed, target_accept_prob=target_accept_prob,
                          max_tree_depth=max_tree_depth, progress=progress, thin=thin)


def _run_chain(
    potential: Potential, q0: torch.Tensor, mu: torch.Tensor, L: torch.Tensor, *,
    num_warmup: int, num_samples: int, seed: int, target_accept_prob: float,
    max_tree_depth: int, progress: Any, thin: int = 1,
) -> ChainResult:
    dev = q0.device
    x0 = torch.linalg.solve_triangular(L, (q0 - mu).unsqueeze(-1), upper=False).squeeze(-1)
    rng = np.random.default_rng(int(seed))
    twin = getattr(potential, "numpy_twin", None)
    twin = twin() if dev.type == "cpu" and twin is not None else None
    size = x0.numel()
    if twin is not None:  # the CPU's fast path: the whole chain on NumPy arrays
        momenta = np.random.default_rng([int(seed), 1])
        kernel = NUTSKernel(twin, mu.numpy(), L.numpy(), lambda: momenta.standard_normal(size), rng,
                            max_tree_depth)
        x: Any = x0.numpy()
    else:
        gen = torch.Generator(device=dev).manual_seed(int(seed))
        kernel = NUTSKernel(
            potential, mu, L,
            lambda: torch.randn(x0.shape, generator=gen, dtype=x0.dtype, device=dev), rng,
            max_tree_depth)
        x = x0
    state = NUTSState(x, *kernel.energy_grad(x))
    if not math.isfinite(state.potential_energy):
        raise ValueError("the starting point has a non-finite potential energy")
    eps = kernel.find_step(*state, 1.0)
    adapt = DualAveraging(eps, target_accept_prob)
    init, _, ends = windows(num_warmup)
    slow_end = ends[-1] if ends else init
    ends_set = set(ends)
    welford = WelfordVariance(x)
    draws = (np.empty((num_samples, size)) if kernel.numpy
             else torch.empty((num_samples, size), dtype=x.dtype, device=dev))
    stats = np.zeros((num_samples, 4))
    diverging = np.zeros(num_samples, dtype=bool)
    steps, div = 0, False
    for it in range(num_warmup + num_samples * thin):
        state, info = kernel.transition(state, eps)
        if it < num_warmup:
            eps = adapt.update(info.acceptance_rate)
            if init <= it < slow_end:
                welford.update(state.position * kernel.s)  # L^{-1}(q - mu), whose variance sets s
            if it + 1 in ends_set and welford.count > 1:
                s_new = welford.regularised_variance() ** 0.5
                x = state.position * kernel.s / s_new
                kernel.set_scale(s_new)
                state = NUTSState(x, *kernel.energy_grad(x))
                eps = kernel.find_step(*state, eps)
                adapt.restart(eps)
                welford.reset()
            if it + 1 == num_warmup:
                eps = adapt.final
        else:
            j, r = divmod(it - num_warmup, thin)
            steps, div = steps + info.num_steps, div or info.diverging
            if r == thin - 1:
                draws[j] = kernel.to_q(state.position)
                stats[j] = (info.tree_depth, eps, info.acceptance_rate, steps)
                diverging[j] = div
                steps, div = 0, False
        if progress is not None:
            progress()
    inv_metric = kernel.s**2
    if kernel.numpy:
        draws, inv_metric = torch.from_numpy(draws).to(dev), torch.from_numpy(inv_metric)
    return ChainResult(
        draws=draws, diverging=diverging, tree_depth=stats[:, 0].astype(np.int64),
        step_size=stats[:, 1].copy(), acceptance_rate=stats[:, 2].copy(),
        num_steps=stats[:, 3].astype(np.int64), inv_metric=inv_metric.cpu(),
    )


def base_factor(cov: dict[str, torch.Tensor], pot: Any, mu: torch.Tensor | None = None) -> torch.Tensor:
    """Cholesky factor of the gaussian approximation's covariance, in the potential's layout.

    For the laplace scale mixture the weights' coordinates ``a`` and ``u = log v`` (and for the
    collapsed form ``u``) start with unit scales instead (``a ~ Normal(0, 1)`` a priori; the
    dense factor of the ``w``-space approximation cost more ESS than it saved in steps; see
    ``docs/benchmarks.md``).
    """
    if isinstance(pot, CollapsedGaussianPotential):  # the scales only: their Laplace approximation
        curvature = None if mu is None else pot.curvature_factor(mu)
        if curvature is not None:
            return curvature
        scales = [cov[name].reshape(1) for name, i in (("sigma", pot.i_sigma), ("tau", pot.i_tau))
                  if i is not None]
        return torch.diag(torch.cat(scales).sqrt())
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


_PARAMETERISATION = {
    LinearPotential: "direct",
    LaplaceMixturePotential: "scale mixture",
    CollapsedLaplacePotential: "scale mixture, weights integrated out",
    CollapsedGaussianPotential: "weights and intercept integrated out",
}


def potential_for(problem: InferenceProblem) -> Any:
    """The potential NUTS runs on for ``problem``.

    The gaussian model with fixed scales runs as written. With ``sigma`` or ``tau`` sampled, the
    weights and the intercept are integrated out in closed form: NUTS samples the one or two
    scales and the rest is drawn exactly given them
    (:class:`~bayeswd.infer.collapsed_gaussian.CollapsedGaussianPotential`). The laplace model
    with ``n > d``, where the likelihood dominates, runs as written (the plain laplace density,
    with the gaussian approximation of the posterior as metric): 6.5-8.7 leapfrog steps a draw
    and 22-45 times the ESS per second of the non-centred scale mixture on the benchmark grid's
    n > d laplace cells (docs/benchmarks.md). With ``n <= d`` the kink of the prior dominates
    (142 steps a draw on the seed problem) and it runs as its scale mixture with the weights
    integrated out (NUTS on the mixing scales, then exact conditional draws of the weights).
    The non-centred mixture (:class:`~bayeswd.infer.potentials.LaplaceMixturePotential`, the
    form used for ``n > d`` before) stays available and tested.
    """
    kind: type = LinearPotential
    if problem.prior == "laplace":
        n, d = problem.X.shape
        kind = CollapsedLaplacePotential if n <= d else LinearPotential
    elif problem.sampled_scales:
        kind = CollapsedGaussianPotential
    return kind(problem.X, problem.y, stats=problem.stats, **problem.model_kwargs)


def correlation_condition(stats: Any) -> float:
    """Condition number of the correlation matrix of the features, from the sufficient statistics.

    With an intercept the centred cross-products (``Xc^T Xc``), without one ``X^T X``; scaled to a
    unit diagonal. ``inf`` for a constant or collinear column.
    """
    d = stats.d
    if stats.fit_intercept:
        S = stats.centred_gram
        if S is None:
            s = stats.gram[:d, d]
            S = stats.gram[:d, :d] - torch.outer(s, s) / stats.n
    else:
        S = stats.gram[:d, :d]
    scale = S.diagonal().clamp(min=0.0).sqrt()
    if not bool((scale > 0).all()):
        return math.inf
    ev = torch.linalg.eigvalsh(S / torch.outer(scale, scale))
    low = float(ev[0])
    return float(ev[-1]) / low if low > 0 else math.inf


def laplace_prefers_nuts(problem: InferenceProblem) -> tuple[bool, float]:
    """Whether ``method="auto"`` runs NUTS rather than Gibbs on a laplace problem, and the condition.

    NUTS on the plain laplace density (its gaussian approximation as metric, NumPy leapfrog) on the
    CPU when ``n > d + 1``, ``sigma`` is sampled and the features' correlation matrix has a condition
    number of at most :data:`LAPLACE_NUTS_MAX_COND`; the Gibbs sampler otherwise. Measured (4 chains of
    1000 + 1000, min bulk ESS of the weights per second, NUTS against Gibbs; docs/benchmarks.md, "The
    laplace prior: NUTS or Gibbs"): with ``sigma`` sampled NUTS was faster on 8 of 9 problems (1.1-2.8x;
    condition numbers 1 to 850) and 5x slower on the near-collinear breast_cancer features (condition
    1e5); with ``sigma`` fixed Gibbs was faster on all 9 (1.5-9x; it needs no eigendecomposition then).
    """
    n, d = problem.stats.n, problem.stats.d
    if (problem.prior != "laplace" or "sigma" not in problem.sampled_scales or n <= d + 1
            or problem.X.device.type != "cpu"):  # measured on the CPU only (NumPy's leapfrog)
        return False, math.nan
    cond = correlation_condition(problem.stats)
    return cond <= LAPLACE_NUTS_MAX_COND, cond


def sample_nuts(
    problem: InferenceProblem, options: NUTS, *, num_samples: int, num_chains: int, seed: int,
    progress_bar: bool,
) -> MethodOutput:
    """Draws of ``problem``'s posterior by bayeswd's NUTS (see :class:`bayeswd.infer.NUTS`)."""
    init, cov = gaussian_start(problem)
    pot = potential_for(problem)
    mu = pot.pack(init)
    L = base_factor(cov, pot, mu)
    thin = getattr(pot, "thin", 1)
    target = options.target_for(isinstance(pot, CollapsedGaussianPotential))
    dev = problem.X.device

    def one_chain(chain: int, cseed: int, tick: Any) -> tuple[dict[str, torch.Tensor], dict[str, np.ndarray]]:
        gen = torch.Generator(device=dev).manual_seed(cseed)
        # over-dispersed start: the MAP plus one approximate posterior sd of seeded noise
        q0 = mu + L @ torch.randn(mu.shape, generator=gen, dtype=DTYPE, device=dev)
        res = run_chain(
            pot, q0, mu, L, num_warmup=options.num_warmup, num_samples=num_samples, seed=cseed,
            target_accept_prob=target, max_tree_depth=options.max_tree_depth,
            progress=tick, thin=thin,
        )
        # the sites NUTS did not run on (integrated out) are drawn exactly given each state
        draws = pot.draws(res.draws, torch.Generator(device=dev).manual_seed(cseed + 1))
        stats = {"diverging": res.diverging, "tree_depth": res.tree_depth,
                 "step_size": res.step_size, "acceptance_rate": res.acceptance_rate,
                 "n_steps": res.num_steps}
        return draws, stats

    samples, stats = run_chains(
        one_chain, num_chains=num_chains, seed=seed,
        iterations=options.num_warmup + num_samples * thin, progress_bar=progress_bar, desc="NUTS",
    )
    info = {"num_warmup": options.num_warmup, "backend": options.backend,
            "max_tree_depth": options.max_tree_depth,
            "target_accept_prob": target,
            "likelihood": "sufficient statistics" if pot.use_stats else "design matrix",
            "parameterisation": _PARAMETERISATION[type(pot)], "thin": thin}
    return MethodOutput(samples=samples, sample_stats=stats, info=info)
