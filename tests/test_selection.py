"""Tests of bayeswd.selection: paths against map_fit and scikit-learn, validation, CV, evidence."""

from __future__ import annotations

import math

import numpy as np
import pytest
import scipy.optimize
import torch
from sklearn.linear_model import BayesianRidge, Lasso, Ridge

import bayeswd
from bayeswd.exceptions import BayeswdWarning
from bayeswd.selection import (
    EvidenceResult,
    SelectionResult,
    SweepResult,
    cv_curve,
    lam_from_draws,
    lam_sweep,
    maximize_evidence,
    validation_curve,
)


@pytest.fixture(scope="module")
def seed():
    return bayeswd.seed_problem()


@pytest.fixture(scope="module")
def sweeps(seed):
    return {
        prior: lam_sweep(seed.train.X, seed.train.y, prior=prior, X_test=seed.test.X, y_test=seed.test.y)
        for prior in ("gaussian", "laplace")
    }


def _rel(a, b):
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    return float(np.max(np.abs(a - b)) / max(np.max(np.abs(b)), 1e-300))


# ------------------------------------------------------------------ sweeps


def test_sweep_shapes_and_summaries(sweeps, seed):
    s = sweeps["gaussian"]
    assert isinstance(s, SweepResult)
    assert s.coef.shape == (50, 200) and s.lams.shape == (50,)
    assert np.all(np.diff(s.lams) > 0)
    assert s.coef.dtype == np.float64
    np.testing.assert_allclose(s.weight_norm, np.linalg.norm(s.coef, axis=1))
    np.testing.assert_allclose(s.l1_norm, np.abs(s.coef).sum(axis=1))
    assert s.test_mse is not None and s.feature_names[:2] == ("x0", "x1")
    # the ridge path shrinks monotonically; train error grows with the penalty
    assert np.all(np.diff(s.weight_norm) < 0)
    assert np.all(np.diff(s.train_mse) > 0)
    with pytest.raises(AttributeError):
        s.lams = None  # frozen
    # laplace: the largest default penalty is lam1_max, where the MAP is exactly 0
    lap = sweeps["laplace"]
    assert lap.n_nonzero[-1] == 0 and lap.n_nonzero[0] > 0
    assert np.all(lap.n_nonzero <= seed.train.X.shape[0])


# penalties spread over the default grids; tolerances of the issue: 1e-8 gaussian, 1e-6 laplace
@pytest.mark.parametrize(
    ("prior", "index", "tol"),
    [("gaussian", i, 1e-8) for i in (0, 17, 33, 49)] + [("laplace", i, 1e-6) for i in (5, 25, 48)],
)
def test_sweep_agrees_with_map_fit(sweeps, seed, prior, index, tol):
    s = sweeps[prior]
    fit = bayeswd.map_fit(seed.train.X, seed.train.y, prior=prior, sigma=seed.sigma, lam=float(s.lams[index]))
    assert fit.converged
    ref = np.append(fit.coef.numpy(), fit.intercept)
    ours = np.append(s.coef[index], s.intercept[index])
    assert np.linalg.norm(ours - ref) <= tol * np.linalg.norm(ref)


def test_sweep_without_intercept_agrees_with_map_fit(seed):
    s = lam_sweep(seed.train.X, seed.train.y, lams=[0.1, 30.0], fit_intercept=False)
    for i, lam in enumerate(s.lams):
        fit = bayeswd.map_fit(seed.train.X, seed.train.y, sigma=seed.sigma, lam=float(lam), fit_intercept=False)
        assert _rel(s.coef[i], fit.coef.numpy()) <= 1e-8
    assert np.all(s.intercept == 0.0)


def test_sweep_agrees_with_sklearn_and_errors_are_mse(sweeps, seed):
    X, y = seed.train.X.numpy(), seed.train.y.numpy()
    Xt, yt = seed.test.X.numpy(), seed.test.y.numpy()
    n = X.shape[0]
    g, lap = sweeps["gaussian"], sweeps["laplace"]
    for i in (3, 30):
        r = Ridge(alpha=g.lams[i]).fit(X, y)
        assert _rel(g.coef[i], r.coef_) <= 1e-8
        assert g.test_mse[i] == pytest.approx(np.mean((yt - r.predict(Xt)) ** 2), rel=1e-8)
        assert g.train_mse[i] == pytest.approx(np.mean((y - r.predict(X)) ** 2), rel=1e-6)
    for i in (20, 45):  # Lasso(alpha) minimises ||r||^2/(2n) + alpha ||w||_1
        las = Lasso(alpha=lap.lams[i] / (2 * n), tol=1e-12, max_iter=200_000).fit(X, y)
        assert _rel(lap.coef[i], las.coef_) <= 1e-6


def test_sweep_taus_equal_lams(seed):
    taus = np.array([1e-3, 2e-3, 1e-2])
    for prior in ("gaussian", "laplace"):
        a = lam_sweep(seed.train.X, seed.train.y, prior=prior, taus=taus, sigma=seed.sigma)
        lams = [bayeswd.lam_from_tau(seed.sigma, t, prior) for t in taus]
        b = lam_sweep(seed.train.X, seed.train.y, prior=prior, lams=lams)
        np.testing.assert_allclose(a.lams, b.lams, rtol=1e-15)
        np.testing.assert_allclose(a.coef, b.coef, rtol=1e-12, atol=1e-15)


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"prior": "ridge"}, ValueError, "`prior` must be one of 'gaussian', 'laplace'; got 'ridge'"),
        ({"lams": [1.0, -2.0]}, ValueError, "`lams` must contain positive finite numbers only; got -2.0"),
        ({"lams": [[1.0]]}, ValueError, "`lams` must be a non-empty 1-D array"),
        ({"lams": [1.0], "taus": [1.0]}, ValueError, "give `lams` or `taus`, not both"),
        ({"taus": [1.0]}, ValueError, "`sigma` is required with `taus`"),
        ({"X_test": np.zeros((3, 200))}, ValueError, "`X_test` and `y_test` must be given together"),
        ({"X_test": np.zeros((3, 5)), "y_test": np.zeros(3)}, ValueError, "`X_test` must have 200 columns"),
        ({"fit_intercept": 1}, TypeError, "`fit_intercept` must be True or False; got 1"),
        ({"n_lams": 0}, ValueError, "`n_lams` must be an integer >= 1; got 0"),
    ],
)
def test_sweep_validation_errors(seed, kwargs, error, match):
    with pytest.raises(error, match=match):
        lam_sweep(seed.train.X, seed.train.y, **kwargs)


def test_one_lasso_solver_for_map_fit_lam_sweep_and_cv_curve(seed):
    """map_fit(prior="laplace"), lam_sweep and cv_curve run the one lasso solver
    (bayeswd.solvers.lasso) on the centred statistics of one function, and every penalty here ends
    with its exact active-set solve: the coefficients are the same to the last bit."""
    X, y = seed.train.X, seed.train.y
    s = lam_sweep(X, y, prior="laplace")
    for i in range(s.lams.size):
        fit = bayeswd.map_fit(X, y, prior="laplace", sigma=seed.sigma, lam=float(s.lams[i]))
        assert fit.converged and fit.lam == s.lams[i]
        assert np.array_equal(fit.coef.numpy(), s.coef[i]), i
        assert fit.intercept == pytest.approx(s.intercept[i], rel=0, abs=1e-14)
    # cv_curve holds no coefficients: each fold's held-out error is bit-equal to lam_sweep's on the
    # same rows, whose coefficients are bit-equal to map_fit's.
    res = cv_curve(X, y, prior="laplace", n_folds=4, n_lams=10, seed=0)
    for k in range(4):
        tr, te = res.folds != k, res.folds == k
        sk = lam_sweep(X[tr], y[tr], prior="laplace", lams=res.lams, X_test=X[te], y_test=y[te])
        assert np.array_equal(sk.test_mse, res.fold_mse[k])
        for j in (2, 7):
            fit = bayeswd.map_fit(X[tr], y[tr], prior="laplace", sigma=seed.sigma, lam=float(res.lams[j]))
            assert np.array_equal(fit.coef.numpy(), sk.coef[j])


def test_one_lasso_solver_when_n_exceeds_d():
    """The same identity on a tall problem (the Gram statistics from blocks of rows) and without an
    intercept."""
    rng = np.random.default_rng(4)
    X = rng.standard_normal((500, 30)) + 2.0
    y = X[:, :5] @ np.linspace(1.0, 0.2, 5) + 0.5 + rng.standard_normal(500)
    for fit_intercept in (True, False):
        s = lam_sweep(X, y, prior="laplace", n_lams=12, fit_intercept=fit_intercept)
        for i in (1, 6, 10):
            fit = bayeswd.map_fit(X, y, prior="laplace", sigma=1.0, lam=float(s.lams[i]),
                                  fit_intercept=fit_intercept)
            assert np.array_equal(fit.coef.numpy(), s.coef[i])


# ------------------------------------------------------------------ validation and CV


def _prior_problem(n, d, sigma, tau, seed, n_val=0):
    """Data drawn from the model's prior: w ~ N(0, tau^2 I), b = 0.3, noise sd sigma."""
    rng = np.random.default_rng(seed)
    w = rng.normal(0.0, tau, d)
    X = rng.standard_normal((n, d))
    y = X @ w + 0.3 + sigma * rng.standard_normal(n)
    Xv = rng.standard_normal((n_val, d))
    yv = Xv @ w + 0.3 + sigma * rng.standard_normal(n_val)
    return X, y, w, Xv, yv


def _expected_validation_mse(X, lams, sigma, tau):
    """Analytic E[(y_new - x_new w_hat - b_hat)^2] over w ~ N(0, tau^2 I), noise, x_new ~ N(0, I).

    With centring, e = (x - xbar).(w - w_hat) - eps_bar + eps_new, w_hat = G (Xc w + C eps),
    G = V diag(s / (s^2 + lam)) U^T, C the centring matrix.
    """
    n, d = X.shape
    xbar = X.mean(axis=0)
    Xc = X - xbar
    C = np.eye(n) - np.ones((n, n)) / n
    U, s, Vt = np.linalg.svd(Xc, full_matrices=False)
    out = []
    for lam in lams:
        G = Vt.T @ np.diag(s / (s**2 + lam)) @ U.T
        M = np.eye(d) - G @ Xc  # delta = M w - G C eps
        GC = G @ C
        e_delta2 = tau**2 * np.sum(M**2) + sigma**2 * np.sum(GC**2)
        a = -(GC.T @ xbar) - np.ones(n) / n  # xbar.delta + (-eps_bar) = xbar^T M w + a^T eps
        e_shift2 = tau**2 * np.sum((M.T @ xbar) ** 2) + sigma**2 * np.sum(a**2)
        out.append(e_delta2 + e_shift2 + sigma**2)
    return np.array(out)


def test_validation_curve_matches_expected_error_and_oracle():
    """Averaged over data from the prior, the validation curve is the analytic expected error,
    whose minimum is the Bayes-optimal lam = sigma^2/tau^2 (the posterior mean is optimal)."""
    n, d, sigma, tau, R, n_val = 15, 10, 0.5, 0.3, 300, 200
    oracle = sigma**2 / tau**2
    lams = oracle * np.geomspace(0.01, 100.0, 9)
    rng = np.random.default_rng(1)
    X = rng.standard_normal((n, d))  # fixed training design; w, noise and validation rows redrawn
    curves = np.empty((R, lams.size))
    for r in range(R):
        w = rng.normal(0.0, tau, d)
        y = X @ w - 1.0 + sigma * rng.standard_normal(n)
        Xv = rng.standard_normal((n_val, d))
        yv = Xv @ w - 1.0 + sigma * rng.standard_normal(n_val)
        res = validation_curve(X, y, Xv, yv, lams=lams)
        curves[r] = res.mse
    expected = _expected_validation_mse(X, lams, sigma, tau)
    mcse = curves.std(axis=0, ddof=1) / math.sqrt(R)
    assert np.all(np.abs(curves.mean(axis=0) - expected) <= 4.0 * mcse)
    # the analytic curve is minimised at the oracle
    opt = scipy.optimize.minimize_scalar(
        lambda t: _expected_validation_mse(X, [math.exp(t)], sigma, tau)[0],
        bounds=(math.log(oracle) - 3, math.log(oracle) + 3), method="bounded", options={"xatol": 1e-8},
    )
    assert math.exp(opt.x) == pytest.approx(oracle, rel=1e-4)


def test_validation_curve_result(seed, sweeps):
    res = validation_curve(seed.train.X, seed.train.y, seed.test.X, seed.test.y)
    assert isinstance(res, SelectionResult) and res.method == "validation"
    np.testing.assert_allclose(res.mse, sweeps["gaussian"].test_mse, rtol=1e-12)
    assert res.lam_best == res.lams[np.argmin(res.mse)]
    i = np.argmin(res.mse)
    assert res.lam_1se >= res.lam_best
    assert res.mse[res.lams == res.lam_1se][0] <= res.mse[i] + res.se[i]
    assert res.fold_mse is None and res.folds is None


def test_cv_curve_matches_sklearn_folds():
    X, y, _, _, _ = _prior_problem(23, 6, 0.5, 0.4, seed=3)
    lams = np.geomspace(0.01, 100.0, 7)
    res = cv_curve(X, y, lams=lams, n_folds=4, seed=7)
    assert res.method == "cv" and res.seed == 7 and res.fold_mse.shape == (4, 7)
    sizes = np.bincount(res.folds)
    assert sizes.max() - sizes.min() <= 1 and sizes.sum() == 23
    for k in range(4):
        tr, te = res.folds != k, res.folds == k
        for j, lam in enumerate(lams):
            pred = Ridge(alpha=lam).fit(X[tr], y[tr]).predict(X[te])
            assert res.fold_mse[k, j] == pytest.approx(np.mean((y[te] - pred) ** 2), rel=1e-9)
    np.testing.assert_allclose(res.mse, res.fold_mse.mean(axis=0))
    np.testing.assert_allclose(res.se, res.fold_mse.std(axis=0, ddof=1) / 2.0)
    # seeded: same seed, same folds; another seed, other folds
    again = cv_curve(X, y, lams=lams, n_folds=4, seed=7)
    np.testing.assert_array_equal(again.folds, res.folds)
    np.testing.assert_array_equal(again.mse, res.mse)
    assert not np.array_equal(cv_curve(X, y, lams=lams, n_folds=4, seed=8).folds, res.folds)


def test_cv_expected_curve_is_minimal_at_oracle():
    """E[CV error] over data from the prior is minimised at lam = sigma^2/tau^2 (each fold's fit is
    then the posterior mean); checked with paired differences against 10x and 1/10x the oracle."""
    sigma, tau, R = 1.0, 0.5, 150
    oracle = sigma**2 / tau**2
    lams = oracle * np.array([0.1, 1.0, 10.0])
    curves = np.empty((R, 3))
    for r in range(R):
        X, y, _, _, _ = _prior_problem(30, 20, sigma, tau, seed=100 + r)
        curves[r] = cv_curve(X, y, lams=lams, n_folds=5, seed=r).mse
    for j in (0, 2):
        diff = curves[:, j] - curves[:, 1]
        assert diff.mean() > 4.0 * diff.std(ddof=1) / math.sqrt(R)


def test_laplace_cv_runs(seed):
    res = cv_curve(seed.train.X, seed.train.y, prior="laplace", n_folds=4, n_lams=10, seed=0)
    assert res.prior == "laplace" and np.all(np.isfinite(res.mse)) and res.fold_mse.shape == (4, 10)


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"n_folds": 1}, ValueError, "`n_folds` must be an integer >= 2; got 1"),
        ({"n_folds": 21}, ValueError, "`n_folds` must be at most the number of rows 20; got 21"),
        ({"seed": 1.5}, TypeError, "`seed` must be an integer; got 1.5"),
    ],
)
def test_cv_validation_errors(seed, kwargs, error, match):
    with pytest.raises(error, match=match):
        cv_curve(seed.train.X, seed.train.y, **kwargs)


# ------------------------------------------------------------------ evidence


def _bayesian_ridge(X, y, fit_intercept=True, hyper=0.0):
    # With hyper = 0 (alpha_1 = alpha_2 = lambda_1 = lambda_2 = 0, its Gamma hyperpriors off) it
    # maximises exactly maximize_evidence(intercept="centre"); with 1e-6 (its defaults) the same
    # objective plus the hyperprior terms. tol=1e-300 and a large max_iter run its fixed point
    # until the coefficients stop changing.
    return BayesianRidge(
        alpha_1=hyper, alpha_2=hyper, lambda_1=hyper, lambda_2=hyper, tol=1e-300, max_iter=20_000,
        compute_score=True, fit_intercept=fit_intercept,
    ).fit(X, y)


def _evidence_cases():
    corr = bayeswd.correlated_problem()
    X1, y1, _, _, _ = _prior_problem(60, 25, 0.7, 0.5, seed=11)
    X2, y2, _, _, _ = _prior_problem(30, 40, 1.0, 0.3, seed=12)
    return {
        "correlated n=2000 d=50": (corr.X.numpy(), corr.y.numpy(), True),
        "prior n=60 d=25": (X1, y1, True),
        "prior n=30 d=40 no intercept": (X2, y2 - 0.3, False),
    }


@pytest.mark.parametrize("hyper", [0.0, 1e-6])
@pytest.mark.parametrize("case", list(_evidence_cases()))
def test_evidence_equals_bayesian_ridge(case, hyper):
    X, y, fit_intercept = _evidence_cases()[case]
    ev = maximize_evidence(X, y, fit_intercept=fit_intercept, alpha_1=hyper, alpha_2=hyper,
                           lambda_1=hyper, lambda_2=hyper)
    br = _bayesian_ridge(X, y, fit_intercept, hyper)
    assert isinstance(ev, EvidenceResult)
    assert ev.alpha_ == pytest.approx(br.alpha_, rel=1e-6)
    assert ev.lambda_ == pytest.approx(br.lambda_, rel=1e-6)
    assert ev.log_evidence == pytest.approx(br.scores_[-1], rel=1e-9, abs=1e-9)
    assert ev.lam == pytest.approx(ev.sigma**2 / ev.tau**2, rel=1e-12)
    assert _rel(ev.coef, br.coef_) <= 1e-5
    assert ev.intercept == pytest.approx(br.intercept_, rel=1e-5, abs=1e-8)
    # the profile curve peaks where the optimum is
    assert ev.log_evidence >= ev.log_evidence_curve.max() - 1e-9


@pytest.mark.parametrize("intercept", ["centre", "integrate"])
def test_evidence_is_the_gaussian_marginal_likelihood(intercept):
    """Direct check of the formula and of the maximum: log N(y | b 1, sigma^2 I + tau^2 X X^T) with
    the intercept removed by centring and the centred rows counted as n independent rows
    ("centre"), or given a N(0, B^2) prior with B -> infinity, plus log(sqrt(2 pi) B) ("integrate",
    the flat prior's marginal likelihood)."""
    X, y, _, _, _ = _prior_problem(12, 5, 0.4, 0.6, seed=5)
    n = y.size
    Xc = X - X.mean(axis=0)

    def logpdf(v, K):
        L = np.linalg.cholesky(K)
        z = np.linalg.solve(L, v)
        return -0.5 * (z @ z) - np.log(np.diag(L)).sum() - 0.5 * n * math.log(2 * math.pi)

    def direct(sigma, tau):
        if intercept == "centre":
            return logpdf(y - y.mean(), sigma**2 * np.eye(n) + tau**2 * Xc @ Xc.T)
        B = 1e3  # the B -> infinity limit is reached to O(1/B^2)
        K = sigma**2 * np.eye(n) + tau**2 * X @ X.T + B**2 * np.ones((n, n))
        return logpdf(y, K) + math.log(math.sqrt(2 * math.pi) * B)

    ev = maximize_evidence(X, y, intercept=intercept)
    best = direct(ev.sigma, ev.tau)
    assert ev.log_evidence == pytest.approx(best, abs=1e-6)
    for ds, dt in ((1.01, 1.0), (0.99, 1.0), (1.0, 1.01), (1.0, 0.99)):
        assert direct(ev.sigma * ds, ev.tau * dt) < best
    # the curve is the profile over sigma: its value at a grid lam is the direct density there
    k = 57
    lam_k, sig_k = ev.lams[k], ev.sigma_curve[k]
    assert ev.log_evidence_curve[k] == pytest.approx(direct(sig_k, sig_k / math.sqrt(lam_k)), abs=1e-6)


@pytest.mark.parametrize(("intercept", "fit_intercept"), [("integrate", True), ("centre", True), ("centre", False)])
def test_profiled_evidence_is_gaussian_log_marginal(intercept, fit_intercept):
    """The SVD-profiled evidence of maximize_evidence, at its sigma for a lam, is
    bayeswd.evidence.gaussian_log_marginal at that (sigma, tau = sigma / sqrt(lam)): the one formula.
    "integrate" is the flat intercept integrated out; "centre" the centred rows as n rows without one."""
    from bayeswd.evidence import gaussian_log_marginal

    X, y, _, _, _ = _prior_problem(40, 12, 0.6, 0.5, seed=9)
    ev = maximize_evidence(X, y, intercept=intercept, fit_intercept=fit_intercept)
    if intercept == "centre" and fit_intercept:
        X, y, marg_intercept = X - X.mean(axis=0), y - y.mean(), False
    else:
        marg_intercept = fit_intercept
    Xt, yt = torch.from_numpy(X), torch.from_numpy(y)
    for k in (0, 60, 120, 199):
        sig, lam = ev.sigma_curve[k], ev.lams[k]
        direct = gaussian_log_marginal(Xt, yt, sigma=sig, tau=sig / math.sqrt(lam), fit_intercept=marg_intercept)
        assert ev.log_evidence_curve[k] == pytest.approx(direct, rel=1e-10, abs=1e-9)
    direct = gaussian_log_marginal(Xt, yt, sigma=ev.sigma, tau=ev.tau, fit_intercept=marg_intercept)
    assert ev.log_evidence == pytest.approx(direct, rel=1e-10, abs=1e-9)


def test_evidence_seed_problem_degenerate_when_centred(seed):
    """n <= d with centring: the centred rows span n - 1 dimensions but "centre" counts n, so the
    evidence grows without bound as sigma -> 0 (BayesianRidge drifts the same way). Integrating the
    flat intercept out ("integrate", n - 1 degrees of freedom) gives a proper maximum."""
    with pytest.warns(BayeswdWarning, match="largest at the end of the lam grid"):
        maximize_evidence(seed.train.X, seed.train.y)
    ev = maximize_evidence(seed.train.X, seed.train.y, intercept="integrate")
    assert 0.01 < ev.lam < 1e4 and ev.intercept_mode == "integrate"


def test_evidence_validation_errors(seed):
    with pytest.raises(ValueError, match="`intercept` must be one of 'centre', 'integrate'; got 'flat'"):
        maximize_evidence(seed.train.X, seed.train.y, intercept="flat")
    with pytest.raises(ValueError, match="`y` must not be constant"):
        maximize_evidence(seed.train.X, np.ones(20))
    with pytest.raises(ValueError, match="`alpha_2` must be a non-negative finite number; got -1.0"):
        maximize_evidence(seed.train.X, seed.train.y, alpha_2=-1.0)
    with pytest.raises(ValueError, match="`lams` must hold at least 3 distinct values; got 2"):
        maximize_evidence(seed.train.X, seed.train.y, lams=[1.0, 2.0])


# ------------------------------------------------------------------ full Bayes


def test_lam_from_draws():
    tau = torch.tensor([[1.0, 2.0], [0.5, 4.0]], dtype=torch.float64)  # (chain, draw)
    lam = lam_from_draws(tau, 2.0)
    assert isinstance(lam, np.ndarray) and lam.shape == (2, 2)
    np.testing.assert_allclose(lam, 4.0 / tau.numpy() ** 2)
    sigma = np.array([[1.0, 1.0], [2.0, 2.0]])
    np.testing.assert_allclose(lam_from_draws(tau, sigma), sigma**2 / tau.numpy() ** 2)
    np.testing.assert_allclose(lam_from_draws(tau, 2.0, prior="laplace"), 8.0 / tau.numpy())
    # agrees with the scalar convention
    assert lam_from_draws([0.3], 0.7)[0] == pytest.approx(bayeswd.lam_from_tau(0.7, 0.3))
    with pytest.raises(ValueError, match="`tau` must be a non-empty array of positive finite numbers"):
        lam_from_draws([1.0, -1.0], 1.0)
    with pytest.raises(ValueError, match=r"`sigma` must be a number or have the shape of `tau` \(2, 2\)"):
        lam_from_draws(tau, [1.0, 2.0, 3.0])


def test_sweep_timing_benchmark_runs(tmp_path, monkeypatch):
    """The benchmark script runs (one repeat) and writes its markdown table."""
    import runpy
    from pathlib import Path

    script = Path(__file__).resolve().parents[1] / "benchmarks" / "sweep_timing.py"
    out = tmp_path / "sweep_timing.md"
    monkeypatch.setattr("sys.argv", [str(script), "--repeats", "1", "--out", str(out)])
    runpy.run_path(str(script), run_name="__main__")
    text = out.read_text()
    assert "| gaussian |" in text and "| laplace |" in text


def test_evidence_over_one_scale_with_the_other_held():
    p = bayeswd.seed_problem()
    X, y = p.train.X, p.train.y
    ev = maximize_evidence(X, y, intercept="integrate")
    # holding one scale at the joint maximum, the other's conditional maximum is the joint one
    s, t = bayeswd.maximize_evidence_given(X, y, sigma=ev.sigma)
    assert s == ev.sigma and t == pytest.approx(ev.tau, rel=1e-6)
    s, t = bayeswd.maximize_evidence_given(X, y, tau=ev.tau)
    assert t == ev.tau and s == pytest.approx(ev.sigma, rel=1e-6)
    # with sigma held elsewhere, tau moves (the CLI once took the joint tau here)
    _, t2 = bayeswd.maximize_evidence_given(X, y, sigma=3 * ev.sigma)
    assert abs(t2 / ev.tau - 1) > 0.01
    for kwargs in ({}, {"sigma": 1.0, "tau": 1.0}):
        with pytest.raises(ValueError, match="exactly one of `sigma` and `tau`"):
            bayeswd.maximize_evidence_given(X, y, **kwargs)
    with pytest.raises(ValueError, match="`sigma`"):
        bayeswd.maximize_evidence_given(X, y, sigma=-1.0)
