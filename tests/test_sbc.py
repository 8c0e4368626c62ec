"""Simulation-based calibration (Talts et al., 2018) of NUTS for both priors.

Draw weights from the prior, simulate data from the model, sample the posterior, and record the
rank of the true weight among the posterior draws. If the sampler is calibrated, the ranks are
uniform on {0, ..., L}. The intercept is fixed (``fit_intercept=False``): its flat prior is
improper and cannot be drawn from.

Test: ranks of both weights over all replications, pooled into 10 equal bins, chi-square test of
uniformity; fail if p < 0.001 (a false-alarm rate of 0.1 % per case). The draws are a single
NUTS chain per replication; the posteriors here are 2- to 4-D, where NUTS draws are close to
independent (bulk ESS ~ number of draws), so autocorrelation does not distort the ranks
noticeably; ``THIN`` can thin the chain if that changes.
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from scipy import stats

from bayeswd.exceptions import DiagnosticWarning
from bayeswd.infer import NUTS
from bayeswd.posterior import sample_posterior

REPLICATIONS = 100
DRAWS = 99  # kept after thinning: ranks in 0..99, 10 bins of 10
THIN = 1
P_MIN = 1e-3


pytestmark = pytest.mark.usefixtures("one_torch_thread")  # tiny problems (conftest.py)


def _prior_draw(rng: np.random.Generator, prior: str, tau: float, d: int) -> np.ndarray:
    if prior == "gaussian":
        return rng.normal(0.0, tau, size=d)
    return rng.laplace(0.0, tau, size=d)  # numpy's laplace(loc, scale): exp(-|x|/scale)/(2 scale)


@pytest.mark.slow
@pytest.mark.parametrize(
    ("prior", "n", "d"),
    # n > d runs the laplace prior as written (the plain density); n <= d as its scale mixture
    # with the weights integrated out (NUTS on the mixing scales, then exact conditional draws)
    [("gaussian", 10, 2), ("laplace", 10, 2), ("laplace", 3, 4)],
    ids=["gaussian", "laplace-direct", "laplace-collapsed"],
)
def test_sbc_ranks_are_uniform(prior: str, n: int, d: int, record_property) -> None:
    sigma, tau = 0.5, 0.5
    rng = np.random.default_rng(2024)
    X = rng.standard_normal((n, d))
    ranks = []
    for r in range(REPLICATIONS):
        w = _prior_draw(rng, prior, tau, d)
        y = X @ w + sigma * rng.standard_normal(n)
        with warnings.catch_warnings():
            # one short chain per replication: bulk ESS may fall under 100; the ranks are tested
            warnings.filterwarnings("ignore", message="NUTS diagnostics", category=DiagnosticWarning)
            post = sample_posterior(
                X, y, prior=prior, sigma=sigma, tau=tau, fit_intercept=False, num_chains=1,
                method=NUTS(num_warmup=100), num_samples=DRAWS * THIN, seed=r, progress_bar=False,
            )
        draws = post.samples["coef"][0, ::THIN].numpy()  # (DRAWS, d)
        ranks.append((draws < w).sum(0))
    ranks = np.concatenate(ranks)
    counts = np.bincount(ranks * 10 // (DRAWS + 1), minlength=10)
    p_value = stats.chisquare(counts).pvalue
    record_property("sbc_p_value", float(p_value))
    print(f"SBC {prior} n={n} d={d}: bin counts {counts.tolist()}, chi-square p = {p_value:.3f}")
    assert p_value > P_MIN, counts
