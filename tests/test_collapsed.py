"""The collapsed sampler (gaussian prior, sampled scales) and ``method="auto"``.

Oracles: the marginal posterior of ``(sigma, tau)`` by quadrature (its log density is the closed
form tested against Pyro in test_nuts.py, and its batched form against that here), with the
weights' posterior mean as the quadrature of their conditional ridge means; and SBC.
"""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest
import torch
from scipy import stats

import bayeswd as bw
from bayeswd import _arviz
from bayeswd.exceptions import DiagnosticWarning
from bayeswd.infer.collapsed import GridProposal, independence_chains
from bayeswd.infer.collapsed_gaussian import CollapsedGaussianPotential
from bayeswd.infer.options import Auto, Collapsed
from bayeswd.infer.potentials import Scale

pytestmark = pytest.mark.usefixtures("one_torch_thread")  # small problems (conftest.py)


def _halfnormal(scale: float) -> torch.distributions.HalfNormal:
    return torch.distributions.HalfNormal(torch.tensor(scale, dtype=torch.float64))


def _data(n: int, d: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, d))
    y = X @ (0.5 * rng.standard_normal(d)) + 0.4 + 0.7 * rng.standard_normal(n)
    return X, y


def test_halfnormal_scale_uses_its_closed_form_and_matches_autograd():
    # torch's biject_to(positive) is exp followed by an identity affine map: still the closed form
    scale = Scale(_halfnormal(0.7), torch.device("cpu"))
    assert scale._halfnormal
    closed = scale(0.3)
    scale._halfnormal = False  # the autograd path
    np.testing.assert_allclose(closed, scale(0.3), rtol=1e-13, atol=1e-14)


@pytest.mark.parametrize(("n", "d"), [(40, 5), (8, 15)])
@pytest.mark.parametrize("sampled", ["sigma", "tau", "both"])
def test_batched_log_density_equals_the_potential(n, d, sampled):
    X, y = (torch.as_tensor(a) for a in _data(n, d, 1))
    sigma = _halfnormal(1.0) if sampled in ("sigma", "both") else 0.8
    tau = _halfnormal(0.5) if sampled in ("tau", "both") else 0.4
    pot = CollapsedGaussianPotential(X, y, sigma=sigma, tau=tau, fit_intercept=True)
    Q = torch.randn(7, pot.size, generator=torch.Generator().manual_seed(3), dtype=torch.float64)
    want = torch.tensor([-pot(q)[0] for q in Q], dtype=torch.float64)
    torch.testing.assert_close(pot.log_density(Q), want, rtol=1e-12, atol=1e-10)


def _quadrature(X, y, sigma, tau):
    """Posterior means of log sigma, log tau (where sampled) and the weights, by quadrature.

    The unconstrained density by the midpoint rule on a fine grid over the box where it is
    within exp(-32) of its peak (found on a coarse grid over [-60, 20] per axis: the density of
    log tau falls only like tau as tau -> 0, under a half-normal prior); the weights'
    mean is the average of their conditional (ridge) means E[w | sigma, tau, y].
    """
    pot = CollapsedGaussianPotential(torch.as_tensor(X), torch.as_tensor(y), sigma=sigma, tau=tau,
                                     fit_intercept=True)
    coarse = torch.linspace(-60, 20, 801 if pot.size == 1 else 321, dtype=torch.float64)
    mesh = torch.stack(torch.meshgrid(*[coarse] * pot.size, indexing="ij"), -1).reshape(-1, pot.size)
    lp = pot.log_density(mesh)
    inside = mesh[lp > lp.max() - 32]
    step = float(coarse[1] - coarse[0])
    lo, hi = inside.min(0).values - step, inside.max(0).values + step
    assert bool((lo > -60).all() and (hi < 20).all())  # the coarse box holds the mass
    axes = [torch.linspace(float(a), float(b), 2001 if pot.size == 1 else 401, dtype=torch.float64)
            for a, b in zip(lo, hi, strict=True)]
    grid = torch.stack(torch.meshgrid(*axes, indexing="ij"), -1).reshape(-1, pot.size)
    lp = pot.log_density(grid)
    w = torch.softmax(lp, 0)
    out = {name: float(w @ grid[:, i]) for name, i in (("log_sigma", pot.i_sigma), ("log_tau", pot.i_tau))
           if i is not None}
    scales = pot.unpack(grid)
    s = (scales["sigma"] if "sigma" in scales else torch.full_like(w, pot.sigma)) ** 2
    t = (scales["tau"] if "tau" in scales else torch.full_like(w, pot.tau)) ** 2
    Xc = pot._x_mean.new_tensor(X) - pot._x_mean
    yc = torch.as_tensor(y) - pot._y_mean
    lam, V = torch.linalg.eigh(Xc.T @ Xc)
    proj = V.T @ (Xc.T @ yc)
    means = (proj / (lam + s.unsqueeze(-1) / t.unsqueeze(-1))) @ V.T  # ridge means, (grid, d)
    out["coef"] = (w @ means).numpy()
    return out


@pytest.mark.parametrize(("n", "d"), [(30, 4), (8, 12)], ids=["n>d", "n<d"])
@pytest.mark.parametrize("sampled", ["tau", "both"])
@pytest.mark.parametrize("grid_points", [None, 32], ids=["default-grid", "coarse-grid"])
def test_draws_match_quadrature(n, d, sampled, grid_points):
    # A coarse grid (32 points a side) makes a poor proposal: the Metropolis-Hastings correction
    # must still give the exact posterior, at a lower acceptance rate (and ESS: the tolerance
    # below is in MCSEs, which grow with it; the low-ESS warning is expected there).
    X, y = _data(n, d, 5)
    sigma = _halfnormal(1.0) if sampled == "both" else 0.7
    tau = _halfnormal(0.5)
    with warnings.catch_warnings():
        if grid_points is not None:
            warnings.simplefilter("ignore", DiagnosticWarning)
        post = bw.sample_posterior(X, y, sigma=sigma, tau=tau, method=Collapsed(grid_points=grid_points),
                                   num_samples=2000, num_chains=4, seed=11, progress_bar=False)
    assert post.method == "collapsed"
    oracle = _quadrature(X, y, sigma, tau)
    checks = {"coef": post.samples["coef"].numpy(), "log_tau": post.samples["tau"].log().numpy()}
    if sampled == "both":
        checks["log_sigma"] = post.samples["sigma"].log().numpy()
    num_checks = sum(np.size(oracle[k]) for k in checks)
    # Bonferroni over every checked mean at a 1e-3 family-wise false-alarm rate; the MCSE comes
    # from ArviZ (batch-means-free, from the ESS of the draws, so autocorrelation is counted)
    z = stats.norm.isf(1e-3 / (2 * num_checks))
    for name, draws in checks.items():
        draws = draws.reshape(draws.shape[0], draws.shape[1], -1)
        mcse = np.array([_arviz.mcse(draws[..., j], method="mean") for j in range(draws.shape[-1])])
        err = np.abs(draws.mean((0, 1)) - np.ravel(oracle[name]))
        assert np.all(err < z * mcse), (name, err, mcse)
    if grid_points is None:
        assert post.settings["mean_acceptance"] > 0.8  # the fine table is a near-exact proposal
    else:
        assert post.settings["mean_acceptance"] < 0.8


def test_full_bayes_over_tau_mixes_like_independent_draws():
    # the target: bulk ESS of tau at least half the draws (the full demo had 188 / 4000)
    p = bw.seed_problem()
    post = bw.sample_posterior(p.train.X, p.train.y, sigma=p.sigma, num_samples=1000, num_chains=4,
                               seed=0, progress_bar=False)
    assert post.method == "collapsed"
    assert np.min(post.diagnostics["ess_bulk"]["tau"]) >= 0.5 * 4000
    assert np.max(post.diagnostics["rhat"]["tau"]) < 1.01


def test_independence_chains_follow_the_metropolis_hastings_rule():
    log_w = np.array([[0.0, -1.0, 2.0, 1.0, 5.0]])
    u = np.array([[1.0, math.exp(-1.0) * 0.999, 0.5, math.exp(-1.0) * 1.001, 0.1]])
    state, prob = independence_chains(log_w, u)
    # 1 accepted (u < e^-1); 2 accepted (ratio e^3); 3 rejected (u > e^-1); 4 accepted
    assert state.tolist() == [[0, 1, 2, 2, 4]]
    np.testing.assert_allclose(prob[0], [1.0, math.exp(-1.0), 1.0, math.exp(-1.0), 1.0])


def test_grid_proposal_is_a_normalised_density_covering_the_target():
    def log_density(x):  # a skewed 2-D target: gamma-like in x0, gaussian in x1
        return 3.0 * x[:, 0] - 2.0 * x[:, 0].exp() - 0.5 * ((x[:, 1] - x[:, 0]) / 0.3) ** 2

    prop = GridProposal(log_density, torch.zeros(2, dtype=torch.float64),
                        torch.ones(2, dtype=torch.float64), 96)
    # integral of the proposal density over a wide box (midpoint rule): one
    axes = [torch.linspace(-30, 30, 1201, dtype=torch.float64)] * 2
    mesh = torch.stack(torch.meshgrid(*axes, indexing="ij"), -1).reshape(-1, 2)
    h = float(axes[0][1] - axes[0][0])
    total = float(prop.log_prob(mesh).exp().sum()) * h * h
    assert total == pytest.approx(1.0, abs=0.01)  # the t's tails beyond the box hold < 1 %
    x = prop.sample(20_000, torch.Generator().manual_seed(0))
    assert torch.isfinite(prop.log_prob(x)).all()
    # the table's edges hold negligible density: widened until 30 below the peak
    assert float(log_density(prop.mode.unsqueeze(0))) - float(log_density(
        torch.stack([prop.lower, prop.upper]))[0]) > 25


def test_defensive_component_is_sampled_from_the_density_it_is_scored_by(monkeypatch):
    # the wide component must be drawn from the product of t's that log_prob scores (a
    # multivariate t has the same marginals but puts 0.33 in the unit box, not 0.371)
    import bayeswd.infer.collapsed as collapsed

    prop = GridProposal(lambda x: -0.5 * (x**2).sum(-1), torch.zeros(2, dtype=torch.float64),
                        torch.ones(2, dtype=torch.float64), 32)
    monkeypatch.setattr(collapsed, "DEFENSIVE", 1.0)  # the wide component only
    x = prop.sample(200_000, torch.Generator().manual_seed(1))
    inside = float((((x - prop.mode) / prop.t_scale).abs() < 1).all(-1).double().mean())
    p_box = (stats.t.cdf(1, 3) - stats.t.cdf(-1, 3)) ** 2
    assert abs(inside - p_box) < 5 * math.sqrt(p_box * (1 - p_box) / 200_000)  # 5 binomial sds
    # and log_prob is that product's density
    torch.testing.assert_close(
        prop.log_prob(x[:5]),
        torch.as_tensor(stats.t.logpdf(((x[:5] - prop.mode) / prop.t_scale).numpy(), 3).sum(-1)
                        - np.log(prop.t_scale.numpy()).sum()))


@pytest.mark.slow
def test_sbc_ranks_are_uniform():
    # Simulation-based calibration (as tests/test_sbc.py): sigma, tau, w from their priors, data
    # from the model; ranks of the truths among 99 draws (thinned by 2), pooled over sigma, tau
    # and the weights, chi-square test of uniformity over 10 bins, fail if p < 0.001.
    rng = np.random.default_rng(7)
    n, d, reps, draws, thin = 12, 3, 100, 99, 2
    X = rng.standard_normal((n, d))
    sigma_prior, tau_prior = _halfnormal(1.0), _halfnormal(1.0)
    ranks = []
    for r in range(reps):
        sigma, tau = abs(rng.normal()), abs(rng.normal())
        w = rng.normal(0.0, tau, size=d)
        y = X @ w + sigma * rng.standard_normal(n)
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", category=DiagnosticWarning)  # one short chain
            post = bw.sample_posterior(X, y, sigma=sigma_prior, tau=tau_prior, fit_intercept=False,
                                       method="collapsed", num_chains=1, num_samples=draws * thin,
                                       seed=r, progress_bar=False)
        s = post.samples
        kept = np.column_stack([s["sigma"][0, ::thin], s["tau"][0, ::thin], s["coef"][0, ::thin]])
        ranks.append((kept < np.concatenate([[sigma, tau], w])).sum(0))
    ranks = np.concatenate(ranks)
    counts = np.bincount(ranks * 10 // (draws + 1), minlength=10)
    assert stats.chisquare(counts).pvalue > 1e-3, counts


# -- method="auto" --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("prior", "sigma", "tau", "name"),
    [("gaussian", 0.7, 0.5, "exact"), ("gaussian", None, 0.5, "collapsed"),
     ("gaussian", 0.7, None, "collapsed"), ("gaussian", None, None, "collapsed"),
     ("laplace", 0.7, 0.5, "imh"), ("laplace", 0.7, None, "imh"), ("laplace", None, None, "imh")],
)
def test_auto_picks_the_fastest_exact_method_and_says_why(prior, sigma, tau, name):
    X, y = _data(30, 3, 2)
    post = bw.sample_posterior(X, y, prior=prior, sigma=sigma, tau=tau, num_samples=200,
                               num_chains=2, progress_bar=False)
    assert post.method == name
    assert post.settings["method_choice"].startswith("auto: ")
    assert prior in post.settings["method_choice"]
    explicit = bw.sample_posterior(X, y, prior=prior, sigma=sigma, tau=tau, method=name,
                                   num_samples=200, num_chains=2, progress_bar=False)
    assert "method_choice" not in explicit.settings
    torch.testing.assert_close(post.samples["coef"], explicit.samples["coef"])  # same seed, same draws


def test_auto_keeps_gibbs_for_the_laplace_prior_on_collinear_or_wide_data(monkeypatch):
    # sigma sampled, the independence sampler's pilot refused (AUTO_MIN_ACCEPT above 1): NUTS on
    # well-conditioned features with n > d + 1, Gibbs where the correlation matrix is
    # ill-conditioned or n <= d + 1 (where the independence sampler is not tried)
    import bayeswd.posterior as posterior_mod
    from bayeswd.infer.nuts import correlation_condition
    from bayeswd.stats import sufficient_statistics

    monkeypatch.setattr(posterior_mod, "AUTO_MIN_ACCEPT", 1.01)
    good_X, good_y = _data(30, 3, 2)
    post = bw.sample_posterior(good_X, good_y, prior="laplace", num_samples=100, num_chains=2,
                               progress_bar=False)
    assert post.method == "nuts" and "pilot accepted" in post.settings["method_choice"]

    X, y = _data(40, 3, 5)
    noise = np.random.default_rng(7).standard_normal(40)
    X = np.column_stack([X, X[:, 0] + 0.01 * noise])  # a fourth column nearly the first
    stats = sufficient_statistics(torch.as_tensor(X), torch.as_tensor(y), True)
    assert correlation_condition(stats) == pytest.approx(np.linalg.cond(np.corrcoef(X, rowvar=False)),
                                                         rel=1e-6)
    assert correlation_condition(stats) > 1e3
    wide_X, wide_y = _data(5, 8, 6)
    for XX, yy in ((X, y), (wide_X, wide_y)):
        post = bw.sample_posterior(XX, yy, prior="laplace", num_samples=100, num_chains=2, progress_bar=False)
        assert post.method == "gibbs", post.settings["method_choice"]
    assert "pilot" not in post.settings["method_choice"]  # n <= d + 1: not tried


def test_auto_with_old_style_keywords_means_nuts_as_before():
    X, y = _data(30, 3, 2)
    with pytest.warns(FutureWarning, match="NUTS"), warnings.catch_warnings():
        warnings.simplefilter("ignore", DiagnosticWarning)  # a short chain; only the method matters
        post = bw.sample_posterior(X, y, sigma=0.7, tau=0.5, num_warmup=50, num_samples=50,
                                   num_chains=1, progress_bar=False)
    assert post.method == "nuts"
    assert Auto().choose("gaussian", 0.7, 0.5)[0] == bw.Exact()


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [({"prior": "laplace"}, "needs prior='gaussian'"),
     ({"sigma": 0.7, "tau": 0.5}, "both are fixed")],
)
def test_collapsed_refuses_models_it_does_not_fit(kwargs, match):
    X, y = _data(30, 3, 2)
    with pytest.raises(ValueError, match=match):
        bw.sample_posterior(X, y, method="collapsed", progress_bar=False, **kwargs)


def test_collapsed_options_are_validated():
    with pytest.raises(ValueError, match="grid_points"):
        Collapsed(grid_points=3)
    with pytest.raises(TypeError, match="num_warmup"):
        Collapsed(num_warmup=1.5)
