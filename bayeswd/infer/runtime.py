"""Every change bayeswd makes to global state, behind small context managers.

Inference touches two pieces of process-wide state: torch's number of intra-op threads (small
problems run on one) and the global random generators that Pyro draws from (seeded inside a run).
Both are set on entry and restored on exit, so a caller's settings survive any bayeswd call.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import numpy as np
import pyro
import torch
from pyro.util import get_rng_state, set_rng_state

__all__ = ["ONE_THREAD_MAX", "chain_seed", "one_thread_if_small", "private_rng"]

#: Latent coordinates up to which a CPU sampler or optimiser runs on one torch thread.
ONE_THREAD_MAX = 2000


def chain_seed(seed: int, chain: int) -> int:
    """Independent, reproducible seed for chain ``chain`` of a run seeded with ``seed``."""
    return int(np.random.SeedSequence([int(seed), int(chain)]).generate_state(1)[0])


@contextmanager
def private_rng(seed: int) -> Iterator[None]:
    """Seed torch's (and Pyro's) global generators inside, restore the caller's state after.

    ``pyro.set_rng_seed`` seeds torch, numpy and python's ``random``; all three (and every CUDA
    device's generator) are restored on exit.
    """
    devices = list(range(torch.cuda.device_count())) if torch.cuda.is_available() else []
    state = get_rng_state()
    with torch.random.fork_rng(devices=devices):
        try:
            pyro.set_rng_seed(int(seed) % (2**32))
            yield
        finally:
            set_rng_state(state)


@contextmanager
def one_thread_if_small(device: torch.device, size: int) -> Iterator[None]:
    """Run torch on one CPU thread inside, for problems of up to :data:`ONE_THREAD_MAX` coordinates.

    Loops of many small operations (a sampler, an optimiser) lose to torch's intra-op threads:
    synchronising them costs more than the work (see ``docs/benchmarks.md``, "Measurements
    behind the defaults"). The caller's setting is restored.
    """
    if torch.device(device).type != "cpu" or size > ONE_THREAD_MAX:
        yield
        return
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(threads)
