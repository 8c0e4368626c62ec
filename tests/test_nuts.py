"""bayeswd's NUTS backend: its potential is the Pyro model's, exactly; its sampler's plumbing.

The statistical checks of the sampler (against closed forms, quadrature and the Gibbs oracle)
are the NUTS rows of the prior x method matrix in ``test_posterior.py``.
"""

from __future__ import annotations

import itertools
import math
import warnings

import numpy as np
import pyro.distributions as dist
import pytest
import torch
from pyro.infer.autoguide.initialization import init_to_value
from pyro.infer.mcmc.util import initialize_model

from bayeswd.infer import NUTS, PyroNUTS
from bayeswd.infer.adaptation import windows
from bayeswd.infer.kernel import NUTSKernel
from bayeswd.infer.nuts import run_chain
from bayeswd.infer.potentials import (
    CollapsedLaplacePotential,
    LaplaceMixturePotential,
    LinearPotential,
)
from bayeswd.model import linear_regression_model
from bayeswd.posterior import sample_posterior

SCALES = {
    "fixed": lambda v: v,
    "halfnormal": lambda v: dist.HalfNormal(torch.tensor(2.0 * v, dtype=torch.float64)),
    "lognormal": lambda v: dist.LogNormal(torch.tensor(math.log(v), dtype=torch.float64),
                                          torch.tensor(0.7, dtype=torch.float64)),
    "gamma": lambda v: dist.Gamma(torch.tensor(2.0, dtype=torch.float64),
                                  torch.tensor(2.0 / v, dtype=torch.float64)),
}


def _data(n: int, d: int, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    X = torch.randn(n, d, generator=g, dtype=torch.float64)
    y = X @ torch.randn(d, generator=g, dtype=torch.float64) + 5.0 + 0.5 * torch.randn(
        n, generator=g, dtype=torch.float64)
    return X, y


def _values(d: int, fit: bool, sigma, tau, seed: int = 1) -> dict[str, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    out = {"coef": 0.3 * torch.randn(d, generator=g, dtype=torch.float64)}
    if fit:
        out["intercept"] = torch.tensor(4.2, dtype=torch.float64)
    if isinstance(sigma, torch.distributions.Distribution):
        out["sigma"] = torch.tensor(0.8, dtype=torch.float64)
    if isinstance(tau, torch.distributions.Distribution):
        out["tau"] = torch.tensor(0.6, dtype=torch.float64)
    return out


@pytest.mark.parametrize(
    ("prior", "sigma_kind", "tau_kind", "fit", "n"),
    [c for c in itertools.product(["gaussian", "laplace"], ["fixed", "halfnormal", "lognormal"],
                                  ["fixed", "halfnormal", "gamma"], [True, False], [6, 40])],
)
def test_potential_equals_pyro(prior: str, sigma_kind: str, tau_kind: str, fit: bool, n: int) -> None:
    # n = 6 < d + 1 uses the design matrix, n = 40 the sufficient statistics. Pyro's potential
    # (initialize_model on the model, its own transforms to the unconstrained space) and its
    # autograd gradient are the reference: both must agree to rounding.
    d = 5
    X, y = _data(n, d)
    sigma, tau = SCALES[sigma_kind](0.7), SCALES[tau_kind](0.4)
    kwargs = dict(prior=prior, sigma=sigma, tau=tau, fit_intercept=fit)
    values = _values(d, fit, sigma, tau)
    _, pyro_pe, transforms, _ = initialize_model(
        linear_regression_model, model_args=(X, y), model_kwargs=kwargs, max_plate_nesting=1,
        init_strategy=init_to_value(values=values))
    pot = LinearPotential(X, y, **kwargs)
    assert pot.use_stats == (n > d + fit)
    q = pot.pack(values)
    z = {k: (transforms[k](v) if k in transforms else v).detach().requires_grad_()
         for k, v in values.items()}
    ref = pyro_pe(z)
    grads = dict(zip(z, torch.autograd.grad(ref, list(z.values())), strict=True))
    ref_grad = torch.cat([grads[k].reshape(-1) for k in ("coef", "intercept", "sigma", "tau")
                          if k in grads])
    value, grad = pot(q)
    assert value == pytest.approx(float(ref.detach()), rel=1e-12, abs=1e-10)
    torch.testing.assert_close(grad, ref_grad, rtol=1e-10, atol=1e-10)
    for k, v in pot.unpack(q).items():
        torch.testing.assert_close(v, values[k], rtol=1e-12, atol=1e-14)
    # the NumPy twin (NUTS's CPU path) is the same function
    twin_value, twin_grad = pot.numpy_twin()(q.numpy())
    assert twin_value == pytest.approx(value, rel=1e-13, abs=1e-12)
    np.testing.assert_allclose(twin_grad, grad.numpy(), rtol=1e-12, atol=1e-12)


def test_sufficient_statistics_survive_a_large_offset() -> None:
    # y^T y - 2 t.A^T y + t.A^T A t cancels badly when y sits far from 0; centring y (the
    # intercept absorbs the shift) keeps the statistics path equal to the design-matrix path.
    X, y = _data(60, 4)
    y = y + 1e6
    kwargs = dict(prior="gaussian", sigma=0.5, tau=1.0, fit_intercept=True)
    stats = LinearPotential(X, y, **kwargs)
    assert stats.use_stats
    design = LinearPotential(X, y, **kwargs)
    design.use_stats = False
    design._A = torch.cat([X, X.new_ones(60, 1)], 1)
    design._AT, design._y, design._shift = design._A.T.contiguous(), y, 0.0
    q = torch.cat([torch.full((4,), 0.2, dtype=torch.float64), torch.tensor([1e6 + 5.0])])
    (v1, g1), (v2, g2) = stats(q), design(q)
    assert v1 == pytest.approx(v2, rel=1e-9)
    torch.testing.assert_close(g1, g2, rtol=1e-7, atol=1e-6)


@pytest.mark.parametrize(("sigma_kind", "tau_kind", "fit", "n"),
                         list(itertools.product(["fixed", "halfnormal"], ["fixed", "gamma"],
                                                [True, False], [6, 40])))
def test_laplace_mixture_marginalises_to_the_model(sigma_kind, tau_kind, fit, n) -> None:
    # The scale-mixture form has extra coordinates u = log v and a = w exp(-u/2). Integrating
    # them out must give back the laplace model: for each weight,
    #   exp(-U_lin(w, ...)) = prod_j  int exp(-U_mix(a_j = w_j e^{-u_j/2}, u_j, ...)) e^{-u_j/2} du_j
    # (e^{-u/2} is the Jacobian of a -> w at fixed u). With d = 1 that is one quadrature in u.
    # Its gradient is checked against autograd of the same integrand at a random point.
    X, y = _data(n, 1)
    sigma, tau = SCALES[sigma_kind](0.7), SCALES[tau_kind](0.4)
    kwargs = dict(prior="laplace", sigma=sigma, tau=tau, fit_intercept=fit)
    lin, mix = LinearPotential(X, y, **kwargs), LaplaceMixturePotential(X, y, **kwargs)
    values = _values(1, fit, sigma, tau)
    q_lin = lin.pack(values)
    w = float(values["coef"][0])
    u = torch.linspace(-40.0, 12.0, 4001, dtype=torch.float64)
    logs = []
    for ui in u:
        q = torch.cat([torch.tensor([w * math.exp(-0.5 * float(ui))], dtype=torch.float64),
                       q_lin[1:], ui.reshape(1)])
        logs.append(-mix(q)[0] - 0.5 * float(ui))
    logs_t = torch.tensor(logs, dtype=torch.float64)
    log_integral = float(torch.logsumexp(logs_t, 0) + math.log(float(u[1] - u[0])))
    assert logs_t[0] < logs_t.max() - 30 and logs_t[-1] < logs_t.max() - 30  # the grid holds it
    assert log_integral == pytest.approx(-lin(q_lin)[0], abs=1e-6)

    q = mix.pack(values) + 0.1 * torch.randn(mix.size, generator=torch.Generator().manual_seed(3),
                                             dtype=torch.float64)
    value, grad = mix(q)
    q_ref = q.clone().requires_grad_()

    def reference(q_: torch.Tensor) -> torch.Tensor:
        a, u_ = q_[:1], q_[mix.i_aux:]
        parts = {"coef": a * torch.exp(0.5 * u_)}
        i = 1
        if fit:
            parts["intercept"] = q_[i]
            i += 1
        s = sigma
        if isinstance(sigma, torch.distributions.Distribution):
            s = torch.exp(q_[i])
            extra_s = sigma.log_prob(s) + q_[i]
            i += 1
        else:
            extra_s = 0.0
        t = tau
        if isinstance(tau, torch.distributions.Distribution):
            t = torch.exp(q_[i])
            extra_t = tau.log_prob(t) + q_[i]
        else:
            extra_t = 0.0
        lam = 0.5 / t**2
        lp = (dist.Normal(X @ parts["coef"] + parts.get("intercept", 0.0), s).log_prob(y).sum()
              + dist.Normal(0.0, 1.0).log_prob(a).sum()
              + (torch.log(torch.as_tensor(lam, dtype=torch.float64)) - lam * torch.exp(u_) + u_).sum() + extra_s + extra_t)
        return -lp

    ref = reference(q_ref)
    (ref_grad,) = torch.autograd.grad(ref, q_ref)
    assert value == pytest.approx(float(ref.detach()), rel=1e-12, abs=1e-10)
    torch.testing.assert_close(grad, ref_grad, rtol=1e-10, atol=1e-10)


@pytest.mark.parametrize("num_warmup", [0, 10, 19, 20, 100, 149, 150, 500, 1000, 5000])
def test_warmup_windows(num_warmup: int) -> None:
    # Stan's schedule: an initial buffer, doubling metric windows, the last stretched to reach
    # the terminal buffer; short warm-ups (< 20) adapt the step size only.
    init, term, ends = windows(num_warmup)
    if num_warmup < 20:
        assert ends == []
        return
    assert ends[-1] == num_warmup - term
    sizes = np.diff([init, *ends])
    assert (sizes > 0).all()
    assert all(b >= 2 * a for a, b in zip(sizes[:-2], sizes[1:-1], strict=False))
    if num_warmup >= 150:
        assert (init, term, sizes[0]) == (75, 50, 25)


def test_run_chain_on_a_correlated_gaussian() -> None:
    # A 2-d gaussian with correlation 0.95 and unequal scales, preconditioned by a wrong
    # (identity) factor: the diagonal adaptation and the step size must cope. Means and
    # variances within 4 MCSE (arviz, from the bulk ESS) of the truth.
    from bayeswd import _arviz

    cov = torch.tensor([[4.0, 0.95 * 2 * 0.1], [0.95 * 2 * 0.1, 0.01]], dtype=torch.float64)
    prec = torch.linalg.inv(cov)
    mean = torch.tensor([1.0, -2.0], dtype=torch.float64)

    def potential(q: torch.Tensor) -> tuple[float, torch.Tensor]:
        r = q - mean
        g = prec @ r
        return 0.5 * float(r @ g), g

    res = run_chain(potential, torch.zeros(2, dtype=torch.float64), torch.zeros(2, dtype=torch.float64),
                    torch.eye(2, dtype=torch.float64), num_warmup=1000, num_samples=4000, seed=4)
    draws = res.draws.numpy()[None]
    ds = _arviz.convert_to_dataset({"q": draws})
    se_m = _arviz.mcse(ds, method="mean")["q"].values
    se_s = _arviz.mcse(ds, method="sd")["q"].values
    assert np.all(np.abs(draws.mean((0, 1)) - mean.numpy()) <= 4 * se_m)
    assert np.all(np.abs(draws.std((0, 1), ddof=1) - cov.diagonal().sqrt().numpy()) <= 4 * se_s)
    assert not res.diverging.any()
    assert res.step_size.min() == res.step_size.max() > 0  # fixed after warm-up


def test_backends_share_the_result_layout_and_seeds_reproduce() -> None:
    X, y = _data(30, 3)
    kw = dict(sigma=None, tau=1.0, num_samples=30, num_chains=2, seed=7, progress_bar=False)
    from bayeswd.exceptions import DiagnosticWarning

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DiagnosticWarning)  # 30 draws: too few, on purpose
        a = sample_posterior(X, y, method=NUTS(num_warmup=30), **kw)
        b = sample_posterior(X, y, method=NUTS(num_warmup=30), **kw)
        c = sample_posterior(X, y, method=PyroNUTS(num_warmup=30), **kw)
    assert a.settings["backend"] == "bayeswd" and c.settings["backend"] == "pyro"
    for k in a.samples:
        assert a.samples[k].shape == c.samples[k].shape
        assert torch.equal(a.samples[k], b.samples[k])
    assert set(c.sample_stats) <= set(a.sample_stats)
    assert a.sample_stats["n_steps"].shape == (2, 30)


def test_backend_errors() -> None:
    X, y = _data(10, 2)
    with pytest.raises(ValueError, match=r"`backend` must be one of 'bayeswd', 'pyro'; got 'stan'"):
        sample_posterior(X, y, sigma=1.0, tau=1.0, backend="stan")


@pytest.mark.parametrize("fit", [True, False])
def test_sufficient_statistics_in_blocks(monkeypatch: pytest.MonkeyPatch, fit: bool) -> None:
    # blocks of 7 rows (and a remainder) must give A^T A, A^T y_c, y_c^T y_c of the whole data
    import bayeswd.stats as stats_mod

    monkeypatch.setattr(stats_mod, "BLOCK_BYTES", 7 * 8 * 3)
    n = 47
    X, y = _data(n, 3)
    stats = stats_mod.sufficient_statistics(X, y, fit)
    A = torch.cat([X, X.new_ones(n, 1)], 1) if fit else X
    yc = y - y.mean() if fit else y
    torch.testing.assert_close(stats.gram, A.T @ A, rtol=1e-12, atol=1e-12)
    torch.testing.assert_close(stats.aty, A.T @ yc, rtol=1e-12, atol=1e-12)
    assert stats.yty == pytest.approx(float(yc @ yc), rel=1e-12)
    assert stats.shift == (pytest.approx(float(y.mean())) if fit else 0.0)


@pytest.mark.parametrize(("sigma_kind", "tau_kind", "fit"),
                         list(itertools.product(["fixed", "halfnormal"], ["fixed", "gamma"], [True, False])))
def test_collapsed_laplace_potential(sigma_kind: str, tau_kind: str, fit: bool) -> None:
    # The weights integrated out: -log [Normal(y; b, sigma^2 I + X V X^T) prod_j Exp(v_j; lam)
    # v_j] (with u = log v), written with torch.distributions and differentiated by autograd.
    n, d = 6, 9
    X, y = _data(n, d)
    sigma, tau = SCALES[sigma_kind](0.7), SCALES[tau_kind](0.4)
    pot = CollapsedLaplacePotential(X, y, prior="laplace", sigma=sigma, tau=tau, fit_intercept=fit)
    q = 0.5 * torch.randn(pot.size, generator=torch.Generator().manual_seed(2), dtype=torch.float64)
    value, grad = pot(q)
    qq = q.clone().requires_grad_()
    v = qq[:d].exp()
    i = d + int(fit)
    b = qq[d] if fit else 0.0
    extra = 0.0
    s = torch.tensor(sigma, dtype=torch.float64) if sigma_kind == "fixed" else qq[i].exp()
    if sigma_kind != "fixed":
        extra = extra + sigma.log_prob(s) + qq[i]
        i += 1
    t = torch.tensor(tau, dtype=torch.float64) if tau_kind == "fixed" else qq[i].exp()
    if tau_kind != "fixed":
        extra = extra + tau.log_prob(t) + qq[i]
    lam = 0.5 / t**2
    K = X @ torch.diag(v) @ X.T + s**2 * torch.eye(n, dtype=torch.float64)
    lp = (dist.MultivariateNormal(b + torch.zeros(n, dtype=torch.float64), K).log_prob(y)
          + (torch.log(lam) - lam * v + qq[:d]).sum() + extra)
    (ref_grad,) = torch.autograd.grad(-lp, qq)
    assert value == pytest.approx(-float(lp.detach()), rel=1e-12)
    torch.testing.assert_close(grad, ref_grad, rtol=1e-10, atol=1e-10)
    # the NumPy twin (NUTS's CPU path, LAPACK called directly) is the same function, twice in a row
    # (it reuses a buffer)
    twin = pot.numpy_twin()
    for _ in range(2):
        twin_value, twin_grad = twin(q.numpy())
        assert twin_value == pytest.approx(value, rel=1e-12)
        np.testing.assert_allclose(twin_grad, grad.numpy(), rtol=1e-10, atol=1e-10)


def test_collapsed_conditional_draws_match_the_closed_form() -> None:
    # w | v, b, sigma, y ~ Normal(m, S), S = (X'X / sigma^2 + V^-1)^-1, m = S X'(y - b) / sigma^2.
    # 20000 independent draws at one state: means within 4 standard errors (sd_j / sqrt(N)),
    # variances within 4 standard errors of a gaussian variance (var_j sqrt(2 / (N - 1))).
    n, d = 5, 8
    X, y = _data(n, d, seed=4)
    pot = CollapsedLaplacePotential(X, y, prior="laplace", sigma=0.6, tau=0.5, fit_intercept=True)
    q = torch.cat([torch.linspace(-2.0, 0.5, d, dtype=torch.float64), torch.tensor([4.0])])
    N = 20000
    draws = pot.conditional_coef(q.expand(N, -1).contiguous(), torch.Generator().manual_seed(5))
    v = q[:d].exp()
    S = torch.linalg.inv(X.T @ X / 0.36 + torch.diag(1.0 / v))
    m = S @ X.T @ (y - 4.0) / 0.36
    sd = S.diagonal().sqrt()
    assert torch.all((draws.mean(0) - m).abs() <= 4 * sd / math.sqrt(N))
    assert torch.all((draws.var(0) - S.diagonal()).abs() <= 4 * S.diagonal() * math.sqrt(2 / (N - 1)))
    # and one correlation (off-diagonal of S) within 4 of its standard errors (~ 1/sqrt(N))
    c = torch.corrcoef(draws[:, :2].T)[0, 1]
    c_true = S[0, 1] / (sd[0] * sd[1])
    assert abs(float(c - c_true)) <= 4 * (1 - float(c_true) ** 2) / math.sqrt(N)


def test_one_thread_guard_restores_the_callers_setting() -> None:
    from bayeswd.infer.runtime import one_thread_if_small

    before = torch.get_num_threads()
    try:
        torch.set_num_threads(2)
        with one_thread_if_small(torch.device("cpu"), 201):
            assert torch.get_num_threads() == 1
        assert torch.get_num_threads() == 2
        with one_thread_if_small(torch.device("cpu"), 10**6):  # large: left alone
            assert torch.get_num_threads() == 2
        with pytest.raises(RuntimeError), one_thread_if_small(torch.device("cpu"), 5):
            raise RuntimeError("restored even on error")
        assert torch.get_num_threads() == 2
    finally:
        torch.set_num_threads(before)


# ------------------------------------------------------------------------------------------
# the gaussian model with sigma or tau sampled: weights and intercept integrated out


@pytest.mark.parametrize(("n", "d", "fit"), [(20, 50, True), (60, 5, True), (60, 5, False), (10, 30, False)])
@pytest.mark.parametrize("sampled", ["sigma", "tau", "both"])
def test_collapsed_gaussian_potential_is_the_marginal_posterior(n: int, d: int, fit: bool, sampled: str) -> None:
    # U(q) = -log p(y | sigma, tau) - log p(sigma) - log p(tau) - log Jacobians, up to a constant:
    # against the closed-form evidence (Cholesky of the precision), gradient against finite differences
    from bayeswd.evidence import gaussian_log_marginal
    from bayeswd.infer.collapsed_gaussian import CollapsedGaussianPotential

    gen = torch.Generator().manual_seed(n + d)
    X = torch.randn(n, d, generator=gen, dtype=torch.float64) * 2 + 1
    y = X @ torch.randn(d, generator=gen, dtype=torch.float64) * 0.3 + 5 + torch.randn(n, generator=gen, dtype=torch.float64)
    s_prior = dist.HalfNormal(torch.tensor(2.0, dtype=torch.float64))
    t_prior = dist.LogNormal(torch.tensor(0.0, dtype=torch.float64), torch.tensor(1.0, dtype=torch.float64))
    sigma = s_prior if sampled in ("sigma", "both") else 0.8
    tau = t_prior if sampled in ("tau", "both") else 0.6
    pot = CollapsedGaussianPotential(X, y, sigma=sigma, tau=tau, fit_intercept=fit)

    def reference(sig: float, ta: float) -> float:
        lp = gaussian_log_marginal(X, y, sigma=sig, tau=ta, fit_intercept=fit)
        if sampled in ("sigma", "both"):
            lp += float(s_prior.log_prob(torch.tensor(sig, dtype=torch.float64))) + math.log(sig)
        if sampled in ("tau", "both"):
            lp += float(t_prior.log_prob(torch.tensor(ta, dtype=torch.float64))) + math.log(ta)
        return -lp

    diffs = []
    for sig, ta in [(0.7, 0.4), (1.3, 2.0), (0.8, 0.6)]:
        if sampled == "sigma":
            ta = 0.6
        if sampled == "tau":
            sig = 0.8
        values = {"sigma": torch.tensor(sig, dtype=torch.float64), "tau": torch.tensor(ta, dtype=torch.float64)}
        q = pot.pack(values)
        U, g = pot(q)
        diffs.append(U - reference(sig, ta))
        h = 1e-6
        eye = torch.eye(q.numel(), dtype=torch.float64)
        fd = torch.tensor([(pot(q + h * eye[i])[0] - pot(q - h * eye[i])[0]) / (2 * h) for i in range(q.numel())],
                          dtype=torch.float64)
        torch.testing.assert_close(g, fd, rtol=1e-6, atol=1e-6)
        # the NumPy twin (NUTS's CPU path) is the same function
        twin_U, twin_g = pot.numpy_twin()(q.numpy())
        assert isinstance(twin_g, np.ndarray)
        assert twin_U == pytest.approx(U, rel=1e-13, abs=1e-12)
        np.testing.assert_allclose(twin_g, g.numpy(), rtol=1e-12, atol=1e-12)
    # one constant for all (sigma, tau): eigenvalues against a Cholesky factor, rounding only
    assert max(diffs) - min(diffs) < 1e-7 * max(1.0, abs(diffs[0]))


@pytest.mark.parametrize(("n", "d", "fit"), [(20, 50, True), (60, 5, True), (10, 30, False)])
def test_collapsed_gaussian_draws_are_the_conjugate_posterior(n: int, d: int, fit: bool) -> None:
    # at fixed (sigma, tau) the drawn (w, b) are the conjugate posterior: means within K MCSE
    # (independent draws: MCSE = sd / sqrt(m)) and sds within K standard errors of an sd (sd / sqrt(2m))
    from bayeswd.exact import gaussian_posterior
    from bayeswd.infer.collapsed_gaussian import CollapsedGaussianPotential

    gen = torch.Generator().manual_seed(3)
    X = torch.randn(n, d, generator=gen, dtype=torch.float64)
    y = X @ torch.randn(d, generator=gen, dtype=torch.float64) + 2 + torch.randn(n, generator=gen, dtype=torch.float64)
    prior = dist.HalfNormal(torch.tensor(1.0, dtype=torch.float64))
    pot = CollapsedGaussianPotential(X, y, sigma=0.9, tau=prior, fit_intercept=fit)
    m, K = 20000, 4.5  # K: ~max of (d + 1) * 2 standard normals at the 1 % level
    Q = pot.pack({"tau": torch.tensor(0.5, dtype=torch.float64)}).repeat(m, 1)
    draws = pot.draws(Q, torch.Generator().manual_seed(1))
    assert set(draws) == ({"coef", "intercept", "tau"} if fit else {"coef", "tau"})
    theta = torch.cat([draws["coef"], draws["intercept"].unsqueeze(-1)], -1) if fit else draws["coef"]
    exact = gaussian_posterior(X, y, sigma=0.9, tau=0.5, fit_intercept=fit)
    sd = exact.cov.diagonal().sqrt()
    assert float(((theta.mean(0) - exact.mean) / (sd / math.sqrt(m))).abs().max()) < K
    assert float(((theta.std(0) - sd) / (sd / math.sqrt(2 * m))).abs().max()) < K
    torch.testing.assert_close(draws["tau"], torch.full((m,), 0.5, dtype=torch.float64))


def test_hierarchical_gaussian_runs_on_the_scales_only() -> None:
    # both scales sampled, n < d: the (log sigma, log tau) posterior is a curved ridge (a large
    # sigma needs a small tau), hence a higher acceptance target, as for the centred form. With
    # 200 warm-up iterations a few divergences on the ridge are usual: 0-16 of the 2000 transitions
    # over seeds 0-11, with either the torch or the NumPy random stream; they are counted, with a
    # DiagnosticWarning, and more than 2 % would mean the collapsed form or its metric broke.
    from bayeswd.exceptions import DiagnosticWarning

    X, y = _data(20, 30)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DiagnosticWarning)
        post = sample_posterior(X, y, sigma=None, tau=None, num_samples=200, num_chains=2, seed=0,
                                method=NUTS(num_warmup=200, target_accept_prob=0.95), progress_bar=False)
    assert post.settings["parameterisation"] == "weights and intercept integrated out"
    assert post.settings["thin"] == 5 and post.sample_stats["n_steps"].min() >= 5
    assert set(post.samples) == {"coef", "intercept", "sigma", "tau"}
    assert post.samples["coef"].shape == (2, 200, 30)
    assert post.diagnostics["num_divergent"] == int(post.sample_stats["diverging"].sum())
    assert post.diagnostics["num_divergent"] <= 0.02 * 2 * 200 * 5


@pytest.mark.parametrize("u", [800.0, -800.0])
@pytest.mark.parametrize("form", ["collapsed", "direct"])
def test_a_scale_beyond_float_range_is_a_divergence_not_an_error(u: float, form: str) -> None:
    # exp(800) overflows Python's float (OverflowError) and exp(-800) is 0 (math.log(0): a
    # ValueError; 1 / 0: ZeroDivisionError): a diverging trajectory can get there, and its energy
    # is infinite
    from bayeswd.infer.collapsed_gaussian import CollapsedGaussianPotential

    X, y = _data(20, 3)
    prior = dist.HalfNormal(torch.tensor(1.0, dtype=torch.float64))
    kind = CollapsedGaussianPotential if form == "collapsed" else LinearPotential
    pot = kind(X, y, prior="gaussian", sigma=prior, tau=0.5, fit_intercept=True)
    q = torch.zeros(pot.size, dtype=torch.float64)
    q[pot.i_sigma] = u
    with pytest.raises((ArithmeticError, ValueError)):
        pot(q)
    eye = torch.eye(pot.size, dtype=torch.float64)
    for potential, x in ((pot, q), (pot.numpy_twin(), q.numpy())):
        kernel = NUTSKernel(potential, x * 0.0, eye if potential is pot else eye.numpy(), lambda: None,
                            np.random.default_rng(0), 10)
        U, g = kernel.energy_grad(x)
        assert U == math.inf and not bool((g != 0).any())
