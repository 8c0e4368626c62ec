"""The loop over chains shared by every sampler: seeds, one progress bar, stacked draws."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import torch

from bayeswd.infer.runtime import chain_seed

__all__ = ["ChainOutput", "run_chains"]

#: ``(draws, stats)`` of one chain: site name to (num_samples, ...) tensor, and statistic name
#: to a (num_samples,) numpy array.
ChainOutput = tuple[dict[str, torch.Tensor], dict[str, np.ndarray]]


def run_chains(
    one_chain: Callable[[int, int, Callable[[], Any] | None], ChainOutput], *, num_chains: int,
    seed: int, iterations: int, progress_bar: bool, desc: str,
) -> tuple[dict[str, torch.Tensor], dict[str, np.ndarray]]:
    """Run ``one_chain(chain, chain_seed, tick)`` for each chain; stack draws and statistics.

    Chain ``c`` gets the seed :func:`bayeswd.infer.runtime.chain_seed` ``(seed, c)``; ``tick``
    advances the one progress bar (``iterations`` per chain), or is ``None`` without one.
    Returns draws with leading ``(chain, draw)`` axes and statistics of shape (chain, draw).
    """
    bar = None
    if progress_bar:
        from tqdm.auto import tqdm

        bar = tqdm(total=num_chains * iterations, desc=desc)
    draws: list[dict[str, torch.Tensor]] = []
    stats: list[dict[str, np.ndarray]] = []
    try:
        for chain in range(num_chains):
            if bar is not None:
                bar.set_description(f"{desc} chain {chain + 1}/{num_chains}")
            tick = None if bar is None else (lambda: bar.update(1))
            d, s = one_chain(chain, chain_seed(seed, chain), tick)
            draws.append(d)
            stats.append(s)
    finally:
        if bar is not None:
            bar.close()
    samples = {k: torch.stack([c[k] for c in draws]).detach() for k in draws[0]}
    return samples, {k: np.stack([s[k] for s in stats]) for k in stats[0]}
