"""Each convention tested against the library it names (scikit-learn, torch.optim)."""

import math

import numpy as np
import pytest
import torch
from sklearn.datasets import load_diabetes
from sklearn.linear_model import BayesianRidge, Lasso, Ridge
from torch import nn

import bayeswd as bw


def rel(a, b):
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    return float(np.linalg.norm(a - b) / np.linalg.norm(b))


@pytest.fixture(scope="module")
def seed():
    return bw.seed_problem()


@pytest.fixture(scope="module")
def diabetes():
    X, y = load_diabetes(return_X_y=True)
    return X, y


def test_worked_example():
    # docs/mathematics.md: weight_decay=3 on MSELoss(mean), n=20, noise sd 0.01 => prior sd 1.826e-3.
    tau = bw.tau_from_weight_decay(3.0, sigma=0.01, n=20, loss="mse_mean")
    assert tau == pytest.approx(math.sqrt(2 * 0.01**2 / (20 * 3)), rel=1e-15)
    assert f"{tau:.3e}" == "1.826e-03"
    assert bw.seed_problem().tau == tau


@pytest.mark.parametrize(
    ("forward", "backward", "args"),
    [
        (bw.ridge_alpha, lambda a, s, t, n: bw.tau_from_ridge_alpha(a, s), ()),
        (bw.lasso_alpha, lambda a, s, t, n: bw.tau_from_lasso_alpha(a, s, n), ("n",)),
        (bw.l1_subgradient_lambda, lambda a, s, t, n: bw.tau_from_l1_subgradient_lambda(a, s, n), ("n",)),
        *[
            (
                lambda s, t, n, loss=loss: bw.sgd_weight_decay(s, t, n, loss),
                lambda a, s, t, n, loss=loss: bw.tau_from_weight_decay(a, s, n, loss),
                ("n",),
            )
            for loss in ("mse_mean", "mse_sum", "half_mse_mean")
        ],
    ],
)
def test_round_trips(forward, backward, args):
    s, t, n = 0.3, 0.07, 37
    value = forward(s, t, n) if args else forward(s, t)
    assert backward(value, s, t, n) == pytest.approx(t, rel=1e-14)


def test_lam_round_trip_and_bayesian_ridge_round_trip():
    for prior in ("gaussian", "laplace"):
        assert bw.tau_from_lam(0.3, bw.lam_from_tau(0.3, 0.07, prior), prior) == pytest.approx(0.07, rel=1e-14)
    alpha_, lambda_ = bw.bayesian_ridge_precisions(0.3, 0.07)
    assert bw.tau_from_bayesian_ridge(alpha_, lambda_) == pytest.approx((0.3, 0.07), rel=1e-14)


def test_factors():
    s, t, n = 0.5, 0.2, 10
    assert bw.sgd_weight_decay(s, t, n, "mse_mean") == pytest.approx(2 * s**2 / (n * t**2))
    assert bw.sgd_weight_decay(s, t, n, "mse_sum") == pytest.approx(2 * s**2 / t**2)
    assert bw.sgd_weight_decay(s, t, n, "half_mse_mean") == pytest.approx(s**2 / (n * t**2))
    assert bw.lasso_alpha(s, t, n) == pytest.approx(s**2 / (n * t))
    assert bw.l1_subgradient_lambda(s, t, n) == pytest.approx(2 * s**2 / (n * t))
    table = bw.conventions_table(s, t, n)
    assert table["ridge_alpha"] == table["lam"] == pytest.approx(s**2 / t**2)
    assert table["bayesian_ridge_lambda_"] / table["bayesian_ridge_alpha_"] == pytest.approx(table["ridge_alpha"])
    lap = bw.conventions_table(s, t, n, "laplace")
    assert lap["prior_sd"] == pytest.approx(math.sqrt(2) * t)


# --- against scikit-learn --------------------------------------------------------------------------


def test_ridge_alpha_matches_sklearn_ridge(diabetes):
    X, y = diabetes
    sigma, tau = 50.0, 20.0
    fit = bw.map_fit(X, y, sigma=sigma, tau=tau)
    ref = Ridge(alpha=bw.ridge_alpha(sigma, tau), solver="cholesky").fit(X, y)
    assert rel(fit.coef, ref.coef_) < 1e-8
    assert abs(fit.intercept - ref.intercept_) / abs(ref.intercept_) < 1e-8


def test_lasso_alpha_matches_sklearn_lasso(diabetes):
    X, y = diabetes
    n = X.shape[0]
    sigma, tau = 50.0, 30.0
    fit = bw.map_fit(X, y, prior="laplace", sigma=sigma, tau=tau)
    ref = Lasso(alpha=bw.lasso_alpha(sigma, tau, n), tol=1e-14, max_iter=1_000_000).fit(X, y)
    assert 0 < np.count_nonzero(ref.coef_) < X.shape[1]  # the setting is sparse but not empty
    np.testing.assert_allclose(fit.coef.numpy(), ref.coef_, rtol=0, atol=1e-6 * np.abs(ref.coef_).max())
    np.testing.assert_array_equal(fit.coef.numpy() == 0, ref.coef_ == 0)


def test_bayesian_ridge_precisions_match_sklearn(diabetes):
    X, y = diabetes
    br = BayesianRidge(tol=1e-12, max_iter=10_000).fit(X, y)
    sigma, tau = bw.tau_from_bayesian_ridge(br.alpha_, br.lambda_)
    fit = bw.map_fit(X, y, sigma=sigma, tau=tau)
    # BayesianRidge's coef_ is the posterior mean at its fitted (alpha_, lambda_): the gaussian MAP.
    assert rel(fit.coef, br.coef_) < 1e-8
    assert abs(fit.intercept - br.intercept_) / abs(br.intercept_) < 1e-8
    assert bw.bayesian_ridge_precisions(sigma, tau) == pytest.approx((br.alpha_, br.lambda_), rel=1e-14)


def test_l1_subgradient_lambda_is_the_lasso_optimality_condition(diabetes):
    # At the laplace MAP, 0 is in grad mean(r^2) + lam_l1 * d||w||_1: for w_j != 0 the gradient
    # equals -lam_l1 sign(w_j), for w_j == 0 it is at most lam_l1 in size.
    X, y = diabetes
    n = X.shape[0]
    sigma, tau = 50.0, 30.0
    fit = bw.map_fit(X, y, prior="laplace", sigma=sigma, tau=tau)
    r = y - X @ fit.coef.numpy() - fit.intercept
    grad = -2 * X.T @ r / n
    lam_l1 = bw.l1_subgradient_lambda(sigma, tau, n)
    nz = fit.coef.numpy() != 0
    np.testing.assert_allclose(grad[nz], -lam_l1 * np.sign(fit.coef.numpy()[nz]), rtol=1e-8)
    assert np.all(np.abs(grad[~nz]) <= lam_l1 * (1 + 1e-8))


# --- against torch.optim.SGD ----------------------------------------------------------------------


def _sgd_train(X, y, weight_decay, loss, steps, lr):
    """A hand-written classic loop, independent of bayeswd: decay on the weight only."""
    net = nn.Linear(X.shape[1], 1, dtype=torch.float64)
    nn.init.zeros_(net.weight)
    nn.init.zeros_(net.bias)
    opt = torch.optim.SGD(
        [{"params": [net.weight], "weight_decay": weight_decay}, {"params": [net.bias], "weight_decay": 0.0}],
        lr=lr,
    )
    mse = nn.MSELoss(reduction="sum" if loss == "mse_sum" else "mean")
    for _ in range(steps):
        opt.zero_grad()
        out = mse(net(X).squeeze(-1), y)
        (0.5 * out if loss == "half_mse_mean" else out).backward()
        opt.step()
    return net.weight.detach().squeeze(0), float(net.bias.detach())


@pytest.mark.parametrize("loss", ["mse_mean", "mse_sum", "half_mse_mean"])
def test_sgd_weight_decay_matches_torch_sgd(seed, loss):
    X, y, n = seed.train.X, seed.train.y, seed.train.X.shape[0]
    wd = 3.0 if loss != "mse_sum" else 3.0 * n
    tau = bw.tau_from_weight_decay(wd, sigma=seed.sigma, n=n, loss=loss)
    fit = bw.map_fit(X, y, sigma=seed.sigma, tau=tau)
    # Full-batch gradient descent with a step below 1/L converges linearly to the optimum.
    A = torch.cat([X, torch.ones(n, 1, dtype=X.dtype)], 1)
    curv = {"mse_mean": 2 / n, "mse_sum": 2.0, "half_mse_mean": 1 / n}[loss]
    L = curv * float(torch.linalg.eigvalsh(A @ A.T).max()) + wd
    w, b = _sgd_train(X, y, wd, loss, steps=6000, lr=1.0 / L)
    assert rel(w, fit.coef) < 1e-6
    assert abs(b - fit.intercept) / abs(fit.intercept) < 1e-6
