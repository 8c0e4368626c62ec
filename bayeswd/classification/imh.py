r"""Independence Metropolis-Hastings on the Laplace approximation (``method="laplace_mh"``).

Where the rows outnumber the parameters the posterior of a logistic or softmax regression is close
to the gaussian ``N(MAP, H^{-1})`` of :func:`~bayeswd.classification.potential.gaussian_approximation`.
That gaussian, mixed with a heavier-tailed component, is then a good *independence* proposal:
Metropolis-Hastings accepts a proposal ``x'`` from state ``x`` with probability
``min(1, w(x') / w(x))``, ``w = p / q``, so the chain targets the exact posterior whatever the
proposal's error; the error only costs acceptance. The proposals of every chain are drawn and their
log densities evaluated in blocks (at most :data:`BLOCK_NUMBERS` numbers of proposals, their logits
in chunks of at most :data:`CHUNK_NUMBERS`), each a few batched matrix products; the accept/reject
scan is a cheap loop over scalars (:func:`bayeswd.infer.imh.independence_chains`), each chain
carrying its state from block to block.

The proposal is ``q = (1 - DEFENSIVE) N(m, S) + DEFENSIVE t_4(m, S)``, ``m`` the MAP and ``S = H^{-1}``,
and the chains, the pilot run and the choice of ``thin`` are those of the regression sampler
(:mod:`bayeswd.infer.imh`, where they are described). ``thin = ceil(2/a - 1)`` gave a tail ESS of
246 for 4000 draws on breast_cancer at ``a = 0.25``; ``ceil(4/a) - 3`` keeps it near the number of
draws on the benchmark problems.

Below an acceptance of about 0.4 thinning does not rescue it: the proposal's tails are then lighter
than the posterior's in some direction (near-separated classes), a few proposals carry huge weights
and hold the chain for hundreds of steps (breast_cancer, ``a = 0.25``: a tail ESS of 110 for 4000
draws at ``thin = 13``, worse than at ``thin = 7``). Hence :data:`AUTO_MIN_ACCEPT`.

``method="auto"`` runs this sampler when the pilot acceptance is at least :data:`AUTO_MIN_ACCEPT`
(``tau`` fixed), NUTS otherwise.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np
import torch

from bayeswd._validation import check_positive_int
from bayeswd.classification.potential import GaussianApproximation, batched_log_density, site_draws
from bayeswd.classification.problem import GLMProblem
from bayeswd.infer.imh import (
    AUTO_MIN_ACCEPT,
    MAX_THIN,
    MixtureProposal,
    run_independence,
    thin_for,
    weights_of,
)
from bayeswd.infer.imh import pilot_acceptance as shared_pilot
from bayeswd.infer.start import MethodOutput

__all__ = ["AUTO_MIN_ACCEPT", "MAX_THIN", "LaplaceMH", "pilot_acceptance", "sample_laplace_mh", "thin_for"]

#: Weight of the Student-t component of the proposal.
DEFENSIVE = 0.1
#: Largest number of logits (draws x rows x columns) held at once by the batched evaluation: 8 MB,
#: about the cache. Measured against 20 million (160 MB, each chunk fresh memory and a trip to
#: RAM for its softplus): 4 chains x 1000 draws took 0.12 against 0.20 s on 1000 x 20, 0.63 against
#: 1.01 s on 5000 x 50, 0.25 against 0.39 s on AR(1) 1000 x 50 (250,000: the same; 100,000: slower).
CHUNK_NUMBERS = 1_000_000
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


class _Proposal(MixtureProposal):
    """``(1 - DEFENSIVE) N(m, S) + DEFENSIVE t_4(m, S)`` of the Laplace approximation ``N(m, S)``."""

    def __init__(self, approx: GaussianApproximation) -> None:
        super().__init__(approx.mean, approx.chol, DEFENSIVE)


def _log_weights(prob: GLMProblem, prop: _Proposal, shape: tuple[int, ...], gen: np.random.Generator
                 ) -> tuple[torch.Tensor, np.ndarray]:
    x, log_q = prop.draw(shape, gen)
    flat = x.reshape(-1, prop.P)
    per_draw = prob.X.shape[0] * prob.m
    chunk = max(1, CHUNK_NUMBERS // max(per_draw, 1))
    log_p = torch.cat([batched_log_density(prob, flat[i:i + chunk]) for i in range(0, flat.shape[0], chunk)])
    return x, weights_of(log_p.reshape(shape), log_q)


def pilot_acceptance(prob: GLMProblem, approx: GaussianApproximation, num_chains: int, seed: int) -> float:
    """Mean acceptance of :data:`~bayeswd.infer.imh.PILOT` independence steps per chain (own stream)."""
    prop = _Proposal(approx)
    return shared_pilot(lambda shape, gen: _log_weights(prob, prop, shape, gen), num_chains, seed)


def sample_laplace_mh(prob: GLMProblem, approx: GaussianApproximation, options: LaplaceMH, *,
                      num_samples: int, num_chains: int, seed: int, pilot: float | None = None
                      ) -> MethodOutput:
    """Draws of ``prob``'s posterior (``tau`` fixed) by independence MH on ``approx``."""
    if pilot is None and options.thin is None:
        pilot = pilot_acceptance(prob, approx, num_chains, seed)
    thin = options.thin if options.thin is not None else thin_for(pilot)
    prop = _Proposal(approx)
    theta, stats, mean_acc = run_independence(
        lambda shape, gen: _log_weights(prob, prop, shape, gen), prop.P, num_chains=num_chains,
        num_warmup=options.num_warmup, num_samples=num_samples, thin=thin, seed=seed,
        device=prob.X.device, block_numbers=BLOCK_NUMBERS)
    info: dict[str, Any] = {"num_warmup": options.num_warmup, "thin": thin,
                            "pilot_acceptance": pilot, "mean_acceptance": mean_acc,
                            "map_iterations": approx.n_iter}
    return MethodOutput(samples=site_draws(prob, theta), sample_stats=stats, info=info)
