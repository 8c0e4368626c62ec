"""Independence Metropolis-Hastings on a fitted gaussian proposal (``method="imh"``).

Tolerances are derived, as in ``test_gibbs.py`` (whose quadrature oracle and MCSE helper this
file reuses): Monte Carlo means and sds within ``K = 4`` MCSEs of the quadrature answer (ArviZ's
MCSE, from the ESS, so the chains' autocorrelation counts), SBC ranks by chi-square tests at
``p > 1e-3`` divided by the number of tests (Bonferroni). The batched log density is checked
against the potential NUTS uses (itself tested equal to Pyro's) to rounding.
"""

from __future__ import annotations

import math
import warnings

import numpy as np
import pyro.distributions as dist
import pytest
import torch
from scipy import stats
from test_gibbs import P_MIN, QUIET, K, _data, _scale, errors_in_mcse, quadrature_oracle

import bayeswd as bw
from bayeswd.exceptions import DiagnosticWarning
from bayeswd.infer import IMH
from bayeswd.infer import imh as imh_mod
from bayeswd.infer.imh import MixtureProposal, fit_proposal, independence_chains, thin_for
from bayeswd.infer.potentials import LinearPotential
from bayeswd.infer.start import default_hyperpriors

F64 = torch.float64


# -- the batched log density -----------------------------------------------------------------------


@pytest.mark.parametrize("prior", ["gaussian", "laplace"])
@pytest.mark.parametrize(("sigma", "tau"), [(0.6, 0.4), (None, 0.4), (0.6, None), (None, None)])
@pytest.mark.parametrize(("n", "d", "fit"), [(40, 3, True), (40, 3, False), (4, 6, True)])
def test_log_density_is_minus_the_potential(prior, sigma, tau, n, d, fit) -> None:
    rng = np.random.default_rng(3)
    X = torch.as_tensor(rng.standard_normal((n, d)))
    y = torch.as_tensor(rng.standard_normal(n) + 5.0)  # an offset: the centred statistics' shift
    s_arg, t_arg, _ = default_hyperpriors(X, y, sigma, tau)
    pot = LinearPotential(X, y, prior=prior, sigma=s_arg, tau=t_arg, fit_intercept=fit)
    Q = torch.as_tensor(rng.standard_normal((7, pot.size)) * 0.5)
    batched = pot.log_density(Q, chunk=3)  # chunks of 3 rows: the loop over chunks is covered
    single = torch.tensor([-pot(q)[0] for q in Q], dtype=F64)
    torch.testing.assert_close(batched, single, rtol=1e-12, atol=1e-9)


def test_log_density_is_minus_inf_where_not_finite() -> None:
    X, y = _data(20, 2)
    pot = LinearPotential(X, y, prior="laplace", sigma=dist.HalfNormal(torch.tensor(1.0, dtype=F64)),
                          tau=0.5, fit_intercept=True)
    Q = torch.zeros(2, pot.size, dtype=F64)
    Q[0, pot.i_sigma] = -1e6  # sigma = exp(-1e6) = 0: an infinite likelihood term
    out = pot.log_density(Q)
    assert out[0] == -math.inf and math.isfinite(float(out[1]))


# -- the pieces -----------------------------------------------------------------------------------


def test_independence_chains_follow_the_metropolis_hastings_rule() -> None:
    rng = np.random.default_rng(0)
    log_w = rng.normal(size=(3, 50))
    log_w[1, 7] = -np.inf  # a proposal outside the support is never accepted
    u = rng.random((3, 50))
    state, prob = independence_chains(log_w, u)
    for c in range(3):
        cur = 0
        for i in range(1, 50):
            diff = log_w[c, i] - log_w[c, cur]
            assert prob[c, i] == pytest.approx(min(1.0, math.exp(min(diff, 0.0))), rel=1e-12, abs=0)
            if math.log(u[c, i]) < diff:
                cur = i
            assert state[c, i] == cur
    assert prob[1, 7] == 0.0 and (state[1] != 7).all()


def test_the_mixture_proposals_log_q_is_its_density() -> None:
    # draws of q and its stated density: the mean of 1/q over q's own draws, times the volume
    # of a ball, is checked through importance weights of a known gaussian target instead:
    # E_q[p/q] = 1 for a normalised p, so mean(exp(log p - log q)) must be 1 within K standard errors
    m = torch.tensor([0.5, -1.0], dtype=F64)
    L = torch.tensor([[1.0, 0.0], [0.6, 0.8]], dtype=F64)
    prop = MixtureProposal(m, L, 0.3)
    x, log_q = prop.draw((200_000,), np.random.default_rng(1))
    # log q drops -log det L - (P/2) log 2 pi; put them back
    log_q = log_q - torch.log(L.diagonal()).sum() - math.log(2 * math.pi)
    target = torch.distributions.MultivariateNormal(m, scale_tril=1.3 * L)
    ratio = torch.exp(target.log_prob(x) - log_q).numpy()
    se = ratio.std() / math.sqrt(ratio.size)
    assert abs(ratio.mean() - 1.0) < K * se, (ratio.mean(), se)


def test_fit_proposal_finds_a_shifted_and_scaled_gaussian(monkeypatch) -> None:
    # target N(mu, S); the fit starts from N(0, I): importance refits recover mu and S (run to an
    # effective fraction of 0.95 instead of the default early stop)
    monkeypatch.setattr(imh_mod, "FIT_GOOD", 0.95)
    mu = torch.tensor([1.0, -2.0, 0.5], dtype=F64)
    A = torch.tensor([[0.5, 0.0, 0.0], [0.2, 0.3, 0.0], [0.0, -0.1, 0.8]], dtype=F64)
    target = torch.distributions.MultivariateNormal(mu, scale_tril=A)
    prop, fractions = fit_proposal(target.log_prob, torch.zeros(3, dtype=F64), torch.eye(3, dtype=F64),
                                   defensive=0.3, gen=np.random.default_rng(0))
    assert fractions[0] < 0.5 and max(fractions) > 0.8, fractions
    torch.testing.assert_close(prop.m, mu, atol=0.05, rtol=0)
    torch.testing.assert_close(prop.L @ prop.L.T, A @ A.T, atol=0.05, rtol=0)


def test_thin_rule() -> None:
    assert thin_for(1.0) == 1 and thin_for(0.5) == 5 and thin_for(0.25) == 13
    assert thin_for(0.0) == imh_mod.MAX_THIN


@pytest.mark.parametrize(("kwargs", "match"), [
    (dict(num_warmup=-1), "num_warmup"), (dict(thin=0), "thin"), (dict(defensive=1.0), "defensive"),
    (dict(defensive=-0.1), "defensive"), (dict(defensive="a lot"), "defensive"),
])
def test_imh_options_validate_when_made(kwargs, match) -> None:
    with pytest.raises((ValueError, TypeError), match=match):
        IMH(**kwargs)


# -- exactness ----------------------------------------------------------------------------------------


QUAD_CASES = [
    # (id, n, d, sigma, tau, fit_intercept): both priors' oracle is the laplace one of test_gibbs
    ("d2-fixed", 12, 2, 0.5, 0.3, True),
    ("d1-sigma", 12, 1, "default", 0.3, True),
    ("d2-tau", 12, 2, 0.5, "default", True),
    ("d2-both", 12, 2, "default", "default", True),
    ("d1-both-nointercept", 12, 1, "lognormal", "inversegamma", False),
]


@pytest.mark.slow
@pytest.mark.parametrize(("case_id", "n", "d", "sigma", "tau", "fit"), QUAD_CASES, ids=[c[0] for c in QUAD_CASES])
def test_imh_matches_quadrature(case_id, n, d, sigma, tau, fit, record_property) -> None:
    X, y = _data(n, d)
    sigma, tau = _scale(sigma, 0.6), _scale(tau, 0.3)
    s_prior, t_prior, _ = default_hyperpriors(X, y, sigma, tau)
    oracle = quadrature_oracle(X, y, sigma=s_prior, tau=t_prior, fit_intercept=fit)
    post = bw.sample_posterior(X, y, prior="laplace", sigma=sigma, tau=tau, fit_intercept=fit,
                               method="imh", num_samples=4000, num_chains=4, seed=1, **QUIET)
    assert post.method == "imh" and post.settings["thin"] == thin_for(post.settings["pilot_acceptance"])
    z_mean, z_sd = errors_in_mcse(post, oracle)
    record_property("max_mean_error_mcse", z_mean)
    record_property("max_sd_error_mcse", z_sd)
    print(f"{case_id}: mean err {z_mean:.2f} MCSE, sd err {z_sd:.2f} MCSE, "
          f"acceptance {post.settings['pilot_acceptance']:.2f}, {post.wall_time:.2f}s")
    assert z_mean <= K and z_sd <= K


def test_imh_matches_the_conjugate_posterior() -> None:
    # gaussian prior, fixed scales: the exact posterior mean and sd of every weight
    X, y = _data(60, 3)
    exact = bw.gaussian_posterior(X, y, sigma=0.5, tau=0.4)
    post = bw.sample_posterior(X, y, sigma=0.5, tau=0.4, method="imh", num_samples=2000, num_chains=4,
                               seed=2, **QUIET)
    oracle = {"coef": (exact.mean[:3].numpy(), exact.cov.diagonal()[:3].sqrt().numpy()),
              "intercept": (exact.mean[3:].numpy(), exact.cov.diagonal()[3:].sqrt().numpy())}
    z_mean, z_sd = errors_in_mcse(post, oracle)
    assert z_mean <= K and z_sd <= K, (z_mean, z_sd)


SBC_REPLICATIONS = 300
SBC_DRAWS = 99


@pytest.mark.slow
def test_sbc_ranks_are_uniform(record_property) -> None:
    # Talts et al. (2018), as in test_gibbs: sigma and tau from their priors, w from
    # Laplace(0, tau), y from the model (n = 15 > d = 3, no intercept); one run of one chain per
    # data set, thinned by the rule of the pilot run; chi-square tests of 10 bins per scalar at
    # p > 1e-3 / 5 (Bonferroni over the five scalars).
    R, L = SBC_REPLICATIONS, SBC_DRAWS
    rng = np.random.default_rng(2026)
    n, d = 15, 3
    X = rng.standard_normal((n, d))
    sigma_prior = dist.LogNormal(torch.tensor(math.log(0.5), dtype=F64), torch.tensor(0.4, dtype=F64))
    tau_prior = dist.InverseGamma(torch.tensor(3.0, dtype=F64), torch.tensor(1.0, dtype=F64))
    ranks: dict[str, list[int]] = {}
    for r in range(R):
        sigma = math.exp(math.log(0.5) + 0.4 * rng.standard_normal())
        tau = 1.0 / rng.gamma(3.0, 1.0)
        w = rng.laplace(0.0, tau, size=d)
        y = X @ w + sigma * rng.standard_normal(n)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DiagnosticWarning)  # one short chain
            post = bw.sample_posterior(X, y, prior="laplace", sigma=sigma_prior, tau=tau_prior,
                                       fit_intercept=False, method="imh", num_samples=L, num_chains=1,
                                       seed=r, **QUIET)
        truth = {"sigma": [sigma], "tau": [tau], **{f"coef[{j}]": [w[j]] for j in range(d)}}
        for key, (true,) in truth.items():
            name, j = (key[:4], int(key[5])) if key.startswith("coef") else (key, None)
            draws = post.samples[name][0].numpy()
            draws = draws[:, j] if j is not None else draws
            ranks.setdefault(key, []).append(int((draws < true).sum()))
    p_values = {}
    for key, rk in ranks.items():
        counts = np.bincount(np.asarray(rk) * 10 // (L + 1), minlength=10)
        p_values[key] = stats.chisquare(counts).pvalue
        record_property(f"sbc_{key}_p", float(p_values[key]))
        print(f"SBC imh {key}: counts {counts.tolist()}, p = {p_values[key]:.3f}")
    assert min(p_values.values()) > P_MIN / len(p_values), p_values


# -- the method's interface ------------------------------------------------------------------------


def test_imh_reports_its_run_and_is_reproducible() -> None:
    X, y = _data(50, 3)
    a = bw.sample_posterior(X, y, prior="laplace", method=IMH(thin=2), num_samples=300, num_chains=3,
                            seed=5, **QUIET)
    b = bw.sample_posterior(X, y, prior="laplace", method=IMH(thin=2), num_samples=300, num_chains=3,
                            seed=5, **QUIET)
    torch.testing.assert_close(a.samples["coef"], b.samples["coef"], rtol=0, atol=0)
    assert a.samples["coef"].shape == (3, 300, 3) and a.samples["sigma"].shape == (3, 300)
    assert a.settings["thin"] == 2 and a.settings["pilot_acceptance"] is None
    assert a.sample_stats["acceptance_rate"].shape == (3, 300)
    assert 0.0 < a.settings["mean_acceptance"] <= 1.0
    c = bw.sample_posterior(X, y, prior="laplace", method=IMH(thin=2), num_samples=300, num_chains=3,
                            seed=6, **QUIET)
    assert not torch.equal(a.samples["coef"], c.samples["coef"])


def test_auto_runs_imh_when_the_pilot_accepts_enough_and_falls_back_otherwise(monkeypatch) -> None:
    X, y = _data(60, 3)
    post = bw.sample_posterior(X, y, prior="laplace", sigma=0.5, tau=0.3, num_samples=200, num_chains=2,
                               **QUIET)
    assert post.method == "imh", post.settings["method_choice"]
    assert "pilot acceptance" in post.settings["method_choice"]
    monkeypatch.setattr(imh_mod, "AUTO_MIN_ACCEPT", 1.01)
    import bayeswd.posterior as posterior_mod

    monkeypatch.setattr(posterior_mod, "AUTO_MIN_ACCEPT", 1.01)
    post = bw.sample_posterior(X, y, prior="laplace", sigma=0.5, tau=0.3, num_samples=200, num_chains=2,
                               **QUIET)
    assert post.method == "gibbs" and "pilot accepted" in post.settings["method_choice"]
