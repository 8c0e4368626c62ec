"""map_fit against exact answers: the closed form, scikit-learn, and the classic training loops."""

import dataclasses
import math

import numpy as np
import pytest
import torch
from sklearn.datasets import load_diabetes
from sklearn.linear_model import Lasso, Ridge

import bayeswd as bw


def rel(a, b):
    a, b = torch.as_tensor(np.asarray(a, dtype=float)), torch.as_tensor(np.asarray(b, dtype=float))
    return float((a - b).norm() / b.norm())


def closed_form(X, y, sigma, tau):
    """Posterior mean of (w, b) under the gaussian prior with a flat intercept.

    docs/mathematics.md, section 2.
    """
    A = torch.cat([X, torch.ones(X.shape[0], 1, dtype=X.dtype)], 1)
    prior_prec = torch.full((X.shape[1] + 1,), 1 / tau**2, dtype=X.dtype)
    prior_prec[-1] = 0.0
    precision = A.T @ A / sigma**2 + torch.diag(prior_prec)
    theta = torch.linalg.solve(precision, A.T @ y / sigma**2)
    return theta[:-1], float(theta[-1])


SEED = bw.seed_problem()
_Xd, _yd = load_diabetes(return_X_y=True)
DIABETES = (torch.from_numpy(_Xd), torch.from_numpy(_yd), 50.0, 20.0)  # X, y, sigma, tau
PROBLEMS = {
    "seed": (SEED.train.X, SEED.train.y, SEED.sigma, SEED.tau),
    "diabetes": DIABETES,
}


@pytest.mark.parametrize("name", PROBLEMS)
@pytest.mark.parametrize("method", ["newton", "lbfgs"])
def test_gaussian_map_equals_closed_form_and_ridge(name, method):
    X, y, sigma, tau = PROBLEMS[name]
    fit = bw.map_fit(X, y, sigma=sigma, tau=tau, method=method)
    w, b = closed_form(X, y, sigma, tau)
    ridge = Ridge(alpha=sigma**2 / tau**2, solver="cholesky").fit(X.numpy(), y.numpy())
    bar = 1e-8 if method == "newton" else 1e-6  # L-BFGS stops on a gradient tolerance of 1e-8
    assert fit.converged
    assert rel(fit.coef, w) < bar and abs(fit.intercept - b) / abs(b) < bar
    assert rel(fit.coef, ridge.coef_) < bar
    assert abs(fit.intercept - ridge.intercept_) / abs(ridge.intercept_) < bar


def test_seed_problem_is_high_dimensional_and_weight_decay_3():
    assert SEED.train.X.shape == (20, 200) and SEED.test.X.shape == (100, 200)
    fit = bw.map_fit(SEED.train.X, SEED.train.y, sigma=SEED.sigma, tau=SEED.tau)
    assert fit.weight_decay == pytest.approx(3.0, rel=1e-14)
    assert fit.lam == pytest.approx(30.0, rel=1e-14)  # sigma^2 / tau^2 = n * wd / 2


@pytest.mark.parametrize("prior", ["gaussian", "laplace"])
def test_lam_instead_of_tau(prior):
    X, y, sigma = SEED.train.X, SEED.train.y, SEED.sigma
    lam = 12.5
    a = bw.map_fit(X, y, prior=prior, sigma=sigma, lam=lam)
    tau = sigma / math.sqrt(lam) if prior == "gaussian" else 2 * sigma**2 / lam
    b = bw.map_fit(X, y, prior=prior, sigma=sigma, tau=tau)
    assert a.tau == pytest.approx(tau, rel=1e-15) and a.lam == pytest.approx(lam, rel=1e-14)
    torch.testing.assert_close(a.coef, b.coef, rtol=1e-12, atol=0)


def test_sgd_full_batch_reaches_map():
    X, y = SEED.train.X, SEED.train.y
    exact = bw.map_fit(X, y, sigma=SEED.sigma, tau=SEED.tau)
    sgd = bw.map_fit(X, y, sigma=SEED.sigma, tau=SEED.tau, method="sgd")
    assert sgd.converged
    assert rel(sgd.coef, exact.coef) < 1e-6
    assert abs(sgd.intercept - exact.intercept) / abs(exact.intercept) < 1e-6


def test_minibatch_sgd_wanders_in_a_stated_neighbourhood():
    """Minibatches of 5 with a fixed learning rate: close to the MAP, never at it.

    Why it cannot be exact: at the MAP the full gradient is zero but a minibatch gradient is not,
    so every step moves the iterate off the MAP again (checked below).

    The neighbourhood: for SGD on f = mean_i f_i with uniformly drawn minibatches of size b
    ("b-nice" sampling), f mu-strongly convex and step gamma <= 1/(2 L(b)), Gower et al. (2019),
    "SGD: general analysis and improved rates", Thm 3.1 and Prop 3.8, give
        E ||theta_k - theta*||^2 <= (1 - gamma mu)^k ||theta_0 - theta*||^2 + 2 gamma sigma_b^2 / mu,
        L(b) = n(b-1)/(b(n-1)) L + (n-b)/(b(n-1)) L_max,
        sigma_b^2 = (n-b)/(b(n-1)) * mean_i ||grad f_i(theta*)||^2,
    with f_i(theta) = (a_i . theta - y_i)^2 + wd ||w||^2 / 2, so that f = MSELoss + decay.
    All constants are computed from the data. The bound holds for the mean over runs; by Markov's
    inequality the average of 5 runs exceeds 10x the bound with probability at most 10%, and it is
    in fact loose here (mu is set by the intercept direction), so the check cannot fail by chance.
    """
    X, y = SEED.train.X, SEED.train.y
    n, d = X.shape
    b = 5
    fit = bw.map_fit(X, y, sigma=SEED.sigma, tau=SEED.tau)
    wd = fit.weight_decay
    theta_star = torch.cat([fit.coef, torch.tensor([fit.intercept], dtype=X.dtype)])
    A = torch.cat([X, torch.ones(n, 1, dtype=X.dtype)], 1)
    D = torch.ones(d + 1, dtype=X.dtype)
    D[-1] = 0.0
    eig = torch.linalg.eigvalsh(2 / n * A.T @ A + wd * torch.diag(D))
    mu, L = float(eig.min()), float(eig.max())
    L_max = float((2 * (A**2).sum(1)).max()) + wd
    L_b = n * (b - 1) / (b * (n - 1)) * L + (n - b) / (b * (n - 1)) * L_max
    grads_i = 2 * A * (A @ theta_star - y)[:, None] + wd * D * theta_star
    sigma_b2 = (n - b) / (b * (n - 1)) * float((grads_i**2).sum(1).mean())
    gamma, steps = 1 / (2 * L_b), 3000
    bound = (1 - gamma * mu) ** steps * float(theta_star @ theta_star) + 2 * gamma * sigma_b2 / mu

    # every minibatch gradient at the MAP is non-zero: its smallest size over all rows is > 0
    assert float(grads_i.norm(dim=1).min()) > 0

    dist2 = []
    for seed in range(5):
        run = bw.map_fit(X, y, sigma=SEED.sigma, tau=SEED.tau, method="sgd", batch_size=b,
                         lr=gamma, max_iter=steps, seed=seed)
        assert not run.converged and run.n_iter == steps
        theta = torch.cat([run.coef, torch.tensor([run.intercept], dtype=X.dtype)])
        dist2.append(float(((theta - theta_star) ** 2).sum()))
    mean_dist2 = sum(dist2) / len(dist2)
    assert mean_dist2 <= 10 * bound, (mean_dist2, bound)
    # ...and not at the MAP: full-batch SGD gets within 1e-6 relative, minibatch runs stay far off.
    assert min(dist2) ** 0.5 / float(theta_star.norm()) > 1e-4


def test_minibatch_sgd_is_reproducible():
    X, y = SEED.train.X, SEED.train.y
    kw = dict(sigma=SEED.sigma, tau=SEED.tau, method="sgd", batch_size=5, max_iter=200)
    a, b, c = bw.map_fit(X, y, seed=3, **kw), bw.map_fit(X, y, seed=3, **kw), bw.map_fit(X, y, seed=4, **kw)
    assert torch.equal(a.coef, b.coef) and not torch.equal(a.coef, c.coef)


def test_adam_and_adamw_do_not_reach_the_map():
    """Same decay in Adam and AdamW (full batch): measure the gap to the MAP.

    Adam adds ``wd * w`` to the gradient before its rescaling, so a point where Adam's update
    vanishes has zero regularised gradient: its fixed point *is* the MAP, but with a constant
    learning rate the normalised steps never shrink and the iterates hover at a distance that falls
    with the learning rate. AdamW decays outside the rescaling: its fixed points satisfy
    ``m / sqrt(v) = -wd * w``, which is not the MAP condition, and shrinking the learning rate does
    not close the gap (it converges towards a near-interpolating solution instead).
    """
    X, y = SEED.train.X, SEED.train.y
    exact = bw.map_fit(X, y, sigma=SEED.sigma, tau=SEED.tau)
    gaps = {}
    for method in ("adam", "adamw"):
        for lr in (1e-3, 1e-4):
            run = bw.map_fit(X, y, sigma=SEED.sigma, tau=SEED.tau, method=method, lr=lr, max_iter=6000)
            gaps[method, lr] = rel(run.coef, exact.coef)
            assert run.objective > exact.objective  # the MAP is the minimiser of U
    # Adam: far from the 1e-6 that SGD reaches, and the gap shrinks with the learning rate.
    assert gaps["adam", 1e-3] > 1e-3
    assert gaps["adam", 1e-4] < gaps["adam", 1e-3] / 5
    # AdamW: a gap of tens of percent that does not shrink with the learning rate.
    assert gaps["adamw", 1e-3] > 0.2 and gaps["adamw", 1e-4] > 0.2


@pytest.mark.parametrize("name", PROBLEMS)
def test_laplace_map_equals_sklearn_lasso(name):
    X, y, sigma, _ = PROBLEMS[name]
    n = X.shape[0]
    tau = SEED.tau_laplace if name == "seed" else 30.0
    fit = bw.map_fit(X, y, prior="laplace", sigma=sigma, tau=tau)
    ref = Lasso(alpha=bw.lasso_alpha(sigma, tau, n), tol=1e-14, max_iter=1_000_000).fit(X.numpy(), y.numpy())
    assert fit.converged and fit.optimality < 1e-8
    assert 0 < np.count_nonzero(ref.coef_) < X.shape[1]
    np.testing.assert_array_equal(fit.coef.numpy() == 0, ref.coef_ == 0)  # identical exact zeros
    np.testing.assert_allclose(fit.coef.numpy(), ref.coef_, rtol=0, atol=1e-6 * np.abs(ref.coef_).max())
    assert abs(fit.intercept - ref.intercept_) <= 1e-6 * abs(ref.intercept_)


def tall_problem(n=3000, d=40, seed=1):
    """n >> d: correlated columns with non-zero means (the intercept matters) and a sparse truth."""
    gen = torch.Generator().manual_seed(seed)
    Z = torch.randn(n, d, generator=gen, dtype=torch.float64)
    X = Z + 0.6 * Z[:, :1] + 3.0
    w = torch.zeros(d, dtype=torch.float64)
    w[:8] = torch.linspace(1.0, 0.05, 8, dtype=torch.float64)
    return X, X @ w + 1.5 + 0.5 * torch.randn(n, generator=gen, dtype=torch.float64)


@pytest.mark.parametrize("fit_intercept", [True, False])
def test_laplace_map_equals_sklearn_lasso_when_n_exceeds_d(fit_intercept):
    """The proximal method iterates on the Gram statistics when n > d: the same exact lasso optimum."""
    X, y = tall_problem()
    (n, d), sigma, tau, b0 = X.shape, 0.5, 2e-3, 1.5
    kw = {} if fit_intercept else {"fit_intercept": False, "intercept": b0}
    fit = bw.map_fit(X, y, prior="laplace", sigma=sigma, tau=tau, **kw)
    ref = Lasso(alpha=bw.lasso_alpha(sigma, tau, n), fit_intercept=fit_intercept, tol=1e-14,
                max_iter=1_000_000).fit(X.numpy(), y.numpy() - (0.0 if fit_intercept else b0))
    ref_b = ref.intercept_ if fit_intercept else b0
    assert fit.converged and fit.optimality < 1e-8
    assert 0 < np.count_nonzero(ref.coef_) < d
    np.testing.assert_array_equal(fit.coef.numpy() == 0, ref.coef_ == 0)  # identical exact zeros
    np.testing.assert_allclose(fit.coef.numpy(), ref.coef_, rtol=0, atol=1e-10 * np.abs(ref.coef_).max())
    assert abs(fit.intercept - ref_b) <= 1e-10 * abs(ref_b)
    kw_obj = dict(prior="laplace", sigma=sigma, tau=tau)
    assert fit.objective == pytest.approx(bw.map_objective(X, y, fit.coef, fit.intercept, **kw_obj), rel=1e-13)
    ref_obj = bw.map_objective(X, y, ref.coef_, ref_b, **kw_obj)
    assert fit.objective <= ref_obj * (1 + 1e-13)  # the polished solution is the optimum


def test_subgradient_close_in_objective_but_never_sparse():
    X, y = SEED.train.X, SEED.train.y
    kw = dict(prior="laplace", sigma=SEED.sigma, tau=SEED.tau_laplace)
    prox = bw.map_fit(X, y, **kw)
    L = 2 * float(torch.linalg.eigvalsh(X @ X.T + 1).max()) / X.shape[0]  # bound for mean(r^2)
    sub = bw.map_fit(X, y, method="subgradient", lr=0.1 / L, max_iter=10_000, **kw)
    gap = (sub.objective - prox.objective) / prox.objective
    # With a fixed step the subgradient method oscillates in a band of width O(lr * G^2) above the
    # optimum; here it ends within 1% of the optimal objective (measured about 0.6%), above it.
    assert 0 < gap < 1e-2
    assert int((prox.coef == 0).sum()) > 150  # the proximal MAP is sparse ...
    assert int((sub.coef == 0).sum()) == 0  # ... the subgradient iterate has no exact zero


@pytest.mark.parametrize("method", ["newton", "sgd"])
def test_frozen_intercept(method):
    """fit_intercept=False freezes b (requires_grad=False): the fit is ridge on y - b0."""
    X, y = SEED.train.X, SEED.train.y
    b0 = 0.05
    fit = bw.map_fit(X, y, sigma=SEED.sigma, tau=SEED.tau, fit_intercept=False, intercept=b0, method=method)
    ridge = Ridge(alpha=SEED.sigma**2 / SEED.tau**2, fit_intercept=False).fit(X.numpy(), y.numpy() - b0)
    assert fit.intercept == b0
    assert rel(fit.coef, ridge.coef_) < (1e-8 if method == "newton" else 1e-6)


def test_frozen_intercept_when_n_exceeds_d():
    X, y, sigma, tau = DIABETES
    b0 = 100.0
    fit = bw.map_fit(X, y, sigma=sigma, tau=tau, fit_intercept=False, intercept=b0)
    ridge = Ridge(alpha=sigma**2 / tau**2, fit_intercept=False, solver="cholesky").fit(X.numpy(), y.numpy() - b0)
    assert fit.converged and fit.intercept == b0
    assert rel(fit.coef, ridge.coef_) < 1e-8


def test_no_intercept_laplace():
    X, y = SEED.train.X, SEED.train.y
    n = X.shape[0]
    fit = bw.map_fit(X, y, prior="laplace", sigma=SEED.sigma, tau=SEED.tau_laplace, fit_intercept=False)
    ref = Lasso(alpha=bw.lasso_alpha(SEED.sigma, SEED.tau_laplace, n), fit_intercept=False,
                tol=1e-14, max_iter=1_000_000).fit(X.numpy(), y.numpy())
    np.testing.assert_allclose(fit.coef.numpy(), ref.coef_, rtol=0, atol=1e-6 * np.abs(ref.coef_).max())
    assert fit.intercept == 0.0


@pytest.mark.parametrize("prior", ["gaussian", "laplace"])
def test_fast_hessian_equals_autograd_hessian_of_the_model(prior):
    from bayeswd.solvers.problem import Problem, hessian

    X, y = SEED.train.X[:, :30], SEED.train.y
    for fit_intercept in (True, False):
        prob = Problem(X, y, prior, 0.3, 0.2, fit_intercept, 0.0)
        theta = torch.linspace(-0.5, 0.5, prob.zeros().numel(), dtype=torch.float64)
        for part in ("joint", "likelihood"):
            exact = hessian(lambda th, part=part, prob=prob: prob.neg_log_density(th, part=part), theta)
            torch.testing.assert_close(prob.hessian(part=part), exact, rtol=1e-12, atol=1e-9)


@pytest.mark.parametrize("prior", ["gaussian", "laplace"])
def test_closed_form_gradient_and_gram_statistics_equal_the_model(prior, monkeypatch):
    """The likelihood's gradient from the residual and the Gram statistics A^T A, A^T y0 (X read in
    blocks of rows, the last one ragged) equal autograd of the model and the explicit [X 1]."""
    from bayeswd import stats as stats_mod
    from bayeswd.solvers import problem as M

    X, y = SEED.train.X[:, :30], SEED.train.y
    n, d = X.shape
    monkeypatch.setattr(M.Problem, "block_rows", lambda self: 7)  # blocks of 7, 7 and 6 rows
    monkeypatch.setattr(stats_mod, "BLOCK_BYTES", 7 * d * X.element_size())  # the same in the Gram pass
    for fit_intercept, b0 in ((True, 0.0), (False, 0.3)):
        prob = M.Problem(X, y, prior, 0.3, 0.2, fit_intercept, b0)
        theta = torch.linspace(-0.5, 0.45, prob.zeros().numel(), dtype=torch.float64)
        for part in ("joint", "likelihood"):
            g, r = prob.gradient(theta, part=part)
            exact = M.grad(lambda th, part=part, prob=prob: prob.neg_log_density(th, part=part), theta)
            torch.testing.assert_close(g, exact, rtol=1e-12, atol=1e-9)
        b = theta[d] if fit_intercept else b0
        torch.testing.assert_close(r, y - X @ theta[:d] - b, rtol=0, atol=1e-13)
        A = torch.cat([X, torch.ones(n, 1, dtype=X.dtype)], 1) if fit_intercept else X
        AtA, Aty = prob.gram()
        torch.testing.assert_close(AtA, A.T @ A, rtol=1e-13, atol=1e-12)
        torch.testing.assert_close(Aty, A.T @ (y - b0), rtol=1e-13, atol=1e-12)


def test_lipschitz_constant_from_the_smaller_gram_matrix():
    from bayeswd.solvers.loops import lipschitz_mse
    from bayeswd.solvers.problem import Problem

    for X, y, *_ in (PROBLEMS["seed"], DIABETES):  # n < d and n > d
        for fit_intercept in (True, False):
            A = torch.cat([X, torch.ones(X.shape[0], 1, dtype=X.dtype)], 1) if fit_intercept else X
            expected = 2 * float(torch.linalg.eigvalsh(A.T @ A).max()) / X.shape[0] + 0.5
            prob = Problem(X, y, "gaussian", 1.0, 1.0, fit_intercept, 0.0)
            assert lipschitz_mse(prob, 0.5) == pytest.approx(expected, rel=1e-10)


def test_objective_is_the_model_negative_log_density_up_to_a_constant():
    X, y = SEED.train.X[:, :5], SEED.train.y
    for prior in ("gaussian", "laplace"):
        kw = dict(prior=prior, sigma=0.3, tau=0.2)
        values = []
        for shift in (0.0, 0.1, -0.7):
            w = torch.linspace(-1, 1, 5, dtype=torch.float64) * (1 + shift)
            u = bw.map_objective(X, y, w, shift, **kw)
            logp = bw.log_density({"coef": w, "intercept": torch.tensor(shift, dtype=torch.float64)}, X, y, **kw)
            values.append(u + float(logp))
        assert max(values) - min(values) < 1e-9 * abs(values[0])


def test_result_is_immutable_and_predict_runs_without_graph():
    fit = bw.map_fit(SEED.train.X, SEED.train.y, sigma=SEED.sigma, tau=SEED.tau)
    with pytest.raises(dataclasses.FrozenInstanceError):
        fit.intercept = 0.0
    pred = fit.predict(SEED.test.X)
    assert pred.shape == (100,) and not pred.requires_grad
    torch.testing.assert_close(pred, SEED.test.X @ fit.coef + fit.intercept)
    assert "MAPResult(prior='gaussian'" in repr(fit)
    with pytest.raises(ValueError, match="exists for the gaussian prior only"):
        _ = bw.map_fit(SEED.train.X, SEED.train.y, prior="laplace", sigma=0.01, tau=0.01).weight_decay


def test_convergence_warning_when_budget_too_small():
    with pytest.warns(bw.ConvergenceWarning, match=r"map_fit\(method='sgd'\) stopped after 10 iterations"):
        fit = bw.map_fit(SEED.train.X, SEED.train.y, sigma=SEED.sigma, tau=SEED.tau, method="sgd", max_iter=10)
    assert not fit.converged


def test_synthetic_data():
    data = bw.synthetic_data(np.array([2.0, -3.4]), 4.2, n=5000, noise=0.01, seed=0)
    again = bw.synthetic_data([2.0, -3.4], 4.2, n=5000, noise=0.01, seed=0)
    assert torch.equal(data.X, again.X) and torch.equal(data.y, again.y)
    resid = data.y - data.X @ data.w - data.b
    # sd of 5000 normal residuals: relative standard error 1/sqrt(2 * 5000) = 1%; 5 SE band
    assert float(resid.std()) == pytest.approx(0.01, rel=0.05)
    assert float(resid.mean()) == pytest.approx(0.0, abs=5 * 0.01 / math.sqrt(5000))


def test_training_loop_leaves_global_rng_alone():
    torch.manual_seed(7)
    expected = torch.rand(3)
    torch.manual_seed(7)
    bw.map_fit(SEED.train.X, SEED.train.y, sigma=SEED.sigma, tau=SEED.tau, method="sgd", batch_size=5, max_iter=20)
    assert torch.equal(torch.rand(3), expected)


def test_seed_must_be_non_negative_int():
    with pytest.raises(ValueError, match=r"`seed` must be a non-negative integer; got -3"):
        bw.map_fit(SEED.train.X, SEED.train.y, sigma=SEED.sigma, tau=SEED.tau, seed=-3)
