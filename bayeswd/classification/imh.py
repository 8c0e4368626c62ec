r"""Independence Metropolis-Hastings on the Laplace approximation (``method="laplace_mh"``).

Where the rows outnumber the parameters the posterior of a logistic or softmax regression is close
to the gaussian ``N(MAP, H^{-1})`` of :func:`~bayeswd.classification.potential.gaussian_approximation`.
That gaussian, mixed with a heavier-tailed component, is then a good *independence* proposal:
Metropolis-Hastings accepts a proposal ``x'`` from state ``x`` with probability
``min(1, w(x') / w(x))``, ``w = p / q``, so the chain targets the exact posterior whatever the
proposal's error; the error only costs acceptance. The proposals of every chain are drawn and their
log densities evaluated in blocks (at most :data:`BLOCK_NUMBERS` numbers of proposals, their logits
in chunks of at most :data:`CHUNK_NUMBERS`), each a few batched matrix products; the accept/reject
scan is a cheap loop over steps, vectorised over the chains
(:func:`bayeswd.infer.collapsed.independence_chains`), each chain carrying its state from block to
block.

The proposal is ``q = (1 - DEFENSIVE) N(m, S) + DEFENSIVE t_4(m, S)``, ``m`` the MAP and ``S = H^{-1}``:
the multivariate Student-t component (4 degrees of freedom) has polynomial tails, the posterior
(gaussian prior: gaussian tails; laplace prior: exponential tails) lighter ones, so ``w`` is bounded
and the sampler is uniformly ergodic (Mengersen and Tweedie 1996). Each kept draw is the state after
``thin`` proposals; ``thin`` is chosen from the acceptance of a pilot run of :data:`PILOT` proposals
per chain (an independent stream): ``thin = ceil(4 / a) - 3``, capped at :data:`MAX_THIN`. A chain
that moved with a constant probability ``a`` would have an integrated autocorrelation time of
``2/a - 1``; an independence chain sticks longer at the states of large ``w`` (which hold the tails),
and twice that rule is what kept the tail ESS near the number of draws on the benchmark problems
(``thin = ceil(2/a - 1)`` gave a tail ESS of 246 for 4000 draws on breast_cancer at ``a = 0.25``).

Below an acceptance of about 0.4 thinning does not rescue it: the proposal's tails are then lighter
than the posterior's in some direction (near-separated classes), a few proposals carry huge weights
and hold the chain for hundreds of steps (breast_cancer, ``a = 0.25``: a tail ESS of 110 for 4000
draws at ``thin = 13``, worse than at ``thin = 7``). Hence :data:`AUTO_MIN_ACCEPT`.

``method="auto"`` runs this sampler when the pilot acceptance is at least :data:`AUTO_MIN_ACCEPT`
(``tau`` fixed), NUTS otherwise.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np
import torch

from bayeswd._validation import DTYPE, check_positive_int
from bayeswd.classification.potential import GaussianApproximation, batched_log_density, site_draws
from bayeswd.classification.problem import GLMProblem
from bayeswd.infer.collapsed import independence_chains
from bayeswd.infer.runtime import chain_seed
from bayeswd.infer.start import MethodOutput

__all__ = ["AUTO_MIN_ACCEPT", "LaplaceMH", "pilot_acceptance", "sample_laplace_mh"]

#: Weight of the Student-t component of the proposal.
DEFENSIVE = 0.1
#: Degrees of freedom of that component.
T_DOF = 4.0
#: Proposals per chain of the pilot run that sets ``thin``.
PILOT = 500
#: Most proposals per kept draw.
MAX_THIN = 20
#: ``method="auto"`` runs the independence sampler when the pilot acceptance reaches this.
AUTO_MIN_ACCEPT = 0.4
#: Largest number of logits (draws x rows x columns) held at once by the batched evaluation.
CHUNK_NUMBERS = 20_000_000
#: Proposals are drawn and scanned in blocks of at most this many numbers (chains x steps x P).
BLOCK_NUMBERS = 4_000_000


@dataclass(frozen=True)
class LaplaceMH:
    """Independence Metropolis-Hastings with the Laplace approximation as proposal (exact).

    See :mod:`bayeswd.classification.imh`. Fast (every proposal evaluated in batched matrix
    products) where the posterior is close to the gaussian at the MAP: many rows per parameter, no
    separated classes. Where it is not, acceptance falls and ``thin`` rises to its cap; the
    diagnostics of the result say so. ``tau`` fixed only.

    Parameters
    ----------
    num_warmup : int, default 20
        Kept draws' worth of proposals discarded at the start of each chain (each chain starts at a
        draw of the proposal, which is already close to the posterior).
    thin : int, optional
        Proposals per kept draw; default: chosen from a pilot run's acceptance ``a`` as
        ``ceil(4/a) - 3``, at most 20.
    """

    num_warmup: int = 20
    thin: int | None = None

    name: ClassVar[str] = "laplace_mh"

    def __post_init__(self) -> None:
        object.__setattr__(self, "num_warmup", check_positive_int(self.num_warmup, "num_warmup", minimum=0))
        if self.thin is not None:
            object.__setattr__(self, "thin", check_positive_int(self.thin, "thin"))


class _Proposal:
    """``(1 - DEFENSIVE) N(m, S) + DEFENSIVE t_4(m, S)`` with ``S = L L^T``."""

    def __init__(self, approx: GaussianApproximation) -> None:
        self.m, self.L = approx.mean, approx.chol
        self.P = self.m.numel()
        self.log_det = float(torch.log(self.L.diagonal()).sum())

    def draw(self, shape: tuple[int, ...], gen: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
        """Draws ``(shape..., P)`` and their ``log q`` (up to the same constant for every draw)."""
        dev = self.m.device
        z = torch.randn((*shape, self.P), generator=gen, dtype=DTYPE, device=dev)
        pick_t = torch.rand(shape, generator=gen, dtype=DTYPE, device=dev) < DEFENSIVE
        # the t component: z sqrt(nu / chi2_nu), chi2_nu the sum of squares of nu = 4 normals
        g = torch.randn((*shape, int(T_DOF)), generator=gen, dtype=DTYPE, device=dev)
        scale = torch.where(pick_t, torch.sqrt(T_DOF / (g * g).sum(-1)), torch.ones_like(g[..., 0]))
        z = z * scale.unsqueeze(-1)
        x = self.m + z @ self.L.T
        return x, self.log_q(z)

    def log_q(self, z: torch.Tensor) -> torch.Tensor:
        """``log q`` at ``x = m + L z`` (the ``-log det L`` and ``2 pi`` constants dropped)."""
        r2 = (z * z).sum(-1)
        P, nu = self.P, T_DOF
        log_n = -0.5 * r2
        log_t = (math.lgamma((nu + P) / 2) - math.lgamma(nu / 2) - 0.5 * P * math.log(nu / (2.0))
                 - 0.5 * (nu + P) * torch.log1p(r2 / nu))
        # both densities relative to (2 pi)^{-P/2} |L|^{-1}: N's is exp(-r2/2); t's as written
        # (its normaliser Gamma((nu+P)/2) / (Gamma(nu/2) (nu pi)^{P/2}) times (2 pi)^{P/2})
        return torch.logaddexp(math.log1p(-DEFENSIVE) + log_n, math.log(DEFENSIVE) + log_t)


def _log_weights(prob: GLMProblem, prop: _Proposal, shape: tuple[int, ...], gen: torch.Generator
                 ) -> tuple[torch.Tensor, np.ndarray]:
    x, log_q = prop.draw(shape, gen)
    flat = x.reshape(-1, prop.P)
    per_draw = prob.X.shape[0] * prob.m
    chunk = max(1, CHUNK_NUMBERS // max(per_draw, 1))
    log_p = torch.cat([batched_log_density(prob, flat[i:i + chunk]) for i in range(0, flat.shape[0], chunk)])
    log_w = (log_p.reshape(shape) - log_q).cpu().numpy()
    return x, np.where(np.isfinite(log_w), log_w, -np.inf)


def pilot_acceptance(prob: GLMProblem, approx: GaussianApproximation, num_chains: int, seed: int) -> float:
    """Mean acceptance of :data:`PILOT` independence steps per chain (a stream of its own)."""
    prop = _Proposal(approx)
    gen = torch.Generator(device=prob.X.device).manual_seed(chain_seed(seed, 10_000))
    _, log_w = _log_weights(prob, prop, (num_chains, PILOT), gen)
    u = np.random.default_rng(chain_seed(seed, 10_001)).random(log_w.shape)
    _, accept = independence_chains(log_w, u)
    return float(accept[:, 1:].mean())


def thin_for(acceptance: float) -> int:
    """``ceil(4/a) - 3`` proposals per kept draw, between 1 and :data:`MAX_THIN`."""
    if not acceptance > 0.0:
        return MAX_THIN
    return int(min(MAX_THIN, max(1, math.ceil(4.0 / acceptance - 1e-12) - 3)))


def sample_laplace_mh(prob: GLMProblem, approx: GaussianApproximation, options: LaplaceMH, *,
                      num_samples: int, num_chains: int, seed: int, pilot: float | None = None
                      ) -> MethodOutput:
    """Draws of ``prob``'s posterior (``tau`` fixed) by independence MH on ``approx``."""
    if pilot is None and options.thin is None:
        pilot = pilot_acceptance(prob, approx, num_chains, seed)
    thin = options.thin if options.thin is not None else thin_for(pilot)
    C, warm = num_chains, options.num_warmup
    steps = (warm + num_samples) * thin
    keep = np.zeros(steps, dtype=bool)
    keep[warm * thin + thin - 1::thin] = True  # the state after each block of thin steps
    prop = _Proposal(approx)
    P, dev = prop.P, prob.X.device
    gen = torch.Generator(device=dev).manual_seed(chain_seed(seed, 0))
    rng = np.random.default_rng(chain_seed(seed, 1))
    rows = np.arange(C)
    # step 0: each chain starts at a draw of the proposal; then blocks of proposals, each chain
    # carrying its current state into the next block (memory: one block, not every proposal)
    x0, lw0 = _log_weights(prob, prop, (C, 1), gen)
    cur_x, cur_lw = x0[:, 0], lw0[:, 0]
    accept = np.ones((C, steps))
    moved = np.zeros((C, steps), dtype=bool)
    moved[:, 0] = True
    theta = torch.empty((C, num_samples, P), dtype=DTYPE, device=dev)
    k = 0
    if keep[0]:
        theta[:, 0] = cur_x
        k = 1
    block = max(1, BLOCK_NUMBERS // (C * P))
    g = 1
    while g < steps:
        B = min(block, steps - g)
        xb, lwb = _log_weights(prob, prop, (C, B), gen)
        lw_ext = np.concatenate([cur_lw[:, None], lwb], axis=1)
        st, acc = independence_chains(lw_ext, rng.random((C, B + 1)))  # index 0: the carried state
        accept[:, g:g + B] = acc[:, 1:]
        moved[:, g:g + B] = np.diff(st, axis=1) != 0
        x_ext = torch.cat([cur_x[:, None], xb], dim=1)
        cols = np.flatnonzero(keep[g:g + B])
        if cols.size:
            idx = torch.from_numpy(st[:, cols + 1]).to(dev)
            theta[:, k:k + cols.size] = torch.gather(x_ext, 1, idx.unsqueeze(-1).expand(-1, -1, P))
            k += cols.size
        last = st[:, -1]
        cur_x = x_ext[torch.from_numpy(rows).to(dev), torch.from_numpy(last).to(dev)]
        cur_lw = lw_ext[rows, last]
        g += B
    acc_blocks = accept[:, warm * thin:].reshape(C, num_samples, thin).mean(-1)
    stats = {"acceptance_rate": acc_blocks,
             "accepted": moved[:, warm * thin:].reshape(C, num_samples, thin).any(-1)}
    info: dict[str, Any] = {"num_warmup": options.num_warmup, "thin": thin,
                            "pilot_acceptance": pilot, "mean_acceptance": float(accept[:, 1:].mean()),
                            "map_iterations": approx.n_iter}
    return MethodOutput(samples=site_draws(prob, theta), sample_stats=stats, info=info)
