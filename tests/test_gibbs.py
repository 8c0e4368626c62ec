"""The blocked Gibbs sampler of the laplace prior (``method="gibbs"``) against exact answers.

Tolerances are derived, never tuned (as in ``test_posterior.py``):

* A Monte Carlo mean is compared with ``|mean - truth| <= K * MCSE``, ``MCSE`` ArviZ's
  ``mcse(method="mean")`` (from the ESS, so autocorrelation counts; through ``bayeswd._arviz``,
  on either ArviZ line), and a Monte Carlo sd with ``mcse(method="sd")``. ``K = 4`` is a
  two-sided normal tail of 6.3e-5 per comparison, so with <= 10 comparisons per case (a mean and
  an sd of each of <= 5 scalars) and 7 cases the family-wise false-alarm rate is <= 0.5 %.
* Independent draws (the inverse gaussian sampler, one conditional gaussian block) are checked by
  Kolmogorov-Smirnov tests at p > 1e-3, or by means within ``K`` standard errors ``sd / sqrt(m)``
  and variances within ``K`` standard errors of a variance.
* SBC (Talts et al. 2018): ranks pooled into 10 bins, chi-square p > 1e-3.

The quadrature oracle covers d = 1 and 2 with ``sigma`` and ``tau`` fixed or sampled: the
posterior of the weights is a d-dimensional integral once the intercept (closed form), ``sigma``
(a 1-D integral that depends on ``w`` only through the residual sum of squares) and ``tau`` (a
1-D integral that depends on ``w`` only through ``||w||_1``) are integrated out.
"""

from __future__ import annotations

import math
import time
import warnings

import numpy as np
import pyro.distributions as dist
import pytest
import torch
from scipy import stats
from scipy.special import logsumexp, roots_legendre

import bayeswd as bw
from bayeswd import _arviz
from bayeswd.exceptions import DiagnosticWarning
from bayeswd.infer import Gibbs
from bayeswd.infer import gibbs as gibbs_mod
from bayeswd.infer.gibbs import (
    GaussianBlock,
    inverse_gaussian,
    reciprocal_inverse_gaussian,
    slice_update,
)
from bayeswd.infer.start import InferenceProblem, default_hyperpriors
from bayeswd.stats import sufficient_statistics

K = 4.0  # MCSE multiple, see the module docstring
P_MIN = 1e-3
QUIET = dict(progress_bar=False, device="cpu")
F64 = torch.float64


pytestmark = pytest.mark.usefixtures("one_torch_thread")  # tiny problems (conftest.py)


def _halfnormal(scale: float) -> dist.HalfNormal:
    return dist.HalfNormal(torch.tensor(scale, dtype=F64))


def _data(n: int, d: int, seed: int = 3) -> tuple[torch.Tensor, torch.Tensor]:
    w = torch.tensor([0.4, -0.15, 0.05][:d], dtype=F64)
    data = bw.synthetic_data(w, 0.3, n, noise=0.5, seed=seed)
    return data.X, data.y


# ------------------------------------------------------------------------------------------
# the quadrature oracle (d = 1 or 2)


def _axis(bound: float, panels: int = 24, nodes: int = 12) -> tuple[np.ndarray, np.ndarray]:
    """Composite Gauss-Legendre on [-bound, bound], split at 0 (the kink of |w|), panels graded
    geometrically towards 0 (a sampled tau makes the marginal prior of w singular there, like
    log(1/|w|) for d = 1 and 1 / ||w||_1 for d = 2: integrable, and resolved by the grading)."""
    t, wt = roots_legendre(nodes)
    edges = np.unique(np.concatenate([np.linspace(0.0, bound, panels + 1),
                                      bound * np.geomspace(1e-9, 1.0 / panels, 16)]))
    a, b = edges[:-1, None], edges[1:, None]
    pts = ((b - a) / 2 * t + (a + b) / 2).ravel()
    wts = ((b - a) / 2 * wt).ravel()
    return np.concatenate([-pts[::-1], pts]), np.concatenate([wts[::-1], wts])


def _scale_integral(log_kernel, prior, lo: float, hi: float, points: int = 2000):
    """For a scale s with prior ``prior`` and a kernel exp(log_kernel(q, s)) (q a scalar statistic
    of w, on a log grid of q values): log of the integral over s, and E[s], E[s^2] given q.
    Trapezoid rule on a uniform grid in log s (Jacobian s included)."""
    g = np.linspace(math.log(lo), math.log(hi), points)
    s = np.exp(g)
    lp = dist_log_prob(prior, s) + g

    def at(q: np.ndarray):
        logk = log_kernel(q[:, None], s[None, :]) + lp[None, :]
        logk[:, [0, -1]] -= math.log(2.0)  # trapezoid end weights
        norm = logsumexp(logk, axis=1)
        wts = np.exp(logk - norm[:, None])
        edge = np.maximum(wts[:, 0], wts[:, -1])
        return norm, wts @ s, wts @ s**2, edge
    return at


def dist_log_prob(prior, s: np.ndarray) -> np.ndarray:
    return prior.log_prob(torch.as_tensor(s, dtype=F64)).numpy()


def _upper(prior) -> float:
    """A large value of a scale under its prior: mean + 3 sd."""
    return float(prior.mean + 3.0 * prior.stddev)


def quadrature_oracle(X: torch.Tensor, y: torch.Tensor, *, sigma, tau, fit_intercept: bool = True,
                      bound: float | None = None) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Posterior means and sds of coef, intercept, sigma and tau (where sampled) by quadrature.

    p(w, sigma, tau | y) ∝ sigma^-(n_eff) exp(-RSS(w) / (2 sigma^2)) p(sigma) (2 tau)^-d
    exp(-||w||_1 / tau) p(tau), with RSS(w) = ||yc - Xc w||^2 and n_eff = n - 1 after the flat
    intercept's integral (b | w, sigma ~ Normal(mean(y) - mean(X) w, sigma^2 / n)). The sigma
    and tau integrals depend on w only through RSS and ||w||_1: they are computed on log grids of
    those two numbers (2000 points each) and interpolated, which leaves a 2-D quadrature in w.
    """
    Xn, yn = X.numpy(), y.numpy()
    n, d = Xn.shape
    xbar = Xn.mean(0) if fit_intercept else np.zeros(d)
    ybar = yn.mean() if fit_intercept else 0.0
    Xc, yc = Xn - xbar, yn - ybar
    n_eff = n - int(fit_intercept)
    w_ls = np.linalg.lstsq(Xc, yc, rcond=None)[0]
    if bound is None:
        s_ref = sigma if isinstance(sigma, float) else _upper(sigma)
        t_ref = tau if isinstance(tau, float) else _upper(tau)
        bound = float(np.abs(w_ls).max() + 15.0 * s_ref / np.linalg.norm(Xc, axis=0).min() + 30.0 * t_ref)
    ax, wx = _axis(bound)
    grids = np.meshgrid(*([ax] * d), indexing="ij")
    W = np.stack([g.ravel() for g in grids], axis=1)
    wq = np.prod(np.meshgrid(*([wx] * d), indexing="ij"), axis=0).ravel()
    rss = ((yc[None, :] - W @ Xc.T) ** 2).sum(1)
    l1 = np.abs(W).sum(1)
    out: dict[str, tuple[np.ndarray, np.ndarray]] = {}
    if isinstance(sigma, float):
        log_lik, es, es2 = -rss / (2 * sigma**2), sigma, sigma**2
    else:
        at = _scale_integral(lambda q, s: -n_eff * np.log(s) - q / (2 * s * s), sigma,
                             1e-3 * math.sqrt(rss.min() / n_eff), 1e3 * math.sqrt(rss.max() / n_eff))
        q = np.geomspace(rss.min(), rss.max(), 2000)
        norm, m1, m2, edge = at(q)
        assert edge.max() < 1e-10  # the sigma grid holds the mass
        lq = np.log(q)
        log_lik = np.interp(np.log(rss), lq, norm)
        es, es2 = np.interp(np.log(rss), lq, m1), np.interp(np.log(rss), lq, m2)
    if isinstance(tau, float):
        log_prior, et, et2 = -l1 / tau, tau, tau**2
    else:
        at = _scale_integral(lambda q, s: -d * np.log(2 * s) - q / s, tau,
                             1e-3 * l1.min(), 1e3 * max(l1.max(), 10 * _upper(tau)))
        q = np.geomspace(l1.min(), l1.max(), 2000)
        norm, m1, m2, _ = at(q)  # (the edge at large tau is the prior's tail; checked below)
        lq = np.log(q)
        log_prior = np.interp(np.log(l1), lq, norm)
        et, et2 = np.interp(np.log(l1), lq, m1), np.interp(np.log(l1), lq, m2)
    logp = log_lik + log_prior
    p = np.exp(logp - logp.max()) * wq
    p /= p.sum()
    # the w grid holds the mass: the density on its edge is negligible
    on_edge = (np.abs(W) >= ax.max() * (1 - 1e-9)).any(1)
    assert np.exp(logp[on_edge] - logp.max()).max() < 1e-10
    ew, ew2 = p @ W, p @ W**2
    out["coef"] = (ew, np.sqrt(ew2 - ew**2))
    if fit_intercept:
        bw_ = ybar - W @ xbar
        eb = p @ bw_
        eb2 = p @ (bw_**2 + np.broadcast_to(es2, bw_.shape) / n)
        out["intercept"] = (np.array([eb]), np.array([math.sqrt(eb2 - eb**2)]))
    if not isinstance(sigma, float):
        m1, m2 = p @ es, p @ es2
        out["sigma"] = (np.array([m1]), np.array([math.sqrt(m2 - m1**2)]))
    if not isinstance(tau, float):
        m1, m2 = p @ et, p @ et2
        out["tau"] = (np.array([m1]), np.array([math.sqrt(m2 - m1**2)]))
    return out


def test_quadrature_oracle_agrees_with_closed_form() -> None:
    # a huge tau makes the laplace prior flat: the posterior is the least-squares gaussian
    X, y = _data(12, 2)
    flat = quadrature_oracle(X, y, sigma=0.5, tau=1e6, bound=6.0)
    exact = bw.gaussian_posterior(X, y, sigma=0.5, tau=1e6)
    sd = exact.cov.diagonal().sqrt().numpy()
    np.testing.assert_allclose(flat["coef"][0], exact.mean[:2].numpy(), atol=1e-6 * sd.max())
    np.testing.assert_allclose(flat["coef"][1], sd[:2], rtol=1e-5)
    np.testing.assert_allclose(flat["intercept"][1], sd[2:], rtol=1e-5)
    # ...and with sigma sampled, against the 1-D quadrature of p(sigma | y) in closed form
    prior = _halfnormal(1.0)
    with_sigma = quadrature_oracle(X, y, sigma=prior, tau=1e6, bound=8.0)
    g = np.linspace(math.log(0.05), math.log(20.0), 600)
    lp = np.array([bw.gaussian_log_marginal(X, y, sigma=float(s), tau=1e6) for s in np.exp(g)])
    lp += dist_log_prob(prior, np.exp(g)) + g
    wts = np.exp(lp - lp.max())
    wts /= wts.sum()
    m1 = wts @ np.exp(g)
    assert with_sigma["sigma"][0][0] == pytest.approx(m1, rel=1e-4)
    assert with_sigma["sigma"][1][0] == pytest.approx(math.sqrt(wts @ np.exp(2 * g) - m1**2), rel=1e-3)


# ------------------------------------------------------------------------------------------
# the inverse gaussian sampler


@pytest.mark.parametrize(("mean", "shape"), [(1.0, 1.0), (0.05, 3.0), (20.0, 0.5), (1e3, 1e-2),
                                             (1e-4, 1e4)])
def test_inverse_gaussian_matches_scipy(mean: float, shape: float) -> None:
    m = 20000
    gen = torch.Generator().manual_seed(11)
    x = inverse_gaussian(torch.full((m,), mean, dtype=F64), shape, gen).numpy()
    ref = stats.invgauss(mu=mean / shape, scale=shape)  # mean mu * scale, shape = scale
    assert stats.kstest(x, ref.cdf).pvalue > P_MIN
    # the mean within K standard errors (the sd is sqrt(mean^3 / shape))
    assert abs(x.mean() - mean) <= K * math.sqrt(mean**3 / shape / m)
    # the reciprocal form is the same law: 1 / x for x ~ IG
    r = reciprocal_inverse_gaussian(torch.full((m,), 1.0 / mean, dtype=F64), shape, gen).numpy()
    assert stats.kstest(1.0 / r, ref.cdf).pvalue > P_MIN


def test_inverse_gaussian_infinite_mean_is_levy() -> None:
    # a weight of exactly 0: mean 1 / (tau |w|) = inf; IG(inf, lam) is the Levy law lam / N(0,1)^2
    m, lam = 20000, 2.5
    gen = torch.Generator().manual_seed(12)
    x = inverse_gaussian(torch.full((m,), math.inf, dtype=F64), lam, gen).numpy()
    assert stats.kstest(x, stats.levy(scale=lam).cdf).pvalue > P_MIN
    v = reciprocal_inverse_gaussian(torch.zeros(m, dtype=F64), lam, gen).numpy()
    assert np.all(np.isfinite(v)) and stats.kstest(1.0 / v, stats.levy(scale=lam).cdf).pvalue > P_MIN


def test_mixing_variance_is_the_conditional_of_the_mixture() -> None:
    # v | w, tau drawn as 1 / IG(1 / (tau |w|), 1 / tau^2) must follow the density
    # p(v | w) ∝ v^(-1/2) exp(-w^2 / (2 v) - v / (2 tau^2)) (docs/mathematics.md, 2.11), checked
    # against that density normalised by quadrature (a generalised inverse gaussian, p = 1/2)
    w, tau, m = 0.3, 0.7, 20000
    gen = torch.Generator().manual_seed(13)
    v = reciprocal_inverse_gaussian(torch.full((m,), tau * w, dtype=F64), 1.0 / tau**2, gen).numpy()
    ref = stats.geninvgauss(p=0.5, b=abs(w) / tau, scale=abs(w) * tau)
    assert stats.kstest(v, ref.cdf).pvalue > P_MIN
    grid = np.geomspace(1e-8, 1e3, 200001)
    dens = grid**-0.5 * np.exp(-(w**2) / (2 * grid) - grid / (2 * tau**2))
    cdf = np.concatenate([[0.0], np.cumsum(0.5 * (dens[1:] + dens[:-1]) * np.diff(grid))])
    cdf /= cdf[-1]
    qs = np.array([0.1, 0.5, 0.9])
    np.testing.assert_allclose(ref.cdf(np.interp(qs, cdf, grid)), qs, atol=1e-4)


# ------------------------------------------------------------------------------------------
# the slice update and the gaussian block


@pytest.mark.parametrize("width", [0.01, 1.0, 50.0])
def test_slice_update_leaves_its_target_invariant(width: float) -> None:
    # Start 20000 independent targets at exact draws of log Gamma(3, 1) (density e^{3u - e^u});
    # after 3 slice updates they must still follow it, whatever the width.
    m = 20000
    rng = np.random.default_rng(5)
    u0 = np.log(rng.gamma(3.0, size=m))
    u = u0
    for _ in range(3):
        u = slice_update(lambda x: 3.0 * x - np.exp(x), u, width, rng)
    assert np.all(u != u0)
    assert stats.kstest(np.exp(u), stats.gamma(3.0).cdf).pvalue > P_MIN


def test_gamma_update_leaves_its_target_invariant() -> None:
    # log_prior(u) = u (a flat prior on tau): the target u - 4u - 2 e^{-u} is
    # exactly e^{-u} ~ Gamma(3, rate 2), the proposal Gamma(4, rate 2): 20000 exact starts must
    # still follow it after 3 updates, and the proposals must be taken often (it moves)
    m = 20000
    rng = np.random.default_rng(6)
    u0 = -np.log(rng.gamma(3.0, 0.5, size=m))
    u = u0
    for _ in range(3):
        u = gibbs_mod.gamma_update(lambda x: x, u, 4.0, np.full(m, 2.0), rng)
    assert np.mean(u != u0) > 0.5
    assert stats.kstest(np.exp(-u), stats.gamma(3.0, scale=0.5).cdf).pvalue > P_MIN


@pytest.mark.parametrize(("mean", "sd", "b"), [(1.0, 0.3, 1.0), (-0.5, 0.2, 0.5), (-10.0, 0.3, 0.0)])
def test_truncated_normal_update_leaves_its_target_invariant(mean: float, sd: float, b: float) -> None:
    # an exponential(b) prior on tau times Normal(tau; mean, sd^2) on tau > 0 is the normal of
    # mean (mean - b sd^2) truncated at 0: exact starts, 3 updates, the same law. The cases: the
    # bound below the mean, above it (proposals from the upper tail), and 33 sds above it
    # (beyond TRUNCATION_MAX: the slice update instead)
    m = 20000
    rng = np.random.default_rng(7)
    loc = mean - b * sd * sd
    law = stats.truncnorm(-loc / sd, np.inf, loc=loc, scale=sd)
    u0 = np.log(law.rvs(size=m, random_state=rng))

    def log_prior(x):
        return -b * np.exp(x) + x

    def target(x):
        e = np.exp(x)
        return log_prior(x) - (e * e - 2.0 * mean * e) / (2.0 * sd * sd)

    u = u0
    for _ in range(3):
        u = gibbs_mod.truncated_normal_update(target, log_prior, u, np.full(m, mean), np.full(m, sd),
                                              0.05, rng)
    assert np.mean(u != u0) > 0.5
    assert stats.kstest(np.exp(u), law.cdf).pvalue > P_MIN


def _problem(X, y, sigma, tau, fit) -> InferenceProblem:
    return InferenceProblem(X, y, sufficient_statistics(X, y, fit), "laplace", sigma, tau, fit, {})


@pytest.mark.parametrize(("n", "d", "fit"), [(12, 3, True), (12, 3, False), (5, 8, True), (5, 8, False)])
def test_gaussian_block_log_evidence(n: int, d: int, fit: bool) -> None:
    # log p(y | sigma, v) from the eigendecomposition against the dense gaussian
    # log N(yc; 0, sigma^2 I + Xc V Xc^T) + log sigma (the flat intercept's integral), up to one
    # constant over sigma
    X = torch.randn(n, d, generator=torch.Generator().manual_seed(2), dtype=F64) + 1.0
    y = X.sum(1) + torch.randn(n, generator=torch.Generator().manual_seed(3), dtype=F64)
    block = GaussianBlock(_problem(X, y, 0.5, 0.3, fit))
    assert block.design == (n <= d)
    v = torch.exp(torch.linspace(-6.0, 1.0, d, dtype=F64)).expand(2, d)
    evidence = block.log_evidence(block.spectrum(v))
    Xc = X - X.mean(0) if fit else X
    yc = y - y.mean() if fit else y
    diffs = []
    for s in (0.05, 0.4, 3.0):
        got = evidence(np.full(2, math.log(s)))
        Kmat = s * s * torch.eye(n, dtype=F64) + Xc @ torch.diag(v[0]) @ Xc.T
        ref = dist.MultivariateNormal(torch.zeros(n, dtype=F64), Kmat).log_prob(yc) + fit * math.log(s)
        # two chains at the same state agree to rounding (a batched factorisation need not
        # be bitwise equal across its batch: 2e-14 apart measured on one machine)
        assert float(got[0]) == pytest.approx(float(got[1]), rel=1e-12, abs=1e-12)
        diffs.append(float(got[0] - ref))
    assert max(diffs) - min(diffs) < 1e-9


@pytest.mark.parametrize(("n", "d", "fit"), [(12, 3, True), (5, 8, True), (5, 8, False)])
@pytest.mark.parametrize("path", ["cholesky", "spectrum", "numpy"])
def test_gaussian_block_draws_are_the_conditional(n: int, d: int, fit: bool, path: str) -> None:
    # w | v, sigma, y ~ Normal(S Xc^T yc / sigma^2, S), S = (Xc^T Xc / sigma^2 + V^-1)^-1, and
    # b | w ~ Normal(mean(y) - mean(X) w, sigma^2 / n): means within K standard errors of
    # m = 20000 independent draws, variances within K standard errors of a variance
    X = torch.randn(n, d, generator=torch.Generator().manual_seed(4), dtype=F64) + 0.5
    y = X @ torch.linspace(-1, 1, d, dtype=F64) + 2.0 + torch.randn(n, generator=torch.Generator().manual_seed(5), dtype=F64)
    sigma, m = 0.6, 20000
    block = GaussianBlock(_problem(X, y, sigma, 0.3, fit))
    v = torch.exp(torch.linspace(-8.0, 1.0, d, dtype=F64)).expand(m, d).contiguous()
    gen = torch.Generator().manual_seed(6)
    if path == "cholesky":
        w = block.draw_fixed_sigma(v, sigma, gen)
    elif path == "numpy":  # the CPU's fast path of fixed scales (n <= d only)
        if not block.design:
            pytest.skip("the NumPy draw is the design path's")
        w = torch.from_numpy(block.draw_fixed_sigma_numpy(v.numpy(), sigma, np.random.default_rng(6)))
    else:
        w = block.draw_from_spectrum(v, block.spectrum(v), torch.full((m,), sigma, dtype=F64), gen)
    b = block.intercept(w, torch.full((m,), sigma, dtype=F64), gen)
    Xc = X - X.mean(0) if fit else X
    yc = y - y.mean() if fit else y
    S = torch.linalg.inv(Xc.T @ Xc / sigma**2 + torch.diag(1.0 / v[0]))
    mean = S @ Xc.T @ yc / sigma**2
    xbar = X.mean(0) if fit else torch.zeros(d, dtype=F64)
    ybar = float(y.mean()) if fit else 0.0
    theta = torch.cat([w, b.unsqueeze(-1)], -1)
    t_mean = torch.cat([mean, torch.tensor([ybar - float(xbar @ mean)], dtype=F64)])
    var_b = float(xbar @ S @ xbar) + sigma**2 / n
    t_var = torch.cat([S.diagonal(), torch.tensor([var_b], dtype=F64)])
    assert torch.all((theta.mean(0) - t_mean).abs() <= K * (t_var / m).sqrt())
    assert torch.all((theta.var(0) - t_var).abs() <= K * t_var * math.sqrt(2 / (m - 1)))


# ------------------------------------------------------------------------------------------
# exactness against quadrature (d = 1, 2): the sampler end to end


def errors_in_mcse(post: bw.Posterior, oracle: dict) -> tuple[float, float]:
    """Largest |mean error| and |sd error| over every site, in units of ArviZ's MCSE."""
    z_mean, z_sd = [], []
    for name, (mean, sd) in oracle.items():
        draws = post.samples[name].numpy().reshape(post.num_chains, post.num_draws, -1)
        ds = _arviz.convert_to_dataset({"t": draws})
        se_m = _arviz.mcse(ds, method="mean")["t"].values
        se_s = _arviz.mcse(ds, method="sd")["t"].values
        z_mean.append(np.abs(draws.mean((0, 1)) - mean) / se_m)
        z_sd.append(np.abs(draws.std((0, 1), ddof=1) - sd) / se_s)
    return float(np.concatenate(z_mean).max()), float(np.concatenate(z_sd).max())


QUAD_CASES = [
    # (id, n, d, sigma, tau, fit_intercept, design path): the design path (n <= d in use) is also
    # forced on n > d problems, where the quadrature oracle exists (with n <= d and sigma sampled
    # the posterior is singular where the weights interpolate the data: no quadrature there)
    ("d2-fixed", 12, 2, 0.5, 0.3, True, False),
    ("d2-fixed-n2-design", 2, 2, 0.5, 0.3, False, True),
    ("d2-fixed-design", 12, 2, 0.5, 0.3, True, True),  # fixed scales, design: the NumPy draws
    ("d1-sigma", 12, 1, "default", 0.3, True, False),
    ("d2-sigma-design", 12, 2, "default", 0.3, True, True),
    ("d2-tau", 12, 2, 0.5, "default", True, False),
    ("d2-tau-design", 12, 2, 0.5, "default", True, True),  # sigma fixed, design: the NumPy draws
    ("d1-both-nointercept", 12, 1, "lognormal", "inversegamma", False, False),
    ("d2-both-design", 12, 2, "default", "default", True, True),
]


def _scale(kind, value: float):
    """A fixed value, a prior, or ``None`` ("default": the default HalfNormal hyperprior)."""
    if isinstance(kind, float):
        return kind
    if kind == "default":
        return None
    if kind == "lognormal":
        return dist.LogNormal(torch.tensor(math.log(value), dtype=F64), torch.tensor(0.8, dtype=F64))
    return dist.InverseGamma(torch.tensor(3.0, dtype=F64), torch.tensor(2.0 * value, dtype=F64))


@pytest.mark.slow
@pytest.mark.parametrize(("case_id", "n", "d", "sigma", "tau", "fit", "design"), QUAD_CASES,
                         ids=[c[0] for c in QUAD_CASES])
def test_gibbs_matches_quadrature(case_id, n, d, sigma, tau, fit, design, monkeypatch, record_property):
    if design:
        monkeypatch.setattr(gibbs_mod, "uses_design", lambda n, d: True)
    X, y = _data(n, d)
    sigma, tau = _scale(sigma, 0.6), _scale(tau, 0.3)
    s_prior, t_prior, _ = default_hyperpriors(X, y, sigma, tau)
    oracle = quadrature_oracle(X, y, sigma=s_prior, tau=t_prior, fit_intercept=fit)
    post = bw.sample_posterior(X, y, prior="laplace", sigma=sigma, tau=tau, fit_intercept=fit,
                               method=Gibbs(num_warmup=500), num_samples=4000, num_chains=4,
                               seed=1, **QUIET)
    assert post.settings["likelihood"] == ("design matrix" if design else "sufficient statistics")
    z_mean, z_sd = errors_in_mcse(post, oracle)
    record_property("max_mean_error_mcse", z_mean)
    record_property("max_sd_error_mcse", z_sd)
    print(f"{case_id}: mean err {z_mean:.2f} MCSE, sd err {z_sd:.2f} MCSE, {post.wall_time:.1f}s")
    assert z_mean <= K and z_sd <= K


@pytest.mark.parametrize("prior", [
    _halfnormal(0.7),
    dist.LogNormal(torch.tensor(-0.5, dtype=F64), torch.tensor(0.8, dtype=F64)),
    dist.HalfCauchy(torch.tensor(1.5, dtype=F64)),
    dist.Exponential(torch.tensor(2.0, dtype=F64)),
    dist.Gamma(torch.tensor(2.0, dtype=F64), torch.tensor(3.0, dtype=F64)),
    dist.InverseGamma(torch.tensor(3.0, dtype=F64), torch.tensor(0.6, dtype=F64)),
    dist.Weibull(torch.tensor(1.0, dtype=F64), torch.tensor(1.5, dtype=F64)),  # through log_prob
    dist.Pareto(torch.tensor(0.5, dtype=F64), torch.tensor(3.0, dtype=F64)),  # support > 0.5
], ids=lambda p: type(p).__name__)
def test_log_scale_prior_is_log_prob_in_the_log_coordinate(prior) -> None:
    from bayeswd.infer.gibbs import log_scale_prior

    u = np.linspace(-3.0, 2.0, 11)
    s = torch.as_tensor(np.exp(u), dtype=F64)
    inside = prior.support.check(s).numpy()
    ref = np.where(inside, prior.log_prob(torch.where(prior.support.check(s), s, torch.ones_like(s))).numpy(), -np.inf) + u
    np.testing.assert_allclose(log_scale_prior(prior)(u), ref, rtol=1e-12, atol=1e-12)


# ------------------------------------------------------------------------------------------
# simulation-based calibration, sigma and tau sampled


SBC_REPLICATIONS = 400  # simulated data sets, run as the chains of one batched run
SBC_DRAWS = 99  # kept per data set: ranks in 0..99, 10 bins of 10
SBC_THIN = 4  # keeps the kept draws close to independent (their ESS is printed and recorded)


@pytest.mark.slow
@pytest.mark.parametrize(("n", "d"), [(8, 3), (4, 6)], ids=["n>d-statistics", "n<d-design"])
def test_sbc_ranks_are_uniform(n: int, d: int, record_property) -> None:
    # Talts et al. (2018): draw sigma, tau from their priors, w from Laplace(0, tau), y from the
    # model; the rank of each true value among the posterior draws is uniform on 0..L for a
    # calibrated sampler. The intercept is fixed (a flat prior cannot be drawn from). Every data
    # set is one chain of a single run (gibbs._run with per-chain targets: the same code as
    # sample_posterior's, the data broadcast over the chains). Chi-square tests of 10 equal bins
    # for each weight, sigma and tau separately (the ranks of one data set's weights are
    # correlated through its posterior, so pooling them would overstate the evidence), each at
    # p > 1e-3 / (d + 2): Bonferroni keeps the family-wise false-alarm rate at 1e-3.
    R, L = SBC_REPLICATIONS, SBC_DRAWS
    rng = np.random.default_rng(2025)
    X = rng.standard_normal((n, d))
    sigma_prior = dist.LogNormal(torch.tensor(math.log(0.5), dtype=F64), torch.tensor(0.4, dtype=F64))
    tau_prior = dist.InverseGamma(torch.tensor(3.0, dtype=F64), torch.tensor(1.0, dtype=F64))
    sigma = np.exp(math.log(0.5) + 0.4 * rng.standard_normal(R))
    tau = 1.0 / rng.gamma(3.0, 1.0, size=R)  # InverseGamma(3, rate 1): 1 / tau ~ Gamma(3, rate 1)
    w = rng.laplace(0.0, tau[:, None], size=(R, d))
    Y = w @ X.T + sigma[:, None] * rng.standard_normal((R, n))
    Xt, Yt = torch.as_tensor(X), torch.as_tensor(Y)
    problem = InferenceProblem(Xt, Yt[0], sufficient_statistics(Xt, Yt[0], False), "laplace",
                               sigma_prior, tau_prior, False, {})
    start = time.perf_counter()
    out, info = gibbs_mod._run(problem, Gibbs(num_warmup=200, thin=SBC_THIN), L, R, 7, None, targets=Yt)
    elapsed = time.perf_counter() - start
    assert info["likelihood"] == ("design matrix" if n <= d else "sufficient statistics")
    truth = {"coef": w, "sigma": sigma[:, None], "tau": tau[:, None]}
    p_values = {}
    for name, true in truth.items():
        draws = out[name].numpy().reshape(R, L, -1)
        ranks = (draws < true[:, None, :]).sum(1)  # (R, components)
        for j in range(ranks.shape[1]):
            counts = np.bincount(ranks[:, j] * 10 // (L + 1), minlength=10)
            key = f"{name}[{j}]" if ranks.shape[1] > 1 else name
            p_values[key] = stats.chisquare(counts).pvalue
            record_property(f"sbc_{key}_p", float(p_values[key]))
            print(f"SBC n={n} d={d} {key}: counts {counts.tolist()}, p = {p_values[key]:.3f}")
        # the kept draws' autocorrelation: median over the data sets of the ESS per draw
        ess = np.median([float(_arviz.ess(draws[r, :, 0])) for r in range(0, R, 20)]) / L
        print(f"SBC n={n} d={d} {name}: median ESS per draw {ess:.2f}")
        # ranks of autocorrelated draws are not uniform even for an exact sampler: the thinning
        # must leave the kept draws close to independent (measured 0.9-1.0 per draw)
        assert ess > 0.5, (name, ess)
    print(f"SBC n={n} d={d}: {R} data sets in {elapsed:.1f}s")
    assert min(p_values.values()) > P_MIN / len(p_values), p_values


# ------------------------------------------------------------------------------------------
# the method's interface


def test_gibbs_is_the_laplace_priors_only() -> None:
    X, y = _data(12, 2)
    with pytest.raises(ValueError, match=r"`method` 'gibbs' needs prior='laplace'.*method='exact'.*method='nuts'"):
        bw.sample_posterior(X, y, prior="gaussian", sigma=0.5, tau=0.3, method="gibbs", **QUIET)


@pytest.mark.parametrize(("rho", "low", "high"), [(0.0, 1, 1), (0.8, 3, 7)])
def test_thin_pilot_reads_the_autocorrelation_time(rho: float, low: int, high: int) -> None:
    # AR(1) chains of known autocorrelation time t = (1 + rho) / (1 - rho) (1 and 9), one
    # coordinate (the pilot takes the largest over coordinates: biased up by design); thin is
    # ceil(t / 2), so 1 and 5. The estimate from 4 x 2500 draws has a relative sd of about
    # sqrt(2 (2 M + 1) / N) with Geyer's window M ~ 5 t: 13 % at t = 9; the bounds are 4 sds
    warm, C = 5000, 4
    pilot = gibbs_mod.ThinPilot(warm, C, 1)
    rng = np.random.default_rng(11)
    x = rng.normal(size=(C, 1))
    for it in range(warm):
        x = rho * x + math.sqrt(1.0 - rho * rho) * rng.normal(size=(C, 1))
        pilot.record(it, x)
    thin, t = pilot.choose()
    true = (1.0 + rho) / (1.0 - rho)
    assert low <= thin <= high
    assert abs(t - true) <= 0.55 * true


def test_thin_is_chosen_from_the_warm_up_unless_given(capsys) -> None:
    # the default thin=None: a choice recorded in settings (the progress bar's total follows it),
    # thin 1 below 100 warm-up iterations
    X, y = _data(12, 2)
    kw = dict(prior="laplace", sigma=0.5, tau=0.3, num_samples=20, num_chains=2, **QUIET)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DiagnosticWarning)
        auto = bw.sample_posterior(X, y, method=Gibbs(num_warmup=200), **{**kw, "progress_bar": True})
        total = 200 + 20 * auto.settings["thin"]
        assert f"{total}/{total}" in capsys.readouterr().err
        short = bw.sample_posterior(X, y, method=Gibbs(num_warmup=99), **kw)
        given = bw.sample_posterior(X, y, method=Gibbs(num_warmup=200, thin=3), **kw)
    assert auto.settings["thin_choice"].startswith("from the warm-up: autocorrelation time up to ")
    assert 1 <= auto.settings["thin"] <= gibbs_mod.MAX_AUTO_THIN
    assert short.settings["thin"] == 1 and short.settings["thin_choice"].startswith("1 (warm-up too short")
    assert given.settings["thin"] == 3 and given.settings["thin_choice"] == "given"


@pytest.mark.parametrize(("build", "error", "match"), [
    (lambda: Gibbs(thin=0), ValueError, r"`thin` must be an integer >= 1; got 0"),
    (lambda: Gibbs(num_warmup=-1), ValueError, r"`num_warmup` must be an integer >= 0; got -1"),
    (lambda: Gibbs(thin=1.5), TypeError, r"`thin` must be an integer"),
    (lambda: Gibbs(lr=0.1), TypeError, r"unexpected keyword argument 'lr'"),
])
def test_gibbs_options_validate_when_made(build, error, match) -> None:
    with pytest.raises(error, match=match):
        build()


def test_thin_is_a_setting_of_gibbs_only() -> None:
    X, y = _data(12, 2)
    with pytest.raises(TypeError, match=r"`thin` does not apply to NUTS \(method='nuts'\); it is a setting of Gibbs"):
        bw.sample_posterior(X, y, prior="laplace", sigma=0.5, tau=0.3, method="nuts", thin=2, **QUIET)
    with pytest.raises(TypeError, match=r"`thin` cannot be given next to method=Gibbs"):
        bw.sample_posterior(X, y, prior="laplace", sigma=0.5, tau=0.3, method=Gibbs(), thin=2, **QUIET)


@pytest.mark.parametrize(("n", "d"), [(12, 2), (5, 8)])
def test_layout_seeds_and_settings(n: int, d: int, capsys) -> None:
    X, y = _data(n, min(d, 3))
    if d > 3:
        X = torch.randn(n, d, generator=torch.Generator().manual_seed(9), dtype=F64)
    kw = dict(prior="laplace", sigma=None, tau=None, method=Gibbs(num_warmup=50, thin=2),
              num_samples=300, num_chains=3, device="cpu")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DiagnosticWarning)  # short runs: not what is tested here
        a = bw.sample_posterior(X, y, seed=5, progress_bar=True, **kw)
        assert "Gibbs" in capsys.readouterr().err  # the progress bar
        b = bw.sample_posterior(X, y, seed=5, progress_bar=False, **kw)
        c = bw.sample_posterior(X, y, seed=6, progress_bar=False, **kw)
    assert bw.Gibbs is Gibbs and a.method == "gibbs"
    assert {k: tuple(v.shape) for k, v in a.samples.items()} == {
        "coef": (3, 300, d), "intercept": (3, 300), "sigma": (3, 300), "tau": (3, 300)}
    for k in a.samples:
        assert torch.equal(a.samples[k], b.samples[k])
        assert not torch.equal(a.samples[k], c.samples[k])
    assert a.settings["num_warmup"] == 50 and a.settings["thin"] == 2
    assert a.settings["likelihood"] == ("design matrix" if n <= d else "sufficient statistics")
    assert set(a.diagnostics) == {"rhat", "ess_bulk", "ess_tail"} and a.sample_stats == {}
    assert a.diagnostics["ess_bulk"]["coef"].shape == (d,)
    idata = a.to_inference_data()
    assert _arviz.get_group_attrs(idata, "posterior")["method"] == "gibbs"


def test_short_run_warns_naming_the_gibbs_sampler() -> None:
    # 2 chains x 20 draws can never reach the ESS floor of 50: the calibrated rules of NUTS apply
    X, y = _data(12, 2)
    with pytest.warns(DiagnosticWarning, match=r"^Gibbs diagnostics: .*min bulk ESS .*thin more") as rec:
        bw.sample_posterior(X, y, prior="laplace", sigma=0.5, tau=0.3, method=Gibbs(num_warmup=5),
                            num_samples=20, num_chains=2, **QUIET)
    assert all(w.filename == __file__ for w in rec)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_cuda_matches_quadrature() -> None:
    # the sampler on the GPU: draws come back on the CPU and match the quadrature oracle
    X, y = _data(12, 2)
    oracle = quadrature_oracle(X, y, sigma=0.5, tau=0.3)
    post = bw.sample_posterior(X, y, prior="laplace", sigma=0.5, tau=0.3, method=Gibbs(num_warmup=500),
                               num_samples=4000, seed=1, progress_bar=False, device="cuda")
    assert post.device.startswith("cuda") and post.samples["coef"].device.type == "cpu"
    z_mean, z_sd = errors_in_mcse(post, oracle)
    assert z_mean <= K and z_sd <= K
