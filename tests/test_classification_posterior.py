"""Posteriors of logistic and softmax regression: NUTS, the Laplace approximation, the workflow.

Oracles: the potential against the one Pyro derives from the model (value and gradient, constants
included); posterior means against quadrature of the exact posterior on fine grids (2-D and 3-D);
the Laplace approximation against an autograd Hessian of the Pyro model; SBC (Talts et al. 2018).

Tolerances of the sampler checks: each posterior mean must lie within ``z * MCSE`` of the
quadrature value, ``MCSE`` ArviZ's Monte Carlo standard error of the mean (from the bulk ESS) and
``z`` the two-sided normal quantile of a Bonferroni-corrected family-wise false-alarm rate of 1e-3
over every mean checked in this module. The quadrature error (trapezoid rule on a smooth density,
hundreds of points a side, over +-10 approximate sds) is orders of magnitude below the MCSE.
"""

from __future__ import annotations

import itertools
import math
import warnings

import numpy as np
import pytest
import torch
from pyro.infer.autoguide.initialization import init_to_value
from pyro.infer.mcmc.util import initialize_model
from scipy import stats

import bayeswd as bw
from bayeswd import _arviz
from bayeswd.classification.imh import LaplaceMH
from bayeswd.classification.posterior import (
    ClassifierPosterior,
    LaplaceApprox,
    sample_classifier_posterior,
)
from bayeswd.classification.potential import (
    ClassifierPotential,
    batched_log_density,
    gaussian_approximation,
    site_draws,
)
from bayeswd.classification.problem import GLMProblem
from bayeswd.exceptions import DiagnosticWarning
from bayeswd.infer import NUTS
from bayeswd.model import linear_regression_model

pytestmark = pytest.mark.usefixtures("one_torch_thread")  # tiny problems (conftest.py)

FAMILY_WISE = 1e-3
#: means checked against quadrature in this module: test_nuts_matches_quadrature's cases x params,
#: then test_laplace_mh_matches_quadrature's
NUM_MEAN_CHECKS = 2 * 2 + 2 * 2 + 2 * 3 + 2 * 2 + 2 * 3 + 2
Z_BONFERRONI = float(stats.norm.ppf(1.0 - FAMILY_WISE / (2 * NUM_MEAN_CHECKS)))

TAU_PRIORS = {
    "fixed": lambda: 0.8,
    "halfnormal": lambda: torch.distributions.HalfNormal(torch.tensor(1.5, dtype=torch.float64)),
    "gamma": lambda: torch.distributions.Gamma(torch.tensor(2.0, dtype=torch.float64),
                                               torch.tensor(2.0, dtype=torch.float64)),
}


def _data(n: int, d: int, K: int, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    X = torch.randn(n, d, generator=g, dtype=torch.float64)
    W = torch.randn(d, K if K > 2 else 1, generator=g, dtype=torch.float64)
    eta = X @ W
    if K == 2:
        y = (torch.rand(n, generator=g, dtype=torch.float64) < torch.sigmoid(eta[:, 0])).long()
    else:
        y = torch.multinomial(torch.softmax(eta, 1), 1, generator=g)[:, 0]
    y[:K] = torch.arange(K)  # every class present
    return X, y


@pytest.mark.parametrize(
    ("family", "prior", "tau_kind", "fit"),
    list(itertools.product(["bernoulli", "categorical"], ["gaussian", "laplace"],
                           ["fixed", "halfnormal", "gamma"], [True, False])),
)
def test_potential_equals_pyro(family: str, prior: str, tau_kind: str, fit: bool) -> None:
    # Pyro's potential energy of the model (its own unconstrained transforms, autograd gradient)
    # is the reference for value and gradient, to rounding.
    K = 2 if family == "bernoulli" else 3
    d = 4
    X, y = _data(30, d, K)
    tau = TAU_PRIORS[tau_kind]()
    tau_prior = tau if isinstance(tau, torch.distributions.Distribution) else None
    prob = GLMProblem(X, y, family, prior, 0.8, fit, K)
    pot = ClassifierPotential(prob, tau_prior)
    g = torch.Generator().manual_seed(1)
    theta = 0.5 * torch.randn(prob.size, generator=g, dtype=torch.float64)
    values = dict(prob.model_values(theta))
    kwargs = dict(prob.model_kwargs, tau=tau)
    if tau_prior is not None:
        values["tau"] = torch.tensor(0.6, dtype=torch.float64)
    _, pyro_pe, transforms, _ = initialize_model(
        linear_regression_model, model_args=(X, prob.model_y()), model_kwargs=kwargs,
        max_plate_nesting=1, init_strategy=init_to_value(values=values))
    z = {k: (transforms[k](v) if k in transforms else v).detach().clone().requires_grad_()
         for k, v in values.items()}
    ref = pyro_pe(z)
    grads = dict(zip(z, torch.autograd.grad(ref, list(z.values())), strict=True))
    q = pot.pack(theta, 0.6)
    value, grad = pot(q)
    assert value == pytest.approx(float(ref.detach()), rel=1e-12, abs=1e-10)
    # Pyro's coef is (d, K) row-major; theta stores the weights class after class
    g_coef = grads["coef"].reshape(d, -1).T.reshape(-1)
    ref_grad = [g_coef]
    if fit:
        ref_grad.append(grads["intercept"].reshape(-1))
    if tau_prior is not None:
        ref_grad.append(grads["tau"].reshape(-1))
    torch.testing.assert_close(grad, torch.cat(ref_grad), rtol=1e-10, atol=1e-10)
    sites = pot.unpack_draws(q)
    for k, v in values.items():
        torch.testing.assert_close(sites[k], v, rtol=1e-12, atol=1e-14)
    # the NumPy twin (NUTS's CPU path) is the same function, centred and non-centred; the
    # non-centred form is U(tau z, ...) - P log tau with the chain rule (checked by autograd)
    twin_value, twin_grad = pot.numpy_twin()(q.numpy())
    assert twin_value == pytest.approx(value, rel=1e-13, abs=1e-12)
    np.testing.assert_allclose(twin_grad, grad.numpy(), rtol=1e-12, atol=1e-12)
    if tau_prior is not None:
        nc = ClassifierPotential(prob, tau_prior, noncentred=True)
        q_nc = nc.pack(theta, 0.6)
        v_nc, g_nc = nc(q_nc)
        t_nc, tg_nc = nc.numpy_twin()(q_nc.numpy())
        assert t_nc == pytest.approx(v_nc, rel=1e-13, abs=1e-12)
        np.testing.assert_allclose(tg_nc, g_nc.numpy(), rtol=1e-12, atol=1e-12)

        def u_nc(qq: torch.Tensor) -> torch.Tensor:  # Pyro's potential at w = tau z, less P log tau
            tau_ = nc.scale.transform(qq[-1])
            th = torch.cat([tau_ * qq[: prob.n_weights], qq[prob.n_weights:-1]])
            return pyro_pe({**prob.model_values(th), "tau": qq[-1]}) - prob.n_weights * torch.log(tau_)

        qq = q_nc.clone().requires_grad_()
        ref_nc = u_nc(qq)
        (auto_grad,) = torch.autograd.grad(ref_nc, qq)
        assert v_nc == pytest.approx(float(ref_nc.detach()), rel=1e-12, abs=1e-10)
        torch.testing.assert_close(g_nc, auto_grad, rtol=1e-10, atol=1e-10)


def _log_post_grid(prob: GLMProblem, theta: torch.Tensor, tau: torch.Tensor | float) -> torch.Tensor:
    """``log p(y, theta | tau) + log N/Laplace prior`` at a batch of ``theta`` (G, P)."""
    W = theta[:, : prob.n_weights].reshape(-1, prob.m, prob.d).transpose(1, 2)  # (G, d, m)
    eta = torch.einsum("nd,gdm->gnm", prob.X, W)
    if prob.fit_intercept:
        b = theta[:, prob.n_weights:]
        if prob.family == "categorical":
            b = torch.cat([b.new_zeros(b.shape[0], 1), b], 1)
        eta = eta + b[:, None, :]
    if prob.family == "bernoulli":
        e = eta[..., 0]
        y = prob.y.to(e.dtype)
        ll = -(e.clamp(min=0) + torch.log1p(torch.exp(-e.abs())) - y * e).sum(1)
    else:
        ll = torch.log_softmax(eta, -1).gather(2, prob.y.view(1, -1, 1).expand(eta.shape[0], -1, 1)).sum((1, 2))
    w = theta[:, : prob.n_weights]
    tau = torch.as_tensor(tau, dtype=w.dtype)
    if prob.prior == "gaussian":
        lp = torch.distributions.Normal(0.0, tau.unsqueeze(-1) if tau.ndim else tau).log_prob(w).sum(1)
    else:
        lp = torch.distributions.Laplace(0.0, tau.unsqueeze(-1) if tau.ndim else tau).log_prob(w).sum(1)
    return ll + lp


def _quadrature_means(prob: GLMProblem, tau_prior: torch.distributions.Distribution | None
                      ) -> dict[str, np.ndarray]:
    """Posterior means of the sites by the trapezoid rule on a grid over +-10 approximate sds.

    With ``tau`` sampled the grid is over ``(z, log tau)``, ``w = tau z`` (non-centred, so the
    funnel at small ``tau`` is smooth); the problems here then have one weight and no intercept.
    """
    if tau_prior is None:
        approx = gaussian_approximation(prob)
        sd = torch.linalg.norm(approx.chol, dim=1)
        pts = 301 if prob.size <= 2 else 121
        axes = [torch.linspace(float(m - 10 * s), float(m + 10 * s), pts, dtype=torch.float64)
                for m, s in zip(approx.mean, sd, strict=True)]
        mesh = torch.stack(torch.meshgrid(*axes, indexing="ij"), -1).reshape(-1, prob.size)
        logp = _log_post_grid(prob, mesh, prob.tau)
        wts = torch.exp(logp - logp.max())
        wts = wts / wts.sum()
        theta_mean = (wts[:, None] * mesh).sum(0)
        return {k: v.numpy() for k, v in site_draws(prob, theta_mean).items()}
    assert prob.size == 1
    z = torch.linspace(-12.0, 12.0, 801, dtype=torch.float64)
    u = torch.linspace(-12.0, 4.0, 801, dtype=torch.float64)
    Z, U = torch.meshgrid(z, u, indexing="ij")
    tau = torch.exp(U.reshape(-1))
    w = (tau * Z.reshape(-1))[:, None]
    logp = _log_post_grid(prob, w, tau) + tau_prior.log_prob(tau) + 2.0 * U.reshape(-1)  # dw = tau dz, dtau = tau du
    wts = torch.exp(logp - logp.max())
    wts = wts / wts.sum()
    return {"coef": np.array([float((wts * w[:, 0]).sum())]), "tau": np.array(float((wts * tau).sum()))}


def _assert_means_match(post: ClassifierPosterior, ref: dict[str, np.ndarray]) -> None:
    """Every posterior mean within ``Z_BONFERRONI`` ArviZ MCSEs of its quadrature value."""
    idata = _arviz.from_dict({"posterior": {k: v.numpy() for k, v in post.samples.items()}})
    mcse = _arviz.mcse(idata)
    for name, value in ref.items():
        got = post.samples[name].mean((0, 1)).numpy()
        err = np.asarray(mcse[name].values)
        assert np.all(np.abs(got - value) <= Z_BONFERRONI * err), (name, got, value, err)


QUAD_CASES = [
    # (family, prior, tau_kind, fit_intercept, n, d): 2-D and 3-D posteriors, small n (skewed)
    ("bernoulli", "gaussian", "fixed", True, 15, 1),
    ("bernoulli", "laplace", "fixed", True, 15, 1),
    ("bernoulli", "gaussian", "halfnormal", False, 15, 1),
    ("bernoulli", "laplace", "halfnormal", False, 15, 1),
    ("categorical", "gaussian", "fixed", False, 20, 1),
    ("categorical", "laplace", "fixed", False, 20, 1),
]


@pytest.mark.parametrize(("family", "prior", "tau_kind", "fit", "n", "d"), QUAD_CASES)
def test_nuts_matches_quadrature(family: str, prior: str, tau_kind: str, fit: bool, n: int, d: int) -> None:
    K = 2 if family == "bernoulli" else 3
    X, y = _data(n, d, K, seed=3)
    tau = TAU_PRIORS[tau_kind]()
    tau_prior = tau if isinstance(tau, torch.distributions.Distribution) else None
    prob = GLMProblem(X, y, family, prior, 0.8 if tau_prior is None else 1.0, fit, K)
    ref = _quadrature_means(prob, tau_prior)
    post = sample_classifier_posterior(
        X.numpy(), y.numpy(), prior=prior, tau=tau, family=family, fit_intercept=fit,
        # 0.9 where the posterior has a kink (laplace) or a funnel (tau sampled, 15 rows): at 0.8 the
        # tau-sampled gaussian case had 5 divergences in 8000 transitions on one machine, none on another
        method=NUTS(num_warmup=500, target_accept_prob=0.9 if prior == "laplace" or tau_prior is not None
                    else None),
        num_samples=2000, num_chains=4, seed=11, progress_bar=False)
    _assert_means_match(post, ref)
    assert int(post.diagnostics["num_divergent"]) == 0


MH_CASES = [
    # (family, prior, fit_intercept, n, d, K): small n, a skewed posterior; the sampler must be exact
    # however poor its proposal (thin fixed, so that a poor proposal costs ESS, not correctness)
    ("bernoulli", "gaussian", True, 15, 1, 2),
    ("bernoulli", "laplace", True, 15, 1, 2),
    ("categorical", "gaussian", False, 20, 1, 3),
    ("categorical", "laplace", False, 20, 1, 3),
]


@pytest.mark.parametrize(("family", "prior", "fit", "n", "d", "K"), MH_CASES)
def test_laplace_mh_matches_quadrature(family: str, prior: str, fit: bool, n: int, d: int, K: int) -> None:
    X, y = _data(n, d, K, seed=3)
    prob = GLMProblem(X, y, family, prior, 0.8, fit, K)
    ref = _quadrature_means(prob, None)
    post = sample_classifier_posterior(X.numpy(), y.numpy(), prior=prior, tau=0.8, family=family,
                                       fit_intercept=fit, method=LaplaceMH(thin=3), num_samples=3000,
                                       num_chains=4, seed=5, progress_bar=False)
    _assert_means_match(post, ref)
    assert post.settings["thin"] == 3 and post.settings["pilot_acceptance"] is None


def test_laplace_mh_in_small_blocks_matches_quadrature(monkeypatch: pytest.MonkeyPatch) -> None:
    # the proposals are drawn and scanned in blocks, each chain carrying its state across: blocks
    # of a few steps (not aligned with thin) must give the same posterior as one block
    from bayeswd.classification import imh

    monkeypatch.setattr(imh, "BLOCK_NUMBERS", 4 * 2 * 7)  # 7 proposals a block for 4 chains, P = 2
    X, y = _data(15, 1, 2, seed=3)
    prob = GLMProblem(X, y, "bernoulli", "gaussian", 0.8, True, 2)
    ref = _quadrature_means(prob, None)
    post = sample_classifier_posterior(X.numpy(), y.numpy(), tau=0.8, method=LaplaceMH(thin=3), num_samples=3000,
                                       num_chains=4, seed=6, progress_bar=False)
    _assert_means_match(post, ref)
    assert post.sample_stats["acceptance_rate"].shape == (4, 3000)


def test_laplace_mh_without_the_metropolis_step_is_biased() -> None:
    # the check above has power: on its laplace cases the proposal's own draws (no accept/reject)
    # miss the quadrature mean of the weight by more than Z_BONFERRONI times the MCSE that the
    # sampler reaches there (measured: 0.095 posterior sds for the bernoulli case)
    from bayeswd.classification.imh import _Proposal

    X, y = _data(15, 1, 2, seed=3)
    prob = GLMProblem(X, y, "bernoulli", "laplace", 0.8, True, 2)
    ref = float(_quadrature_means(prob, None)["coef"][0])
    post = sample_classifier_posterior(X.numpy(), y.numpy(), prior="laplace", tau=0.8, method=LaplaceMH(thin=3),
                                       num_samples=3000, num_chains=4, seed=5, progress_bar=False)
    idata = _arviz.from_dict({"posterior": {"coef": post.samples["coef"].numpy()}})
    mcse = float(np.asarray(_arviz.mcse(idata)["coef"].values)[0])
    x, _ = _Proposal(gaussian_approximation(prob)).draw((200000,), np.random.default_rng(0))
    assert abs(float(x[:, 0].mean()) - ref) > Z_BONFERRONI * mcse + 5 * float(x[:, 0].std()) / math.sqrt(200000)


def test_batched_log_density_is_minus_the_potential() -> None:
    for family, K in (("bernoulli", 2), ("categorical", 3)):
        for prior in ("gaussian", "laplace"):
            X, y = _data(25, 3, K, seed=4)
            prob = GLMProblem(X, y, family, prior, 0.7, True, K)
            theta = torch.randn(5, prob.size, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
            pot = ClassifierPotential(prob)
            ref = torch.tensor([-pot(t)[0] for t in theta], dtype=torch.float64)
            torch.testing.assert_close(batched_log_density(prob, theta), ref, rtol=1e-12, atol=1e-10)


def test_proposal_density_is_normalised_like_its_draws() -> None:
    # log q's two components share one normaliser: the mixture's density integrates to the same
    # constant over the space as its draws imply. Check E_q[f] by the draws and by importance
    # sampling from a wide gaussian: the two agree within MCSE (5 sd, one-dimensional).
    from bayeswd.classification.imh import _Proposal
    from bayeswd.classification.potential import GaussianApproximation

    approx = GaussianApproximation(torch.zeros(1, dtype=torch.float64), torch.eye(1, dtype=torch.float64),
                                   0.0, 0, True)
    prop = _Proposal(approx)
    x, _ = prop.draw((200000,), np.random.default_rng(1))
    p_tail_draws = float((x.abs() > 3).double().mean())
    grid = torch.linspace(-60, 60, 240001, dtype=torch.float64)
    dens = torch.exp(prop.log_q(grid[:, None])) / math.sqrt(2 * math.pi)
    h = float(grid[1] - grid[0])
    assert float(dens.sum() * h) == pytest.approx(1.0, abs=1e-4)
    p_tail = float(dens[grid.abs() > 3].sum() * h)
    assert abs(p_tail - p_tail_draws) < 5 * math.sqrt(p_tail * (1 - p_tail) / 200000)


def test_thin_rule_and_auto_choice() -> None:
    from bayeswd.classification.imh import MAX_THIN, thin_for

    assert thin_for(1.0) == 1 and thin_for(0.5) == 5 and thin_for(0.25) == 13
    assert thin_for(0.0) == MAX_THIN and thin_for(0.01) == MAX_THIN
    # many rows per weight, no separation: the pilot accepts most proposals and auto runs it
    g = torch.Generator().manual_seed(0)
    X = torch.randn(2000, 5, generator=g, dtype=torch.float64)
    y = (torch.rand(2000, generator=g, dtype=torch.float64) < torch.sigmoid(X @ torch.ones(5, dtype=torch.float64) * 0.5)).long()
    post = bw.sample_posterior(X, y, family="bernoulli", tau=1.0, num_samples=500, progress_bar=False)
    assert post.method == "laplace_mh" and post.settings["pilot_acceptance"] >= 0.4
    assert "pilot acceptance" in post.settings["method_choice"]
    assert post.settings["thin"] == thin_for(post.settings["pilot_acceptance"])


def test_laplace_approximation_is_the_gaussian_at_the_map() -> None:
    # the mean is the MAP of map_classifier; the covariance the inverse of the Hessian of the Pyro
    # model's negative log posterior by autograd; the draws are that gaussian
    X, y = _data(60, 3, 3, seed=5)
    prob = GLMProblem(X, y, "categorical", "gaussian", 0.9, True, 3)
    approx = gaussian_approximation(prob)
    fit = bw.map_classifier(X, y, tau=0.9, tol=1e-12)
    W, b = prob.unpack(approx.mean)
    torch.testing.assert_close(W, fit.coef, rtol=0, atol=1e-8)
    torch.testing.assert_close(b, fit.intercept, rtol=0, atol=1e-8)
    H = torch.autograd.functional.hessian(lambda t: prob.neg_log_density(t), approx.mean)
    cov = approx.chol @ approx.chol.T
    torch.testing.assert_close(cov, torch.linalg.inv(H), rtol=1e-8, atol=1e-10)
    assert approx.log_det_hessian == pytest.approx(float(torch.logdet(H)), rel=1e-10)
    post = sample_classifier_posterior(X, y, tau=0.9, method="laplace_approx", num_samples=5000,
                                       num_chains=2, seed=0, progress_bar=False)
    theta = torch.cat([post.samples["coef"].transpose(-1, -2).reshape(2, 5000, -1),
                       post.samples["intercept"]], -1).reshape(-1, prob.size)
    # independent draws: the sample mean is within z * sd / sqrt(N) of the mean, coordinate-wise
    z = stats.norm.ppf(1 - FAMILY_WISE / (2 * prob.size))
    sd = cov.diagonal().sqrt()
    assert torch.all((theta.mean(0) - approx.mean).abs() <= z * sd / math.sqrt(theta.shape[0]))
    assert post.method == "laplace_approx" and post.sample_stats == {}


def _sbc_p_value(prior: str, method: object, seed: int) -> float:
    """SBC (Talts et al. 2018) of one bernoulli sampler: the chi-square p of the pooled rank bins.

    Weights from the prior, labels from the model, the rank of the truth among 99 draws of one
    chain, pooled into 10 bins over 100 replications and both weights.
    """
    tau, n, d, reps, draws = 1.0, 20, 2, 100, 99
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, d))
    ranks = []
    for r in range(reps):
        # a classifier needs both labels: redraw (w, y) until y has them. The event depends on y
        # only, so p(w | y, event) = p(w | y) and the ranks stay uniform.
        while True:
            w = rng.normal(0.0, tau, d) if prior == "gaussian" else rng.laplace(0.0, tau, d)
            y = (rng.random(n) < 1.0 / (1.0 + np.exp(-(X @ w)))).astype(int)
            if 0 < y.sum() < n:
                break
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", category=DiagnosticWarning)
            post = sample_classifier_posterior(
                X, y, prior=prior, tau=tau, fit_intercept=False, num_chains=1, num_samples=draws,
                method=method, seed=r, progress_bar=False)
        ranks.append((post.samples["coef"][0].numpy() < w).sum(0))
    counts = np.bincount(np.concatenate(ranks) * 10 // (draws + 1), minlength=10)
    return float(stats.chisquare(counts).pvalue)


@pytest.mark.slow
@pytest.mark.parametrize("prior", ["gaussian", "laplace"])
def test_sbc_nuts_bernoulli(prior: str, record_property) -> None:
    # chi-square test of uniformity of the ranks, fail if p < 1e-3. The posteriors are 2-D and
    # close to gaussian: NUTS draws are nearly independent (ESS ~ draws).
    p_value = _sbc_p_value(prior, NUTS(num_warmup=150), seed=7)
    record_property("sbc_p_value", p_value)
    assert p_value > 1e-3


@pytest.mark.parametrize("prior", ["gaussian", "laplace"])
def test_sbc_laplace_mh_bernoulli(prior: str, record_property) -> None:
    # SBC of the independence sampler, as for NUTS above; thin=10 keeps the 99 draws of a chain
    # nearly independent (the proposals here are accepted 60-90 % of the time: the lag-10
    # autocorrelation of a chain that stays with probability 0.4 is about 0.4^10 = 1e-4)
    p_value = _sbc_p_value(prior, LaplaceMH(thin=10), seed=8)
    record_property("sbc_p_value", p_value)
    assert p_value > 1e-3


def test_workflow_predictions_loo_and_summary() -> None:
    rng = np.random.default_rng(0)
    X = rng.normal(size=(80, 3))
    labels = np.array(["cat", "dog", "eel"])
    y = labels[np.argmax(X @ rng.normal(size=(3, 3)) + rng.gumbel(size=(80, 3)), 1)]
    post = bw.sample_posterior(X, y, family="categorical", tau=1.0, num_samples=300,
                               method=NUTS(num_warmup=300), seed=1, progress_bar=False)
    assert isinstance(post, ClassifierPosterior)
    assert post.samples["coef"].shape == (4, 300, 3, 3)
    assert post.samples["intercept"].shape == (4, 300, 2)
    proba = post.predict_proba(X[:5])
    assert proba.shape == (5, 3)
    torch.testing.assert_close(proba.sum(1), torch.ones(5, dtype=torch.float64))
    assert set(post.predict(X)) <= set(labels)
    # the pointwise log-likelihood is the Pyro model's likelihood at each draw
    ll = post.log_likelihood()
    prob = GLMProblem(torch.as_tensor(X), post.y, "categorical", "gaussian", 1.0, True, 3)
    theta = torch.cat([post.samples["coef"][1, 7].T.reshape(-1), post.samples["intercept"][1, 7]])
    assert float(ll[1, 7].sum()) == pytest.approx(-prob.nll(theta), rel=1e-12)
    idata = post.to_inference_data()
    assert {"posterior", "log_likelihood", "posterior_predictive", "observed_data", "sample_stats"} <= set(
        _arviz.group_names(idata))
    loo = _arviz.loo(idata)
    assert np.isfinite(loo.elpd)
    table = post.summary()
    assert "coef[x0, cat]" in table.index and "intercept[eel]" in table.index


def test_reproducible_and_default_tau_prior() -> None:
    X, y = _data(40, 2, 2, seed=2)
    kw = dict(num_samples=50, method=NUTS(num_warmup=50), num_chains=2, progress_bar=False)
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", category=DiagnosticWarning)
        a = sample_classifier_posterior(X, y, seed=4, **kw)
        b = sample_classifier_posterior(X, y, seed=4, **kw)
    for k in a.samples:
        assert torch.equal(a.samples[k], b.samples[k])
    assert a.tau is None and a.hyperpriors["tau"].startswith("HalfNormal(scale=")
    assert "tau" in a.samples and a.C is None


def test_auto_says_what_it_chose() -> None:
    X, y = _data(20, 60, 2, seed=4)  # fewer rows than weights: far from gaussian, a poor proposal
    post = bw.sample_posterior(X, y, family="bernoulli", tau=1.0, num_samples=200, progress_bar=False)
    assert post.method == "nuts" and post.settings["method_choice"].startswith("auto: tau fixed but")
    assert post.settings["num_warmup"] == 300  # auto's NUTS: the chains start at the MAP, metric set
    X, y = _data(50, 2, 2, seed=4)
    with warnings.catch_warnings():  # the choice is under test here, not a short run's diagnostics
        warnings.filterwarnings("ignore", category=DiagnosticWarning)
        post = bw.sample_posterior(X, y, family="bernoulli", num_samples=200, progress_bar=False)
    assert post.method == "nuts" and post.settings["method_choice"].startswith("auto: tau sampled")
    X, y = _data(50, 2, 2, seed=4)
    post = bw.sample_posterior(X, y, family="bernoulli", tau=1.0, num_samples=200, progress_bar=False)
    assert post.C == pytest.approx(1.0) and post.lam == pytest.approx(1.0)


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        (dict(family="bernoulli", sigma=1.0), ValueError, r"`sigma` has no meaning for family='bernoulli'"),
        (dict(family="categorical", method="laplace_approx", prior="laplace", tau=1.0), ValueError,
         r"method='laplace_approx' needs the gaussian prior"),
        (dict(family="categorical", method="laplace_approx"), ValueError, r"tau=sampled"),
        (dict(family="categorical", method="gibbs", tau=1.0), ValueError, r"covers family='bernoulli' only"),
        (dict(family="categorical", method="laplace_mh"), ValueError, r"'laplace_mh' needs a fixed `tau`"),
        (dict(family="bernoulli", method="exact"), ValueError, r"`method` must be one of"),
        (dict(family="bernoulli", method=3), TypeError, r"`method` for a classifier must be"),
        (dict(family="bernoulli", num_warmup=10), TypeError, r"unexpected keyword argument\(s\) 'num_warmup'"),
        (dict(family="poisson"), ValueError, r"`family` must be one of"),
        (dict(family="bernoulli", tau=-1.0), ValueError, r"`tau`"),
    ],
)
def test_errors_name_the_argument(kwargs: dict, error: type, match: str) -> None:
    X, y = _data(30, 2, 3, seed=1)
    if kwargs.get("family") == "bernoulli":
        y = (y > 0).long()
    with pytest.raises(error, match=match):
        bw.sample_posterior(X, y, progress_bar=False, **kwargs)


def test_options_object_and_bernoulli_needs_two_labels() -> None:
    X, y = _data(30, 2, 3, seed=1)
    with pytest.raises(ValueError, match=r"`family` 'bernoulli' needs exactly two distinct labels"):
        sample_classifier_posterior(X, y, family="bernoulli", tau=1.0, method=LaplaceApprox())


def test_diagnostic_warnings_point_at_the_caller() -> None:
    # through sample_posterior(family=...) and through sample_classifier_posterior, a sampler's
    # DiagnosticWarning names this file (the user's line), not bayeswd's
    X, y = _data(30, 2, 2, seed=6)
    short = dict(tau=1.0, method=NUTS(num_warmup=5), num_samples=5, num_chains=2, progress_bar=False)
    with pytest.warns(DiagnosticWarning) as rec:
        bw.sample_posterior(X, y, family="bernoulli", **short)
    assert rec[0].filename == __file__
    with pytest.warns(DiagnosticWarning) as rec:
        sample_classifier_posterior(X, y, **short)
    assert rec[0].filename == __file__
