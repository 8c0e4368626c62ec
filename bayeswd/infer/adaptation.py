"""Warm-up adaptation of bayeswd's NUTS: Stan's windows, dual averaging and a running variance.

The sampler (:mod:`bayeswd.infer.kernel`) knows nothing of adaptation; the chain driver
(:func:`bayeswd.infer.nuts.run_chain`) feeds these the transitions of the warm-up:

* :func:`windows`: Stan's schedule (a fast initial buffer, doubling slow windows in which the
  metric is estimated, a fast terminal buffer);
* :class:`DualAveraging`: Nesterov dual averaging of the log step size towards a target mean
  acceptance (Hoffman and Gelman 2014, with Stan's constants);
* :class:`WelfordVariance`: the running variance of the draws in a slow window, regularised as
  Stan regularises its metric.
"""

from __future__ import annotations

import math

import numpy as np
import torch

__all__ = ["DualAveraging", "WelfordVariance", "windows"]


def windows(num_warmup: int) -> tuple[int, int, list[int]]:
    """Stan's warm-up schedule: (init buffer, term buffer, ends of the metric windows)."""
    init, term, base = 75, 50, 25
    if num_warmup < 20:
        return num_warmup, 0, []
    if init + term + base > num_warmup:
        init, term = int(0.15 * num_warmup), int(0.1 * num_warmup)
        base = num_warmup - init - term
    ends, start, size = [], init, base
    while True:
        end = start + size
        if end + 2 * size > num_warmup - term:  # the next window would not fit: stretch this one
            ends.append(num_warmup - term)
            break
        ends.append(end)
        start, size = end, 2 * size
    return init, term, ends


class DualAveraging:
    """Nesterov dual averaging of the log step size (Hoffman and Gelman 2014; Stan's constants)."""

    def __init__(self, step: float, target: float) -> None:
        self.target = target
        self.restart(step)

    def restart(self, step: float) -> None:
        """Start again around ``step`` (after the metric changed)."""
        self.mu, self.t, self.h_bar, self.log_bar = math.log(10.0 * step), 0, 0.0, 0.0

    def update(self, accept: float) -> float:
        """The next step size, given the mean acceptance of the last transition."""
        gamma, t0, kappa = 0.05, 10.0, 0.75
        self.t += 1
        eta = 1.0 / (self.t + t0)
        self.h_bar = (1.0 - eta) * self.h_bar + eta * (self.target - accept)
        log_step = self.mu - math.sqrt(self.t) / gamma * self.h_bar
        w = self.t ** (-kappa)
        self.log_bar = w * log_step + (1.0 - w) * self.log_bar
        return math.exp(log_step)

    @property
    def final(self) -> float:
        """The averaged step size used after warm-up."""
        return math.exp(self.log_bar)


class WelfordVariance:
    """Running mean and variance of vectors (Welford's algorithm), reset at each window."""

    def __init__(self, like: torch.Tensor | np.ndarray) -> None:
        self.mean = like * 0.0  # a torch tensor or a NumPy array, like ``like``
        self.m2 = like * 0.0
        self.count = 0

    def update(self, value: torch.Tensor | np.ndarray) -> None:
        """Add one vector."""
        self.count += 1
        delta = value - self.mean
        self.mean += delta / self.count
        self.m2 += delta * (value - self.mean)

    def regularised_variance(self) -> torch.Tensor | np.ndarray:
        """Sample variance shrunk towards 1 with weight ``5 / (count + 5)`` (Stan's rule)."""
        n = self.count
        var = self.m2 / (n - 1)
        return (n / (n + 5.0)) * var + 5.0 / (n + 5.0)

    def reset(self) -> None:
        """Forget every vector added so far."""
        self.mean *= 0.0
        self.m2 *= 0.0
        self.count = 0
