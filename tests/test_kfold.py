"""K-fold comparison with refits: against the closed-form predictive of the gaussian posterior."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

import bayeswd as bw
from bayeswd.exact import gaussian_posterior
from bayeswd.selection.kfold import _folds, kfold_compare, kfold_pointwise


def _problem(n=24, d=6, seed=3, scale=1.0):
    gen = np.random.default_rng(seed)
    X = gen.normal(size=(n, d))
    y = X @ (scale * gen.normal(size=d)) + 0.5 + 0.7 * gen.normal(size=n)
    return X, y


def _exact_pointwise(X, y, sigma, tau, folds, gen):
    """log N(y_i | x_i mu + b, sigma^2 + a_i^T Cov a_i) with the posterior fitted without i's fold,
    and the relative sd of the densities N(y_i | a_i theta_s, sigma^2) over exact draws theta_s."""
    out, rel_sd, plugin = np.empty(len(y)), np.empty(len(y)), np.empty(len(y))
    Xt, yt = torch.from_numpy(X), torch.from_numpy(y)
    for j in np.unique(folds):
        test = folds == j
        post = gaussian_posterior(Xt[~test], yt[~test], sigma=sigma, tau=tau)
        A = torch.cat([Xt[test], torch.ones(int(test.sum()), 1, dtype=Xt.dtype)], dim=1)
        mean = A @ post.mean
        var = sigma**2 + ((A @ post.cov) * A).sum(1)
        out[test] = torch.distributions.Normal(mean, var.sqrt()).log_prob(yt[test]).numpy()
        plugin[test] = torch.distributions.Normal(mean, sigma).log_prob(yt[test]).numpy()
        theta = gen.multivariate_normal(post.mean.numpy(), post.cov.numpy(), size=20_000)
        dens = np.exp(-0.5 * ((y[test] - theta @ A.numpy().T) / sigma) ** 2)
        rel_sd[test] = dens.std(0) / dens.mean(0)
    return out, rel_sd, plugin


def test_exact_draws_give_the_closed_form_predictive_within_monte_carlo_error():
    X, y = _problem()
    sigma, tau, S = 0.7, 0.8, 4000
    got = kfold_pointwise(X, y, k=4, seed=1, prior="gaussian", sigma=sigma, tau=tau, method="exact",
                          num_samples=S // 2, num_chains=2)
    want, rel_sd, plugin = _exact_pointwise(X, y, sigma, tau, _folds(len(y), 4, 1), np.random.default_rng(0))
    # The estimate is the log of a mean of S independent densities p_s; by the delta method its
    # Monte Carlo sd is sd(p_s) / (sqrt(S) mean(p_s)) = rel_sd / sqrt(S) (rel_sd itself from 20,000
    # exact draws). 5 MCSEs per row: over 24 rows a false alarm has probability ~1e-5.
    assert np.all(np.abs(got - want) < 5.0 * rel_sd / math.sqrt(S))
    # and the check has teeth: the plug-in predictive, which ignores the weights' uncertainty,
    # is outside that band
    assert np.any(np.abs(plugin - want) > 5.0 * rel_sd / math.sqrt(S))


def test_table_ranks_models_and_its_errors_follow_the_pointwise_values():
    X, y = _problem(n=30, d=4, seed=5, scale=3.0)
    models = {
        "right scale": {"prior": "gaussian", "sigma": 0.7, "tau": 3.0, "method": "exact"},
        # a prior that pins the weights at 0 predicts held-out rows far worse
        "far too tight": {"prior": "gaussian", "sigma": 0.7, "tau": 1e-3, "method": "exact"},
    }
    table = kfold_compare(X, y, models, k=5, seed=0)
    assert table.index.tolist() == ["right scale", "far too tight"]
    assert table["rank"].tolist() == [0, 1]
    assert table["elpd_diff"].iloc[0] == 0.0 and table["dse"].iloc[0] == 0.0
    pw = {name: kfold_pointwise(X, y, k=5, seed=0, num_samples=1000, **kw) for name, kw in models.items()}
    diff = pw["right scale"] - pw["far too tight"]
    assert table["elpd_kfold"].iloc[1] == pytest.approx(pw["far too tight"].sum(), rel=1e-12)
    assert table["elpd_diff"].iloc[1] == pytest.approx(diff.sum(), rel=1e-12)
    assert table["dse"].iloc[1] == pytest.approx(math.sqrt(len(y) * diff.var()), rel=1e-12)
    assert table["elpd_diff"].iloc[1] > 3 * table["dse"].iloc[1]


def test_laplace_nuts_refits_run_and_are_reproducible():
    X, y = _problem(n=12, d=3)
    kw = {"prior": "laplace", "sigma": 0.7, "tau": 0.5, "method": bw.NUTS(num_warmup=300),
          "num_samples": 300, "num_chains": 2}
    a = kfold_pointwise(X, y, k=2, seed=2, **kw)
    b = kfold_pointwise(X, y, k=2, seed=2, **kw)
    np.testing.assert_array_equal(a, b)
    assert np.all(np.isfinite(a))


@pytest.mark.parametrize(
    ("models", "kwargs", "error", "match"),
    [
        ([("a", {})], {}, ValueError, "`models` must be a mapping"),
        ({"a": 3}, {}, TypeError, r"`models\['a'\]` must be a dict"),
        ({"a": {"seed": 1}}, {}, ValueError, "must not set 'seed'"),
        ({"a": {"prior": "gaussian", "sigma": 1.0, "tau": 1.0}}, {"k": 1}, ValueError, "`k` must be"),
        ({"a": {"prior": "gaussian", "sigma": 1.0, "tau": 1.0}}, {"k": 99}, ValueError, "at most the number of rows"),
    ],
)
def test_bad_input_names_the_argument(models, kwargs, error, match):
    X, y = _problem(n=10, d=2)
    with pytest.raises(error, match=match):
        kfold_compare(X, y, models, **kwargs)
