"""The scikit-learn classifiers: conformance, LogisticRegression's MAP, the posterior predictive, pipelines."""

import warnings

import numpy as np
import pandas as pd
import pytest
import torch
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GridSearchCV, StratifiedKFold, cross_val_score
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.utils.estimator_checks import parametrize_with_checks

import bayeswd as bw
import bayeswd.estimators as estimators
from bayeswd.classification import classifier_objective, tau_from_logistic_C
from bayeswd.estimators import BayesianLogisticRegression, MAPClassifier

pytestmark = pytest.mark.usefixtures("one_torch_thread")  # tiny problems (conftest.py)


def make_data(n=120, d=4, n_classes=2, seed=0):
    """Labels drawn from a softmax model on uncentred features of unequal scales."""
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, d)) * np.linspace(0.5, 2.0, d) + 0.5
    eta = X @ rng.normal(size=(d, n_classes)) + rng.normal(size=n_classes)
    P = np.exp(eta - eta.max(1, keepdims=True))
    P /= P.sum(1, keepdims=True)
    return X, np.array([rng.choice(n_classes, p=p) for p in P])


def max_abs(a, b):
    return float(np.max(np.abs(np.asarray(a, dtype=float) - np.asarray(b, dtype=float))))


# ---------------------------------------------------------------------------------------------------
# scikit-learn's estimator checks. Budgets are small: the checks test the API, not the inference.
# No check is excluded (no expected_failed_checks): all pass. The one check pytest reports as skipped,
# check_array_api_input, skips itself (SkipTest "SCIPY_ARRAY_API is not set") for every estimator.
#
# The NUTS one runs the default model (tau sampled). 50 warm-up steps, not 20: with 20 (and tree depth
# 4) the windowed adaptation ends at a step size where nothing is accepted on check_estimators_nan_inf's
# 10 x 3 data (measured: acceptance 0, both chains stuck).
_SHORT_NUTS = bw.NUTS(num_warmup=50, max_tree_depth=4)
CHECKED = [
    MAPClassifier(),
    MAPClassifier(prior="laplace", C=0.5),
    BayesianLogisticRegression(tau=1.0, method="laplace_approx", num_samples=50, num_chains=2),
    BayesianLogisticRegression(method=_SHORT_NUTS, num_samples=20, num_chains=2),
]


@parametrize_with_checks(CHECKED)
def test_sklearn_estimator_checks(estimator, check):
    with warnings.catch_warnings():
        if getattr(estimator, "method", None) is _SHORT_NUTS:
            # 50 warm-up steps and 20 draws cannot meet the ESS rule; the warning is the sampler
            # working as documented, not an API failure.
            warnings.filterwarnings("ignore", category=bw.DiagnosticWarning)
        check(estimator)


# ---------------------------------------------------------------------------------------------------
# MAPClassifier is LogisticRegression

# Solvers that leave the intercept unpenalised (the flat prior): newton-cholesky for L2 (exact Newton),
# saga, the only one for multinomial L1. Both fitted to tol=1e-14; measured agreement of predict_proba
# ~1e-13 (newton-cholesky ~1e-15): the bound 1e-6 is the one asked of the estimator.
REFERENCE = {"gaussian": {"l1_ratio": 0.0, "solver": "newton-cholesky"},
             "laplace": {"l1_ratio": 1.0, "solver": "saga"}}
LABELS = np.array(["ant", "bee", "cat"])


@pytest.mark.parametrize("fit_intercept", [True, False])
@pytest.mark.parametrize("C", [0.05, 1.0])
@pytest.mark.parametrize("prior", ["gaussian", "laplace"])
@pytest.mark.parametrize("n_classes", [2, 3])
def test_map_equals_logistic_regression(n_classes, prior, C, fit_intercept):
    X, codes = make_data(n_classes=n_classes, seed=n_classes)
    y = LABELS[codes]  # string labels: classes_ are their sorted set
    X_new, _ = make_data(n=7, n_classes=n_classes, seed=10)
    ref = LogisticRegression(C=C, fit_intercept=fit_intercept, tol=1e-14, max_iter=100_000,
                             **REFERENCE[prior]).fit(X, y)
    ours = MAPClassifier(C, prior=prior, fit_intercept=fit_intercept).fit(X, y)
    np.testing.assert_array_equal(ours.classes_, ref.classes_)
    rows = 1 if n_classes == 2 else n_classes
    assert ours.coef_.shape == ref.coef_.shape == (rows, 4)
    assert ours.intercept_.shape == ref.intercept_.shape == (rows,)
    for Z in (X, X_new):
        assert max_abs(ours.predict_proba(Z), ref.predict_proba(Z)) < 1e-6
        assert max_abs(ours.predict_log_proba(Z), ref.predict_log_proba(Z)) < 1e-6
        assert max_abs(ours.decision_function(Z), ref.decision_function(Z)) < 1e-6
        np.testing.assert_array_equal(ours.predict(Z), ref.predict(Z))
    assert max_abs(ours.coef_, ref.coef_) < 1e-6
    assert max_abs(ours.intercept_, ref.intercept_) < 1e-6
    if prior == "laplace":
        np.testing.assert_array_equal(ours.coef_ == 0, ref.coef_ == 0)  # the same exact zeros
    if n_classes == 3:
        # bayeswd's reference-class intercepts (class 0's fixed at 0), shifted to sum to zero
        b = ours.result_.intercept.numpy()
        assert b[0] == 0.0
        np.testing.assert_allclose(ours.intercept_, b - b.mean(), rtol=0, atol=1e-15)
        np.testing.assert_array_equal(ours.coef_, ours.result_.coef.numpy().T)
    else:
        np.testing.assert_array_equal(ours.coef_[0], ours.result_.coef.numpy())
    assert ours.score(X, y) == ref.score(X, y)
    assert ours.C_ == C and ours.tau_ == tau_from_logistic_C(C, prior)


def test_laplace_map_with_four_classes_can_differ_from_saga_in_coef_only():
    # Even K: the L1 MAP of W can be a segment along W + c 1^T, invisible to the softmax. Measured here:
    # coef_ differs from saga's by up to 0.3, the probabilities agree to 1e-13 and the objectives to 1e-15.
    X, y = make_data(n_classes=4, seed=4)
    ref = LogisticRegression(C=1.0, l1_ratio=1.0, solver="saga", tol=1e-14, max_iter=100_000).fit(X, y)
    ours = MAPClassifier(1.0, prior="laplace").fit(X, y)
    assert max_abs(ours.predict_proba(X), ref.predict_proba(X)) < 1e-6
    U_ref = classifier_objective(X, y, ref.coef_.T, ref.intercept_, prior="laplace", tau=1.0)
    assert ours.result_.objective == pytest.approx(U_ref, rel=1e-9)
    shift = ours.coef_ - ref.coef_  # a shift of every class's weight j by the same c_j
    assert max_abs(shift, shift.mean(0, keepdims=True)) < 1e-6


@pytest.mark.parametrize("prior", ["gaussian", "laplace"])
def test_liblinear_penalises_the_intercept(prior):
    # liblinear fits [X, intercept_scaling] with the constant column's weight penalised like the others:
    # the MAP without an intercept on [X 1], not this model (whose intercept is flat).
    rng = np.random.default_rng(0)
    X = rng.normal(size=(100, 3)) + 1.0
    y = (X @ [1.0, -1.0, 0.5] + rng.normal(size=100) > 1.0).astype(int)
    lib = LogisticRegression(C=0.5, l1_ratio=REFERENCE[prior]["l1_ratio"], solver="liblinear", tol=1e-10,
                             max_iter=100_000).fit(X, y)
    ours = MAPClassifier(0.5, prior=prior).fit(X, y)
    constant = MAPClassifier(0.5, prior=prior, fit_intercept=False).fit(np.hstack([X, np.ones((100, 1))]), y)
    # measured: 6e-9 (L2), 1e-10 (L1) against liblinear's tol=1e-10
    assert max_abs(constant.coef_[0], np.r_[lib.coef_[0], lib.intercept_]) < 1e-6
    assert abs(ours.intercept_[0] - lib.intercept_[0]) > 0.2  # -0.89 vs -0.62 (L2), -0.82 vs -0.32 (L1)


def test_two_label_softmax_is_the_logistic_map_at_twice_C():
    X, y = make_data(seed=5)
    soft = MAPClassifier(0.3, family="categorical").fit(X, y)
    logi = MAPClassifier(0.6).fit(X, y)
    assert soft.family_ == "categorical" and soft.result_.coef.shape == (4, 2)
    assert soft.coef_.shape == (1, 4)  # scikit-learn's binary layout: the difference of the two columns
    assert max_abs(soft.coef_, logi.coef_) < 1e-9
    assert max_abs(soft.intercept_, logi.intercept_) < 1e-9
    assert max_abs(soft.predict_proba(X), logi.predict_proba(X)) < 1e-9


def test_map_grid_search_over_C_equals_logistic_regression_grid_search():
    X, y = make_data(n=150, n_classes=3, seed=6)
    cv = StratifiedKFold(4, shuffle=True, random_state=0)
    Cs = [0.01, 0.1, 1.0, 10.0]
    for scoring in ("neg_log_loss", "accuracy"):
        ours = GridSearchCV(Pipeline([("scale", StandardScaler()), ("model", MAPClassifier())]),
                            {"model__C": Cs}, cv=cv, scoring=scoring).fit(X, y)
        theirs = GridSearchCV(
            Pipeline([("scale", StandardScaler()),
                      ("model", LogisticRegression(solver="newton-cholesky", tol=1e-14, max_iter=1000))]),
            {"model__C": Cs}, cv=cv, scoring=scoring).fit(X, y)
        np.testing.assert_allclose(ours.cv_results_["mean_test_score"], theirs.cv_results_["mean_test_score"],
                                   rtol=0, atol=1e-8)
        assert ours.best_params_ == theirs.best_params_
    assert ours.best_estimator_.named_steps["model"].n_features_in_ == 4


# ---------------------------------------------------------------------------------------------------
# BayesianLogisticRegression: the posterior predictive and the layout of the posterior means


def layout_draws(post):
    """Per-draw (coef_, intercept_) in scikit-learn's layout, written out from posterior_.samples."""
    W = post.samples["coef"].numpy().reshape(-1, *post.samples["coef"].shape[2:])
    if post.family == "bernoulli":
        return W[:, None, :], post.samples["intercept"].numpy().reshape(-1, 1)
    b = post.samples["intercept"].numpy().reshape(W.shape[0], -1)
    b = np.hstack([np.zeros((W.shape[0], 1)), b])
    return W.transpose(0, 2, 1), b - b.mean(1, keepdims=True)


@pytest.mark.parametrize("n_classes", [2, 3])
def test_laplace_approx_posterior_means_and_predictive(n_classes, monkeypatch):
    X, y = make_data(n=150, n_classes=n_classes, seed=7)
    X_new, _ = make_data(n=9, n_classes=n_classes, seed=8)
    est = BayesianLogisticRegression(tau=0.8, method="laplace_approx", num_samples=4000, num_chains=1,
                                     seed=3).fit(X, y)
    post = est.posterior_
    assert isinstance(est.method_, bw.LaplaceApprox) and post.method == "laplace_approx"
    assert est.tau_ == 0.8 and post.tau == 0.8
    coef, intercept = layout_draws(post)
    np.testing.assert_allclose(est.coef_, coef.mean(0), rtol=0, atol=1e-13)
    np.testing.assert_allclose(est.intercept_, intercept.mean(0), rtol=0, atol=1e-13)
    # The draws are N(MAP, H^-1), independent: their mean is the MAP's coef_ / intercept_ (the same
    # layout) within 5 Monte Carlo standard errors (about 1e-5 false alarms over the 5 to 15 entries).
    mode = MAPClassifier(0.8**2).fit(X, y)
    n_draws = coef.shape[0]
    assert np.all(np.abs(est.coef_ - mode.coef_) < 5 * coef.std(0) / np.sqrt(n_draws))
    assert np.all(np.abs(est.intercept_ - mode.intercept_) < 5 * intercept.std(0) / np.sqrt(n_draws) + 1e-12)
    # predict_proba is the posterior's predictive (numpy), in blocks of rows or not
    proba = est.predict_proba(X_new)
    np.testing.assert_array_equal(proba, post.predict_proba(X_new).numpy())
    np.testing.assert_array_equal(est.predict(X_new), post.predict(X_new))
    np.testing.assert_allclose(est.predict_log_proba(X_new), np.log(proba), rtol=1e-12, atol=0)
    monkeypatch.setattr(estimators, "_BLOCK_ELEMENTS", 1)  # one row at a time
    np.testing.assert_allclose(est.predict_proba(X_new), proba, rtol=1e-14, atol=1e-16)
    np.testing.assert_allclose(est.predict_log_proba(X_new), np.log(proba), rtol=1e-12, atol=0)
    # averaging over the posterior: less confident than the plug-in prediction at the MAP
    p_map = mode.predict_proba(X_new)
    assert np.all(proba.max(1) < p_map.max(1))


def test_predict_log_proba_is_finite_where_the_probability_underflows():
    rng = np.random.default_rng(9)
    X = rng.normal(size=(200, 2))
    y = (X[:, 0] + 0.5 * rng.normal(size=200) > 0).astype(int)
    far = np.array([[-5000.0, 0.0]])  # log odds about -1e4 under the MAP and under every draw
    for est in (MAPClassifier().fit(X, y),
                BayesianLogisticRegression(tau=1.0, method="laplace_approx", num_samples=200).fit(X, y)):
        assert est.predict_proba(far)[0, 1] == 0.0  # below the smallest double
        log_p = est.predict_log_proba(far)
        assert np.all(np.isfinite(log_p)) and log_p[0, 1] < -745
    assert log_p[0, 1] == pytest.approx(est.posterior_._logit_draws(torch.from_numpy(far)).max().item(), rel=0.01)


def test_nuts_in_a_pipeline_with_cross_val_score():
    # tau sampled (the default): full Bayes over the regularisation, no C to choose
    X, y = make_data(n=90, n_classes=3, seed=11)
    y = LABELS[y]
    cv = StratifiedKFold(3, shuffle=True, random_state=2)
    kw = {"method": bw.NUTS(num_warmup=100), "num_samples": 50, "num_chains": 2, "seed": 4}
    pipe = Pipeline([("scale", StandardScaler()), ("model", BayesianLogisticRegression(**kw))])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", bw.DiagnosticWarning)  # short chains; the test is the plumbing
        scores = cross_val_score(pipe, X, y, cv=cv, scoring="neg_log_loss")
        # the first fold by hand: the same seeded fit on the scaled rows, the same score
        train, test = next(cv.split(X, y))
        scale = StandardScaler().fit(X[train])
        model = BayesianLogisticRegression(**kw).fit(scale.transform(X[train]), y[train])
    proba = model.predict_proba(scale.transform(X[test]))
    by_hand = np.mean(np.log(proba[np.arange(len(test)), np.searchsorted(model.classes_, y[test])]))
    assert scores[0] == pytest.approx(by_hand, rel=1e-12)
    assert np.all(scores > np.log(1 / 3))  # better than the uniform guess on every fold
    assert isinstance(model.method_, bw.NUTS) and model.posterior_.tau is None
    assert model.tau_ == pytest.approx(float(model.posterior_.samples["tau"].mean()), rel=1e-12)
    assert model.coef_.shape == (3, 4) and abs(model.intercept_.sum()) < 1e-12


def test_reproducible_with_seed():
    X, y = make_data(n=60, seed=12)
    kw = {"method": bw.NUTS(num_warmup=100), "num_samples": 50, "num_chains": 1}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", bw.DiagnosticWarning)
        a = BayesianLogisticRegression(**kw).fit(X, y)
        b = BayesianLogisticRegression(**kw).fit(X, y)
        c = BayesianLogisticRegression(**kw, seed=1).fit(X, y)
    np.testing.assert_array_equal(a.predict_proba(X), b.predict_proba(X))
    assert not np.array_equal(a.predict_proba(X), c.predict_proba(X))


# ---------------------------------------------------------------------------------------------------
# Feature names, parameters, the lazy import


def test_feature_names_from_a_dataframe():
    X, y = make_data(n=60, n_classes=3, seed=13)
    df = pd.DataFrame(X, columns=["age", "bmi", "bp", "s1"])
    for est in (MAPClassifier(), BayesianLogisticRegression(tau=1.0, method="laplace_approx", num_samples=20)):
        est.fit(df, pd.Series(y, name="target"))
        np.testing.assert_array_equal(est.feature_names_in_, ["age", "bmi", "bp", "s1"])
        assert est.n_features_in_ == 4
        with pytest.raises(ValueError, match="feature names"):
            est.predict(df.rename(columns={"bp": "blood_pressure"}))
        with pytest.warns(UserWarning, match="valid feature names"):
            est.predict(X)
    assert est.posterior_.feature_names == ("age", "bmi", "bp", "s1")
    assert MAPClassifier().fit(df, y).result_.feature_names == ("age", "bmi", "bp", "s1")
    assert not hasattr(MAPClassifier().fit(X, y), "feature_names_in_")


BLR, MAPC = BayesianLogisticRegression, MAPClassifier
BAD = [
    (MAPC, {"C": 0.0}, ValueError, "`C`"),
    (MAPC, {"C": "1"}, TypeError, "`C`"),
    (MAPC, {"prior": "l2"}, ValueError, "`prior`"),
    (MAPC, {"tau": -1.0}, ValueError, "`tau`"),
    (MAPC, {"family": "multinomial"}, ValueError, "`family`"),
    (MAPC, {"family": "bernoulli"}, ValueError, "`family`"),  # three labels
    (MAPC, {"fit_intercept": "yes"}, TypeError, "`fit_intercept`"),
    (MAPC, {"tol": 0.0}, ValueError, "`tol`"),
    (MAPC, {"max_iter": 0}, ValueError, "`max_iter`"),
    (MAPC, {"max_iter": 2.5}, TypeError, "`max_iter`"),
    (BLR, {"prior": "ridge"}, ValueError, "`prior`"),
    (BLR, {"tau": 0.0}, ValueError, "`tau`"),
    (BLR, {"tau": "big"}, TypeError, "`tau`"),
    (BLR, {"family": "softmax"}, ValueError, "`family`"),
    (BLR, {"method": "mcmc"}, ValueError, "`method`"),
    (BLR, {"method": 3}, TypeError, "`method`"),
    (BLR, {"method": bw.Exact()}, TypeError, "`method`"),
    (BLR, {"method": "laplace_approx"}, ValueError, "method='laplace_approx'.*tau=sampled"),
    (BLR, {"method": "laplace_approx", "tau": 1.0, "prior": "laplace"}, ValueError, "method='laplace_approx'"),
    (BLR, {"method": "gibbs"}, ValueError, "method='gibbs'"),  # three labels
    (BLR, {"num_samples": 0}, ValueError, "`num_samples`"),
    (BLR, {"num_chains": 1.5}, TypeError, "`num_chains`"),
    (BLR, {"seed": -1}, ValueError, "`seed`"),
    (BLR, {"fit_intercept": "yes"}, TypeError, "`fit_intercept`"),
    (BLR, {"device": "tpu"}, ValueError, "`device`"),
    (BLR, {"progress_bar": None}, TypeError, "`progress_bar`"),
]


@pytest.mark.parametrize(("cls", "params", "error", "match"), BAD,
                         ids=[f"{c.__name__}-{'-'.join(p)}-{i}" for i, (c, p, _, _) in enumerate(BAD)])
def test_bad_parameters_fail_at_fit_naming_the_parameter(cls, params, error, match):
    X, y = make_data(n=30, d=2, n_classes=3, seed=14)
    est = cls(**params)  # no validation in __init__ (scikit-learn's convention)
    assert all(est.get_params()[k] is v for k, v in params.items())
    with pytest.raises(error, match=match):
        est.fit(X, y)


def test_continuous_targets_are_refused():
    X, _ = make_data(n=30)
    for est in (MAPClassifier(), BayesianLogisticRegression(tau=1.0, method="laplace_approx")):
        with pytest.raises(ValueError, match="Unknown label type"):
            est.fit(X, X[:, 0])


def test_lazy_export():
    assert bw.MAPClassifier is MAPClassifier
    assert bw.BayesianLogisticRegression is BayesianLogisticRegression
    assert {"MAPClassifier", "BayesianLogisticRegression"} <= set(bw._ESTIMATORS)


def test_default_method_auto_records_the_method_that_ran() -> None:
    # method="auto" (the default) resolves inside sample_classifier_posterior; method_ is the
    # options object that ran, the same as the posterior's
    rng = np.random.default_rng(0)
    X = rng.normal(size=(400, 2))
    y = (X @ np.array([1.0, -0.5]) + rng.logistic(size=400) > 0).astype(int)
    model = BayesianLogisticRegression(tau=1.0, num_samples=200).fit(X, y)
    assert model.method_ is model.posterior_.options
    assert type(model.method_).name == model.posterior_.method
    assert model.posterior_.settings["method_choice"].startswith("auto: ")
