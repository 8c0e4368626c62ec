"""Choosing lambda (tau, C) for logistic and softmax regression: CV against scikit-learn, evidence.

- ``classifier_cv`` picks the same ``C`` as ``LogisticRegressionCV`` on the same grid and folds (binary
  L2, multinomial L2, binary L1, accuracy), with the same per-fold scores; ``stratified_folds`` is
  ``StratifiedKFold`` row for row.
- ``classifier_log_evidence`` equals an independent Laplace approximation built from torch autograd of
  the Pyro model's log density, and approaches 2-D quadrature of the evidence as ``n`` grows;
  ``classifier_evidence`` maximises it (and its maximiser is the quadrature maximiser at large ``n``).
- ``plot_classifier_selection`` draws what it says; bad arguments raise naming the argument.
"""

import inspect
import math
import warnings

import numpy as np
import pytest
import scipy.optimize
import torch
from matplotlib.collections import PolyCollection
from scipy.special import logsumexp

from bayeswd.classification import map_classifier
from bayeswd.classification.map import _problem
from bayeswd.classification.plots import plot_classifier_selection
from bayeswd.classification.selection import (
    ClassifierCVResult,
    ClassifierEvidenceResult,
    classifier_cv,
    classifier_evidence,
    classifier_log_evidence,
    stratified_folds,
)
from bayeswd.classification.solvers import newton
from bayeswd.exceptions import BayeswdWarning

sklearn = pytest.importorskip("sklearn")
from sklearn.datasets import load_breast_cancer, load_iris  # noqa: E402
from sklearn.linear_model import LogisticRegressionCV  # noqa: E402
from sklearn.model_selection import KFold, StratifiedKFold  # noqa: E402
from sklearn.preprocessing import StandardScaler  # noqa: E402

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def _generated(n, d, K, seed):
    """Correlated features with non-zero means (the intercept matters) and labels from a softmax."""
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, d)) @ (np.eye(d) + 0.3) + 0.5
    eta = 0.7 * X @ rng.normal(size=(d, K))
    p = np.exp(eta - eta.max(1, keepdims=True))
    p /= p.sum(1, keepdims=True)
    y = (rng.random(n)[:, None] > np.cumsum(p, 1)).sum(1)
    return X, y


BINARY = _generated(200, 6, 2, seed=1)
THREE = _generated(240, 5, 3, seed=2)


def _standardised(loader):
    X, y = loader(return_X_y=True)
    return StandardScaler().fit_transform(X), y


def sk_cv(X, y, prior, cv, **kw):
    """``LogisticRegressionCV`` of the bayeswd prior on scikit-learn 1.3 .. 1.9; returns (C, scores, est)."""
    params = inspect.signature(LogisticRegressionCV).parameters
    if "l1_ratios" in params and "use_legacy_attributes" in params:  # 1.8+: penalty= is deprecated
        kw["l1_ratios"] = (0.0,) if prior == "gaussian" else (1.0,)
    else:
        kw["penalty"] = "l2" if prior == "gaussian" else "l1"
    if "use_legacy_attributes" in params:
        kw["use_legacy_attributes"] = True
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        warnings.simplefilter("ignore", DeprecationWarning)
        est = LogisticRegressionCV(cv=cv, fit_intercept=True, **kw).fit(X, y)
    scores = est.scores_
    if isinstance(scores, dict):
        scores = scores[est.classes_[1]]
    n_cs = np.size(est.Cs_)
    return float(np.ravel(est.C_)[0]), np.reshape(scores, (-1, n_cs)), est


# --------------------------------------------------------------------------------------------
# folds


@pytest.mark.parametrize("labels", ["binary", "three", "strings_unbalanced"])
def test_stratified_folds_are_scikit_learns(labels):
    if labels == "binary":
        y = BINARY[1]
    elif labels == "three":
        y = THREE[1]
    else:  # labels whose sorted order differs from their order of appearance, unequal classes
        y = np.random.default_rng(3).choice(np.array(["zeta", "alpha", "mid"]), p=[0.6, 0.3, 0.1], size=97)
    for k in (2, 3, 5, 7):
        ours = stratified_folds(y, k)
        ref = list(StratifiedKFold(k).split(np.zeros((y.size, 1)), y))
        assert len(ours) == k
        for (tr, te), (rtr, rte) in zip(ours, ref, strict=True):
            np.testing.assert_array_equal(tr, rtr)
            np.testing.assert_array_equal(te, rte)


# --------------------------------------------------------------------------------------------
# cross-validation against LogisticRegressionCV


@pytest.mark.parametrize(
    ("case", "prior", "solver", "sk_kw", "compare_from"),
    [
        ("binary", "gaussian", "newton-cholesky", {"tol": 1e-10}, 0),
        ("three_class", "gaussian", "newton-cholesky", {"tol": 1e-10}, 0),
        # saga leaves the intercept-only fits of the three strongest L1 penalties unconverged (it stops
        # after one epoch with every weight at zero): compare the scores from C = 1 on
        ("binary", "laplace", "saga", {"tol": 1e-12, "max_iter": 100_000}, 5),
    ],
)
def test_cv_chooses_the_C_of_LogisticRegressionCV(case, prior, solver, sk_kw, compare_from):
    X, y = BINARY if case == "binary" else THREE
    res = classifier_cv(X, y, prior=prior, Cs=10, cv=5)
    C_sk, scores_sk, est = sk_cv(X, y, prior, 5, Cs=10, solver=solver, scoring="neg_log_loss", **sk_kw)
    np.testing.assert_allclose(res.Cs, est.Cs_, rtol=0, atol=0)
    assert res.C_best == C_sk
    # same folds, same per-fold held-out mean log loss
    np.testing.assert_allclose(res.fold_scores[:, compare_from:], -scores_sk[:, compare_from:], rtol=0, atol=1e-8)
    # the refit at the best C is the full-data MAP there (scikit-learn's refit too)
    fit = map_classifier(X, y, prior=prior, tau=res.tau_best)
    np.testing.assert_allclose(res.fit.coef.numpy(), fit.coef.numpy(), rtol=0, atol=1e-12)
    sk_coef = est.coef_[0] if case == "binary" else est.coef_.T
    scale = np.abs(sk_coef).max()
    assert np.abs(res.fit.coef.numpy() - sk_coef).max() / scale < (1e-7 if prior == "gaussian" else 1e-5)
    # scales
    np.testing.assert_allclose(res.lams, 1.0 / res.Cs)
    np.testing.assert_allclose(res.taus, np.sqrt(res.Cs) if prior == "gaussian" else res.Cs)
    assert res.lam_best == 1.0 / res.C_best and res.fit.prior == prior
    assert res.n_folds == 5 and res.fold_scores.shape == (5, 10) and res.n_unconverged == 0


def test_cv_breast_cancer_and_a_shuffled_splitter():
    """A real, nearly separable data set, and any splitter object (or its list of folds) as ``cv``."""
    X, y = _standardised(load_breast_cancer)
    res = classifier_cv(X, y, Cs=10, cv=5)
    C_sk, scores_sk, _ = sk_cv(X, y, "gaussian", 5, Cs=10, solver="newton-cholesky", tol=1e-10,
                               scoring="neg_log_loss")
    assert res.C_best == C_sk
    # at C >= 167 some held-out rows get probability < 2.2e-16: scikit-learn clips their loss at 36.04,
    # bayeswd keeps the exact loss, so only the first 8 grid points are compared
    np.testing.assert_allclose(res.fold_scores[:, :8], -scores_sk[:, :8], rtol=0, atol=1e-6)
    assert np.all(res.fold_scores[:, 8:] >= -scores_sk[:, 8:] - 1e-6)
    splitter = StratifiedKFold(4, shuffle=True, random_state=0)
    Cs = np.geomspace(1e-2, 1e2, 7)
    a = classifier_cv(X, y, Cs=Cs, cv=splitter)
    b = classifier_cv(X, y, Cs=Cs[::-1], cv=list(splitter.split(X, y)))  # order of Cs does not matter
    C_sk, scores_sk, _ = sk_cv(X, y, "gaussian", splitter, Cs=Cs, solver="newton-cholesky", tol=1e-10,
                               scoring="neg_log_loss")
    assert a.C_best == b.C_best == C_sk
    np.testing.assert_array_equal(a.fold_scores, b.fold_scores)
    np.testing.assert_allclose(a.fold_scores, -scores_sk, rtol=0, atol=1e-6)


@pytest.mark.parametrize("case", ["binary", "iris"])
def test_cv_accuracy_chooses_the_C_of_LogisticRegressionCV(case):
    X, y = BINARY if case == "binary" else _standardised(load_iris)
    res = classifier_cv(X, y, Cs=10, cv=5, scoring="accuracy")
    C_sk, scores_sk, _ = sk_cv(X, y, "gaussian", 5, Cs=10, solver="newton-cholesky", tol=1e-10,
                               scoring="accuracy")
    assert res.C_best == C_sk and res.greater_is_better
    np.testing.assert_array_equal(res.fold_scores, scores_sk)  # the same predictions, exactly
    assert res.score[res.best_index] == res.score.max()


def test_cv_result_curve_se_and_one_se_rule():
    X, y = THREE
    res = classifier_cv(X, y, Cs=[0.01, 0.1, 1.0, 10.0], cv=4, refit=False)
    assert isinstance(res, ClassifierCVResult) and res.fit is None and res.family == "categorical"
    np.testing.assert_allclose(res.score, res.fold_scores.mean(axis=0), rtol=1e-15)
    np.testing.assert_allclose(res.se, res.fold_scores.std(axis=0, ddof=1) / 2.0, rtol=1e-15)
    i = res.best_index
    assert res.score[i] == res.score.min()
    within = np.flatnonzero(res.score <= res.score[i] + res.se[i])
    assert res.C_1se == res.Cs[within.min()] and res.C_1se <= res.C_best
    assert res.tau_1se == math.sqrt(res.C_1se)
    # each fold's score is the mean held-out cross-entropy of the fold's own MAP
    tr, te = res.folds[1]
    fit = map_classifier(X[tr], y[tr], tau=math.sqrt(0.1))
    P = fit.predict_proba(X[te]).numpy()
    assert abs(-np.log(P[np.arange(te.size), y[te]]).mean() - res.fold_scores[1, 1]) < 1e-12
    assert "ClassifierCVResult(" in repr(res)


# --------------------------------------------------------------------------------------------
# evidence: the formula, and against quadrature


def _autograd_laplace(X, y, tau, family, fit_intercept):
    """The Laplace approximation from the Pyro model's log density and its autograd Hessian."""
    prob, _, _ = _problem(X, y, "gaussian", tau, family, fit_intercept)
    theta, _, ok, _ = newton(prob, 100, 1e-12)
    assert ok
    theta = theta.detach().clone()
    H = torch.autograd.functional.hessian(lambda t: prob.neg_log_density(t), theta)
    log_joint = -float(prob.neg_log_density(theta))  # log p(y | theta) + log N(W | 0, tau^2), p(b) = 1
    _, log_det = torch.linalg.slogdet(H)
    return log_joint + 0.5 * theta.numel() * math.log(2 * math.pi) - 0.5 * float(log_det)


@pytest.mark.parametrize(
    ("case", "family", "fit_intercept"),
    [("binary", "auto", True), ("binary", "auto", False), ("three", "auto", True),
     ("binary", "categorical", True), ("three", "auto", False)],
)
def test_log_evidence_equals_autograd_laplace(case, family, fit_intercept):
    X, y = BINARY if case == "binary" else THREE
    for tau in (0.2, 1.5):
        ours = classifier_log_evidence(X, y, tau=tau, family=family, fit_intercept=fit_intercept)
        ref = _autograd_laplace(X, y, tau, family, fit_intercept)
        assert abs(ours - ref) < 1e-9 * max(1.0, abs(ref))


def _one_feature(n, seed=0):
    """One feature on a 0.1 grid (so rows group into ~60 distinct x), labels from a logistic model."""
    rng = np.random.default_rng(seed)
    x = np.round(rng.normal(size=n), 1)
    y = (rng.random(n) < 1.0 / (1.0 + np.exp(-(0.3 + 0.8 * x)))).astype(int)
    return x[:, None], y


def _quadrature_log_evidence(x, y, tau, half=14.0, m=281):
    """``log int int p(y | w, b) N(w | 0, tau^2) dw db`` by the trapezoid rule on a 2-D grid.

    The grid is ``theta* + L z``, ``z`` in ``[-half, half]^2`` (``L L^T`` the inverse Hessian at the
    MAP): an exact change of variables that only places the nodes. Rows with equal ``x`` are grouped.
    """
    xs, inv = np.unique(x[:, 0], return_inverse=True)
    n1 = np.bincount(inv, weights=y, minlength=xs.size)
    n0 = np.bincount(inv, minlength=xs.size) - n1
    fit = map_classifier(x, y, tau=tau)
    centre = np.array([float(fit.coef[0]), fit.intercept])
    A = np.column_stack([x[:, 0], np.ones(y.size)])
    p = 1.0 / (1.0 + np.exp(-(A @ centre)))
    H = A.T @ (A * (p * (1 - p))[:, None]) + np.diag([1.0 / tau**2, 0.0])
    L = np.linalg.cholesky(np.linalg.inv(H))
    z = np.linspace(-half, half, m)
    Z1, Z2 = np.meshgrid(z, z, indexing="ij")
    W = centre[0] + L[0, 0] * Z1
    B = centre[1] + L[1, 0] * Z1 + L[1, 1] * Z2
    eta = W[..., None] * xs + B[..., None]
    log_lik = -(n1 * np.logaddexp(0.0, -eta) + n0 * np.logaddexp(0.0, eta)).sum(-1)
    log_post = log_lik - W**2 / (2 * tau**2) - 0.5 * math.log(2 * math.pi * tau**2)
    assert max(log_post[[0, -1]].max(), log_post[:, [0, -1]].max()) < log_post.max() - 40  # tails inside
    h = z[1] - z[0]
    return float(logsumexp(log_post)) + 2 * math.log(h) + math.log(L[0, 0] * L[1, 1])


def test_laplace_evidence_approaches_quadrature_as_n_grows():
    """Relative error of the evidence p(y | tau), |exp(laplace - quadrature) - 1|: O(1/n).

    Measured at tau = 1: 2.4e-2 (n = 50), 6.7e-3 (n = 200), 7.0e-4 (n = 2000); the quadrature itself
    is converged to 1e-13 (a wider, finer grid moves it by < 1e-13).
    """
    errors = {}
    for n in (50, 2000):
        x, y = _one_feature(n)
        quad = _quadrature_log_evidence(x, y, 1.0)
        assert abs(_quadrature_log_evidence(x, y, 1.0, half=18.0, m=361) - quad) < 1e-10
        errors[n] = abs(math.expm1(classifier_log_evidence(x, y, tau=1.0) - quad))
    assert errors[2000] < 2e-3
    assert errors[2000] < errors[50] / 10


def test_evidence_maximiser_is_the_quadrature_maximiser_at_large_n():
    x, y = _one_feature(2000)
    ev = classifier_evidence(x, y)
    assert isinstance(ev, ClassifierEvidenceResult) and not ev.at_boundary
    quad = scipy.optimize.minimize_scalar(
        lambda s: -_quadrature_log_evidence(x, y, math.exp(s), half=12.0, m=161),
        bounds=(math.log(ev.tau) - 1.0, math.log(ev.tau) + 1.0), method="bounded", options={"xatol": 1e-6},
    )
    tau_quad = math.exp(quad.x)
    assert abs(ev.tau / tau_quad - 1) < 1e-3  # measured 7e-6
    assert abs(ev.log_evidence - (-quad.fun)) < 2e-3  # measured 7e-4


def test_evidence_result_grid_maximum_and_conventions():
    X, y = BINARY
    taus = np.geomspace(0.05, 20.0, 13)
    ev = classifier_evidence(X, y, taus=taus)
    np.testing.assert_allclose(ev.taus, taus)
    np.testing.assert_allclose(ev.lams, 1.0 / taus**2)
    np.testing.assert_allclose(ev.Cs, taus**2)
    for t, v in zip(taus[::4], ev.log_evidence_curve[::4], strict=True):
        assert v == pytest.approx(classifier_log_evidence(X, y, tau=float(t)), abs=1e-12)
    assert ev.log_evidence >= ev.log_evidence_curve.max()
    for f in (1 - 1e-3, 1 + 1e-3):  # a maximum: both neighbours are lower
        assert classifier_log_evidence(X, y, tau=ev.tau * f) < ev.log_evidence
    assert ev.lam == pytest.approx(1 / ev.tau**2, rel=1e-15) and ev.C == pytest.approx(ev.tau**2, rel=1e-15)
    assert ev.fit.tau == ev.tau and ev.fit.prior == "gaussian"
    assert (ev.n_weights, ev.n_intercepts) == (6, 1)
    ev3 = classifier_evidence(*THREE, taus=np.geomspace(0.05, 20.0, 9))
    assert (ev3.family, ev3.n_weights, ev3.n_intercepts) == ("categorical", 15, 2)
    assert "ClassifierEvidenceResult(" in repr(ev)


def test_evidence_at_grid_end_warns_and_laplace_prior_raises():
    X, y = BINARY
    with pytest.warns(BayeswdWarning, match="end of the tau grid"):
        ev = classifier_evidence(X, y, taus=[0.001, 0.002, 0.004])
    assert ev.at_boundary and ev.tau == 0.004
    for fn, kw in ((classifier_evidence, {}), (classifier_log_evidence, {"tau": 1.0})):
        with pytest.raises(ValueError, match="prior='gaussian' only; got 'laplace'.*exact zeros"):
            fn(X, y, prior="laplace", **kw)


# --------------------------------------------------------------------------------------------
# figure


def test_plot_classifier_selection(tmp_path):
    X, y = BINARY
    res = classifier_cv(X, y, Cs=12, cv=5)
    ev = classifier_evidence(X, y)
    ax = plot_classifier_selection(res, ev)
    assert ax.get_xscale() == "log" and ax.get_ylabel().startswith("held-out log loss")
    lines = {ln.get_label(): ln for ln in ax.get_lines()}
    curve = lines["5-fold CV log loss ± 1 se"]
    np.testing.assert_array_equal(curve.get_xdata(), res.lams)
    np.testing.assert_array_equal(curve.get_ydata(), res.score)
    best = next(ln for label, ln in lines.items() if label.startswith("CV best"))
    assert best.get_xdata()[0] == res.lam_best
    bands = [c for c in ax.collections if isinstance(c, PolyCollection)]
    assert len(bands) == 1
    twin = ax.bayeswd_twin
    assert twin is not None and twin.get_xscale() == "log" and "evidence" in twin.get_ylabel()
    tlines = {ln.get_label(): ln for ln in twin.get_lines()}
    np.testing.assert_array_equal(tlines["log evidence (Laplace)"].get_xdata(), ev.lams)
    np.testing.assert_array_equal(tlines["log evidence (Laplace)"].get_ydata(), ev.log_evidence_curve)
    ev_line = next(ln for label, ln in tlines.items() if label.startswith("evidence max"))
    assert ev_line.get_xdata()[0] == ev.lam
    texts = [t.get_text() for t in ax.get_legend().get_texts()]
    assert texts[0] == "5-fold CV log loss ± 1 se" and any(t.startswith("evidence max") for t in texts)
    ax.figure.savefig(tmp_path / "classifier_selection.png", dpi=60)
    # evidence alone: on the given axes, no twin; accuracy: its own label
    import matplotlib.pyplot as plt

    fig, (a1, a2) = plt.subplots(1, 2)
    out = plot_classifier_selection(evidence_result=ev, ax=a1)
    assert out is a1 and out.bayeswd_twin is None and len(a1.get_lines()) == 2
    acc = classifier_cv(X, y, Cs=5, cv=3, scoring="accuracy", refit=False)
    out = plot_classifier_selection(cv_result=acc, ax=a2)
    assert out.get_ylabel() == "held-out accuracy" and out.bayeswd_twin is None
    plt.close("all")
    with pytest.raises(ValueError, match="at least one of `cv_result` or `evidence_result`"):
        plot_classifier_selection()
    with pytest.raises(TypeError, match="`cv_result` must be a ClassifierCVResult"):
        plot_classifier_selection(ev)
    with pytest.raises(TypeError, match="`ax` must be a matplotlib Axes"):
        plot_classifier_selection(res, ax="left")


# --------------------------------------------------------------------------------------------
# validation


X0, Y0 = BINARY


@pytest.mark.parametrize(
    ("kwargs", "exc", "match"),
    [
        ({"Cs": 0}, ValueError, r"`Cs` must be an integer >= 1 .* or a non-empty 1-D array .*; got 0"),
        ({"Cs": 2.5}, TypeError, r"`Cs` must be .*got the float 2.5"),
        ({"Cs": True}, TypeError, r"`Cs` must be .*got True"),
        ({"Cs": "10"}, TypeError, r"`Cs` must be .*got '10'"),
        ({"Cs": []}, ValueError, r"`Cs` must be .*shape \(0,\)"),
        ({"Cs": [[1.0, 2.0]]}, ValueError, r"`Cs` must be .*shape \(1, 2\)"),
        ({"Cs": [1.0, -2.0]}, ValueError, r"`Cs` must be .*positive finite C values; got the entry -2.0"),
        ({"Cs": [1.0, np.nan]}, ValueError, r"`Cs` must be .*got the entry nan"),
        ({"cv": 1}, ValueError, r"`cv` must be an integer >= 2 .*; got 1"),
        ({"cv": 2.0}, TypeError, r"`cv` must be an integer >= 2 .*iterable of \(train, test\).*; got 2.0"),
        ({"cv": "5"}, TypeError, r"`cv` must be .*; got '5'"),
        ({"cv": None}, TypeError, r"`cv` must be .*; got None"),
        ({"cv": []}, ValueError, r"`cv` must be .*; got an empty iterable"),
        ({"cv": [(np.arange(100),)]}, ValueError, r"`cv` must be .*item 0 has 1 parts"),
        ({"cv": [(np.arange(200) < 100, np.arange(100, 200))]}, TypeError, r"`cv` item 0 train .*boolean mask"),
        ({"cv": [(np.arange(100), np.array([150, 250]))]}, ValueError,
         r"`cv` item 0 test must be .*\[0, 200\); got indices from 150 to 250"),
        ({"cv": [(np.arange(100), np.array([0.5]))]}, ValueError, r"`cv` item 0 test must be .*integer"),
        ({"cv": 500}, ValueError, r"`cv` = 500 folds cannot be more than the size of the largest class"),
        ({"scoring": "neg_log_loss"}, ValueError, r"`scoring` must be one of 'log_loss', 'accuracy'; got 'neg_log_loss'"),
        ({"scoring": 3}, ValueError, r"`scoring` must be one of .*; got 3"),
        ({"prior": "l2"}, ValueError, r"`prior` must be one of 'gaussian', 'laplace'"),
    ],
)
def test_cv_validation(kwargs, exc, match):
    with pytest.raises(exc, match=match):
        classifier_cv(X0, Y0, **kwargs)


def test_cv_training_fold_without_a_class():
    y = Y0.copy()
    only = np.flatnonzero(y == 1)
    test = only  # every row of class 1 held out
    train = np.setdiff1d(np.arange(y.size), test)
    with pytest.raises(ValueError, match=r"`cv` fold 0: its training rows hold 1 of the 2 classes"):
        classifier_cv(X0, y, cv=[(train, test)])


@pytest.mark.parametrize(
    ("taus", "exc", "match"),
    [
        (1.0, TypeError, r"`taus` must be None or a 1-D array of at least 3 distinct positive finite prior sds; got 1.0"),
        ("abc", TypeError, r"`taus` must be None or .*; got 'abc'"),
        ([1.0, 2.0], ValueError, r"`taus` must be None or .*; got 2 distinct values"),
        ([1.0, 1.0, 2.0], ValueError, r"got 2 distinct values"),
        ([1.0, 2.0, -3.0], ValueError, r"`taus` must be .*; got the entry -3.0"),
        ([[1.0, 2.0, 3.0]], ValueError, r"`taus` must be .*shape \(1, 3\)"),
        ([1.0, np.inf, 3.0], ValueError, r"got the entry inf"),
    ],
)
def test_evidence_validation(taus, exc, match):
    with pytest.raises(exc, match=match):
        classifier_evidence(X0, Y0, taus=taus)


def test_log_evidence_validation():
    with pytest.raises(ValueError, match="`tau` must be a positive finite number; got -1.0"):
        classifier_log_evidence(X0, Y0, tau=-1.0)
    with pytest.raises(ValueError, match="`family` must be one of"):
        classifier_log_evidence(X0, Y0, tau=1.0, family="poisson")
    with pytest.raises(ValueError, match="`family` 'bernoulli' needs exactly two distinct labels"):
        classifier_evidence(*THREE, family="bernoulli")


def test_kfold_without_stratification_is_accepted():
    """A plain KFold splitter (not stratified) is taken as given."""
    res = classifier_cv(X0, Y0, Cs=4, cv=KFold(3), refit=False)
    assert res.n_folds == 3 and res.fold_scores.shape == (3, 4)
