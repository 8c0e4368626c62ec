"""Every use of Pyro's private API in bayeswd, in one file.

Pyro's public API does not expose a few things bayeswd needs: the per-draw statistics of its
NUTS kernel (divergences, running acceptance, tree depth) and the parts of an autoguide that
make independent draws and set its starting scales. They are read here and nowhere else, and
``tests/test_pyro_internals.py`` exercises each of them, so that a Pyro release that changes one
fails there, by name, instead of deep inside a sampler run.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import torch
from pyro.infer.mcmc import NUTS

__all__ = [
    "JIT_FAILURES",
    "RecordingNUTS",
    "guide_unpack_latent",
    "latent_sites",
    "meanfield_loc_scale",
    "quiet_jit_tracing",
]

#: What tracing a Pyro model or ELBO with ``torch.jit`` raises on a model it cannot trace (e.g. a
#: hyperprior with data-dependent control flow); the caller then falls back to plain autograd.
JIT_FAILURES = (RuntimeError, torch.jit.Error, NotImplementedError, TypeError)


class RecordingNUTS(NUTS):
    """Pyro's NUTS, recording the depth of each trajectory (top-level doublings).

    Also reads the kernel's private running statistics: :meth:`divergence_count` and
    :attr:`mean_accept_prob`.
    """

    def sample(self, params: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        """One transition (Pyro's), with the depth of its trajectory in :attr:`depth_now`."""
        self.depth_now = 0
        return super().sample(params)

    def _build_tree(self, z, r, z_grads, log_slice, direction, tree_depth, energy_current):  # noqa: ANN001, ANN202
        self.depth_now = max(getattr(self, "depth_now", 0), int(tree_depth) + 1)
        return super()._build_tree(z, r, z_grads, log_slice, direction, tree_depth, energy_current)

    def divergence_count(self) -> int:
        """Divergent transitions so far (Pyro keeps their indices in ``_divergences``)."""
        return len(self._divergences)

    @property
    def mean_accept_prob(self) -> float:
        """Pyro's running mean acceptance probability (reset at the end of warm-up)."""
        return float(self._mean_accept_prob)


def latent_sites(guide: Any) -> list[tuple[str, dict[str, Any]]]:
    """``(name, site)`` of every latent sample site of an autoguide's prototype trace."""
    return [
        (name, site) for name, site in guide.prototype_trace.iter_stochastic_nodes()
        if not site["is_observed"]
    ]


def meanfield_loc_scale(guide: Any, site_name: str) -> tuple[torch.Tensor, torch.Tensor]:
    """Location and scale of ``site_name`` in an ``AutoNormal`` guide (unconstrained)."""
    return guide._get_loc_and_scale(site_name)


def guide_unpack_latent(guide: Any, latent: torch.Tensor) -> Iterator[tuple[dict[str, Any], torch.Tensor]]:
    """``(site, unconstrained value)`` pairs of a joint latent draw of an ``AutoContinuous`` guide."""
    return guide._unpack_latent(latent)


@contextmanager
def quiet_jit_tracing() -> Iterator[None]:
    """Silence the warnings ``torch.jit.trace`` raises when Pyro traces a model or an ELBO.

    The tracer's ``TracerWarning`` s, and the ``DeprecationWarning`` of ``torch.jit.trace`` itself
    (torch >= 2.10; Pyro's ``jit_compile`` still uses it), by category and module.
    """
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", category=torch.jit.TracerWarning)
        warnings.filterwarnings("ignore", category=DeprecationWarning, module=r"torch\.jit(\.|$)")
        yield
