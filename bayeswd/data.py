"""Data helpers: synthetic regression data and the benchmark problems (docs/mathematics.md, section 4)."""

from __future__ import annotations

import math
from typing import Any, NamedTuple

import numpy as np
import torch

from bayeswd._validation import DTYPE, check_positive, check_positive_int

__all__ = [
    "RegressionData",
    "SeedProblem",
    "correlated_problem",
    "seed_problem",
    "synthetic_data",
    "tall_problem",
]


class RegressionData(NamedTuple):
    """A regression data set ``y = X w + b + noise`` with the truth that generated it.

    Attributes
    ----------
    X : torch.Tensor
        Design matrix, shape ``(n, d)``, float64.
    y : torch.Tensor
        Targets, shape ``(n,)``, float64.
    w : torch.Tensor
        True weights, shape ``(d,)``.
    b : float
        True intercept.
    noise : float
        Standard deviation of the Gaussian noise.
    """

    X: torch.Tensor
    y: torch.Tensor
    w: torch.Tensor
    b: float
    noise: float


def synthetic_data(
    w: Any, b: float, n: int, noise: float = 0.01, *, seed: int = 0
) -> RegressionData:
    """Draw ``y = X w + b + eps`` with ``X ~ Normal(0, 1)`` entrywise and ``eps ~ Normal(0, noise^2)``.

    Parameters
    ----------
    w : array_like, shape (d,)
        True weights.
    b : float
        True intercept.
    n : int
        Number of rows.
    noise : float, default 0.01
        Noise standard deviation (must be positive).
    seed : int, default 0
        Seed of a private ``torch.Generator``: the global random state is not touched.

    Returns
    -------
    RegressionData
        ``X`` of shape ``(n, d)``, ``y`` of shape ``(n,)`` and the truth, all float64 on the CPU.

    Examples
    --------
    >>> data = synthetic_data(torch.tensor([2.0, -3.4]), 4.2, n=1000, seed=0)
    >>> data.X.shape, data.y.shape
    (torch.Size([1000, 2]), torch.Size([1000]))
    """
    w_t = torch.as_tensor(np.asarray(w, dtype=np.float64) if not isinstance(w, torch.Tensor) else w)
    w_t = w_t.detach().to(dtype=DTYPE, device="cpu")
    if w_t.ndim != 1 or w_t.numel() == 0:
        raise ValueError(f"`w` must be a non-empty 1-D array of weights; got shape {tuple(w_t.shape)}.")
    if not bool(torch.isfinite(w_t).all()):
        raise ValueError("`w` must contain only finite values; got NaN or inf.")
    b = float(b)
    if not math.isfinite(b):
        raise ValueError(f"`b` must be a finite number; got {b!r}.")
    n = check_positive_int(n, "n")
    noise = check_positive(noise, "noise")
    gen = torch.Generator().manual_seed(int(seed))
    X = torch.randn(n, w_t.numel(), generator=gen, dtype=DTYPE)
    y = X @ w_t + b + noise * torch.randn(n, generator=gen, dtype=DTYPE)
    return RegressionData(X=X, y=y, w=w_t, b=b, noise=noise)


class SeedProblem(NamedTuple):
    """The "seed" benchmark problem (docs/mathematics.md, section 4): train and test sets and settings.

    Attributes
    ----------
    train, test : RegressionData
        20 training rows and 100 test rows, 200 features, true ``w = 0.01``, ``b = 0.05``.
    sigma : float
        The known noise sd, 0.01.
    tau : float
        Gaussian prior sd equal to training with ``SGD(weight_decay=3)`` on ``MSELoss`` (mean):
        ``tau = sqrt(2 sigma^2 / (n_train * 3)) = 1.826e-3``.
    tau_laplace : float
        Laplace scale with the same prior variance, ``tau / sqrt(2)``.
    weight_decay : float
        The optimiser setting the problem is built around, 3.
    """

    train: RegressionData
    test: RegressionData
    sigma: float
    tau: float
    tau_laplace: float
    weight_decay: float


def seed_problem(
    *, n_train: int = 20, n_test: int = 100, d: int = 200, weight_decay: float = 3.0, seed: int = 0
) -> SeedProblem:
    """The classic high-dimensional weight-decay demo, with its prior settings.

    ``n_train = 20``, ``n_test = 100``, ``d = 200``, ``X ~ Normal(0, 1)``, true ``w = 0.01``
    everywhere, ``b = 0.05``, noise sd ``0.01``. Training with ``torch.optim.SGD(weight_decay=3)`` on
    ``MSELoss(reduction="mean")`` is MAP under a Gaussian prior with
    ``tau = sqrt(2 sigma^2 / (n_train * weight_decay))``.

    Parameters
    ----------
    n_train, n_test, d : int
        Sizes; the defaults are the problem of docs/mathematics.md, section 4.
    weight_decay : float, default 3.0
        The SGD weight decay that fixes ``tau``.
    seed : int, default 0
        Seed for the data (the test set uses ``seed + 1``).

    Returns
    -------
    SeedProblem
    """
    from bayeswd.conventions import tau_from_weight_decay

    n_train = check_positive_int(n_train, "n_train", minimum=2)
    n_test = check_positive_int(n_test, "n_test")
    d = check_positive_int(d, "d")
    sigma = 0.01
    w = torch.full((d,), 0.01, dtype=DTYPE)
    train = synthetic_data(w, 0.05, n_train, sigma, seed=seed)
    test = synthetic_data(w, 0.05, n_test, sigma, seed=seed + 1)
    tau = tau_from_weight_decay(weight_decay, sigma=sigma, n=n_train, loss="mse_mean")
    return SeedProblem(train, test, sigma, tau, tau / math.sqrt(2.0), float(weight_decay))


def _sizes_and_generator(n: int, d: int, noise: float, seed: int) -> tuple[int, int, float, torch.Generator]:
    """Validated ``(n, d, noise)`` of a random-weights problem, and its private seeded generator."""
    n = check_positive_int(n, "n", minimum=2)
    d = check_positive_int(d, "d")
    noise = check_positive(noise, "noise")
    return n, d, noise, torch.Generator().manual_seed(int(seed))


def correlated_problem(
    *, n: int = 2000, d: int = 50, rho: float = 0.9, noise: float = 1.0, seed: int = 0
) -> RegressionData:
    """The "correlated" benchmark problem: rows of X with AR(1) correlation ``rho^|i-j|``.

    True weights are drawn from ``Normal(0, 1)`` (the problem's ``tau = 1``), ``b = 0``.
    """
    if not -1.0 < float(rho) < 1.0:
        raise ValueError(f"`rho` must lie in (-1, 1); got {rho!r}.")
    n, d, noise, gen = _sizes_and_generator(n, d, noise, seed)
    z = torch.randn(n, d, generator=gen, dtype=DTYPE)
    X = torch.empty_like(z)
    X[:, 0] = z[:, 0]
    scale = math.sqrt(1.0 - rho**2)
    for j in range(1, d):
        X[:, j] = rho * X[:, j - 1] + scale * z[:, j]
    w = torch.randn(d, generator=gen, dtype=DTYPE)
    y = X @ w + noise * torch.randn(n, generator=gen, dtype=DTYPE)
    return RegressionData(X=X, y=y, w=w, b=0.0, noise=noise)


def tall_problem(
    *, n: int = 1_000_000, d: int = 100, noise: float = 1.0, seed: int = 0
) -> RegressionData:
    """The "tall" benchmark problem: many more rows than columns (float64 ``X`` is 800 MB).

    ``X ~ Normal(0, 1)``, true weights ``Normal(0, 1)``, ``b = 0.5``, noise sd ``noise``. Made in
    place, without temporaries the size of ``X``.

    Parameters
    ----------
    n, d : int
        Sizes; the defaults are the problem of docs/mathematics.md, section 4.
    noise : float, default 1.0
    seed : int, default 0

    Returns
    -------
    RegressionData
    """
    n, d, noise, gen = _sizes_and_generator(n, d, noise, seed)
    w = torch.randn(d, generator=gen, dtype=DTYPE)
    X = torch.empty((n, d), dtype=DTYPE).normal_(generator=gen)
    y = torch.addmv(torch.full((n,), 0.5, dtype=DTYPE), X, w)
    y.add_(torch.randn(n, generator=gen, dtype=DTYPE), alpha=noise)
    return RegressionData(X=X, y=y, w=w, b=0.5, noise=noise)
