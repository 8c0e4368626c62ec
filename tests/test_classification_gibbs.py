"""The Pólya–Gamma Gibbs sampler of binary logistic regression against exact answers.

Tolerances are derived, never tuned:

* A Monte Carlo mean is compared with ``|mean - truth| <= K * MCSE``, MCSE ArviZ's
  ``mcse(method="mean")`` (from the ESS, so autocorrelation counts), and a Monte Carlo sd with
  ``mcse(method="sd")``. ``K`` is the two-sided normal quantile that Bonferroni-corrects all the
  comparisons of the quadrature cases to a family-wise false-alarm rate of 1e-3 (computed below
  from the case list: about 4.2 for 42 comparisons).
* Independent draws (one conditional gaussian block, Pólya–Gamma draws) are checked by means within
  ``K`` standard errors ``sd / sqrt(m)`` and variances or covariances within ``K`` of their
  standard errors, ``K`` Bonferroni-corrected over the comparisons of each test.
* SBC (Talts et al. 2018): ranks in 10 bins, a chi-square test for each weight and ``tau``, each
  at p > 1e-3 / (number of tests of the case) (Bonferroni: family-wise 1e-3 per case).

The quadrature oracle is the exact unnormalised posterior (``GLMProblem``'s closed-form log loss
plus the prior) on a 2-D grid of composite Gauss–Legendre nodes: d = 1 with an intercept, or
d = 2 without. With ``tau`` sampled (d = 1) the ``tau`` integral is done on a log grid at every
weight node, which leaves the same 2-D quadrature.
"""

from __future__ import annotations

import math
import time

import numpy as np
import pytest
import torch
from polyagamma import random_polyagamma
from scipy import stats
from scipy.special import logsumexp, roots_legendre

from bayeswd import _arviz
from bayeswd.classification import pg_gibbs
from bayeswd.classification.pg_gibbs import ThetaBlock, sample_pg_gibbs
from bayeswd.classification.problem import GLMProblem
from bayeswd.infer import Gibbs
from bayeswd.model import log_density

F64 = torch.float64
ALPHA = 1e-3  # family-wise false-alarm rate of each test (of the quadrature cases together)

pytestmark = pytest.mark.usefixtures("one_torch_thread")  # tiny problems (conftest.py)


def _halfnormal(scale: float) -> torch.distributions.HalfNormal:
    return torch.distributions.HalfNormal(torch.tensor(scale, dtype=F64))


def _problem(n: int, d: int, prior: str, tau: float, fit: bool, seed: int = 3) -> GLMProblem:
    # with an intercept, features off centre and an intercept away from 0: the coupling of b and
    # w, and every term of the intercept in the updates, matter
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, d)) + (0.7 if fit else 0.0)
    w = np.zeros(d)
    w[:3] = [0.8, -0.4, 0.2][:d]
    p = 1.0 / (1.0 + np.exp(-(X @ w - (0.8 if fit else 0.0))))
    y = (rng.random(n) < p).astype(np.int64)
    return GLMProblem(torch.as_tensor(X), torch.as_tensor(y), "bernoulli", prior, tau, fit, 2)


# ------------------------------------------------------------------------------------------
# the quadrature oracle (2-D)


def _axis(lo: float, hi: float, panels: int = 24, nodes: int = 12, split: bool = False
          ) -> tuple[np.ndarray, np.ndarray]:
    """Composite Gauss-Legendre on [lo, hi]. ``split``: [-B, B] cut at 0 (the kink of |w|) with
    extra panels graded geometrically towards 0 (a sampled tau makes the marginal prior of w
    log-singular there: integrable, and resolved by the grading)."""
    t, wt = roots_legendre(nodes)
    if split:
        edges = np.unique(np.concatenate([np.linspace(0.0, hi, panels + 1),
                                          hi * np.geomspace(1e-9, 1.0 / panels, 16)]))
    else:
        edges = np.linspace(lo, hi, panels + 1)
    a, b = edges[:-1, None], edges[1:, None]
    pts = ((b - a) / 2 * t + (a + b) / 2).ravel()
    wts = ((b - a) / 2 * wt).ravel()
    if split:
        return np.concatenate([-pts[::-1], pts]), np.concatenate([wts[::-1], wts])
    return pts, wts


def _tau_integral(stat: np.ndarray, prior: str, d: int, tau_prior) -> tuple[np.ndarray, ...]:
    """At each value of the weights' statistic (``||w||_1`` or ``||w||^2``): log of
    int p(w | tau) p(tau) dtau and E[tau | w], E[tau^2 | w], by the trapezoid rule on a log grid of
    tau (Jacobian tau included) that reaches far below the smallest ``|w|``."""
    lo = 1e-3 * float(np.sqrt(stat.min()) if prior == "gaussian" else stat.min())
    g = np.linspace(math.log(lo), math.log(30.0), 6000)
    tau = np.exp(g)
    lp = tau_prior.log_prob(torch.as_tensor(tau)).numpy() + g
    if prior == "gaussian":
        k = -0.5 * d * math.log(2 * math.pi) - d * g[None, :] - stat[:, None] / (2 * tau[None, :] ** 2)
    else:
        k = -d * np.log(2 * tau[None, :]) - stat[:, None] / tau[None, :]
    k = k + lp[None, :]
    k[:, [0, -1]] -= math.log(2.0)
    norm = logsumexp(k, axis=1)
    wts = np.exp(k - norm[:, None])
    assert np.maximum(wts[:, 0], wts[:, -1]).max() < 1e-12  # the tau grid holds the mass
    return norm + math.log(g[1] - g[0]), wts @ tau, wts @ tau**2


def quadrature_oracle(prob: GLMProblem, tau_prior=None, panels: int = 24
                      ) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Posterior means and sds of theta (and tau) on a 2-D grid: d = 1 with an intercept or d = 2
    without. The box is the MAP +- 14 sds of the gaussian approximation (30 for exponential tails),
    and the density on its edges is checked to be negligible."""
    assert prob.size == 2
    d = prob.d
    theta_map, *_ = (pg_gibbs.newton if prob.prior == "gaussian" else pg_gibbs.proximal_newton)(
        prob, 200, 1e-10)
    H = prob.hessian(prob.value_grad(theta_map)[2])
    H.diagonal()[:d] += 1.0 / prob.tau**2
    sd = torch.linalg.inv(H).diagonal().sqrt().numpy()
    m = theta_map.numpy()
    # laplace and a sampled tau give exponential, not gaussian, tails: a wider box
    reach = 14.0 if tau_prior is None and prob.prior == "gaussian" else 30.0
    axes = []
    for j in range(2):
        if j < d:  # a weight: symmetric, split at 0
            axes.append(_axis(0.0, abs(m[j]) + reach * sd[j], panels, split=True))
        else:  # the intercept
            axes.append(_axis(m[j] - reach * sd[j], m[j] + reach * sd[j], panels))
    T = np.stack(np.meshgrid(axes[0][0], axes[1][0], indexing="ij"), -1).reshape(-1, 2)
    wq = np.outer(axes[0][1], axes[1][1]).ravel()
    eta = T @ prob.A.numpy().T  # (points, n)
    yv = prob.y.numpy()
    loglik = (yv * eta - np.logaddexp(0.0, eta)).sum(1)
    W = T[:, :d]
    stat = np.abs(W).sum(1) if prob.prior == "laplace" else (W * W).sum(1)
    out = {}
    if tau_prior is None:
        log_prior = -stat / prob.tau if prob.prior == "laplace" else -stat / (2 * prob.tau**2)
    else:
        assert d == 1  # the tau integral at each weight node of the first axis
        ax0 = axes[0][0]
        s0 = np.abs(ax0) if prob.prior == "laplace" else ax0**2
        norm, e1, e2 = _tau_integral(s0, prob.prior, d, tau_prior)
        idx = np.repeat(np.arange(ax0.size), axes[1][0].size)  # T's first coordinate, ij order
        log_prior, et, et2 = norm[idx], e1[idx], e2[idx]
    logp = loglik + log_prior
    p = np.exp(logp - logp.max()) * wq
    p /= p.sum()
    on_edge = np.zeros(T.shape[0], dtype=bool)
    for j in range(2):
        on_edge |= (T[:, j] <= axes[j][0].min()) | (T[:, j] >= axes[j][0].max())
    assert np.exp(logp[on_edge] - logp.max()).max() < 1e-12  # the box holds the mass
    mean = p @ T
    out["theta"] = (mean, np.sqrt(p @ T**2 - mean**2))
    if tau_prior is not None:
        m1, m2 = p @ et, p @ et2
        out["tau"] = (np.array([m1]), np.array([math.sqrt(m2 - m1**2)]))
    return out


@pytest.mark.parametrize("prior", ["gaussian", "laplace"])
def test_tau_integral_agrees_with_adaptive_quadrature(prior: str) -> None:
    # the tabulated tau integral of the oracle against scipy's adaptive quad, at statistics from
    # 1e-8 (next to the singularity at w = 0) to 9, relative 1e-6 (the trapezoid rule on a fine
    # log grid of a smooth integrand: its error is far below that)
    from scipy.integrate import quad

    hn = _halfnormal(1.0)
    stat = np.array([1e-8, 1e-3, 0.3, 2.0, 9.0])
    norm, e1, e2 = _tau_integral(stat, prior, 1, hn)
    for q, lz, m1, m2 in zip(stat, norm, e1, e2, strict=True):
        def f(t, k, q=q):
            lw = -0.5 * math.log(2 * math.pi * t * t) - q / (2 * t * t) if prior == "gaussian" \
                else -math.log(2 * t) - q / t
            return t**k * math.exp(lw) * math.sqrt(2 / math.pi) * math.exp(-t * t / 2)
        brk = [math.sqrt(q) if prior == "gaussian" else q]
        z = [quad(f, 0.0, 40.0, args=(k,), points=brk, limit=400, epsabs=0, epsrel=1e-11)[0]
             for k in range(3)]
        assert lz == pytest.approx(math.log(z[0]), rel=1e-6)
        assert m1 == pytest.approx(z[1] / z[0], rel=1e-6)
        assert m2 == pytest.approx(z[2] / z[0], rel=1e-6)


@pytest.mark.parametrize("case", [("laplace", 2, False, False), ("gaussian", 1, True, True)])
def test_quadrature_oracle_has_converged(case) -> None:
    # 1.5 x the panels on every axis changes no mean or sd by more than 1e-7 of the sd
    prior, d, fit, sample_tau = case
    prob = _problem(30, d, prior, 1.0 if sample_tau else 0.5, fit)
    tau_prior = _halfnormal(1.0) if sample_tau else None
    a, b = quadrature_oracle(prob, tau_prior), quadrature_oracle(prob, tau_prior, panels=36)
    for name in a:
        np.testing.assert_allclose(a[name][0], b[name][0], rtol=0, atol=1e-7 * b[name][1].min())
        np.testing.assert_allclose(a[name][1], b[name][1], rtol=1e-7)


# ------------------------------------------------------------------------------------------
# exactness against quadrature: the sampler end to end

QUAD_CASES = [
    # (id, prior, d, fit_intercept, tau sampled, force the n x n (Bhattacharya) path)
    ("gaussian-d1-intercept", "gaussian", 1, True, False, False),
    ("laplace-d1-intercept", "laplace", 1, True, False, False),
    ("gaussian-d2", "gaussian", 2, False, False, False),
    ("laplace-d2", "laplace", 2, False, False, False),
    ("gaussian-d1-intercept-design", "gaussian", 1, True, False, True),
    ("laplace-d2-design", "laplace", 2, False, False, True),
    ("gaussian-d1-intercept-tau", "gaussian", 1, True, True, False),
    ("laplace-d1-intercept-tau", "laplace", 1, True, True, False),
    ("laplace-d1-intercept-tau-design", "laplace", 1, True, True, True),
]
# a mean and an sd of each of the 2 parameters, and of tau where sampled
N_COMPARISONS = sum(2 * (2 + int(c[4])) for c in QUAD_CASES)
K = float(stats.norm.isf(ALPHA / (2 * N_COMPARISONS)))  # Bonferroni: 42 comparisons -> 4.23


def errors_in_mcse(samples: dict[str, torch.Tensor], oracle: dict) -> tuple[float, float]:
    """Largest |mean error| and |sd error| over every scalar, in units of ArviZ's MCSE."""
    z_mean, z_sd = [], []
    for name, (mean, sd) in oracle.items():
        draws = samples[name].numpy()
        draws = draws.reshape(draws.shape[0], draws.shape[1], -1)
        ds = _arviz.convert_to_dataset({"t": draws})
        se_m = _arviz.mcse(ds, method="mean")["t"].values
        se_s = _arviz.mcse(ds, method="sd")["t"].values
        z_mean.append(np.abs(draws.mean((0, 1)) - mean) / se_m)
        z_sd.append(np.abs(draws.std((0, 1), ddof=1) - sd) / se_s)
    return float(np.concatenate(z_mean).max()), float(np.concatenate(z_sd).max())


@pytest.mark.parametrize(("case_id", "prior", "d", "fit", "sample_tau", "design"), QUAD_CASES,
                         ids=[c[0] for c in QUAD_CASES])
def test_matches_quadrature(case_id, prior, d, fit, sample_tau, design, monkeypatch, record_property):
    if design:
        monkeypatch.setattr(pg_gibbs, "uses_design", lambda n, d: True)
    prob = _problem(30, d, prior, 0.5 if not sample_tau else 1.0, fit)
    tau_prior = _halfnormal(1.0) if sample_tau else None
    oracle = quadrature_oracle(prob, tau_prior)
    start = time.perf_counter()
    out = sample_pg_gibbs(prob, tau_prior=tau_prior, options=Gibbs(num_warmup=300),
                          num_samples=3000, num_chains=4, seed=1)
    elapsed = time.perf_counter() - start
    assert out.info["theta_draw"].startswith("Bhattacharya" if design else "d x d")
    z_mean, z_sd = errors_in_mcse(out.samples, oracle)
    record_property("max_mean_error_mcse", z_mean)
    record_property("max_sd_error_mcse", z_sd)
    print(f"{case_id}: mean err {z_mean:.2f} MCSE, sd err {z_sd:.2f} MCSE (K = {K:.2f}), {elapsed:.2f}s")
    assert z_mean <= K and z_sd <= K


# ------------------------------------------------------------------------------------------
# the blocks: independent draws against their exact laws


@pytest.mark.parametrize("fit", [True, False], ids=["intercept", "no-intercept"])
@pytest.mark.parametrize("design", [False, True], ids=["dxd", "nxn"])
def test_theta_block_draws_are_the_conditional(fit: bool, design: bool) -> None:
    # theta | omega, D ~ Normal(P^-1 A^T kappa, P^-1), P = A^T Omega A + diag(1 / scale^2, 0),
    # computed directly (one dense inverse) for one omega and scale shared by m = 20000 "chains".
    # Every mean within K sd / sqrt(m); every covariance entry within K of its standard error
    # sqrt((S_ii S_jj + S_ij^2) / m) (normal theory), K Bonferroni over the p + p(p+1)/2 checks.
    n, d, m = 7, 4, 20000
    g = torch.Generator().manual_seed(4)
    X = torch.randn(n, d, generator=g, dtype=F64) + 0.5
    y = (torch.rand(n, generator=g, dtype=F64) < 0.5).to(F64)
    y[0], y[1] = 0.0, 1.0
    omega = torch.rand(n, generator=g, dtype=F64) * 0.3 + 1e-3
    scale = torch.tensor([2.0, 0.5, 1e-4, 1.0], dtype=F64)  # a tiny mixing sd (a weight near 0)
    block = ThetaBlock(X, y - 0.5, fit, design=design)
    draws = block.draw(omega.expand(m, n), scale.expand(m, d), torch.Generator().manual_seed(5))
    A = torch.cat([X, torch.ones(n, 1, dtype=F64)], 1) if fit else X
    p = A.shape[1]
    prec = A.T @ (A * omega[:, None])
    prec[:d, :d] += torch.diag(1.0 / scale**2)
    S = torch.linalg.inv(prec)
    mean = S @ A.T @ (y - 0.5)
    assert draws.shape == (m, p)
    k = float(stats.norm.isf(ALPHA / (2 * (p + p * (p + 1) // 2))))
    assert torch.all((draws.mean(0) - mean).abs() <= k * (S.diagonal() / m).sqrt())
    emp = torch.cov(draws.T)
    se = ((S.diagonal()[:, None] * S.diagonal()[None, :] + S**2) / m).sqrt()
    assert torch.all((emp - S).abs() <= k * se)


def test_polyagamma_draws_follow_their_tilts_elementwise() -> None:
    # the sampler's call: one (C, n) array of tilts, drawn into a (C, n) buffer. E[PG(1, z)] =
    # tanh(z / 2) / (2 z), Var = (sinh z - z) / (4 z^3 cosh^2(z / 2)); each entry's mean over
    # m = 4000 repetitions within K standard errors (Bonferroni over the 6 entries)
    z = np.array([[0.0, 0.5, -2.0], [7.0, -30.0, 1e-3]])
    m = 4000
    rng = np.random.default_rng(0)
    buf = np.empty_like(z)
    draws = np.empty((m, *z.shape))
    for r in range(m):
        random_polyagamma(1.0, z, out=buf, random_state=rng)
        draws[r] = buf
    zz = np.where(z == 0, 1e-8, z)
    mean = np.tanh(zz / 2) / (2 * zz)
    var = (np.sinh(zz) - zz) / (4 * zz**3 * np.cosh(zz / 2) ** 2)
    var = np.where(np.abs(z) < 1e-2, 1.0 / 24.0, var)  # the limit at z = 0 (cancellation)
    k = float(stats.norm.isf(ALPHA / (2 * z.size)))
    assert np.all(np.abs(draws.mean(0) - mean) <= k * np.sqrt(var / m))


# ------------------------------------------------------------------------------------------
# simulation-based calibration


SBC_REPLICATIONS = 1000  # simulated data sets, run as the chains of one batched run
SBC_DRAWS = 99  # kept per data set: ranks in 0..99, 10 bins of 10
SBC_THIN = 3  # keeps the kept draws close to independent (their ESS per draw is checked)

SBC_CASES = [
    # (id, prior, n, d, tau sampled): n <= d runs the n x n (Bhattacharya) path
    ("gaussian", "gaussian", 20, 2, False),
    ("laplace", "laplace", 20, 2, False),
    ("gaussian-tau", "gaussian", 20, 2, True),
    ("laplace-tau-n<d", "laplace", 5, 8, True),
]


@pytest.mark.parametrize(("case_id", "prior", "n", "d", "sample_tau"), SBC_CASES,
                         ids=[c[0] for c in SBC_CASES])
def test_sbc_ranks_are_uniform(case_id, prior, n, d, sample_tau, record_property) -> None:
    # Talts et al. (2018): tau from its prior (or fixed at 1), w from the prior given tau, y from
    # the model; the rank of each true value among the posterior draws is uniform on 0..L for a
    # calibrated sampler. No intercept (a flat prior cannot be drawn from). Every data set is one
    # chain of a single run (pg_gibbs._run with per-chain targets, the sampler's own loop).
    R, L = SBC_REPLICATIONS, SBC_DRAWS
    rng = np.random.default_rng(2025)
    X = rng.standard_normal((n, d))
    tau_prior = _halfnormal(1.0) if sample_tau else None
    tau = np.abs(rng.standard_normal(R)) if sample_tau else np.ones(R)
    if prior == "gaussian":
        w = tau[:, None] * rng.standard_normal((R, d))
    else:
        w = rng.laplace(0.0, tau[:, None], size=(R, d))  # exp(-|x| / scale) / (2 scale)
    Y = (rng.random((R, n)) < 1.0 / (1.0 + np.exp(-(w @ X.T)))).astype(np.int64)
    prob = GLMProblem(torch.as_tensor(X), torch.as_tensor(Y[0]), "bernoulli", prior, 1.0, False, 2)
    start = (torch.zeros(R, d, dtype=F64), np.zeros(R))  # theta = 0, tau = 1
    t0 = time.perf_counter()
    out, _, info = pg_gibbs._run(prob, tau_prior, Gibbs(num_warmup=200, thin=SBC_THIN), L, R, 7,
                                 targets=torch.as_tensor(Y), start=start)
    elapsed = time.perf_counter() - t0
    assert info["theta_draw"].startswith("Bhattacharya" if n <= d else "d x d")
    truth = {"theta": w}
    if sample_tau:
        truth["tau"] = tau[:, None]
    p_values = {}
    for name, true in truth.items():
        draws = out[name].numpy().reshape(R, L, -1)
        ranks = (draws < true[:, None, :]).sum(1)  # (R, components)
        for j in range(ranks.shape[1]):
            counts = np.bincount(ranks[:, j] * 10 // (L + 1), minlength=10)
            key = f"{name}[{j}]" if ranks.shape[1] > 1 else name
            p_values[key] = stats.chisquare(counts).pvalue
            record_property(f"sbc_{key}_p", float(p_values[key]))
            print(f"SBC {case_id} {key}: counts {counts.tolist()}, p = {p_values[key]:.3f}")
        # ranks of autocorrelated draws are not uniform even for an exact sampler: the thinning
        # must leave the kept draws close to independent
        ess = np.median([float(_arviz.ess(draws[r, :, 0])) for r in range(0, R, 20)]) / L
        print(f"SBC {case_id} {name}: median ESS per kept draw {ess:.2f}")
        assert ess > 0.5, (name, ess)
    print(f"SBC {case_id}: {R} data sets in {elapsed:.1f}s")
    # each component tested separately (a data set's weights are correlated through its posterior)
    assert min(p_values.values()) > ALPHA / len(p_values), p_values


# ------------------------------------------------------------------------------------------
# the interface


def test_shapes_settings_seed_and_log_density(capsys) -> None:
    prob = _problem(25, 3, "laplace", 0.7, True)
    prior = _halfnormal(1.0)
    kw = dict(tau_prior=prior, options=Gibbs(num_warmup=20, thin=2), num_samples=50, num_chains=3)
    a = sample_pg_gibbs(prob, seed=5, progress_bar=True, **kw)
    assert "Polya-Gamma Gibbs" in capsys.readouterr().err  # the progress bar
    b = sample_pg_gibbs(prob, seed=5, **kw)
    c = sample_pg_gibbs(prob, seed=6, **kw)
    assert {k: tuple(v.shape) for k, v in a.samples.items()} == {"theta": (3, 50, 4), "tau": (3, 50)}
    assert all(v.dtype == F64 and v.device.type == "cpu" for v in a.samples.values())
    for k in a.samples:
        assert torch.equal(a.samples[k], b.samples[k])
        assert not torch.equal(a.samples[k], c.samples[k])
    np.testing.assert_array_equal(a.sample_stats["lp"], b.sample_stats["lp"])
    assert a.sample_stats["lp"].shape == (3, 50)
    assert a.info["num_warmup"] == 20 and a.info["thin"] == 2 and a.converged
    assert a.info["theta_draw"] == "d x d Cholesky" and a.info["slice_width_log_tau"] > 0
    # lp is the Pyro model's joint log density (tau's prior included) at the kept draw
    theta, tau = a.samples["theta"][1, 7], a.samples["tau"][1, 7]
    values = {**prob.model_values(theta), "tau": tau}
    ref = log_density(values, prob.X, prob.model_y(), **{**prob.model_kwargs, "tau": prior})
    assert a.sample_stats["lp"][1, 7] == pytest.approx(float(ref), rel=1e-12)
    # tau fixed: no tau site, and lp against GLMProblem's own density
    fixed = sample_pg_gibbs(_problem(6, 9, "gaussian", 0.7, False), tau_prior=None,
                            options=Gibbs(num_warmup=5), num_samples=10, num_chains=2, seed=0)
    assert set(fixed.samples) == {"theta"} and fixed.samples["theta"].shape == (2, 10, 9)
    assert fixed.info["theta_draw"].startswith("Bhattacharya")
    p6 = _problem(6, 9, "gaussian", 0.7, False)
    assert fixed.sample_stats["lp"][0, 3] == pytest.approx(
        -float(p6.neg_log_density(fixed.samples["theta"][0, 3])), rel=1e-12)


def test_categorical_family_is_refused() -> None:
    rng = np.random.default_rng(0)
    prob = GLMProblem(torch.as_tensor(rng.standard_normal((9, 2))), torch.arange(9) % 3,
                      "categorical", "gaussian", 1.0, True, 3)
    with pytest.raises(ValueError, match=r"covers the bernoulli family.*family='categorical'.*method='nuts'"):
        sample_pg_gibbs(prob, tau_prior=None, options=Gibbs(), num_samples=10, num_chains=1, seed=0)


def test_bad_settings_are_refused() -> None:
    prob = _problem(10, 2, "gaussian", 1.0, True)
    kw = dict(num_samples=10, num_chains=1, seed=0)
    with pytest.raises(TypeError, match=r"`options` must be a bayeswd.infer.Gibbs"):
        sample_pg_gibbs(prob, tau_prior=None, options="gibbs", **kw)
    with pytest.raises(ValueError, match=r"`tau_prior` as a prior must have positive support"):
        sample_pg_gibbs(prob, tau_prior=torch.distributions.Normal(0.0, 1.0), options=Gibbs(), **kw)
    with pytest.raises(TypeError, match=r"`tau_prior` must be a torch Distribution"):
        sample_pg_gibbs(prob, tau_prior=1.0, options=Gibbs(), **kw)
    with pytest.raises(ValueError, match=r"`num_samples` must be an integer >= 1"):
        sample_pg_gibbs(prob, tau_prior=None, options=Gibbs(), num_samples=0, num_chains=1, seed=0)
