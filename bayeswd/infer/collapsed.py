r"""The gaussian model with sampled scales by an independence sampler on a grid (:class:`Collapsed`).

With a gaussian prior the weights and the intercept integrate out
(:class:`~bayeswd.infer.collapsed_gaussian.CollapsedGaussianPotential`): what is left is the
posterior of one or two scales, ``p(sigma, tau | y)``, whose log density costs ``O(min(n, d))``
after one eigendecomposition and is evaluated for many points at once. In one or two dimensions
that density can be *tabulated*:

1. **Grid.** The log density is evaluated on a regular grid in whitened unconstrained
   coordinates (``u = log sigma``, ``log tau`` for the default priors, ``u = u0 + L z`` with ``L``
   the Laplace approximation's Cholesky factor at the start ``u0`` of every method,
   :func:`bayeswd.infer.start.gaussian_start`), widened until the density at every edge is
   below ``exp(-EDGE_DROP)`` times its maximum, then narrowed to that region.
2. **Proposal.** A piecewise-constant density over the grid's cells (each cell's mass the
   largest density at its centre and corners times its area), mixed with weight :data:`DEFENSIVE` with a wide
   Student-t (3 degrees of freedom, centred at the grid's mode, scaled to the grid's half-width):
   the mixture is positive everywhere, so nothing the grid missed is excluded.
3. **Exactness.** Each chain is an independence Metropolis-Hastings chain on proposals from that
   mixture (Tierney 1994): a proposal ``x'`` replaces ``x`` with probability
   ``min(1, w(x') / w(x))``, ``w = p / q``. The chain's stationary law is the exact posterior
   whatever the grid's error; the grid's accuracy only sets the acceptance rate (above 0.9
   on the problems of the benchmark grid), and so how close the draws come to independent.
4. **The rest exactly.** Given each kept ``(sigma, tau)`` the weights are drawn from their
   conjugate gaussian and the intercept given the weights
   (:meth:`~bayeswd.infer.collapsed_gaussian.CollapsedGaussianPotential.draws`).

Every proposal of every chain is drawn and evaluated at once (proposals do not depend on the
state), so the cost is one batched evaluation of ``chains x (warm-up + draws)`` points plus the
grid; only the accept/reject scan runs in a loop, on numbers.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import torch

from bayeswd._validation import DTYPE
from bayeswd.infer.collapsed_gaussian import CollapsedGaussianPotential
from bayeswd.infer.imh import independence_chains
from bayeswd.infer.options import Collapsed
from bayeswd.infer.runtime import one_thread_if_small
from bayeswd.infer.start import InferenceProblem, MethodOutput, gaussian_start

__all__ = ["GridProposal", "check_collapsed", "sample_collapsed"]

#: The grid covers the region where the log density is within this of its maximum
#: (``exp(-30)``: about 1e-13 of the peak density, far below any Monte Carlo error).
EDGE_DROP = 30.0
#: Weight of the wide Student-t in the proposal mixture (covers what the grid misses).
DEFENSIVE = 0.01
#: Points per dimension of the coarse grid that finds the region holding the density.
SEARCH_POINTS = 64
#: The fine grid has about this many numbers ``points^D x k`` (``k`` eigenvalues), within
#: :data:`GRID_RANGE` points per dimension: a finer table, a higher acceptance rate.
GRID_BUDGET = 3e7
GRID_RANGE = {1: (1024, 8192), 2: (256, 768)}


def grid_points(dim: int, num_eigenvalues: int) -> int:
    """Points per dimension of the fine grid for ``dim`` scales and ``num_eigenvalues`` terms."""
    lo, hi = GRID_RANGE[dim]
    return int(min(max((GRID_BUDGET / max(num_eigenvalues, 1)) ** (1.0 / dim), lo), hi))


def check_collapsed(prior: str, sigma: Any, tau: Any) -> None:
    """Raise unless the collapsed sampler applies: gaussian prior, ``sigma`` or ``tau`` sampled."""
    if prior != "gaussian":
        raise ValueError(
            "`method` 'collapsed' needs prior='gaussian' (the weights integrate out in closed form "
            f"under the gaussian prior only); got prior={prior!r}: use method='gibbs' or 'nuts'."
        )
    if isinstance(sigma, float) and isinstance(tau, float):
        raise ValueError(
            "`method` 'collapsed' samples sigma and/or tau with the weights integrated out; both are "
            "fixed here (sigma and tau are numbers): use method='exact' (independent draws of the "
            "conjugate posterior), or pass sigma=None or tau=None to sample them."
        )


class GridProposal:
    """The proposal of the independence sampler: a tabulated density on a grid plus a wide t.

    Parameters
    ----------
    log_density : callable
        Batched log density (up to a constant) of points of shape (m, D), ``D`` in {1, 2}.
    center : torch.Tensor, shape (D,)
        Where the search for the grid starts (near the mode).
    scale : torch.Tensor, shape (D,)
        A rough posterior sd per coordinate: the grid starts at ``center +- 8 scale``.
    points : int
        Grid points per dimension.
    """

    def __init__(self, log_density: Any, center: torch.Tensor, scale: torch.Tensor, points: int) -> None:
        self.dim, self.points = center.numel(), SEARCH_POINTS
        self.dtype, self.device = center.dtype, center.device
        half = 8.0 * scale.clamp(min=1e-3)
        lower, upper = center - half, center + half
        for _ in range(40):  # on a coarse grid: widen until the edges hold negligible density, then narrow
            logp = self._evaluate(log_density, lower, upper)
            moved, lower, upper = self._adjust(logp, lower, upper)
            if not moved:
                break
        self.points = points
        self.lower, self.upper = lower, upper
        self.width = (upper - lower) / points
        logp = self._cell_envelope(log_density, lower, upper)
        if not bool(torch.isfinite(logp).any()):
            raise ValueError("the posterior of the scales has no finite density on its grid")
        self.log_cell = logp.reshape(-1)
        flat = self.log_cell - self.log_cell.max()
        mass = flat.exp()
        self.log_norm = math.log(float(mass.sum())) + float(self.width.log().sum())
        self.cell_prob = mass / mass.sum()
        peak = int(torch.argmax(self.log_cell))
        self.mode = self._cell_centres(torch.tensor([peak], device=self.device))[0]
        self.t_scale = (upper - lower) / 2.0
        self.t = torch.distributions.StudentT(
            torch.tensor(3.0, dtype=self.dtype, device=self.device), self.mode, self.t_scale)

    # -- the grid --------------------------------------------------------------------------------

    def _axes(self, lower: torch.Tensor, upper: torch.Tensor) -> list[torch.Tensor]:
        h = (upper - lower) / self.points
        return [lower[j] + h[j] * (torch.arange(self.points, dtype=self.dtype, device=self.device) + 0.5)
                for j in range(self.dim)]

    def _evaluate(self, log_density: Any, lower: torch.Tensor, upper: torch.Tensor) -> torch.Tensor:
        axes = self._axes(lower, upper)
        mesh = torch.stack(torch.meshgrid(*axes, indexing="ij"), dim=-1).reshape(-1, self.dim)
        return log_density(mesh).reshape((self.points,) * self.dim)

    def _cell_envelope(self, log_density: Any, lower: torch.Tensor, upper: torch.Tensor) -> torch.Tensor:
        """Per cell, the largest log density at its centre and its ``2^D`` corners.

        Nearly an upper envelope of the density over the cell, so that ``p / q`` stays bounded
        where the density is steep (a cell's centre alone can sit far below its upper edge, and
        a proposal there then holds a chain for many steps).
        """
        centre = self._evaluate(log_density, lower, upper)
        h = (upper - lower) / self.points
        nodes = [lower[j] + h[j] * torch.arange(self.points + 1, dtype=self.dtype, device=self.device)
                 for j in range(self.dim)]
        mesh = torch.stack(torch.meshgrid(*nodes, indexing="ij"), dim=-1).reshape(-1, self.dim)
        corner = log_density(mesh).reshape((self.points + 1,) * self.dim)
        best = centre
        for offsets in torch.cartesian_prod(*[torch.tensor([0, 1])] * self.dim).reshape(-1, self.dim):
            index = tuple(slice(int(o), int(o) + self.points) for o in offsets)
            best = torch.maximum(best, corner[index])
        return best

    def _adjust(self, logp: torch.Tensor, lower: torch.Tensor, upper: torch.Tensor
                ) -> tuple[bool, torch.Tensor, torch.Tensor]:
        """Widen a side whose edge holds density; else narrow to the region that holds it."""
        top = float(logp.max())
        if not math.isfinite(top):  # nothing finite: look wider
            return True, lower - (upper - lower), upper + (upper - lower)
        keep = logp > top - EDGE_DROP
        lower, upper = lower.clone(), upper.clone()
        h = (upper - lower) / self.points
        moved = False
        narrowed_lower, narrowed_upper = lower.clone(), upper.clone()
        for j in range(self.dim):
            other = tuple(k for k in range(self.dim) if k != j)
            profile = keep.any(dim=other) if other else keep
            idx = torch.nonzero(profile).reshape(-1)
            first, last = int(idx[0]), int(idx[-1])
            span = upper[j] - lower[j]
            if first == 0:
                lower[j] = lower[j] - span
                moved = True
            if last == self.points - 1:
                upper[j] = upper[j] + span
                moved = True
            narrowed_lower[j] = lower[j] + h[j] * max(first - 1, 0)
            narrowed_upper[j] = lower[j] + h[j] * min(last + 2, self.points)
            if (last - first + 1) >= self.points // 2:  # already fills the grid
                narrowed_lower[j], narrowed_upper[j] = lower[j], upper[j]
        if moved:
            return True, lower, upper
        if bool(((narrowed_lower != lower) | (narrowed_upper != upper)).any()):
            return True, narrowed_lower, narrowed_upper
        return False, lower, upper

    def _cell_centres(self, flat_index: torch.Tensor) -> torch.Tensor:
        idx = torch.stack(torch.unravel_index(flat_index, (self.points,) * self.dim), dim=-1)
        return self.lower + self.width * (idx.to(self.dtype) + 0.5)

    # -- the proposal ----------------------------------------------------------------------------

    def sample(self, m: int, gen: torch.Generator) -> torch.Tensor:
        """``m`` draws of the mixture, shape (m, D)."""
        cells = torch.multinomial(self.cell_prob, m, replacement=True, generator=gen)
        offset = torch.rand((m, self.dim), generator=gen, dtype=self.dtype, device=self.device) - 0.5
        x = self._cell_centres(cells) + offset * self.width
        wide = torch.rand(m, generator=gen, dtype=self.dtype, device=self.device) < DEFENSIVE
        if bool(wide.any()):
            k = int(wide.sum())
            # independent t's, one per coordinate (the density of log_prob): a normal over the
            # root of its own chi-square with 3 degrees of freedom (a sum of 3 squared normals)
            z = torch.randn((k, self.dim, 4), generator=gen, dtype=self.dtype, device=self.device)
            chi2 = (z[..., 1:] ** 2).sum(-1)
            x[wide] = self.mode + self.t_scale * z[..., 0] / (chi2 / 3.0).sqrt()
        return x

    def log_prob(self, x: torch.Tensor) -> torch.Tensor:
        """Log density of the mixture at the rows of ``x`` (normalised)."""
        rel = (x - self.lower) / self.width
        inside = ((rel >= 0) & (rel < self.points)).all(dim=-1)
        idx = rel.clamp(0, self.points - 1).floor().long()
        flat = torch.zeros(x.shape[0], dtype=torch.long, device=x.device)
        for j in range(self.dim):
            flat = flat * self.points + idx[:, j]
        log_grid = self.log_cell[flat] - float(self.log_cell.max()) - self.log_norm
        log_grid = torch.where(inside, log_grid, log_grid.new_tensor(-math.inf))
        log_t = self.t.log_prob(x).sum(-1)
        log_share = math.log1p(-DEFENSIVE) if DEFENSIVE < 1.0 else -math.inf
        return torch.logaddexp(log_share + log_grid, math.log(DEFENSIVE) + log_t)


def sample_collapsed(
    problem: InferenceProblem, options: Collapsed, *, num_samples: int, num_chains: int, seed: int,
    progress_bar: bool,
) -> MethodOutput:
    """Draws of the gaussian model with sampled scales (see :mod:`bayeswd.infer.collapsed`).

    On the CPU everything runs on one torch thread when ``min(n, d)`` is at most
    :data:`~bayeswd.infer.runtime.ONE_THREAD_MAX`: the eigendecomposition and the chunks of the
    batched evaluations are small, and torch's intra-op threads made them 5-40 times slower on the
    benchmark machine (100 times for a 200 x 200 ``eigh`` when another process held a core).
    """
    del progress_bar  # a few batched evaluations: no loop worth a bar
    with one_thread_if_small(problem.X.device, min(problem.X.shape)):
        pot = CollapsedGaussianPotential(problem.X, problem.y, stats=problem.stats, **problem.model_kwargs)
        return _sample(pot, problem, options, num_samples, num_chains, seed)


def _sample(pot: CollapsedGaussianPotential, problem: InferenceProblem, options: Collapsed,
            num_samples: int, num_chains: int, seed: int) -> MethodOutput:
    init, _ = gaussian_start(problem)
    center = pot.pack(init)
    # the grid lives in whitened coordinates z, q = center + L z, L the Cholesky factor of the
    # Laplace approximation's covariance: a correlated (sigma, tau) posterior (a ridge when n < d)
    # fills the box instead of its diagonal; the constant Jacobian cancels in the MH ratio
    factor = pot.curvature_factor(center)
    if factor is None:
        factor = torch.eye(pot.size, dtype=center.dtype, device=center.device)

    def log_density_z(Z: torch.Tensor) -> torch.Tensor:
        return pot.log_density(center + Z @ factor.T)

    points = options.grid_points or grid_points(pot.size, int(pot.num_terms))
    proposal = GridProposal(log_density_z, torch.zeros_like(center), torch.ones_like(center), points)
    dev = problem.X.device
    gen = torch.Generator(device=dev).manual_seed(int(seed))
    steps = options.num_warmup + num_samples
    z = proposal.sample(num_chains * steps, gen)
    log_w = (log_density_z(z) - proposal.log_prob(z)).reshape(num_chains, steps)
    x = center + z @ factor.T
    u = torch.rand((num_chains, steps), generator=gen, dtype=DTYPE, device=dev)
    state, accept_prob = independence_chains(log_w.cpu().numpy(), u.cpu().numpy())
    kept = state[:, options.num_warmup:]
    Q = x.reshape(num_chains, steps, -1)[torch.arange(num_chains).unsqueeze(-1),
                                         torch.as_tensor(kept, device=dev)]
    draws = pot.draws(Q.reshape(num_chains * num_samples, -1), gen)
    samples = {k: v.reshape(num_chains, num_samples, *v.shape[1:]) for k, v in draws.items()}
    moved = np.zeros_like(kept, dtype=bool)
    moved[:, 1:] = kept[:, 1:] != kept[:, :-1]
    moved[:, 0] = kept[:, 0] != (state[:, options.num_warmup - 1] if options.num_warmup else -1)
    stats = {"acceptance_rate": accept_prob[:, options.num_warmup:].copy(), "accepted": moved}
    info = {"num_warmup": options.num_warmup, "grid_points": points,
            "likelihood": "sufficient statistics" if pot.use_stats else "design matrix",
            "parameterisation": "weights and intercept integrated out",
            "mean_acceptance": float(accept_prob[:, options.num_warmup:].mean())}
    return MethodOutput(samples=samples, sample_stats=stats, info=info)
