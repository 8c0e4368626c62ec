r"""Comparing posteriors by K-fold cross-validation with refits: the check PSIS-LOO cannot make.

PSIS-LOO (:func:`~bayeswd.selection.compare_priors`) reuses one posterior for every left-out row by
importance sampling. When one row moves the posterior a lot (every row does when ``d >= n``), the
importance weights have a heavy tail, the Pareto ``k`` diagnostic exceeds 0.7 and the estimate is
unreliable (Vehtari, Gelman and Gabry 2017). The remedy is to refit: here the rows are dealt into
``k`` seeded folds, each posterior is refitted without each fold, and the held-out rows are scored by
their log predictive density under the refitted posterior,

.. math::

    \widehat{\mathrm{elpd}}_i = \log \frac{1}{S} \sum_{s=1}^S
        \mathcal{N}\bigl(y_i \mid x_i^\top w^{(s)}_{-k(i)} + b^{(s)}_{-k(i)},\ \sigma^{(s)2}_{-k(i)}\bigr),

summed over rows (``elpd_kfold``). Its standard error is ``sqrt(n var_i(elpd_i))`` (``ddof=0``,
as ArviZ's LOO), and the
difference between two posteriors is judged by the same rule on the pointwise differences (``dse``),
as for LOO.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd
import torch

from bayeswd._validation import check_positive_int, check_seed, describe
from bayeswd.selection.paths import as_xy

__all__ = ["kfold_compare", "kfold_pointwise"]

_FORBIDDEN = ("seed", "progress_bar")


def _folds(n: int, k: int, seed: int) -> np.ndarray:
    """Fold of each row: a seeded permutation, rows dealt out in turn (as :func:`cv_curve` does)."""
    perm = np.random.default_rng(seed).permutation(n)
    folds = np.empty(n, dtype=np.int64)
    folds[perm] = np.arange(n) % k
    return folds


def _check_models(models: Any) -> dict[str, dict[str, Any]]:
    if not isinstance(models, Mapping) or len(models) < 1:
        raise ValueError(
            "`models` must be a mapping of names to keyword dicts of `sample_posterior` (e.g. "
            f"{{'gaussian': {{'prior': 'gaussian', 'sigma': 1.0, 'tau': 1.0}}}}); got {describe(models)}."
        )
    out = {}
    for name, kwargs in models.items():
        if not isinstance(kwargs, Mapping):
            raise TypeError(
                f"`models[{name!r}]` must be a dict of `sample_posterior` keywords; got {describe(kwargs)}."
            )
        bad = [key for key in _FORBIDDEN if key in kwargs]
        if bad:
            raise ValueError(
                f"`models[{name!r}]` must not set {bad[0]!r}: kfold_compare sets it for every refit."
            )
        out[str(name)] = dict(kwargs)
    return out


def kfold_pointwise(
    X: Any,
    y: Any,
    *,
    k: int = 5,
    seed: int = 0,
    progress_bar: bool = False,
    **sample_kwargs: Any,
) -> np.ndarray:
    """Pointwise K-fold log predictive densities of one posterior, refitted without each fold.

    Parameters
    ----------
    X, y : array_like
        The data, as :func:`bayeswd.sample_posterior` takes them.
    k : int, default 5
        Number of folds, ``2 <= k <= n``.
    seed : int, default 0
        Seed of the fold assignment and of every refit (fold ``j`` samples with ``seed + j``).
    progress_bar : bool, default False
        Show each refit's progress bar.
    **sample_kwargs
        Passed to :func:`bayeswd.sample_posterior` (``prior``, ``sigma``, ``tau``, ``method``,
        ``num_samples``, ``num_chains``, ...).

    Returns
    -------
    np.ndarray, shape (n,)
        ``log mean_s p(y_i | theta_s)`` with the draws ``theta_s`` of the posterior fitted without
        the fold of row ``i``.
    """
    from bayeswd.posterior import sample_posterior

    Xt, yt, _ = as_xy(X, y)
    n = int(yt.shape[0])
    k = check_positive_int(k, "k", minimum=2)
    if k > n:
        raise ValueError(f"`k` must be at most the number of rows {n}; got {k}.")
    seed = check_seed(seed)
    folds = _folds(n, k, seed)
    out = np.empty(n)
    for j in range(k):
        test = torch.from_numpy(folds == j)
        post = sample_posterior(
            Xt[~test], yt[~test], seed=seed + j, progress_bar=progress_bar, **sample_kwargs
        )
        mean = post._mean_draws(Xt[test])  # (draws, m)
        sd = post._sigma_draws().unsqueeze(-1)
        logp = torch.distributions.Normal(mean, sd).log_prob(yt[test])
        out[test.numpy()] = (torch.logsumexp(logp, dim=0) - math.log(logp.shape[0])).numpy()
    return out


def kfold_compare(
    X: Any,
    y: Any,
    models: Mapping[str, Mapping[str, Any]],
    *,
    k: int = 5,
    seed: int = 0,
    progress_bar: bool = False,
) -> pd.DataFrame:
    """Compare posteriors by K-fold cross-validated elpd, refitting each one without each fold.

    Use it where PSIS-LOO's Pareto ``k`` is high (``d`` near or above ``n``): the refits cost
    ``k`` posterior runs per model but need no importance sampling. Every model sees the same folds.

    Parameters
    ----------
    X, y : array_like
        The data.
    models : mapping of str to dict
        Name -> keywords of :func:`bayeswd.sample_posterior` (all but ``seed`` and
        ``progress_bar``, which this function sets), e.g.
        ``{"gaussian": {"prior": "gaussian", "sigma": 1.0, "tau": 0.5}, "laplace": {...}}``.
    k : int, default 5
        Number of folds.
    seed : int, default 0
        Seed of the folds and of the refits.
    progress_bar : bool, default False
        Show each refit's progress bar.

    Returns
    -------
    pandas.DataFrame
        One row per model, best first, with ``rank``, ``elpd_kfold`` (higher is better), ``se``
        (``sqrt(n var_i elpd_i)``, ``ddof=0`` as ArviZ's LOO), ``elpd_diff`` (to the best),
        ``dse`` (the standard error of the difference, from the pointwise differences) and ``k``.

    Examples
    --------
    >>> import bayeswd as bw
    >>> p = bw.seed_problem()
    >>> models = {"gaussian": dict(prior="gaussian", sigma=p.sigma, tau=p.tau, method="exact")}
    >>> kfold_compare(p.train.X, p.train.y, models, k=4).columns.tolist()
    ['rank', 'elpd_kfold', 'se', 'elpd_diff', 'dse', 'k']
    """
    spec = _check_models(models)
    pointwise = {
        name: kfold_pointwise(X, y, k=k, seed=seed, progress_bar=progress_bar, **kwargs)
        for name, kwargs in spec.items()
    }
    n = next(iter(pointwise.values())).shape[0]
    elpd = {name: float(v.sum()) for name, v in pointwise.items()}
    order = sorted(elpd, key=elpd.get, reverse=True)
    best = pointwise[order[0]]
    rows = []
    for rank, name in enumerate(order):
        v = pointwise[name]
        diff = best - v
        rows.append({
            "rank": rank,
            "elpd_kfold": elpd[name],
            "se": float(math.sqrt(n * np.var(v))),
            "elpd_diff": float(diff.sum()),
            "dse": float(math.sqrt(n * np.var(diff))),
            "k": int(k),
        })
    return pd.DataFrame(rows, index=pd.Index(order, name="model"))
