"""The scikit-learn estimators: conformance, the exact posterior predictive, Ridge / Lasso / BayesianRidge."""

import math
import subprocess
import sys
import textwrap
import warnings

import numpy as np
import pandas as pd
import pytest
import torch
from sklearn.linear_model import BayesianRidge, Lasso, Ridge
from sklearn.model_selection import GridSearchCV, KFold
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.utils.estimator_checks import parametrize_with_checks

import bayeswd as bw
from bayeswd import _arviz
from bayeswd.estimators import BayesianLinearRegression, MAPRegression
from bayeswd.evidence import gaussian_log_marginal


def make_data(n=60, d=4, seed=0, noise=0.5):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, d)) * np.linspace(0.5, 2.0, d) + 1.0  # uncentred, unequal scales
    w = rng.normal(size=d)
    y = X @ w + 3.0 + noise * rng.normal(size=n)
    return X, y


def rel(a, b):
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    return float(np.max(np.abs(a - b)) / np.max(np.abs(b)))


# ---------------------------------------------------------------------------------------------------
# scikit-learn's estimator checks. Budgets are small: the checks test the API, not the inference.
# No check is excluded (no expected_failed_checks): all pass.
_SHORT_NUTS = bw.NUTS(num_warmup=10, max_tree_depth=4)
CHECKED = [
    BayesianLinearRegression(num_samples=20, num_chains=2),  # gaussian: evidence scales, exact
    BayesianLinearRegression(prior="laplace", method=_SHORT_NUTS, num_samples=10, num_chains=1),
    MAPRegression(),
    MAPRegression(prior="laplace", alpha=0.01),
]


@parametrize_with_checks(CHECKED)
def test_sklearn_estimator_checks(estimator, check):
    with warnings.catch_warnings():
        # Several checks fit targets of pure noise: the evidence then rightly peaks at tau -> 0, at the
        # end of its grid, and says so with a BayeswdWarning (tested below on its own).
        warnings.filterwarnings("ignore", message=r".*evidence.* is largest at the end", category=bw.BayeswdWarning)
        if getattr(estimator, "method", None) is _SHORT_NUTS:
            # 10 warm-up steps and 10 draws cannot meet the ESS rule; the warning is the sampler
            # working as documented, not an API failure.
            warnings.filterwarnings("ignore", category=bw.DiagnosticWarning)
        check(estimator)


# ---------------------------------------------------------------------------------------------------
# The exact posterior predictive


def closed_form_predictive(X, y, X_new, sigma, tau, fit_intercept):
    """Mean and sd (noise included) of the posterior predictive, written out with numpy."""
    A = np.hstack([X, np.ones((len(X), 1))]) if fit_intercept else X
    An = np.hstack([X_new, np.ones((len(X_new), 1))]) if fit_intercept else X_new
    prior_prec = np.full(A.shape[1], 1.0 / tau**2)
    if fit_intercept:
        prior_prec[-1] = 0.0  # flat intercept
    cov = np.linalg.inv(A.T @ A / sigma**2 + np.diag(prior_prec))
    mean = cov @ A.T @ y / sigma**2
    return An @ mean, np.sqrt(np.einsum("ij,jk,ik->i", An, cov, An) + sigma**2), mean


@pytest.mark.parametrize("fit_intercept", [True, False])
def test_exact_predictive_equals_closed_form(fit_intercept):
    X, y = make_data()
    X_new, _ = make_data(n=7, seed=1)
    sigma, tau = 0.7, 0.9
    est = BayesianLinearRegression(sigma=sigma, tau=tau, fit_intercept=fit_intercept).fit(X, y)
    assert isinstance(est.method_, bw.Exact)  # "auto" for the gaussian prior with fixed scales
    mean, sd = est.predict(X_new, return_std=True)
    mean0, sd0, theta = closed_form_predictive(X, y, X_new, sigma, tau, fit_intercept)
    # float64 solves of a precision with condition number ~1e3: errors ~1e-13, far inside 1e-10
    assert rel(mean, mean0) < 1e-10
    assert rel(sd, sd0) < 1e-10
    assert rel(est.predict(X_new), mean0) < 1e-10
    assert rel(est.coef_, theta[:4]) < 1e-10
    assert est.intercept_ == (pytest.approx(theta[4], rel=1e-10) if fit_intercept else 0.0)
    assert (est.sigma_, est.tau_) == (sigma, tau)
    assert est.scale_selection_ == {"sigma": "given", "tau": "given"}
    assert est.posterior_.method == "exact" and est.posterior_.samples["coef"].shape == (4, 1000, 4)


def test_bayesian_ridge_at_its_own_precisions():
    # BayesianRidge's alpha_, lambda_ are 1/sigma^2, 1/tau^2. At those values the posterior mean is the
    # same ridge solution; the predictive variance differs by exactly sigma^2/n, the variance of the flat
    # intercept (BayesianRidge centres and leaves the intercept's uncertainty out of return_std).
    X, y = make_data(n=80, d=5, seed=3)
    X_new, _ = make_data(n=9, d=5, seed=4)
    br = BayesianRidge().fit(X, y)
    est = BayesianLinearRegression(sigma=1 / math.sqrt(br.alpha_), tau=1 / math.sqrt(br.lambda_)).fit(X, y)
    mean_br, sd_br = br.predict(X_new, return_std=True)
    mean, sd = est.predict(X_new, return_std=True)
    assert rel(est.coef_, br.coef_) < 1e-10
    assert rel(mean, mean_br) < 1e-10
    assert rel(sd**2 - est.sigma_**2 / len(y), sd_br**2) < 1e-10


def test_empirical_bayes_equals_bayesian_ridge_without_intercept():
    # Without an intercept the evidence maximised here is BayesianRidge's objective (hyperpriors off):
    # the same optimum. BayesianRidge reaches it by a fixed-point iteration stopped at tol=1e-12 on the
    # change of coef (linear convergence); the measured gap is ~1e-9, the bound 1e-6 leaves room.
    X, y = make_data(n=80, d=5, seed=3)
    X_new, _ = make_data(n=9, d=5, seed=4)
    br = BayesianRidge(fit_intercept=False, alpha_1=0.0, alpha_2=0.0, lambda_1=0.0, lambda_2=0.0,
                       tol=1e-12, max_iter=100_000).fit(X, y)
    est = BayesianLinearRegression(fit_intercept=False).fit(X, y)
    assert est.scale_selection_ == {"sigma": "evidence", "tau": "evidence"}
    assert est.sigma_ == pytest.approx(1 / math.sqrt(br.alpha_), rel=1e-6)
    assert est.tau_ == pytest.approx(1 / math.sqrt(br.lambda_), rel=1e-6)
    mean_br, sd_br = br.predict(X_new, return_std=True)
    mean, sd = est.predict(X_new, return_std=True)
    assert rel(mean, mean_br) < 1e-6
    assert rel(sd, sd_br) < 1e-6


def test_evidence_scales():
    X, y = make_data(n=50, d=6, seed=5)
    ev = bw.maximize_evidence(X, y, intercept="integrate")
    joint = BayesianLinearRegression().fit(X, y)
    assert (joint.sigma_, joint.tau_) == (ev.sigma, ev.tau)  # both free: maximize_evidence itself

    def logev(sigma, tau):
        return gaussian_log_marginal(torch.from_numpy(X), torch.from_numpy(y), sigma=sigma, tau=tau)

    # One scale given: the other maximises the evidence with it held fixed. At the joint maximum's
    # sigma (tau), the conditional maximum is the joint maximum's tau (sigma): the profile is flat to
    # second order there, so Brent's search pins it to ~sqrt(float64 eps) relative; 1e-6 is the bound.
    given_sigma = BayesianLinearRegression(sigma=ev.sigma).fit(X, y)
    given_tau = BayesianLinearRegression(tau=ev.tau).fit(X, y)
    assert given_sigma.tau_ == pytest.approx(ev.tau, rel=1e-6)
    assert given_tau.sigma_ == pytest.approx(ev.sigma, rel=1e-6)
    assert given_sigma.scale_selection_ == {"sigma": "given", "tau": "evidence"}
    # and away from it, a conditional maximum: moving tau by 1 % either way lowers the evidence
    est = BayesianLinearRegression(sigma=2.0 * ev.sigma).fit(X, y)
    best = logev(est.sigma_, est.tau_)
    assert best > logev(est.sigma_, 1.01 * est.tau_) and best > logev(est.sigma_, est.tau_ / 1.01)


def test_evidence_at_the_end_of_its_grid_warns():
    rng = np.random.default_rng(0)
    X, y = rng.normal(size=(40, 3)), 0.3 * rng.normal(size=40)  # noise below sigma=1, no signal: tau -> 0
    with pytest.warns(bw.BayeswdWarning, match="end of"):
        est = BayesianLinearRegression(sigma=1.0).fit(X, y)
    Xc = X - X.mean(0)
    e_max = np.linalg.eigvalsh(Xc.T @ Xc)[-1]
    assert est.tau_ == pytest.approx(1.0 / math.sqrt(1e4 * e_max), rel=1e-10)  # the grid's end, lam = 1e4 e_max


# ---------------------------------------------------------------------------------------------------
# Posteriors from draws: NUTS, the laplace prior, full Bayes over the scales


# Short chains: the tests on them check identities of the draws (whatever their quality), not the
# sampler, so the DiagnosticWarning that such short chains draw is silenced there.
# short runs; 100 warm-up steps, since with 20 the plain laplace density's NUTS (n > d) ends its
# dual averaging at a step size where nothing is accepted (measured: acceptance 0, stuck chains)
SHORT = {"method": bw.NUTS(num_warmup=100), "num_samples": 40, "num_chains": 2}


def fit_quietly(est, X, y):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", bw.DiagnosticWarning)
        return est.fit(X, y)


@pytest.fixture(scope="module")
def laplace_fit():
    X, y = make_data(n=60, d=4, seed=2)
    return fit_quietly(BayesianLinearRegression(prior="laplace", seed=3, **SHORT), X, y), X, y


def test_draw_based_predictive_is_the_posteriors(laplace_fit):
    est, X, y = laplace_fit
    X_new, _ = make_data(n=5, seed=7)
    mean, sd = est.predict(X_new, return_std=True)
    # the same quantities from posterior_ directly
    s = est.posterior_.samples
    mu = (s["coef"].numpy() @ X_new.T + s["intercept"].numpy()[..., None]).reshape(-1, len(X_new))
    assert rel(mean, mu.mean(0)) < 1e-12
    assert rel(mean, est.posterior_.predict(X_new).mean.numpy()) < 1e-12
    assert rel(sd, np.sqrt(mu.var(0) + est.sigma_**2)) < 1e-12
    assert rel(est.coef_, s["coef"].numpy().mean((0, 1))) < 1e-12
    assert est.intercept_ == pytest.approx(float(s["intercept"].mean()), rel=1e-12)


def test_auto_method_is_exact_imh_or_collapsed():
    X, y = make_data(n=40, d=3, seed=4)
    cases = [({"prior": "gaussian"}, bw.Exact), ({"prior": "laplace"}, bw.IMH),
             ({"prior": "gaussian", "scales": "sample"}, bw.Collapsed)]
    for params, kind in cases:
        est = fit_quietly(BayesianLinearRegression(**params, num_samples=50, num_chains=2), X, y)
        assert type(est.method_) is kind, params
        assert est.posterior_.method == kind.name  # the method that ran
    # the laplace prior's choice is sample_posterior's, made on the data: Gibbs for n <= d + 1
    Xw, yw = make_data(n=5, d=6, seed=4)
    est = fit_quietly(BayesianLinearRegression(prior="laplace", num_samples=50, num_chains=2), Xw, yw)
    assert type(est.method_) is bw.Gibbs


def test_laplace_evidence_scales_match_the_prior_variance(laplace_fit):
    est, X, y = laplace_fit
    ev = bw.maximize_evidence(X, y, intercept="integrate")
    assert isinstance(est.method_, bw.NUTS)  # "auto" for the laplace prior
    assert est.sigma_ == ev.sigma
    assert est.tau_ == pytest.approx(ev.tau / math.sqrt(2), rel=1e-15)  # variance 2 tau^2 = ev.tau^2


def test_reproducible_with_seed(laplace_fit):
    est, X, y = laplace_fit
    again = fit_quietly(BayesianLinearRegression(**est.get_params()), X, y)
    other = fit_quietly(BayesianLinearRegression(**{**est.get_params(), "seed": 4}), X, y)
    assert torch.equal(again.posterior_.samples["coef"], est.posterior_.samples["coef"])
    np.testing.assert_array_equal(again.predict(X), est.predict(X))
    assert not torch.equal(other.posterior_.samples["coef"], est.posterior_.samples["coef"])
    # exact: the seed moves the draws kept in posterior_, not the closed-form predictions
    a = BayesianLinearRegression(sigma=1.0, tau=1.0, seed=0).fit(X, y)
    b = BayesianLinearRegression(sigma=1.0, tau=1.0, seed=1).fit(X, y)
    assert not torch.equal(a.posterior_.samples["coef"], b.posterior_.samples["coef"])
    np.testing.assert_array_equal(a.predict(X), b.predict(X))


def test_nuts_predictive_agrees_with_exact_within_monte_carlo_error():
    X, y = make_data(n=40, d=3, seed=8)
    X_new, _ = make_data(n=4, d=3, seed=9)
    exact = BayesianLinearRegression(sigma=0.5, tau=1.0).fit(X, y)
    nuts = BayesianLinearRegression(sigma=0.5, tau=1.0, method=bw.NUTS(num_warmup=300), num_samples=500,
                                    num_chains=2, seed=1).fit(X, y)
    m0, s0 = exact.predict(X_new, return_std=True)
    m1, s1 = nuts.predict(X_new, return_std=True)
    s = nuts.posterior_.samples
    mu = s["coef"].numpy() @ X_new.T + s["intercept"].numpy()[..., None]  # (chain, draw, row)
    ess = np.array([float(_arviz.ess(mu[..., j])) for j in range(len(X_new))])
    var_mu = s0**2 - 0.5**2  # the exact variance of x . w + b
    # 5 Monte Carlo standard errors: sd/sqrt(ESS) for the mean, var*sqrt(2/ESS) for the variance
    assert np.all(np.abs(m1 - m0) < 5 * np.sqrt(var_mu / ess))
    assert np.all(np.abs(s1**2 - s0**2) < 5 * var_mu * np.sqrt(2 / ess))


def test_full_bayes_scales():
    X, y = make_data(n=40, d=3, seed=10)
    est = fit_quietly(BayesianLinearRegression(scales="sample", **SHORT), X, y)
    s = est.posterior_.samples
    assert est.scale_selection_ == {"sigma": "sampled", "tau": "sampled"}
    assert est.sigma_ == pytest.approx(float(s["sigma"].mean()), rel=1e-12)
    assert est.tau_ == pytest.approx(float(s["tau"].mean()), rel=1e-12)
    mean, sd = est.predict(X[:5], return_std=True)
    mu = (s["coef"].numpy() @ X[:5].T + s["intercept"].numpy()[..., None]).reshape(-1, 5)
    assert rel(sd, np.sqrt(mu.var(0) + np.mean(s["sigma"].numpy() ** 2))) < 1e-12


# ---------------------------------------------------------------------------------------------------
# sample_y


def check_sample_y(est, X_new, n_samples=4000):
    mean, sd = est.predict(X_new, return_std=True)
    draws = est.sample_y(X_new, n_samples=n_samples, random_state=0)
    assert draws.shape == (len(X_new), n_samples)
    # i.i.d. draws of the posterior predictive (of the exact posterior, or of the empirical one of the
    # kept draws: predict's mean and sd are exactly its moments). 5 standard errors: sd/sqrt(N) for the
    # mean, sd/sqrt(2N) (relative) for the sd of gaussian draws (the predictive here is gaussian, or
    # dominated by the gaussian noise for the laplace posterior); ~1e-5 false failures in all.
    assert np.all(np.abs(draws.mean(1) - mean) < 5 * sd / math.sqrt(n_samples))
    assert np.all(np.abs(draws.std(1) / sd - 1) < 5 / math.sqrt(2 * n_samples))
    np.testing.assert_array_equal(draws, est.sample_y(X_new, n_samples=n_samples, random_state=0))
    same = est.sample_y(X_new, n_samples=3, random_state=np.random.RandomState(5))
    np.testing.assert_array_equal(same, est.sample_y(X_new, n_samples=3, random_state=5))


def test_sample_y_exact():
    X, y = make_data()
    check_sample_y(BayesianLinearRegression(sigma=0.5, tau=1.0).fit(X, y), make_data(n=4, seed=11)[0])


def test_sample_y_from_draws(laplace_fit):
    est, X, y = laplace_fit
    check_sample_y(est, make_data(n=4, seed=11)[0])


# ---------------------------------------------------------------------------------------------------
# MAPRegression: Ridge and Lasso


@pytest.mark.parametrize("fit_intercept", [True, False])
@pytest.mark.parametrize("alpha", [0.01, 1.0, 100.0])
def test_map_equals_ridge(alpha, fit_intercept):
    X, y = make_data(n=50, d=8, seed=12)
    est = MAPRegression(alpha, sigma=0.5, fit_intercept=fit_intercept).fit(X, y)
    ref = Ridge(alpha=alpha, fit_intercept=fit_intercept).fit(X, y)
    # Newton's stopping rule (1e-10 relative gradient) and Ridge's Cholesky solve: both far below 1e-8
    assert rel(est.coef_, ref.coef_) < 1e-8
    assert est.intercept_ == pytest.approx(ref.intercept_, abs=1e-8 * max(1.0, abs(ref.intercept_)))
    assert rel(est.predict(X), ref.predict(X)) < 1e-8
    assert est.tau_ == pytest.approx(bw.tau_from_ridge_alpha(alpha, 0.5), rel=1e-15)
    assert est.lam_ == alpha
    assert est.result_.weight_decay == pytest.approx(bw.sgd_weight_decay(0.5, est.tau_, 50), rel=1e-15)


@pytest.mark.parametrize("fit_intercept", [True, False])
@pytest.mark.parametrize("alpha", [0.003, 0.05, 0.3])
def test_map_equals_lasso(alpha, fit_intercept):
    X, y = make_data(n=50, d=8, seed=13)
    est = MAPRegression(alpha, prior="laplace", sigma=0.5, fit_intercept=fit_intercept).fit(X, y)
    ref = Lasso(alpha=alpha, fit_intercept=fit_intercept, tol=1e-14, max_iter=1_000_000).fit(X, y)
    # both stop on optimality (KKT 1e-10, duality gap 1e-14): the coefficients agree to ~1e-9, 1e-6 bound
    assert rel(est.coef_, ref.coef_) < 1e-6
    np.testing.assert_array_equal(est.coef_ == 0, ref.coef_ == 0)  # the same exact zeros
    assert est.intercept_ == pytest.approx(ref.intercept_, abs=1e-6 * max(1.0, abs(ref.intercept_)))
    assert est.tau_ == pytest.approx(bw.tau_from_lasso_alpha(alpha, 0.5, 50), rel=1e-14)
    assert est.lam_ == 2 * 50 * alpha


# ---------------------------------------------------------------------------------------------------
# Pipelines and grid search


def test_map_grid_search_equals_ridge_and_lasso_grid_search():
    X, y = make_data(n=60, d=6, seed=14)
    cv = KFold(5, shuffle=True, random_state=0)
    for prior, ref, alphas, bound in (("gaussian", Ridge(), [0.1, 1.0, 10.0, 100.0], 1e-8),
                                      ("laplace", Lasso(tol=1e-14, max_iter=1_000_000),
                                       [0.003, 0.03, 0.3, 1.0], 1e-6)):
        ours = GridSearchCV(Pipeline([("scale", StandardScaler()), ("model", MAPRegression(prior=prior))]),
                            {"model__alpha": alphas}, cv=cv).fit(X, y)
        theirs = GridSearchCV(Pipeline([("scale", StandardScaler()), ("model", ref)]),
                              {"model__alpha": alphas}, cv=cv).fit(X, y)
        # R^2 of the same coefficients (to the bounds of test_map_equals_ridge / _lasso)
        np.testing.assert_allclose(ours.cv_results_["mean_test_score"], theirs.cv_results_["mean_test_score"],
                                   rtol=0, atol=bound)
        assert ours.best_params_ == theirs.best_params_


def test_bayesian_grid_search_over_tau_in_a_pipeline():
    # With sigma fixed, the posterior mean at tau is Ridge(alpha = sigma^2/tau^2): the same CV scores.
    X, y = make_data(n=60, d=6, seed=15)
    cv = KFold(4, shuffle=True, random_state=1)
    sigma, taus = 0.5, [0.01, 0.1, 1.0, 10.0]
    ours = GridSearchCV(
        Pipeline([("scale", StandardScaler()), ("model", BayesianLinearRegression(sigma=sigma, num_samples=10))]),
        {"model__tau": taus}, cv=cv).fit(X, y)
    ridge = GridSearchCV(Pipeline([("scale", StandardScaler()), ("model", Ridge())]),
                         {"model__alpha": [sigma**2 / t**2 for t in taus]}, cv=cv).fit(X, y)
    np.testing.assert_allclose(ours.cv_results_["mean_test_score"], ridge.cv_results_["mean_test_score"],
                               rtol=0, atol=1e-10)
    assert ours.best_params_["model__tau"] == taus[ridge.best_index_]
    model = ours.best_estimator_.named_steps["model"]
    assert model.tau_ == ours.best_params_["model__tau"] and model.n_features_in_ == 6
    mean, sd = ours.best_estimator_.predict(X[:3], return_std=True)  # Pipeline passes return_std on
    assert mean.shape == sd.shape == (3,) and np.all(sd > sigma)


# ---------------------------------------------------------------------------------------------------
# Feature names, parameters, the lazy import


def test_feature_names_from_a_dataframe():
    X, y = make_data()
    df = pd.DataFrame(X, columns=["age", "bmi", "bp", "s1"])
    for est in (BayesianLinearRegression(num_samples=10), MAPRegression()):
        est.fit(df, pd.Series(y, name="target"))
        np.testing.assert_array_equal(est.feature_names_in_, ["age", "bmi", "bp", "s1"])
        assert est.n_features_in_ == 4
        with pytest.raises(ValueError, match="feature names"):
            est.predict(df.rename(columns={"bp": "blood_pressure"}))
        with pytest.warns(UserWarning, match="valid feature names"):
            est.predict(X)
    assert est.result_.feature_names == ("age", "bmi", "bp", "s1")
    blr = BayesianLinearRegression(num_samples=10).fit(df, y)
    assert blr.posterior_.feature_names == ("age", "bmi", "bp", "s1")
    assert "coef[bmi]" in blr.posterior_.summary(kind="stats").index
    assert not hasattr(BayesianLinearRegression().fit(X, y), "feature_names_in_")


BAD = [
    (BayesianLinearRegression, {"prior": "ridge"}, ValueError, "prior"),
    (BayesianLinearRegression, {"sigma": -1.0}, ValueError, "sigma"),
    (BayesianLinearRegression, {"tau": "small"}, TypeError, "tau"),
    (BayesianLinearRegression, {"scales": "cv"}, ValueError, "scales"),
    (BayesianLinearRegression, {"method": "mcmc"}, ValueError, "method"),
    (BayesianLinearRegression, {"method": 3}, TypeError, "method"),
    (BayesianLinearRegression, {"prior": "laplace", "method": "exact"}, ValueError, "method"),
    (BayesianLinearRegression, {"scales": "sample", "method": "exact"}, ValueError, "method"),
    (BayesianLinearRegression, {"num_samples": 0}, ValueError, "num_samples"),
    (BayesianLinearRegression, {"num_chains": 1.5}, TypeError, "num_chains"),
    (BayesianLinearRegression, {"seed": -1}, ValueError, "seed"),
    (BayesianLinearRegression, {"fit_intercept": "yes"}, TypeError, "fit_intercept"),
    (BayesianLinearRegression, {"device": "tpu"}, ValueError, "device"),
    (BayesianLinearRegression, {"progress_bar": None}, TypeError, "progress_bar"),
    (MAPRegression, {"alpha": 0.0}, ValueError, "alpha"),
    (MAPRegression, {"alpha": "1"}, TypeError, "alpha"),
    (MAPRegression, {"prior": "l1"}, ValueError, "prior"),
    (MAPRegression, {"sigma": float("nan")}, ValueError, "sigma"),
    (MAPRegression, {"prior": "laplace", "method": "newton"}, ValueError, "method"),
    (MAPRegression, {"method": None}, TypeError, "method"),
    (MAPRegression, {"max_iter": 0}, ValueError, "max_iter"),
    (MAPRegression, {"tol": -1.0}, ValueError, "tol"),
]


@pytest.mark.parametrize(("cls", "params", "error", "name"), BAD,
                         ids=[f"{c.__name__}-{'-'.join(p)}" for c, p, _, _ in BAD])
def test_bad_parameters_fail_at_fit_naming_the_parameter(cls, params, error, name):
    X, y = make_data(n=20, d=2)
    est = cls(**params)  # no validation in __init__ (scikit-learn's convention)
    assert all(est.get_params()[k] is v for k, v in params.items())
    with pytest.raises(error, match=f"`{name}`"):
        est.fit(X, y)


def test_predict_and_sample_y_arguments():
    X, y = make_data()
    est = BayesianLinearRegression(sigma=1.0, tau=1.0, num_samples=10).fit(X, y)
    with pytest.raises(TypeError, match="`return_std`"):
        est.predict(X, return_std="yes")
    with pytest.raises(ValueError, match="`n_samples`"):
        est.sample_y(X, n_samples=0)
    with pytest.raises(ValueError, match="4 features"):
        est.predict(X[:, :3])


def test_lazy_export_and_the_missing_scikit_learn_message():
    assert bw.BayesianLinearRegression is BayesianLinearRegression
    assert bw.MAPRegression is MAPRegression
    with pytest.raises(AttributeError, match="no_such_thing"):
        bw.no_such_thing  # noqa: B018
    code = textwrap.dedent("""
        import sys
        sys.modules["sklearn"] = None  # scikit-learn is not installed
        import bayeswd as bw
        assert "bayeswd.estimators" not in sys.modules
        bw.map_fit  # the rest of the library works
        try:
            bw.BayesianLinearRegression
        except ImportError as err:
            print(err)
        else:
            raise SystemExit("no ImportError")
    """)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert "pip install bayeswd[sklearn]" in out.stdout
